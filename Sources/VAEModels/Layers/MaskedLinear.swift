import VAEEngine

/// A linear layer whose weight is multiplied by a fixed 0/1 mask, y = x (W ⊙ M)ᵀ + b:
/// MADE's layers (Germain et al. 2015), where the masks make output j depend
/// only on inputs that come before j in an ordering.
///
/// x: (B, in), weight and mask: (out, in), y: (B, out). The mask is applied
/// on every pass (to a copy of the weight), so whatever a checkpoint holds in
/// the masked places cannot break the ordering; their gradient is zero, so
/// training leaves them as initialised.
public final class MaskedLinear: Layer {
    public let inputSize: Int
    public let outputSize: Int
    let parameters: WeightAndBias
    let mask: [Float]
    private var masked: Tensor
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    private var dWeight: Tensor
    private var input: Matrix?

    /// Over the store's `NAME.weight` (out, in) and `NAME.bias`; mask[o·in + i] is 0 or 1.
    public init(name: String, store: ParameterStore, mask: [Float]) {
        let rows = store.slot("\(name).weight").spec.shape[0]
        parameters = WeightAndBias(name: name, store: store, rows: rows)
        outputSize = rows
        inputSize = parameters.weight.columns
        precondition(mask.count == rows * inputSize && mask.allSatisfy { $0 == 0 || $0 == 1 }, "a 0/1 mask of the weight's shape")
        self.mask = mask
        masked = Tensor(shape: [rows * inputSize])
        dWeight = Tensor(shape: [rows * inputSize])
    }

    /// PyTorch's default (U(±1/√in)), then the masked places zero.
    public func initialize(using rng: inout RandomGenerator) {
        parameters.initialize(fanIn: inputSize, using: &rng)
        for i in 0..<mask.count where mask[i] == 0 { parameters.weight.pointer[i] = 0 }
    }

    public func reserve(batchSize: Int) {
        guard output.count < batchSize * outputSize else { return }
        output = Tensor(shape: [batchSize * outputSize])
        dInput = Tensor(shape: [batchSize * inputSize])
    }

    public func forward(_ x: Matrix) -> Matrix {
        precondition(x.columns == inputSize, "MaskedLinear expects \(inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        input = x
        let w = parameters.weight.pointer, m = masked.pointer
        for i in 0..<mask.count { m[i] = w[i] * mask[i] }
        let y = output.matrix(rows: x.rows, columns: outputSize)
        for r in 0..<x.rows { y.row(r).update(from: parameters.bias.pointer, count: outputSize) }
        matrixProduct(x, .none, masked.matrix(rows: outputSize, columns: inputSize), .transposed, into: y, beta: 1)
        return y
    }

    /// dW += (dyᵀ x) ⊙ M, db += Σ_rows dy, dx = dy (W ⊙ M).
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let x = input else { preconditionFailure("MaskedLinear.backward before forward") }
        let dBias = parameters.dBias.pointer
        for r in 0..<dy.rows {
            let g = dy.row(r)
            for j in 0..<outputSize { dBias[j] += g[j] }
        }
        let d = dWeight.matrix(rows: outputSize, columns: inputSize)
        matrixProduct(dy, .transposed, x, .none, into: d)
        let dw = parameters.dWeight.pointer
        for i in 0..<mask.count { dw[i] += d.pointer[i] * mask[i] }
        guard inputGradient else { return Matrix(dInput.pointer, rows: 0, columns: inputSize) }
        let dx = dInput.matrix(rows: x.rows, columns: inputSize)
        matrixProduct(dy, .none, masked.matrix(rows: outputSize, columns: inputSize), .none, into: dx)
        return dx
    }
}
