import VAEEngine

/// How a KL term is estimated.
public enum DivergenceEstimate: Sendable {
    /// In closed form, KL(q(z|x) ‖ p(z)): the ELBO's usual, lower-variance form.
    case closedForm
    /// At the drawn z: log q(z|x) − log p(z), what an importance weight needs
    /// (its expectation over q is the KL).
    case sampled
}

/// The approximate posterior q(z|x) = N(μ, diag σ²) of a VAE (Kingma &
/// Welling 2013): the heads that give μ and log σ² from the encoder's last
/// hidden layer, the reparameterised draws, and the divergence to the prior
/// N(0, I), with the gradients of all three.
///
/// The heads are two linear layers (`mu`, `logvar`, as PyTorch names them)
/// whose weights and biases sit side by side in the parameter store, so they
/// run as one product and write rows [μ | log σ²] (B, 2k); `encode` returns
/// the two halves as views.
///
/// The reparameterisation trick (§2.4): a draw z = μ + exp(½ log σ²) · ε with
/// ε ~ N(0, I) is a differentiable function of the heads' output:
///
///   ∂z/∂μ = 1,   ∂z/∂log σ² = ½ exp(½ log σ²) · ε.
///
/// Several draws per image (K, for an importance-weighted bound) are rows
/// b·K … b·K + K − 1 of z and ε; their gradients are summed into image b's
/// row of dL/d[μ | log σ²].
public final class GaussianPosterior {
    public let latent: Int
    let heads: Linear
    private let kl = GaussianKL()
    private var z = Tensor(shape: [0])
    private var dStats = Tensor(shape: [0])
    private var divergence = Tensor(shape: [0])
    private var last: (q: DiagonalGaussian, eps: Matrix, z: Matrix, draws: Int)?
    private var lastEstimate = DivergenceEstimate.closedForm

    /// The heads over the store's `mu.*` and `logvar.*` (see `specs`).
    public init(store: ParameterStore) {
        heads = Linear(WeightAndBias(weight: store.values("mu.weight", "logvar.weight"),
                                     bias: store.values("mu.bias", "logvar.bias"),
                                     dWeight: store.gradients("mu.weight", "logvar.weight"),
                                     dBias: store.gradients("mu.bias", "logvar.bias")))
        latent = heads.outputSize / 2
    }

    /// `mu` and `logvar` under PyTorch's names, weights then biases, so that
    /// each pair is adjacent and the heads are one layer.
    public static func specs(inputSize: Int, latent: Int) -> [ParameterSpec] {
        [ParameterSpec(name: "mu.weight", shape: [latent, inputSize]),
         ParameterSpec(name: "logvar.weight", shape: [latent, inputSize]),
         ParameterSpec(name: "mu.bias", shape: [latent]),
         ParameterSpec(name: "logvar.bias", shape: [latent])]
    }

    /// PyTorch's default for both heads: they have the same fan-in, so one bound serves.
    public func initialize(using rng: inout RandomGenerator) { heads.initialize(using: &rng) }

    /// Buffers for `rows` draws (images × draws each) and as many images.
    public func reserve(rows: Int) {
        heads.reserve(batchSize: rows)
        reserveDraws(rows: rows)
    }

    /// The draws' buffers only: the heads' output holds the q being drawn from.
    private func reserveDraws(rows: Int) {
        guard z.count < rows * latent else { return }
        z = Tensor(shape: [rows * latent])
        dStats = Tensor(shape: [rows * 2 * latent])
        divergence = Tensor(shape: [rows])
    }

    /// q(z|x) from the encoder's last hidden layer h (B, in): μ and log σ² (B, k).
    public func encode(_ h: Matrix) -> DiagonalGaussian {
        DiagonalGaussian(packed: heads.forward(h))
    }

    /// `draws` draws z = μ + σ·ε per row of q: noise ε (B·draws, k) → z
    /// (B·draws, k). Keeps q and ε for `backward`.
    public func draw(_ q: DiagonalGaussian, noise eps: Matrix, draws: Int) -> Matrix {
        let k = latent, rows = q.rows * draws
        precondition(q.dimensions == k && eps.rows == rows && eps.columns == k, "noise of the wrong shape")
        reserveDraws(rows: rows)
        let out = z.matrix(rows: rows, columns: k)
        parallelRows(rows, workPerRow: 8 * k) { range in   // exp-bound; many rows for importance sampling
            for r in range {
                let mu = q.mu.row(r / draws), logVar = q.logVar.row(r / draws), e = eps.row(r), zr = out.row(r)
                for j in 0..<k { zr[j] = mu[j] + exp(0.5 * logVar[j]) * e[j] }
            }
        }
        last = (q, eps, out, draws)
        return out
    }

    /// The divergence from the prior N(0, I) of the last draws, (B·draws, 1):
    /// in closed form (one draw per image), or sampled,
    ///
    ///   log q(z|x) − log p(z) = Σ_j (−½ ε_j² − ½ log σ²_j) − Σ_j (−½ z_j²)
    ///
    /// (the 2π terms cancel).
    public func divergence(_ estimate: DivergenceEstimate) -> Matrix {
        guard let (q, eps, z, draws) = last else { preconditionFailure("divergence before draw") }
        lastEstimate = estimate
        switch estimate {
        case .closedForm:
            precondition(draws == 1, "the closed-form KL goes with one draw per image")
            return kl.forward(q)
        case .sampled:
            let out = divergence.pointer, k = latent
            parallelRows(z.rows, workPerRow: 2 * k) { rows in
                for r in rows {
                    let zr = z.row(r)
                    var prior: Float = 0
                    for j in 0..<k { prior -= 0.5 * zr[j] * zr[j] }
                    out[r] = q.logDensityOfDraws(noise: eps, draws: draws, row: r) - prior
                }
            }
            return divergence.matrix(rows: z.rows, columns: 1)
        }
    }

    /// Given dL/dz (B·draws, k) of the reconstruction (overwritten), adds the
    /// divergence's gradient, weight β and each draw's weight w_r (nil: all
    /// 1), and returns dL/dh (B, in) through the heads. `inputGradient: false`
    /// when h is the data itself.
    public func backward(_ dz: Matrix, drawWeights w: UnsafePointer<Float>?, beta: Float, inputGradient: Bool) -> Matrix {
        guard let (q, eps, z, draws) = last else { preconditionFailure("GaussianPosterior.backward before draw") }
        let k = latent, images = q.rows
        let dQ = DiagonalGaussian(packed: dStats.matrix(rows: images, columns: 2 * k))
        switch lastEstimate {
        case .closedForm:
            precondition(w == nil, "the closed-form KL is not weighted per draw")
            for r in 0..<images {
                let logVar = q.logVar.row(r), e = eps.row(r), g = dz.row(r)
                let dMu = dQ.mu.row(r), dLogVar = dQ.logVar.row(r)
                for j in 0..<k {
                    dMu[j] = g[j]
                    dLogVar[j] = g[j] * e[j] * 0.5 * exp(0.5 * logVar[j])
                }
            }
            kl.backward(weight: beta, into: dQ)
        case .sampled:
            // −β w ∂ log p(z)/∂z = β w z, through z; then the draws' own terms.
            for r in 0..<z.rows {
                let g = dz.row(r), zr = z.row(r), wr = w?[r] ?? 1
                for j in 0..<k { g[j] += beta * wr * zr[j] }
            }
            for b in 0..<images {
                let dMu = dQ.mu.row(b), dLogVar = dQ.logVar.row(b), logVar = q.logVar.row(b)
                dMu.update(repeating: 0, count: k)
                dLogVar.update(repeating: 0, count: k)
                for s in 0..<draws {
                    let r = b * draws + s, g = dz.row(r), e = eps.row(r), wr = w?[r] ?? 1
                    for j in 0..<k {
                        dMu[j] += g[j]
                        // log q holds −½ log σ² directly: ∂(β w (log q))/∂ log σ² = −½ β w.
                        var d = g[j] * e[j] * 0.5 * exp(0.5 * logVar[j])
                        d -= 0.5 * beta * wr
                        dLogVar[j] += d
                    }
                }
            }
        }
        return heads.backward(dStats.matrix(rows: images, columns: 2 * k), inputGradient: inputGradient)
    }
}
