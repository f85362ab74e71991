import VAEData
import VAEEngine
import VAEModels
import XCTest

/// The judge's objective: softmax cross-entropy through its convolutions.
final class JudgeTests: XCTestCase {
    /// d(mean cross-entropy)/dθ for every parameter against central
    /// differences, on a small judge (8x8 images, two stages, three classes).
    func testCrossEntropyGradientMatchesFiniteDifferences() {
        let configuration = JudgeConfiguration(shape: ImageShape(height: 8, width: 8), classes: 3,
                                               stages: [.init(channels: 4, stride: 2), .init(channels: 5, stride: 1)], hidden: 6)
        XCTAssertNil(configuration.problem)
        let judge = Judge(configuration)
        var rng = RandomGenerator(seed: 3)
        judge.initialize(using: &rng)
        judge.reserve(batchSize: 4)
        let x = Tensor(shape: [4, 64])
        for i in 0..<x.count { x.pointer[i] = rng.uniform() }
        let batch = x.matrix(rows: 4, columns: 64)
        let labels = [0, 2, 1, 2]
        judge.parameters.zeroGradients()
        let step = judge.crossEntropyStep(batch, labels: labels)
        let analytic = Array(judge.parameters.gradients.buffer)
        func loss() -> Double {
            let p = judge.read(batch).probabilities
            return labels.enumerated().reduce(0) { $0 - log(Double(p.row($1.offset)[$1.element])) } / Double(labels.count)
        }
        XCTAssertEqual(step.loss, loss(), accuracy: 1e-5)
        checkGradient("judge", values: judge.parameters.values.pointer, count: judge.parameters.count, analytic: analytic,
                      tolerance: Tolerance(h: 1e-3, rtol: 3e-2, atol: 3e-4), maxChecks: 400, loss: loss)
    }

    /// Too small for its convolutions: said, not trapped.
    func testTooSmallImagesAreAProblem() {
        let tiny = JudgeConfiguration(shape: ImageShape(height: 1, width: 1), classes: 2,
                                      stages: [.init(channels: 2, stride: 2), .init(channels: 2, stride: 2)])
        XCTAssertNil(tiny.problem, "3x3 with padding 1 keeps a 1x1 image 1x1")
        XCTAssertEqual(tiny.parameterSpecs.first { $0.name == "features.fc.weight" }?.shape, [256, 2])
    }
}
