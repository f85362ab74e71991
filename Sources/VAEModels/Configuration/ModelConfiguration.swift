/// Everything that fixes a model's shape and its terms: what a checkpoint
/// records of the model (`metadata`, ModelConfiguration+Metadata.swift), and
/// all `ModelFamily.makeModel` needs.
public struct ModelConfiguration: Equatable, Sendable {
    public var family: ModelFamily
    public var architecture: Architecture
    /// Pixels per image (28 × 28 for MNIST). The conv architecture needs a
    /// square image whose side is a multiple of 4.
    public var inputSize: Int
    /// Widths of the encoder's hidden fully connected layers; the decoder
    /// mirrors them. The conv architecture has exactly one (256 by default).
    public var hidden: [Int]
    /// Dimensions of z.
    public var latent: Int
    public var likelihood: ReconstructionLikelihood
    /// The hidden layers' nonlinearity (the IWAE paper's models use tanh).
    public var activation: ActivationKind
    /// Classes of a conditional VAE, whose encoder and decoder both see the
    /// one-hot label; 0 for an unconditional model.
    public var classes: Int

    public init(family: ModelFamily = .gaussian, architecture: Architecture = .mlp, inputSize: Int = 784,
                hidden: [Int] = [512, 256], latent: Int = 20, likelihood: ReconstructionLikelihood = .bernoulli,
                activation: ActivationKind = .relu, classes: Int = 0) {
        self.family = family
        self.architecture = architecture
        self.inputSize = inputSize
        self.hidden = hidden
        self.latent = latent
        self.likelihood = likelihood
        self.activation = activation
        self.classes = classes
    }

    /// The architecture's name in checkpoints and reports.
    public var arch: String { architecture.rawValue }

    public var isConditional: Bool { classes > 0 }

    /// The side of a square input image, if it is one.
    public var imageSide: Int? {
        let side = Int(Double(inputSize).squareRoot().rounded())
        return side * side == inputSize ? side : nil
    }

    /// Why this configuration cannot be built, or nil when it can.
    public var problem: String? {
        if latent < 1 || inputSize < 1 || classes < 0 { return "latent, input size and classes must be positive" }
        if hidden.contains(where: { $0 < 1 }) { return "hidden widths must be positive" }
        guard architecture == .conv else { return nil }
        guard let side = imageSide, side % 4 == 0 else {
            return "the conv architecture needs square images with a side divisible by 4, not \(inputSize) pixels"
        }
        if hidden.count != 1 { return "the conv architecture has one hidden fully connected layer, not \(hidden.count)" }
        return nil
    }

    /// "mlp 784-512-256-20", "conv 28x28-c32-c64-256-20", with " conditional on 10 classes" when conditional.
    public var summary: String {
        let body: String
        switch architecture {
        case .mlp: body = ([inputSize] + hidden + [latent]).map(String.init).joined(separator: "-")
        case .conv:
            let side = imageSide ?? 0
            body = (["\(side)x\(side)", "c32", "c64"] + (hidden + [latent]).map(String.init)).joined(separator: "-")
        }
        return family.summaryPrefix + "\(arch) \(body)" + (isConditional ? " conditional on \(classes) classes" : "")
    }

    /// Every parameter the model has, in memory order, checked before any is allocated.
    public var parameterSpecs: [ParameterSpec] { family.parameterSpecs(self) }
}
