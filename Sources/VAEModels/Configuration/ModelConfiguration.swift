import VAEData

/// Everything that fixes a model's shape and its terms: what a checkpoint
/// records of the model (`metadata`, ModelConfiguration+Metadata.swift), and
/// all `ModelFamily.makeModel` needs.
public struct ModelConfiguration: Equatable, Sendable {
    public var family: ModelFamily
    public var architecture: Architecture
    /// The images it takes and draws: channels × height × width.
    public var shape: ImageShape
    /// The conv architecture's stages: one stride-2 3x3 convolution per entry,
    /// with that many channels (`--conv-channels`).
    public var convChannels: [Int]
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
    /// A conditional model's prior p(z|y) = N(μ_y, diag σ_y²), learned per
    /// class, instead of N(0, I) whatever the class (`--class-prior`).
    public var learnedClassPrior: Bool
    /// The hierarchical family's second stochastic layer: its size, and the
    /// hidden widths of q(z2|z1) (p(z1|z2) mirrors them).
    public var upperLayer: UpperLayer?
    /// The flow family's steps after the Gaussian posterior.
    public var flow: Flow?
    /// The VQ family's codebook (`--vq K --code-dim D`).
    public var quantiser: Quantiser?
    /// The VQ family's PixelCNN over the code grid, once `vae train-prior` has added it.
    public var codePrior: CodePrior?

    public init(family: ModelFamily = .gaussian, architecture: Architecture = .mlp, shape: ImageShape = .mnist,
                hidden: [Int] = [512, 256], latent: Int = 20, likelihood: ReconstructionLikelihood = .bernoulli,
                activation: ActivationKind = .relu, classes: Int = 0, convChannels: [Int] = ModelConfiguration.defaultConvChannels,
                upperLayer: UpperLayer? = nil, flow: Flow? = nil, quantiser: Quantiser? = nil, codePrior: CodePrior? = nil,
                learnedClassPrior: Bool = false) {
        self.family = family
        self.learnedClassPrior = learnedClassPrior
        self.quantiser = quantiser
        self.codePrior = codePrior
        self.architecture = architecture
        self.shape = shape
        self.convChannels = convChannels
        self.upperLayer = upperLayer
        self.flow = flow
        self.hidden = hidden
        self.latent = latent
        self.likelihood = likelihood
        self.activation = activation
        self.classes = classes
    }

    public static let defaultConvChannels = [32, 64]

    /// The architecture's name in checkpoints and reports.
    public var arch: String { architecture.rawValue }

    public var isConditional: Bool { classes > 0 }

    /// Values per image, C·H·W: the mlp's input width.
    public var inputSize: Int { shape.values }

    /// Why this configuration cannot be built, or nil when it can.
    public var problem: String? {
        if latent < 1 || classes < 0 { return "latent and classes must be positive" }
        if let problem = shape.problem { return problem }
        if hidden.contains(where: { $0 < 1 }) { return "hidden widths must be positive" }
        if let problem = family.problem(self) { return problem }
        if learnedClassPrior && (!isConditional || family != .gaussian) {
            return "a learned class prior goes with a conditional one-layer Gaussian VAE"
        }
        guard architecture == .conv, family != .vq else { return nil }
        if hidden.count != 1 { return "the conv architecture has one hidden fully connected layer, not \(hidden.count)" }
        guard (1...6).contains(convChannels.count), convChannels.allSatisfy({ (1...1024).contains($0) }) else {
            return "the conv architecture has 1 to 6 stages of 1...1024 channels, not \(convChannels)"
        }
        return nil
    }

    /// "mlp 784-512-256-20", "conv 28x28-c32-c64-256-20" ("32x32x3" for
    /// colour), with " conditional on 10 classes" when conditional.
    public var summary: String {
        let body: String
        switch architecture {
        case .mlp: body = ([inputSize] + hidden + [latent]).map(String.init).joined(separator: "-")
        case .conv:
            let image = "\(shape.height)x\(shape.width)" + (shape.channels == 1 ? "" : "x\(shape.channels)")
            let bottleneck = family == .vq ? [] : (hidden + [latent]).map(String.init)
            body = ([image] + convChannels.map { "c\($0)" } + bottleneck).joined(separator: "-")
        }
        return "\(arch) \(body)" + family.summarySuffix(self) + (isConditional ? " conditional on \(classes) classes" : "")
            + (learnedClassPrior ? " with a learned prior p(z|class)" : "")
    }

    /// Every parameter the model has, in memory order, checked before any is allocated.
    public var parameterSpecs: [ParameterSpec] { family.parameterSpecs(self) }
}

/// A conditional Gaussian VAE's prior over z (`--class-prior`).
public enum ClassPrior: String, CaseIterable, Sendable {
    /// p(z|y) = N(μ_y, diag σ_y²), learned per class.
    case learned
    /// p(z|y) = N(0, I) whatever the class (the usual conditional VAE's prior).
    case standard
}

/// A second stochastic layer (Burda et al. 2015, §5): z2 of `latent`
/// dimensions, q(z2|z1) through hidden layers of `hidden` widths and p(z1|z2)
/// through the same widths reversed.
public struct UpperLayer: Equatable, Sendable {
    public var latent: Int
    public var hidden: [Int]

    public init(latent: Int, hidden: [Int]) {
        self.latent = latent
        self.hidden = hidden
    }
}

/// Normalising-flow steps after a Gaussian posterior (`--flow`).
public enum Flow: Equatable, Sendable {
    /// Planar flows (Rezende & Mohamed 2015), their parameters from the encoder.
    case planar(steps: Int)
    /// Inverse autoregressive flows (Kingma et al. 2016): MADE steps with the encoder's context.
    case iaf(steps: Int)

    public var steps: Int {
        switch self {
        case .planar(let k), .iaf(let k): k
        }
    }

    /// "planar:10", "iaf:4" (1 to 64 steps), or nil.
    public init?(spec: String) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[1]), (1...64).contains(k) else { return nil }
        switch parts[0] {
        case "planar": self = .planar(steps: k)
        case "iaf": self = .iaf(steps: k)
        default: return nil
        }
    }

    public var spec: String {
        switch self {
        case .planar(let k): "planar:\(k)"
        case .iaf(let k): "iaf:\(k)"
        }
    }
}


/// A VQ-VAE's codebook (van den Oord, Vinyals & Kavukcuoglu 2017): `codes`
/// vectors of `dimensions` values; the encoder's output at each grid
/// position is replaced by its nearest code.
public struct Quantiser: Equatable, Sendable {
    /// K, the codebook's size.
    public var codes: Int
    /// D, each code's length: the encoder's channels at the grid.
    public var dimensions: Int
    /// β of the commitment loss β‖z_e − sg(z_q)‖² (the paper's 0.25).
    public var commitment: Double
    /// With a decay γ, the codebook follows exponential moving averages of
    /// the vectors assigned to each code (the paper's Appendix A.1) instead
    /// of the codebook loss's gradient.
    public var emaDecay: Double?

    public init(codes: Int = 128, dimensions: Int = 16, commitment: Double = 0.25, emaDecay: Double? = nil) {
        self.codes = codes
        self.dimensions = dimensions
        self.commitment = commitment
        self.emaDecay = emaDecay
    }

    /// Why these values make no codebook, or nil.
    public var problem: String? {
        if !(2...4096).contains(codes) { return "the codebook has 2...4096 codes, not \(codes)" }
        if !(1...1024).contains(dimensions) { return "codes have 1...1024 dimensions, not \(dimensions)" }
        if !(commitment.isFinite && commitment >= 0 && commitment <= 100) { return "the commitment weight must be in 0...100, not \(commitment)" }
        if let decay = emaDecay, !(decay > 0 && decay < 1) { return "the codebook's moving-average decay must be in (0, 1), not \(decay)" }
        return nil
    }
}

/// The shape of a PixelCNN prior over the code grid (van den Oord et al.
/// 2016): a masked type-A convolution of `inputKernel` (7 in the paper and
/// the PyTorch reference) to `channels`, then `blocks` residual blocks of
/// masked 3x3 type-B convolutions.
///
/// A first kernel of 2·max(H, W) − 1 reaches every earlier position of an
/// H x W grid from every position: no blind spot. A stack of masked 3x3
/// convolutions never sees the positions above and to the right beyond its
/// first layer's reach (van den Oord et al. 2016b, "Conditional image
/// generation with PixelCNN decoders", §2.1 and Figure 1), and on a 7x7
/// grid a 7x7 first layer leaves out up to a third of the earlier codes.
public struct CodePrior: Equatable, Sendable {
    public var channels: Int
    public var blocks: Int
    public var inputKernel: Int

    /// Odd first-layer kernels a prior may have.
    public static let inputKernels = 3...31

    public init(channels: Int = 128, blocks: Int = 4, inputKernel: Int = 7) {
        self.channels = channels
        self.blocks = blocks
        self.inputKernel = inputKernel
    }

    var problem: String? {
        guard (1...1024).contains(channels), (0...32).contains(blocks) else {
            return "the prior has 1...1024 channels and 0...32 blocks, not \(channels) and \(blocks)"
        }
        guard Self.inputKernels.contains(inputKernel), inputKernel % 2 == 1 else {
            return "the prior's first kernel is odd and in \(Self.inputKernels.lowerBound)...\(Self.inputKernels.upperBound), not \(inputKernel)"
        }
        return nil
    }
}
