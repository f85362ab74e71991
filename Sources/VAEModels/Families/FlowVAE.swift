import VAEData
import VAEEngine

/// A one-layer VAE whose Gaussian posterior q0(z0|x) is followed by flow
/// steps z_K = f_K ∘ … ∘ f_1(z_0): planar (Rezende & Mohamed 2015) or
/// inverse autoregressive (Kingma et al. 2016). As torch_families.py's
/// `planar`:
///
///   x → body → head → [μ | log σ² | the planar steps' u, w, b]     (784-200-200)
///   z_0 = μ + σ·ε,   z_K = flow(z_0),   p(x|z_K): z_K → px → logits  (50-200-200-784)
///
/// (IAF's steps take the body's output h as their context instead.) The
/// density of z_K is log q(z_K|x) = log q0(z_0|x) − Σ_k log|det ∂f_k/∂z|,
/// so the KL term is estimated at the draw,
///
///   KL ≈ log q0(z_0|x) − Σ_k log|det ∂f_k/∂z| − log N(z_K; 0, I),
///
/// for the ELBO and the importance-weighted bound alike (no closed form).
public final class FlowVAE: VariationalModel {
    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    let body: Network
    let posterior: GaussianPosterior
    let planar: PlanarFlow?
    let iaf: InverseAutoregressiveFlow?
    let decoder: Network
    public let likelihood: ReconstructionLoss
    private var kl = Tensor(shape: [0])
    private var zero = Tensor(shape: [0])
    private var dLogDet = Tensor(shape: [0])
    private var last: (images: Int, zK: Matrix)?

    var flow: Flow { configuration.flow! }

    /// The planar steps' u, w, b start at a tenth of PyTorch's default
    /// scale (the head's rows that give them). With the default, ‖u‖ and
    /// ‖w‖ are ~2 for 50 latent dimensions, so wᵀz + b is ~2 and each step
    /// moves z by ~‖û‖ ≈ 2 before anything is learnt: ten such steps
    /// scramble the code the decoder starts from. At a tenth a step moves z
    /// by ~0.3, mostly along w (û ≈ −0.31 w/‖w‖² while wᵀu is small).
    static let planarInitialScale: Float = 0.1

    /// The head's outputs after μ and log σ²: the planar steps' parameters.
    static func extraOutputs(_ c: ModelConfiguration) -> Int {
        if case .planar(let k) = c.flow! { return PlanarFlow.parameterCount(steps: k, latent: c.latent) }
        return 0
    }

    public static func parameterSpecs(_ c: ModelConfiguration) -> [ParameterSpec] {
        let d = c.inputSize, h = c.hidden.last ?? d
        var specs = SequentialMLP.specs(prefix: "body", sizes: [d] + c.hidden)
            + GaussianPosterior.specs(inputSize: h, latent: c.latent, names: .combined("head", extra: extraOutputs(c)))
        if case .iaf(let k) = c.flow! {
            specs += InverseAutoregressiveFlow.specs(prefix: "iaf", steps: k, latent: c.latent, contextSize: h)
        }
        return specs + SequentialMLP.specs(prefix: "px", sizes: [c.latent] + c.hidden.reversed() + [d])
    }

    public init(configuration: ModelConfiguration) {
        precondition(configuration.problem == nil && configuration.flow != nil, configuration.problem ?? "")
        self.configuration = configuration
        let c = configuration, store = ParameterStore(specs: Self.parameterSpecs(configuration))
        parameters = store
        body = SequentialMLP.network(prefix: "body", layers: c.hidden.count, activation: c.activation, activateLast: true, store: store)
        posterior = GaussianPosterior(store: store, names: .combined("head", extra: Self.extraOutputs(c)))
        switch c.flow! {
        case .planar(let k):
            planar = PlanarFlow(steps: k, latent: c.latent)
            iaf = nil
        case .iaf(let k):
            planar = nil
            iaf = InverseAutoregressiveFlow(prefix: "iaf", store: store, steps: k, latent: c.latent, activation: c.activation)
        }
        decoder = SequentialMLP.network(prefix: "px", layers: c.hidden.count + 1, activation: c.activation, activateLast: false, store: store)
        likelihood = ReconstructionLoss(likelihood: c.likelihood)
    }

    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .initialisation)
        body.initialize(using: &rng)
        posterior.initialize(using: &rng)
        if planar != nil { posterior.scaleExtraOutputs(by: Self.planarInitialScale) }
        iaf?.initialize(using: &rng)
        decoder.initialize(using: &rng)
    }

    public func reserve(batchSize: Int) {
        body.reserve(batchSize: batchSize)
        posterior.reserve(rows: batchSize)
        decoder.reserve(batchSize: batchSize)
        likelihood.reserve(batchSize: batchSize, features: configuration.inputSize)
    }

    // MARK: the objective

    public var noisePerDraw: Int { configuration.latent }

    public func lossTerms(_ estimate: DivergenceEstimate) -> [LossTerm] { [.reconstruction, .kl] }

    /// z_K of `draws` draws per row of x, and each draw's Σ log|det|.
    private func flowDraws(_ x: Matrix, noise eps: Matrix, draws: Int) -> (z: Matrix, logDet: Matrix, h: Matrix) {
        let h = body.forward(x)
        let q = posterior.encode(h)
        let z0 = posterior.draw(q, noise: eps, draws: draws)
        let (z, logDet) = planar.map { $0.forward(z0, params: posterior.extra(of: q), draws: draws) }
            ?? iaf!.forward(z0, context: h, draws: draws)
        return (z, logDet, h)
    }

    public func forward(_ batch: Batch, noise eps: Matrix, draws: Int, estimate: DivergenceEstimate, training: Bool) -> DrawTerms {
        let k = configuration.latent
        let (zK, logDet, _) = flowDraws(batch.input, noise: eps, draws: draws)
        _ = likelihood.forward(logits: decoder.forward(zK), target: batch.target, draws: draws, gradient: training)
        // log q0(z_0|x) − Σ log|det| − log N(z_K; 0, I), without the 2π terms.
        let logQ0 = posterior.logDensities()
        if kl.count < zK.rows { kl = Tensor(shape: [zK.rows]) }
        let out = kl.pointer
        parallelRows(zK.rows, workPerRow: 2 * k) { rows in
            for r in rows {
                let z = zK.row(r)
                var prior: Float = 0
                for j in 0..<k { prior -= 0.5 * z[j] * z[j] }
                out[r] = logQ0.pointer[r] - logDet.pointer[r] - prior
            }
        }
        last = (batch.count, zK)
        return DrawTerms(terms: lossTerms(estimate), values: [likelihood.perSample, kl.matrix(rows: zK.rows, columns: 1)],
                         images: batch.count, draws: draws)
    }

    public func backward(drawWeights w: UnsafePointer<Float>?, beta: Float) {
        guard let (images, zK) = last else { preconditionFailure("FlowVAE.backward before forward") }
        let k = configuration.latent, rows = zK.rows
        if let w { likelihood.scaleGradientRows(by: w) }
        let dzK = decoder.backward(likelihood.backward())
        // −β w log N(z_K; 0, I) through z_K, and −β w Σ log|det|.
        if dLogDet.count < rows { dLogDet = Tensor(shape: [rows]) }
        for r in 0..<rows {
            let c = beta * (w?[r] ?? 1), g = dzK.row(r), z = zK.row(r)
            for j in 0..<k { g[j] += c * z[j] }
            dLogDet.pointer[r] = -c
        }
        let hasBody = !body.layers.isEmpty
        let dh: Matrix
        if let planar {
            let dz0 = planar.backward(dzK, logDeterminantGradients: dLogDet.pointer, into: posterior.extraGradients(rows: images))
            dh = posterior.backwardLogDensity(dz0, drawWeights: w, beta: beta, inputGradient: hasBody)
        } else {
            let (dz0, dContext) = iaf!.backward(dzK, logDeterminantGradients: dLogDet.pointer)
            dh = posterior.backwardLogDensity(dz0, drawWeights: w, beta: beta, inputGradient: hasBody)
            if hasBody { for i in 0..<dh.count { dh.pointer[i] += dContext.pointer[i] } }
        }
        if hasBody { body.backward(dh, inputGradient: false) }
    }

    // MARK: using a trained model

    public var latentSize: Int { configuration.latent }
    public var hasGaussianPrior: Bool { true }

    /// q0(z0|x), and as the point, the flow of μ (the draw at ε = 0).
    public func encode(_ x: Matrix, condition: Matrix?) -> Encoding {
        let k = configuration.latent
        if zero.count < x.rows * k { zero = Tensor(shape: [x.rows * k]) }
        let (zK, _, h) = flowDraws(x, noise: zero.matrix(rows: x.rows, columns: k), draws: 1)
        return Encoding(layers: [posterior.lastEncoding!], point: ColumnSlice(zK, columns: 0..<k), features: h)
    }

    public func decode(_ z: Matrix, condition: Matrix?) -> Matrix { decoder.forward(z) }

    public func decodeMeans(_ z: Matrix, condition: Matrix?) -> Matrix { likelihood.means(decode(z, condition: condition)) }

    /// z_K of draws z_0 ~ q0(z0|x): the posterior with its flow.
    public func drawPosterior(_ x: Matrix, condition: Matrix?, noise: Matrix, draws: Int) -> Matrix {
        flowDraws(x, noise: noise, draws: draws).z
    }

    public func drawPrior(into z: Matrix, condition: Matrix?, rng: inout RandomGenerator) {
        rng.fillNormal(z.pointer, count: z.count)
    }
}
