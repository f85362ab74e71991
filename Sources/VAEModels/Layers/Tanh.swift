import VAEEngine

/// y = tanh(x), in place: forward overwrites x with y and keeps the view;
/// backward uses dy/dx = 1 − y², so it needs only the output.
public final class Tanh: Layer {
    private var output: Matrix?

    public init() {}

    public func forward(_ x: Matrix) -> Matrix {
        let p = x.pointer
        for i in 0..<x.count { p[i] = tanh(p[i]) }
        output = x
        return x
    }

    public func reserve(batchSize: Int) {}
    public func initialize(using rng: inout RandomGenerator) {}

    /// dL/dx = dL/dy · (1 − y²), in place in dy.
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let y = output else { preconditionFailure("Tanh.backward before forward") }
        precondition(dy.count == y.count)
        let g = dy.pointer, p = y.pointer
        for i in 0..<dy.count { g[i] *= 1 - p[i] * p[i] }
        return dy
    }
}
