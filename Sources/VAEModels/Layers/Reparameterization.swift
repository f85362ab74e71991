import VAEEngine

/// The reparameterisation trick (Kingma & Welling 2013, §2.4): a draw from
/// q(z|x) = N(μ, σ²) written as a differentiable function of the encoder's
/// output and outside noise ε ~ N(0, I):
///
///   z = μ + exp(½ log σ²) · ε
///   ∂z/∂μ = 1,   ∂z/∂log σ² = ½ exp(½ log σ²) · ε
///
/// stats: (B, 2k) rows [μ | log σ²], eps: (B, k), z: (B, k).
public final class Reparameterization {
    private var z = Tensor(shape: [0])
    private var dStats = Tensor(shape: [0])
    private var stats: Matrix?
    private var eps: Matrix?

    public init() {}

    public func reserve(batchSize: Int, latent: Int) {
        guard z.count < batchSize * latent else { return }
        z = Tensor(shape: [batchSize * latent])
        dStats = Tensor(shape: [batchSize * 2 * latent])
    }

    public func forward(_ stats: Matrix, eps: Matrix) -> Matrix {
        let k = stats.columns / 2
        precondition(eps.rows == stats.rows && eps.columns == k)
        reserve(batchSize: stats.rows, latent: k)
        self.stats = stats
        self.eps = eps
        let out = z.matrix(rows: stats.rows, columns: k)
        parallelRows(stats.rows, workPerRow: 8 * k) { rows in   // exp-bound; many rows for importance sampling
            for r in rows {
                let mu = stats.row(r), logVar = mu + k, e = eps.row(r), zr = out.row(r)
                for j in 0..<k { zr[j] = mu[j] + exp(0.5 * logVar[j]) * e[j] }
            }
        }
        return out
    }

    /// Returns dL/dstats (B, 2k) for dL/dz (B, k). The buffer is overwritten,
    /// so the KL term can then add its own gradient into it.
    public func backward(_ dz: Matrix) -> Matrix {
        guard let stats, let eps else { preconditionFailure("Reparameterization.backward before forward") }
        let k = dz.columns
        let out = dStats.matrix(rows: dz.rows, columns: 2 * k)
        for r in 0..<dz.rows {
            let logVar = stats.row(r) + k, e = eps.row(r), g = dz.row(r)
            let dMu = out.row(r), dLogVar = dMu + k
            for j in 0..<k {
                dMu[j] = g[j]
                dLogVar[j] = g[j] * e[j] * 0.5 * exp(0.5 * logVar[j])
            }
        }
        return out
    }
}
