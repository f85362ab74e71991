import VAEInference
import XCTest

/// AUROC and average precision against cases worked out by hand.
final class AnomalyMetricsTests: XCTestCase {
    func testSeparatedAndReversed() {
        let anomalous = [false, false, true, true]
        XCTAssertEqual(areaUnderROC(scores: [1, 2, 3, 4], anomalous: anomalous), 1)
        XCTAssertEqual(averagePrecision(scores: [1, 2, 3, 4], anomalous: anomalous), 1)
        XCTAssertEqual(areaUnderROC(scores: [4, 3, 2, 1], anomalous: anomalous), 0)
        // Reversed: the anomalies come last, at recall ½ precision ⅓, at recall 1 precision ½.
        XCTAssertEqual(averagePrecision(scores: [4, 3, 2, 1], anomalous: anomalous), 0.5 * (1.0 / 3) + 0.5 * 0.5, accuracy: 1e-12)
    }

    func testScikitLearnExample() {
        // scores 0.1 0.4 0.35 0.8 for labels 0 0 1 1: 3 of the 4 (anomaly, normal) pairs are ordered right.
        let scores = [0.1, 0.4, 0.35, 0.8], anomalous = [false, false, true, true]
        XCTAssertEqual(areaUnderROC(scores: scores, anomalous: anomalous), 0.75)
        // Thresholds 0.8: P 1 R ½; 0.4: P ½ R ½; 0.35: P ⅔ R 1  →  ½·1 + 0 + ½·⅔.
        XCTAssertEqual(averagePrecision(scores: scores, anomalous: anomalous), 0.5 + 0.5 * 2.0 / 3, accuracy: 1e-12)
    }

    func testTiesCountHalfAndShareAThreshold() {
        // Pairs (anomaly, normal): (1,1) tie ½, (1,2) 0, (2,1) 1, (2,2) tie ½  →  2/4.
        XCTAssertEqual(areaUnderROC(scores: [1, 1, 2, 2], anomalous: [false, true, false, true]), 0.5)
        // Tied scores are one threshold: at 2, P ½ R ½; at 1, P ½ R 1.
        XCTAssertEqual(averagePrecision(scores: [1, 1, 2, 2], anomalous: [false, true, false, true]), 0.5, accuracy: 1e-12)
        // 3 beats both normals (2), 2 ties one normal (½) and beats the other (1): 3.5/4.
        XCTAssertEqual(areaUnderROC(scores: [3, 2, 2, 1], anomalous: [true, true, false, false]), 0.875)
        // At 3: P 1 R ½; at 2: P ⅔ R 1.
        XCTAssertEqual(averagePrecision(scores: [3, 2, 2, 1], anomalous: [true, true, false, false]), 0.5 + 0.5 * 2.0 / 3, accuracy: 1e-12)
        // All tied: chance, and precision is the base rate.
        XCTAssertEqual(areaUnderROC(scores: [5, 5, 5, 5, 5], anomalous: [true, false, false, false, true]), 0.5)
        XCTAssertEqual(averagePrecision(scores: [5, 5, 5, 5, 5], anomalous: [true, false, false, false, true]), 0.4, accuracy: 1e-12)
    }

    func testAUROCEqualsPairCountingOnRandomData() {
        var state: UInt64 = 99
        func next() -> Double { state = state &* 6_364_136_223_846_793_005 &+ 1; return Double(state >> 40 % 7) }
        let scores = (0..<300).map { _ in Double(Int(next()) % 13) }   // many ties
        let anomalous = (0..<300).map { $0 % 3 == 0 }
        var wins = 0.0, pairs = 0.0
        for i in scores.indices where anomalous[i] {
            for j in scores.indices where !anomalous[j] {
                pairs += 1
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
            }
        }
        XCTAssertEqual(areaUnderROC(scores: scores, anomalous: anomalous), wins / pairs, accuracy: 1e-12)
    }

    func testROCCurveAndThresholdOutcome() {
        let scores = [0.1, 0.4, 0.35, 0.8], anomalous = [false, false, true, true]
        let curve = rocCurve(scores: scores, anomalous: anomalous)
        XCTAssertEqual(curve.map(\.x), [0, 0, 0.5, 0.5, 1])
        XCTAssertEqual(curve.map(\.y), [0, 0.5, 0.5, 1, 1])
        let outcome = ThresholdOutcome(scores: scores, anomalous: anomalous, threshold: 0.3)
        XCTAssertEqual(outcome.truePositiveRate, 1)
        XCTAssertEqual(outcome.falsePositiveRate, 0.5)
        XCTAssertEqual(outcome.precision, 2.0 / 3, accuracy: 1e-12)
    }

    func testPercentileInterpolatesLikeNumPy() {
        XCTAssertEqual(percentile([1, 2, 3, 4], 50), 2.5)
        XCTAssertEqual(percentile([1, 2, 3, 4], 100), 4)
        XCTAssertEqual(percentile([1, 2, 3, 4], 0), 1)
        XCTAssertEqual(percentile([10, 0, 20], 75), 15)   // sorted 0 10 20, position 1.5
    }
}
