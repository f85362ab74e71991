import VAEEngine

/// KL divergences between diagonal Gaussians in closed form, one per row.
///
/// To the standard normal (Kingma & Welling 2013, appendix B), the VAE's prior:
///
///   KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)
///   ∂/∂μ_j = μ_j,   ∂/∂log σ²_j = ½ (σ²_j − 1)
///
/// Between two diagonal Gaussians q = N(μ_q, σ_q²) and p = N(μ_p, σ_p²), as a
/// model with two stochastic layers needs (q(z1|x) against p(z1|z2)):
///
///   KL(q ‖ p) = ½ Σ_j (log σ_p² − log σ_q² + (σ_q² + (μ_q − μ_p)²) / σ_p² − 1)
///   ∂/∂μ_q = (μ_q − μ_p) / σ_p²,           ∂/∂μ_p = −∂/∂μ_q
///   ∂/∂log σ_q² = ½ (σ_q² / σ_p² − 1),     ∂/∂log σ_p² = ½ (1 − (σ_q² + (μ_q − μ_p)²) / σ_p²)
public final class GaussianKL {
    private var perRowBuffer = Tensor(shape: [0])
    private var last: (q: DiagonalGaussian, p: DiagonalGaussian?)?

    public init() {}

    /// KL of each row of the last `forward`, (B, 1).
    public var perRow: Matrix { perRowBuffer.matrix(rows: last?.q.rows ?? 0, columns: 1) }

    /// KL(q ‖ p) per row, or KL(q ‖ N(0, I)) when `p` is nil. Keeps the views for `backward`.
    @discardableResult
    public func forward(_ q: DiagonalGaussian, to p: DiagonalGaussian? = nil) -> Matrix {
        precondition(p == nil || (p!.rows == q.rows && p!.dimensions == q.dimensions), "KL between different shapes")
        if perRowBuffer.count < q.rows { perRowBuffer = Tensor(shape: [q.rows]) }
        last = (q, p)
        let k = q.dimensions, out = perRowBuffer.pointer
        for r in 0..<q.rows {
            let mu = q.mu.row(r), logVar = q.logVar.row(r)
            var s: Float = 0
            if let p {
                let muP = p.mu.row(r), logVarP = p.logVar.row(r)
                for j in 0..<k {
                    let d = mu[j] - muP[j]
                    s += logVarP[j] - logVar[j] + (exp(logVar[j]) + d * d) / exp(logVarP[j]) - 1
                }
                out[r] = 0.5 * s
            } else {
                for j in 0..<k { s += 1 + logVar[j] - mu[j] * mu[j] - exp(logVar[j]) }
                out[r] = -0.5 * s
            }
        }
        return perRow
    }

    /// Adds weight · ∂KL/∂q into `dQ`, and weight · ∂KL/∂p into `dP` when the
    /// last forward had a p; `weight` is β.
    public func backward(weight: Float, into dQ: DiagonalGaussian, prior dP: DiagonalGaussian? = nil) {
        guard let (q, p) = last else { preconditionFailure("GaussianKL.backward before forward") }
        precondition(dQ.rows == q.rows && dQ.dimensions == q.dimensions)
        precondition((p == nil) == (dP == nil), "a gradient for p exactly when the KL had a p")
        let k = q.dimensions
        for r in 0..<q.rows {
            let mu = q.mu.row(r), logVar = q.logVar.row(r)
            let dMu = dQ.mu.row(r), dLogVar = dQ.logVar.row(r)
            if let p, let dP {
                let muP = p.mu.row(r), logVarP = p.logVar.row(r)
                let dMuP = dP.mu.row(r), dLogVarP = dP.logVar.row(r)
                for j in 0..<k {
                    let precision = exp(-logVarP[j]), d = mu[j] - muP[j], varQ = exp(logVar[j])
                    dMu[j] += weight * d * precision
                    dMuP[j] -= weight * d * precision
                    dLogVar[j] += weight * 0.5 * (varQ * precision - 1)
                    dLogVarP[j] += weight * 0.5 * (1 - (varQ + d * d) * precision)
                }
            } else {
                for j in 0..<k {
                    dMu[j] += weight * mu[j]
                    dLogVar[j] += weight * 0.5 * (exp(logVar[j]) - 1)
                }
            }
        }
    }
}
