import Foundation
import VAEEngine

/// Dropout for one training step of a `PixelCNN`: the share of units
/// dropped, and the run's seed and step that fix which.
public struct PriorDropout: Sendable {
    public let rate: Float
    public let seed: UInt64
    public let step: Int

    public init(rate: Float, seed: UInt64, step: Int) {
        (self.rate, self.seed, self.step) = (rate, seed, step)
    }
}

/// An autoregressive prior over a grid of discrete codes (van den Oord,
/// Kalchbrenner & Kavukcuoglu 2016, "Pixel recurrent neural networks", §3.5
/// and Figure 2): in raster order,
///
///   p(c) = Π_i p(c_i | c_<i),
///
/// each factor a K-way softmax computed by convolutions whose kernels are
/// masked so position i sees only the positions before it:
///
///   one-hot c (K, H, W) → masked kxk type A (k = 7 by default; sees strictly earlier positions) → h
///   h ← h + masked 3x3 type B (sees earlier positions and itself, in h) (ReLU(h))   per block
///   logits = 1x1 (ReLU (1x1 (ReLU h)))     (K, H, W)
///
/// Type A excludes the centre tap, so the first layer cannot see c_i; type B
/// may include it, because by then position i holds only what c_<i told it.
/// The VQ-VAE (van den Oord et al. 2017, §3.2) fits this prior to the codes
/// of the training images once the autoencoder is trained.
///
/// A class-conditional prior p(c | y) (van den Oord et al. 2016b, "Conditional
/// image generation with PixelCNN decoders", §2.3: a class-dependent bias
/// V y added to the layers) adds V[:, y] to h at every position after the
/// first layer; the residual blocks carry it on. `prior.cond.weight` (C, classes).
///
/// Training may drop units of each block's input ReLU(h) (dropout,
/// Srivastava et al. 2014, as PixelCNN++ does inside its residual blocks,
/// Salimans et al. 2017): without it the prior overfits its 60,000 grids
/// (after 10 epochs, 1.03 nats per code on training images, 1.10 on test ones).
///
/// Parameters, as ../shared/reference/torch_families.py names them under
/// `prior.`: `prior.inp` (C, K, k, k), `prior.blocks.i` (C, C, 3, 3),
/// `prior.out.1` (C, C, 1, 1) and `prior.out.3` (K, C, 1, 1), each with its
/// bias. Masked weights are held at zero (PyTorch multiplies by the mask
/// instead: the same function).
public final class PixelCNN {
    public let codes: Int
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Classes of a conditional prior, 0 for none.
    public let classes: Int
    let classBias: Matrix?
    let dClassBias: Matrix?
    private var lastLabels: [Int32] = []
    /// The block its layers view: kept alive with them.
    private let store: ParameterStore
    let input: CodeConvolution
    let blocks: [MaskedConvolution]
    let blockActivations: [ReLU]
    let hidden: Conv2d
    let output: Conv2d
    private let hiddenActivation = ReLU(), outputActivation = ReLU()
    /// h, updated in place block by block (backward needs none of its
    /// values); each block's ReLU input (a copy of h), kept for backward.
    private var state = Tensor(shape: [0])
    private var activated: [Tensor] = []
    /// 1/(1 − rate) when the last forward pass dropped units, else nil.
    private var dropoutScale: Float?
    private var dState = Tensor(shape: [0])
    private var dLogits = Tensor(shape: [0])
    private var rows = 0
    private var lastImages = 0

    public var positions: Int { height * width }

    public static func specs(prefix: String, codes: Int, shape: CodePrior, classes: Int = 0) -> [ParameterSpec] {
        let c = shape.channels
        return (classes > 0 ? [ParameterSpec(name: "\(prefix).cond.weight", shape: [c, classes])] : []) + Conv2d.specs(name: "\(prefix).inp", inChannels: codes, outChannels: c, kernel: shape.inputKernel)
            + (0..<shape.blocks).flatMap { Conv2d.specs(name: "\(prefix).blocks.\($0)", inChannels: c, outChannels: c, kernel: 3) }
            + Conv2d.specs(name: "\(prefix).out.1", inChannels: c, outChannels: c, kernel: 1)
            + Conv2d.specs(name: "\(prefix).out.3", inChannels: c, outChannels: codes, kernel: 1)
    }

    public init(store: ParameterStore, prefix: String, codes: Int, shape: CodePrior, height: Int, width: Int, classes: Int = 0) {
        self.codes = codes
        self.classes = classes
        self.store = store
        classBias = classes > 0 ? store.values("\(prefix).cond.weight") : nil
        dClassBias = classes > 0 ? store.gradients("\(prefix).cond.weight") : nil
        self.height = height
        self.width = width
        channels = shape.channels
        input = CodeConvolution(name: "\(prefix).inp", store: store, codes: codes, channels: shape.channels, kernel: shape.inputKernel,
                                height: height, width: width)
        let same1 = ConvolutionGeometry(channels: shape.channels, height: height, width: width, kernel: 1, stride: 1, padding: 0)
        // The convolutions' passes run one after another, so one buffer holds
        // each one's columns in turn (each thread's image's, remade from the
        // kept input in backward), one the columns' gradient. The blocks'
        // outputs are added to h at once, and every input gradient but the
        // last layer's is used before the next backward pass: one buffer each
        // (3.2 MB at batch 128). The 1x1 layers' outputs are kept: the next
        // layer's input, and the logits.
        let scratch = ConvolutionScratch(), gradientColumns = SharedBuffer(), inputGradients = SharedBuffer()
        let blockScratch = scratch.sharing(output: SharedBuffer(), inputGradient: inputGradients)
        blocks = (0..<shape.blocks).map {
            MaskedConvolution(name: "\(prefix).blocks.\($0)", store: store, channels: shape.channels, height: height, width: width,
                              sharedScratch: blockScratch, sharedGradientColumns: gradientColumns)
        }
        blockActivations = blocks.map { _ in ReLU() }
        hidden = Conv2d(name: "\(prefix).out.1", store: store, geometry: same1, sharedScratch: scratch.sharing(output: nil, inputGradient: inputGradients),
                        sharedGradientColumns: gradientColumns)
        // Its input gradient is read by hidden's backward, which writes the shared one.
        output = Conv2d(name: "\(prefix).out.3", store: store, geometry: same1, sharedScratch: scratch, sharedGradientColumns: gradientColumns)
    }

    /// PyTorch's default initialisation of each convolution, masked taps then zeroed.
    public func initialize(using rng: inout RandomGenerator) {
        if let classBias {   // as nn.Linear(classes, C, bias=False)
            let bound = 1 / Float(classes).squareRoot()
            for i in 0..<classBias.count { classBias.pointer[i] = rng.uniform(-bound, bound) }
        }
        input.initialize(using: &rng)
        for block in blocks { block.initialize(using: &rng) }
        hidden.initialize(using: &rng)
        output.initialize(using: &rng)
    }

    public func reserve(batchSize: Int) {
        guard rows < batchSize || activated.isEmpty else { return }
        let size = batchSize * channels * positions
        state = Tensor(shape: [size])
        activated = (0...blocks.count).map { _ in Tensor(shape: [size]) }
        dState = Tensor(shape: [size])
        dLogits = Tensor(shape: [batchSize * codes * positions])
        input.reserve(batchSize: batchSize)
        for block in blocks { block.reserve(batchSize: batchSize) }
        hidden.reserve(batchSize: batchSize)
        output.reserve(batchSize: batchSize)
        rows = batchSize
    }

    /// codes (B·P, image by image in raster order) → logits (B, K·P),
    /// channel-major; a conditional prior takes each image's class. With
    /// `dropout`, a training pass: units dropped as it says.
    public func forward(_ grid: UnsafePointer<Int32>, images: Int, labels: [Int32]? = nil, dropout: PriorDropout? = nil) -> Matrix {
        precondition((labels != nil) == (classes > 0) && (labels?.count ?? images) == images, "labels go with a conditional prior")
        if activated.isEmpty || rows < images { reserve(batchSize: images) }
        lastImages = images
        dropoutScale = dropout.flatMap { $0.rate > 0 ? 1 / (1 - $0.rate) : nil }
        let size = channels * positions
        let h = state.matrix(rows: images, columns: size)
        h.copy(from: input.forward(grid, images: images))
        if let classBias, let labels {
            lastLabels = labels
            let P = positions
            for b in 0..<images {
                let y = Int(labels[b]), row = h.row(b)
                for o in 0..<channels {
                    let value = classBias.pointer[o * classes + y]
                    for p in 0..<P { row[o * P + p] += value }
                }
            }
        }
        for (i, block) in blocks.enumerated() {
            let r = activated[i].matrix(rows: images, columns: size)
            r.copy(from: h)
            let a = blockActivations[i].forward(r)
            if dropoutScale != nil, let dropout { drop(a, block: i, dropout) }
            let y = block.forward(a)
            h.add(y)
        }
        let r = activated[blocks.count].matrix(rows: images, columns: size)
        r.copy(from: h)
        return output.forward(outputActivation.forward(hidden.forward(hiddenActivation.forward(r))))
    }

    /// Zeroes each unit of `a` with probability `rate` and scales the rest by
    /// 1/(1 − rate). Each image's draws have their own generator (step,
    /// block, image), so the same on any thread count. Nothing is kept for
    /// `backward`: a unit is ReLU's output, which is now zero where dropped,
    /// and ReLU's backward passes no gradient where its output is zero, so
    /// the gradient needs only the scale.
    private func drop(_ a: Matrix, block: Int, _ dropout: PriorDropout) {
        let scale = 1 / (1 - dropout.rate), rate = dropout.rate
        parallelRows(a.rows, workPerRow: a.columns) { images in
            for b in images {
                let index = ((UInt64(dropout.step) * 64 + UInt64(block)) << 16) + UInt64(b)
                var rng = RandomGenerator(seed: dropout.seed, stream: .priorDropout, index: index)
                let x = a.row(b)
                for j in 0..<a.columns { x[j] *= rng.uniform() < rate ? 0 : scale }
            }
        }
    }

    /// −log p(c_i | c_<i) summed over each image's positions, in nats, from
    /// the last `forward`'s logits (B, 1 values in `perImage`). With a
    /// `gradientScale`, keeps scale · (softmax − one-hot) for `backward`.
    ///
    /// A row holds code j's logits of all P positions side by side (K × P),
    /// so each pass runs along the positions eight at a time: the maximum
    /// over codes, e^(logit − max) (the eight-lane exponential) and their
    /// sums, then the gradient in place of those exponentials.
    public func crossEntropy(_ logits: Matrix, codes grid: UnsafePointer<Int32>, perImage: UnsafeMutablePointer<Double>,
                             gradientScale: Float? = nil) {
        let P = positions, K = codes, lanes = FloatLanes.scalarCount, whole = P / lanes * lanes
        let d = dLogits.matrix(rows: logits.rows, columns: logits.columns)
        parallelRows(logits.rows, workPerRow: K * P) { images in
            let maxima = UnsafeMutablePointer<Float>.allocate(capacity: P), sums = UnsafeMutablePointer<Float>.allocate(capacity: P)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: gradientScale == nil ? K * P : 0)
            defer { maxima.deallocate(); sums.deallocate(); scratch.deallocate() }
            for b in images {
                let l = logits.row(b), e = gradientScale == nil ? scratch : d.row(b)
                maxima.update(from: l, count: P)
                sums.update(repeating: 0, count: P)
                for j in 1..<K {
                    let row = l + j * P
                    for p in stride(from: 0, to: whole, by: lanes) {
                        let m = FloatLanes(loading: maxima + p), v = FloatLanes(loading: row + p)
                        m.replacing(with: v, where: v .> m).store(to: maxima + p)
                    }
                    for p in whole..<P { maxima[p] = max(maxima[p], row[p]) }
                }
                for j in 0..<K {
                    let row = l + j * P, out = e + j * P
                    for p in stride(from: 0, to: whole, by: lanes) {
                        let x = exponentialOfNonPositive(FloatLanes(loading: row + p) - FloatLanes(loading: maxima + p))
                        x.store(to: out + p)
                        (FloatLanes(loading: sums + p) + x).store(to: sums + p)
                    }
                    for p in whole..<P {
                        out[p] = exponentialOfNonPositive(FloatLanes(repeating: row[p] - maxima[p]))[0]
                        sums[p] += out[p]
                    }
                }
                var total = 0.0
                for p in 0..<P {
                    total += Double(maxima[p] + logf(sums[p]) - l[Int(grid[b * P + p]) * P + p])
                }
                perImage[b] = total
                guard let scale = gradientScale else { continue }
                for j in 0..<K {
                    let g = e + j * P
                    for p in stride(from: 0, to: whole, by: lanes) {
                        (scale * FloatLanes(loading: g + p) / FloatLanes(loading: sums + p)).store(to: g + p)
                    }
                    for p in whole..<P { g[p] = scale * g[p] / sums[p] }
                }
                for p in 0..<P { e[Int(grid[b * P + p]) * P + p] -= scale }
            }
        }
    }

    /// One training pass over `images` grids: forward (dropping units as
    /// `dropout` says), −log p(c_i | c_<i) summed over each image's positions
    /// into `perImage`, and the gradient of the mean per code accumulated
    /// into the store (`vae train-prior`'s step before the optimiser's, and
    /// `vae bench`'s).
    public func accumulateGradient(_ grid: UnsafePointer<Int32>, images: Int, labels: [Int32]? = nil, dropout: PriorDropout? = nil,
                                   perImage: UnsafeMutablePointer<Double>) {
        let logits = forward(grid, images: images, labels: labels, dropout: dropout)
        crossEntropy(logits, codes: grid, perImage: perImage, gradientScale: 1 / Float(images * positions))
        backward()
    }

    /// Accumulates the gradient of the last `crossEntropy` (with a scale) into the store.
    public func backward() {
        let images = lastImages, size = channels * positions
        var dh = output.backward(dLogits.matrix(rows: images, columns: codes * positions))
        dh = hidden.backward(outputActivation.backward(dh))
        dh = hiddenActivation.backward(dh)
        let g = dState.matrix(rows: images, columns: size)
        g.copy(from: dh)
        for (i, block) in blocks.enumerated().reversed() {
            let da = block.backward(g)
            if let dropoutScale { scale(da, by: dropoutScale) }
            let dr = blockActivations[i].backward(da)
            g.add(dr)
        }
        if let dClassBias {
            let P = positions
            for b in 0..<images {
                let y = Int(lastLabels[b]), row = g.row(b)
                for o in 0..<channels {
                    var total: Float = 0
                    for p in 0..<P { total += row[o * P + p] }
                    dClassBias.pointer[o * classes + y] += total
                }
            }
        }
        input.backward(g)
    }

    /// `count` grids drawn in raster order, each code from softmax(logits / T)
    /// given the codes drawn before it (`walk`: one position at a time, so
    /// the whole draw costs one pass of the network over the grid). With
    /// `given` grids (count·P codes), their first `kept` positions are kept
    /// and the rest drawn given them (a completion). The uniforms are taken
    /// position by position, image by image within each, before the walk, so
    /// the grids do not depend on how the images are shared among threads.
    public func sample(count: Int, temperature: Float, rng: inout RandomGenerator, given: [Int32]? = nil, kept: Int = 0,
                       labels: [Int32]? = nil) -> [Int32] {
        precondition(temperature > 0 && (given == nil ? kept == 0 : given!.count == count * positions && kept <= positions))
        let P = positions, K = codes
        var grid = given ?? [Int32](repeating: 0, count: count * P)
        var uniforms = [Float](repeating: 0, count: count * (P - kept))
        for i in uniforms.indices { uniforms[i] = rng.uniform() }
        // Each thread walks its own images with single-threaded products:
        // the products of one position are too small to split well.
        let parts = count >= 8 ? min(concurrentParts, count) : 1, share = (count + parts - 1) / parts
        input.prepareWeights()   // once, before the threads read them
        let weights = blockWeightsForWalk()
        grid.withUnsafeMutableBufferPointer { codes in
            parallelParts(parts) { part in
                let lower = min(part * share, count), upper = min(lower + share, count)
                guard lower < upper else { return }
                var probabilities = [Double](repeating: 0, count: K)
                walkPrepared(codes.baseAddress! + lower * P, images: upper - lower, labels: labels.map { Array($0[lower..<upper]) },
                             from: kept, blockWeights: weights) { p, logits in
                    for b in 0..<logits.rows {
                        let l = logits.row(b)
                        var m = -Double.infinity
                        for j in 0..<K { m = max(m, Double(l[j]) / Double(temperature)) }
                        var sum = 0.0
                        for j in 0..<K {
                            probabilities[j] = exp(Double(l[j]) / Double(temperature) - m)
                            sum += probabilities[j]
                        }
                        var u = Double(uniforms[(p - kept) * count + lower + b]) * sum, code = K - 1
                        for j in 0..<K {
                            u -= probabilities[j]
                            if u < 0 { code = j; break }
                        }
                        codes[(lower + b) * P + p] = Int32(code)
                    }
                }
            }
        }
        return grid
    }

    /// The network run one position at a time in raster order, for `images`
    /// grids (B·P codes, image by image). The masks make every layer's value
    /// at position p depend only on the codes before p, so once those are
    /// fixed, the values at p are final: each step computes every layer at p
    /// alone, reading the earlier positions' values kept from their own
    /// steps. `visit(p, logits)` receives the (B, K) logits at each position
    /// from `first` on and may write the codes at p before the walk goes on.
    /// The same function as `forward` (up to the order of float sums), at
    /// the cost of one forward pass instead of one per position.
    public func walk(_ grid: UnsafeMutablePointer<Int32>, images: Int, labels: [Int32]? = nil, from first: Int = 0,
                     visit: (Int, Matrix) -> Void) {
        input.prepareWeights()
        walkPrepared(grid, images: images, labels: labels, from: first, blockWeights: blockWeightsForWalk(), visit: visit)
    }

    /// Each block's kept taps as one (taps·C, C) matrix, row t·C + c, column
    /// o: the product of a row of gathered neighbours (tap-major) with it is
    /// the convolution at one position.
    private func blockWeightsForWalk() -> [Tensor] {
        let C = channels, taps = MaskedConvolution.keptTaps
        return blocks.map { block in
            let packed = Tensor(shape: [taps.count * C * C]), w = block.weight.pointer, t = packed.pointer
            // The threads take runs of input channels c: rows j·C + c of their own.
            parallelRows(C, workPerRow: C * taps.count) { inputs in
                for o in 0..<C {
                    for c in inputs {
                        for (j, tap) in taps.enumerated() { t[(j * C + c) * C + o] = w[(o * C + c) * 9 + tap] }
                    }
                }
            }
            return packed
        }
    }

    /// `walk` once the first layer's weights and the blocks' are prepared
    /// (several threads may walk at once with the same).
    private func walkPrepared(_ grid: UnsafeMutablePointer<Int32>, images: Int, labels: [Int32]?, from first: Int,
                              blockWeights weights: [Tensor], visit: (Int, Matrix) -> Void) {
        precondition((labels != nil) == (classes > 0) && (labels?.count ?? images) == images && (0...positions).contains(first),
                     "labels, one per image, go with a conditional prior; the first position lies in the grid")
        let B = images, C = channels, K = codes, P = positions
        let taps = MaskedConvolution.keptTaps
        // ReLU(h) entering each block, what later positions read: a 3x3 tap
        // reaches back at most to p − width − 1, so each image keeps only
        // the last width + 2 positions, position p in slot p mod (width + 2).
        let window = width + 2
        let activated = blocks.map { _ in Tensor(shape: [B * window * C]) }
        // The values at p: the state h, the neighbours a block reads, the output layers'.
        let buffers = [C, taps.count * C, C, C, K].map { Tensor(shape: [B * $0]) }
        defer { withExtendedLifetime(buffers) {} }
        let h = buffers[0].matrix(rows: B, columns: C), neighbours = buffers[1].matrix(rows: B, columns: taps.count * C)
        let top = buffers[2].matrix(rows: B, columns: C), inner = buffers[3].matrix(rows: B, columns: C)
        let logits = buffers[4].matrix(rows: B, columns: K)
        for p in 0..<P {
            input.forward(at: p, grid, images: B, into: h)
            if let classBias, let labels {
                for b in 0..<B {
                    let row = h.row(b), y = Int(labels[b])
                    for o in 0..<C { row[o] += classBias.pointer[o * classes + y] }
                }
            }
            // Each tap's slot in the window, nil outside the grid (taps never
            // reach below the row of p). The product takes the taps from the
            // first inside to the last, and only their rows of the weights:
            // on the top row the left and centre ones, the others' would
            // multiply zeros. The centre is always inside.
            let slots = taps.map { tap -> Int? in
                let y = p / width + tap / 3 - 1, x = p % width + tap % 3 - 1
                return y >= 0 && x >= 0 && x < width ? (y * width + x) % window : nil
            }
            let reach = slots.firstIndex { $0 != nil }!..<(slots.lastIndex { $0 != nil }! + 1)
            let reached = Matrix(neighbours.pointer, rows: B, columns: reach.count * C)
            for (i, block) in blocks.enumerated() {
                let kept = activated[i].pointer
                for b in 0..<B {
                    let here = kept + (b * window + p % window) * C, row = h.row(b)
                    for c in 0..<C { here[c] = max(row[c], 0) }
                    let gathered = reached.row(b)
                    for j in reach {
                        let target = gathered + (j - reach.lowerBound) * C
                        if let slot = slots[j] {
                            target.update(from: kept + (b * window + slot) * C, count: C)
                        } else {
                            target.update(repeating: 0, count: C)
                        }
                    }
                }
                // h ← h + conv(ReLU h) + bias, at p.
                let rows = Matrix(weights[i].pointer + reach.lowerBound * C * C, rows: reach.count * C, columns: C)
                matrixProduct(reached, .none, rows, into: h, beta: 1)
                addRowBias(block.stored.bias, to: h)
            }
            guard p >= first else { continue }
            for b in 0..<B {
                let source = h.row(b), target = top.row(b)
                for c in 0..<C { target[c] = max(source[c], 0) }
            }
            matrixProduct(top, .none, hidden.parameters.weight, .transposed, into: inner)
            addRowBias(hidden.parameters.bias, to: inner)
            for i in 0..<inner.count { inner.pointer[i] = max(inner.pointer[i], 0) }
            matrixProduct(inner, .none, output.parameters.weight, .transposed, into: logits)
            addRowBias(output.parameters.bias, to: logits)
            visit(p, logits)
        }
    }

    private func addRowBias(_ bias: Matrix, to m: Matrix) {
        for r in 0..<m.rows {
            let row = m.row(r)
            for c in 0..<m.columns { row[c] += bias.pointer[c] }
        }
    }

    private func scale(_ a: Matrix, by factor: Float) {
        let x = a.pointer, width = a.columns
        parallelRows(a.rows, workPerRow: width) { range in
            for i in (range.lowerBound * width)..<(range.upperBound * width) { x[i] *= factor }
        }
    }
}

/// A 3x3 type-B masked convolution, same size out, C → C channels. Of each
/// kernel's nine taps the centre row's right one and the bottom row see
/// later positions; they are held at zero, and the product skips them: the
/// columns matrix holds only the five kept taps (5/9 of the work). The
/// stored weight keeps PyTorch's (C, C, 3, 3) layout; a packed (C, C·5) copy
/// is made before each forward and its gradient added back after backward.
final class MaskedConvolution: Layer {
    /// Taps ky·3 + kx that see only earlier positions or the position itself.
    static let keptTaps = [0, 1, 2, 3, 4]
    let stored: WeightAndBias
    private let packed: Tensor
    private let dPacked: Tensor
    let convolution: Conv2d

    init(name: String, store: ParameterStore, channels: Int, height: Int, width: Int, sharedScratch: ConvolutionScratch,
         sharedGradientColumns: SharedBuffer) {
        stored = WeightAndBias(name: name, store: store, rows: channels)
        let kept = Self.keptTaps.count
        packed = Tensor(shape: [channels * channels * kept])
        dPacked = Tensor(shape: [channels * channels * kept])
        let geometry = ConvolutionGeometry(channels: channels, height: height, width: width, kernel: 3, stride: 1, padding: 1,
                                           keptOffsets: Self.keptTaps)
        convolution = Conv2d(parameters: WeightAndBias(weight: packed.matrix(rows: channels, columns: channels * kept), bias: stored.bias,
                                                       dWeight: dPacked.matrix(rows: channels, columns: channels * kept), dBias: stored.dBias),
                             geometry: geometry, sharedScratch: sharedScratch, sharedGradientColumns: sharedGradientColumns)
    }

    var weight: Matrix { stored.weight }

    /// PyTorch's default over all nine taps (fan-in C·9, as the reference), then the masked ones zeroed.
    func initialize(using rng: inout RandomGenerator) {
        stored.initialize(fanIn: stored.weight.columns, using: &rng)
        let w = stored.weight.pointer, kept = Set(Self.keptTaps)
        for i in 0..<stored.weight.count where !kept.contains(i % 9) { w[i] = 0 }
    }

    func reserve(batchSize: Int) { convolution.reserve(batchSize: batchSize) }

    func forward(_ x: Matrix) -> Matrix {
        let w = stored.weight.pointer, p = packed.pointer, kept = Self.keptTaps
        for kernel in 0..<(stored.weight.count / 9) {
            for (j, tap) in kept.enumerated() { p[kernel * kept.count + j] = w[kernel * 9 + tap] }
        }
        return convolution.forward(x)
    }

    @discardableResult
    func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        dPacked.fill(0)
        let dx = convolution.backward(dy, inputGradient: inputGradient)
        let dw = stored.dWeight.pointer, dp = dPacked.pointer, kept = Self.keptTaps
        for kernel in 0..<(stored.dWeight.count / 9) {
            for (j, tap) in kept.enumerated() { dw[kernel * 9 + tap] += dp[kernel * kept.count + j] }
        }
        return dx
    }
}

/// The first, type-A masked convolution of a PixelCNN, over one-hot codes.
/// A one-hot input makes the convolution a sum of weight columns: output
/// position i gets, for each unmasked tap t whose source s lies inside the
/// grid, W[:, c_s, t], so no (K·49)-long patches are built. The taps kept
/// are the rows above the centre and the centre row's left half (24 of 49
/// for k = 7).
final class CodeConvolution {
    let kernel: Int
    let codes: Int
    let channels: Int
    let height: Int
    let width: Int
    let parameters: WeightAndBias
    /// (dy, dx) of each unmasked tap from the output position, and its index ky·k + kx.
    let taps: [(dy: Int, dx: Int, index: Int)]
    /// The unmasked weights rearranged as (taps·K, C): a code's column is a row.
    private var gathered = Tensor(shape: [0])
    private var dGathered = Tensor(shape: [0])
    private var output = Tensor(shape: [0])
    private var grid: UnsafePointer<Int32>?
    private var rows = 0

    init(name: String, store: ParameterStore, codes: Int, channels: Int, kernel: Int, height: Int, width: Int) {
        self.kernel = kernel
        self.codes = codes
        self.channels = channels
        self.height = height
        self.width = width
        parameters = WeightAndBias(name: name, store: store, rows: channels)
        let k = kernel, centre = k / 2
        var taps: [(dy: Int, dx: Int, index: Int)] = []
        for ky in 0..<k {
            for kx in 0..<k where ky < centre || (ky == centre && kx < centre) {
                taps.append((dy: ky - centre, dx: kx - centre, index: ky * k + kx))
            }
        }
        self.taps = taps
        gathered = Tensor(shape: [taps.count * codes * channels])
        dGathered = Tensor(shape: [taps.count * codes * channels])
    }

    var positions: Int { height * width }

    /// U(−1/√fan_in, 1/√fan_in) over all K·k·k inputs as PyTorch, masked taps zeroed.
    func initialize(using rng: inout RandomGenerator) {
        parameters.initialize(fanIn: codes * kernel * kernel, using: &rng)
        let kept = Set(taps.map(\.index)), k2 = kernel * kernel
        for i in 0..<parameters.weight.count where !kept.contains(i % k2) { parameters.weight.pointer[i] = 0 }
    }

    func reserve(batchSize: Int) {
        if output.count < batchSize * channels * positions { output = Tensor(shape: [batchSize * channels * positions]) }
    }

    /// The image's code at (y, x) + the tap's offset, or nil outside the grid.
    @inline(__always)
    private func source(_ p: Int, _ tap: (dy: Int, dx: Int, index: Int)) -> Int? {
        let y = p / width + tap.dy, x = p % width + tap.dx
        return y >= 0 && y < height && x >= 0 && x < width ? y * width + x : nil
    }

    func forward(_ grid: UnsafePointer<Int32>, images: Int) -> Matrix {
        reserve(batchSize: images)
        self.grid = grid
        rows = images
        prepareWeights()
        let C = channels, P = positions, y = output.matrix(rows: images, columns: C * P)
        parallelRows(images, workPerRow: P * taps.count * C) { range in
            let sum = UnsafeMutablePointer<Float>.allocate(capacity: C)
            defer { sum.deallocate() }
            for b in range {
                for p in 0..<P {
                    outputAt(p, image: b, grid, into: sum)
                    let out = y.row(b)
                    for o in 0..<C { out[o * P + p] = sum[o] }
                }
            }
        }
        return y
    }

    /// The C outputs of image b at position p: the bias plus, for each tap
    /// inside the grid, the weight column of the code it sees.
    @inline(__always)
    private func outputAt(_ p: Int, image b: Int, _ grid: UnsafePointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        let C = channels, K = codes, P = positions, g = gathered.pointer, bias = parameters.bias.pointer
        for o in 0..<C { out[o] = bias[o] }
        for (t, tap) in taps.enumerated() {
            guard let s = source(p, tap) else { continue }
            let column = g + (t * K + Int(grid[b * P + s])) * C
            for o in 0..<C { out[o] += column[o] }
        }
    }

    /// The unmasked weights rearranged as (taps·K, C) in `gathered`.
    func prepareWeights() {
        let C = channels, K = codes, k2 = kernel * kernel, w = parameters.weight.pointer, g = gathered.pointer
        // Read in the stored order (each kernel's taps contiguous): with the
        // output channel outermost the writes of one o share cache lines with
        // the next o's, where reading across o would miss on every element.
        // The threads take runs of codes: their rows of `gathered` are their own.
        parallelRows(K, workPerRow: C * taps.count) { codeRange in
            for o in 0..<C {
                for c in codeRange {
                    let kernel = w + (o * K + c) * k2
                    for (t, tap) in taps.enumerated() { g[(t * K + c) * C + o] = kernel[tap.index] }
                }
            }
        }
    }

    /// The output at position p alone, (B, C) into `y`, summed in `forward`'s
    /// order (the same bits); `prepareWeights` first.
    func forward(at p: Int, _ grid: UnsafePointer<Int32>, images: Int, into y: Matrix) {
        for b in 0..<images { outputAt(p, image: b, grid, into: y.row(b)) }
    }

    /// Accumulates the weight and bias gradients from dL/dy (B, C·P); codes have no gradient.
    func backward(_ dy: Matrix) {
        guard let grid else { preconditionFailure("CodeConvolution.backward before forward") }
        let C = channels, K = codes, P = positions, k2 = kernel * kernel
        let dg = dGathered.pointer
        dGathered.fill(0)
        // Each tap's rows are its own: split the taps among the threads,
        // images in order within each. Each thread lays image b's dL/dy out
        // position-major first, so a position's C values are one contiguous
        // run (read channel-major they were P apart); each row still takes
        // its terms image by image, position by position.
        parallelRows(taps.count, workPerRow: rows * P * C) { range in
            let transposed = UnsafeMutablePointer<Float>.allocate(capacity: P * C)
            defer { transposed.deallocate() }
            for b in 0..<rows {
                let d = dy.row(b)
                for o in 0..<C {
                    for p in 0..<P { transposed[p * C + o] = d[o * P + p] }
                }
                for t in range {
                    let tap = taps[t]
                    for p in 0..<P {
                        guard let s = source(p, tap) else { continue }
                        let column = dg + (t * K + Int(grid[b * P + s])) * C, terms = transposed + p * C
                        for o in 0..<C { column[o] += terms[o] }
                    }
                }
            }
        }
        // Back to the stored layout, each output channel's kernels (contiguous) by one thread.
        let dw = parameters.dWeight.pointer
        parallelRows(C, workPerRow: K * taps.count) { outputs in
            for o in outputs {
                for c in 0..<K {
                    let kernel = dw + (o * K + c) * k2
                    for (t, tap) in taps.enumerated() { kernel[tap.index] += dg[(t * K + c) * C + o] }
                }
            }
        }
        parameters.accumulateChannelBiasGradient(dy, planeSize: P)
    }
}
