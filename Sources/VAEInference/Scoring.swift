import VAEEngine
import VAEModels

/// What makes an image anomalous to a VAE.
public enum AnomalyMetric: String, CaseIterable, Sendable {
    /// The bound on −log p(x) in nats (−ELBO: reconstruction + KL), with z
    /// drawn from q(z|x) (averaged over `samples` draws from a seeded generator).
    /// For a VQ-VAE, −log p(x|z_q) − log p(z_q) under its PixelCNN prior.
    case nelbo
    /// The reconstruction term alone, −log p(x | z) at the posterior's centre
    /// (z = μ: zero noise): deterministic.
    case recon
    /// The importance-weighted estimate of −log p(x) with `samples` draws
    /// (Burda et al. 2015): the tightest of the three, and the slowest.
    case iw
    /// Input complexity corrected (Serrà et al., ICLR 2020, "Input complexity
    /// and out-of-distribution detection with likelihood-based generative
    /// models", eq. 2): S(x) = −log p(x) − L(x), L(x) the image's length
    /// under a lossless compressor in nats (`compressedLength`). Simple
    /// images (a 1) are likely under any model; S asks how much more likely
    /// the model finds x than a generic compressor does.
    case complexity
    /// The likelihood ratio (Ren et al., NeurIPS 2019, "Likelihood ratios for
    /// out-of-distribution detection", eq. 5): −log p(x) + log p_bg(x), with
    /// p_bg a background model of the same architecture trained on images
    /// with a share of their pixels replaced at random (`vae train --perturb`):
    /// it captures the population's background statistics, so the ratio
    /// keeps what is specific to the data.
    case ratio
    /// The distance from the encoder's features of the image to the k-th
    /// nearest of the training images' features, each scaled to unit length
    /// (`FeatureNeighbours`: Sun et al., ICML 2022). Not a likelihood: it
    /// asks whether the encoder puts x where it puts the data it trained on.
    case knn

    /// Whether it needs a background model.
    public var needsBackground: Bool { self == .ratio }
    /// Whether it needs the training images' encoder features.
    public var needsNeighbours: Bool { self == .knn }

    /// The model's own score this metric is, or nil for those composed from
    /// one (complexity and ratio, built on `ModelScore.likelihood(of:)`).
    public var modelScore: ModelScore? {
        switch self {
        case .nelbo: .nelbo
        case .recon: .recon
        case .iw: .iw
        case .complexity, .ratio, .knn: nil
        }
    }
}

/// The scores a model gives an image by itself, in its own loss: what every
/// anomaly metric is, or is built from.
public enum ModelScore: Sendable {
    case nelbo, recon, iw

    /// The estimate of −log p(x) that complexity and ratio correct: the
    /// importance-weighted one where the model draws z, else its bound (a VQ-VAE's).
    public static func likelihood(of model: any VariationalModel) -> ModelScore { model.noisePerDraw > 0 ? .iw : .nelbo }
}

/// One anomaly score per image (higher = more anomalous), in the model's own loss.
public func anomalyScores(model: any VariationalModel, images: [[Float]], conditions: [[Float]]? = nil, metric: ModelScore,
                          samples: Int = 1, seed: UInt64 = 0) -> [Double] {
    precondition(samples >= 1)
    var rng = RandomGenerator(seed: seed, stream: .evaluation)
    var scores: [Double] = []
    scores.reserveCapacity(images.count)
    if metric == .iw {
        let width = model.configuration.inputSize
        return ImportanceSampler(model: model, samples: samples).bounds(count: images.count, seed: seed) { range, x, c in
            for (r, i) in range.enumerated() {
                precondition(images[i].count == width, "a row of \(images[i].count) values where the model takes \(width)")
                images[i].withUnsafeBufferPointer { x.row(r).update(from: $0.baseAddress!, count: width) }
                if let c, let conditions { conditions[i].withUnsafeBufferPointer { c.row(r).update(from: $0.baseAddress!, count: c.columns) } }
            }
        }
    }
    if let vq = model as? VQVAE {
        // Deterministic: the posterior is one grid of codes.
        vq.forEachBatch(of: images, conditions: conditions, width: vq.configuration.inputSize, batchSize: vq.inferenceBatch) { x, c in
            let (reconstruction, prior) = metric == .recon ? (vq.bound(reconstructionOnly: x), nil) : vq.bound(x, condition: c)
            scores += (0..<x.rows).map { reconstruction[$0] + (prior?[$0] ?? 0) }
        }
        return scores
    }
    let objective = Objective(.elbo, model: model)
    let width = model.noisePerDraw
    var noise = Tensor(shape: [0])
    model.forEachBatch(of: images, conditions: conditions, width: model.configuration.inputSize,
                       batchSize: model.inferenceBatch) { x, c in
        if noise.count < x.rows * width { noise = Tensor(shape: [x.rows * width]) }
        let eps = noise.matrix(rows: x.rows, columns: width)
        let draws = metric == .recon ? 1 : samples
        var sums = [Double](repeating: 0, count: x.rows)
        for _ in 0..<draws {
            if metric == .recon { eps.fill(0) } else { rng.fillNormal(eps.pointer, count: eps.count) }
            let batch = Batch(input: x, condition: c)
            if metric == .recon {
                let drawn = model.forward(batch, noise: eps, draws: 1, estimate: .closedForm, training: false)
                for (t, term) in drawn.terms.enumerated() where term.role == .reconstruction {
                    for r in 0..<x.rows { sums[r] += Double(drawn.values[t].pointer[r]) }
                }
            } else {
                _ = objective.forward(batch, noise: eps, training: false)
                for (r, bound) in objective.lastBoundPerImage.enumerated() { sums[r] += bound }
            }
        }
        scores += sums.map { $0 / Double(draws) }
    }
    return scores
}
