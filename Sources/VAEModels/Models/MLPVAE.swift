import VAEEngine

/// The fully connected VAE (Kingma & Welling 2013, appendix C.2, with ReLU):
///
///   encoder  x (B, 784) → 512 → 256 (ReLU or tanh) → heads → [μ | log σ²] (B, 2k)
///   sample   z = μ + σ · ε                                     (B, k)
///   decoder  z → 256 → 512 (ReLU) → 784 logits; the image is σ(logits)
///
/// `hidden: [400]` gives the classic 784-400-20 model. Parameters are named as
/// PyTorch would name them (`encoder.0.weight`, `mu.bias`, `decoder.2.weight`):
/// Linear layers numbered in order, the last decoder layer being the output.
/// In memory, `mu.weight` and `logvar.weight` (then the two biases) are adjacent,
/// so the two heads run as one (2k × 256) product.
public final class MLPVAE {
    public let configuration: VAEConfiguration
    public let parameters: ParameterStore
    let encoder: [Linear]
    let encoderActivations: [Activation]
    let heads: Linear
    let decoder: [Linear]
    let decoderActivations: [Activation]
    let reparameterization = Reparameterization()
    let kl = GaussianKL()
    public let reconstruction: ReconstructionLoss
    private var means = Tensor(shape: [0])
    /// Buffers of the importance-weighted bound (MLPVAE+ImportanceWeighted.swift).
    var importance = ImportanceBuffers()

    public static func parameterSpecs(_ c: VAEConfiguration) -> [ParameterSpec] {
        var specs: [ParameterSpec] = []
        var width = c.inputSize
        for (i, h) in c.hidden.enumerated() {
            specs += Linear.specs(name: "encoder.\(i)", inputSize: width, outputSize: h)
            width = h
        }
        specs += [ParameterSpec(name: "mu.weight", shape: [c.latent, width]),
                  ParameterSpec(name: "logvar.weight", shape: [c.latent, width]),
                  ParameterSpec(name: "mu.bias", shape: [c.latent]),
                  ParameterSpec(name: "logvar.bias", shape: [c.latent])]
        let decoderWidths = Array(c.hidden.reversed()) + [c.inputSize]
        width = c.latent
        for (i, h) in decoderWidths.enumerated() {
            specs += Linear.specs(name: "decoder.\(i)", inputSize: width, outputSize: h)
            width = h
        }
        return specs
    }

    /// A model with all parameters zero; call `initialize(seed:)` or load a checkpoint.
    public init(configuration: VAEConfiguration) {
        precondition(configuration.latent > 0 && configuration.inputSize > 0)
        precondition(configuration.hidden.allSatisfy { $0 > 0 })
        self.configuration = configuration
        let store = ParameterStore(specs: Self.parameterSpecs(configuration))
        parameters = store
        encoder = configuration.hidden.indices.map { Linear(name: "encoder.\($0)", store: store) }
        encoderActivations = encoder.map { _ in Activation(configuration.activation) }
        heads = Linear(WeightAndBias(weight: store.values("mu.weight", "logvar.weight"),
                                     bias: store.values("mu.bias", "logvar.bias"),
                                     dWeight: store.gradients("mu.weight", "logvar.weight"),
                                     dBias: store.gradients("mu.bias", "logvar.bias")))
        decoder = (0...configuration.hidden.count).map { Linear(name: "decoder.\($0)", store: store) }
        decoderActivations = configuration.hidden.map { _ in Activation(configuration.activation) }
        reconstruction = ReconstructionLoss(likelihood: configuration.likelihood)
    }

    /// PyTorch's default initialisation of every layer, from one seeded stream.
    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .initialisation)
        for layer in encoder { layer.initialize(using: &rng) }
        // The heads are two layers of fan-in `width`: one bound serves both.
        heads.initialize(using: &rng)
        for layer in decoder { layer.initialize(using: &rng) }
    }

    /// Sizes every buffer for batches of up to `batchSize` (once, outside the step).
    public func reserve(batchSize: Int) {
        for layer in encoder + [heads] + decoder { layer.reserve(batchSize: batchSize) }
        reparameterization.reserve(batchSize: batchSize, latent: configuration.latent)
        reconstruction.reserve(batchSize: batchSize, features: configuration.inputSize)
    }

    // MARK: forward

    /// q(z|x): x (B, 784) in [0, 1] → (B, 2k), each row [μ | log σ²].
    public func encode(_ x: Matrix) -> Matrix {
        var h = x
        for (layer, activation) in zip(encoder, encoderActivations) {
            h = activation.forward(layer.forward(h))
        }
        return heads.forward(h)
    }

    /// p(x|z): z (B, k) → logits (B, 784).
    public func decode(_ z: Matrix) -> Matrix {
        var h = z
        for (layer, activation) in zip(decoder, decoderActivations) {
            h = activation.forward(layer.forward(h))
        }
        return decoder[decoder.count - 1].forward(h)
    }

    /// The decoder's Bernoulli means σ(logits) (B, 784): the images it draws.
    public func decodeMeans(_ z: Matrix) -> Matrix {
        let logits = decode(z)
        if means.count < logits.count { means = Tensor(shape: [logits.count]) }
        let out = means.matrix(rows: logits.rows, columns: logits.columns)
        for i in 0..<logits.count { out.pointer[i] = sigmoid(logits.pointer[i]) }
        return out
    }

    /// The negative-ELBO terms of a batch x (B, 784) with noise ε (B, k).
    /// Keeps what `backward` needs.
    public func forward(_ x: Matrix, noise eps: Matrix) -> ELBOTerms {
        let stats = encode(x)
        let z = reparameterization.forward(stats, eps: eps)
        let logits = decode(z)
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
        var g = decoder[decoder.count - 1].backward(dLogits)
        for (layer, activation) in zip(decoder, decoderActivations).reversed() {
            g = layer.backward(activation.backward(g))
        }
        return g
    }

    /// The heads and the encoder, in reverse, from dL/d[μ | log σ²].
    func backwardEncoder(_ dStats: Matrix) {
        var g = heads.backward(dStats, inputGradient: !encoder.isEmpty)
        for (i, (layer, activation)) in zip(encoder, encoderActivations).enumerated().reversed() {
            g = layer.backward(activation.backward(g), inputGradient: i > 0)
        }
    }
}
