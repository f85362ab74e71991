import VAEEngine

/// The bottleneck of a VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017, §3.1):
/// each of the encoder's D-vectors z_e (one per grid position) is replaced by
/// its nearest code,
///
///   k = argmin_j ‖z_e − e_j‖²,   z_q = e_k,
///
/// the distances for the whole batch as one product: ‖z_e‖² − 2 z_e·e_j + ‖e_j‖²
/// (the first term is the same for every j, so only the last two decide).
/// Ties go to the lower index.
///
/// The decoder reads z_q; the argmin has no gradient, so the decoder's dL/dz_q
/// is passed to z_e unchanged (the straight-through estimator, eq. 3). The loss
/// adds, per image, summed over positions and dimensions (eq. 3):
///
///   ‖sg(z_e) − e‖²  (codebook: moves the codes)  +  β ‖z_e − sg(e)‖²  (commitment: the encoder)
///
/// Both have the value d = Σ‖z_e − z_q‖², so the term reported is d and its
/// weight in the loss 1 + β. With a moving-average codebook (Appendix A.1)
/// the codebook loss is dropped (weight β) and each step sets, for γ the decay,
///
///   N_j ← γ N_j + (1 − γ) n_j,   m_j ← γ m_j + (1 − γ) Σ_{z_e → j} z_e,   e_j = m_j / N_j,
///
/// with n_j the batch's vectors assigned to j. A code whose N_j falls below 1
/// (on average less than one vector per batch) is dead: it restarts at the
/// batch's vector worst served by the codebook (largest ‖z_e − z_q‖²), with
/// N_j = 1, so no code stays unused.
///
/// z_e and z_q are (B, D·P), channel-major like a convolution's output.
/// Parameters: `codebook.weight` (K, D), PyTorch's `nn.Embedding`; with a
/// moving average also `codebook.ema_count` (K) and `codebook.ema_sum` (K, D),
/// which no gradient reaches.
public final class VectorQuantiser {
    public let codes: Int
    public let dimensions: Int
    public let positions: Int
    public let commitment: Float
    public let emaDecay: Float?
    let codebook: Matrix
    let dCodebook: Matrix
    let emaCount: Matrix?
    let emaSum: Matrix?

    /// z_e position-major (B·P, D), kept for backward.
    private var encoded = Tensor(shape: [0])
    /// The chosen codes, and e_k per position (B·P, D).
    private var chosen: [Int32] = []
    private var quantisedRows = Tensor(shape: [0])
    /// z_q (B, D·P), what the decoder reads.
    private var quantised = Tensor(shape: [0])
    private var scores = Tensor(shape: [0])
    private var codeNorms: [Float] = []
    /// d per image.
    private var distance = Tensor(shape: [0])
    private var dEncoded = Tensor(shape: [0])
    private var rows = 0

    public static func specs(codes: Int, dimensions: Int, movingAverage: Bool) -> [ParameterSpec] {
        [ParameterSpec(name: "codebook.weight", shape: [codes, dimensions])]
            + (movingAverage ? [ParameterSpec(name: "codebook.ema_count", shape: [codes]),
                                ParameterSpec(name: "codebook.ema_sum", shape: [codes, dimensions])] : [])
    }

    public init(store: ParameterStore, positions: Int, commitment: Float, emaDecay: Float?) {
        codebook = store.values("codebook.weight")
        dCodebook = store.gradients("codebook.weight")
        codes = codebook.rows
        dimensions = codebook.columns
        self.positions = positions
        self.commitment = commitment
        self.emaDecay = emaDecay
        if emaDecay != nil {
            emaCount = store.values("codebook.ema_count")
            let sum = store.values("codebook.ema_sum")
            emaSum = Matrix(sum.pointer, rows: codes, columns: dimensions)
        } else {
            emaCount = nil
            emaSum = nil
        }
    }

    /// The reference implementation's U(−1/K, 1/K); a moving average starts
    /// as if each code had been assigned one vector, itself.
    public func initialize(using rng: inout RandomGenerator) {
        let bound = 1 / Float(codes)
        for i in 0..<codebook.count { codebook.pointer[i] = rng.uniform(-bound, bound) }
        if let emaCount, let emaSum {
            emaCount.fill(1)
            emaSum.copy(from: codebook)
        }
    }

    /// Vectors whose distances to the codes are computed per product: at
    /// most about 2M scores at once, whatever the batch and the codebook.
    var scoreRows: Int { max(1, (1 << 21) / codes) }

    public func reserve(rows: Int) {
        let n = rows * positions
        guard chosen.count < n else { return }
        encoded = Tensor(shape: [n * dimensions])
        quantisedRows = Tensor(shape: [n * dimensions])
        quantised = Tensor(shape: [n * dimensions])
        dEncoded = Tensor(shape: [n * dimensions])
        scores = Tensor(shape: [min(n, scoreRows) * codes])
        distance = Tensor(shape: [rows])
        chosen = [Int32](repeating: 0, count: n)
    }

    /// The term per image: d = Σ‖z_e − z_q‖² (B, 1), of the last `quantise`.
    public var perImage: Matrix { distance.matrix(rows: rows, columns: 1) }

    /// The codes of the last `quantise`, image by image in raster order (B·P).
    public var lastCodes: ArraySlice<Int32> { chosen.prefix(rows * positions) }

    /// z_e (B, D·P) → z_q (B, D·P), remembering the codes and d per image.
    public func quantise(_ ze: Matrix) -> Matrix {
        precondition(ze.columns == dimensions * positions)
        reserve(rows: ze.rows)
        rows = ze.rows
        let n = rows * positions, P = positions, D = dimensions, K = codes
        let e = encoded.matrix(rows: n, columns: D)
        transposePlanes(ze, into: e)
        if codeNorms.count != K { codeNorms = [Float](repeating: 0, count: K) }
        for j in 0..<K {
            var s: Float = 0
            for d in 0..<D { s += codebook.pointer[j * D + d] * codebook.pointer[j * D + d] }
            codeNorms[j] = s
        }
        let q = quantisedRows.matrix(rows: n, columns: D)
        for lower in stride(from: 0, to: n, by: scoreRows) {
            let upper = min(n, lower + scoreRows)
            let s = scores.matrix(rows: upper - lower, columns: K)
            matrixProduct(Matrix(e.row(lower), rows: upper - lower, columns: D), .none, codebook, .transposed, into: s)
            codeNorms.withUnsafeBufferPointer { norms in
                chosen.withUnsafeMutableBufferPointer { chosen in
                    parallelRows(upper - lower, workPerRow: K + D) { range in
                        for r in range {
                            let row = s.row(r)
                            var best = 0, bestValue = norms[0] - 2 * row[0]
                            for j in 1..<K {
                                let value = norms[j] - 2 * row[j]
                                if value < bestValue { best = j; bestValue = value }
                            }
                            chosen[lower + r] = Int32(best)
                            q.row(lower + r).update(from: codebook.row(best), count: D)
                        }
                    }
                }
            }
        }
        for b in 0..<rows {
            var total: Float = 0
            for r in (b * P)..<((b + 1) * P) {
                let a = e.row(r), c = q.row(r)
                for d in 0..<D { total += (a[d] - c[d]) * (a[d] - c[d]) }
            }
            distance.pointer[b] = total
        }
        let zq = quantised.matrix(rows: rows, columns: D * P)
        untransposePlanes(q, into: zq)
        return zq
    }

    /// The code vectors of given codes: codes (B·P) → z_q (B, D·P).
    public func embed(_ indices: UnsafePointer<Int32>, images: Int, into zq: Matrix) {
        precondition(zq.rows == images && zq.columns == dimensions * positions)
        let P = positions
        for b in 0..<images {
            for p in 0..<P {
                let code = codebook.row(Int(indices[b * P + p]))
                for d in 0..<dimensions { zq.row(b)[d * P + p] = code[d] }
            }
        }
    }

    /// dL/dz_e from the decoder's dL/dz_q: straight through, plus the
    /// commitment's 2β(z_e − z_q) scaled by the term's weight per image
    /// (`termWeights`, nil: 1). Accumulates the codebook loss's gradient
    /// 2(e_k − z_e) into the codebook, or with a moving average updates it.
    public func backward(_ dzq: Matrix, termWeights: UnsafePointer<Float>?) -> Matrix {
        let n = rows * positions, P = positions, D = dimensions
        let e = encoded.matrix(rows: n, columns: D), q = quantisedRows.matrix(rows: n, columns: D)
        let de = dEncoded.matrix(rows: n, columns: D)
        transposePlanes(dzq, into: de)
        for b in 0..<rows {
            let w = termWeights?[b] ?? 1
            let toEncoder = 2 * commitment * w, toCodebook = 2 * w
            for r in (b * P)..<((b + 1) * P) {
                let a = e.row(r), c = q.row(r), g = de.row(r)
                for d in 0..<D { g[d] += toEncoder * (a[d] - c[d]) }
                if emaDecay == nil {
                    let dc = dCodebook.row(Int(chosen[r]))
                    for d in 0..<D { dc[d] += toCodebook * (c[d] - a[d]) }
                }
            }
        }
        if let decay = emaDecay { updateMovingAverages(decay: decay) }
        let dze = quantised.matrix(rows: rows, columns: D * P)   // z_q is no longer needed
        untransposePlanes(de, into: dze)
        return dze
    }

    /// Appendix A.1's update from the last batch's assignments, then dead codes restarted.
    private func updateMovingAverages(decay gamma: Float) {
        guard let emaCount, let emaSum else { return }
        let n = rows * positions, D = dimensions, K = codes
        let e = encoded.matrix(rows: n, columns: D), q = quantisedRows.matrix(rows: n, columns: D)
        var counts = [Float](repeating: 0, count: K)
        var sums = [Float](repeating: 0, count: K * D)
        for r in 0..<n {
            let j = Int(chosen[r])
            counts[j] += 1
            for d in 0..<D { sums[j * D + d] += e.row(r)[d] }
        }
        for j in 0..<K {
            emaCount.pointer[j] = gamma * emaCount.pointer[j] + (1 - gamma) * counts[j]
            for d in 0..<D { emaSum.row(j)[d] = gamma * emaSum.row(j)[d] + (1 - gamma) * sums[j * D + d] }
        }
        // The batch's vectors, worst served first, for the dead codes to restart at.
        let dead = (0..<K).filter { emaCount.pointer[$0] < 1 }
        if !dead.isEmpty {
            var errors = [(Float, Int)]()
            errors.reserveCapacity(n)
            for r in 0..<n {
                var s: Float = 0
                for d in 0..<D { s += (e.row(r)[d] - q.row(r)[d]) * (e.row(r)[d] - q.row(r)[d]) }
                errors.append((s, r))
            }
            errors.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            for (j, (_, r)) in zip(dead, errors) {
                emaCount.pointer[j] = 1
                emaSum.row(j).update(from: e.row(r), count: D)
            }
        }
        for j in 0..<K {
            let count = emaCount.pointer[j]
            for d in 0..<D { codebook.row(j)[d] = emaSum.row(j)[d] / count }
        }
    }

    /// (B, D·P) channel planes → (B·P, D) rows, one per position.
    private func transposePlanes(_ planes: Matrix, into positionRows: Matrix) {
        let P = positions, D = dimensions
        parallelRows(planes.rows, workPerRow: D * P) { images in
            for b in images {
                let src = planes.row(b)
                for p in 0..<P {
                    let dst = positionRows.row(b * P + p)
                    for d in 0..<D { dst[d] = src[d * P + p] }
                }
            }
        }
    }

    /// (B·P, D) → (B, D·P).
    private func untransposePlanes(_ positionRows: Matrix, into planes: Matrix) {
        let P = positions, D = dimensions
        parallelRows(planes.rows, workPerRow: D * P) { images in
            for b in images {
                let dst = planes.row(b)
                for p in 0..<P {
                    let src = positionRows.row(b * P + p)
                    for d in 0..<D { dst[d * P + p] = src[d] }
                }
            }
        }
    }
}

/// How evenly a batch of codes uses the codebook: the perplexity exp(H) of
/// the codes' frequencies (K when all are used equally, 1 for one code), and
/// the number of codes used at all.
public struct CodebookUsage: Equatable, Sendable {
    public let perplexity: Double
    public let codesInUse: Int

    public init(counts: [Int]) {
        let total = Double(counts.reduce(0, +))
        var entropy = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / total
            entropy -= p * log(p)
        }
        perplexity = total > 0 ? exp(entropy) : 0
        codesInUse = counts.filter { $0 > 0 }.count
    }
}
