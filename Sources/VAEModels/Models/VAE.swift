import VAEEngine

/// A variational autoencoder (Kingma & Welling 2013) of either architecture:
///
///   encoder  x (B, 784) → features → [· | y] → hidden → heads → [μ | log σ²] (B, 2k)
///   sample   z = μ + σ · ε                                           (B, k)
///   decoder  [z | y] → … → logits (B, 784); the image is σ(logits)
///
/// For `mlp` the features are the pixels and hidden is 512 → 256 (ReLU or
/// tanh), mirrored by the decoder; `hidden: [400]` gives the classic 784-400-20.
/// For `conv` the features are two stride-2 convolutions (32, 64 channels,
/// flattened to 3136), hidden is one 256-wide layer, and the decoder is a
/// linear layer to 64x7x7 then two transposed convolutions.
///
/// A conditional VAE (Sohn et al. 2015; `classes` > 0) appends the one-hot
/// label y where shown, so q(z|x, y) and p(x|z, y): the label carries the
/// class and z the style. Without classes y is absent.
///
/// Parameters are named as PyTorch would name them (see `parameterSpecs`).
public final class VAE {
    public let configuration: VAEConfiguration
    public let parameters: ParameterStore
    let features: Network
    let encoderJoin: Concatenation
    let encoder: Network
    let heads: Linear
    let decoderJoin: Concatenation
    let decoder: Network
    let reparameterization = Reparameterization()
    let kl = GaussianKL()
    public let reconstruction: ReconstructionLoss
    private var means = Tensor(shape: [0])
    /// Buffers of the importance-weighted bound (VAE+ImportanceWeighted.swift).
    var importance = ImportanceBuffers()

    /// A model with all parameters zero; call `initialize(seed:)` or load a checkpoint.
    public init(configuration: VAEConfiguration) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        let store = ParameterStore(specs: configuration.parameterSpecs)
        parameters = store
        let layers = configuration.layers(over: store)
        features = layers.features
        encoder = layers.encoder
        heads = layers.heads
        decoder = layers.decoder
        encoderJoin = Concatenation(conditionSize: configuration.classes)
        decoderJoin = Concatenation(conditionSize: configuration.classes)
        reconstruction = ReconstructionLoss(likelihood: configuration.likelihood)
    }

    /// PyTorch's default initialisation of every layer, in forward order, from one seeded stream.
    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .initialisation)
        features.initialize(using: &rng)
        encoder.initialize(using: &rng)
        // The heads are two layers of fan-in `width`: one bound serves both.
        heads.initialize(using: &rng)
        decoder.initialize(using: &rng)
    }

    /// Sizes every buffer for batches of up to `batchSize` (once, outside the step).
    public func reserve(batchSize: Int) {
        for network in [features, encoder, decoder] { network.reserve(batchSize: batchSize) }
        heads.reserve(batchSize: batchSize)
        let c = configuration
        encoderJoin.reserve(batchSize: batchSize, inputSize: c.featureSize)
        decoderJoin.reserve(batchSize: batchSize, inputSize: c.latent)
        reparameterization.reserve(batchSize: batchSize, latent: c.latent)
        reconstruction.reserve(batchSize: batchSize, features: c.inputSize)
    }

    // MARK: forward

    /// q(z|x, y): x (B, 784) in [0, 1] → (B, 2k), each row [μ | log σ²].
    /// `condition` (B, classes) is the one-hot label of a conditional model, nil otherwise.
    public func encode(_ x: Matrix, condition: Matrix? = nil) -> Matrix {
        heads.forward(encoder.forward(encoderJoin.forward(features.forward(x), condition: condition)))
    }

    /// p(x|z, y): z (B, k) → logits (B, 784).
    public func decode(_ z: Matrix, condition: Matrix? = nil) -> Matrix {
        decoder.forward(decoderJoin.forward(z, condition: condition))
    }

    /// The decoder's Bernoulli means σ(logits) (B, 784): the images it draws.
    public func decodeMeans(_ z: Matrix, condition: Matrix? = nil) -> Matrix {
        let logits = decode(z, condition: condition)
        if means.count < logits.count { means = Tensor(shape: [logits.count]) }
        let out = means.matrix(rows: logits.rows, columns: logits.columns)
        parallelRows(logits.rows, workPerRow: logits.columns) { rows in   // exp-bound: worth both cores
            let start = rows.lowerBound * logits.columns
            mapLanes(logits.pointer + start, out.pointer + start, count: rows.count * logits.columns, sigmoid)
        }
        return out
    }

    /// The negative-ELBO terms of a batch x (B, 784) with noise ε (B, k) and,
    /// for a conditional model, labels (B, classes). Keeps what `backward` needs.
    public func forward(_ x: Matrix, condition: Matrix? = nil, noise eps: Matrix) -> ELBOTerms {
        let stats = encode(x, condition: condition)
        let z = reparameterization.forward(stats, eps: eps)
        let logits = decode(z, condition: condition)
        return ELBOTerms(reconstruction: reconstruction.forward(logits: logits, target: x),
                         kl: kl.forward(stats), count: x.rows)
    }

    /// Per-sample terms of the last `forward`: reconstruction and KL, each (B, 1).
    public var lastReconstructionPerSample: Matrix { reconstruction.perSample }
    public var lastKLPerSample: Matrix { kl.perSample }

    // MARK: backward (forward in reverse)

    /// Accumulates into `parameters.gradients` the gradient of
    /// Σ_batch [−log p(x|z) + β · KL], the loss of the last `forward`.
    public func backward(beta: Float) {
        let g = backwardDecoder(reconstruction.backward())
        let dStats = reparameterization.backward(g)
        kl.backward(into: dStats, weight: beta)
        backwardEncoder(dStats)
    }

    /// The decoder, in reverse, from dL/dlogits to dL/dz.
    func backwardDecoder(_ dLogits: Matrix) -> Matrix {
        decoderJoin.backward(decoder.backward(dLogits))
    }

    /// The heads and the encoder, in reverse, from dL/d[μ | log σ²].
    /// The first layer that sees data skips its input gradient.
    func backwardEncoder(_ dStats: Matrix) {
        let hasFeatures = !features.layers.isEmpty
        let g = heads.backward(dStats, inputGradient: hasFeatures || !encoder.layers.isEmpty)
        let dJoined = encoder.backward(g, inputGradient: hasFeatures)
        if hasFeatures { features.backward(encoderJoin.backward(dJoined), inputGradient: false) }
    }
}
