import VAEEngine

/// The variational autoencoder of Kingma & Welling (2013), of either architecture:
///
///   encoder  x (B, 784) → body → h → heads → q(z|x) = N(μ, σ²)     (B, k) each
///   sample   z = μ + σ · ε                                           (B, k)
///   decoder  [z | y] → … → logits (B, 784); the image is σ(logits)
///   prior    p(z) = N(0, I)
///
/// For `mlp` the body is the hidden layers 512 → 256 (ReLU or tanh),
/// mirrored by the decoder; `hidden: [400]` gives the classic 784-400-20.
/// For `conv` the body is two stride-2 convolutions (32, 64 channels,
/// flattened to 3136) and one 256-wide layer, and the decoder a linear layer
/// to 64x7x7 then two transposed convolutions.
///
/// A conditional VAE (Sohn et al. 2015; `classes` > 0) appends the one-hot
/// label y to the body's features and to z, so q(z|x, y) and p(x|z, y): the
/// label carries the class and z the style.
///
/// Its prior is N(0, I), or for a conditional model with a learned class
/// prior p(z|y) = N(μ_y, diag σ_y²), [μ_y | log σ_y²] = W y + b, one learned
/// Gaussian per class (Sohn et al.'s prior network p(z|condition), which for
/// a one-hot label is a table). With N(0, I), wherever z encodes some of the class (it sees x), a
/// draw for class y often lands where the encoder put other classes, and the
/// decoder draws one of those; a prior per class puts the draws where class
/// y's codes are. W and b start at zero: p(z|y) starts as N(0, I).
///
/// Its terms are the reconstruction −log p(x|z, y) and KL(q(z|x, y) ‖ p(z|y)).
/// Parameters are named as PyTorch would name them: the body's `encoder.*`,
/// the heads `mu.*` and `logvar.*`, then `decoder.*`.
public final class GaussianVAE: VariationalModel {
    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    let encoder: EncoderBody
    public let posterior: GaussianPosterior
    let decoder: DecoderBody
    /// p(z|y) when learned: a GaussianPosterior over the one-hot y.
    let classPrior: GaussianPosterior?
    public let likelihood: ReconstructionLoss
    /// An image's target and label, once per draw, when K > 1.
    private let repeatedConditions = RowRepeater()

    /// Every parameter in memory order (the order of a forward pass).
    public static func parameterSpecs(_ c: ModelConfiguration) -> [ParameterSpec] {
        c.encoderSpecs + GaussianPosterior.specs(inputSize: c.encoderOutputSize, latent: c.latent)
            + c.decoderSpecs(latentSize: c.latent)
            + (c.learnedClassPrior ? GaussianPosterior.specs(inputSize: c.classes, latent: c.latent, names: .combined("class_prior")) : [])
    }

    /// A model with all parameters zero; call `initialize(seed:)` or load a checkpoint.
    public init(configuration: ModelConfiguration) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        let store = ParameterStore(specs: Self.parameterSpecs(configuration))
        parameters = store
        encoder = configuration.encoderBody(over: store)
        posterior = GaussianPosterior(store: store)
        decoder = configuration.decoderBody(over: store)
        classPrior = configuration.learnedClassPrior ? GaussianPosterior(store: store, names: .combined("class_prior")) : nil
        likelihood = ReconstructionLoss(likelihood: configuration.likelihood)
    }

    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .initialisation)
        encoder.initialize(using: &rng)
        posterior.initialize(using: &rng)
        decoder.initialize(using: &rng)
        // The class prior's W and b stay zero: p(z|y) = N(0, I) at the start.
    }

    public func reserve(batchSize: Int) {
        let c = configuration
        encoder.reserve(batchSize: batchSize, featureSize: c.featureSize)
        posterior.reserve(rows: batchSize)
        classPrior?.reserve(rows: batchSize)
        decoder.reserve(batchSize: batchSize, latentSize: c.latent)
        likelihood.reserve(batchSize: batchSize, features: c.inputSize)
    }

    // MARK: the objective

    public var noisePerDraw: Int { configuration.latent }

    public func lossTerms(_ estimate: DivergenceEstimate) -> [LossTerm] { [.reconstruction, .kl] }

    public func forward(_ batch: Batch, noise eps: Matrix, draws: Int, estimate: DivergenceEstimate, training: Bool) -> DrawTerms {
        let q = posterior.encode(encoder.forward(batch.input, condition: batch.condition))
        let z = posterior.draw(q, noise: eps, draws: draws)
        let condition = batch.condition.map { repeatedConditions.repeating($0, times: draws) }
        let logits = decoder.forward(z, condition: condition)
        _ = likelihood.forward(logits: logits, target: batch.target, draws: draws, gradient: training)
        let prior = classPrior.map { $0.encode(batch.condition!) }
        return DrawTerms(terms: lossTerms(estimate), values: [likelihood.perSample, posterior.divergence(estimate, from: prior)],
                         images: batch.count, draws: draws)
    }

    public func backward(drawWeights w: UnsafePointer<Float>?, beta: Float) {
        if let w { likelihood.scaleGradientRows(by: w) }
        let dz = decoder.backward(likelihood.backward())
        let images = posterior.lastEncoding?.rows ?? 0
        let dPrior = classPrior?.headGradients(rows: images)
        let dh = posterior.backward(dz, drawWeights: w, beta: beta, inputGradient: encoder.needsOutputGradient, priorGradient: dPrior)
        encoder.backward(dh)
        _ = classPrior?.backwardHeads(rows: images, inputGradient: false)
    }

    // MARK: using a trained model

    public var latentSize: Int { configuration.latent }
    public var hasGaussianPrior: Bool { true }

    public func encode(_ x: Matrix, condition: Matrix?) -> Encoding {
        let h = encoder.forward(x, condition: condition)
        let q = posterior.encode(h)
        return Encoding(layers: [q], point: q.mu, features: h)
    }

    public func decode(_ z: Matrix, condition: Matrix?) -> Matrix { decoder.forward(z, condition: condition) }

    public func decodeMeans(_ z: Matrix, condition: Matrix?) -> Matrix { likelihood.means(decode(z, condition: condition)) }

    public func drawPosterior(_ x: Matrix, condition: Matrix?, noise: Matrix, draws: Int) -> Matrix {
        posterior.draw(encode(x, condition: condition).layers[0], noise: noise, draws: draws)
    }

    /// z ~ N(0, I), or z ~ p(z|y) when learned.
    public func drawPrior(into z: Matrix, condition: Matrix?, rng: inout RandomGenerator) {
        rng.fillNormal(z.pointer, count: z.count)
        placeInPrior(z, condition: condition)
    }

    /// u → μ_y + σ_y ⊙ u, row by row, for a learned class prior.
    public func placeInPrior(_ u: Matrix, condition: Matrix?) {
        guard let classPrior, let condition else { return }
        precondition(condition.rows == u.rows && u.columns == latentSize, "one class per row of z")
        classPrior.reserve(rows: u.rows)
        let p = classPrior.encode(condition), k = latentSize
        for r in 0..<u.rows {
            let z = u.row(r), mu = p.mu.row(r), logVar = p.logVar.row(r)
            for j in 0..<k { z[j] = mu[j] + exp(0.5 * logVar[j]) * z[j] }
        }
    }
}
