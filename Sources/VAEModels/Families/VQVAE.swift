import VAEEngine

/// The VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017), as
/// ../shared/reference/torch_families.py's `vq`:
///
///   encoder  x → 3x3 stride-2 convolutions (32, 64 channels) with ReLU → 1x1 to D
///            → z_e, a grid of D-vectors (7x7 for 28x28)
///   quantise z_q = the nearest of K codes at each position (`VectorQuantiser`)
///   decoder  z_q → 3x3 stride-2 transposed convolutions (64, 32) with ReLU
///            → 3x3 convolution to the image's channels → logits
///   prior    uniform while the autoencoder trains; then a PixelCNN over the
///            codes (`vae train-prior`), stored in the same checkpoint
///
/// Its terms are the reconstruction −log p(x|z_q) and the codebook distance
/// d = Σ‖z_e − z_q‖² with weight 1 + β (codebook and commitment losses), or β
/// with a moving-average codebook. d is not part of a bound: with the prior
/// p(c), −log p(x) ≤ −log p(x|z_q) − log p(c) (the codes' one-hot posterior
/// has no entropy), which `bound` computes once there is a prior.
///
/// z, for the commands that work in latent space (interpolation, latent
/// arithmetic), is the encoder's continuous output z_e, flattened channel by
/// channel (D·H·W values); `decode` quantises whatever z it is given.
/// Parameters: `enc.0`, `enc.2`, … (convolutions), `codebook.weight`,
/// `dec.0`, `dec.2`, … (transposed convolutions, then the last
/// convolution), then the prior's under `prior.`.
public final class VQVAE: VariationalModel {
    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    let encoder: Network
    public let quantiser: VectorQuantiser
    let decoder: Network
    public let likelihood: ReconstructionLoss
    /// The PixelCNN over codes, once trained.
    public let prior: PixelCNN?
    /// Sampling temperature T of the prior: logits / T (`vae sample --temperature`).
    public var temperature: Float = 1
    private var completions = Tensor(shape: [0])
    /// z_q once per draw, when more than one is asked for.
    private let repeatedCodes = RowRepeater()

    var quantisation: Quantiser { configuration.quantiser! }

    /// The code grid's height and width: the last conv stage's.
    public var grid: (height: Int, width: Int) {
        let last = configuration.convStages.last!
        return (last.height, last.width)
    }

    public var positions: Int { grid.height * grid.width }

    /// The term d with its weight in the loss.
    public static func distanceTerm(_ q: Quantiser) -> LossTerm {
        LossTerm(name: "commitment", label: "commit", phrase: "codebook distance",
                 role: .penalty(weight: q.emaDecay == nil ? 1 + q.commitment : q.commitment))
    }

    public static func parameterSpecs(_ c: ModelConfiguration) -> [ParameterSpec] {
        let q = c.quantiser!, stages = c.convStages, n = stages.count - 1
        var specs: [ParameterSpec] = []
        for i in 0..<n {
            specs += Conv2d.specs(name: "enc.\(2 * i)", inChannels: stages[i].channels, outChannels: stages[i + 1].channels, kernel: 3)
        }
        specs += Conv2d.specs(name: "enc.\(2 * n)", inChannels: stages[n].channels, outChannels: q.dimensions, kernel: 1)
        specs += VectorQuantiser.specs(codes: q.codes, dimensions: q.dimensions, movingAverage: q.emaDecay != nil)
        let channels = [q.dimensions] + stages.dropFirst().reversed().map(\.channels)
        for j in 0..<n {
            specs += ConvTranspose2d.specs(name: "dec.\(2 * j)", inChannels: channels[j], outChannels: channels[j + 1], kernel: 3)
        }
        specs += Conv2d.specs(name: "dec.\(2 * n)", inChannels: channels[n], outChannels: c.shape.channels, kernel: 3)
        if let prior = c.codePrior { specs += PixelCNN.specs(prefix: "prior", codes: q.codes, shape: prior, classes: c.classes) }
        return specs
    }

    public init(configuration: ModelConfiguration) {
        precondition(configuration.problem == nil && configuration.family == .vq, configuration.problem ?? "")
        self.configuration = configuration
        let c = configuration, q = c.quantiser!, store = ParameterStore(specs: Self.parameterSpecs(c))
        parameters = store
        let stages = c.convStages, n = stages.count - 1, last = stages[n]
        // The layers run one at a time: one buffer holds the columns each needs only within a pass.
        let transient = SharedBuffer()
        var layers: [any Layer] = []
        for i in 0..<n {
            let s = stages[i]
            layers += [Conv2d(name: "enc.\(2 * i)", store: store,
                              geometry: ConvolutionGeometry(channels: s.channels, height: s.height, width: s.width, kernel: 3, stride: 2, padding: 1),
                              sharedGradientColumns: transient),
                       ReLU()]
        }
        layers.append(Conv2d(name: "enc.\(2 * n)", store: store,
                             geometry: ConvolutionGeometry(channels: last.channels, height: last.height, width: last.width,
                                                           kernel: 1, stride: 1, padding: 0),
                             sharedGradientColumns: transient))
        encoder = Network(layers)
        quantiser = VectorQuantiser(store: store, positions: last.height * last.width, commitment: Float(q.commitment),
                                    emaDecay: q.emaDecay.map(Float.init))
        // Each transposed convolution gives back one stage's size: 7 → 14 → 28.
        let up = Array(stages.reversed())
        var inChannels = q.dimensions
        layers = []
        for (j, (from, to)) in zip(up, up.dropFirst()).enumerated() {
            let outChannels = from.channels
            layers += [ConvTranspose2d(name: "dec.\(2 * j)", store: store, inChannels: inChannels, outChannels: outChannels,
                                       height: from.height, width: from.width, kernel: 3, stride: 2, padding: 1,
                                       outputPadding: (to.height - (2 * from.height - 1), to.width - (2 * from.width - 1)),
                                       sharedColumns: transient),
                       ReLU()]
            inChannels = outChannels
        }
        layers.append(Conv2d(name: "dec.\(2 * n)", store: store,
                             geometry: ConvolutionGeometry(channels: inChannels, height: c.shape.height, width: c.shape.width,
                                                           kernel: 3, stride: 1, padding: 1)))
        decoder = Network(layers)
        likelihood = ReconstructionLoss(likelihood: c.likelihood)
        prior = c.codePrior.map {
            PixelCNN(store: store, prefix: "prior", codes: q.codes, shape: $0, height: last.height, width: last.width, classes: c.classes)
        }
    }

    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .initialisation)
        encoder.initialize(using: &rng)
        quantiser.initialize(using: &rng)
        decoder.initialize(using: &rng)
        prior?.initialize(using: &rng)
    }

    /// The prior's parameters alone, initialised from their own stream (`vae train-prior`).
    public func initializePrior(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .priorInitialisation)
        prior?.initialize(using: &rng)
    }

    /// Where the prior's parameters start in the store (they come last).
    public var priorParameterRange: Range<Int> {
        guard prior != nil, let first = parameters.slots.first(where: { $0.spec.name.hasPrefix("prior.") }) else {
            return parameters.count..<parameters.count
        }
        return first.offset..<parameters.count
    }

    public func reserve(batchSize: Int) {
        encoder.reserve(batchSize: batchSize)
        quantiser.reserve(rows: batchSize)
        decoder.reserve(batchSize: batchSize)
        likelihood.reserve(batchSize: batchSize, features: configuration.inputSize)
    }

    // MARK: the objective

    public var noisePerDraw: Int { 0 }

    public func lossTerms(_ estimate: DivergenceEstimate) -> [LossTerm] { [.reconstruction, Self.distanceTerm(quantisation)] }

    public func forward(_ batch: Batch, noise: Matrix, draws: Int, estimate: DivergenceEstimate, training: Bool) -> DrawTerms {
        precondition(draws == 1, "a VQ-VAE draws nothing from its posterior")
        let zq = quantiser.quantise(encoder.forward(batch.input))
        _ = likelihood.forward(logits: decoder.forward(zq), target: batch.target, draws: 1, gradient: training)
        return DrawTerms(terms: lossTerms(estimate), values: [likelihood.perSample, quantiser.perImage], images: batch.count, draws: 1)
    }

    public func backward(drawWeights w: UnsafePointer<Float>?, beta: Float) {
        if let w { likelihood.scaleGradientRows(by: w) }
        let dzq = decoder.backward(likelihood.backward())
        encoder.backward(quantiser.backward(dzq, termWeights: w), inputGradient: false)
    }

    // MARK: using a trained model

    public var latentSize: Int { quantisation.dimensions * positions }
    public var hasGaussianPrior: Bool { false }

    public var priorProblem: String? {
        prior == nil ? "it has no prior over its codes yet: train one with `vae train-prior`" : nil
    }

    /// z_e for `point` (D·H·W per image), and the codes it quantises to.
    public func encode(_ x: Matrix, condition: Matrix?) -> Encoding {
        let ze = encoder.forward(x)
        _ = quantiser.quantise(ze)
        return Encoding(layers: [], point: ColumnSlice(ze, columns: 0..<ze.columns), codes: Array(quantiser.lastCodes))
    }

    public func decode(_ z: Matrix, condition: Matrix?) -> Matrix { decoder.forward(quantiser.quantise(z)) }

    public func decodeMeans(_ z: Matrix, condition: Matrix?) -> Matrix { likelihood.means(decode(z, condition: condition)) }

    /// The posterior is one code per position: every draw is z_q.
    public func drawPosterior(_ x: Matrix, condition: Matrix?, noise: Matrix, draws: Int) -> Matrix {
        let zq = quantiser.quantise(encoder.forward(x))
        guard draws > 1 else { return zq }
        return repeatedCodes.repeating(zq, times: draws)
    }

    /// Codes drawn from the PixelCNN (at `temperature`), as their code
    /// vectors; 64 grids at a time, so memory does not grow with the count.
    public func drawPrior(into z: Matrix, condition: Matrix?, rng: inout RandomGenerator) {
        guard let prior else { preconditionFailure("drawPrior without a prior: ask priorProblem first") }
        let chunk = 64
        let labels = condition.map(Self.labels(of:))
        for lower in stride(from: 0, to: z.rows, by: chunk) {
            let count = min(chunk, z.rows - lower)
            let codes = prior.sample(count: count, temperature: temperature, rng: &rng, labels: labels.map { Array($0[lower..<(lower + count)]) })
            codes.withUnsafeBufferPointer { quantiser.embed($0.baseAddress!, images: count, into: Matrix(z.row(lower), rows: count, columns: z.columns)) }
        }
    }

    /// The class of each one-hot row.
    public static func labels(of condition: Matrix) -> [Int32] {
        (0..<condition.rows).map { r in
            let row = condition.row(r)
            return Int32((0..<condition.columns).max { row[$0] < row[$1] } ?? 0)
        }
    }

    /// `draws` completions per image (B·draws, latentSize), as code vectors:
    /// the image's codes in its first `keptRows` rows of the grid kept, the
    /// rest drawn from the prior given them (raster order), and given the
    /// image's class (`condition`) if the prior is conditional.
    public func drawCompletions(of x: Matrix, condition: Matrix?, keptRows: Int, draws: Int, rng: inout RandomGenerator) -> Matrix {
        guard let prior else { preconditionFailure("completions without a prior: ask priorProblem first") }
        let codes = encode(x, condition: nil).codes!, P = positions
        var given = [Int32]()
        given.reserveCapacity(x.rows * draws * P)
        for b in 0..<x.rows {
            for _ in 0..<draws { given += codes[(b * P)..<((b + 1) * P)] }
        }
        let labels = condition.map { Self.labels(of: $0).flatMap { Array(repeating: $0, count: draws) } }
        let grids = prior.sample(count: x.rows * draws, temperature: temperature, rng: &rng, given: given,
                                 kept: min(P, keptRows * grid.width), labels: labels)
        if completions.count < x.rows * draws * latentSize { completions = Tensor(shape: [x.rows * draws * latentSize]) }
        let zq = completions.matrix(rows: x.rows * draws, columns: latentSize)
        grids.withUnsafeBufferPointer { quantiser.embed($0.baseAddress!, images: zq.rows, into: zq) }
        return zq
    }

    // MARK: the discrete model's bound

    /// Per image, −log p(x|z_q) and −log p(c) in nats (the prior's cross-entropy
    /// summed over the grid), whose sum bounds −log p(x); x (B, D) in [0, 1].
    public func bound(_ x: Matrix, condition: Matrix?) -> (reconstruction: [Double], prior: [Double]) {
        let reconstruction = bound(reconstructionOnly: x)
        return (reconstruction, priorNegativeLogLikelihood(Array(quantiser.lastCodes), images: x.rows, labels: condition.map(Self.labels(of:))))
    }

    /// −log p(x|z_q) per image (nats), needing no prior.
    public func bound(reconstructionOnly x: Matrix) -> [Double] {
        let zq = quantiser.quantise(encoder.forward(x))
        _ = likelihood.forward(logits: decoder.forward(zq), target: x, draws: 1, gradient: false)
        return (0..<x.rows).map { Double(likelihood.perSample.pointer[$0]) }
    }

    /// −log p(c) (or −log p(c | y), given each image's class) per image under
    /// the PixelCNN, in nats, for grids of codes (images·P).
    public func priorNegativeLogLikelihood(_ codes: [Int32], images: Int, labels: [Int32]? = nil) -> [Double] {
        guard let prior else { preconditionFailure("a prior's likelihood without a prior: ask priorProblem first") }
        precondition(codes.count == images * positions)
        var nats = [Double](repeating: 0, count: images)
        prior.reserve(batchSize: images)
        codes.withUnsafeBufferPointer { grid in
            let logits = prior.forward(grid.baseAddress!, images: images, labels: labels)
            nats.withUnsafeMutableBufferPointer { prior.crossEntropy(logits, codes: grid.baseAddress!, perImage: $0.baseAddress!) }
        }
        return nats
    }
}
