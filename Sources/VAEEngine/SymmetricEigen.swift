import CBLAS

/// The eigenvalues (ascending) and eigenvectors of a symmetric matrix,
/// through LAPACK's `dsyev` (QR iteration on the tridiagonal form), in
/// double precision.
public struct SymmetricEigen {
    public let dimension: Int
    public let values: [Double]
    /// Eigenvector j is `vectors[j * dimension ..< (j + 1) * dimension]`.
    public let vectors: [Double]

    /// nil if LAPACK does not converge (it reports so; for a covariance
    /// matrix of finite numbers it does not happen in practice).
    public init?(_ matrix: [Double], dimension n: Int) {
        precondition(n > 0 && matrix.count == n * n)
        var a = matrix, w = [Double](repeating: 0, count: n)
        var size = Int32(n), info: Int32 = 0
        var query = 0.0, lwork: Int32 = -1
        // A symmetric matrix is its own transpose: row- or column-major is the same.
        dsyev_("V", "U", &size, &a, &size, &w, &query, &lwork, &info, 1, 1)
        guard info == 0 else { return nil }
        lwork = Int32(query)
        var work = [Double](repeating: 0, count: max(1, Int(lwork)))
        dsyev_("V", "U", &size, &a, &size, &w, &work, &lwork, &info, 1, 1)
        guard info == 0 else { return nil }
        dimension = n
        values = w
        vectors = a   // column-major: column j, eigenvector j, is contiguous
    }

    /// V f(Λ) Vᵀ, the matrix function of the eigenvalues (row-major).
    public func applying(_ f: (Double) -> Double) -> [Double] {
        let n = dimension
        var out = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            let scale = f(values[j])
            let v = vectors[(j * n)..<((j + 1) * n)]
            for r in 0..<n {
                let vr = v[v.startIndex + r] * scale
                for c in 0..<n { out[r * n + c] += vr * v[v.startIndex + c] }
            }
        }
        return out
    }
}
