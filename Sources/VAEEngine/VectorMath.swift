/// Eight-lane versions of the few transcendental functions the per-pixel
/// passes need (the Bernoulli loss and the decoded means). glibc's `expf` and
/// `log1pf` are scalar calls, ~5 ns each: over a 128 × 784 batch that was a
/// sixth of the training step. These are a few FMAs per lane, accurate to
/// ~1–2 ulp (checked against libm in VectorMathTests), like the vectorised
/// functions PyTorch uses.
public typealias FloatLanes = SIMD8<Float>

#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// √x for every lane. The standard library's `SIMD.squareRoot()` takes each
/// lane through the C library's scalar `sqrtf` (with its errno check), which
/// made Adam's update compute-bound; SSE's `sqrtps` is the same IEEE square
/// root, four lanes per instruction.
@inlinable @inline(__always)
public func squareRoot(_ x: FloatLanes) -> FloatLanes {
    #if arch(x86_64)
    FloatLanes(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
    #else
    x.squareRoot()
    #endif
}

/// e^x for x ≤ 0 (Cephes' expf): x = n ln 2 + r with |r| ≤ ½ ln 2, e^r by a
/// degree-6 polynomial, and 2ⁿ put into the exponent bits. Arguments below
/// −87.3 (where e^x leaves the normal floats) give e^−87.3 ≈ 1.2e−38.
/// Written with lane-wise arithmetic, compares and bit casts only: the
/// standard library's generic SIMD `rounded`, `pointwiseMin` and integer
/// conversions compile to per-lane calls.
@inlinable @inline(__always)
public func exponentialOfNonPositive(_ x: FloatLanes) -> FloatLanes { exponentialOfNonPositive(x, fused: false) }

/// a · b + c, rounded once (one FMA instruction) when `fused` and the
/// build targets a processor with FMA (`VAE_FMA`, see Package.swift), else
/// rounded twice as written. Training's passes keep `fused` false, so they
/// are the same bits on any build; measurement-only passes may fuse.
@inlinable @inline(__always)
public func multiplyAdd(_ a: FloatLanes, _ b: FloatLanes, _ c: FloatLanes, fused: Bool) -> FloatLanes {
    #if VAE_FMA
    if fused { return c.addingProduct(a, b) }
    #endif
    return a * b + c
}

/// e^x for x ≤ 0 as above; with `fused`, its polynomial in FMAs (a
/// different rounding: for passes that train nothing).
@inlinable @inline(__always)
public func exponentialOfNonPositive(_ x: FloatLanes, fused: Bool) -> FloatLanes {
    let x = x.replacing(with: -87.3, where: x .< -87.3)
    // Adding 1.5 · 2²³ rounds x · log₂e to the nearest integer n and leaves n
    // in the low bits of the sum; subtracting it again gives n as a float.
    let shifted = x * 1.44269504088896341 + 12_582_912
    let n = shifted - 12_582_912
    // ln 2 split in two so n · ln 2 is subtracted without rounding error.
    let r = x - n * 0.693359375 + n * 2.12194440e-4
    var p = FloatLanes(repeating: 1.9875691500e-4)
    p = multiplyAdd(p, r, FloatLanes(repeating: 1.3981999507e-3), fused: fused)
    p = multiplyAdd(p, r, FloatLanes(repeating: 8.3334519073e-3), fused: fused)
    p = multiplyAdd(p, r, FloatLanes(repeating: 4.1665795894e-2), fused: fused)
    p = multiplyAdd(p, r, FloatLanes(repeating: 1.6666665459e-1), fused: fused)
    p = multiplyAdd(p, r, FloatLanes(repeating: 5.0000001201e-1), fused: fused)
    let er = multiplyAdd(p, r * r, r, fused: fused) + 1
    let integerN = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    return er * unsafeBitCast((integerN &+ 127) &<< 23, to: FloatLanes.self)
}

/// log(1 + e) for e in [0, 1] without a division, for the measurement-only
/// Bernoulli loss: e · q(e), q a degree-9 polynomial fitted to log(1 + e)/e
/// at 2,000 Chebyshev nodes of [0, 1] (relative error 5e−9 in exact
/// arithmetic; in Float within 2 ulp), by FMAs where the build has them.
@inlinable @inline(__always)
public func logOnePlusUnitFused(_ e: FloatLanes) -> FloatLanes {
    var q = FloatLanes(repeating: -0.003256378462538123)
    q = multiplyAdd(q, e, FloatLanes(repeating: 0.019907161593437195), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: -0.057064201682806015), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: 0.10614264756441116), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: -0.15311862528324127), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: 0.19678117334842682), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: -0.24954558908939362), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: 0.33330005407333374), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: -0.4999990463256836), fused: true)
    q = multiplyAdd(q, e, FloatLanes(repeating: 1.0), fused: true)
    return e * q
}

/// log p for finite p ≥ 1 (a product of factors in [1, 2]): p = 2^k · m
/// with m ∈ [1, 2) read from the bits, log p = k ln 2 + log(1 + (m − 1)),
/// ln 2 split in two so k ln 2 carries no rounding of its own.
@inlinable @inline(__always)
public func logarithmOfAtLeastOne(_ p: FloatLanes) -> FloatLanes {
    let bits = unsafeBitCast(p, to: SIMD8<Int32>.self)
    // The biased exponent e (8 bits) as a float: the bits of 2²³ + e, less 2²³.
    let biased = unsafeBitCast((bits &>> 23) | 0x4B00_0000, to: FloatLanes.self) - 8_388_608
    let k = biased - 127
    let mantissa = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F80_0000, to: FloatLanes.self)
    return k * 0.693359375 - k * 2.12194440e-4 + logOnePlusUnitFused(mantissa - 1)
}

/// −|x| for every lane (the sign bit set).
@inlinable @inline(__always)
public func negativeMagnitude(_ x: FloatLanes) -> FloatLanes {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) | 0x8000_0000, to: FloatLanes.self)
}

/// max(x, 0) for every lane (NaN stays NaN).
@inlinable @inline(__always)
public func positivePart(_ x: FloatLanes) -> FloatLanes {
    x.replacing(with: 0, where: x .< 0)
}

/// log(1 + e) for e in [0, 1], as 2 atanh(s) with s = e / (2 + e) ∈ [0, ⅓]:
///   log(1 + e) = 2 (s + s³/3 + s⁵/5 + … + s¹⁵/15) + O(s¹⁷).
/// Exact in relative terms for tiny e too (where 1 + e would round to 1).
@inlinable @inline(__always)
public func logOnePlusUnit(_ e: FloatLanes) -> FloatLanes {
    let s = e / (2 + e), s2 = s * s
    var p = FloatLanes(repeating: 1.0 / 15)
    p = p * s2 + 1.0 / 13
    p = p * s2 + 1.0 / 11
    p = p * s2 + 1.0 / 9
    p = p * s2 + 1.0 / 7
    p = p * s2 + 1.0 / 5
    p = p * s2 + 1.0 / 3
    // 2s exactly, plus a correction below 4% of it, so the correction's own
    // rounding barely shows.
    let twoS = 2 * s
    return twoS + twoS * s2 * p
}

/// σ(l) = 1 / (1 + e^−l) for every lane, stable on both sides: with
/// e = e^−|l| ∈ (0, 1], σ(l) = 1 / (1 + e) for l ≥ 0 and e / (1 + e) below.
@inlinable @inline(__always)
public func sigmoid(_ l: FloatLanes, expMinusAbs e: FloatLanes) -> FloatLanes {
    FloatLanes(repeating: 1).replacing(with: e, where: l .< 0) / (1 + e)
}

@inlinable @inline(__always)
public func sigmoid(_ l: FloatLanes) -> FloatLanes {
    sigmoid(l, expMinusAbs: exponentialOfNonPositive(negativeMagnitude(l)))
}

/// σ(l) of one value, computed in the lanes so a scalar and a vector pass
/// agree bit for bit.
@inlinable @inline(__always)
public func sigmoid(_ l: Float) -> Float { sigmoid(FloatLanes(repeating: l))[0] }

/// tanh(x) for every lane (Cephes' tanhf): for |x| < 0.625 the odd
/// polynomial x + x³ P(x²), where 1 − e^−2|x| would cancel; beyond it
/// (1 − e) / (1 + e) with e = e^−2|x| ≤ 0.29, and the sign of x.
@inlinable @inline(__always)
public func hyperbolicTangent(_ x: FloatLanes) -> FloatLanes {
    let z = x * x
    var p = FloatLanes(repeating: -5.70498872745e-3)
    p = p * z + 2.06390887954e-2
    p = p * z - 5.37397155531e-2
    p = p * z + 1.33314422036e-1
    p = p * z - 3.33332819422e-1
    let small = p * z * x + x
    let e = exponentialOfNonPositive(2 * negativeMagnitude(x))
    let magnitude = (1 - e) / (1 + e)
    let signBits = unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x8000_0000
    let large = unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<UInt32>.self) | signBits, to: FloatLanes.self)
    return large.replacing(with: small, where: z .< 0.625 * 0.625)
}

extension SIMD8 where Scalar == Float {
    /// The eight floats at `p`.
    @inlinable @inline(__always)
    public init(loading p: UnsafePointer<Float>) {
        self = UnsafeRawPointer(p).loadUnaligned(as: Self.self)
    }

    /// The `count` (≤ 8 is allowed) floats at `p`, the missing lanes zero.
    /// A short load builds its vector on the stack: keep it out of hot loops
    /// (whole blocks of eight there, the short one after them).
    @inlinable @inline(__always)
    public init(loading p: UnsafePointer<Float>, count: Int) {
        if count >= 8 { self.init(loading: p); return }
        self.init(repeating: 0)
        for j in 0..<count { self[j] = p[j] }
    }

    /// Stores the eight lanes at `p`.
    @inlinable @inline(__always)
    public func store(to p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }

    /// Stores the first `count` lanes (all eight when `count` ≥ 8) at `p`.
    @inlinable @inline(__always)
    public func store(to p: UnsafeMutablePointer<Float>, count: Int) {
        if count >= 8 { store(to: p); return }
        for j in 0..<count { p[j] = self[j] }
    }
}

/// True if none of `count` floats is NaN or infinite: x·0 is 0 for every
/// finite x and NaN otherwise, so one vectorised sum tells (where a test per
/// element would branch on each).
@inlinable
public func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    var sum = FloatLanes(repeating: 0), i = 0
    while i + FloatLanes.scalarCount <= count {
        sum += FloatLanes(loading: x + i) * 0
        i += FloatLanes.scalarCount
    }
    var tail: Float = 0
    while i < count { tail += x[i] * 0; i += 1 }
    return (sum.sum() + tail).isFinite
}

/// The same over an array (true when empty).
public func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { b in b.baseAddress.map { allFinite($0, count: b.count) } ?? true }
}

/// Applies `body` to `count` floats of `input`, eight at a time, writing
/// `output` (which may be `input`); a short tail goes through the same lanes
/// padded with zeros, so every element is computed the same way.
@inlinable @inline(__always)
public func mapLanes(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int,
                     _ body: (FloatLanes) -> FloatLanes) {
    let whole = count / FloatLanes.scalarCount * FloatLanes.scalarCount
    for i in stride(from: 0, to: whole, by: FloatLanes.scalarCount) {
        body(FloatLanes(loading: input + i)).store(to: output + i)
    }
    if whole < count {
        body(FloatLanes(loading: input + whole, count: count - whole)).store(to: output + whole, count: count - whole)
    }
}
