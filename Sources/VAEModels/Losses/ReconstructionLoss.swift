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
    private var target: Matrix?

    public init(likelihood: ReconstructionLikelihood) { self.likelihood = likelihood }

    public func reserve(batchSize: Int, features: Int) {
        guard dLogits.count < batchSize * features || perSampleBuffer.count < batchSize else { return }
        dLogits = Tensor(shape: [batchSize * features])
        perSampleBuffer = Tensor(shape: [batchSize])
    }

    /// The loss of each sample of the last forward pass.
    public var perSample: Matrix { perSampleBuffer.matrix(rows: logits?.rows ?? 0, columns: 1) }

    /// Returns Σ over the batch of −log p(x | z).
    public func forward(logits: Matrix, target: Matrix) -> Double {
        precondition(logits.rows == target.rows && logits.columns == target.columns)
        reserve(batchSize: logits.rows, features: logits.columns)
        self.logits = logits
        self.target = target
        var total = 0.0
        for r in 0..<logits.rows {
            let l = logits.row(r), x = target.row(r)
            var s: Float = 0
            switch likelihood {
            case .bernoulli:
                for j in 0..<logits.columns {
                    let v = l[j]
                    s += max(v, 0) - v * x[j] + log1p(exp(-abs(v)))
                }
            case .gaussian:
                for j in 0..<logits.columns {
                    let d = sigmoid(l[j]) - x[j]
                    s += d * d
                }
            }
            perSampleBuffer.pointer[r] = s
            total += Double(s)
        }
        return total
    }

    /// dL/dlogits for the last forward pass, scaled by `scale`.
    public func backward(scale: Float = 1) -> Matrix {
        guard let l = logits, let x = target else { preconditionFailure("backward before forward") }
        let d = dLogits.matrix(rows: l.rows, columns: l.columns)
        let lp = l.pointer, xp = x.pointer, dp = d.pointer
        switch likelihood {
        case .bernoulli:
            for i in 0..<l.count { dp[i] = scale * (sigmoid(lp[i]) - xp[i]) }
        case .gaussian:
            for i in 0..<l.count {
                let p = sigmoid(lp[i])
                dp[i] = scale * 2 * (p - xp[i]) * p * (1 - p)
            }
        }
        return d
    }
}

/// σ(l) = 1 / (1 + e^−l), the Bernoulli mean (the grey level shown for a pixel).
@inline(__always)
public func sigmoid(_ l: Float) -> Float { 1 / (1 + exp(-l)) }
