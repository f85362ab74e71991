import Foundation
import VAEEngine
import VAEModels

/// The importance-weighted estimate of −log p(x), image by image, with
/// bounded memory whatever K (Burda et al. 2015; the bound itself is
/// `Objective`'s).
public final class ImportanceSampler {
    public let model: any VariationalModel
    public let samples: Int
    /// One objective per slice size (K, and the last slice's).
    private var objectives: [Int: Objective] = [:]
    private var noise = Tensor(shape: [0])

    public init(model: any VariationalModel, samples: Int) {
        precondition(samples >= 1 && model.noisePerDraw > 0, "importance sampling needs K ≥ 1 draws from q")
        self.model = model
        self.samples = samples
        model.reserve(batchSize: min(imagesPerBatch * samples, model.importanceRowLimit))
    }

    /// Images per batch: several when K is small, so a few thousand draws
    /// are decoded as one product.
    public var imagesPerBatch: Int { max(1, model.importanceRows / samples) }

    /// −L_K of each image of x (B rows; K draws each, ε taken from `rng` in
    /// order, K rows per image). When B·K draws exceed the model's limit (B is
    /// then 1), the image's draws are taken in slices of S_j and combined:
    ///
    ///   L_K = log Σ_j (S_j / K) · exp(L_{S_j}),
    ///
    /// with a log-sum-exp.
    public func bounds(_ x: Matrix, condition: Matrix?, rng: inout RandomGenerator) -> [Double] {
        let limit = model.importanceRowLimit
        guard x.rows * samples > limit else { return bounds(x, condition: condition, draws: samples, rng: &rng) }
        precondition(x.rows == 1, "split draws one image at a time")
        // log (S_j/K) + L_{S_j} for each slice, then their log-sum-exp.
        var terms: [Double] = []
        var done = 0
        while done < samples {
            let slice = min(limit, samples - done)
            terms.append(log(Double(slice) / Double(samples)) - bounds(x, condition: condition, draws: slice, rng: &rng)[0])
            done += slice
        }
        let m = terms.max()!
        return [-(m + log(terms.reduce(0) { $0 + exp($1 - m) }))]
    }

    private func bounds(_ x: Matrix, condition: Matrix?, draws: Int, rng: inout RandomGenerator) -> [Double] {
        let width = model.noisePerDraw
        if noise.count < x.rows * draws * width { noise = Tensor(shape: [x.rows * draws * width]) }
        let eps = noise.matrix(rows: x.rows * draws, columns: width)
        rng.fillNormal(eps.pointer, count: eps.count)
        let objective = objectives[draws] ?? Objective(.importanceWeighted(samples: draws), model: model)
        objectives[draws] = objective
        _ = objective.forward(Batch(input: x, condition: condition), noise: eps)
        return Array(objective.lastBoundPerImage)
    }
}
