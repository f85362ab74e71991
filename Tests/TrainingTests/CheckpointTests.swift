import Foundation
import VAEData
import VAEEngine
import VAEModels
import VAETraining
import XCTest

final class CheckpointTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vae-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    let configuration = VAEConfiguration(inputSize: 16, hidden: [8, 6], latent: 3, likelihood: .gaussian)

    /// A model with non-trivial weights and optimiser state.
    func trainedModel(_ configuration: VAEConfiguration? = nil) -> (VAE, Adam) {
        let c = configuration ?? self.configuration
        let model = VAE(configuration: c)
        model.initialize(seed: 3)
        let adam = Adam(parameters: model.parameters)
        var rng = RandomGenerator(seed: 4)
        let x = Tensor(shape: [5, c.inputSize]), eps = Tensor(shape: [5, c.latent])
        for i in 0..<x.count { x.pointer[i] = rng.uniform() }
        let labels = Tensor(shape: [max(1, 5 * c.classes)])
        let condition = c.isConditional ? labels.matrix(rows: 5, columns: c.classes) : nil
        for r in 0..<5 where c.isConditional { condition![r, r % c.classes] = 1 }
        for _ in 0..<3 {
            rng.fillNormal(eps.pointer, count: eps.count)
            model.parameters.zeroGradients()
            _ = model.forward(x.matrix(rows: 5, columns: c.inputSize), condition: condition,
                              noise: eps.matrix(rows: 5, columns: c.latent))
            model.backward(beta: 1)
            adam.update()
        }
        return (model, adam)
    }

    func testRoundTripIsBitExact() throws {
        let (model, adam) = trainedModel()
        var info = CheckpointInfo(configuration: configuration)
        info.position = TrainingPosition(epoch: 7)
        info.beta = 4
        info.seed = 99
        info.test = ELBOTerms(reconstruction: 1000, kl: 100, count: 10)
        let p = folder + "/m.safetensors"
        try Checkpoint.save(model: model, optimizer: adam, info: info, to: p)
        let loaded = try Checkpoint.load(path: p)
        XCTAssertEqual(loaded.info.configuration, configuration)
        XCTAssertEqual(loaded.info.epoch, 7)
        XCTAssertEqual(loaded.info.beta, 4)
        XCTAssertEqual(loaded.info.seed, 99)
        XCTAssertEqual(loaded.info.test.negativeELBOPerSample, 110, accuracy: 1e-9)
        XCTAssertEqual(loaded.model.parameters.values.array.map(\.bitPattern), model.parameters.values.array.map(\.bitPattern))
        let loadedAdam = try XCTUnwrap(loaded.optimizer)
        XCTAssertEqual(loadedAdam.step, 3)
        XCTAssertEqual(loadedAdam.m.array.map(\.bitPattern), adam.m.array.map(\.bitPattern))
        XCTAssertEqual(loadedAdam.v.array.map(\.bitPattern), adam.v.array.map(\.bitPattern))
        // The metadata the issue names, as strings.
        let raw = try SafeTensors.read(path: p)
        for key in ["format_version", "arch", "latent", "hidden", "loss", "beta", "epoch", "seed",
                    "test_nelbo", "test_recon", "test_kl", "adam_step"] {
            XCTAssertNotNil(raw.metadata[key], key)
        }
        XCTAssertEqual(raw.metadata["hidden"], "8,6")
        XCTAssertNotNil(raw.tensor("adam.m.encoder.0.weight"))
    }

    /// A conditional conv model comes back as it was: architecture, classes, weights.
    func testConditionalConvRoundTrip() throws {
        let c = VAEConfiguration(architecture: .conv, inputSize: 64, hidden: [12], latent: 4, classes: 3)
        let (model, adam) = trainedModel(c)
        let p = folder + "/conv.safetensors"
        try Checkpoint.save(model: model, optimizer: adam, info: CheckpointInfo(configuration: c), to: p)
        let loaded = try Checkpoint.load(path: p)
        XCTAssertEqual(loaded.info.configuration, c)
        XCTAssertEqual(loaded.model.parameters.values.array.map(\.bitPattern), model.parameters.values.array.map(\.bitPattern))
        let raw = try SafeTensors.read(path: p)
        XCTAssertEqual(raw.metadata["arch"], "conv")
        XCTAssertEqual(raw.metadata["conditional"], "true")
        XCTAssertEqual(raw.metadata["classes"], "3")
        XCTAssertEqual(raw.tensor("encoder.conv1.weight")?.shape, [64, 32, 3, 3])
        XCTAssertEqual(raw.tensor("decoder.deconv0.weight")?.shape, [64, 32, 3, 3])
        XCTAssertEqual(raw.tensor("encoder.fc.weight")?.shape, [12, 64 * 2 * 2 + 3])

        let changes: [([String: String?], String)] = [
            (["conditional": "false"], "has shape [12, 259], expected [12, 256]"),
            (["classes": nil], "metadata has no classes"),
            (["input_size": "36"], "side divisible by 4"),
            (["hidden": "12,12"], "one hidden fully connected layer"),
            // The metadata alone cannot make the loader allocate: a huge model is refused by its shapes first.
            (["hidden": "65536", "input_size": String(4096 * 4096)], "expected [65536, 67108867]"),
        ]
        for (metadata, problem) in changes {
            var changed = raw
            for (key, value) in metadata { changed.metadata[key] = value }
            try expectLoadError(changed, problem)
        }
    }

    func expectLoadError(_ file: SafeTensorsFile, _ fragment: String, line: UInt = #line) throws {
        let p = folder + "/bad.safetensors"
        try SafeTensors.write(file, to: p)
        do {
            _ = try Checkpoint.load(path: p)
            XCTFail("expected '\(fragment)'", line: line)
        } catch let error as FileError {
            XCTAssertEqual(error.path, p, line: line)
            XCTAssert(error.problem.contains(fragment), error.problem, line: line)
        }
    }

    func testRejectsCheckpointsOfOtherShapes() throws {
        let (model, adam) = trainedModel()
        let p = folder + "/m.safetensors"
        try Checkpoint.save(model: model, optimizer: adam, info: CheckpointInfo(configuration: configuration), to: p)
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

        var nan = good
        let i = nan.tensors.firstIndex { $0.name == "mu.bias" }!
        nan.tensors[i] = NamedTensor(name: "mu.bias", shape: [3], values: [0, .nan, 0])
        try expectLoadError(nan, "NaN or infinite")
    }
}
