import VAEData
import VAEEngine
import VAEModels

/// New images from the prior: z ~ p(z | y), decoded to the likelihood's
/// means σ(logits), as 8-bit pictures. A conditional model draws image i
/// as `labels[i]` (p(x|z, y)); an unconditional one takes no labels.
/// With a temperature T ≠ 1: a VQ-VAE's prior draws from softmax(logits / T),
/// a Gaussian prior gives z ~ N(μ_y, T²σ_y²), N(0, T²I) for the usual one
/// (as Kingma & Dhariwal 2018 sample Glow).
public func sampleImages(model: any VariationalModel, count: Int, labels: [Int]? = nil, seed: UInt64, temperature: Float = 1) -> [Picture] {
    precondition(model.priorProblem == nil, model.priorProblem ?? "")
    precondition(temperature == 1 || model.hasGaussianPrior || model is VQVAE, "temperature without a Gaussian or code prior")
    precondition(labels == nil || labels?.count == count)
    precondition((labels != nil) == model.configuration.isConditional, "labels go with a conditional model")
    let k = model.latentSize
    let conditions = labels.flatMap(model.conditions(labels:))
    let z = Tensor(shape: [count, k])
    let labelBuffer = ConditionBuffer(classes: model.configuration.classes, batchSize: count)
    var rng = RandomGenerator(seed: seed, stream: .sampling)
    (model as? VQVAE)?.temperature = temperature
    let condition = labelBuffer.rows(conditions.map { $0[...] }), draws = z.matrix(rows: count, columns: k)
    if temperature != 1 && model.hasGaussianPrior {
        rng.fillNormal(z.pointer, count: z.count)
        for i in 0..<z.count { z.pointer[i] *= temperature }
        model.placeInPrior(draws, condition: condition)
    } else {
        model.drawPrior(into: draws, condition: condition, rng: &rng)
    }
    let latents = (0..<count).map { Array(UnsafeBufferPointer(start: z.pointer + $0 * k, count: k)) }
    return model.decodedPictures(latents, conditions: conditions)
}

public extension VariationalModel {
    /// Standard-normal coordinates u → z = μ_y + σ_y ⊙ u of a Gaussian prior,
    /// one condition per row (none for an unconditional model): u itself for
    /// N(0, I).
    func priorPoints(_ u: [[Float]], conditions: [[Float]]?) -> [[Float]] {
        precondition(hasGaussianPrior && u.allSatisfy { $0.count == latentSize })
        let k = latentSize, z = Tensor(shape: [max(1, u.count * k)])
        for (r, row) in u.enumerated() { (z.pointer + r * k).update(from: row, count: k) }
        let labelBuffer = ConditionBuffer(classes: configuration.classes, batchSize: u.count)
        placeInPrior(z.matrix(rows: u.count, columns: k), condition: labelBuffer.rows(conditions.map { $0[...] }))
        return (0..<u.count).map { Array(UnsafeBufferPointer(start: z.pointer + $0 * k, count: k)) }
    }
}

/// The manifold picture of a 2-D latent space (Kingma & Welling 2013, fig. 4):
/// z on a `side` x `side` grid at evenly spaced quantiles of N(0, 1), so the
/// grid covers the prior's mass evenly (u of `priorPoints` for a learned
/// class prior). Oriented like a plot of the latent
/// means (`vae encode --plot`): z₀ grows to the right, z₁ upwards.
public func manifoldLatents(side: Int) -> [[Float]] {
    let q = (0..<side).map { i in Float(normalQuantile((Double(i) + 0.5) / Double(side))) }
    return q.reversed().flatMap { z1 in q.map { z0 in [z0, z1] } }
}

/// Φ⁻¹(p) by bisection on the error function: slow but exact enough, and only
/// called a few dozen times.
public func normalQuantile(_ p: Double) -> Double {
    precondition(p > 0 && p < 1)
    var (lower, upper) = (-10.0, 10.0)
    for _ in 0..<100 {
        let mid = (lower + upper) / 2
        if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lower = mid } else { upper = mid }
    }
    return (lower + upper) / 2
}
