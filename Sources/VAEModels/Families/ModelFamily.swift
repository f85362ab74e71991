/// The VAE families `vae` builds: each is one type implementing
/// `VariationalModel`. A new family is a case here, its line in each switch
/// below, and its configuration keys in ModelConfiguration+Metadata.swift.
public enum ModelFamily: String, CaseIterable, Sendable {
    /// One diagonal-Gaussian stochastic layer, prior N(0, I) (Kingma & Welling 2013).
    case gaussian
    /// Two stochastic layers (Burda et al. 2015, §5).
    case hierarchical
    /// A Gaussian posterior followed by flow steps (Rezende & Mohamed 2015; Kingma et al. 2016).
    case flow
    /// A vector-quantised latent grid with a PixelCNN prior (van den Oord et al. 2017).
    case vq

    /// A model of this family with all parameters zero.
    public func makeModel(_ configuration: ModelConfiguration) -> any VariationalModel {
        switch self {
        case .gaussian: GaussianVAE(configuration: configuration)
        case .hierarchical: HierarchicalVAE(configuration: configuration)
        case .flow: FlowVAE(configuration: configuration)
        case .vq: VQVAE(configuration: configuration)
        }
    }

    /// Its parameters' names and shapes, in memory order.
    public func parameterSpecs(_ configuration: ModelConfiguration) -> [ParameterSpec] {
        switch self {
        case .gaussian: GaussianVAE.parameterSpecs(configuration)
        case .hierarchical: HierarchicalVAE.parameterSpecs(configuration)
        case .flow: FlowVAE.parameterSpecs(configuration)
        case .vq: VQVAE.parameterSpecs(configuration)
        }
    }

    /// Why a configuration does not make a model of this family, or nil.
    func problem(_ c: ModelConfiguration) -> String? {
        if self != .vq && (c.quantiser != nil || c.codePrior != nil) { return "only a VQ-VAE has a codebook and a prior over codes" }
        switch self {
        case .gaussian:
            if c.upperLayer != nil || c.flow != nil { return "a one-layer Gaussian VAE has neither a second layer nor flow steps" }
        case .vq:
            guard let quantiser = c.quantiser else { return "a VQ-VAE has a codebook" }
            guard c.architecture == .conv else { return "a VQ-VAE goes with --arch conv" }
            guard c.upperLayer == nil, c.flow == nil else { return "a VQ-VAE has neither a second layer nor flow steps" }
            if let problem = quantiser.problem ?? c.codePrior?.problem { return problem }
            if c.latent != quantiser.dimensions { return "a VQ-VAE's latent size is its codes' length" }
        case .hierarchical, .flow:
            let name = self == .flow ? "flow steps" : "two stochastic layers"
            guard c.architecture == .mlp else { return "\(name) go with --arch mlp" }
            guard !c.isConditional else { return "\(name) are not conditional (no --conditional)" }
            if self == .hierarchical {
                guard let upper = c.upperLayer, c.flow == nil else { return "a two-layer model has a second layer and no flow" }
                if upper.latent < 1 || upper.hidden.contains(where: { $0 < 1 }) { return "the second layer's sizes must be positive" }
            } else if c.flow == nil || c.upperLayer != nil {
                return "a flow model has flow steps and one stochastic layer"
            }
        }
        return nil
    }

    /// What a model summary ends with (" + planar:10", ", z2 50 over 100-100").
    func summarySuffix(_ c: ModelConfiguration) -> String {
        switch self {
        case .gaussian: ""
        case .hierarchical: c.upperLayer.map { " / " + ($0.hidden + [$0.latent]).map(String.init).joined(separator: "-") } ?? ""
        case .flow: c.flow.map { " + \($0.spec)" } ?? ""
        case .vq: c.quantiser.map { q in
            " + \(q.codes) codes of \(q.dimensions)" + (q.emaDecay.map { " (EMA \($0))" } ?? "")
                + (c.codePrior.map { ", PixelCNN prior \($0.channels)x\($0.blocks)" + ($0.inputKernel == 7 ? "" : ", first kernel \($0.inputKernel)") } ?? "")
        } ?? ""
        }
    }
}
