import VAEEngine

/// The decoder's likelihood p(x | z), chosen with `--loss`.
public enum ReconstructionLikelihood: String, CaseIterable, Sendable {
    /// Bernoulli: −log p(x|z) = BCE(σ(logits), x), summed over pixels.
    case bernoulli = "bce"
    /// Gaussian with fixed variance: Σ (σ(logits) − x)², the sum of squared errors.
    case gaussian = "mse"
}

/// −log p(x | z) of a batch, from the decoder's logits, per sample and summed.
///
/// logits, target: (B, D); `perSample`: (B).
/// Bernoulli, written to be stable for any logit l (no log 0, no overflow):
///   BCE(σ(l), x) = max(l, 0) − l·x + log(1 + e^−|l|),   ∂/∂l = σ(l) − x.
/// Gaussian, with p = σ(l):  (p − x)²,   ∂/∂l = 2 (p − x) · p (1 − p).
public final class ReconstructionLoss {
    public let likelihood: ReconstructionLikelihood
    private var dLogits = Tensor(shape: [0])
    private var perSampleBuffer = Tensor(shape: [0])
    private var logits: Matrix?

    public init(likelihood: ReconstructionLikelihood) { self.likelihood = likelihood }

    public func reserve(batchSize: Int, features: Int) {
        guard dLogits.count < batchSize * features || perSampleBuffer.count < batchSize else { return }
        dLogits = Tensor(shape: [batchSize * features])
        perSampleBuffer = Tensor(shape: [batchSize])
    }

    /// The loss of each sample of the last forward pass.
    public var perSample: Matrix { perSampleBuffer.matrix(rows: logits?.rows ?? 0, columns: 1) }

    /// Returns Σ over the batch of −log p(x | z). The gradient is computed in
    /// the same pass (it shares e^−|l| with the loss) and kept for `backward`.
    public func forward(logits: Matrix, target: Matrix) -> Double {
        precondition(logits.rows == target.rows && logits.columns == target.columns)
        reserve(batchSize: logits.rows, features: logits.columns)
        self.logits = logits
        let d = dLogits.matrix(rows: logits.rows, columns: logits.columns)
        let perSample = perSampleBuffer.pointer, likelihood = likelihood
        parallelRows(logits.rows, workPerRow: logits.columns) { rows in
            for r in rows {
                let l = logits.row(r), x = target.row(r), g = d.row(r)
                var s: Float = 0
                switch likelihood {
                case .bernoulli:
                    for j in 0..<logits.columns {
                        let v = l[j]
                        let e = exp(-abs(v))                  // in (0, 1]: never overflows
                        s += max(v, 0) - v * x[j] + log1p(e)
                        let p = v >= 0 ? 1 / (1 + e) : e / (1 + e)   // σ(v), stable on both sides
                        g[j] = p - x[j]
                    }
                case .gaussian:
                    for j in 0..<logits.columns {
                        let p = sigmoid(l[j])
                        let diff = p - x[j]
                        s += diff * diff
                        g[j] = 2 * diff * p * (1 - p)
                    }
                }
                perSample[r] = s
            }
        }
        // Summed in row order afterwards: the same total for any thread count.
        var total = 0.0
        for r in 0..<logits.rows { total += Double(perSample[r]) }
        return total
    }

    /// dL/dlogits (B, D) of the last forward pass.
    public func backward() -> Matrix {
        guard let l = logits else { preconditionFailure("ReconstructionLoss.backward before forward") }
        return dLogits.matrix(rows: l.rows, columns: l.columns)
    }
}

/// σ(l) = 1 / (1 + e^−l), the Bernoulli mean (the grey level shown for a pixel).
@inline(__always)
public func sigmoid(_ l: Float) -> Float { 1 / (1 + exp(-l)) }
