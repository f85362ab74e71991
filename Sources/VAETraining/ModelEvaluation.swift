import Foundation
import VAEData
import VAEEngine
import VAEModels

/// A model measured the way the papers measure it (`vae eval`).
public struct ModelEvaluation {
    /// Negative ELBO with its two terms (one draw of z per image, analytic KL).
    public let terms: ELBOTerms
    /// Mean KL(q(z_j|x) ‖ N(0, 1)) of each latent dimension.
    public let klPerDimension: [Double]
    /// Dimensions with Cov_x(E_q[z_j | x]) > 0.01 (Burda et al. 2015, §5.1).
    public let activeUnits: Int
    /// −(1/n) Σ_x log (1/K Σ_k p(x, z_k)/q(z_k|x)), or nil when K = 0.
    public let importanceWeightedNLL: Double?
    public let importanceSamples: Int
    public let importanceSeconds: Double
}

/// Each pixel set to 1 with probability equal to its intensity, from a fixed
/// seed: the same binarised set every time (`--binarize fixed`).
public func binarized(_ set: ImageSet, seed: UInt64) -> ImageSet {
    var rng = RandomGenerator(seed: seed, stream: .binarization, index: 0)
    let pixels = set.pixels.map { rng.uniform() < Float($0) / 255 ? UInt8(255) : 0 }
    return ImageSet(pixels: pixels, count: set.count, rows: set.rows, columns: set.columns, labels: set.labels)
}

/// Measures `model` on `images`. With `importanceSamples` K > 0, also the
/// importance-weighted estimate of −log p(x): each chunk of images is
/// decoded as one matrix product over all its K·images latent draws.
/// `progress` is told how many images the estimate has covered.
public func evaluateModel(_ model: VAE, images: ImageSet, seed: UInt64, importanceSamples K: Int = 0,
                          progress: ((Int) -> Void)? = nil) -> ModelEvaluation {
    let terms = evaluate(model: model, images: images, seed: seed)
    let k = model.configuration.latent
    let codes = model.encodings(ImageInputs.pixels(of: images),
                                conditions: model.conditions(of: images))
    let n = Double(codes.count)
    var mean = [Double](repeating: 0, count: k), square = [Double](repeating: 0, count: k), kl = [Double](repeating: 0, count: k)
    for code in codes {
        for j in 0..<k {
            let mu = Double(code.mu[j]), logVar = Double(code.logVar[j])
            mean[j] += mu / n
            square[j] += mu * mu / n
            kl[j] += 0.5 * (mu * mu + exp(logVar) - 1 - logVar) / n
        }
    }
    let active = (0..<k).filter { square[$0] - mean[$0] * mean[$0] > 0.01 }.count

    var nll: Double?
    let start = DispatchTime.now().uptimeNanoseconds
    if K > 0 {
        let d = images.pixelsPerImage
        let chunk = max(1, model.importanceRows / K)   // images per product: many when K is small
        let input = Tensor(shape: [chunk, d])
        var noise = Tensor(shape: [0])
        let labels = ConditionBuffer(classes: model.configuration.classes, batchSize: chunk)
        model.reserve(batchSize: min(chunk * K, model.importanceRowLimit))
        var rng = RandomGenerator(seed: seed, stream: .evaluation, index: 1)
        var total = 0.0
        for lower in stride(from: 0, to: images.count, by: chunk) {
            let upper = min(lower + chunk, images.count)
            let x = input.matrix(rows: upper - lower, columns: d)
            images.gather(lower..<upper, into: x.pointer)
            total += importanceWeightedBounds(model: model, x: x, condition: labels.rows(of: images, lower..<upper),
                                              samples: K, rng: &rng, noise: &noise).reduce(0, +)
            progress?(upper)
        }
        nll = total / Double(images.count)
    }
    return ModelEvaluation(terms: terms, klPerDimension: kl, activeUnits: active, importanceWeightedNLL: nll,
                           importanceSamples: K, importanceSeconds: seconds(since: start))
}
