import Foundation

/// Points from a to b, ends included (`steps` ≥ 2 points). Linear, or along
/// the great circle (slerp, White 2016 "Sampling Generative Networks"), which
/// keeps the norm typical of N(0, I) draws instead of cutting through the
/// low-density middle of the prior:
///   slerp(a, b; t) = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b,  cos θ = â·b̂.
public func interpolate(_ a: [Float], _ b: [Float], steps: Int, spherical: Bool) -> [[Float]] {
    precondition(a.count == b.count && steps >= 2)
    let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let theta = acos(max(-1, min(1, dot / max(na * nb, 1e-12))))
    return (0..<steps).map { i in
        let t = Double(i) / Double(steps - 1)
        // Nearly parallel vectors: slerp's weights tend to lerp's.
        let (wa, wb) = spherical && sin(theta) > 1e-6
            ? (sin((1 - t) * theta) / sin(theta), sin(t * theta) / sin(theta))
            : (1 - t, t)
        return zip(a, b).map { Float(wa * Double($0) + wb * Double($1)) }
    }
}

/// Latent arithmetic: a − b + c (e.g. "this 7, minus a plain 1, plus a bold 1").
public func analogy(_ a: [Float], minus b: [Float], plus c: [Float]) -> [Float] {
    (0..<a.count).map { a[$0] - b[$0] + c[$0] }
}

/// One row per dimension in `dimensions`: `base` with that dimension offset
/// by `steps` values evenly spaced in [−range, +range], times `scale[d]`
/// (a prior's σ of that dimension) when given.
public func traversal(base: [Float], dimensions: [Int], range: Float, steps: Int, scale: [Float]? = nil) -> [[Float]] {
    precondition(steps >= 2 && (scale?.count ?? base.count) == base.count)
    return dimensions.flatMap { d in
        (0..<steps).map { i -> [Float] in
            var z = base
            z[d] += (-range + 2 * range * Float(i) / Float(steps - 1)) * (scale?[d] ?? 1)
            return z
        }
    }
}

/// The two leading principal axes of `points` (rows), by power iteration on
/// the covariance with deflation, and each point's coordinates on them.
public struct PrincipalProjection {
    public let coordinates: [(Double, Double)]
    /// Fraction of the total variance each of the two axes explains.
    public let explained: (Double, Double)

    public init(_ points: [[Float]]) {
        let n = points.count, k = points.first?.count ?? 0
        precondition(n > 0 && k > 0)
        var mean = [Double](repeating: 0, count: k)
        for p in points { for j in 0..<k { mean[j] += Double(p[j]) / Double(n) } }
        var cov = [Double](repeating: 0, count: k * k)
        for p in points {
            for i in 0..<k { for j in 0..<k { cov[i * k + j] += (Double(p[i]) - mean[i]) * (Double(p[j]) - mean[j]) / Double(n) } }
        }
        let total = (0..<k).reduce(0.0) { $0 + cov[$1 * k + $1] }
        var axes: [[Double]] = [], variances: [Double] = []
        for axis in 0..<min(2, k) {
            // Start away from any symmetric direction: a unit vector, slightly tilted.
            var v = [Double](repeating: 0.01, count: k)
            v[axis % k] = 1
            var lambda = 0.0
            for _ in 0..<500 {
                var w = (0..<k).map { i in (0..<k).reduce(0.0) { $0 + cov[i * k + $1] * v[$1] } }
                let norm = w.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
                guard norm > 1e-12 else { break }
                w = w.map { $0 / norm }
                lambda = norm
                v = w
            }
            axes.append(v)
            variances.append(lambda)
            // Deflate: remove this axis's variance.
            for i in 0..<k { for j in 0..<k { cov[i * k + j] -= lambda * v[i] * v[j] } }
        }
        while axes.count < 2 { axes.append([Double](repeating: 0, count: k)); variances.append(0) }
        coordinates = points.map { p in
            let c = (0..<k).map { Double(p[$0]) - mean[$0] }
            return (zip(c, axes[0]).reduce(0) { $0 + $1.0 * $1.1 }, zip(c, axes[1]).reduce(0) { $0 + $1.0 * $1.1 })
        }
        explained = total > 0 ? (variances[0] / total, variances[1] / total) : (0, 0)
    }
}
