/// The VAE families `vae` builds: each is one type implementing
/// `VariationalModel`. A new family is a case here, its line in each switch
/// below, and its configuration keys in ModelConfiguration+Metadata.swift.
public enum ModelFamily: String, CaseIterable, Sendable {
    /// One diagonal-Gaussian stochastic layer, prior N(0, I) (Kingma & Welling 2013).
    case gaussian

    /// A model of this family with all parameters zero.
    public func makeModel(_ configuration: ModelConfiguration) -> any VariationalModel {
        switch self {
        case .gaussian: GaussianVAE(configuration: configuration)
        }
    }

    /// Its parameters' names and shapes, in memory order.
    public func parameterSpecs(_ configuration: ModelConfiguration) -> [ParameterSpec] {
        switch self {
        case .gaussian: GaussianVAE.parameterSpecs(configuration)
        }
    }

    /// What a model summary starts with ("" for the plain VAE).
    var summaryPrefix: String {
        switch self {
        case .gaussian: ""
        }
    }
}
