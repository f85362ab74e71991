/// Everything that fixes a model's shape and objective; written to and read
/// from a checkpoint's metadata.
public struct VAEConfiguration: Equatable, Sendable {
    /// Pixels per image (28 × 28 for MNIST).
    public var inputSize: Int
    /// Widths of the encoder's hidden layers; the decoder mirrors them.
    public var hidden: [Int]
    /// Dimensions of z.
    public var latent: Int
    public var likelihood: ReconstructionLikelihood
    /// The hidden layers' nonlinearity (the IWAE paper's models use tanh).
    public var activation: ActivationKind

    public init(inputSize: Int = 784, hidden: [Int] = [512, 256], latent: Int = 20,
                likelihood: ReconstructionLikelihood = .bernoulli, activation: ActivationKind = .relu) {
        self.inputSize = inputSize
        self.hidden = hidden
        self.latent = latent
        self.likelihood = likelihood
        self.activation = activation
    }

    /// The architecture's name in checkpoints and reports.
    public var arch: String { "mlp" }
}

/// The terms of the objective summed over `count` samples (Kingma & Welling 2013, eq. 3):
///
///   −ELBO(x) = E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)),
///
/// the expectation estimated with one draw of z. Training minimises
/// reconstruction + β · KL (β = 1 is the VAE, β > 1 the β-VAE of Higgins et al. 2017).
public struct ELBOTerms: Equatable, Sendable {
    public var reconstruction: Double
    public var kl: Double
    public var count: Int

    public init(reconstruction: Double = 0, kl: Double = 0, count: Int = 0) {
        self.reconstruction = reconstruction
        self.kl = kl
        self.count = count
    }

    public static func + (a: ELBOTerms, b: ELBOTerms) -> ELBOTerms {
        ELBOTerms(reconstruction: a.reconstruction + b.reconstruction, kl: a.kl + b.kl, count: a.count + b.count)
    }

    /// The training loss, reconstruction + β·KL, summed.
    public func loss(beta: Double) -> Double { reconstruction + beta * kl }

    /// Per-sample figures, as reported (the negative ELBO uses β = 1).
    public var reconstructionPerSample: Double { reconstruction / Double(max(count, 1)) }
    public var klPerSample: Double { kl / Double(max(count, 1)) }
    public var negativeELBOPerSample: Double { (reconstruction + kl) / Double(max(count, 1)) }
}
