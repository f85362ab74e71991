#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Four doubles: Box–Muller's log, sin and cos for four pairs at a time.
public typealias DoubleLanes = SIMD4<Double>

extension RandomGenerator {
    /// Values 2·lower ..< min(2·upper, count) of `out` from pairs lower..<upper,
    /// the generator standing at pair `lower`'s uniforms: `fillNormal`'s
    /// Box–Muller four pairs at a time, its log, sin and cos in SIMD lanes
    /// (relative error ~1e−16) instead of libm's scalar calls, each value
    /// then rounded to Float as the scalar definition rounds it.
    ///
    /// The lanes' double differs from libm's by a few units in its last
    /// place; both round to the same Float unless a Float rounding boundary
    /// (a midpoint between two Floats) lies between them. So a value whose
    /// double lies within 2¹² units of a midpoint (`nearFloatMidpoint`), about
    /// one in 65,000, is computed again by libm, exactly as the definition
    /// does; every value is then the definition's, bit for bit (a test
    /// compares ten million).
    mutating func normalPairs(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var pair = range.lowerBound
        // Four whole pairs (eight values) at a time.
        while pair + 4 <= range.upperBound && 2 * pair + 8 <= count {
            let a1 = uniformOpenBelow(), a2 = uniformClosedBelow(), b1 = uniformOpenBelow(), b2 = uniformClosedBelow()
            let c1 = uniformOpenBelow(), c2 = uniformClosedBelow(), d1 = uniformOpenBelow(), d2 = uniformClosedBelow()
            let u1 = DoubleLanes(a1, b1, c1, d1), u2 = DoubleLanes(a2, b2, c2, d2)
            let (x, y) = boxMuller(u1, u2)
            var fx = SIMD4<Float>(x), fy = SIMD4<Float>(y)
            let near = nearFloatMidpoint(x) .| nearFloatMidpoint(y)
            if any(near) {
                for lane in 0..<4 where near[lane] { (fx[lane], fy[lane]) = scalarBoxMuller(u1[lane], u2[lane]) }
            }
            SIMD8<Float>(fx[0], fy[0], fx[1], fy[1], fx[2], fy[2], fx[3], fy[3]).store(to: out + 2 * pair)
            pair += 4
        }
        // The last one to four pairs (the last perhaps half used); unused
        // lanes take u1 = 1, u2 = 0 and draw nothing.
        guard pair < range.upperBound else { return }
        let n = range.upperBound - pair
        var u1 = DoubleLanes(repeating: 1), u2 = DoubleLanes(repeating: 0)
        for lane in 0..<n { (u1[lane], u2[lane]) = (uniformOpenBelow(), uniformClosedBelow()) }
        let (x, y) = boxMuller(u1, u2)
        let near = nearFloatMidpoint(x) .| nearFloatMidpoint(y)
        for lane in 0..<n {
            let i = 2 * (pair + lane)
            let (vx, vy) = near[lane] ? scalarBoxMuller(u1[lane], u2[lane]) : (Float(x[lane]), Float(y[lane]))
            out[i] = vx
            if i + 1 < count { out[i + 1] = vy }
        }
    }

    /// Box–Muller's first uniform, in (0, 1] (its log is finite), as fillNormal draws it.
    @inline(__always)
    private mutating func uniformOpenBelow() -> Double { (Double(next() >> 11) + 1) * 0x1p-53 }

    /// Box–Muller's second uniform, in [0, 1).
    @inline(__always)
    private mutating func uniformClosedBelow() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// The definition of `fillNormal`'s pair: √(−2 log u1) (cos 2πu2, sin 2πu2)
/// in Double by libm, rounded to Float.
@inline(never)
public func scalarBoxMuller(_ u1: Double, _ u2: Double) -> (Float, Float) {
    let radius = (-2 * log(u1)).squareRoot()
    let angle = 2 * Double.pi * u2
    return (Float(radius * cos(angle)), Float(radius * sin(angle)))
}

/// Lanes whose rounding to Float another computation of the same value, a
/// few units in the last place away, might not share: within 2¹² units
/// (of the double) of a midpoint between two Floats, where the low 29 of
/// the 52 fraction bits are 2²⁸; or below 2⁻¹⁰⁰ in magnitude, near where
/// Floats become subnormal and the spacing changes (never, in practice).
@inlinable @inline(__always)
public func nearFloatMidpoint(_ x: DoubleLanes) -> SIMDMask<SIMD4<Int64>> {
    let bits = unsafeBitCast(x, to: SIMD4<Int64>.self)
    let offset = (bits & 0x1FFF_FFFF) &- 0x1000_0000
    let magnitude = bits & 0x7FFF_FFFF_FFFF_FFFF
    return (offset .> -4096) .& (offset .< 4096) .| (magnitude .< 0x39B0_0000_0000_0000)
}

/// √(−2 log u1) (cos 2πu2, sin 2πu2), four pairs in the lanes: within a
/// few units in the last place of libm's doubles (a test measures how many).
@inline(__always)
public func boxMuller(_ u1: DoubleLanes, _ u2: DoubleLanes) -> (DoubleLanes, DoubleLanes) {
    let radius = squareRoot(-2 * naturalLog(u1))
    let (cosine, sine) = cosineAndSine(2 * Double.pi * u2)
    return (radius * cosine, radius * sine)
}

/// √x for every lane: SSE2's `sqrtpd`, the IEEE square root (the standard
/// library's SIMD `squareRoot` is a per-lane call).
@inline(__always)
func squareRoot(_ x: DoubleLanes) -> DoubleLanes {
    #if arch(x86_64)
    DoubleLanes(lowHalf: _mm_sqrt_pd(x.lowHalf), highHalf: _mm_sqrt_pd(x.highHalf))
    #else
    x.squareRoot()
    #endif
}

/// a · b + c, in one FMA when the build has them (`VAE_FMA`).
@inline(__always)
func multiplyAdd(_ a: DoubleLanes, _ b: DoubleLanes, _ c: Double) -> DoubleLanes {
    #if VAE_FMA
    DoubleLanes(repeating: c).addingProduct(a, b)
    #else
    a * b + c
    #endif
}

/// The nearest integer of each lane (ties to even), for |x| < 2⁵¹: adding and
/// subtracting 1.5 · 2⁵² leaves it.
@inline(__always)
func roundedToInteger(_ x: DoubleLanes) -> DoubleLanes {
    (x + 6_755_399_441_055_744) - 6_755_399_441_055_744
}

/// log x for x in (0, 1] (every lane a positive normal double): x = 2ᵉ m with
/// m in [√½, √2), and with s = (m − 1)/(m + 1) ∈ [−0.172, 0.172],
///
///   log m = 2 atanh s = 2 (s + s³/3 + s⁵/5 + … + s²¹/21) + O(s²³ ≈ 2e−18),
///
/// plus e · log 2 with log 2 split so that e · hi is exact.
@inline(__always)
func naturalLog(_ x: DoubleLanes) -> DoubleLanes {
    let bits = unsafeBitCast(x, to: SIMD4<UInt64>.self)
    // The biased exponent as a double: its bits under 2⁵²'s, minus 2⁵².
    let biased = unsafeBitCast((bits &>> 52) | 0x4330_0000_0000_0000, to: DoubleLanes.self) - 4_503_599_627_370_496
    var m = unsafeBitCast((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000, to: DoubleLanes.self)
    var e = biased - 1023
    let high = m .> 1.4142135623730951
    m = m.replacing(with: m * 0.5, where: high)
    e = e.replacing(with: e + 1, where: high)
    let s = (m - 1) / (m + 1), s2 = s * s
    var p = DoubleLanes(repeating: 1.0 / 21)
    p = multiplyAdd(p, s2, 1.0 / 19)
    p = multiplyAdd(p, s2, 1.0 / 17)
    p = multiplyAdd(p, s2, 1.0 / 15)
    p = multiplyAdd(p, s2, 1.0 / 13)
    p = multiplyAdd(p, s2, 1.0 / 11)
    p = multiplyAdd(p, s2, 1.0 / 9)
    p = multiplyAdd(p, s2, 1.0 / 7)
    p = multiplyAdd(p, s2, 1.0 / 5)
    p = multiplyAdd(p, s2, 1.0 / 3)
    let twoS = 2 * s
    // log 2 = hi + lo, hi with 33 significant bits (e · hi exact for |e| < 2²⁰).
    let logTwoHigh = 0x1.62e42fefp-1, logTwoLow = 0x1.473de6af278edp-34
    return e * logTwoHigh + (e * logTwoLow + (twoS + twoS * s2 * p))
}

/// (cos a, sin a) for a in [0, 2π]: a = q π/2 + θ with |θ| ≤ π/4 (π/2 in
/// three parts, so q · part is exact and θ keeps its bits), the Taylor series
/// of sin θ and cos θ to θ¹⁷ and θ¹⁸ (remainders below 1e−19), and the
/// quadrant q mod 4.
@inline(__always)
func cosineAndSine(_ a: DoubleLanes) -> (DoubleLanes, DoubleLanes) {
    let q = roundedToInteger(a * 0.63661977236758134)   // a / (π/2)
    // π/2 = 0x1.921fb544p0 + 0x1.0b4611a6p-34 + 0x1.3198a2e037073p-69.
    let theta = ((a - q * 0x1.921fb544p0) - q * 0x1.0b4611a6p-34) - q * 0x1.3198a2e037073p-69
    let z = theta * theta
    // sin θ = θ + θ z (−1/3! + z/5! − z²/7! + … + z⁷/17!)
    var sp = DoubleLanes(repeating: 1.0 / 355_687_428_096_000)
    sp = multiplyAdd(sp, z, -1.0 / 1_307_674_368_000)
    sp = multiplyAdd(sp, z, 1.0 / 6_227_020_800)
    sp = multiplyAdd(sp, z, -1.0 / 39_916_800)
    sp = multiplyAdd(sp, z, 1.0 / 362_880)
    sp = multiplyAdd(sp, z, -1.0 / 5040)
    sp = multiplyAdd(sp, z, 1.0 / 120)
    sp = multiplyAdd(sp, z, -1.0 / 6)
    // cos θ = 1 − z/2 + z² (1/4! − z/6! + … − z⁷/18!)
    var cp = DoubleLanes(repeating: -1.0 / 6_402_373_705_728_000)
    cp = multiplyAdd(cp, z, 1.0 / 20_922_789_888_000)
    cp = multiplyAdd(cp, z, -1.0 / 87_178_291_200)
    cp = multiplyAdd(cp, z, 1.0 / 479_001_600)
    cp = multiplyAdd(cp, z, -1.0 / 3_628_800)
    cp = multiplyAdd(cp, z, 1.0 / 40320)
    cp = multiplyAdd(cp, z, -1.0 / 720)
    cp = multiplyAdd(cp, z, 1.0 / 24)
    let sine = theta + theta * z * sp
    let cosine = (1 - 0.5 * z) + z * z * cp
    // Quadrant q (4 is 0 again): (cos, sin) turns by q quarter turns.
    var c = cosine, s = sine
    c = c.replacing(with: -sine, where: q .== 1)
    s = s.replacing(with: cosine, where: q .== 1)
    c = c.replacing(with: -cosine, where: q .== 2)
    s = s.replacing(with: -sine, where: q .== 2)
    c = c.replacing(with: sine, where: q .== 3)
    s = s.replacing(with: -cosine, where: q .== 3)
    return (c, s)
}
