import VAEEngine
import VAEModels
import XCTest

final class LossTests: XCTestCase {
    func testBernoulliLossIsBCEOfSigmoid() {
        let logits = Tensor(shape: [1, 3], values: [0, 2, -1])
        let target = Tensor(shape: [1, 3], values: [0.5, 1, 0.25])
        let loss = ReconstructionLoss(likelihood: .bernoulli)
        let total = loss.forward(logits: logits.matrix(rows: 1, columns: 3), target: target.matrix(rows: 1, columns: 3))
        var expected = 0.0
        for (l, x) in zip([0.0, 2, -1], [0.5, 1, 0.25]) {
            let p = 1 / (1 + Foundation.exp(-l))
            expected -= x * Foundation.log(p) + (1 - x) * Foundation.log(1 - p)
        }
        XCTAssertEqual(total, expected, accuracy: 1e-5)
    }

    func testBernoulliLossIsStableForExtremeLogits() {
        // σ(±100) rounds to 0 or 1 in Float32: a naive log(σ) would give inf or NaN.
        let logits = Tensor(shape: [1, 4], values: [100, -100, 100, -100])
        let target = Tensor(shape: [1, 4], values: [0, 1, 1, 0])
        let loss = ReconstructionLoss(likelihood: .bernoulli)
        let total = loss.forward(logits: logits.matrix(rows: 1, columns: 4), target: target.matrix(rows: 1, columns: 4))
        XCTAssertEqual(total, 200, accuracy: 1e-3)   // two confident mistakes of 100 nats each
        let g = loss.backward().array
        XCTAssert(g.allSatisfy { $0.isFinite })
        for (got, expected) in zip(g, [1, -1, 0, 0] as [Float]) { XCTAssertEqual(got, expected, accuracy: 1e-6) }
    }

    /// A measurement (no gradient) takes the logarithm of a product per 512
    /// pixels: each row's loss still agrees with the definition in Double, for
    /// rows shorter than a block, a 784-pixel row and rows past one product
    /// (1,000; 4,099), with logits up to ±90 and binary and grey targets.
    func testBernoulliMeasurementAgreesWithTheDefinition() {
        var rng = RandomGenerator(seed: 41)
        for columns in [3, 784, 1000, 4099] {
            let rows = 3
            let logits = Tensor(shape: [rows, columns]), target = Tensor(shape: [rows, columns])
            for i in 0..<logits.count {
                logits.pointer[i] = i % 97 == 0 ? (i % 2 == 0 ? 90 : -90) : 12 * (rng.uniform() - 0.5)
                target.pointer[i] = i % 3 == 0 ? rng.uniform() : (rng.uniform() < 0.5 ? 0 : 1)
            }
            let loss = ReconstructionLoss(likelihood: .bernoulli)
            let total = loss.forward(logits: logits.matrix(rows: rows, columns: columns),
                                     target: target.matrix(rows: rows, columns: columns), gradient: false)
            let perSample = loss.perSample.array
            var sum = 0.0
            for r in 0..<rows {
                var expected = 0.0
                for j in 0..<columns {
                    let l = Double(logits.pointer[r * columns + j]), x = Double(target.pointer[r * columns + j])
                    expected += max(l, 0) - l * x + Foundation.log1p(Foundation.exp(-abs(l)))
                }
                // Float sums of this many terms: a relative 1e-6 of the row.
                XCTAssertEqual(Double(perSample[r]), expected, accuracy: 1e-6 * expected + 1e-5, "\(columns) columns, row \(r)")
                sum += expected
            }
            XCTAssertEqual(total, sum, accuracy: 1e-6 * sum + 1e-4)
        }
    }

    func lossGradientCheck(_ likelihood: ReconstructionLikelihood, tolerance: Tolerance) {
        let (batch, d) = (3, 10)
        let logits = randomTensor([batch, d], seed: 31, scale: 3)
        var rng = RandomGenerator(seed: 32)
        let target = Tensor(shape: [batch, d])
        for i in 0..<target.count { target.pointer[i] = rng.uniform() }
        let loss = ReconstructionLoss(likelihood: likelihood)
        let l = logits.matrix(rows: batch, columns: d), x = target.matrix(rows: batch, columns: d)
        let f = { loss.forward(logits: l, target: x) }
        _ = f()
        XCTAssertEqual(loss.perSample.array.reduce(0, +), Float(f()), accuracy: 1e-4)
        let g = loss.backward().array
        checkGradient("\(likelihood) dLogits", values: logits.pointer, count: logits.count, analytic: g,
                      tolerance: tolerance, loss: f)
    }

    func testBernoulliGradientMatchesFiniteDifferences() {
        lossGradientCheck(.bernoulli, tolerance: Tolerance(h: 1e-2, rtol: 1e-2, atol: 1e-3))
    }

    func testGaussianGradientMatchesFiniteDifferences() {
        lossGradientCheck(.gaussian, tolerance: Tolerance(h: 1e-2, rtol: 1e-2, atol: 1e-3))
    }
}
