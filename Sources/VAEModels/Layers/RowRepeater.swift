import VAEEngine

/// Each row of a matrix K times, the copies adjacent (rows b·K … b·K + K − 1
/// are row b): what the K draws of an importance-weighted bound share of
/// their image, its target and its label. K = 1 is the matrix itself.
public final class RowRepeater {
    private var buffer = Tensor(shape: [0])

    public init() {}

    /// (rows·K, columns), in a buffer kept until the next call.
    public func repeating(_ m: Matrix, times K: Int) -> Matrix {
        guard K > 1 else { return m }
        if buffer.count < m.count * K { buffer = Tensor(shape: [m.count * K]) }
        let out = buffer.matrix(rows: m.rows * K, columns: m.columns)
        parallelRows(out.rows, workPerRow: m.columns) { rows in
            for r in rows { out.row(r).update(from: m.row(r / K), count: m.columns) }
        }
        return out
    }
}
