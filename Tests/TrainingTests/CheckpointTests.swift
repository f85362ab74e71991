import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels
import VAEPlots
import VAETraining
import XCTest

final class CheckpointTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vae-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    let configuration = ModelConfiguration(shape: ImageShape(height: 4, width: 4), hidden: [8, 6], latent: 3, likelihood: .gaussian)

    /// A model with non-trivial weights and optimiser state.
    func trainedModel(_ configuration: ModelConfiguration? = nil) -> (any VariationalModel, Adam) {
        let c = configuration ?? self.configuration
        let model = c.family.makeModel(c)
        model.initialize(seed: 3)
        let adam = Adam(parameters: model.parameters)
        let objective = Objective(.elbo, model: model)
        var rng = RandomGenerator(seed: 4)
        let x = Tensor(shape: [5, c.inputSize]), eps = Tensor(shape: [5, c.latent])
        for i in 0..<x.count { x.pointer[i] = rng.uniform() }
        let labels = Tensor(shape: [max(1, 5 * c.classes)])
        let condition = c.isConditional ? labels.matrix(rows: 5, columns: c.classes) : nil
        for r in 0..<5 where c.isConditional { condition![r, r % c.classes] = 1 }
        for _ in 0..<3 {
            rng.fillNormal(eps.pointer, count: eps.count)
            model.parameters.zeroGradients()
            _ = objective.forward(Batch(input: x.matrix(rows: 5, columns: c.inputSize), condition: condition),
                                  noise: eps.matrix(rows: 5, columns: c.latent))
            objective.backward()
            adam.update()
        }
        return (model, adam)
    }

    func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

    func testRoundTripIsBitExact() throws {
        let (model, adam) = trainedModel()
        var settings = TrainingSettings()
        settings.beta = 4
        settings.seed = 99
        settings.corruption = .mask(0.25)
        settings.data = TrainingData(classes: [1, 7], holdout: 30, binarized: true, classNames: ["zero", "one", "two", "three", "four", "five", "six", "seven"], crop: true, testSplit: (0.25, 7))
        let terms = model.lossTerms(.closedForm)
        let position = TrainingPosition(epoch: 7, batch: 2, partial: LossTerms(terms, sums: [12.5, 3.25], count: 256))
        let test = LossTerms(terms, sums: [1000, 100], count: 10)
        let p = folder + "/m.safetensors"
        try TrainingCheckpoint.save(model: model, optimizer: adam, settings: settings, position: position, test: test, to: p)
        let loaded = try TrainingCheckpoint.load(path: p)
        XCTAssertEqual(loaded.model.configuration, configuration)
        XCTAssertEqual(loaded.settings, settings)
        XCTAssertEqual(loaded.position, position)
        XCTAssertEqual(loaded.test.boundPerSample, 110, accuracy: 1e-9)
        XCTAssertEqual(loaded.test.perSample(.kl), 10, accuracy: 1e-9)
        XCTAssertEqual(bits(loaded.model.parameters.values), bits(model.parameters.values))
        let loadedAdam = try XCTUnwrap(loaded.optimizer)
        XCTAssertEqual(loadedAdam.step, 3)
        XCTAssertEqual(bits(loadedAdam.m), bits(adam.m))
        XCTAssertEqual(bits(loadedAdam.v), bits(adam.v))
        // The metadata, as strings: the model's description apart from the run's.
        let raw = try SafeTensors.read(path: p)
        for (key, value) in ["format_version": "2", "arch": "mlp", "latent": "3", "hidden": "8,6", "loss": "mse", "beta": "4.0",
                             "epoch": "7", "batch": "2", "seed": "99", "corrupt": "mask:0.25", "digits": "1,7", "holdout": "30",
                             "binarize": "dynamic", "epoch_train_recon": "12.5", "epoch_train_kl": "3.25",
                             "epoch_train_count": "256", "test_nelbo": "110.0", "test_recon": "100.0", "test_kl": "10.0", "adam_step": "3"] {
            XCTAssertEqual(raw.metadata[key], value, key)
        }
        XCTAssertNil(raw.metadata["family"], "the Gaussian VAE's checkpoints read as before")
        XCTAssertEqual(try ModelConfiguration(metadata: raw.metadata), configuration)
        XCTAssertNotNil(raw.tensor("adam.m.encoder.0.weight"))
        // A model's own loader reads what it was trained on, and skips the optimiser.
        let modelOnly = try Checkpoint.load(path: p)
        XCTAssertEqual(modelOnly.trainingData, settings.data)
        XCTAssert(modelOnly.states.isEmpty)
    }

    /// An importance-weighted run's partial epoch is summed under its own name.
    func testImportanceWeightedPartialSumsKeepTheirName() throws {
        let (model, adam) = trainedModel(ModelConfiguration(shape: ImageShape(height: 4, width: 4), hidden: [8], latent: 2))
        var settings = TrainingSettings()
        settings.importanceSamples = 5
        let position = TrainingPosition(epoch: 1, batch: 3, partial: LossTerms([.importanceWeightedBound], sums: [321.5], count: 30))
        let p = folder + "/iw.safetensors"
        try TrainingCheckpoint.save(model: model, optimizer: adam, settings: settings, position: position,
                                    test: LossTerms(model.lossTerms(.closedForm)), to: p)
        var raw = try SafeTensors.read(path: p)
        XCTAssertEqual(raw.metadata["epoch_train_iw_bound"], "321.5")
        XCTAssertNil(raw.metadata["epoch_train_recon"])
        XCTAssertEqual(try TrainingCheckpoint.load(path: p).position, position)
        // Format 1 wrote it as epoch_train_recon (and a zero KL): still read.
        raw.metadata["epoch_train_recon"] = raw.metadata.removeValue(forKey: "epoch_train_iw_bound")
        raw.metadata["epoch_train_kl"] = "0.0"
        try SafeTensors.write(raw, to: p)
        XCTAssertEqual(try TrainingCheckpoint.load(path: p).position, position)
    }

    /// A checkpoint written before the redesign (Tests/Fixtures) loads, samples
    /// and encodes exactly as it did.
    func testFormatOneCheckpointLoadsAndSamplesIdentically() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
        let loaded = try TrainingCheckpoint.load(path: fixtures + "/format1-conditional.safetensors")
        let model = loaded.model
        XCTAssertEqual(model.configuration, ModelConfiguration(hidden: [16], latent: 3, classes: 10))
        XCTAssertEqual(loaded.position.epoch, 1)
        XCTAssertNotNil(loaded.optimizer)
        BLASThreads.set(1)
        // `vae sample -n 20` on a conditional model: two of each class, one row per class.
        let tiles = (0..<10).flatMap { c in sampleImages(model: model, count: 2, labels: [c, c], seed: 0) }
        let expected = Picture(try GrayImage.read(path: fixtures + "/format1-conditional-samples.pgm"))
        XCTAssertEqual(makeGrid(tiles: tiles, columns: 2), expected)
        // `vae encode test:0-9`: the same μ and log σ² as the CSV printed them, to
        // float rounding: OpenBLAS picks its sgemm kernel by CPU (an AVX-512 core
        // sums in another order than the AVX2 one that wrote the fixture), so
        // only the last bits may differ; a wrongly loaded weight moves them by far more.
        let test = try MNIST.load(directory: TrainerTests.data, split: .test).subset(0..<10)
        let codes = model.encodings(ImageInputs.pixels(of: test), conditions: model.conditions(of: test))
        let csv = try String(contentsOfFile: fixtures + "/format1-conditional-encode.csv", encoding: .utf8)
        let lines = csv.split(separator: "\n").dropFirst()
        XCTAssertEqual(lines.count, codes.count)
        for (code, line) in zip(codes, lines) {
            let values = line.split(separator: ",").dropFirst(2).map { Float(String($0))! }
            let encoded = code.layers[0].mu + code.layers[0].logVar
            XCTAssertEqual(encoded.count, values.count)
            for (e, v) in zip(encoded, values) { XCTAssertEqual(e, v, accuracy: 1e-5) }
        }
    }

    /// A conditional conv model comes back as it was: architecture, classes, weights.
    func testConditionalConvRoundTrip() throws {
        let c = ModelConfiguration(architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [12], latent: 4, classes: 3)
        let raw = try savedAndReadBack(trainedModel(c).0, name: "conv")
        XCTAssertEqual(raw.metadata["arch"], "conv")
        XCTAssertEqual(raw.metadata["conditional"], "true")
        XCTAssertEqual(raw.metadata["classes"], "3")
        XCTAssertEqual(raw.tensor("encoder.conv1.weight")?.shape, [64, 32, 3, 3])
        XCTAssertEqual(raw.tensor("decoder.deconv0.weight")?.shape, [64, 32, 3, 3])
        XCTAssertEqual(raw.tensor("encoder.fc.weight")?.shape, [12, 64 * 2 * 2 + 3])

        let changes: [([String: String?], String)] = [
            (["conditional": "false"], "has shape [12, 259], expected [12, 256]"),
            (["conditional": "maybe"], "metadata conditional is maybe, expected true or false"),
            (["classes": nil], "metadata has no classes"),
            (["input_size": "36"], "metadata input_size is 36, but channels, height and width make 64"),
            (["channels": "2"], "metadata channels is 2, expected 1 or 3"),
            (["height": "5000"], "metadata height is 5000"),
            (["conv_channels": "32,0"], "metadata conv_channels is 32,0"),
            (["class_names": "[\"a\"]", "digits": "3"], "metadata digits is 3"),
            (["class_names": "not json"], "metadata class_names is not a JSON array"),
            (["hidden": "12,12"], "one hidden fully connected layer"),
            (["family": "transformer"], "metadata family is transformer"),
            (["binarize": "sometimes"], "metadata binarize is sometimes"),
            (["format_version": "9"], "format_version 9"),
            // The metadata alone cannot make the loader allocate: a huge model is refused by its shapes first.
            (["hidden": "65536", "height": "4096", "width": "4096", "input_size": String(4096 * 4096)], "holds more than 3145728 values"),
            (["hidden": "65536", "height": "1024", "width": "1024", "input_size": String(1024 * 1024)], "expected [65536, 4194307]"),
        ]
        try expectLoadErrors(raw, changes)
    }

    /// A learned class prior is two more tensors and one metadata key; a
    /// damaged or contradictory key is one error, and a file without the
    /// key (older checkpoints) is a model with N(0, I).
    func testLearnedClassPriorRoundTrip() throws {
        let c = ModelConfiguration(shape: ImageShape(height: 4, width: 4), hidden: [8], latent: 3, classes: 3, learnedClassPrior: true)
        let (model, _) = trainedModel(c)
        let prior = model.parameters.slot("class_prior.bias")
        XCTAssertTrue((0..<prior.spec.count).contains { model.parameters.values.pointer[prior.offset + $0] != 0 }, "training moved the prior")
        let raw = try savedAndReadBack(model, name: "cprior")
        XCTAssertEqual(raw.metadata["class_prior"], "learned")
        XCTAssertEqual(raw.tensor("class_prior.weight")?.shape, [6, 3])
        let changes: [([String: String?], String)] = [
            (["class_prior": "sometimes"], "metadata class_prior is sometimes, expected learned or standard"),
            (["class_prior": "standard"], "class_prior.weight"),
            (["class_prior": nil], "class_prior.weight"),
            (["conditional": "false"], "learned class prior goes with a conditional"),
        ]
        try expectLoadErrors(raw, changes)
    }

    /// Saves `model`, loads it back (the same configuration and bits) and returns the file as written.
    func savedAndReadBack(_ model: any VariationalModel, name: String, line: UInt = #line) throws -> SafeTensorsFile {
        let p = folder + "/\(name).safetensors"
        try Checkpoint.save(model: model, metadata: TrainingData().metadata, to: p)
        let loaded = try Checkpoint.load(path: p)
        XCTAssertEqual(loaded.model.configuration, model.configuration, line: line)
        XCTAssertEqual(bits(loaded.model.parameters.values), bits(model.parameters.values), line: line)
        return try SafeTensors.read(path: p)
    }

    /// `raw` with each change of its metadata (nil removes a key) is refused with that problem.
    func expectLoadErrors(_ raw: SafeTensorsFile, _ changes: [([String: String?], String)], line: UInt = #line) throws {
        for (metadata, problem) in changes {
            var changed = raw
            for (key, value) in metadata { changed.metadata[key] = value }
            try expectLoadError(changed, problem, line: line)
        }
    }

    func expectLoadError(_ file: SafeTensorsFile, _ fragment: String, line: UInt = #line) throws {
        let p = folder + "/bad.safetensors"
        try SafeTensors.write(file, to: p)
        do {
            _ = try TrainingCheckpoint.load(path: p)
            XCTFail("expected '\(fragment)'", line: line)
        } catch let error as FileError {
            XCTAssertEqual(error.path, p, line: line)
            XCTAssert(error.problem.contains(fragment), error.problem, line: line)
        }
    }

    func testRejectsCheckpointsOfOtherShapes() throws {
        let (model, adam) = trainedModel()
        let p = folder + "/m.safetensors"
        try TrainingCheckpoint.save(model: model, optimizer: adam, settings: TrainingSettings(),
                                    position: TrainingPosition(epoch: 1, partial: LossTerms(model.lossTerms(.closedForm))),
                                    test: LossTerms(model.lossTerms(.closedForm)), to: p)
        let good = try SafeTensors.read(path: p)

        var otherArch = good
        otherArch.metadata["arch"] = "transformer"
        try expectLoadError(otherArch, "architecture transformer")

        var missing = good
        missing.tensors.removeAll { $0.name == "mu.bias" }
        try expectLoadError(missing, "tensor mu.bias is missing")

        var extra = good
        extra.tensors.append(NamedTensor(name: "decoder.9.weight", shape: [1], values: [0]))
        try expectLoadError(extra, "unexpected tensor decoder.9.weight")

        var wider = good
        wider.metadata["hidden"] = "8,7"
        try expectLoadError(wider, "has shape [6, 8], expected [7, 8]")

        var badLatent = good
        badLatent.metadata["latent"] = "-1"
        try expectLoadError(badLatent, "metadata latent is -1")

        var notOurs = good
        notOurs.metadata = [:]
        try expectLoadError(notOurs, "not a vae checkpoint")

        var partialAdam = good
        partialAdam.tensors.removeAll { $0.name == "adam.v.mu.bias" }
        try expectLoadError(partialAdam, "training-state tensor adam.v.mu.bias is missing")

        var badCorruption = good
        badCorruption.metadata["corrupt"] = "blur:3"
        try expectLoadError(badCorruption, "metadata corrupt is blur:3")

        var badSeed = good
        badSeed.metadata["seed"] = "-4"
        try expectLoadError(badSeed, "metadata seed is -4")

        var nan = good
        let i = nan.tensors.firstIndex { $0.name == "mu.bias" }!
        nan.tensors[i] = NamedTensor(name: "mu.bias", shape: [3], values: [0, .nan, 0])
        try expectLoadError(nan, "NaN or infinite")
    }
}
