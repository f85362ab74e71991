import VAEEngine

/// [x | c]: appends a condition (a one-hot label, B × C) to each row of x, as
/// a conditional VAE does before a layer (Sohn, Lee & Yan 2015). Backward
/// returns the gradient of the x columns only: the condition is given, not learnt.
/// Without a condition (C = 0) both directions pass through untouched.
public final class Concatenation {
    public let conditionSize: Int
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    private var inputColumns = 0

    public init(conditionSize: Int) { self.conditionSize = conditionSize }

    public func reserve(batchSize: Int, inputSize: Int) {
        guard conditionSize > 0, output.count < batchSize * (inputSize + conditionSize) else { return }
        output = Tensor(shape: [batchSize * (inputSize + conditionSize)])
        dInput = Tensor(shape: [batchSize * inputSize])
    }

    public func forward(_ x: Matrix, condition: Matrix?) -> Matrix {
        guard conditionSize > 0 else { return x }
        guard let c = condition, c.rows == x.rows, c.columns == conditionSize else {
            preconditionFailure("a conditional model needs a (\(x.rows), \(conditionSize)) condition")
        }
        reserve(batchSize: x.rows, inputSize: x.columns)
        inputColumns = x.columns
        let y = output.matrix(rows: x.rows, columns: x.columns + conditionSize)
        for r in 0..<x.rows {
            y.row(r).update(from: x.row(r), count: x.columns)
            (y.row(r) + x.columns).update(from: c.row(r), count: conditionSize)
        }
        return y
    }

    /// dL/dx: the first columns of dL/d[x | c].
    public func backward(_ dy: Matrix) -> Matrix {
        guard conditionSize > 0 else { return dy }
        precondition(dy.columns == inputColumns + conditionSize)
        let dx = dInput.matrix(rows: dy.rows, columns: inputColumns)
        for r in 0..<dy.rows { dx.row(r).update(from: dy.row(r), count: inputColumns) }
        return dx
    }
}
