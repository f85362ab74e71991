import VAEEngine

/// A 2-D convolution laid out as PyTorch's `nn.Conv2d` (no dilation, no groups).
///
/// x: (B, Cin·H·W), weight: (Cout, Cin, k, k), bias: (Cout), y: (B, Cout·Hout·Wout),
/// images row-major (channel, row, column). With columns_b = im2col(x_b),
/// (Cin·k·k, Hout·Wout), the convolution of image b is one product,
///   y_b (Cout, Hout·Wout) = W (Cout, Cin·k·k) × columns_b + bias,
/// already in the image's layout; and backward is
///   dW += Σ_b dy_b × columns_bᵀ,   db += Σ_b Σ_spatial dy_b,   dx_b = col2im(Wᵀ × dy_b).
///
/// It is computed image by image, each thread its own images, so that an
/// image's columns (56 KB for the 32 → 64 stride-2 layer) are made, used
/// and remade in backward while they are in cache. The whole batch's
/// columns side by side made one long product, but wrote 7 MB to memory
/// and read it back twice, with the output copied out of channel-major
/// layout and dy gathered into it.
///
/// Two kinds of layer go other ways. A same-size convolution to a few
/// channels (`DirectConvolution`) needs no columns at all. With few taps
/// (Cin·k·k ≤ `NarrowProducts.maximumTaps`: the one-channel first layers),
/// the weight gradient is summed by `NarrowProducts` from dL/dy where it
/// lies (sgemm ran that (32, 9) result at 33 GFLOP/s), reading the batch's
/// columns tap by tap: those layers' backward makes the batch's columns.
public final class Conv2d: Layer {
    public let geometry: ConvolutionGeometry
    public let outChannels: Int
    let parameters: WeightAndBias
    var weight: Matrix { parameters.weight }
    /// y and dL/dx: this layer's own, or the shared scratch's when it has one
    /// for them (the network uses each before the next layer's pass).
    private let outputBuffer: SharedBuffer
    private let inputGradientBuffer: SharedBuffer
    /// The columns, needed only within one pass: each thread's image's, or
    /// in the narrow layer's backward the batch's.
    private let columnsBuffer: SharedBuffer
    /// The largest batch reserved for.
    private var reservedBatch = 0
    /// The weight gradient's terms: each thread's, or the narrow layer's per image.
    private var weightGradientTerms = Tensor(shape: [0])
    /// Each image's plane sums of dy, taken while the image is in cache.
    private var biasGradientTerms = Tensor(shape: [0])
    private var rows = 0
    /// Set for a same-size convolution to a few channels, computed without im2col.
    private let direct: DirectConvolution?
    /// The input, kept for backward.
    private var input: Matrix?
    /// Where the columns' gradient goes: this layer's own, or one that the
    /// layers of a network share (it lives only inside one backward call).
    private let dColumnsBuffer: SharedBuffer
    /// Whether the weight gradient goes through `NarrowProducts`.
    public var hasNarrowWeightGradient: Bool { geometry.patchSize <= NarrowProducts.maximumTaps }
    /// Whether backward goes image by image too: neither direct nor narrow.
    public var isImageByImage: Bool { direct == nil && !hasNarrowWeightGradient }
    /// A 1x1 convolution with stride 1 and no padding: each image's columns
    /// are the image itself, (Cin, H·W), so it needs no im2col or col2im.
    /// Decided once (read for every image of every pass).
    private let columnsAreTheImage: Bool

    public convenience init(name: String, store: ParameterStore, geometry: ConvolutionGeometry, sharedScratch: ConvolutionScratch? = nil,
                            sharedGradientColumns: SharedBuffer? = nil) {
        let outChannels = store.slot("\(name).weight").spec.shape[0]
        self.init(parameters: WeightAndBias(name: name, store: store, rows: outChannels), geometry: geometry,
                  sharedScratch: sharedScratch, sharedGradientColumns: sharedGradientColumns)
    }

    /// Over a weight (Cout, patchSize) and bias held elsewhere (a masked
    /// convolution's packed copy of the taps it keeps).
    /// `sharedScratch`: buffers for the columns (and maybe the output and
    /// input gradient) that other layers use too; `sharedGradientColumns`:
    /// one for the columns' gradient. The layers' passes run one at a time,
    /// and the input has to stay as it is until backward.
    public init(parameters: WeightAndBias, geometry: ConvolutionGeometry, sharedScratch: ConvolutionScratch? = nil,
                sharedGradientColumns: SharedBuffer? = nil) {
        columnsBuffer = sharedScratch?.columns ?? SharedBuffer()
        outputBuffer = sharedScratch?.output ?? SharedBuffer()
        inputGradientBuffer = sharedScratch?.inputGradient ?? SharedBuffer()
        dColumnsBuffer = sharedGradientColumns ?? SharedBuffer()
        self.geometry = geometry
        outChannels = parameters.weight.rows
        self.parameters = parameters
        precondition(parameters.weight.columns == geometry.patchSize, "the weight does not fit the geometry")
        direct = DirectConvolution.applies(geometry, outChannels: outChannels) ? DirectConvolution(geometry: geometry, outChannels: outChannels) : nil
        columnsAreTheImage = geometry.kernel == 1 && geometry.stride == 1 && geometry.padding == 0 && geometry.offsets == [0]
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

    public func reserve(batchSize: Int) {
        let g = geometry
        guard reservedBatch < batchSize else { return }
        reservedBatch = batchSize
        _ = outputMatrix(rows: batchSize)
        if direct != nil { return }
        if isImageByImage {
            let parts = min(batchSize, concurrentParts)
            _ = columnsBuffer.tensor(count: parts * g.patchSize * g.outputPixels)
            weightGradientTerms = Tensor(shape: [parts * weight.count])
            biasGradientTerms = Tensor(shape: [batchSize * outChannels])
        } else {
            _ = columnsMatrix(rows: batchSize)
            weightGradientTerms = Tensor(shape: [batchSize * weight.count])
        }
    }

    public func forward(_ x: Matrix) -> Matrix {
        let g = geometry
        precondition(x.columns == g.inputSize, "Conv2d expects \(g.inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        rows = x.rows
        input = x
        let y = outputMatrix(rows: x.rows)
        if let direct {
            direct.forward(x, weight: weight, bias: parameters.bias, into: y)
        } else {
            forwardImageByImage(x, into: y)
        }
        return y
    }

    /// Each thread its own images: columns_b in the thread's buffer, then
    /// y_b = bias, += W × columns_b. The bound counts the products as the one
    /// product for the batch they make up. (The narrow layer's one product
    /// over the batch's columns wrote a channel-major result that a pass of
    /// its own copied out with the bias: 3.2 MB twice for conv's first layer.)
    private func forwardImageByImage(_ x: Matrix, into y: Matrix) {
        let g = geometry, P = g.outputPixels, imageColumns = g.patchSize * P
        let split = ContiguousParts(x.rows)
        let scratch = columnsBuffer.tensor(count: split.parts * imageColumns).pointer
        MatrixProductStatistics.note(ProductShape(m: outChannels, n: x.rows * P, k: g.patchSize))
        parallelParts(split.parts) { part in
            let columns = Matrix(scratch + part * imageColumns, rows: g.patchSize, columns: P)
            for b in split.range(part) {
                parameters.fillChannels(y.row(b), planeSize: P)
                matrixProductPiece(MatrixProduct(weight, .none, self.columns(of: x, image: b, in: columns), .none,
                                                 into: Matrix(y.row(b), rows: outChannels, columns: P), beta: 1))
            }
        }
    }

    private func outputMatrix(rows: Int) -> Matrix {
        outputBuffer.tensor(count: rows * outputSize).matrix(rows: rows, columns: outputSize)
    }

    private func inputGradientMatrix(rows: Int) -> Matrix {
        inputGradientBuffer.tensor(count: rows * geometry.inputSize).matrix(rows: rows, columns: geometry.inputSize)
    }

    private func columnsMatrix(rows: Int) -> Matrix {
        let g = geometry, width = rows * g.outputPixels
        return columnsBuffer.tensor(count: g.patchSize * width).matrix(rows: g.patchSize, columns: width)
    }

    /// Image b's columns: im2col(x_b) in `buffer`, or x_b itself for a 1x1 convolution.
    private func columns(of x: Matrix, image b: Int, in buffer: Matrix) -> Matrix {
        let g = geometry
        if columnsAreTheImage { return Matrix(x.row(b), rows: g.channels, columns: g.outputPixels) }
        g.im2col(Matrix(x.row(b), rows: 1, columns: g.inputSize), 0..<1, into: buffer.pointer, rowStride: g.outputPixels)
        return buffer
    }

    /// im2col of the batch x: (patch, B·Hout·Wout).
    private func columns(of x: Matrix) -> Matrix {
        let g = geometry, cols = columnsMatrix(rows: x.rows), width = cols.columns
        // Images write disjoint columns: split them among the BLAS threads.
        parallelRows(x.rows, workPerRow: g.patchSize * g.outputPixels) { images in
            g.im2col(x, images, into: cols.pointer, rowStride: width)
        }
        return cols
    }

    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        let g = geometry
        precondition(dy.rows == rows && dy.columns == outputSize)
        guard let input else { preconditionFailure("Conv2d.backward before forward") }
        let dx = inputGradientMatrix(rows: inputGradient ? rows : 0)
        if let direct {
            parameters.accumulateChannelBiasGradient(dy, planeSize: g.outputPixels)
            direct.backward(dy, input: input, weight: weight, dWeight: parameters.dWeight, dx: inputGradient ? dx : nil)
        } else if isImageByImage {
            backwardImageByImage(dy, input: input, dx: inputGradient ? dx : nil)
        } else {
            narrowBackward(dy, input: input, dx: inputGradient ? dx : nil)
        }
        return dx
    }

    /// Each thread its own images, as in forward: columns_b = im2col(x_b)
    /// remade in the thread's buffer, then while they are in cache the
    /// thread's dW += dy_b × columns_bᵀ and dx_b = col2im(Wᵀ × dy_b); the
    /// threads' dW are added to the gradient in part order, the images'
    /// plane sums of dy to db in image order.
    private func backwardImageByImage(_ dy: Matrix, input x: Matrix, dx: Matrix?) {
        let g = geometry, P = g.outputPixels, imageColumns = g.patchSize * P
        let split = ContiguousParts(rows)
        let scratch = columnsBuffer.tensor(count: split.parts * imageColumns).pointer
        let dScratch = dColumnsBuffer.tensor(count: dx == nil ? 0 : split.parts * imageColumns).pointer
        if weightGradientTerms.count < split.parts * weight.count { weightGradientTerms = Tensor(shape: [split.parts * weight.count]) }
        if biasGradientTerms.count < rows * outChannels { biasGradientTerms = Tensor(shape: [rows * outChannels]) }
        let terms = weightGradientTerms.pointer, planeSums = biasGradientTerms.pointer
        MatrixProductStatistics.note(ProductShape(m: outChannels, n: g.patchSize, k: rows * P, transposeB: true))
        if dx != nil { MatrixProductStatistics.note(ProductShape(m: g.patchSize, n: rows * P, k: outChannels, transposeA: true)) }
        parallelParts(split.parts) { part in
            let columns = Matrix(scratch + part * imageColumns, rows: g.patchSize, columns: P)
            let dColumns = Matrix(dScratch + part * imageColumns, rows: g.patchSize, columns: P)
            let partWeightGradient = Matrix(terms + part * weight.count, rows: outChannels, columns: g.patchSize)
            let images = split.range(part)
            for b in images {
                let dyImage = Matrix(dy.row(b), rows: outChannels, columns: P)
                parameters.sumChannels(of: dy.row(b), planeSize: P, into: planeSums + b * outChannels)
                matrixProductPiece(MatrixProduct(dyImage, .none, self.columns(of: x, image: b, in: columns), .transposed,
                                                 into: partWeightGradient, beta: b == images.lowerBound ? 0 : 1))
                if let dx { inputGradient(of: b, dy: dyImage, columns: dColumns, into: dx) }
            }
        }
        parameters.addChannelBiasGradient(planeSums: planeSums, images: rows)
        parameters.addWeightGradientTerms(terms, split: split)
    }

    /// dx_b = col2im(Wᵀ × dy_b), Wᵀ × dy_b in `columns` (one image's); for
    /// a 1x1 convolution, Wᵀ × dy_b itself.
    private func inputGradient(of b: Int, dy dyImage: Matrix, columns: Matrix, into dx: Matrix) {
        let g = geometry
        if columnsAreTheImage {
            matrixProductPiece(MatrixProduct(weight, .transposed, dyImage, .none, into: Matrix(dx.row(b), rows: g.channels, columns: g.outputPixels)))
            return
        }
        matrixProductPiece(MatrixProduct(weight, .transposed, dyImage, .none, into: columns))
        let dxImage = Matrix(dx.row(b), rows: 1, columns: g.inputSize)
        dxImage.pointer.update(repeating: 0, count: g.inputSize)
        g.col2im(columns.pointer, rowStride: g.outputPixels, addingInto: dxImage, 0..<1)
    }

    /// The narrow layer: the batch's columns made again, dW += Σ_b dy_b ×
    /// columns_bᵀ summed by `NarrowProducts` from dy where it lies and them,
    /// db += Σ spatial dy; dx image by image as for the other layers.
    private func narrowBackward(_ dy: Matrix, input: Matrix, dx: Matrix?) {
        let g = geometry, P = g.outputPixels, width = rows * P
        let cols = columns(of: input)
        parameters.accumulateChannelBiasGradient(dy, planeSize: P)
        NarrowProducts.accumulateWeightGradient(planes: dy, taps: cols.pointer, tapStride: width, into: parameters.dWeight,
                                                scratch: weightGradientTerms.matrix(rows: rows, columns: weight.count))
        guard let dx else { return }
        let split = ContiguousParts(rows), imageColumns = g.patchSize * P
        let dScratch = dColumnsBuffer.tensor(count: split.parts * imageColumns).pointer
        MatrixProductStatistics.note(ProductShape(m: g.patchSize, n: width, k: outChannels, transposeA: true))
        parallelParts(split.parts) { part in
            let dColumns = Matrix(dScratch + part * imageColumns, rows: g.patchSize, columns: P)
            for b in split.range(part) {
                inputGradient(of: b, dy: Matrix(dy.row(b), rows: outChannels, columns: P), columns: dColumns, into: dx)
            }
        }
    }
}

/// The buffers of `Conv2d`s whose passes run one after another and which
/// keep nothing between forward and backward but their input: the columns;
/// and, where the network uses each layer's output or input gradient before
/// the next layer's pass writes its own (a residual block's output, added
/// to h at once), those too.
public final class ConvolutionScratch {
    let columns: SharedBuffer
    let output: SharedBuffer?, inputGradient: SharedBuffer?

    public init() {
        (columns, output, inputGradient) = (SharedBuffer(), nil, nil)
    }

    private init(columns: SharedBuffer, output: SharedBuffer?, inputGradient: SharedBuffer?) {
        (self.columns, self.output, self.inputGradient) = (columns, output, inputGradient)
    }

    /// The same columns buffer, with these for the outputs and input gradients.
    public func sharing(output: SharedBuffer?, inputGradient: SharedBuffer?) -> ConvolutionScratch {
        ConvolutionScratch(columns: columns, output: output, inputGradient: inputGradient)
    }
}

/// A scratch tensor that grows to the largest size asked of it, for
/// layers that need the same kind of short-lived buffer one after another.
public final class SharedBuffer {
    private var storage = Tensor(shape: [0])

    public init() {}

    /// At least `count` floats; the contents are whatever the last user left.
    func tensor(count: Int) -> Tensor {
        if storage.count < count { storage = Tensor(shape: [count]) }
        return storage
    }
}
