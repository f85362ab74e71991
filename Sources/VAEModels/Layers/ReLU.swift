import VAEEngine

/// y = max(x, 0), in place: forward overwrites x with y and keeps the view,
/// backward multiplies dy in place by 1[y > 0]. No buffers of its own.
public final class ReLU: Layer {
    private var output: Matrix?

    public init() {}

    public func forward(_ x: Matrix) -> Matrix {
        let p = x.pointer, width = x.columns
        // A select, not a branch, so it vectorises; NaN passes through (NaN < 0 is false).
        parallelRows(x.rows, workPerRow: width) { rows in
            for i in (rows.lowerBound * width)..<(rows.upperBound * width) { p[i] = p[i] < 0 ? 0 : p[i] }
        }
        output = x
        return x
    }

    public func reserve(batchSize: Int) {}
    public func initialize(using rng: inout RandomGenerator) {}

    /// dL/dx = dL/dy · 1[y > 0] (the subgradient at 0 is taken as 0, as PyTorch does).
    public func backward(_ dy: Matrix, inputGradient: Bool = true) -> Matrix {
        guard let y = output else { preconditionFailure("ReLU.backward before forward") }
        precondition(dy.count == y.count)
        let g = dy.pointer, p = y.pointer, width = dy.columns
        // Eight lanes at a time: the compiler cannot prove dy and y do not
        // alias, so it would leave the scalar loop scalar.
        parallelRows(dy.rows, workPerRow: width) { rows in
            var i = rows.lowerBound * width
            let upper = rows.upperBound * width
            while i + FloatLanes.scalarCount <= upper {
                let yi = FloatLanes(loading: p + i)
                FloatLanes(loading: g + i).replacing(with: 0, where: yi .<= 0).store(to: g + i)
                i += FloatLanes.scalarCount
            }
            while i < upper {
                if p[i] <= 0 { g[i] = 0 }
                i += 1
            }
        }
        return dy
    }
}
