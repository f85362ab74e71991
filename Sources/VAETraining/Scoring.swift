import VAEEngine
import VAEModels

/// What makes an image anomalous to a VAE.
public enum AnomalyMetric: String, CaseIterable, Sendable {
    /// −ELBO in nats: reconstruction + KL, with z drawn from q(z|x)
    /// (averaged over `samples` draws from a seeded generator).
    case nelbo
    /// The reconstruction term alone, −log p(x | z = μ): deterministic.
    case recon
    /// The importance-weighted estimate of −log p(x) with `samples` draws
    /// (Burda et al. 2015): the tightest of the three, and the slowest.
    case iw
}

/// One anomaly score per image (higher = more anomalous), in the model's own loss.
public func anomalyScores(model: VAE, images: [[Float]], conditions: [[Float]]? = nil, metric: AnomalyMetric,
                          samples: Int = 1, seed: UInt64 = 0) -> [Double] {
    precondition(samples >= 1)
    let k = model.configuration.latent
    var rng = RandomGenerator(seed: seed, stream: .evaluation)
    var scores: [Double] = []
    scores.reserveCapacity(images.count)
    var noise = Tensor(shape: [0])
    if metric == .iw {
        // Batches of a few thousand latent draws, decoded as one product.
        model.forEachBatch(of: images, conditions: conditions, width: model.configuration.inputSize,
                           batchSize: max(1, model.importanceRows / samples)) { x, c in
            scores += importanceWeightedBounds(model: model, x: x, condition: c, samples: samples, rng: &rng, noise: &noise)
        }
        return scores
    }
    model.forEachBatch(of: images, conditions: conditions, width: model.configuration.inputSize,
                       batchSize: model.inferenceBatch) { x, c in
        if noise.count < x.rows * k { noise = Tensor(shape: [x.rows * k]) }
        let eps = noise.matrix(rows: x.rows, columns: k)
        var sums = [Double](repeating: 0, count: x.rows)
        for _ in 0..<(metric == .recon ? 1 : samples) {
            if metric == .recon { eps.fill(0) } else { rng.fillNormal(eps.pointer, count: eps.count) }
            _ = model.forward(x, condition: c, noise: eps)
            let recon = model.lastReconstructionPerSample, kl = model.lastKLPerSample
            for r in 0..<x.rows {
                sums[r] += Double(recon.pointer[r]) + (metric == .nelbo ? Double(kl.pointer[r]) : 0)
            }
        }
        scores += sums.map { $0 / Double(metric == .recon ? 1 : samples) }
    }
    return scores
}
