import VAEEngine

/// The importance-weighted bound (Burda, Grosse & Salakhutdinov 2015, "IWAE"):
/// with K draws z_k = μ + σ·ε_k from q(z|x),
///
///   log w_k = log p(x|z_k) + log p(z_k) − log q(z_k|x)
///           = −recon(x, z_k) + Σ_j (−½ z_kj²) − Σ_j (−½ ε_kj² − ½ log σ²_j)   (the 2π terms cancel)
///   L_K(x) = log (1/K) Σ_k w_k  ≤  log p(x),
///
/// computed with a stable log-sum-exp. K = 1 is the ELBO (with the KL term
/// estimated by sampling); L_K rises towards log p(x) as K grows. Training on
/// −L_K is the IWAE; −L_K with large K (5000 in the papers) is the standard
/// estimate of −log p(x). β, if not 1, weights the prior and posterior terms.
///
/// Its gradient: ∂(−L_K)/∂ log w_k = −w̃_k with w̃ = softmax(log w), so each of
/// the K samples contributes its ELBO gradient scaled by w̃_k.
public extension VAE {
    /// Σ over the batch of −L_K(x). x: (B, D); eps: (B·K, k), K rows per image;
    /// condition (B, classes) for a conditional model (then every bound is given y).
    func forwardImportanceWeighted(_ x: Matrix, condition: Matrix? = nil, samples: Int, noise eps: Matrix,
                                   beta: Float = 1) -> Double {
        let k = configuration.latent, K = samples, B = x.rows, C = configuration.classes
        precondition(eps.rows == B * K && eps.columns == k)
        let stats = encode(x, condition: condition)
        importance.reserve(rows: B * K, images: B, features: x.columns, latent: k, classes: C)
        let statsK = importance.stats.matrix(rows: B * K, columns: 2 * k)
        let targets = importance.targets.matrix(rows: B * K, columns: x.columns)
        let conditionK = importance.conditions.matrix(rows: B * K, columns: C)
        // Each image's K copies; the rows are split between the threads.
        parallelRows(B * K, workPerRow: x.columns) { rows in
            for r in rows {
                let b = r / K
                statsK.row(r).update(from: stats.row(b), count: 2 * k)
                targets.row(r).update(from: x.row(b), count: x.columns)
                if let condition { conditionK.row(r).update(from: condition.row(b), count: C) }
            }
        }
        let z = reparameterization.forward(statsK, eps: eps)
        _ = reconstruction.forward(logits: decode(z, condition: condition == nil ? nil : conditionK), target: targets)
        let recon = reconstruction.perSample
        importance.logWeights.withUnsafeMutableBufferPointer { logWeights in
            let logW = logWeights.baseAddress!
            parallelRows(B * K, workPerRow: 2 * k) { rows in
                for r in rows {
                    let zr = z.row(r), er = eps.row(r), logVar = statsK.row(r) + k
                    var prior: Float = 0, posterior: Float = 0
                    for j in 0..<k {
                        prior -= 0.5 * zr[j] * zr[j]
                        posterior -= 0.5 * er[j] * er[j] + 0.5 * logVar[j]
                    }
                    logW[r] = -Double(recon.pointer[r]) + Double(beta) * Double(prior - posterior)
                }
            }
        }
        var total = 0.0
        let weights = importance.weights.pointer
        importance.logWeights.withUnsafeBufferPointer { logW in
            for b in 0..<B {
                let row = logW.baseAddress! + b * K
                var m = -Double.infinity
                for s in 0..<K { m = max(m, row[s]) }
                var sum = 0.0
                for s in 0..<K { sum += exp(row[s] - m) }
                let bound = m + log(sum / Double(K))
                importance.perImage[b] = -bound
                total -= bound
                for s in 0..<K { weights[b * K + s] = Float(exp(row[s] - m) / sum) }
            }
        }
        importance.last = (B, K, z)
        return total
    }

    /// −L_K of each image of the last `forwardImportanceWeighted`.
    var lastImportanceWeightedPerImage: ArraySlice<Double> {
        importance.perImage.prefix(importance.last?.images ?? 0)
    }

    /// Accumulates the gradient of the last `forwardImportanceWeighted`'s value.
    func backwardImportanceWeighted(beta: Float = 1) {
        guard let (B, K, z) = importance.last else { preconditionFailure("backward before forward") }
        let k = configuration.latent
        let w = importance.weights.pointer
        // Each sample's reconstruction gradient, weighted by w̃.
        let dLogits = reconstruction.backward()
        for r in 0..<(B * K) {
            let row = dLogits.row(r)
            for j in 0..<dLogits.columns { row[j] *= w[r] }
        }
        let dz = backwardDecoder(dLogits)
        // −β w̃ ∂ log p(z)/∂z = β w̃ z.
        for r in 0..<(B * K) {
            let g = dz.row(r), zr = z.row(r)
            for j in 0..<k { g[j] += beta * w[r] * zr[j] }
        }
        let dStatsK = reparameterization.backward(dz)
        // log q holds −½ log σ² directly: ∂(−β w̃ (−log q))/∂ log σ² = −½ β w̃.
        for r in 0..<(B * K) {
            let dLogVar = dStatsK.row(r) + k
            for j in 0..<k { dLogVar[j] -= 0.5 * beta * w[r] }
        }
        // The K copies of each image's statistics share one encoder output.
        let dStats = importance.dStats.matrix(rows: B, columns: 2 * k)
        dStats.fill(0)
        for b in 0..<B {
            let out = dStats.row(b)
            for s in 0..<K {
                let g = dStatsK.row(b * K + s)
                for j in 0..<(2 * k) { out[j] += g[j] }
            }
        }
        backwardEncoder(dStats)
    }
}

/// Buffers for the importance-weighted bound, grown to the largest B·K seen.
struct ImportanceBuffers {
    var stats = Tensor(shape: [0])
    var targets = Tensor(shape: [0])
    var conditions = Tensor(shape: [0])
    var logWeights: [Double] = []
    var perImage: [Double] = []
    var weights = Tensor(shape: [0])
    var dStats = Tensor(shape: [0])
    var last: (images: Int, samples: Int, z: Matrix)?

    mutating func reserve(rows: Int, images: Int, features: Int, latent: Int, classes: Int) {
        if conditions.count < rows * classes { conditions = Tensor(shape: [rows * classes]) }
        if stats.count < rows * 2 * latent { stats = Tensor(shape: [rows * 2 * latent]) }
        if targets.count < rows * features { targets = Tensor(shape: [rows * features]) }
        if logWeights.count < rows { logWeights = [Double](repeating: 0, count: rows) }
        if weights.count < rows { weights = Tensor(shape: [rows]) }
        if dStats.count < images * 2 * latent { dStats = Tensor(shape: [images * 2 * latent]) }
        if perImage.count < images { perImage = [Double](repeating: 0, count: images) }
    }
}
