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

    /// V f(Λ) Vᵀ, the matrix function of the eigenvalues (row-major). Read
    /// row-major, `vectors` is Vᵀ (row j, eigenvector j), so this is
    /// Vᵀᵀ (f(Λ) Vᵀ): the rows scaled, then one product.
    public func applying(_ f: (Double) -> Double) -> [Double] {
        let n = dimension
        var scaled = vectors
        for j in 0..<n {
            let s = f(values[j])
            for c in 0..<n { scaled[j * n + c] *= s }
        }
        return doubleProduct(vectors, scaled, size: n, transposeFirst: true)
    }
}

/// a b (or aᵀ b) of two square row-major matrices in double precision, through `cblas_dgemm`.
public func doubleProduct(_ a: [Double], _ b: [Double], size n: Int, transposeFirst: Bool = false) -> [Double] {
    precondition(a.count == n * n && b.count == n * n)
    var c = [Double](repeating: 0, count: n * n)
    let size = Int32(n)
    cblas_dgemm(CblasRowMajor, transposeFirst ? CblasTrans : CblasNoTrans, CblasNoTrans, size, size, size, 1, a, size, b, size, 0, &c, size)
    return c
}
