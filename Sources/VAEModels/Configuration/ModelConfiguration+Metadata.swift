import VAEData

/// The one place a model's description is written to and read from a
/// checkpoint's metadata (all strings):
///
///   arch (mlp|conv), conditional (true|false), classes (0 unless conditional),
///   channels, height, width (the image shape), input_size (their product),
///   hidden ("512,256"), latent, loss (bce|mse), activation (relu|tanh),
///   conv_channels ("32,64", conv only), family (absent for the Gaussian VAE),
///   for a two-layer model latent "100,50" and hidden "200,200/100,100"
///   (each layer's widths), for a flow model flow ("planar:10", "iaf:4"),
///   for a VQ-VAE codes (K), latent (D, each code's length), commitment,
///   vq_ema (the decay, absent without), and once it has a prior
///   prior_channels and prior_blocks; class_prior ("learned", absent for
///   N(0, I)) for a conditional model whose p(z|y) is learned.
///
/// A format-1 checkpoint has no shape keys: its images are square and grey,
/// input_size pixels. A family's own keys go here too.
extension ModelConfiguration {
    /// Limits on what metadata may describe: beyond them a file is taken as
    /// hostile, before any shape is computed from it.
    static let limits = (latent: 1...4096, width: 1...65536, input: 1...(4096 * 4096), layers: 0...16, classes: 1...65536)

    public var metadata: [String: String] {
        var m = [
            "arch": arch,
            "conditional": isConditional ? "true" : "false",
            "classes": String(classes),
            "channels": String(shape.channels),
            "height": String(shape.height),
            "width": String(shape.width),
            "input_size": String(inputSize),
            "hidden": commaSeparated(hidden) + (upperLayer.map { "/" + commaSeparated($0.hidden) } ?? ""),
            "latent": String(latent) + (upperLayer.map { ",\($0.latent)" } ?? ""),
            "loss": likelihood.rawValue,
            "activation": activation.rawValue,
        ]
        if architecture == .conv { m["conv_channels"] = commaSeparated(convChannels) }
        if family != .gaussian { m["family"] = family.rawValue }
        if let flow { m["flow"] = flow.spec }
        if let quantiser {
            m["codes"] = String(quantiser.codes)
            m["commitment"] = String(quantiser.commitment)
            if let decay = quantiser.emaDecay { m["vq_ema"] = String(decay) }
        }
        if learnedClassPrior { m["class_prior"] = "learned" }
        if let codePrior {
            m["prior_channels"] = String(codePrior.channels)
            m["prior_blocks"] = String(codePrior.blocks)
            m["prior_kernel"] = String(codePrior.inputKernel)
        }
        return m
    }

    public init(metadata values: [String: String]) throws {
        let m = MetadataReader(values)
        let family = try m.choice("family", default: .gaussian,
                                  expected: ModelFamily.allCases.map(\.rawValue).joined(separator: " or "), ModelFamily.init(rawValue:))
        let arch = try m.string("arch")
        guard let architecture = Architecture(rawValue: arch) else {
            throw MetadataError("architecture \(arch) is not known to this vae (expected mlp or conv)")
        }
        let conditional = try m.choice("conditional", default: false, expected: "true or false") { ["true": true, "false": false][$0] }
        // A two-layer model's widths: the first layer's, "/", the second's.
        let layers = try m.string("hidden").split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard layers.count <= 2 else { throw MetadataError("metadata hidden has \(layers.count) layers' widths, at most 2") }
        let hidden = try MetadataReader(["hidden": layers[0]]).integers("hidden", in: Self.limits.width, counts: Self.limits.layers)
        let latents = try m.integers("latent", in: Self.limits.latent, counts: 1...2)
        guard latents.count == layers.count else {
            throw MetadataError("metadata latent has \(latents.count) sizes but hidden \(layers.count) layers' widths")
        }
        let upper = try latents.count == 2
            ? UpperLayer(latent: latents[1], hidden: MetadataReader(["hidden": layers[1]]).integers("hidden", in: Self.limits.width, counts: Self.limits.layers))
            : nil
        let shape: ImageShape
        if m.has("height") || m.has("width") || m.has("channels") {
            shape = ImageShape(channels: try m.choice("channels", expected: "1 or 3") { ["1": 1, "3": 3][$0] },
                               height: try m.integer("height", in: 1...ImageShape.maximumSide),
                               width: try m.integer("width", in: 1...ImageShape.maximumSide))
            if m.has("input_size"), try m.integer("input_size", in: Self.limits.input) != shape.values {
                throw MetadataError("metadata input_size is \(values["input_size"]!), but channels, height and width make \(shape.values)")
            }
        } else {
            // Format 1: square grey images (or, for an mlp, a row of input_size pixels).
            let pixels = try m.integer("input_size", in: Self.limits.input)
            let side = Int(Double(pixels).squareRoot().rounded())
            shape = side * side == pixels ? ImageShape(height: side, width: side) : ImageShape(height: 1, width: pixels)
        }
        self.init(
            family: family, architecture: architecture, shape: shape, hidden: hidden,
            latent: latents[0],
            likelihood: try m.choice("loss", expected: "bce or mse", ReconstructionLikelihood.init(rawValue:)),
            activation: try m.choice("activation", default: .relu, expected: "relu or tanh", ActivationKind.init(rawValue:)),
            classes: conditional ? try m.integer("classes", in: Self.limits.classes) : 0,
            convChannels: m.has("conv_channels") ? try m.integers("conv_channels", in: 1...1024, counts: 1...6) : Self.defaultConvChannels,
            upperLayer: upper, flow: m.has("flow") ? try m.choice("flow", expected: "planar:K or iaf:K", Flow.init(spec:)) : nil,
            quantiser: family == .vq
                ? Quantiser(codes: try m.integer("codes", in: 2...4096), dimensions: latents[0],
                            commitment: try m.real("commitment", default: 0.25), emaDecay: m.has("vq_ema") ? try m.real("vq_ema") : nil)
                : nil,
            codePrior: m.has("prior_channels")
                ? CodePrior(channels: try m.integer("prior_channels", in: 1...1024), blocks: try m.integer("prior_blocks", in: 0...32),
                            inputKernel: try m.integer("prior_kernel", in: CodePrior.inputKernels, default: 7))
                : nil,
            learnedClassPrior: try m.choice("class_prior", default: false, expected: "learned or standard") { ["learned": true, "standard": false][$0] })
        if let problem { throw MetadataError("metadata describes no buildable model: \(problem)") }
    }
}
