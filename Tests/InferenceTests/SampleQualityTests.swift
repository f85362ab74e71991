import VAEData
import VAEEngine
import VAEInference
import VAEModels
import VAETraining
import XCTest

/// The judge, its file, and the Fréchet distance.
final class SampleQualityTests: XCTestCase {
    static let judgePath = URL(fileURLWithPath: Fixtures.mnist).deletingLastPathComponent().appendingPathComponent("judge.safetensors").path

    /// LAPACK's eigenvalues of a matrix whose eigenvalues are known.
    func testSymmetricEigenvalues() throws {
        let eigen = try XCTUnwrap(SymmetricEigen([2, 1, 0, 1, 2, 0, 0, 0, 5], dimension: 3))
        XCTAssertEqual(eigen.values[0], 1, accuracy: 1e-12)
        XCTAssertEqual(eigen.values[1], 3, accuracy: 1e-12)
        XCTAssertEqual(eigen.values[2], 5, accuracy: 1e-12)
        // The square root squared gives the matrix back.
        let root = eigen.applying { $0.squareRoot() }
        for r in 0..<3 { for c in 0..<3 {
            let square = (0..<3).reduce(0.0) { $0 + root[r * 3 + $1] * root[$1 * 3 + c] }
            XCTAssertEqual(square, [2.0, 1, 0, 1, 2, 0, 0, 0, 5][r * 3 + c], accuracy: 1e-12)
        } }
    }

    /// d² for Gaussians with commuting covariances is |Δμ|² + Σ (√λ₁ − √λ₂)²;
    /// the distance is symmetric, and zero from a Gaussian to itself.
    func testFrechetDistanceOfKnownGaussians() throws {
        let a = GaussianMoments(mean: [0, 1], covariance: [4, 0, 0, 1])
        let b = GaussianMoments(mean: [3, 1], covariance: [1, 0, 0, 9])
        let expected = 9.0 + (2.0 - 1) * (2.0 - 1) + (1.0 - 3) * (1.0 - 3)
        XCTAssertEqual(try XCTUnwrap(frechetDistance(a, b)), expected, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(frechetDistance(b, a)), expected, accuracy: 1e-9)
        // A full covariance against itself, and against a rotated copy (same spectrum, other axes).
        let full = GaussianMoments(mean: [1, 2], covariance: [2, 1, 1, 2])
        XCTAssertEqual(try XCTUnwrap(frechetDistance(full, full)), 0, accuracy: 1e-9)
        let rotated = GaussianMoments(mean: [1, 2], covariance: [2, -1, -1, 2])
        // Σ₁ Σ₂ = [[3, 0], [0, 3]]: Tr (Σ₁Σ₂)^½ = 2√3, so d² = 8 − 4√3.
        XCTAssertEqual(try XCTUnwrap(frechetDistance(full, rotated)), 8 - 4 * 3.0.squareRoot(), accuracy: 1e-9)
    }

    /// The moments of sampled vectors approach the generating ones.
    func testMomentsOfSamples() {
        var rng = RandomGenerator(seed: 1)
        var rows = [Float](repeating: 0, count: 20_000 * 2)
        var noise = [Float](repeating: 0, count: 40_000)
        noise.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: 40_000) }
        for i in 0..<20_000 {
            let (u, v) = (noise[2 * i], noise[2 * i + 1])
            rows[2 * i] = 1 + 2 * u
            rows[2 * i + 1] = -1 + u + v
        }
        let m = GaussianMoments(rows: rows, dimension: 2)
        XCTAssertEqual(m.mean[0], 1, accuracy: 0.05)
        XCTAssertEqual(m.mean[1], -1, accuracy: 0.05)
        XCTAssertEqual(m.covariance[0], 4, accuracy: 0.15)
        XCTAssertEqual(m.covariance[1], 2, accuracy: 0.1)
        XCTAssertEqual(m.covariance[3], 2, accuracy: 0.1)
    }

    /// The shipped judge: ≥ 99% on MNIST's test set; the test set's Fréchet
    /// distance to itself is 0, to the same digits with their pixels shuffled large.
    func testTheShippedJudge() throws {
        let loaded = try JudgeFile.load(path: Self.judgePath)
        let test = try MNIST.load(directory: Fixtures.mnist, split: .test)
        let reading = readImages(loaded.judge, test)
        let accuracy = reading.agreement(with: test.labels!.map(Int.init))
        XCTAssertGreaterThanOrEqual(accuracy, 0.99)
        XCTAssertEqual(loaded.testAccuracy ?? 0, accuracy, accuracy: 1e-9, "the file states what it reaches")
        XCTAssertEqual(reading.classEntropy, 2.30, accuracy: 0.01)
        XCTAssertEqual(try XCTUnwrap(reading.frechetDistance(to: reading)), 0, accuracy: 1e-3)
        XCTAssertNil(readImages(loaded.judge, test.subset(0..<1)).frechetDistance(to: reading), "one image has no covariance")
        // Each image's pixels in one fixed random order: the same intensities, no digits.
        var rng = RandomGenerator(seed: 7)
        let order = rng.permutation(784)
        let shuffled = readImages(loaded.judge, count: 2000) { i, out in
            let image = test.pixels[(i * 784)..<((i + 1) * 784)]
            for (j, k) in order.enumerated() { out[j] = Float(image[image.startIndex + k]) / 255 }
        }
        let halfOfTest = readImages(loaded.judge, test.subset(0..<2000))
        let otherHalf = readImages(loaded.judge, test.subset(5000..<7000))
        let real = try XCTUnwrap(halfOfTest.frechetDistance(to: otherHalf))
        let noise = try XCTUnwrap(shuffled.frechetDistance(to: otherHalf))
        // 2,000 against 2,000 in 256 dimensions: the estimate's own bias is most of `real`.
        XCTAssertLessThan(real, 100, "two parts of the test set are close")
        XCTAssertGreaterThan(noise, 10 * real, "shuffled pixels are far: \(noise) against \(real)")
    }

    /// A judge trained here on 5,000 digits reads 2,000 held-back test digits.
    func testAJudgeLearnsDigitsItHasNotSeen() throws {
        let train = try MNIST.load(directory: Fixtures.mnist, split: .train).subset(0..<5000)
        let test = try MNIST.load(directory: Fixtures.mnist, split: .test).subset(0..<2000)
        var settings = JudgeTrainingSettings()
        settings.epochs = 3
        let judge = Judge(JudgeConfiguration())
        let history = trainJudge(judge, train: train, test: test, settings: settings)
        XCTAssertEqual(history.count, 3)
        XCTAssertGreaterThan(history[2].testAccuracy, 0.92)
        XCTAssertEqual(history[2].testAccuracy, judgeAccuracy(judge, on: test))
        // Written and read back, it reads the same.
        let path = NSTemporaryDirectory() + "judge-\(ProcessInfo.processInfo.processIdentifier).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JudgeFile.save(judge, classNames: nil, testAccuracy: history[2].testAccuracy, to: path)
        let back = try JudgeFile.load(path: path)
        XCTAssertEqual(back.judge.configuration, judge.configuration)
        XCTAssertEqual(readImages(back.judge, test).predictions, readImages(judge, test).predictions)
    }

    /// A damaged or foreign file: one line naming it and the problem.
    func testDamagedJudgeFiles() throws {
        let judge = Judge(JudgeConfiguration(shape: ImageShape(height: 8, width: 8), classes: 3,
                                             stages: [.init(channels: 2, stride: 2)], hidden: 4))
        let path = NSTemporaryDirectory() + "damaged-judge-\(ProcessInfo.processInfo.processIdentifier).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JudgeFile.save(judge, classNames: ["a", "b", "c"], testAccuracy: 0.5, to: path)
        XCTAssertEqual(try JudgeFile.load(path: path).classNames, ["a", "b", "c"])
        let good = try SafeTensors.read(path: path)
        let cases: [(String, (inout SafeTensorsFile) -> Void)] = [
            ("not a judge", { $0.metadata["format"] = nil }),
            ("this is a VAE checkpoint", { $0.metadata["format"] = nil; $0.metadata["format_version"] = "2" }),
            ("metadata stages", { $0.metadata["stages"] = "2/9" }),
            ("metadata stages", { $0.metadata["stages"] = "lots" }),
            ("metadata classes", { $0.metadata["classes"] = "100000000" }),
            ("metadata hidden", { $0.metadata["hidden"] = "-4" }),
            ("class_names has 2 names", { $0.metadata["class_names"] = "a\nb" }),
            ("tensor classifier.bias is missing", { $0.tensors.removeAll { $0.name == "classifier.bias" } }),
            ("has shape", { $0.metadata["hidden"] = "5" }),
            ("unexpected tensor", { $0.tensors.append(NamedTensor(name: "extra", shape: [1], values: [0])) }),
            ("NaN", { f in
                let t = f.tensors[0]
                f.tensors[0] = NamedTensor(name: t.name, shape: t.shape, values: [.nan] + t.values.dropFirst())
            }),
        ]
        for (message, damage) in cases {
            var file = good
            damage(&file)
            try SafeTensors.write(file, to: path)
            XCTAssertThrowsError(try JudgeFile.load(path: path), message) { error in
                XCTAssert("\(error)".contains(path) && "\(error)".contains(message), "\(message): \(error)")
            }
        }
    }
}
