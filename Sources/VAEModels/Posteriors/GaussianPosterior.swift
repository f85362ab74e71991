import VAEEngine

/// How a KL term is estimated.
public enum DivergenceEstimate: Sendable {
    /// In closed form, KL(q(z|x) ‖ p(z)), where it exists: the ELBO's usual,
    /// lower-variance form.
    case closedForm
    /// At the drawn z: log q(z|x) − log p(z), what an importance weight needs
    /// (its expectation over q is the KL).
    case sampled
}

/// How a posterior's heads are named in the parameter store. Either way the
/// μ rows come first and the log σ² rows after them, so the heads are one
/// product writing rows [μ | log σ² | …].
public enum HeadNames: Sendable {
    /// Two layers, `mu` and `logvar` (weights, then biases, side by side): torch_vae.py's names.
    case separate(mu: String, logVar: String)
    /// One layer of 2k outputs and `extra` more after them (a flow's
    /// parameters), as torch_families.py's `head` is one nn.Linear chunked in two.
    case combined(String, extra: Int = 0)
}

/// A diagonal Gaussian q(z|h) = N(μ, diag σ²) over k dimensions, from a
/// hidden layer h (Kingma & Welling 2013): the heads that give μ and log σ²,
/// the reparameterised draws, log q(z|h) of the draws, and the divergence to
/// N(0, I), with the gradients of all of them. A VAE's posterior q(z|x); a
/// second layer's q(z2|z1) or prior p(z1|z2) too.
///
/// The reparameterisation trick (§2.4): a draw z = μ + exp(½ log σ²) · ε with
/// ε ~ N(0, I) is a differentiable function of the heads' output:
///
///   ∂z/∂μ = 1,   ∂z/∂log σ² = ½ exp(½ log σ²) · ε.
///
/// Several draws per row of h (K, for an importance-weighted bound) are rows
/// b·K … b·K + K − 1 of z and ε; their gradients are summed into row b of
/// dL/d[μ | log σ²].
public final class GaussianPosterior {
    public let latent: Int
    let heads: Linear
    /// Outputs of the heads after μ and log σ² (a flow's parameters).
    public let extraOutputs: Int
    private let kl = GaussianKL()
    private var z = Tensor(shape: [0])
    /// σ = exp(½ log σ²) of the last draw's q (B, k): the draws use it, and backward again.
    private var sigma = Tensor(shape: [0])
    private var dHeads = Tensor(shape: [0])
    private var divergence = Tensor(shape: [0])
    private var last: (q: DiagonalGaussian, eps: ColumnSlice, z: Matrix, draws: Int)?
    private var lastEstimate = DivergenceEstimate.closedForm
    private var lastPrior: DiagonalGaussian?

    /// The heads over the store's parameters named `names` (see `specs`).
    public init(store: ParameterStore, names: HeadNames = .separate(mu: "mu", logVar: "logvar")) {
        switch names {
        case .separate(let mu, let logVar):
            heads = Linear(WeightAndBias(weight: store.values("\(mu).weight", "\(logVar).weight"),
                                         bias: store.values("\(mu).bias", "\(logVar).bias"),
                                         dWeight: store.gradients("\(mu).weight", "\(logVar).weight"),
                                         dBias: store.gradients("\(mu).bias", "\(logVar).bias")))
            extraOutputs = 0
        case .combined(let name, let extra):
            heads = Linear(name: name, store: store)
            extraOutputs = extra
        }
        latent = (heads.outputSize - extraOutputs) / 2
    }

    /// μ and log σ² (and any extra outputs) under `names`: weights then
    /// biases, so each pair is adjacent and the heads are one layer.
    public static func specs(inputSize: Int, latent: Int, names: HeadNames = .separate(mu: "mu", logVar: "logvar")) -> [ParameterSpec] {
        switch names {
        case .separate(let mu, let logVar):
            [ParameterSpec(name: "\(mu).weight", shape: [latent, inputSize]),
             ParameterSpec(name: "\(logVar).weight", shape: [latent, inputSize]),
             ParameterSpec(name: "\(mu).bias", shape: [latent]),
             ParameterSpec(name: "\(logVar).bias", shape: [latent])]
        case .combined(let name, let extra):
            Linear.specs(name: name, inputSize: inputSize, outputSize: 2 * latent + extra)
        }
    }

    /// PyTorch's default for the heads (one fan-in, so one bound serves both).
    public func initialize(using rng: inout RandomGenerator) { heads.initialize(using: &rng) }

    /// Multiplies the extra outputs' weights and biases by `factor` (a
    /// flow's parameters starting smaller than the heads' default).
    func scaleExtraOutputs(by factor: Float) {
        let w = heads.weight, b = heads.parameters.bias.pointer
        for o in (2 * latent)..<(2 * latent + extraOutputs) {
            let row = w.row(o)
            for i in 0..<w.columns { row[i] *= factor }
            b[o] *= factor
        }
    }

    /// Buffers for `rows` draws (rows of h × draws each) and as many rows of h.
    public func reserve(rows: Int) {
        heads.reserve(batchSize: rows)
        reserveDraws(rows: rows)
    }

    /// The draws' buffers only: the heads' output holds the q being drawn from.
    private func reserveDraws(rows: Int) {
        if z.count < rows * latent { z = Tensor(shape: [rows * latent]) }
        if divergence.count < rows { divergence = Tensor(shape: [rows]) }
        if dHeads.count < rows * heads.outputSize { dHeads = Tensor(shape: [rows * heads.outputSize]) }
    }

    /// q(z|h) from the hidden layer h (B, in): μ and log σ² (B, k), views of
    /// the heads' output (which `extra` follows).
    public func encode(_ h: Matrix) -> DiagonalGaussian {
        let out = heads.forward(h)
        return DiagonalGaussian(mu: ColumnSlice(out, columns: 0..<latent), logVar: ColumnSlice(out, columns: latent..<(2 * latent)))
    }

    /// The q of the last draw.
    public var lastEncoding: DiagonalGaussian? { last?.q }

    /// The heads' outputs after μ and log σ², of the last `encode`.
    public func extra(of q: DiagonalGaussian) -> ColumnSlice {
        ColumnSlice(q.mu.base, columns: (2 * latent)..<(2 * latent + extraOutputs))
    }

    /// `draws` draws z = μ + σ·ε per row of q: noise ε (B·draws, k) → z
    /// (B·draws, k). Keeps q and ε for `backward`.
    public func draw(_ q: DiagonalGaussian, noise eps: ColumnSlice, draws: Int) -> Matrix {
        let k = latent, rows = q.rows * draws
        precondition(q.dimensions == k && eps.rows == rows && eps.columns == k, "noise of the wrong shape")
        reserveDraws(rows: rows)
        let out = z.matrix(rows: rows, columns: k)
        // σ = exp(½ log σ²) once per image; its draws share it.
        if sigma.count < q.rows * k { sigma = Tensor(shape: [q.rows * k]) }
        let sd = sigma.matrix(rows: q.rows, columns: k)
        for b in 0..<q.rows {
            let logVar = q.logVar.row(b), s = sd.row(b)
            for j in 0..<k { s[j] = exp(0.5 * logVar[j]) }
        }
        parallelRows(rows, workPerRow: 2 * k) { range in
            for r in range {
                let mu = q.mu.row(r / draws), s = sd.row(r / draws), e = eps.row(r), zr = out.row(r)
                for j in 0..<k { zr[j] = mu[j] + s[j] * e[j] }
            }
        }
        last = (q, eps, out, draws)
        return out
    }

    public func draw(_ q: DiagonalGaussian, noise eps: Matrix, draws: Int) -> Matrix {
        draw(q, noise: ColumnSlice(eps, columns: 0..<eps.columns), draws: draws)
    }

    /// The divergence of the last draws from the prior, (B·draws, 1): from
    /// N(0, I), or from `prior` p(z) = N(μ_p, σ_p²) (one row per row of q,
    /// shared by its draws: a conditional model's learned p(z|y)). In closed
    /// form (one draw per row, GaussianKL), or sampled,
    ///
    ///   log q(z|h) − log p(z) = Σ_j (−½ ε_j² − ½ log σ²_j) − Σ_j (−½ log σ²_p,j − ½ (z_j − μ_p,j)² / σ²_p,j)
    ///
    /// (the 2π terms cancel; N(0, I) has μ_p = 0, log σ²_p = 0).
    public func divergence(_ estimate: DivergenceEstimate, from prior: DiagonalGaussian? = nil) -> Matrix {
        guard let (q, eps, z, draws) = last else { preconditionFailure("divergence before draw") }
        precondition(prior.map { $0.rows == q.rows && $0.dimensions == latent } ?? true, "a prior of the wrong shape")
        lastEstimate = estimate
        lastPrior = prior
        switch estimate {
        case .closedForm:
            precondition(draws == 1, "the closed-form KL goes with one draw per row")
            return kl.forward(q, to: prior)
        case .sampled:
            let out = divergence.pointer, k = latent
            parallelRows(z.rows, workPerRow: 4 * k) { rows in
                for r in rows {
                    let zr = z.row(r)
                    var logP: Float = 0
                    if let prior {
                        logP = prior.logDensityWithoutConstant(of: zr, row: r / draws)
                    } else {
                        for j in 0..<k { logP -= 0.5 * zr[j] * zr[j] }
                    }
                    out[r] = q.logDensityOfDraws(noise: eps, draws: draws, row: r) - logP
                }
            }
            return divergence.matrix(rows: z.rows, columns: 1)
        }
    }

    /// log q(z|h) of the last draws, (B·draws, 1), without the −(k/2) log 2π
    /// (for a family that sets it against a prior of its own).
    public func logDensities() -> Matrix {
        guard let (q, eps, z, draws) = last else { preconditionFailure("logDensities before draw") }
        let out = divergence.pointer
        parallelRows(z.rows, workPerRow: latent) { rows in
            for r in rows { out[r] = q.logDensityOfDraws(noise: eps, draws: draws, row: r) }
        }
        return divergence.matrix(rows: z.rows, columns: 1)
    }

    /// Given dL/dz (B·draws, k) of what follows the draws (overwritten), adds
    /// the gradient of the last `divergence`, weight β and each draw's weight
    /// w_r (nil: all 1), and returns dL/dh (B, in) through the heads.
    /// `inputGradient: false` when h is the data itself. When the divergence
    /// had a `prior`, `priorGradient` (B, k each) receives dL/d[μ_p | log σ²_p],
    /// its draws summed.
    public func backward(_ dz: Matrix, drawWeights w: UnsafePointer<Float>?, beta: Float, inputGradient: Bool,
                         priorGradient dP: DiagonalGaussian? = nil) -> Matrix {
        guard let (q, eps, z, draws) = last else { preconditionFailure("GaussianPosterior.backward before draw") }
        precondition((lastPrior == nil) == (dP == nil), "a prior's gradient exactly when the divergence had a prior")
        let k = latent
        if let dP {
            for b in 0..<q.rows {
                dP.mu.row(b).update(repeating: 0, count: k)
                dP.logVar.row(b).update(repeating: 0, count: k)
            }
        }
        switch lastEstimate {
        case .closedForm:
            precondition(w == nil, "the closed-form KL is not weighted per draw")
            let dQ = gradientViews(rows: q.rows), sd = sigma.matrix(rows: q.rows, columns: k)
            parallelRows(q.rows, workPerRow: 4 * k) { rows in
                for r in rows {
                    let s = sd.row(r), e = eps.row(r), g = dz.row(r)
                    let dMu = dQ.mu.row(r), dLogVar = dQ.logVar.row(r)
                    for j in 0..<k {
                        dMu[j] = g[j]
                        dLogVar[j] = g[j] * e[j] * 0.5 * s[j]
                    }
                }
            }
            kl.backward(weight: beta, into: dQ, prior: dP)
            return heads.backward(dHeads.matrix(rows: q.rows, columns: heads.outputSize), inputGradient: inputGradient)
        case .sampled:
            // −β w ∂ log p(z)/∂z = β w (z − μ_p) / σ²_p, through z; and into
            // the prior, ∂/∂μ_p = −that, ∂/∂log σ²_p = ½ β w (1 − (z − μ_p)² / σ²_p).
            // By image, its draws in order (they share the prior's row).
            let prior = lastPrior
            parallelRows(q.rows, workPerRow: 4 * draws * k) { images in
                for r in (images.lowerBound * draws)..<(images.upperBound * draws) {
                    let g = dz.row(r), zr = z.row(r), c = beta * (w?[r] ?? 1)
                    if let prior, let dP {
                        prior.accumulateNegativeLogDensityGradient(at: zr, row: r / draws, weight: c, dz: g, into: dP)
                    } else {
                        for j in 0..<k { g[j] += c * zr[j] }
                    }
                }
            }
            return backwardLogDensity(dz, drawWeights: w, beta: beta, inputGradient: inputGradient)
        }
    }

    /// Given dL/dz (B·draws, k) of what follows the draws, adds the gradient
    /// of Σ_r β w_r log q(z_r|h) (w nil: all 1) and returns dL/dh through the
    /// heads. Holding ε fixed, log q = Σ_j (−½ ε_j² − ½ log σ²_j): only
    /// ∂/∂log σ² = −½ β w_r is direct; the rest reaches μ and σ through z.
    /// A family that filled `extraGradients` keeps those columns.
    public func backwardLogDensity(_ dz: Matrix, drawWeights w: UnsafePointer<Float>?, beta: Float, inputGradient: Bool) -> Matrix {
        guard let (q, eps, _, draws) = last else { preconditionFailure("GaussianPosterior.backward before draw") }
        let k = latent, dQ = gradientViews(rows: q.rows)
        let sd = sigma.matrix(rows: q.rows, columns: k)   // σ of the draw, kept by `draw`
        // Rows apart (each image's draws summed in order): any split gives the same bits.
        parallelRows(q.rows, workPerRow: 4 * draws * k) { images in
            for b in images {
                let dMu = dQ.mu.row(b), dLogVar = dQ.logVar.row(b), sigma = sd.row(b)
                dMu.update(repeating: 0, count: k)
                dLogVar.update(repeating: 0, count: k)
                for s in 0..<draws {
                    let r = b * draws + s, g = dz.row(r), e = eps.row(r), wr = w?[r] ?? 1
                    for j in 0..<k {
                        dMu[j] += g[j]
                        var d = g[j] * e[j] * 0.5 * sigma[j]
                        d -= 0.5 * beta * wr
                        dLogVar[j] += d
                    }
                }
            }
        }
        return heads.backward(dHeads.matrix(rows: q.rows, columns: heads.outputSize), inputGradient: inputGradient)
    }

    /// For a Gaussian that is not drawn from (a prior p(z1|z2) whose density
    /// the loss holds): dL/d[μ | log σ²] of `rows` rows, views a family fills
    /// before `backwardHeads`.
    public func headGradients(rows: Int) -> DiagonalGaussian {
        reserveDraws(rows: rows)
        return gradientViews(rows: rows)
    }

    /// dL/dh (rows, in) through the heads, from `headGradients`.
    public func backwardHeads(rows: Int, inputGradient: Bool) -> Matrix {
        heads.backward(dHeads.matrix(rows: rows, columns: heads.outputSize), inputGradient: inputGradient)
    }

    /// Where a family writes the gradient of the heads' extra outputs (B,
    /// extra) before calling `backward`.
    public func extraGradients(rows: Int) -> ColumnSlice {
        ColumnSlice(dHeads.matrix(rows: rows, columns: heads.outputSize), columns: (2 * latent)..<heads.outputSize)
    }

    /// dL/d[μ | log σ²] of `rows` rows, views of the heads' gradient buffer.
    private func gradientViews(rows: Int) -> DiagonalGaussian {
        let d = dHeads.matrix(rows: rows, columns: heads.outputSize)
        return DiagonalGaussian(mu: ColumnSlice(d, columns: 0..<latent), logVar: ColumnSlice(d, columns: latent..<(2 * latent)))
    }
}
