import Foundation
import VAEEngine

/// A batch of diagonal Gaussians N(μ, diag σ²), one per row: μ and log σ²
/// (B, k) each, as views (usually the two halves of a posterior's
/// [μ | log σ²] rows, so no copy is made). The same shape serves for their
/// gradients, dL/dμ and dL/dlog σ².
public struct DiagonalGaussian {
    public let mu: ColumnSlice
    public let logVar: ColumnSlice

    public init(mu: ColumnSlice, logVar: ColumnSlice) {
        precondition(mu.rows == logVar.rows && mu.columns == logVar.columns, "μ and log σ² of different shapes")
        self.mu = mu
        self.logVar = logVar
    }

    /// The halves of packed rows [μ | log σ²] (B, 2k).
    public init(packed: Matrix) {
        precondition(packed.columns % 2 == 0, "packed [μ | log σ²] rows have an even width")
        let k = packed.columns / 2
        self.init(mu: ColumnSlice(packed, columns: 0..<k), logVar: ColumnSlice(packed, columns: k..<(2 * k)))
    }

    public var rows: Int { mu.rows }
    public var dimensions: Int { mu.columns }

    /// log q(z|·) of each row's draws written through their noise, z = μ + σ·ε:
    ///   log N(z; μ, σ²) = Σ_j (−½ ε_j² − ½ log σ²_j) − (k/2) log 2π,
    /// without the constant (it cancels against log p(z) in a log weight).
    /// Row r of `eps` (B·draws, k) is a draw of Gaussian r / draws.
    public func logDensityOfDraws(noise eps: ColumnSlice, draws: Int, row r: Int) -> Float {
        let logVar = self.logVar.row(r / draws), e = eps.row(r)
        var s: Float = 0
        for j in 0..<dimensions { s -= 0.5 * e[j] * e[j] + 0.5 * logVar[j] }
        return s
    }

    /// log N(z; μ, σ²) of a point z (k values) under row r without the
    /// −(k/2) log 2π (as `logDensityOfDraws`, for a log weight):
    /// −½ Σ_j (log σ²_j + (z_j − μ_j)² / σ²_j).
    public func logDensityWithoutConstant(of z: UnsafePointer<Float>, row r: Int) -> Float {
        let mu = self.mu.row(r), logVar = self.logVar.row(r)
        var s: Float = 0
        for j in 0..<dimensions {
            let d = z[j] - mu[j]
            s -= 0.5 * (logVar[j] + d * d * exp(-logVar[j]))
        }
        return s
    }

    /// Adds the gradient of −c · log N(z; μ, σ²) under row r: c (z − μ) / σ²
    /// to `dz`, and to row r of `gradient` ∂/∂μ = −c (z − μ) / σ² and
    /// ∂/∂log σ² = ½ c (1 − (z − μ)² / σ²).
    public func accumulateNegativeLogDensityGradient(at z: UnsafePointer<Float>, row r: Int, weight c: Float,
                                                     dz: UnsafeMutablePointer<Float>, into gradient: DiagonalGaussian) {
        let mu = self.mu.row(r), logVar = self.logVar.row(r)
        let dMu = gradient.mu.row(r), dLogVar = gradient.logVar.row(r)
        for j in 0..<dimensions {
            let precision = exp(-logVar[j]), d = z[j] - mu[j]
            dz[j] += c * d * precision
            dMu[j] -= c * d * precision
            dLogVar[j] += c * 0.5 * (1 - d * d * precision)
        }
    }

    /// log N(z; μ, σ²) of an arbitrary point z (k values) under row r, with the
    /// constant: −½ Σ_j (log 2π + log σ²_j + (z_j − μ_j)² / σ²_j).
    public func logDensity(of z: UnsafePointer<Float>, row r: Int) -> Double {
        let mu = self.mu.row(r), logVar = self.logVar.row(r)
        var s = 0.0
        for j in 0..<dimensions {
            let d = Double(z[j] - mu[j])
            s -= 0.5 * (log(2 * Double.pi) + Double(logVar[j]) + d * d / exp(Double(logVar[j])))
        }
        return s
    }

    /// Adds each dimension's KL(N(μ_j, σ²_j) ‖ N(0, 1)) = ½ (μ_j² + σ²_j − 1 − log σ²_j),
    /// in Double and divided by `count`, over every row into `sums` (k): the
    /// mean KL per dimension that `vae eval` reports.
    public func accumulateKLPerDimension(into sums: inout [Double], count: Int) {
        precondition(sums.count == dimensions)
        let n = Double(count)
        for r in 0..<rows {
            let mu = self.mu.row(r), logVar = self.logVar.row(r)
            for j in 0..<dimensions {
                let m = Double(mu[j]), lv = Double(logVar[j])
                sums[j] += 0.5 * (m * m + exp(lv) - 1 - lv) / n
            }
        }
    }
}
