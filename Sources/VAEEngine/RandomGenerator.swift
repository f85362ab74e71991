/// The one random number generator of `vae`: xoshiro256** (Blackman & Vigna,
/// 2018), seeded through SplitMix64. Every command that draws random numbers
/// makes one from `--seed`, and separate purposes (initialisation, shuffling,
/// the ε of the reparameterisation, evaluation) use separate `stream`s, so
/// changing how many numbers one purpose draws never shifts another.
///
/// The generator is fully specified here (no platform RNG), so the same seed
/// gives the same numbers on every machine.
public struct RandomGenerator {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        var x = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    @inline(__always)
    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1), 24 random bits (every Float32 step of that range).
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire's method).
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold { product = next().multipliedFullWidth(by: b) }
        }
        return Int(product.high)
    }

    /// Fills `out` with N(0, 1) draws: Box–Muller in Double, two per pair of
    /// uniforms u1 ∈ (0, 1], u2 ∈ [0, 1),
    ///
    ///   √(−2 log u1) cos 2πu2,   √(−2 log u1) sin 2πu2,
    ///
    /// each rounded to Float from libm's double (computed in SIMD lanes with
    /// the same result, `normalPairs`), so the sequence depends only on the
    /// seed and the count: not on the thread count (the pairs are split as
    /// `fillPairs` says), nor on the build.
    public mutating func fillNormal(_ out: UnsafeMutablePointer<Float>, count: Int) {
        fillPairs(count: count) { generator, range in generator.normalPairs(range, into: out, count: count) }
    }

    /// Runs `fill(generator, pairs)` over the (count + 1) / 2 pairs of values,
    /// split across the BLAS threads when there are enough: each part starts
    /// from a copy of this generator stepped past the two uniforms of every
    /// pair before it, so every pair gets the uniforms it would get in one
    /// sequential pass, and this generator ends where that pass would leave it.
    mutating func fillPairs(count: Int, _ fill: (inout RandomGenerator, Range<Int>) -> Void) {
        let pairs = (count + 1) / 2, start = self
        var end = self
        withUnsafeMutablePointer(to: &end) { end in
            parallelRows(pairs, workPerRow: 64) { range in
                var generator = start
                for _ in 0..<(2 * range.lowerBound) { _ = generator.next() }
                fill(&generator, range)
                if range.upperBound == pairs { end.pointee = generator }
            }
        }
        self = end
    }

    /// Fisher–Yates shuffle of 0..<count.
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) { p.swapAt(i, integer(below: i + 1)) }
        }
        return p
    }
}

/// Named streams, so every purpose draws from its own sequence.
public enum RandomStream: UInt64 {
    case initialisation = 1, shuffle = 2, noise = 3, evaluation = 4, sampling = 5, corruption = 6, augmentation = 7, binarization = 8,
         split = 9,
         /// One per image (its index) for the importance-weighted estimate's draws.
         importance = 10,
         /// A VQ-VAE's prior: its initialisation, and the order of its training batches.
         priorInitialisation = 11, priorShuffle = 12,
         /// The pixels a background model's training replaces (`vae train --perturb`).
         perturbation = 13,
         /// The units a prior's training drops (`vae train-prior --dropout`), one per step, block and image.
         priorDropout = 14,
         /// How far each training image is moved, per epoch, for a prior's training (`vae train-prior --shift`).
         priorShift = 15
}

public extension RandomGenerator {
    init(seed: UInt64, stream: RandomStream, index: UInt64 = 0) {
        self.init(seed: seed, stream: stream.rawValue &* 1_000_003 &+ index)
    }
}
