import Foundation
import VAEData
import VAEEngine
import VAEModels

/// A model measured the way the papers measure it (`vae eval`).
public struct ModelEvaluation {
    /// The ELBO's terms (one draw of z per image, divergences in closed form).
    public let terms: LossTerms
    /// Each stochastic layer's figures, the one nearest the data first.
    public let layers: [LatentStatistics]
    /// −(1/n) Σ_x log (1/K Σ_k p(x, z_k)/q(z_k|x)), or nil when K = 0.
    public let importanceWeightedNLL: Double?
    public let importanceSamples: Int
    public let importanceSeconds: Double
}

/// What the encoder does with one stochastic layer over a data set.
public struct LatentStatistics: Equatable {
    public let dimensions: Int
    /// Mean KL(q(z_j|x) ‖ N(0, 1)) of each dimension for a one-layer Gaussian
    /// posterior; nil where the ELBO's KL does not split so (a prior
    /// p(z1|z2); a flow, which mixes the dimensions): the ELBO's total for
    /// each layer is then the figure.
    public let klPerDimension: [Double]?
    /// Dimensions with Cov_x(E_q[z_j | x]) > 0.01 (Burda et al. 2015, §5.1).
    /// E_q[z|x] is the posterior mean; for a second layer, the mean of
    /// q(z2|z1) at z1 = E[z1|x]; after a flow, the flow of q0's mean.
    public var activeUnits: Int { activity.filter { $0 > Self.activityThreshold }.count }
    /// Cov_x(E_q[z_j | x]) of each dimension, the statistic active units count.
    public let activity: [Double]
    public static let activityThreshold = 0.01
}

/// Each stochastic layer's KL per dimension and active units over `images`.
public func latentStatistics(_ model: any VariationalModel, images: ImageSet) -> [LatentStatistics] {
    var kl: [[Double]] = [], mean: [[Double]] = [], square: [[Double]] = []
    let n = Double(images.count)
    let flow = model.configuration.flow != nil
    model.forEachBatch(of: images, batchSize: model.inferenceBatch) { x, condition, _ in
        let encoding = model.encode(x, condition: condition)
        if kl.isEmpty {
            kl = encoding.layers.map { [Double](repeating: 0, count: $0.dimensions) }
            (mean, square) = (kl, kl)
        }
        for (i, q) in encoding.layers.enumerated() {
            q.accumulateKLPerDimension(into: &kl[i], count: images.count)
            for r in 0..<q.rows {
                let point = flow && i == 0 ? encoding.point.row(r) : q.mu.row(r)
                for j in 0..<q.dimensions {
                    let m = Double(point[j])
                    mean[i][j] += m / n
                    square[i][j] += m * m / n
                }
            }
        }
    }
    return kl.indices.map { i in
        // A flow's KL is not q0's; a second layer's KL is taken at a drawn
        // z1 in the ELBO, not at the mean these statistics use.
        let splitsByDimension = !flow && kl.count == 1
        return LatentStatistics(dimensions: kl[i].count, klPerDimension: splitsByDimension ? kl[i] : nil,
                                activity: kl[i].indices.map { square[i][$0] - mean[i][$0] * mean[i][$0] })
    }
}

/// The ELBO's terms over `images` (one draw of z per image, from a generator
/// made afresh from `seed`, so every evaluation of a model gives the same number).
public func evaluate(model: any VariationalModel, images: ImageSet, seed: UInt64, batchSize: Int? = nil) -> LossTerms {
    let objective = Objective(.elbo, model: model)
    let batch = min(batchSize ?? model.inferenceBatch, images.count)
    let noise = Tensor(shape: [batch, model.noisePerDraw])
    var rng = RandomGenerator(seed: seed, stream: .evaluation)
    var totals = LossTerms(objective.terms)
    model.forEachBatch(of: images, batchSize: batch) { x, condition, _ in
        let eps = noise.matrix(rows: x.rows, columns: model.noisePerDraw)
        rng.fillNormal(eps.pointer, count: eps.count)
        totals = totals + objective.forward(Batch(input: x, condition: condition), noise: eps, training: false)
    }
    return totals
}

/// Measures `model` on `images`. With `importanceSamples` K > 0, also the
/// importance-weighted estimate of −log p(x) (`ImportanceSampler`).
/// `progress` is told how many images the estimate has covered.
public func evaluateModel(_ model: any VariationalModel, images: ImageSet, seed: UInt64, importanceSamples K: Int = 0,
                          progress: ((Int) -> Void)? = nil) -> ModelEvaluation {
    let terms = evaluate(model: model, images: images, seed: seed)
    let layers = latentStatistics(model, images: images)

    var nll: Double?
    let start = DispatchTime.now().uptimeNanoseconds
    if K > 0 {
        let bounds = ImportanceSampler(model: model, samples: K).bounds(of: images, seed: seed, progress: progress)
        // Summed in image order: the same total for any thread count.
        nll = bounds.reduce(0, +) / Double(images.count)
    }
    return ModelEvaluation(terms: terms, layers: layers, importanceWeightedNLL: nll, importanceSamples: K,
                           importanceSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
