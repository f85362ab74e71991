import VAEEngine

/// y = max(x, 0), in place: forward overwrites x with y and keeps the view,
/// backward multiplies dy in place by 1[y > 0]. No buffers of its own.
public final class ReLU: Layer {
    private var output: Matrix?

    public init() {}

    public func forward(_ x: Matrix) -> Matrix {
        let p = x.pointer
        // A select, not a branch, so it vectorises; NaN passes through (NaN < 0 is false).
        for i in 0..<x.count { p[i] = p[i] < 0 ? 0 : p[i] }
        output = x
        return x
    }

    public func reserve(batchSize: Int) {}
    public func initialize(using rng: inout RandomGenerator) {}

    /// dL/dx = dL/dy · 1[y > 0] (the subgradient at 0 is taken as 0, as PyTorch does).
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let y = output else { preconditionFailure("ReLU.backward before forward") }
        precondition(dy.count == y.count)
        let g = dy.pointer, p = y.pointer
        // Eight lanes at a time: the compiler cannot prove dy and y do not
        // alias, so it would leave the scalar loop scalar.
        typealias Lanes = SIMD8<Float>
        var i = 0
        while i + Lanes.scalarCount <= dy.count {
            let yi = UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: Lanes.self)
            UnsafeMutableRawPointer(g + i).storeBytes(of: gi.replacing(with: 0, where: yi .<= 0), as: Lanes.self)
            i += Lanes.scalarCount
        }
        while i < dy.count {
            if p[i] <= 0 { g[i] = 0 }
            i += 1
        }
        return dy
    }
}
