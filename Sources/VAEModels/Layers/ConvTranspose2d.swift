import VAEEngine

/// A 2-D transposed convolution laid out as PyTorch's `nn.ConvTranspose2d`
/// (no dilation, no groups): the adjoint of a convolution, so it upsamples.
///
/// x: (B, Cin·H·W), weight: (Cin, Cout, k, k), bias: (Cout), y: (B, Cout·Hout·Wout)
/// with Hout = (H − 1)·stride − 2·padding + k + outputPadding. Image b's
/// input x_b is already (Cin, H·W), and one product gives its columns:
///   columns_b (Cout·k·k, H·W) = Wᵀ (Cout·k·k, Cin) × x_b,   y_b = col2im(columns_b) + b,
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
    /// The columns, needed only inside one forward or backward call (one
    /// image's per thread; the narrow layer's backward: the batch's): this
    /// layer's own buffer, or one the layers of a network share.
    private let columnsBuffer: SharedBuffer
    /// The input, kept for backward, and the weight gradient's terms: each
    /// thread's (per image for the narrow layer).
    private var input: Matrix?
    private var weightGradientTerms = Tensor(shape: [0])
    /// Each image's bias-gradient terms, its planes' sums of dy, taken while
    /// the image is in cache for im2col (a pass of their own read the whole
    /// batch's dy again: 2% of the VQ-VAE's step).
    private var biasGradientTerms = Tensor(shape: [0])
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
        let images = hasNarrowWeightGradient ? batchSize : min(batchSize, concurrentParts)
        _ = columnsBuffer.tensor(count: images * geometry.patchSize * geometry.outputPixels)
        weightGradientTerms = Tensor(shape: [images * weight.count])
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
        let split = ContiguousParts(x.rows)
        let scratch = columnsBuffer.tensor(count: split.parts * imageColumns).pointer
        MatrixProductStatistics.note(ProductShape(m: g.patchSize, n: x.rows * P, k: inChannels, transposeA: true))
        parallelParts(split.parts) { part in
            let columns = Matrix(scratch + part * imageColumns, rows: g.patchSize, columns: P)
            for b in split.range(part) {
                matrixProductPiece(MatrixProduct(weight, .transposed, Matrix(x.row(b), rows: inChannels, columns: P), .none, into: columns))
                parameters.fillChannels(y.row(b), planeSize: plane)
                g.col2im(columns.pointer, rowStride: P, addingInto: Matrix(y.row(b), rows: 1, columns: outputSize), 0..<1)
            }
        }
        return y
    }

    /// Image by image, each thread its own images, as in forward:
    /// columns_b = im2col(dy_b) in the thread's buffer, then while they are
    /// in cache dX_b = W × columns_b (already x's layout, (Cin, H·W)) and
    /// the thread's dW += X_b × columns_bᵀ; the threads' dW are added to the
    /// gradient in part order. db += Σ spatial dy, each image's plane sums
    /// taken in the same loop and added in image order. (For the batch at once the
    /// columns were 29 MB for the VQ decoder's 64 → 32 layer, written to
    /// memory and read back by both products.) The narrow layer keeps the
    /// batch's columns, which `NarrowProducts` reads tap by tap.
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let x = input else { preconditionFailure("ConvTranspose2d.backward before forward") }
        let g = geometry, rows = x.rows, plane = g.height * g.width
        precondition(dy.rows == rows && dy.columns == outputSize)
        if inputGradient && dInput.count < rows * inputSize { dInput = Tensor(shape: [rows * inputSize]) }
        let dx = dInput.matrix(rows: inputGradient ? rows : 0, columns: inputSize)
        if hasNarrowWeightGradient {
            parameters.accumulateChannelBiasGradient(dy, planeSize: plane)
            narrowBackward(x, dy, dx: inputGradient ? dx : nil)
            return dx
        }
        let P = g.outputPixels, imageColumns = g.patchSize * P, split = ContiguousParts(rows)
        let scratch = columnsBuffer.tensor(count: split.parts * imageColumns).pointer
        if weightGradientTerms.count < split.parts * weight.count { weightGradientTerms = Tensor(shape: [split.parts * weight.count]) }
        if biasGradientTerms.count < rows * g.channels { biasGradientTerms = Tensor(shape: [rows * g.channels]) }
        let terms = weightGradientTerms.pointer, planeSums = biasGradientTerms.pointer
        MatrixProductStatistics.note(ProductShape(m: inChannels, n: g.patchSize, k: rows * P, transposeB: true))
        if inputGradient { MatrixProductStatistics.note(ProductShape(m: inChannels, n: rows * P, k: g.patchSize)) }
        parallelParts(split.parts) { part in
            let columns = Matrix(scratch + part * imageColumns, rows: g.patchSize, columns: P)
            let partWeightGradient = Matrix(terms + part * weight.count, rows: inChannels, columns: g.patchSize)
            let images = split.range(part)
            for b in images {
                parameters.sumChannels(of: dy.row(b), planeSize: plane, into: planeSums + b * g.channels)
                g.im2col(Matrix(dy.row(b), rows: 1, columns: outputSize), 0..<1, into: columns.pointer, rowStride: P)
                matrixProductPiece(MatrixProduct(Matrix(x.row(b), rows: inChannels, columns: P), .none, columns, .transposed,
                                                 into: partWeightGradient, beta: b == images.lowerBound ? 0 : 1))
                if inputGradient {
                    matrixProductPiece(MatrixProduct(weight, .none, columns, .none, into: Matrix(dx.row(b), rows: inChannels, columns: P)))
                }
            }
        }
        parameters.addChannelBiasGradient(planeSums: planeSums, images: rows)
        parameters.addWeightGradientTerms(terms, split: split)
        return dx
    }

    /// The one-channel layer, image by image, each thread its own: columns_b
    /// = im2col(dy_b), image after image in the batch's buffer, and while
    /// they are in cache dx_b = W × columns_b straight into the image's
    /// layout; then dW summed by `NarrowProducts` from x where it lies and
    /// the columns tap by tap. (One product over the batch's columns wrote
    /// (Cin, B·H·W), 3.2 MB for the conv decoder's last layer, and a pass
    /// copied it out.)
    private func narrowBackward(_ x: Matrix, _ dy: Matrix, dx: Matrix?) {
        let g = geometry, rows = x.rows, P = g.outputPixels, imageColumns = g.patchSize * P
        let cols = columnsBuffer.tensor(count: rows * imageColumns).pointer
        let split = ContiguousParts(rows)
        if dx != nil { MatrixProductStatistics.note(ProductShape(m: inChannels, n: rows * P, k: g.patchSize)) }
        parallelParts(split.parts) { part in
            for b in split.range(part) {
                let columns = Matrix(cols + b * imageColumns, rows: g.patchSize, columns: P)
                g.im2col(Matrix(dy.row(b), rows: 1, columns: outputSize), 0..<1, into: columns.pointer, rowStride: P)
                if let dx { matrixProductPiece(MatrixProduct(weight, .none, columns, .none, into: Matrix(dx.row(b), rows: inChannels, columns: P))) }
            }
        }
        NarrowProducts.accumulateWeightGradient(planes: x, taps: cols, tapStride: P, imageStride: imageColumns, into: parameters.dWeight,
                                                scratch: weightGradientTerms.matrix(rows: rows, columns: weight.count))
    }
}
