import VAEEngine

/// A corruption process p(x̃|x) for the denoising criterion (Im, Ahn,
/// Memisevic & Bengio 2017, "Denoising Criterion for Variational
/// Auto-Encoding Framework"): the encoder sees x̃, the likelihood still
/// scores the clean x, so the model is trained on
///
///   E_{p(x̃|x)} E_{q(z|x̃)} [log p(x|z) + log p(z) − log q(z|x̃)].
///
/// `vae train --corrupt` corrupts every training input afresh each time it
/// is drawn; `vae reconstruct` corrupts its inputs the same way. Pixels are
/// intensities in [0, 1]; each image is corrupted pixel by pixel in order
/// from a generator, so the result depends only on the generator's state.
public enum Corruption: Equatable, Sendable {
    /// x̃ = clip(x + σ ε, 0, 1), ε ~ N(0, 1) per pixel.
    case noise(Float)
    /// Each pixel set to 0 with probability p.
    case mask(Float)
    /// Each pixel set to 0 with probability p/2 and to 1 with probability p/2.
    case saltAndPepper(Float)

    /// "noise:0.2", "mask:0.4" or "saltpepper:0.1" (σ in [0, 10], p in [0, 1]);
    /// nil for anything else.
    public init?(spec: String) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let value = Float(parts[1]), value.isFinite, value >= 0 else { return nil }
        switch parts[0] {
        case "noise" where value <= 10: self = .noise(value)
        case "mask" where value <= 1: self = .mask(value)
        case "saltpepper" where value <= 1: self = .saltAndPepper(value)
        default: return nil
        }
    }

    /// What `init(spec:)` accepts, for error messages.
    public static let specHelp = "noise:σ (σ in 0...10), mask:p or saltpepper:p (p in 0...1)"

    /// As written in checkpoints and accepted by `--corrupt`.
    public var spec: String {
        switch self {
        case .noise(let sigma): "noise:\(sigma)"
        case .mask(let p): "mask:\(p)"
        case .saltAndPepper(let p): "saltpepper:\(p)"
        }
    }

    /// x̃ for each row of x (B, D), written to `out` (not x itself). Row r has
    /// a generator of its own, seeded by `rng`'s r-th draw, so the rows are
    /// split between the threads and the result is the same for any thread
    /// count (a batch's 100k normal draws on one core were a third of a
    /// training step).
    public func apply(_ x: Matrix, into out: Matrix, rng: inout RandomGenerator) {
        precondition(x.rows == out.rows && x.columns == out.columns && x.pointer != out.pointer)
        let seeds = (0..<x.rows).map { _ in rng.next() }
        parallelRows(x.rows, workPerRow: 16 * x.columns) { rows in
            for r in rows {
                var rowGenerator = RandomGenerator(seed: seeds[r])
                apply(x.row(r), into: out.row(r), count: x.columns, rng: &rowGenerator)
            }
        }
    }

    /// x̃ for one image of `count` pixels (`out` is not x).
    public func apply(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int, rng: inout RandomGenerator) {
        switch self {
        case .noise(let sigma):
            // The image's ε in one call: the generator gives them in pairs.
            rng.fillNormal(out, count: count)
            for j in 0..<count { out[j] = min(max(x[j] + sigma * out[j], 0), 1) }
        case .mask(let p):
            for j in 0..<count { out[j] = rng.uniform() < p ? 0 : x[j] }
        case .saltAndPepper(let p):
            for j in 0..<count {
                let u = rng.uniform()
                out[j] = u < p ? (u < p / 2 ? 0 : 1) : x[j]
            }
        }
    }
}
