import VAEData
import VAEEngine

/// A VAE with two stochastic layers (Burda, Grosse & Salakhutdinov 2015, §5
/// and appendix), as torch_families.py's `iwae2`:
///
///   q(z1|x)   x → q1.body → q1.head → N(μ1, σ1²)          (784-200-200-100)
///   q(z2|z1)  z1 → q2.body → q2.head → N(μ2, σ2²)         (100-100-100-50)
///   p(z2)     N(0, I)
///   p(z1|z2)  z2 → p1.body → p1.head → N(μp, σp²)         (50-100-100-100)
///   p(x|z1)   z1 → px → logits                            (100-200-200-784)
///
/// Every hidden layer is followed by the activation. Its ELBO,
///
///   −ELBO = E_q[−log p(x|z1)] + E_q[log q(z1|x) − log p(z1|z2)] + E_q[KL(q(z2|z1) ‖ N(0, I))],
///
/// has three terms: the reconstruction; `kl_z1`, sampled (z2 is drawn given
/// z1, so q(z1|x) and p(z1|z2) have no closed-form KL); and `kl_z2`, in
/// closed form given z1 (sampled too, log q(z2|z1) − log p(z2), for an
/// importance weight). A draw takes noise [ε1 | ε2] (k1 + k2 values).
public final class HierarchicalVAE: VariationalModel {
    public let configuration: ModelConfiguration
    public let parameters: ParameterStore
    let q1Body: Network, q2Body: Network, p1Body: Network, decoder: Network
    let q1: GaussianPosterior, q2: GaussianPosterior, p1: GaussianPosterior
    public let likelihood: ReconstructionLoss
    private var klZ1 = Tensor(shape: [0])
    private var mu1 = Tensor(shape: [0])
    private var noise = Tensor(shape: [0])
    private var last: (z1: Matrix, prior: DiagonalGaussian)?

    public static let klZ1 = LossTerm(name: "kl_z1", label: "KL z1", phrase: "first layer's KL term", role: .divergence)
    public static let klZ2 = LossTerm(name: "kl_z2", label: "KL z2", phrase: "second layer's KL term", role: .divergence)

    var upper: UpperLayer { configuration.upperLayer! }

    public static func parameterSpecs(_ c: ModelConfiguration) -> [ParameterSpec] {
        let upper = c.upperLayer!, d = c.inputSize, k1 = c.latent, k2 = upper.latent
        return SequentialMLP.specs(prefix: "q1.body", sizes: [d] + c.hidden)
            + GaussianPosterior.specs(inputSize: c.hidden.last ?? d, latent: k1, names: .combined("q1.head"))
            + SequentialMLP.specs(prefix: "q2.body", sizes: [k1] + upper.hidden)
            + GaussianPosterior.specs(inputSize: upper.hidden.last ?? k1, latent: k2, names: .combined("q2.head"))
            + SequentialMLP.specs(prefix: "p1.body", sizes: [k2] + upper.hidden.reversed())
            + GaussianPosterior.specs(inputSize: upper.hidden.first ?? k2, latent: k1, names: .combined("p1.head"))
            + SequentialMLP.specs(prefix: "px", sizes: [k1] + c.hidden.reversed() + [d])
    }

    public init(configuration: ModelConfiguration) {
        precondition(configuration.problem == nil && configuration.upperLayer != nil, configuration.problem ?? "")
        self.configuration = configuration
        let c = configuration, store = ParameterStore(specs: Self.parameterSpecs(configuration))
        parameters = store
        let upper = c.upperLayer!
        q1Body = SequentialMLP.network(prefix: "q1.body", layers: c.hidden.count, activation: c.activation, activateLast: true, store: store)
        q1 = GaussianPosterior(store: store, names: .combined("q1.head"))
        q2Body = SequentialMLP.network(prefix: "q2.body", layers: upper.hidden.count, activation: c.activation, activateLast: true, store: store)
        q2 = GaussianPosterior(store: store, names: .combined("q2.head"))
        p1Body = SequentialMLP.network(prefix: "p1.body", layers: upper.hidden.count, activation: c.activation, activateLast: true, store: store)
        p1 = GaussianPosterior(store: store, names: .combined("p1.head"))
        decoder = SequentialMLP.network(prefix: "px", layers: c.hidden.count + 1, activation: c.activation, activateLast: false, store: store)
        likelihood = ReconstructionLoss(likelihood: c.likelihood)
    }

    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: .initialisation)
        q1Body.initialize(using: &rng); q1.initialize(using: &rng)
        q2Body.initialize(using: &rng); q2.initialize(using: &rng)
        p1Body.initialize(using: &rng); p1.initialize(using: &rng)
        decoder.initialize(using: &rng)
    }

    public func reserve(batchSize: Int) {
        for network in [q1Body, q2Body, p1Body, decoder] { network.reserve(batchSize: batchSize) }
        for posterior in [q1, q2, p1] { posterior.reserve(rows: batchSize) }
        likelihood.reserve(batchSize: batchSize, features: configuration.inputSize)
    }

    // MARK: the objective

    public var noisePerDraw: Int { configuration.latent + upper.latent }

    public func lossTerms(_ estimate: DivergenceEstimate) -> [LossTerm] { [.reconstruction, Self.klZ1, Self.klZ2] }

    public func forward(_ batch: Batch, noise eps: Matrix, draws: Int, estimate: DivergenceEstimate, training: Bool) -> DrawTerms {
        let k1 = configuration.latent, k2 = upper.latent
        let qz1 = q1.encode(q1Body.forward(batch.input))
        let z1 = q1.draw(qz1, noise: ColumnSlice(eps, columns: 0..<k1), draws: draws)
        let qz2 = q2.encode(q2Body.forward(z1))
        let z2 = q2.draw(qz2, noise: ColumnSlice(eps, columns: k1..<(k1 + k2)), draws: 1)
        p1.reserve(rows: z1.rows)
        let prior = p1.encode(p1Body.forward(z2))
        _ = likelihood.forward(logits: decoder.forward(z1), target: batch.target, draws: draws, gradient: training)
        // log q(z1|x) − log p(z1|z2), both without their −(k1/2) log 2π.
        let logQ = q1.logDensities()
        if klZ1.count < z1.rows { klZ1 = Tensor(shape: [z1.rows]) }
        let out = klZ1.pointer
        parallelRows(z1.rows, workPerRow: 4 * k1) { rows in
            for r in rows { out[r] = logQ.pointer[r] - prior.logDensityWithoutConstant(of: z1.row(r), row: r) }
        }
        last = (z1, prior)
        return DrawTerms(terms: lossTerms(estimate),
                         values: [likelihood.perSample, klZ1.matrix(rows: z1.rows, columns: 1), q2.divergence(estimate)],
                         images: batch.count, draws: draws)
    }

    public func backward(drawWeights w: UnsafePointer<Float>?, beta: Float) {
        guard let (z1, prior) = last else { preconditionFailure("HierarchicalVAE.backward before forward") }
        let k1 = configuration.latent, rows = z1.rows
        if let w { likelihood.scaleGradientRows(by: w) }
        let dz1 = decoder.backward(likelihood.backward())
        // −β w log p(z1|z2), log p = −½ Σ (log σp² + (z1 − μp)² / σp²).
        let dPrior = p1.headGradients(rows: rows)
        parallelRows(rows, workPerRow: 8 * k1) { part in
            for r in part {
                dPrior.mu.row(r).update(repeating: 0, count: k1)
                dPrior.logVar.row(r).update(repeating: 0, count: k1)
                prior.accumulateNegativeLogDensityGradient(at: z1.row(r), row: r, weight: beta * (w?[r] ?? 1), dz: dz1.row(r), into: dPrior)
            }
        }
        let dz2 = p1Body.backward(p1.backwardHeads(rows: rows, inputGradient: true))
        // KL(q(z2|z1) ‖ N(0, I)) and z2's path to p(z1|z2), back to z1.
        let dz1FromQ2 = q2Body.backward(q2.backward(dz2, drawWeights: w, beta: beta, inputGradient: true))
        dz1.add(dz1FromQ2)
        let dh1 = q1.backwardLogDensity(dz1, drawWeights: w, beta: beta, inputGradient: !q1Body.layers.isEmpty)
        if !q1Body.layers.isEmpty { q1Body.backward(dh1, inputGradient: false) }
    }

    // MARK: using a trained model

    public var latentSize: Int { configuration.latent }
    /// The prior over z1, ∫ p(z1|z2) p(z2) dz2, is no Gaussian.
    public var hasGaussianPrior: Bool { false }

    /// q(z1|x), and q(z2|z1) at z1 = μ1.
    public func encode(_ x: Matrix, condition: Matrix?) -> Encoding {
        let h = q1Body.forward(x)
        let qz1 = q1.encode(h)
        if mu1.count < x.rows * configuration.latent { mu1 = Tensor(shape: [x.rows * configuration.latent]) }
        let m = mu1.matrix(rows: x.rows, columns: configuration.latent)
        for r in 0..<x.rows { m.row(r).update(from: qz1.mu.row(r), count: configuration.latent) }
        let qz2 = q2.encode(q2Body.forward(m))
        return Encoding(layers: [qz1, qz2], point: qz1.mu, features: h)
    }

    public func decode(_ z: Matrix, condition: Matrix?) -> Matrix { decoder.forward(z) }

    public func decodeMeans(_ z: Matrix, condition: Matrix?) -> Matrix { likelihood.means(decode(z, condition: condition)) }

    public func drawPosterior(_ x: Matrix, condition: Matrix?, noise: Matrix, draws: Int) -> Matrix {
        let qz1 = q1.encode(q1Body.forward(x))
        return q1.draw(qz1, noise: ColumnSlice(noise, columns: 0..<configuration.latent), draws: draws)
    }

    /// Ancestral sampling: z2 ~ N(0, I), then z1 ~ p(z1|z2).
    public func drawPrior(into z: Matrix, condition: Matrix?, rng: inout RandomGenerator) {
        let n = z.rows, k1 = configuration.latent, k2 = upper.latent
        if noise.count < n * (k1 + k2) { noise = Tensor(shape: [n * (k1 + k2)]) }
        let z2 = Matrix(noise.pointer, rows: n, columns: k2), eps = Matrix(noise.pointer + n * k2, rows: n, columns: k1)
        rng.fillNormal(z2.pointer, count: z2.count)
        rng.fillNormal(eps.pointer, count: eps.count)
        p1.reserve(rows: n)
        let z1 = p1.draw(p1.encode(p1Body.forward(z2)), noise: eps, draws: 1)
        z.copy(from: z1)
    }
}
