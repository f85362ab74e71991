import Foundation
import VAEEngine
import VAEModels

/// −L_K of each image of x (B rows; K draws each, ε taken from `rng` in
/// order, K rows per image). When B·K draws exceed the model's limit (B is
/// then 1), the image's draws are taken in slices of S_j and combined:
///
///   L_K = log Σ_j (S_j / K) · exp(L_{S_j}),
///
/// with a log-sum-exp, so memory stays bounded whatever K.
func importanceWeightedBounds(model: VAE, x: Matrix, condition: Matrix?, samples K: Int,
                              rng: inout RandomGenerator, noise: inout Tensor) -> [Double] {
    let k = model.configuration.latent, limit = model.importanceRowLimit
    func bounds(_ x: Matrix, samples: Int) -> [Double] {
        if noise.count < x.rows * samples * k { noise = Tensor(shape: [x.rows * samples * k]) }
        let eps = noise.matrix(rows: x.rows * samples, columns: k)
        rng.fillNormal(eps.pointer, count: eps.count)
        _ = model.forwardImportanceWeighted(x, condition: condition, samples: samples, noise: eps)
        return Array(model.lastImportanceWeightedPerImage)
    }
    guard x.rows * K > limit else { return bounds(x, samples: K) }
    precondition(x.rows == 1, "split draws one image at a time")
    // log (S_j/K) + L_{S_j} for each slice, then their log-sum-exp.
    var terms: [Double] = []
    var done = 0
    while done < K {
        let slice = min(limit, K - done)
        terms.append(log(Double(slice) / Double(K)) - bounds(x, samples: slice)[0])
        done += slice
    }
    let m = terms.max()!
    return [-(m + log(terms.reduce(0) { $0 + exp($1 - m) }))]
}
