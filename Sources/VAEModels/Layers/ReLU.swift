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
        for i in 0..<dy.count { g[i] = p[i] <= 0 ? 0 : g[i] }
        return dy
    }
}
