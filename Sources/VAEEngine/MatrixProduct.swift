import CBLAS
import Dispatch

/// Whether a matrix operand enters a product as stored or transposed.
/// Transposes are BLAS flags: no transposed copy is ever made.
public enum Transpose {
    case none, transposed

    var blas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// c = alpha * op(a) * op(b) + beta * c, through OpenBLAS `cblas_sgemm`.
///
/// op(a): (M, K), op(b): (K, N), c: (M, N), all row-major and contiguous.
/// `beta: 1` accumulates into c (how gradients are summed over a batch).
public func matrixProduct(_ a: Matrix, _ transposeA: Transpose = .none,
                          _ b: Matrix, _ transposeB: Transpose = .none,
                          into c: Matrix, alpha: Float = 1, beta: Float = 0) {
    let m = transposeA == .none ? a.rows : a.columns
    let k = transposeA == .none ? a.columns : a.rows
    let kb = transposeB == .none ? b.rows : b.columns
    let n = transposeB == .none ? b.columns : b.rows
    precondition(k == kb, "inner dimensions differ: \(k) vs \(kb)")
    precondition(c.rows == m && c.columns == n, "output is (\(c.rows), \(c.columns)), product is (\(m), \(n))")
    guard m > 0, n > 0 else { return }
    if k == 0 {  // empty inner dimension: the product is zero
        for i in 0..<c.count { c.pointer[i] = beta == 0 ? 0 : beta * c.pointer[i] }
        return
    }
    let start = MatrixProductStatistics.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
    cblas_sgemm(CblasRowMajor, transposeA.blas, transposeB.blas,
                Int32(m), Int32(n), Int32(k),
                alpha, a.pointer, Int32(a.columns), b.pointer, Int32(b.columns),
                beta, c.pointer, Int32(c.columns))
    if MatrixProductStatistics.isEnabled {
        MatrixProductStatistics.nanoseconds += DispatchTime.now().uptimeNanoseconds - start
        MatrixProductStatistics.flops += 2 * Double(m) * Double(n) * Double(k)
    }
}

/// Time and work spent in `matrixProduct` while enabled (for `vae bench`:
/// how much of a training step is matrix products, and at what GFLOP/s).
/// Off by default; when off it costs one branch per product.
public enum MatrixProductStatistics {
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public static var nanoseconds: UInt64 = 0
    nonisolated(unsafe) public static var flops: Double = 0

    public static func reset() { nanoseconds = 0; flops = 0 }
}

/// The thread count that OpenBLAS uses for every product.
public enum BLASThreads {
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(count)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
    public static var processors: Int { Int(openblas_get_num_procs()) }
}
