import Foundation
import VAEData
import VAEEngine
import VAEModels
import VAETraining
import XCTest

/// Training on a few hundred real MNIST images.
final class TrainerTests: XCTestCase {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Data/mnist").path
    static let test: ImageSet = try! MNIST.load(directory: data, split: .test)
    var train: ImageSet { Self.test.subset(0..<600) }
    var heldOut: ImageSet { Self.test.subset(9000..<9300) }

    let configuration = VAEConfiguration(hidden: [64], latent: 8)

    func makeTrainer(seed: UInt64 = 1, completedEpochs: Int = 0, model: MLPVAE? = nil, adam: Adam? = nil,
                     learningRate: Float = 1e-3) -> Trainer {
        let model = model ?? { let m = MLPVAE(configuration: configuration); m.initialize(seed: seed); return m }()
        var settings = TrainingSettings()
        settings.batchSize = 64   // 600 = 9·64 + 24: the last batch is partial
        settings.seed = seed
        settings.learningRate = learningRate
        return Trainer(model: model, optimizer: adam ?? Adam(parameters: model.parameters, learningRate: learningRate),
                       settings: settings,
                       train: train, test: heldOut, completedEpochs: completedEpochs)
    }

    func testLossFallsAndReportsAreConsistent() {
        let trainer = makeTrainer(learningRate: 3e-3)
        let before = evaluate(model: trainer.model, images: heldOut, seed: 1)
        XCTAssertEqual(before.negativeELBOPerSample, 543.3, accuracy: 150)   // ≈ 784·log 2 at initialisation
        var reports: [EpochReport] = []
        for _ in 0..<5 { reports.append(trainer.trainEpoch()) }
        print("held-out -ELBO by epoch:", reports.map { $0.test.negativeELBOPerSample })
        XCTAssertEqual(reports.map(\.epoch), [1, 2, 3, 4, 5])
        XCTAssertEqual(reports[0].train.count, 600)
        XCTAssertEqual(reports[4].test.count, 300)
        XCTAssertLessThan(reports[4].test.negativeELBOPerSample, 265)   // from ≈ 543 at initialisation
        XCTAssertLessThan(reports[4].test.negativeELBOPerSample, reports[0].test.negativeELBOPerSample)
        XCTAssert(reports.allSatisfy { $0.trainLoss.isFinite && $0.test.kl > 0 })
    }

    func testEvaluationIsDeterministic() {
        let trainer = makeTrainer()
        _ = trainer.trainEpoch()
        let a = evaluate(model: trainer.model, images: heldOut, seed: 5)
        let b = evaluate(model: trainer.model, images: heldOut, seed: 5, batchSize: 7)
        XCTAssertEqual(a.negativeELBOPerSample, b.negativeELBOPerSample, accuracy: 1e-3)
    }

    func testSameSeedGivesIdenticalWeights() {
        let a = makeTrainer(seed: 11), b = makeTrainer(seed: 11), c = makeTrainer(seed: 12)
        for t in [a, b, c] { _ = t.trainEpoch(); _ = t.trainEpoch() }
        XCTAssertEqual(a.model.parameters.values.array.map(\.bitPattern), b.model.parameters.values.array.map(\.bitPattern))
        XCTAssertNotEqual(a.model.parameters.values.array, c.model.parameters.values.array)
    }

    /// Two epochs straight, or one epoch, a checkpoint, a fresh process's load, and
    /// one more: the same bits.
    func testResumeFromCheckpointMatchesUninterruptedRun() throws {
        let straight = makeTrainer(seed: 21)
        _ = straight.trainEpoch()
        _ = straight.trainEpoch()

        let first = makeTrainer(seed: 21)
        _ = first.trainEpoch()
        let p = NSTemporaryDirectory() + "vae-resume-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: p) }
        var info = CheckpointInfo(configuration: configuration)
        info.epoch = 1
        info.seed = 21
        try Checkpoint.save(model: first.model, optimizer: first.optimizer, info: info, to: p)
        let loaded = try Checkpoint.load(path: p)
        let resumed = makeTrainer(seed: loaded.info.seed, completedEpochs: loaded.info.epoch,
                                  model: loaded.model, adam: loaded.optimizer)
        XCTAssertEqual(resumed.trainEpoch().epoch, 2)
        XCTAssertEqual(resumed.model.parameters.values.array.map(\.bitPattern),
                       straight.model.parameters.values.array.map(\.bitPattern))
    }

    func testSamplesAreDeterministicImages() {
        let trainer = makeTrainer()
        _ = trainer.trainEpoch()
        let a = sampleImages(model: trainer.model, count: 5, seed: 3)
        let b = sampleImages(model: trainer.model, count: 5, seed: 3)
        let c = sampleImages(model: trainer.model, count: 5, seed: 4)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.count, 5)
        XCTAssert(a.allSatisfy { $0.width == 28 && $0.height == 28 })
    }
}
