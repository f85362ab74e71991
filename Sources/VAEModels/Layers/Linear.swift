import VAEEngine

/// A fully connected layer, y = x Wᵀ + b, laid out as PyTorch's `nn.Linear`.
///
/// x: (B, in), weight: (out, in), bias: (out), y: (B, out).
/// Weight and bias are views into a `ParameterStore`; the layer owns only its
/// output and input-gradient buffers, sized once per batch size.
public final class Linear {
    public let inputSize: Int
    public let outputSize: Int
    let weight, bias, dWeight, dBias: Matrix
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    private var input: Matrix?

    /// A layer over the store's `NAME.weight` and `NAME.bias`.
    public convenience init(name: String, store: ParameterStore) {
        self.init(weight: store.values("\(name).weight"), bias: store.values("\(name).bias"),
                  dWeight: store.gradients("\(name).weight"), dBias: store.gradients("\(name).bias"))
    }

    /// A layer over explicit views (used to run two adjacent layers as one product).
    public init(weight: Matrix, bias: Matrix, dWeight: Matrix, dBias: Matrix) {
        precondition(bias.count == weight.rows && dWeight.count == weight.count && dBias.count == bias.count)
        self.weight = weight; self.bias = bias; self.dWeight = dWeight; self.dBias = dBias
        self.inputSize = weight.columns
        self.outputSize = weight.rows
    }

    public static func specs(name: String, inputSize: Int, outputSize: Int) -> [ParameterSpec] {
        [ParameterSpec(name: "\(name).weight", shape: [outputSize, inputSize]),
         ParameterSpec(name: "\(name).bias", shape: [outputSize])]
    }

    /// PyTorch's default: weight and bias ~ U(−1/√in, 1/√in)
    /// (kaiming_uniform with a = √5 reduces to this bound).
    public func initialize(using rng: inout RandomGenerator) {
        let bound = 1 / Float(inputSize).squareRoot()
        for i in 0..<weight.count { weight.pointer[i] = rng.uniform(-bound, bound) }
        for i in 0..<bias.count { bias.pointer[i] = rng.uniform(-bound, bound) }
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
        for r in 0..<x.rows { y.row(r).update(from: bias.pointer, count: outputSize) }
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
        matrixProduct(dy, .transposed, x, .none, into: dWeight, beta: 1)
        for r in 0..<dy.rows {
            let g = dy.row(r)
            for j in 0..<outputSize { dBias.pointer[j] += g[j] }
        }
        guard inputGradient else { return Matrix(dInput.pointer, rows: 0, columns: inputSize) }
        let dx = dInput.matrix(rows: x.rows, columns: inputSize)
        matrixProduct(dy, .none, weight, .none, into: dx)
        return dx
    }
}
