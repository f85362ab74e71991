/// The one place a model's description is written to and read from a
/// checkpoint's metadata (all strings):
///
///   arch (mlp|conv), conditional (true|false), classes (0 unless conditional),
///   input_size, hidden ("512,256"), latent, loss (bce|mse), activation (relu|tanh),
///   family (absent for the Gaussian VAE, so its checkpoints read as before).
///
/// A family's own keys go here too.
extension ModelConfiguration {
    /// Limits on what metadata may describe: beyond them a file is taken as
    /// hostile, before any shape is computed from it.
    static let limits = (latent: 1...4096, width: 1...65536, input: 1...(4096 * 4096), layers: 0...16, classes: 1...65536)

    public var metadata: [String: String] {
        var m = [
            "arch": arch,
            "conditional": isConditional ? "true" : "false",
            "classes": String(classes),
            "input_size": String(inputSize),
            "hidden": commaSeparated(hidden),
            "latent": String(latent),
            "loss": likelihood.rawValue,
            "activation": activation.rawValue,
        ]
        if family != .gaussian { m["family"] = family.rawValue }
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
        let hidden = try m.integers("hidden", in: Self.limits.width, counts: Self.limits.layers)
        self.init(
            family: family, architecture: architecture,
            inputSize: try m.integer("input_size", in: Self.limits.input), hidden: hidden,
            latent: try m.integer("latent", in: Self.limits.latent),
            likelihood: try m.choice("loss", expected: "bce or mse", ReconstructionLikelihood.init(rawValue:)),
            activation: try m.choice("activation", default: .relu, expected: "relu or tanh", ActivationKind.init(rawValue:)),
            classes: conditional ? try m.integer("classes", in: Self.limits.classes) : 0)
        if let problem { throw MetadataError("metadata describes no buildable model: \(problem)") }
    }
}
