import VAEEngine

/// A 2-D transposed convolution laid out as PyTorch's `nn.ConvTranspose2d`
/// (no dilation, no groups): the adjoint of a convolution, so it upsamples.
///
/// x: (B, Cin·H·W), weight: (Cin, Cout, k, k), bias: (Cout), y: (B, Cout·Hout·Wout)
/// with Hout = (H − 1)·stride − 2·padding + k + outputPadding. With X the
/// batch in channel-major layout (Cin, B·H·W), one product gives every
/// image's columns side by side:
///   columns (Cout·k·k, B·H·W) = Wᵀ (Cout·k·k, Cin) × X,   y_b = col2im(columns_b) + b,
/// where col2im is taken over the *output* image's geometry (whose im2col
/// would give H·W columns) — exactly a convolution's backward pass.
///
/// With few taps (Cout·k·k ≤ `NarrowProducts.maximumTaps`: the last,
/// one-channel layer), the weight gradient is summed by `NarrowProducts`
/// from x where it lies: sgemm ran that (32, 9) result at ~80 GFLOP/s.
public final class ConvTranspose2d: Layer {
    /// The geometry of the convolution this layer is the transpose of: its
    /// input is this layer's output.
    public let geometry: ConvolutionGeometry
    public let inChannels: Int
    let parameters: WeightAndBias
    var weight: Matrix { parameters.weight }
    private var output = Tensor(shape: [0])
    private var dInput = Tensor(shape: [0])
    /// The columns, needed only inside one forward or backward call (forward:
    /// one image's per thread; backward: the batch's): this layer's own
    /// buffer, or one the layers of a network share.
    private let columnsBuffer: SharedBuffer
    /// The input in channel-major layout (made in backward, for the weight
    /// gradient's product), then its gradient.
    private var inputChannelMajor = Tensor(shape: [0])
    private var dInputChannelMajor = Tensor(shape: [0])
    /// The input, kept for backward (image by image, for the narrow weight
    /// gradient), and that gradient's per-image terms.
    private var input: Matrix?
    private var weightGradientTerms = Tensor(shape: [0])
    /// Whether the weight gradient goes through `NarrowProducts`.
    public var hasNarrowWeightGradient: Bool { geometry.patchSize <= NarrowProducts.maximumTaps }

    /// `outputPadding` adds rows and columns at the bottom and right, as in
    /// PyTorch, so that e.g. 7 → 14 with stride 2, padding 1, kernel 3.
    public convenience init(name: String, store: ParameterStore, inChannels: Int, outChannels: Int,
                            height: Int, width: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int = 0) {
        self.init(name: name, store: store, inChannels: inChannels, outChannels: outChannels, height: height, width: width,
                  kernel: kernel, stride: stride, padding: padding, outputPadding: (outputPadding, outputPadding))
    }

    /// Output padding per axis, for images whose height and width differ in
    /// parity. `sharedColumns`: a buffer for the columns that other layers
    /// use too (their passes run one at a time).
    public init(name: String, store: ParameterStore, inChannels: Int, outChannels: Int,
                height: Int, width: Int, kernel: Int, stride: Int, padding: Int, outputPadding: (height: Int, width: Int),
                sharedColumns: SharedBuffer? = nil) {
        columnsBuffer = sharedColumns ?? SharedBuffer()
        let outH = (height - 1) * stride - 2 * padding + kernel + outputPadding.height
        let outW = (width - 1) * stride - 2 * padding + kernel + outputPadding.width
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
        guard output.count < batchSize * outputSize else { return }
        output = Tensor(shape: [batchSize * outputSize])
        _ = columnsBuffer.tensor(count: batchSize * geometry.patchSize * geometry.outputPixels)
        inputChannelMajor = Tensor(shape: [batchSize * inputSize])
        if hasNarrowWeightGradient { weightGradientTerms = Tensor(shape: [batchSize * weight.count]) }
    }

    /// Image by image, each thread its own images: that image's columns,
    /// Wᵀ × x_b (x_b, the row, is already (Cin, H·W)), go to the thread's
    /// buffer and col2im reads them back while they are still in cache. (One
    /// product for the batch wrote all of them to memory first, 29 MB for
    /// the VQ decoder's last layer, and col2im read them back from there.)
    /// Each entry is the same sum over Cin in the same order, so the bits do
    /// not change; the bound counts the products as the one product for the
    /// batch they make up.
    public func forward(_ x: Matrix) -> Matrix {
        let g = geometry
        precondition(x.columns == inputSize, "ConvTranspose2d expects \(inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        input = x
        let y = output.matrix(rows: x.rows, columns: outputSize)
        let plane = g.height * g.width, P = g.outputPixels, imageColumns = g.patchSize * P
        let parts = max(1, min(concurrentParts, x.rows)), perPart = (x.rows + parts - 1) / parts
        let scratch = columnsBuffer.tensor(count: parts * imageColumns).pointer
        MatrixProductStatistics.note(ProductShape(m: g.patchSize, n: x.rows * P, k: inChannels, transposeA: true))
        parallelParts(parts) { part in
            let columns = Matrix(scratch + part * imageColumns, rows: g.patchSize, columns: P)
            for b in (part * perPart)..<min(x.rows, (part + 1) * perPart) {
                matrixProductPiece(MatrixProduct(weight, .transposed, Matrix(x.row(b), rows: inChannels, columns: P), .none, into: columns))
                parameters.fillChannels(y.row(b), planeSize: plane)
                g.col2im(columns.pointer, rowStride: P, addingInto: Matrix(y.row(b), rows: 1, columns: outputSize), 0..<1)
            }
        }
        return y
    }

    /// columns = im2col(dy) for the batch; dW += X × columnsᵀ; dX = W × columns;
    /// db += Σ spatial dy.
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let x = input else { preconditionFailure("ConvTranspose2d.backward before forward") }
        let g = geometry, rows = x.rows
        precondition(dy.rows == rows && dy.columns == outputSize)
        let width = rows * g.outputPixels
        let cols = columnsBuffer.tensor(count: g.patchSize * width).matrix(rows: g.patchSize, columns: width)
        let plane = g.height * g.width
        parallelRows(rows, workPerRow: g.patchSize * g.outputPixels) { images in
            g.im2col(dy, images, into: cols.pointer, rowStride: width)
        }
        parameters.accumulateChannelBiasGradient(dy, planeSize: plane)
        var weightGradient: MatrixProduct?
        if hasNarrowWeightGradient {
            NarrowProducts.accumulateWeightGradient(planes: x, taps: cols.pointer, tapStride: width, into: parameters.dWeight,
                                                    scratch: weightGradientTerms.matrix(rows: rows, columns: weight.count))
        } else {
            let xc = inputChannelMajor.matrix(rows: inChannels, columns: width)
            ChannelMajor.gather(x, channels: inChannels, into: xc.pointer)
            weightGradient = MatrixProduct(xc, .none, cols, .transposed, into: parameters.dWeight, beta: 1)
        }
        guard inputGradient else {
            matrixProducts(weightGradient, nil)
            return Matrix(dInput.pointer, rows: 0, columns: inputSize)
        }
        if dInput.count < rows * inputSize {
            dInput = Tensor(shape: [rows * inputSize])
            dInputChannelMajor = Tensor(shape: [rows * inputSize])
        }
        let dxc = dInputChannelMajor.matrix(rows: inChannels, columns: width)
        matrixProducts(weightGradient, MatrixProduct(weight, .none, cols, .none, into: dxc))
        let dx = dInput.matrix(rows: rows, columns: inputSize)
        ChannelMajor.scatter(dxc.pointer, channels: inChannels, into: dx)
        return dx
    }
}
