import Foundation
import VAEData
import VAEEngine
import VAEInference
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

    let configuration = ModelConfiguration(hidden: [64], latent: 8)

    func settings(seed: UInt64, learningRate: Float = 1e-3, corruption: Corruption? = nil, perturbation: Float? = nil) -> TrainingSettings {
        var settings = TrainingSettings()
        settings.batchSize = 64   // 600 = 9·64 + 24: the last batch is partial
        settings.seed = seed
        settings.learningRate = learningRate
        settings.adamEpsilon = 3e-5   // not the default, so a checkpoint's copy is seen to come back
        settings.corruption = corruption
        settings.data.perturbation = perturbation
        return settings
    }

    func makeTrainer(seed: UInt64 = 1, position: TrainingPosition? = nil, model: (any VariationalModel)? = nil, adam: Adam? = nil,
                     learningRate: Float = 1e-3, corruption: Corruption? = nil, perturbation: Float? = nil) -> Trainer {
        let model = model ?? { let m = GaussianVAE(configuration: configuration); m.initialize(seed: seed); return m }()
        let settings = settings(seed: seed, learningRate: learningRate, corruption: corruption, perturbation: perturbation)
        return Trainer(model: model, optimizer: adam ?? Adam(parameters: model.parameters, learningRate: learningRate, epsilon: settings.adamEpsilon),
                       settings: settings, train: train, test: heldOut, position: position)
    }

    /// A run's Adam ε comes back from its checkpoint (checked by the resume
    /// tests, which set one that is not the default); a bad one is refused.
    func testAdamEpsilonInMetadata() throws {
        var metadata = settings(seed: 1).metadata
        XCTAssertEqual(try TrainingSettings(metadata: metadata).adamEpsilon, 3e-5)
        metadata["adam_epsilon"] = nil
        XCTAssertEqual(try TrainingSettings(metadata: metadata).adamEpsilon, 1e-8, "files from before the key")
        for (value, problem) in [("0", "metadata adam_epsilon is 0.0, expected a number in (0, 1]"),
                                 ("nan", "metadata adam_epsilon is nan, expected a number")] {
            metadata["adam_epsilon"] = value
            XCTAssertThrowsError(try TrainingSettings(metadata: metadata)) { XCTAssertEqual(($0 as? MetadataError)?.problem, problem) }
        }
    }

    /// Saves a trainer's run as a checkpoint and loads it back, as a new process would.
    func saveAndLoad(_ trainer: Trainer, position: TrainingPosition) throws -> TrainingCheckpoint.Loaded {
        let p = NSTemporaryDirectory() + "vae-resume-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: p) }
        try TrainingCheckpoint.save(model: trainer.model, optimizer: trainer.optimizer, settings: trainer.settings,
                                    position: position, test: LossTerms(trainer.model.lossTerms(.closedForm)), to: p)
        return try TrainingCheckpoint.load(path: p)
    }

    func bits(_ model: any VariationalModel) -> [UInt32] { model.parameters.values.array.map(\.bitPattern) }

    func testLossFallsAndReportsAreConsistent() throws {
        let trainer = makeTrainer(learningRate: 3e-3)
        let before = evaluate(model: trainer.model, images: heldOut, seed: 1)
        XCTAssertEqual(before.boundPerSample, 543.3, accuracy: 150)   // ≈ 784·log 2 at initialisation
        var reports: [EpochReport] = []
        for _ in 0..<5 { reports.append(try trainer.finishEpoch()) }
        print("held-out -ELBO by epoch:", reports.map { $0.test.boundPerSample })
        XCTAssertEqual(reports.map(\.epoch), [1, 2, 3, 4, 5])
        XCTAssertEqual(reports[0].train.count, 600)
        XCTAssertEqual(reports[4].test.count, 300)
        XCTAssertLessThan(reports[4].test.boundPerSample, 265)   // from ≈ 543 at initialisation
        XCTAssertLessThan(reports[4].test.boundPerSample, reports[0].test.boundPerSample)
        XCTAssert(reports.allSatisfy { $0.trainLoss.isFinite && ($0.test.sum(.kl) ?? 0) > 0 })
        XCTAssertEqual(reports[0].train.terms, [.reconstruction, .kl])
    }

    func testEvaluationIsDeterministic() throws {
        let trainer = makeTrainer()
        _ = try trainer.finishEpoch()
        let a = evaluate(model: trainer.model, images: heldOut, seed: 5)
        let b = evaluate(model: trainer.model, images: heldOut, seed: 5, batchSize: 7)
        XCTAssertEqual(a.boundPerSample, b.boundPerSample, accuracy: 1e-3)
    }

    func testSameSeedGivesIdenticalWeights() throws {
        let a = makeTrainer(seed: 11), b = makeTrainer(seed: 11), c = makeTrainer(seed: 12)
        for t in [a, b, c] { _ = try t.finishEpoch(); _ = try t.finishEpoch() }
        XCTAssertEqual(bits(a.model), bits(b.model))
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
        let loaded = try saveAndLoad(first, position: first.position)
        XCTAssertEqual(loaded.settings, first.settings)
        let resumed = makeTrainer(seed: loaded.settings.seed, position: loaded.position, model: loaded.model, adam: loaded.optimizer)
        XCTAssertEqual(try resumed.finishEpoch().epoch, 2)
        XCTAssertEqual(bits(resumed.model), bits(straight.model))
    }

    /// Stopped after a few steps mid-epoch, saved, loaded and continued: the
    /// same bits as an uninterrupted run, wherever the stop falls; for plain
    /// denoising training and a background model's (the corruption or
    /// perturbation is drawn again, exactly, for each remaining batch).
    func testStopMidEpochAndResumeMatchesUninterruptedRun() throws {
        for (corruption, perturbation) in [(nil, nil), (Corruption.noise(0.3), nil), (.mask(0.4), nil), (nil, Float(0.2))] {
            let straight = makeTrainer(seed: 31, corruption: corruption, perturbation: perturbation)
            for _ in 0..<2 { _ = try straight.finishEpoch() }
            for stopAfter in [1, 4, 12] {   // 10 batches an epoch: stops in epochs 1, 1 and 2
                let first = makeTrainer(seed: 31, corruption: corruption, perturbation: perturbation)
                var steps = 0
                var position: TrainingPosition?
                while position == nil {
                    if case .interrupted(let p) = try first.trainEpoch(shouldStop: { steps += 1; return steps >= stopAfter }) {
                        position = p
                    }
                }
                let loaded = try saveAndLoad(first, position: position!)
                XCTAssertEqual(loaded.position, position)
                XCTAssertEqual(loaded.settings.corruption, corruption)
                XCTAssertEqual(loaded.settings.data.perturbation, perturbation)
                let resumed = makeTrainer(seed: 31, position: loaded.position, model: loaded.model, adam: loaded.optimizer,
                                          corruption: loaded.settings.corruption, perturbation: loaded.settings.data.perturbation)
                while resumed.completedEpochs < 2 { _ = try resumed.finishEpoch() }
                XCTAssertEqual(bits(resumed.model), bits(straight.model),
                               "\(corruption?.spec ?? perturbation.map { "perturb \($0)" } ?? "plain"): stopped after \(stopAfter) steps")
            }
        }
    }

    /// A conditional model with a learned class prior, stopped mid-epoch and
    /// resumed: the same bits, the prior's table included (and it has moved).
    func testLearnedClassPriorResumesBitExactly() throws {
        let c = ModelConfiguration(hidden: [64], latent: 8, classes: 10, learnedClassPrior: true)
        func fresh() -> GaussianVAE { let m = GaussianVAE(configuration: c); m.initialize(seed: 41); return m }
        let straight = makeTrainer(seed: 41, model: fresh())
        for _ in 0..<2 { _ = try straight.finishEpoch() }
        let first = makeTrainer(seed: 41, model: fresh())
        var steps = 0
        var position: TrainingPosition?
        while position == nil {
            if case .interrupted(let p) = try first.trainEpoch(shouldStop: { steps += 1; return steps >= 6 }) { position = p }
        }
        let loaded = try saveAndLoad(first, position: position!)
        XCTAssertEqual(loaded.model.configuration, c)
        let resumed = makeTrainer(seed: 41, position: loaded.position, model: loaded.model, adam: loaded.optimizer)
        while resumed.completedEpochs < 2 { _ = try resumed.finishEpoch() }
        XCTAssertEqual(bits(resumed.model), bits(straight.model))
        let prior = straight.model.parameters.slot("class_prior.weight")
        XCTAssertTrue((0..<prior.spec.count).contains { straight.model.parameters.values.pointer[prior.offset + $0] != 0 })
    }

    /// Each batch's corruption is a function of (seed, epoch, batch) alone:
    /// drawn again it is the same, another batch or seed gives another, and
    /// the target stays the clean image.
    func testCorruptionIsDeterministicPerSeedEpochAndBatch() {
        func assembler(seed: UInt64) -> BatchAssembler {
            BatchAssembler(images: train, settings: settings(seed: seed, corruption: .saltAndPepper(0.3)), noisePerDraw: 8, draws: 1,
                           classes: 0)
        }
        let a = assembler(seed: 7), b = assembler(seed: 7), c = assembler(seed: 8)
        let order = a.order(epoch: 2)
        XCTAssertEqual(order, b.order(epoch: 2))
        func copy(_ m: Matrix) -> [Float] { m.array }
        let first = a.batch(epoch: 2, index: 3, order: order)
        let (input, target, noise) = (copy(first.batch.input), copy(first.batch.target), copy(first.noise))
        let again = b.batch(epoch: 2, index: 3, order: order)
        XCTAssertEqual(copy(again.batch.input), input)
        XCTAssertEqual(copy(again.noise), noise)
        // The target is the clean images of the batch, in the epoch's order.
        let clean = Tensor(shape: [64, 784])
        train.gather(order[(3 * 64)..<(4 * 64)], into: clean.pointer)
        XCTAssertEqual(target, clean.array)
        XCTAssertNotEqual(input, target)
        // Salt (1) changes nearly every pixel it hits, pepper (0) only the ink: between p/2 and p of them.
        let changed = Double(zip(input, target).filter { $0 != $1 }.count) / Double(input.count)
        XCTAssert((0.15...0.3).contains(changed), "\(changed) of the pixels changed")
        XCTAssert(input.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertNotEqual(copy(b.batch(epoch: 2, index: 4, order: order).batch.input), input, "another batch")
        XCTAssertNotEqual(copy(b.batch(epoch: 3, index: 3, order: order).batch.input), input, "another epoch")
        XCTAssertNotEqual(copy(c.batch(epoch: 2, index: 3, order: order).batch.input), input, "another seed")
        // The batches read above are views of the assemblers' buffers.
        withExtendedLifetime((a, b, c)) {}
    }

    /// A background model's images (Ren et al. 2019): about 20% of the pixels
    /// replaced by random levels, in the input and the target alike, the same
    /// for the same (seed, epoch, batch).
    func testPerturbationReplacesPixelsOfInputAndTarget() {
        func assembler(seed: UInt64) -> BatchAssembler {
            BatchAssembler(images: train, settings: settings(seed: seed, perturbation: 0.2), noisePerDraw: 8, draws: 1, classes: 0)
        }
        let a = assembler(seed: 7)
        let order = a.order(epoch: 1)
        let (input, target) = withExtendedLifetime(a) {
            let batch = a.batch(epoch: 1, index: 2, order: order).batch
            return (batch.input.array, batch.target.array)
        }
        XCTAssertEqual(input, target, "the background model learns the perturbed images themselves")
        let clean = Tensor(shape: [64, 784])
        train.gather(order[(2 * 64)..<(3 * 64)], into: clean.pointer)
        // A replaced pixel keeps its value only when the random level happens to be it (about 1 in 256).
        let changed = Double(zip(input, clean.array).filter { $0 != $1 }.count) / Double(input.count)
        XCTAssert((0.18...0.22).contains(changed), "\(changed) of the pixels changed")
        XCTAssert(input.allSatisfy { abs($0 * 255 - ($0 * 255).rounded()) < 1e-3 && $0 >= 0 && $0 <= 1 }, "values are levels k/255")
        // The batches are views of each assembler's buffers: keep the assemblers alive while reading them.
        let (same, other) = (assembler(seed: 7), assembler(seed: 8))
        withExtendedLifetime((same, other)) {
            XCTAssertEqual(same.batch(epoch: 1, index: 2, order: order).batch.input.array, input)
            XCTAssertNotEqual(other.batch(epoch: 1, index: 2, order: order).batch.input.array, input)
        }
        var metadata = settings(seed: 1, perturbation: 0.2).metadata
        XCTAssertEqual(metadata["perturb"], "0.2")
        XCTAssertEqual(try TrainingSettings(metadata: metadata).data.perturbation, 0.2)
        metadata["perturb"] = "1.5"
        XCTAssertThrowsError(try TrainingSettings(metadata: metadata))
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

    func testLearningRateSchedules() {
        XCTAssertEqual(LearningRateSchedule.iwae.rate(base: 1e-3, epoch: 1), 1e-3)
        XCTAssertEqual(LearningRateSchedule.iwae.rate(base: 1e-3, epoch: 2), Float(1e-3 * pow(10, -1.0 / 7)), accuracy: 1e-9)
        XCTAssertEqual(LearningRateSchedule.iwae.rate(base: 1e-3, epoch: 4), Float(1e-3 * pow(10, -1.0 / 7)), accuracy: 1e-9)
        XCTAssertEqual(LearningRateSchedule.iwae.rate(base: 1e-3, epoch: 5), Float(1e-3 * pow(10, -2.0 / 7)), accuracy: 1e-9)
        XCTAssertEqual(LearningRateSchedule.iwae.rate(base: 1e-3, epoch: 3280), Float(1e-4), accuracy: 1e-9)
        XCTAssertEqual(LearningRateSchedule.exponential(0.5).rate(base: 1, epoch: 3), 0.25)
        XCTAssertEqual(LearningRateSchedule(text: "iwae"), .iwae)
        XCTAssertNil(LearningRateSchedule(text: "fast"))
        var s = TrainingSettings()
        s.beta = 2
        s.warmupEpochs = 4
        XCTAssertEqual(s.klWeight(at: 0), 0)
        XCTAssertEqual(s.klWeight(at: 1), 0.5)
        XCTAssertEqual(s.klWeight(at: 10), 2)
    }

    func testDenoisingTrainingSeesCorruptedInputsAndLearns() throws {
        let plain = makeTrainer(seed: 41, learningRate: 3e-3), denoising = makeTrainer(seed: 41, learningRate: 3e-3, corruption: .noise(0.3))
        var last: (EpochReport, EpochReport)?
        for _ in 0..<3 { last = (try plain.finishEpoch(), try denoising.finishEpoch()) }
        // Same seed, same initial weights and ε: only the inputs differ, and so do the weights.
        XCTAssertNotEqual(bits(plain.model), bits(denoising.model))
        XCTAssertLessThan(last!.1.test.boundPerSample, 300, "the denoising model learns (from ≈ 543)")
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
