import Foundation
import VAEEngine

/// The objective a model is trained or measured on, for any family.
///
/// The ELBO (Kingma & Welling 2013): one draw of z per image and the
/// divergences in closed form; the terms are summed over the batch.
///
/// The importance-weighted bound (Burda, Grosse & Salakhutdinov 2015,
/// "IWAE"): with K draws z_k ~ q(z|x), each draw's terms give its log weight
///
///   log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x) = −Σ_t weight_t(β) · term_t(z_k)
///
/// (the divergences sampled, log q − log p at z_k), and
///
///   L_K(x) = log (1/K) Σ_k w_k  ≤  log p(x),
///
/// computed with a stable log-sum-exp. K = 1 is the ELBO with its KL
/// estimated by sampling; L_K rises towards log p(x) as K grows. Training
/// on −L_K is the IWAE; −L_K with large K (5000 in the papers) is the
/// standard estimate of −log p(x). β, if not 1, weights the divergences.
///
/// Its gradient: ∂(−L_K)/∂ log w_k = −w̃_k with w̃ = softmax(log w), so each
/// draw contributes the gradient of its terms scaled by w̃_k: the model's
/// `backward` with those draw weights.
public final class Objective {
    public enum Kind: Equatable, Sendable {
        case elbo
        case importanceWeighted(samples: Int)
    }

    public let kind: Kind
    public let model: any VariationalModel
    private var logWeights: [Double] = []
    private var weights = Tensor(shape: [0])
    private var perImage: [Double] = []
    private var lastImages = 0

    public init(_ kind: Kind, model: any VariationalModel) {
        if case .importanceWeighted(let k) = kind { precondition(k >= 1, "at least one importance sample") }
        self.kind = kind
        self.model = model
    }

    /// Draws of z per image.
    public var draws: Int {
        switch kind {
        case .elbo: 1
        case .importanceWeighted(let k): k
        }
    }

    /// The named terms `forward` returns.
    public var terms: [LossTerm] {
        switch kind {
        case .elbo: model.lossTerms(.closedForm)
        case .importanceWeighted: [.importanceWeightedBound]
        }
    }

    /// The objective's terms summed over the batch; noise (B·draws, noisePerDraw).
    /// With `training`, keeps what `backward` needs; a measurement passes false.
    public func forward(_ batch: Batch, noise: Matrix, beta: Float = 1, training: Bool = true) -> LossTerms {
        let B = batch.count
        switch kind {
        case .elbo:
            let drawn = model.forward(batch, noise: noise, draws: 1, estimate: .closedForm, training: training)
            if perImage.count < B { perImage = [Double](repeating: 0, count: B) }
            // Each term summed in row order: the same total for any thread count.
            var sums = [Double](repeating: 0, count: drawn.terms.count)
            for (t, values) in drawn.values.enumerated() {
                for r in 0..<B { sums[t] += Double(values.pointer[r]) }
            }
            for r in 0..<B {
                var bound = 0.0
                for (t, term) in drawn.terms.enumerated() where term.isPartOfBound { bound += Double(drawn.values[t].pointer[r]) }
                perImage[r] = bound
            }
            lastImages = B
            return LossTerms(drawn.terms, sums: sums, count: B)
        case .importanceWeighted(let K):
            let total = importanceWeighted(batch, noise: noise, samples: K, beta: beta, training: training)
            return LossTerms([.importanceWeightedBound], sums: [total], count: B)
        }
    }

    /// Each image's bound of the last `forward`: −ELBO (its bound terms at
    /// the draw), or −L_K.
    public var lastBoundPerImage: ArraySlice<Double> { perImage.prefix(lastImages) }

    /// Accumulates the gradient of the last `forward`'s value (its loss with this β).
    public func backward(beta: Float = 1) {
        switch kind {
        case .elbo: model.backward(drawWeights: nil, beta: beta)
        case .importanceWeighted: model.backward(drawWeights: weights.pointer, beta: beta)
        }
    }

    /// Σ over the batch of −L_K(x), keeping the normalised weights w̃ for `backward`.
    private func importanceWeighted(_ batch: Batch, noise: Matrix, samples K: Int, beta: Float, training: Bool) -> Double {
        let B = batch.count, rows = B * K
        let drawn = model.forward(batch, noise: noise, draws: K, estimate: .sampled, training: training)
        if logWeights.count < rows { logWeights = [Double](repeating: 0, count: rows) }
        if weights.count < rows { weights = Tensor(shape: [rows]) }
        if perImage.count < B { perImage = [Double](repeating: 0, count: B) }
        let factors = drawn.terms.map { $0.weight(beta: Double(beta)) }
        logWeights.withUnsafeMutableBufferPointer { logWeights in
            let logW = logWeights.baseAddress!
            parallelRows(rows, workPerRow: 2 * drawn.terms.count) { range in
                for r in range {
                    var value = 0.0
                    for (t, values) in drawn.values.enumerated() { value -= factors[t] * Double(values.pointer[r]) }
                    logW[r] = value
                }
            }
        }
        var total = 0.0
        let w = weights.pointer
        logWeights.withUnsafeBufferPointer { logW in
            for b in 0..<B {
                let row = logW.baseAddress! + b * K
                var m = -Double.infinity
                for s in 0..<K { m = max(m, row[s]) }
                var sum = 0.0
                for s in 0..<K { sum += exp(row[s] - m) }
                let bound = m + log(sum / Double(K))
                perImage[b] = -bound
                total -= bound
                for s in 0..<K { w[b * K + s] = Float(exp(row[s] - m) / sum) }
            }
        }
        lastImages = B
        return total
    }
}
