import VAEEngine
import XCTest

/// The eight-lane exp, log1p and sigmoid against the C library in Double, over
/// their whole domains, measured in units in the last place (ulp) of the result.
final class VectorMathTests: XCTestCase {
    /// The largest error in ulps of `lanes` against `reference` over `inputs`.
    func worstULPs(_ inputs: [Float], _ lanes: (FloatLanes) -> FloatLanes, _ reference: (Double) -> Double) -> Double {
        var worst = 0.0
        var out = [Float](repeating: 0, count: inputs.count)
        inputs.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                mapLanes(input.baseAddress!, output.baseAddress!, count: inputs.count, lanes)
            }
        }
        for (x, y) in zip(inputs, out) {
            let exact = reference(Double(x))
            worst = max(worst, abs(Double(y) - exact) / Double(Float(exact).ulp))
        }
        return worst
    }

    /// `count` evenly spaced points of [lower, upper], both ends included (an odd count leaves a tail).
    func grid(_ lower: Float, _ upper: Float, count: Int) -> [Float] {
        (0..<count).map { lower + (upper - lower) * Float($0) / Float(count - 1) }
    }

    func testExponentialIsWithinTwoULPs() {
        let inputs = grid(-87, 0, count: 200_001) + [-1e-30, -1e-7, -0.5 * Float(M_LN2), 0]
        XCTAssertLessThanOrEqual(worstULPs(inputs, exponentialOfNonPositive, Foundation.exp), 2)
    }

    func testExponentialBelowTheNormalRangeStaysTinyAndFinite() {
        var out = [Float](repeating: -1, count: 3)
        mapLanes([-88, -1000, -.infinity], &out, count: 3, exponentialOfNonPositive)
        for y in out { XCTAssert(y > 0 && y < 1.3e-38, "\(y)") }
    }

    func testLogOnePlusIsWithinTwoULPsIncludingTinyArguments() {
        let tiny: [Float] = [1e-30, 1e-12, 6e-8, 1e-5, 1e-3]
        XCTAssertLessThanOrEqual(worstULPs(grid(0, 1, count: 100_003) + tiny, logOnePlusUnit, Foundation.log1p), 2)
    }

    /// The measurement-only versions (FMAs where the build has them; the
    /// polynomial log1p without a division).
    func testFusedExponentialAndLogOnePlusAreWithinTwoULPs() {
        let inputs = grid(-87, 0, count: 200_001) + [-1e-30, -1e-7, -0.5 * Float(M_LN2), 0]
        XCTAssertLessThanOrEqual(worstULPs(inputs, { exponentialOfNonPositive($0, fused: true) }, Foundation.exp), 2)
        let tiny: [Float] = [1e-30, 1e-12, 6e-8, 1e-5, 1e-3]
        XCTAssertLessThanOrEqual(worstULPs(grid(0, 1, count: 100_003) + tiny, logOnePlusUnitFused, Foundation.log1p), 2)
    }

    /// The logarithm of a product of factors in [1, 2] (the measurement-only
    /// Bernoulli loss's): from 1 to 2⁶⁴, powers of two and their neighbours included.
    func testLogarithmOfAtLeastOneIsWithinTwoULPs() {
        let powers = (0...64).flatMap { k -> [Float] in
            let p = Float(sign: .plus, exponent: k, significand: 1)
            return [p, p.nextUp, p.nextDown].filter { $0 >= 1 }
        }
        let inputs = grid(1, 2, count: 100_001) + grid(2, 1e6, count: 100_001) + grid(1e6, 1.8e19, count: 10_001) + powers
        XCTAssertLessThanOrEqual(worstULPs(inputs, logarithmOfAtLeastOne, Foundation.log), 2)
    }

    func testSigmoidIsWithinThreeULPsOnBothSides() {
        let inputs = grid(-80, 80, count: 160_001)
        XCTAssertLessThanOrEqual(worstULPs(inputs, sigmoid, { 1 / (1 + Foundation.exp(-$0)) }), 3)
        XCTAssertEqual(sigmoid(Float(0)), 0.5)
        XCTAssertEqual(sigmoid(Float(100)), 1)
        XCTAssertGreaterThan(sigmoid(Float(-100)), 0)   // e^−100 is representable: no underflow to 0
    }

    func testHyperbolicTangentIsWithinTwoULPsIncludingTinyArguments() {
        let inputs = grid(-12, 12, count: 240_001) + [1e-30, -1e-20, 1e-7, -3e-4, 0.6249, 0.625, -0.6251, 40, -40]
        XCTAssertLessThanOrEqual(worstULPs(inputs, hyperbolicTangent, Foundation.tanh), 2)
    }

    /// One NaN or infinity anywhere, in the lanes or the tail, is found; the
    /// largest finite values and subnormals are not mistaken for one.
    func testAllFiniteFindsEveryNonFiniteValue() {
        for count in [0, 1, 7, 8, 9, 100] {
            var values = (0..<count).map { i in [Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -0, 1][i % 5] }
            XCTAssertTrue(allFinite(values), "\(count) finite values")
            for i in 0..<count {
                for bad in [Float.nan, .infinity, -.infinity, -Float.nan] {
                    let kept = values[i]
                    values[i] = bad
                    XCTAssertFalse(allFinite(values), "\(bad) at \(i) of \(count)")
                    values[i] = kept
                }
            }
        }
    }

    func testScalarSigmoidAgreesWithTheLanes() {
        let inputs = grid(-10, 10, count: 1001)
        var out = [Float](repeating: 0, count: inputs.count)
        mapLanes(inputs, &out, count: inputs.count, sigmoid)
        for (x, y) in zip(inputs, out) { XCTAssertEqual(sigmoid(x), y) }
    }
}
