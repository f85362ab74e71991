import VAEEngine

/// A 2-D convolution laid out as PyTorch's `nn.Conv2d` (no dilation, no groups).
///
/// x: (B, Cin·H·W), weight: (Cout, Cin, k, k), bias: (Cout), y: (B, Cout·Hout·Wout),
/// images row-major (channel, row, column). im2col lays the whole batch's
/// patches side by side, columns (Cin·k·k, B·Hout·Wout), so the convolution of
/// the batch is one product with a long inner dimension for sgemm:
///   Y (Cout, B·Hout·Wout) = W (Cout, Cin·k·k) × columns,
/// then Y is copied out image by image with the bias added.
///
/// With few taps (Cin·k·k ≤ `NarrowProducts.maximumTaps`: the first,
/// one-channel layer), the weight gradient is summed by `NarrowProducts`
/// from dL/dy where it lies: sgemm ran that (32, 9) result at 33 GFLOP/s.
public final class Conv2d: Layer {
    public let geometry: ConvolutionGeometry
    public let outChannels: Int
    let parameters: WeightAndBias
    var weight: Matrix { parameters.weight }
    /// y and dL/dx: this layer's own, or the shared scratch's when it has one
    /// for them (the network uses each before the next layer's pass).
    private let outputBuffer: SharedBuffer
    private let inputGradientBuffer: SharedBuffer
    /// The batch's columns: this layer's own, kept from forward for backward;
    /// or the shared scratch's, which the layers of a network share,
    /// refilled from the kept input in backward (an im2col more per step
    /// for one patch matrix in place of one per layer).
    private let columnsBuffer: SharedBuffer
    private let refillsColumns: Bool
    /// Y or dL/dY in channel-major layout (Cout, B·Hout·Wout), needed only
    /// inside one call: this layer's own, or the shared scratch's.
    private let productBuffer: SharedBuffer
    /// The largest batch reserved for.
    private var reservedBatch = 0
    /// The weight gradient's per-image terms, when few taps.
    private var weightGradientTerms = Tensor(shape: [0])
    private var rows = 0
    /// Set for a same-size convolution to a few channels, computed without im2col.
    private let direct: DirectConvolution?
    /// The input, kept for the direct path's backward and for refilling shared columns.
    private var input: Matrix?
    /// Where the columns' gradient goes: this layer's own, or one that the
    /// layers of a network share (it lives only inside one backward call).
    private let dColumnsBuffer: SharedBuffer
    /// Whether the weight gradient goes through `NarrowProducts`.
    public var hasNarrowWeightGradient: Bool { geometry.patchSize <= NarrowProducts.maximumTaps }

    public convenience init(name: String, store: ParameterStore, geometry: ConvolutionGeometry, sharedScratch: ConvolutionScratch? = nil,
                            sharedGradientColumns: SharedBuffer? = nil) {
        let outChannels = store.slot("\(name).weight").spec.shape[0]
        self.init(parameters: WeightAndBias(name: name, store: store, rows: outChannels), geometry: geometry,
                  sharedScratch: sharedScratch, sharedGradientColumns: sharedGradientColumns)
    }

    /// Over a weight (Cout, patchSize) and bias held elsewhere (a masked
    /// convolution's packed copy of the taps it keeps).
    /// `sharedScratch`: buffers for the columns and the channel-major
    /// product that other layers use too (the input then has to stay as it
    /// is until backward); `sharedGradientColumns`: one for the columns'
    /// gradient. The layers' passes run one at a time.
    public init(parameters: WeightAndBias, geometry: ConvolutionGeometry, sharedScratch: ConvolutionScratch? = nil,
                sharedGradientColumns: SharedBuffer? = nil) {
        columnsBuffer = sharedScratch?.columns ?? SharedBuffer()
        productBuffer = sharedScratch?.product ?? SharedBuffer()
        outputBuffer = sharedScratch?.output ?? SharedBuffer()
        inputGradientBuffer = sharedScratch?.inputGradient ?? SharedBuffer()
        refillsColumns = sharedScratch != nil
        dColumnsBuffer = sharedGradientColumns ?? SharedBuffer()
        self.geometry = geometry
        outChannels = parameters.weight.rows
        self.parameters = parameters
        precondition(parameters.weight.columns == geometry.patchSize, "the weight does not fit the geometry")
        direct = DirectConvolution.applies(geometry, outChannels: outChannels) ? DirectConvolution(geometry: geometry, outChannels: outChannels) : nil
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
        _ = columnsMatrix(rows: batchSize)
        _ = productMatrix(columns: batchSize * g.outputPixels)
        if hasNarrowWeightGradient { weightGradientTerms = Tensor(shape: [batchSize * weight.count]) }
    }

    public func forward(_ x: Matrix) -> Matrix {
        let g = geometry
        precondition(x.columns == g.inputSize, "Conv2d expects \(g.inputSize) inputs, got \(x.columns)")
        reserve(batchSize: x.rows)
        rows = x.rows
        input = x
        if let direct {
            let y = outputMatrix(rows: x.rows)
            direct.forward(x, weight: weight, bias: parameters.bias, into: y)
            return y
        }
        let cols = columns(of: x)
        let yc = productMatrix(columns: cols.columns)
        matrixProduct(weight, .none, cols, .none, into: yc)
        let y = outputMatrix(rows: x.rows)
        addBias(to: yc.pointer, into: y)
        return y
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

    private func productMatrix(columns width: Int) -> Matrix {
        productBuffer.tensor(count: outChannels * width).matrix(rows: outChannels, columns: width)
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

    /// y[b, c, i] = Y[c, b·P + i] + bias[c]: the product copied out image by image.
    private func addBias(to source: UnsafePointer<Float>, into y: Matrix) {
        let plane = geometry.outputPixels, width = y.rows * plane, bias = parameters.bias.pointer
        parallelRows(y.rows, workPerRow: y.columns) { images in
            for b in images {
                for c in 0..<outChannels {
                    let out = y.row(b) + c * plane, src = source + c * width + b * plane, value = bias[c]
                    for i in 0..<plane { out[i] = src[i] + value }
                }
            }
        }
    }

    /// dW += dY × columnsᵀ, db += Σ spatial dy, dx = col2im(Wᵀ × dY), with dY
    /// the channel-major dL/dy: three products for the whole batch.
    @discardableResult
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        let g = geometry
        precondition(dy.rows == rows && dy.columns == outputSize)
        if let direct, let input {
            parameters.accumulateChannelBiasGradient(dy, planeSize: g.outputPixels)
            let dx = inputGradientMatrix(rows: inputGradient ? rows : 0)
            direct.backward(dy, input: input, weight: weight, dWeight: parameters.dWeight, dx: inputGradient ? dx : nil)
            return dx
        }
        let width = rows * g.outputPixels
        guard let input else { preconditionFailure("Conv2d.backward before forward") }
        let cols = refillsColumns ? columns(of: input) : columnsMatrix(rows: rows)
        let dyc = productMatrix(columns: width)
        parameters.accumulateChannelBiasGradient(dy, planeSize: g.outputPixels)
        // The products read dL/dy channel-major; the narrow sum reads it as it is.
        if inputGradient || !hasNarrowWeightGradient { ChannelMajor.gather(dy, channels: outChannels, into: dyc.pointer) }
        var weightGradient: MatrixProduct?
        if hasNarrowWeightGradient {
            NarrowProducts.accumulateWeightGradient(planes: dy, taps: cols.pointer, tapStride: width, into: parameters.dWeight,
                                                    scratch: weightGradientTerms.matrix(rows: rows, columns: weight.count))
        } else {
            weightGradient = MatrixProduct(dyc, .none, cols, .transposed, into: parameters.dWeight, beta: 1)
        }
        guard inputGradient else {
            matrixProducts(weightGradient, nil)
            return inputGradientMatrix(rows: 0)
        }
        let dcols = dColumnsBuffer.tensor(count: cols.count).matrix(rows: g.patchSize, columns: width)
        matrixProducts(weightGradient, MatrixProduct(weight, .transposed, dyc, .none, into: dcols))
        let dx = inputGradientMatrix(rows: rows)
        parallelRows(rows, workPerRow: g.patchSize * g.outputPixels) { images in
            dx.row(images.lowerBound).update(repeating: 0, count: images.count * g.inputSize)
            g.col2im(dcols.pointer, rowStride: width, addingInto: dx, images)
        }
        return dx
    }
}

/// The buffers of `Conv2d`s whose passes run one after another and which
/// keep nothing between forward and backward but their input: the patch
/// matrix and the channel-major product; and, where the network uses each
/// layer's output or input gradient before the next layer's pass writes
/// its own (a residual block's output, added to h at once), those too.
public final class ConvolutionScratch {
    let columns: SharedBuffer, product: SharedBuffer
    let output: SharedBuffer?, inputGradient: SharedBuffer?

    public init() {
        (columns, product, output, inputGradient) = (SharedBuffer(), SharedBuffer(), nil, nil)
    }

    private init(columns: SharedBuffer, product: SharedBuffer, output: SharedBuffer?, inputGradient: SharedBuffer?) {
        (self.columns, self.product, self.output, self.inputGradient) = (columns, product, output, inputGradient)
    }

    /// The same patch and product buffers, with these for the outputs and input gradients.
    public func sharing(output: SharedBuffer?, inputGradient: SharedBuffer?) -> ConvolutionScratch {
        ConvolutionScratch(columns: columns, product: product, output: output, inputGradient: inputGradient)
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
