import VAEEngine

/// KL(q(z|x) ‖ N(0, I)) for a diagonal Gaussian q = N(μ, diag σ²), in closed
/// form (Kingma & Welling 2013, appendix B):
///
///   KL = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)
///   ∂KL/∂μ_j = μ_j,   ∂KL/∂log σ²_j = ½ (σ²_j − 1)
///
/// stats: (B, 2k), each row [μ (k) | log σ² (k)]; `perSample`: (B).
public final class GaussianKL {
    private var perSampleBuffer = Tensor(shape: [0])
    private var stats: Matrix?

    public init() {}

    public var perSample: Matrix { perSampleBuffer.matrix(rows: stats?.rows ?? 0, columns: 1) }

    /// Returns Σ over the batch of the KL divergence.
    public func forward(_ stats: Matrix) -> Double {
        if perSampleBuffer.count < stats.rows { perSampleBuffer = Tensor(shape: [stats.rows]) }
        self.stats = stats
        let k = stats.columns / 2
        var total = 0.0
        for r in 0..<stats.rows {
            let mu = stats.row(r), logVar = mu + k
            var s: Float = 0
            for j in 0..<k { s += 1 + logVar[j] - mu[j] * mu[j] - exp(logVar[j]) }
            perSampleBuffer.pointer[r] = -0.5 * s
            total += Double(-0.5 * s)
        }
        return total
    }

    /// Adds weight · ∂KL/∂stats into `dStats` (B, 2k); `weight` is β.
    public func backward(into dStats: Matrix, weight: Float) {
        guard let stats else { preconditionFailure("GaussianKL.backward before forward") }
        precondition(dStats.rows == stats.rows && dStats.columns == stats.columns)
        let k = stats.columns / 2
        for r in 0..<stats.rows {
            let mu = stats.row(r), logVar = mu + k
            let dMu = dStats.row(r), dLogVar = dMu + k
            for j in 0..<k {
                dMu[j] += weight * mu[j]
                dLogVar[j] += weight * 0.5 * (exp(logVar[j]) - 1)
            }
        }
    }
}
