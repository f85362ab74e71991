import VAEEngine

/// y = tanh(x), in place: forward overwrites x with y and keeps the view;
/// backward uses dy/dx = 1 − y², so it needs only the output.
public final class Tanh: Layer {
    private var output: Matrix?

    public init() {}

    public func forward(_ x: Matrix) -> Matrix {
        let p = x.pointer, width = x.columns
        parallelRows(x.rows, workPerRow: 8 * width) { rows in   // exp-bound: worth both cores
            let start = p + rows.lowerBound * width
            mapLanes(start, start, count: rows.count * width, hyperbolicTangent)
        }
        output = x
        return x
    }

    public func reserve(batchSize: Int) {}
    public func initialize(using rng: inout RandomGenerator) {}

    /// dL/dx = dL/dy · (1 − y²), in place in dy.
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let y = output else { preconditionFailure("Tanh.backward before forward") }
        precondition(dy.count == y.count)
        let g = dy.pointer, p = y.pointer, width = dy.columns
        parallelRows(dy.rows, workPerRow: width) { rows in
            for i in (rows.lowerBound * width)..<(rows.upperBound * width) { g[i] *= 1 - p[i] * p[i] }
        }
        return dy
    }
}
