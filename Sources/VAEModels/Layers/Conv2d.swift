import VAEEngine

/// A 2-D convolution laid out as PyTorch's `nn.Conv2d` (no dilation, no groups).
///
/// x: (B, Cin·H·W), weight: (Cout, Cin, k, k), bias: (Cout), y: (B, Cout·Hout·Wout),
/// images row-major (channel, row, column). Per image, im2col turns the input
/// into columns (Cin·k·k, Hout·Wout) and the convolution is one product:
///   y_b = W (Cout, Cin·k·k) × columns_b + b.
public final class Conv2d: Layer {
    public let geometry: ConvolutionGeometry
    public let outChannels: Int
    let parameters: WeightAndBias
    var weight: Matrix { parameters.weight }
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    private var columns = Tensor(shape: [0])
    private var dColumns = Tensor(shape: [0])
    private var rows = 0

    public init(name: String, store: ParameterStore, geometry: ConvolutionGeometry) {
        self.geometry = geometry
        outChannels = store.slot("\(name).weight").spec.shape[0]
        parameters = WeightAndBias(name: name, store: store, rows: outChannels)
        precondition(parameters.weight.columns == geometry.patchSize, "\(name).weight does not fit the geometry")
    }

    public static func specs(name: String, inChannels: Int, outChannels: Int, kernel: Int) -> [ParameterSpec] {
        [ParameterSpec(name: "\(name).weight", shape: [outChannels, inChannels, kernel, kernel]),
         ParameterSpec(name: "\(name).bias", shape: [outChannels])]
    }

    /// PyTorch's default: U(−1/√fan_in, 1/√fan_in) with fan_in = Cin·k·k.
    public func initialize(using rng: inout RandomGenerator) {
        parameters.initialize(fanIn: geometry.patchSize, using: &rng)
    }

    public var outputSize: Int { outChannels * geometry.outputPixels }

    /// Output and the per-image columns (kept for backward) for up to `batchSize` images.
    public func reserve(batchSize: Int) {
        let g = geometry
        guard columns.count < batchSize * g.patchSize * g.outputPixels else { return }
        columns = Tensor(shape: [batchSize * g.patchSize * g.outputPixels])
        output = Tensor(shape: [batchSize * outputSize])
    }

    public func forward(_ x: Matrix) -> Matrix {
        let g = geometry
        precondition(x.columns == g.inputSize, "Conv2d expects \(g.inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        rows = x.rows
        let y = output.matrix(rows: x.rows, columns: outputSize)
        for b in 0..<x.rows {
            let cols = Matrix(columns.pointer + b * g.patchSize * g.outputPixels, rows: g.patchSize, columns: g.outputPixels)
            g.im2col(x.row(b), into: cols.pointer)
            let yb = Matrix(y.row(b), rows: outChannels, columns: g.outputPixels)
            parameters.fillChannels(yb.pointer, planeSize: g.outputPixels)
            matrixProduct(weight, .none, cols, .none, into: yb, beta: 1)
        }
        return y
    }

    /// dW += Σ_b dy_b × columns_bᵀ, db += Σ spatial dy, dx_b = col2im(Wᵀ × dy_b).
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        let g = geometry
        precondition(dy.rows == rows && dy.columns == outputSize)
        if inputGradient && dInput.count < rows * g.inputSize { dInput = Tensor(shape: [rows * g.inputSize]) }
        if dColumns.count < g.patchSize * g.outputPixels { dColumns = Tensor(shape: [g.patchSize * g.outputPixels]) }
        let dx = dInput.matrix(rows: inputGradient ? rows : 0, columns: g.inputSize)
        dx.fill(0)
        for b in 0..<rows {
            let cols = Matrix(columns.pointer + b * g.patchSize * g.outputPixels, rows: g.patchSize, columns: g.outputPixels)
            let dyb = Matrix(dy.row(b), rows: outChannels, columns: g.outputPixels)
            matrixProduct(dyb, .none, cols, .transposed, into: parameters.dWeight, beta: 1)
            parameters.accumulateChannelBiasGradient(dyb.pointer, planeSize: g.outputPixels)
            guard inputGradient else { continue }
            let dcols = dColumns.matrix(rows: g.patchSize, columns: g.outputPixels)
            matrixProduct(weight, .transposed, dyb, .none, into: dcols)
            g.col2im(dcols.pointer, addingInto: dx.row(b))
        }
        return dx
    }
}
