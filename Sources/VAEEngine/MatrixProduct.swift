import CBLAS
import Dispatch
import Foundation

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
    matrixProduct(MatrixProduct(a, transposeA, b, transposeB, into: c, alpha: alpha, beta: beta))
}

/// One product given by its operands.
public func matrixProduct(_ product: MatrixProduct) {
    MatrixProductStatistics.measure([product.shape]) { product.compute() }
}

/// One piece of a larger product computed in pieces (one image's share at a
/// time, say, so that its result is still in cache for the pass that reads
/// it): timed as product work, but counted for the bound only under the
/// whole product's shape, which the caller notes once
/// (`MatrixProductStatistics.note`), so that cutting a product up never
/// makes its bound easier to reach.
public func matrixProductPiece(_ piece: MatrixProduct) {
    MatrixProductStatistics.measure([], pieceFlops: piece.shape.flops) { piece.compute() }
}

/// Two independent products (no output of one is an operand of the other) at
/// once, each on one thread of OpenMP's team, where OpenBLAS computes it
/// single-threaded. A backward pass's weight gradient and input gradient are
/// such a pair, of equal size: side by side they run ~3% faster than one
/// after the other, each split over both threads (fewer synchronisations, and
/// each thread packs panels only for its own product). Without the OpenMP
/// build or with one thread, they run one after the other. A product that is
/// nil is skipped (a layer whose weight gradient is not a product).
public func matrixProducts(_ first: MatrixProduct?, _ second: MatrixProduct?) {
    guard let first, let second else {
        if let only = first ?? second { matrixProduct(only) }
        return
    }
    guard BLASThreads.current >= 2, let openMP = OpenMP.shared else {
        matrixProduct(first)
        matrixProduct(second)
        return
    }
    MatrixProductStatistics.measure([first.shape, second.shape]) {
        openMP.run(2) { part in (part == 0 ? first : second).compute() }
    }
}

/// The operands of one `matrixProduct`, checked, for `matrixProducts`.
public struct MatrixProduct {
    let a: Matrix, transposeA: Transpose, b: Matrix, transposeB: Transpose, c: Matrix
    let alpha: Float, beta: Float
    let m: Int, n: Int, k: Int

    public init(_ a: Matrix, _ transposeA: Transpose = .none, _ b: Matrix, _ transposeB: Transpose = .none,
                into c: Matrix, alpha: Float = 1, beta: Float = 0) {
        m = transposeA == .none ? a.rows : a.columns
        k = transposeA == .none ? a.columns : a.rows
        let kb = transposeB == .none ? b.rows : b.columns
        n = transposeB == .none ? b.columns : b.rows
        precondition(k == kb, "inner dimensions differ: \(k) vs \(kb)")
        precondition(c.rows == m && c.columns == n, "output is (\(c.rows), \(c.columns)), product is (\(m), \(n))")
        self.a = a; self.transposeA = transposeA; self.b = b; self.transposeB = transposeB; self.c = c
        self.alpha = alpha; self.beta = beta
    }

    var shape: ProductShape { ProductShape(m: m, n: n, k: k, transposeA: transposeA == .transposed, transposeB: transposeB == .transposed) }

    func compute() {
        guard m > 0, n > 0 else { return }
        if k == 0 {  // empty inner dimension: the product is zero
            for i in 0..<c.count { c.pointer[i] = beta == 0 ? 0 : beta * c.pointer[i] }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA.blas, transposeB.blas,
                    Int32(m), Int32(n), Int32(k),
                    alpha, a.pointer, Int32(a.columns), b.pointer, Int32(b.columns),
                    beta, c.pointer, Int32(c.columns))
    }
}

/// A product's shape: op(a) (m, k) times op(b) (k, n), and which operands
/// enter transposed (which changes how sgemm walks memory, and so its rate).
public struct ProductShape: Hashable, Sendable {
    public let m: Int, n: Int, k: Int
    public let transposeA: Bool, transposeB: Bool

    public init(m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) {
        (self.m, self.n, self.k, self.transposeA, self.transposeB) = (m, n, k, transposeA, transposeB)
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    /// Seconds one `cblas_sgemm` of this shape takes on its own, with the
    /// current thread count: the fastest of `repeats` runs after a warm-up,
    /// on operands of small values (what a product costs when nothing else
    /// in the step competes with it: the bound `vae bench` states).
    ///
    /// With `concurrent` > 1, that many copies run at once, each single-threaded
    /// on its own operands (`parallelParts`, as the importance sampler's
    /// workers run theirs), and the time is the whole round's over `concurrent`:
    /// the cost of one product when every core is busy with its own.
    public func sgemmSeconds(repeats: Int = 5, concurrent: Int = 1) -> Double {
        let copies = max(1, concurrent)
        let operands = (0..<copies).map { _ in (a: Tensor(shape: [m * k]), b: Tensor(shape: [k * n]), c: Tensor(shape: [m * n])) }
        let products = operands.map { a, b, c in
            for i in 0..<a.count { a.pointer[i] = Float(i % 7) * 0.125 }
            for i in 0..<b.count { b.pointer[i] = Float(i % 5) * 0.25 }
            let am = transposeA ? a.matrix(rows: k, columns: m) : a.matrix(rows: m, columns: k)
            let bm = transposeB ? b.matrix(rows: n, columns: k) : b.matrix(rows: k, columns: n)
            return MatrixProduct(am, transposeA ? .transposed : .none, bm, transposeB ? .transposed : .none,
                                 into: c.matrix(rows: m, columns: n))
        }
        let round = { copies == 1 ? products[0].compute() : parallelParts(copies) { products[$0].compute() } }
        round()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            round()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return withExtendedLifetime(operands) { best / Double(copies) }
    }
}

/// Time and work spent in `matrixProduct` while enabled (for `vae bench`:
/// how much of a training step is matrix products, at what GFLOP/s, and
/// which shapes, so that their time alone can be measured as the step's
/// bound). Off by default; when off it costs one branch per product.
public enum MatrixProductStatistics {
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public static var nanoseconds: UInt64 = 0
    nonisolated(unsafe) public static var flops: Double = 0
    /// How many times each shape ran, products done another way
    /// (`NarrowProducts`) included under the shape sgemm would have had.
    nonisolated(unsafe) public static var shapes: [ProductShape: Int] = [:]

    /// Products may run on several threads at once (`parallelParts`): the
    /// records are taken under this lock (only while enabled). `nanoseconds`
    /// is wall time: while products overlap (pieces on both threads) it
    /// counts the time at least one runs, once, so their share of a step
    /// stays a share of its wall time.
    private static let lock = NSLock()
    nonisolated(unsafe) private static var running = 0
    nonisolated(unsafe) private static var runningSince: UInt64 = 0

    public static func reset() { nanoseconds = 0; flops = 0; shapes = [:] }

    /// Runs `body` (products of these shapes), timing it when enabled.
    /// `pieceFlops`: the work of a piece of a product (`matrixProductPiece`),
    /// whose shape is not recorded.
    static func measure(_ products: [ProductShape], pieceFlops: Double = 0, _ body: () -> Void) {
        guard isEnabled else { body(); return }
        lock.withLock {
            if running == 0 { runningSince = DispatchTime.now().uptimeNanoseconds }
            running += 1
        }
        body()
        lock.withLock {
            running -= 1
            if running == 0 { nanoseconds += DispatchTime.now().uptimeNanoseconds - runningSince }
            flops += pieceFlops
            for shape in products {
                flops += shape.flops
                shapes[shape, default: 0] += 1
            }
        }
    }

    /// Counts a product computed without sgemm (not timed here: its time is
    /// the step's other work), so that the bound includes it at sgemm's rate.
    public static func note(_ shape: ProductShape) {
        if isEnabled { lock.withLock { shapes[shape, default: 0] += 1 } }
    }

    /// Seconds the recorded products would take run one by one through
    /// sgemm on their own: Σ count × `sgemmSeconds` over the shapes. With
    /// `concurrent` > 1, as that many single-threaded products side by side
    /// (see `sgemmSeconds`).
    public static func boundSeconds(of shapes: [ProductShape: Int], concurrent: Int = 1) -> Double {
        shapes.reduce(0) { $0 + Double($1.value) * $1.key.sgemmSeconds(concurrent: concurrent) }
    }
}

/// The thread count that OpenBLAS uses for every product.
public enum BLASThreads {
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(count)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
    public static var processors: Int { Int(openblas_get_num_procs()) }
}
