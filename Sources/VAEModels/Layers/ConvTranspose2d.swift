import VAEEngine

/// A 2-D transposed convolution laid out as PyTorch's `nn.ConvTranspose2d`
/// (no dilation, no groups): the adjoint of a convolution, so it upsamples.
///
/// x: (B, Cin·H·W), weight: (Cin, Cout, k, k), bias: (Cout), y: (B, Cout·Hout·Wout)
/// with Hout = (H − 1)·stride − 2·padding + k + outputPadding. Per image:
///   columns = Wᵀ (Cout·k·k, Cin) × x_b (Cin, H·W),   y_b = col2im(columns) + b,
/// where col2im is taken over the *output* image's geometry (whose im2col
/// would give H·W columns) — exactly a convolution's backward pass.
public final class ConvTranspose2d: Layer {
    /// The geometry of the convolution this layer is the transpose of: its
    /// input is this layer's output.
    public let geometry: ConvolutionGeometry
    public let inChannels: Int
    let parameters: WeightAndBias
    var weight: Matrix { parameters.weight }
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    private var columns = Tensor(shape: [0])
    private var input: Matrix?

    /// `outputPadding` adds rows and columns at the bottom and right, as in
    /// PyTorch, so that e.g. 7 → 14 with stride 2, padding 1, kernel 3.
    public init(name: String, store: ParameterStore, inChannels: Int, outChannels: Int,
                height: Int, width: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int = 0) {
        let outH = (height - 1) * stride - 2 * padding + kernel + outputPadding
        let outW = (width - 1) * stride - 2 * padding + kernel + outputPadding
        geometry = ConvolutionGeometry(channels: outChannels, height: outH, width: outW,
                                       kernel: kernel, stride: stride, padding: padding)
        precondition(geometry.outHeight == height && geometry.outWidth == width, "inconsistent transposed-convolution shape")
        self.inChannels = inChannels
        parameters = WeightAndBias(name: name, store: store, rows: inChannels)
        precondition(parameters.weight.columns == geometry.patchSize, "\(name).weight does not fit the geometry")
    }

    public static func specs(name: String, inChannels: Int, outChannels: Int, kernel: Int) -> [ParameterSpec] {
        [ParameterSpec(name: "\(name).weight", shape: [inChannels, outChannels, kernel, kernel]),
         ParameterSpec(name: "\(name).bias", shape: [outChannels])]
    }

    /// PyTorch's default for ConvTranspose2d: fan_in is weight.size(1)·k·k = Cout·k·k.
    public func initialize(using rng: inout RandomGenerator) {
        parameters.initialize(fanIn: geometry.patchSize, using: &rng)
    }

    public var inputSize: Int { inChannels * geometry.outputPixels }
    public var outputSize: Int { geometry.inputSize }

    public func reserve(batchSize: Int) {
        if output.count < batchSize * outputSize { output = Tensor(shape: [batchSize * outputSize]) }
        if columns.count < geometry.patchSize * geometry.outputPixels {
            columns = Tensor(shape: [geometry.patchSize * geometry.outputPixels])
        }
    }

    public func forward(_ x: Matrix) -> Matrix {
        let g = geometry
        precondition(x.columns == inputSize, "ConvTranspose2d expects \(inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        input = x
        let y = output.matrix(rows: x.rows, columns: outputSize)
        let cols = columns.matrix(rows: g.patchSize, columns: g.outputPixels)
        let plane = g.height * g.width
        for b in 0..<x.rows {
            let xb = Matrix(x.row(b), rows: inChannels, columns: g.outputPixels)
            matrixProduct(weight, .transposed, xb, .none, into: cols)
            let yb = y.row(b)
            parameters.fillChannels(yb, planeSize: plane)
            g.col2im(cols.pointer, addingInto: yb)
        }
        return y
    }

    /// columns = im2col(dy_b); dW += x_b × columnsᵀ; dx_b = W × columns; db += Σ spatial dy.
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let x = input else { preconditionFailure("ConvTranspose2d.backward before forward") }
        let g = geometry
        precondition(dy.rows == x.rows && dy.columns == outputSize)
        if inputGradient && dInput.count < x.rows * inputSize { dInput = Tensor(shape: [x.rows * inputSize]) }
        let dx = dInput.matrix(rows: inputGradient ? x.rows : 0, columns: inputSize)
        let cols = columns.matrix(rows: g.patchSize, columns: g.outputPixels)
        let plane = g.height * g.width
        for b in 0..<x.rows {
            g.im2col(dy.row(b), into: cols.pointer)
            let xb = Matrix(x.row(b), rows: inChannels, columns: g.outputPixels)
            matrixProduct(xb, .none, cols, .transposed, into: parameters.dWeight, beta: 1)
            parameters.accumulateChannelBiasGradient(dy.row(b), planeSize: plane)
            if inputGradient {
                matrixProduct(weight, .none, cols, .none, into: Matrix(dx.row(b), rows: inChannels, columns: g.outputPixels))
            }
        }
        return dx
    }
}
