import Foundation
import VAEEngine
import XCTest

/// Every BLAS call against a naive triple loop.
final class MatrixProductTests: XCTestCase {
    /// op(a) (M, K) × op(b) (K, N), computed in Double, the obvious way.
    func naiveProduct(_ a: Matrix, _ ta: Transpose, _ b: Matrix, _ tb: Transpose) -> [Double] {
        let m = ta == .none ? a.rows : a.columns, k = ta == .none ? a.columns : a.rows
        let n = tb == .none ? b.columns : b.rows
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            let av = ta == .none ? a[i, p] : a[p, i]
            let bv = tb == .none ? b[p, j] : b[j, p]
            c[i * n + j] += Double(av) * Double(bv)
        } } }
        return c
    }

    func randomTensor(_ rows: Int, _ columns: Int, _ rng: inout RandomGenerator) -> Tensor {
        let t = Tensor(shape: [rows, columns])
        for i in 0..<t.count { t.pointer[i] = rng.uniform(-1, 1) }
        return t
    }

    func testAllTransposeCombinationsMatchNaiveProduct() {
        var rng = RandomGenerator(seed: 7)
        let (m, k, n) = (7, 13, 5)   // odd sizes: no accidental symmetry
        for ta in [Transpose.none, .transposed] {
            for tb in [Transpose.none, .transposed] {
                let a = ta == .none ? randomTensor(m, k, &rng) : randomTensor(k, m, &rng)
                let b = tb == .none ? randomTensor(k, n, &rng) : randomTensor(n, k, &rng)
                let am = a.matrix(rows: a.shape[0], columns: a.shape[1])
                let bm = b.matrix(rows: b.shape[0], columns: b.shape[1])
                let c = Tensor(shape: [m, n])
                matrixProduct(am, ta, bm, tb, into: c.matrix(rows: m, columns: n))
                let expected = naiveProduct(am, ta, bm, tb)
                for i in 0..<(m * n) {
                    XCTAssertEqual(Double(c.pointer[i]), expected[i], accuracy: 1e-5, "\(ta) \(tb) element \(i)")
                }
            }
        }
    }

    func testAlphaAndBetaAccumulate() {
        var rng = RandomGenerator(seed: 8)
        let a = randomTensor(4, 3, &rng), b = randomTensor(3, 6, &rng), c = randomTensor(4, 6, &rng)
        let before = c.array
        let am = a.matrix(rows: 4, columns: 3), bm = b.matrix(rows: 3, columns: 6)
        matrixProduct(am, .none, bm, .none, into: c.matrix(rows: 4, columns: 6), alpha: 0.5, beta: 1)
        let product = naiveProduct(am, .none, bm, .none)
        for i in 0..<24 {
            XCTAssertEqual(Double(c.pointer[i]), Double(before[i]) + 0.5 * product[i], accuracy: 1e-5)
        }
    }

    func testViewOfFewerRowsUsesOnlyThoseRows() {
        // A buffer sized for 8 rows serving a batch of 3: rows beyond 3 untouched.
        let c = Tensor(shape: [8, 2])
        c.fill(42)
        let a = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        let identity = Tensor(shape: [2, 2], values: [1, 0, 0, 1])
        matrixProduct(a.matrix(rows: 3, columns: 2), .none, identity.matrix(rows: 2, columns: 2), .none,
                      into: c.matrix(rows: 3, columns: 2))
        XCTAssertEqual(Array(c.array.prefix(6)), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(c.array.suffix(10)), Array(repeating: 42, count: 10))
    }

    /// A pair run side by side (one thread each when there are two) gives
    /// each product as computed alone, whatever the thread count.
    func testPairOfProductsMatchesNaiveProducts() {
        var rng = RandomGenerator(seed: 11)
        let dy = randomTensor(64, 40, &rng), x = randomTensor(64, 90, &rng), w = randomTensor(40, 90, &rng)
        let dyM = dy.matrix(rows: 64, columns: 40), xM = x.matrix(rows: 64, columns: 90), wM = w.matrix(rows: 40, columns: 90)
        let before = randomTensor(40, 90, &rng)
        let dW = Tensor(shape: [40, 90]), dx = Tensor(shape: [64, 90])
        let saved = BLASThreads.current
        defer { BLASThreads.set(saved) }
        for threads in [1, 2] {
            BLASThreads.set(threads)
            dW.pointer.update(from: before.pointer, count: dW.count)
            matrixProducts(MatrixProduct(dyM, .transposed, xM, .none, into: dW.matrix(rows: 40, columns: 90), beta: 1),
                           MatrixProduct(dyM, .none, wM, .none, into: dx.matrix(rows: 64, columns: 90)))
            let expectedW = naiveProduct(dyM, .transposed, xM, .none), expectedX = naiveProduct(dyM, .none, wM, .none)
            for i in 0..<dW.count { XCTAssertEqual(Double(dW.pointer[i]), Double(before.pointer[i]) + expectedW[i], accuracy: 1e-4) }
            for i in 0..<dx.count { XCTAssertEqual(Double(dx.pointer[i]), expectedX[i], accuracy: 1e-4) }
        }
    }
}

/// The narrow weight-gradient sum against a naive one, for shapes with
/// whole and partial blocks of eight pixels and tap counts around the groups
/// of four; the same bits on one thread and on two.
final class NarrowProductTests: XCTestCase {
    func testWeightGradientMatchesNaiveSumOnAnyThreadCount() {
        var rng = RandomGenerator(seed: 21)
        for (channels, taps, pixels, images) in [(3, 9, 20, 5), (4, 4, 8, 3), (2, 6, 5, 4), (5, 1, 33, 2), (32, 9, 196, 40)] {
            let tapStride = images * pixels + 3   // rows of the taps matrix are longer than the batch's columns
            let planes = Tensor(shape: [images, channels * pixels]), tapsMatrix = Tensor(shape: [taps, tapStride])
            for t in [planes, tapsMatrix] { for i in 0..<t.count { t.pointer[i] = rng.uniform(-1, 1) } }
            let initial = (0..<(channels * taps)).map { Float($0) * 0.25 }
            var expected = initial.map(Double.init)
            for b in 0..<images { for c in 0..<channels { for k in 0..<taps { for p in 0..<pixels {
                expected[c * taps + k] += Double(planes.pointer[b * channels * pixels + c * pixels + p])
                    * Double(tapsMatrix.pointer[k * tapStride + b * pixels + p])
            } } } }
            let saved = BLASThreads.current
            defer { BLASThreads.set(saved) }
            var results: [[Float]] = []
            for threads in [1, 2] {
                BLASThreads.set(threads)
                let gradient = Tensor(shape: [channels, taps], values: initial), scratch = Tensor(shape: [images, channels * taps])
                NarrowProducts.accumulateWeightGradient(planes: planes.matrix(rows: images, columns: channels * pixels),
                                                        taps: tapsMatrix.pointer, tapStride: tapStride,
                                                        into: gradient.matrix(rows: channels, columns: taps),
                                                        scratch: scratch.matrix(rows: images, columns: channels * taps))
                for i in expected.indices {
                    XCTAssertEqual(Double(gradient.pointer[i]), expected[i], accuracy: 1e-3, "(\(channels), \(taps), \(pixels)) entry \(i)")
                }
                results.append(gradient.array)
            }
            XCTAssertEqual(results[0], results[1], "one thread and two differ for (\(channels), \(taps), \(pixels))")
        }
    }

    /// What `vae bench` sets a step against: each product's shape is
    /// counted (a pair's two, and a narrow product under the shape sgemm would
    /// have had), and the bound times each shape alone.
    func testStatisticsRecordShapesForTheBound() {
        let a = Tensor(shape: [6, 4]), b = Tensor(shape: [5, 4]), c = Tensor(shape: [6, 5]), d = Tensor(shape: [4, 5])
        MatrixProductStatistics.reset()
        MatrixProductStatistics.isEnabled = true
        matrixProduct(a.matrix(rows: 6, columns: 4), .none, b.matrix(rows: 5, columns: 4), .transposed, into: c.matrix(rows: 6, columns: 5))
        matrixProduct(a.matrix(rows: 6, columns: 4), .none, b.matrix(rows: 5, columns: 4), .transposed, into: c.matrix(rows: 6, columns: 5))
        matrixProducts(MatrixProduct(a.matrix(rows: 6, columns: 4), .transposed, c.matrix(rows: 6, columns: 5), into: d.matrix(rows: 4, columns: 5)),
                       MatrixProduct(c.matrix(rows: 6, columns: 5), .none, b.matrix(rows: 5, columns: 4), .none, into: a.matrix(rows: 6, columns: 4)))
        let planes = Tensor(shape: [2, 3 * 4]), taps = Tensor(shape: [9, 8]), gradient = Tensor(shape: [3, 9]), scratch = Tensor(shape: [2, 27])
        NarrowProducts.accumulateWeightGradient(planes: planes.matrix(rows: 2, columns: 12), taps: taps.pointer, tapStride: 8,
                                                into: gradient.matrix(rows: 3, columns: 9), scratch: scratch.matrix(rows: 2, columns: 27))
        MatrixProductStatistics.isEnabled = false
        let shapes = MatrixProductStatistics.shapes
        XCTAssertEqual(shapes, [
            ProductShape(m: 6, n: 5, k: 4, transposeB: true): 2,
            ProductShape(m: 4, n: 5, k: 6, transposeA: true): 1,
            ProductShape(m: 6, n: 4, k: 5): 1,
            ProductShape(m: 3, n: 9, k: 8, transposeB: true): 1,
        ])
        XCTAssertEqual(MatrixProductStatistics.flops, 2 * 240 + 240 + 240, "sgemm's FLOPs only (the narrow product is not timed there)")
        let bound = MatrixProductStatistics.boundSeconds(of: shapes)
        XCTAssertTrue(bound.isFinite && bound > 0)
        // Off, nothing is counted.
        MatrixProductStatistics.reset()
        matrixProduct(a.matrix(rows: 6, columns: 4), .none, b.matrix(rows: 5, columns: 4), .transposed, into: c.matrix(rows: 6, columns: 5))
        XCTAssertTrue(MatrixProductStatistics.shapes.isEmpty)
    }

    /// Pieces of a product on both threads at once are timed as the wall
    /// time some piece runs, once: the products' share of a step cannot
    /// pass 100% (summed thread by thread it did, 105% for the VQ-VAE).
    func testOverlappingPiecesCountWallTimeOnce() {
        let saved = BLASThreads.current
        defer { BLASThreads.set(saved) }
        BLASThreads.set(2)
        let n = 160
        let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), outputs = (0..<2).map { _ in Tensor(shape: [n, n]) }
        for i in 0..<a.count { (a.pointer[i], b.pointer[i]) = (Float(i % 7) - 3, Float(i % 5) - 2) }
        MatrixProductStatistics.reset()
        MatrixProductStatistics.isEnabled = true
        let start = DispatchTime.now().uptimeNanoseconds
        parallelParts(2) { part in
            for _ in 0..<20 {
                matrixProductPiece(MatrixProduct(a.matrix(rows: n, columns: n), .none, b.matrix(rows: n, columns: n), .none,
                                                 into: outputs[part].matrix(rows: n, columns: n)))
            }
        }
        let wall = DispatchTime.now().uptimeNanoseconds - start
        MatrixProductStatistics.isEnabled = false
        XCTAssertGreaterThan(MatrixProductStatistics.nanoseconds, 0)
        XCTAssertLessThanOrEqual(MatrixProductStatistics.nanoseconds, wall)
        XCTAssertEqual(MatrixProductStatistics.flops, 40 * 2 * Double(n * n * n))
    }
}
