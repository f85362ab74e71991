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

    func makeTrainer(seed: UInt64 = 1, position: TrainingPosition = TrainingPosition(), model: VAE? = nil, adam: Adam? = nil,
                     learningRate: Float = 1e-3) -> Trainer {
        let model = model ?? { let m = VAE(configuration: configuration); m.initialize(seed: seed); return m }()
        var settings = TrainingSettings()
        settings.batchSize = 64   // 600 = 9·64 + 24: the last batch is partial
        settings.seed = seed
        settings.learningRate = learningRate
        return Trainer(model: model, optimizer: adam ?? Adam(parameters: model.parameters, learningRate: learningRate),
                       settings: settings,
                       train: train, test: heldOut, position: position)
    }

    func testLossFallsAndReportsAreConsistent() throws {
        let trainer = makeTrainer(learningRate: 3e-3)
        let before = evaluate(model: trainer.model, images: heldOut, seed: 1)
        XCTAssertEqual(before.negativeELBOPerSample, 543.3, accuracy: 150)   // ≈ 784·log 2 at initialisation
        var reports: [EpochReport] = []
        for _ in 0..<5 { reports.append(try trainer.finishEpoch()) }
        print("held-out -ELBO by epoch:", reports.map { $0.test.negativeELBOPerSample })
        XCTAssertEqual(reports.map(\.epoch), [1, 2, 3, 4, 5])
        XCTAssertEqual(reports[0].train.count, 600)
        XCTAssertEqual(reports[4].test.count, 300)
        XCTAssertLessThan(reports[4].test.negativeELBOPerSample, 265)   // from ≈ 543 at initialisation
        XCTAssertLessThan(reports[4].test.negativeELBOPerSample, reports[0].test.negativeELBOPerSample)
        XCTAssert(reports.allSatisfy { $0.trainLoss.isFinite && $0.test.kl > 0 })
    }

    func testEvaluationIsDeterministic() throws {
        let trainer = makeTrainer()
        _ = try trainer.finishEpoch()
        let a = evaluate(model: trainer.model, images: heldOut, seed: 5)
        let b = evaluate(model: trainer.model, images: heldOut, seed: 5, batchSize: 7)
        XCTAssertEqual(a.negativeELBOPerSample, b.negativeELBOPerSample, accuracy: 1e-3)
    }

    func testSameSeedGivesIdenticalWeights() throws {
        let a = makeTrainer(seed: 11), b = makeTrainer(seed: 11), c = makeTrainer(seed: 12)
        for t in [a, b, c] { _ = try t.finishEpoch(); _ = try t.finishEpoch() }
        XCTAssertEqual(a.model.parameters.values.array.map(\.bitPattern), b.model.parameters.values.array.map(\.bitPattern))
        XCTAssertNotEqual(a.model.parameters.values.array, c.model.parameters.values.array)
    }

    /// Two epochs straight, or one epoch, a checkpoint, a fresh process's load, and
    /// one more: the same bits.
    func testResumeFromCheckpointMatchesUninterruptedRun() throws {
        let straight = makeTrainer(seed: 21)
        _ = try straight.finishEpoch()
        _ = try straight.finishEpoch()

        let first = makeTrainer(seed: 21)
        _ = try first.finishEpoch()
        let p = NSTemporaryDirectory() + "vae-resume-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: p) }
        var info = CheckpointInfo(configuration: configuration)
        info.position = TrainingPosition(epoch: 1)
        info.seed = 21
        try Checkpoint.save(model: first.model, optimizer: first.optimizer, info: info, to: p)
        let loaded = try Checkpoint.load(path: p)
        let resumed = makeTrainer(seed: loaded.info.seed, position: loaded.info.position,
                                  model: loaded.model, adam: loaded.optimizer)
        XCTAssertEqual(try resumed.finishEpoch().epoch, 2)
        XCTAssertEqual(resumed.model.parameters.values.array.map(\.bitPattern),
                       straight.model.parameters.values.array.map(\.bitPattern))
    }

    /// Stopped after a few steps mid-epoch, saved, loaded and continued: the
    /// same bits as an uninterrupted run, wherever the stop falls.
    func testStopMidEpochAndResumeMatchesUninterruptedRun() throws {
        let straight = makeTrainer(seed: 31)
        for _ in 0..<2 { _ = try straight.finishEpoch() }
        for stopAfter in [1, 4, 12] {   // 10 batches an epoch: stops in epochs 1, 1 and 2
            let first = makeTrainer(seed: 31)
            var steps = 0
            var position: TrainingPosition?
            while position == nil {
                if case .interrupted(let p) = try first.trainEpoch(shouldStop: { steps += 1; return steps >= stopAfter }) {
                    position = p
                }
            }
            let p = NSTemporaryDirectory() + "vae-stop-\(UUID().uuidString).safetensors"
            defer { try? FileManager.default.removeItem(atPath: p) }
            var info = CheckpointInfo(configuration: configuration)
            info.position = position!
            info.seed = 31
            try Checkpoint.save(model: first.model, optimizer: first.optimizer, info: info, to: p)
            let loaded = try Checkpoint.load(path: p)
            XCTAssertEqual(loaded.info.position, position)
            let resumed = makeTrainer(seed: 31, position: loaded.info.position, model: loaded.model, adam: loaded.optimizer)
            while resumed.completedEpochs < 2 { _ = try resumed.finishEpoch() }
            XCTAssertEqual(resumed.model.parameters.values.array.map(\.bitPattern),
                           straight.model.parameters.values.array.map(\.bitPattern), "stopped after \(stopAfter) steps")
        }
    }

    func testDivergenceStopsBeforeTheWeightsChange() throws {
        // log σ² = 100 makes σ² overflow Float32: the KL term is infinite.
        // (The losses are written to stay finite for any logit, so a high
        // learning rate alone rarely gets here; an overflowing variance does.)
        let trainer = makeTrainer()
        let store = trainer.model.parameters
        let bias = store.slot("logvar.bias")
        for i in 0..<bias.spec.count { store.values.pointer[bias.offset + i] = 100 }
        let before = store.values.array
        XCTAssertThrowsError(try trainer.trainEpoch()) { error in
            let diverged = error as? TrainingDiverged
            XCTAssertEqual(diverged?.epoch, 1)
            XCTAssertEqual(diverged?.batch, 1)
            XCTAssertEqual(diverged?.term, "KL term")
        }
        XCTAssertEqual(store.values.array, before, "the failed step did not touch the weights")
        XCTAssertEqual(trainer.optimizer.step, 0)
    }

    func testGradientFinitenessCheck() {
        let store = ParameterStore(specs: [ParameterSpec(name: "p", shape: [21])])
        XCTAssertTrue(store.gradientsAreFinite())
        for bad in [Float.nan, .infinity, -.infinity] {
            for i in [0, 8, 20] {
                store.zeroGradients()
                store.gradients.pointer[i] = bad
                XCTAssertFalse(store.gradientsAreFinite(), "\(bad) at \(i)")
            }
        }
    }

    func testSamplesAreDeterministicImages() throws {
        let trainer = makeTrainer()
        _ = try trainer.finishEpoch()
        let a = sampleImages(model: trainer.model, count: 5, seed: 3)
        let b = sampleImages(model: trainer.model, count: 5, seed: 3)
        let c = sampleImages(model: trainer.model, count: 5, seed: 4)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.count, 5)
        XCTAssert(a.allSatisfy { $0.width == 28 && $0.height == 28 })
    }
}

extension Trainer {
    /// Trains the rest of the epoch, which must finish (nothing asks it to stop).
    func finishEpoch() throws -> EpochReport {
        guard case .finished(let report) = try trainEpoch() else {
            struct Unfinished: Error {}
            XCTFail("the epoch stopped though nothing asked it to")
            throw Unfinished()
        }
        return report
    }
}
