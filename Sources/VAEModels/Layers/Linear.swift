import VAEEngine

/// A fully connected layer, y = x Wᵀ + b, laid out as PyTorch's `nn.Linear`.
///
/// x: (B, in), weight: (out, in), bias: (out), y: (B, out).
/// Weight and bias are views into a `ParameterStore`; the layer owns only its
/// output and input-gradient buffers, sized once per batch size.
public final class Linear: Layer {
    public let inputSize: Int
    public let outputSize: Int
    let parameters: WeightAndBias
    var weight: Matrix { parameters.weight }
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    private var input: Matrix?

    /// A layer over the store's `NAME.weight` and `NAME.bias`.
    public convenience init(name: String, store: ParameterStore) {
        let rows = store.slot("\(name).weight").spec.shape[0]
        self.init(WeightAndBias(name: name, store: store, rows: rows))
    }

    /// A layer over explicit views (used to run two adjacent layers as one product).
    public init(_ parameters: WeightAndBias) {
        precondition(parameters.bias.count == parameters.weight.rows, "one bias per output")
        self.parameters = parameters
        self.inputSize = parameters.weight.columns
        self.outputSize = parameters.weight.rows
    }

    public static func specs(name: String, inputSize: Int, outputSize: Int) -> [ParameterSpec] {
        [ParameterSpec(name: "\(name).weight", shape: [outputSize, inputSize]),
         ParameterSpec(name: "\(name).bias", shape: [outputSize])]
    }

    /// PyTorch's default: weight and bias ~ U(−1/√in, 1/√in).
    public func initialize(using rng: inout RandomGenerator) {
        parameters.initialize(fanIn: inputSize, using: &rng)
    }

    /// Allocates the buffers for batches of up to `batchSize` rows (outside the step).
    public func reserve(batchSize: Int) {
        guard output.shape[0] < batchSize * outputSize else { return }
        output = Tensor(shape: [batchSize * outputSize])
        dInput = Tensor(shape: [batchSize * inputSize])
    }

    /// y = x Wᵀ + b. Keeps a view of x for `backward`; x must stay unchanged until then.
    public func forward(_ x: Matrix) -> Matrix {
        precondition(x.columns == inputSize, "Linear expects \(inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        input = x
        let y = output.matrix(rows: x.rows, columns: outputSize)
        let bias = parameters.bias.pointer, width = outputSize
        parallelRows(x.rows, workPerRow: width) { rows in
            for r in rows { y.row(r).update(from: bias, count: width) }
        }
        matrixProduct(x, .none, weight, .transposed, into: y, beta: 1)
        return y
    }

    /// Given dL/dy (B, out): dW += dyᵀ x, db += Σ_rows dy, and returns dL/dx = dy W.
    /// With `inputGradient: false` (the first layer, whose input is data) the
    /// third product is skipped and an empty matrix returned.
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let x = input else { preconditionFailure("Linear.backward before forward") }
        precondition(dy.rows == x.rows && dy.columns == outputSize)
        let dBias = parameters.dBias.pointer
        for r in 0..<dy.rows {
            let g = dy.row(r)
            for j in 0..<outputSize { dBias[j] += g[j] }
        }
        let weightGradient = MatrixProduct(dy, .transposed, x, .none, into: parameters.dWeight, beta: 1)
        guard inputGradient else {
            matrixProduct(weightGradient)
            return Matrix(dInput.pointer, rows: 0, columns: inputSize)
        }
        let dx = dInput.matrix(rows: x.rows, columns: inputSize)
        matrixProducts(weightGradient, MatrixProduct(dy, .none, weight, .none, into: dx))
        return dx
    }
}
