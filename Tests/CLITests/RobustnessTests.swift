import Foundation
import VAEData
import XCTest

/// Long runs: interruption, resumption, kill -9, divergence, reproducibility.
final class RobustnessTests: FolderTestCase {

    /// A small, quick run: 3000 images in batches of 50 (60 steps an epoch).
    func trainArguments(_ model: String, epochs: Int = 3) -> [String] {
        ["train", "--data", VAEBinary.data, "--epochs", "\(epochs)", "--train-images", "3000", "--test-images", "200",
         "--batch-size", "50", "--hidden", "96", "--latent", "4", "--threads", "1", "--seed", "5", "--model", model]
    }

    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)) }

    /// Waits (up to 60 s) until the process has printed `text`.
    func wait(for text: String, in run: RunningVAE) {
        let deadline = Date().addingTimeInterval(60)
        while !run.stdoutSoFar.contains(text) && run.process.isRunning && Date() < deadline { usleep(2000) }
    }

    func testSameSeedGivesByteIdenticalCheckpoints() throws {
        XCTAssertEqual(try VAEBinary.run(trainArguments("a.safetensors", epochs: 2), in: folder).status, 0)
        XCTAssertEqual(try VAEBinary.run(trainArguments("b.safetensors", epochs: 2), in: folder).status, 0)
        XCTAssertEqual(try bytes("a.safetensors"), try bytes("b.safetensors"))
    }

    func testInterruptMidEpochThenResumeIsBitIdentical() throws {
        // Long enough (12 epochs) that the signal always lands before the end.
        XCTAssertEqual(try VAEBinary.run(trainArguments("straight.safetensors", epochs: 12), in: folder).status, 0)
        for (signal, code) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            let name = "stopped-\(signal).safetensors"
            let run = try VAEBinary.start(trainArguments(name, epochs: 12), in: folder)
            wait(for: "epoch  1/12", in: run)
            usleep(useconds_t(1_000 * Int(signal)))   // a few steps into epoch 2 (or a little later)
            run.signal(signal)
            let stopped = try run.finish()
            XCTAssertEqual(stopped.status, code, stopped.stdout + stopped.stderr)
            XCTAssert(stopped.stdout.contains("interrupted after epoch"), stopped.stdout)
            XCTAssert(stopped.stdout.contains("Resume with: vae train --resume --model \(name) --epochs 12"), stopped.stdout)
            let saved = try SafeTensors.read(path: folder + "/" + name)
            print("stopped by signal \(signal) at epoch \(saved.metadata["epoch"]!), batch \(saved.metadata["batch"]!)")

            let resumed = try VAEBinary.run(trainArguments(name, epochs: 12) + ["--resume"], in: folder)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertEqual(try bytes(name), try bytes("straight.safetensors"), "resumed run ≡ uninterrupted run")
        }
    }

    /// A denoising run (`--corrupt`) stopped mid-epoch and resumed without
    /// repeating the flag (the checkpoint records it): the same file, byte
    /// for byte, as the run that was never stopped.
    func testInterruptedDenoisingRunResumesBitIdentically() throws {
        let denoising = ["--corrupt", "noise:0.3"]
        XCTAssertEqual(try VAEBinary.run(trainArguments("straight.safetensors", epochs: 6) + denoising, in: folder).status, 0)
        let run = try VAEBinary.start(trainArguments("stopped.safetensors", epochs: 6) + denoising, in: folder)
        wait(for: "epoch  1/6", in: run)
        usleep(5_000)
        run.signal(SIGINT)
        let stopped = try run.finish()
        XCTAssertEqual(stopped.status, 130, stopped.stdout + stopped.stderr)
        let saved = try SafeTensors.read(path: folder + "/stopped.safetensors")
        XCTAssertEqual(saved.metadata["corrupt"], "noise:0.3")
        XCTAssertNotEqual(saved.metadata["batch"], "0", "stopped mid-epoch")
        let resumed = try VAEBinary.run(trainArguments("stopped.safetensors", epochs: 6) + ["--resume"], in: folder)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssert(resumed.stdout.contains("denoising (noise:0.3)"), resumed.stdout)
        XCTAssertEqual(try bytes("stopped.safetensors"), try bytes("straight.safetensors"), "resumed run ≡ uninterrupted run")
    }

    func testSecondInterruptExitsAtOnceAndTheCheckpointSurvives() throws {
        let run = try VAEBinary.start(trainArguments("m.safetensors", epochs: 50), in: folder)
        wait(for: "epoch  2/50", in: run)
        run.signal(SIGINT)
        run.signal(SIGINT)
        let result = try run.finish()
        XCTAssertEqual(result.status, 130)
        let loaded = try SafeTensors.read(path: folder + "/m.safetensors")
        XCTAssertGreaterThanOrEqual(Int(loaded.metadata["epoch"]!)!, 1)
    }

    /// kill -9 at arbitrary moments, checkpoints being written all the while
    /// (one every few milliseconds): the file at --model always loads.
    func testKillNineNeverLeavesACorruptCheckpoint() throws {
        var delays: [UInt32] = []
        var state: UInt32 = 12345
        for _ in 0..<12 { state = state &* 1_103_515_245 &+ 12345; delays.append((state >> 8) % 60_000) }
        var loadedCount = 0
        for delay in delays {
            let args = ["train", "--data", VAEBinary.data, "--epochs", "1000", "--train-images", "100", "--test-images", "10",
                        "--batch-size", "100", "--hidden", "256", "--latent", "16", "--threads", "1", "--model", "k.safetensors"]
            let run = try VAEBinary.start(args + (loadedCount > 0 ? ["--resume"] : []), in: folder)
            wait(for: "epoch ", in: run)   // past loading the data: checkpoints are now written every epoch
            usleep(delay)
            run.signal(SIGKILL)
            _ = try run.finish()
            if FileManager.default.fileExists(atPath: folder + "/k.safetensors") {
                let file = try SafeTensors.read(path: folder + "/k.safetensors")   // throws if corrupt
                XCTAssertNotNil(file.tensor("decoder.1.weight"))
                loadedCount += 1
            }
        }
        XCTAssertGreaterThan(loadedCount, 6, "checkpoints were being written when killed")
    }

    func testDivergenceKeepsTheLastGoodCheckpoint() throws {
        XCTAssertEqual(try VAEBinary.run(trainArguments("d.safetensors", epochs: 1), in: folder).status, 0)
        let good = try bytes("d.safetensors")
        // Make log σ² overflow: every step from here is non-finite.
        var file = try SafeTensors.read(path: folder + "/d.safetensors")
        let i = file.tensors.firstIndex { $0.name == "logvar.bias" }!
        file.tensors[i] = NamedTensor(name: "logvar.bias", shape: [4], values: [100, 100, 100, 100])
        try SafeTensors.write(file, to: folder + "/d.safetensors")
        let poisoned = try bytes("d.safetensors")
        let run = try VAEBinary.run(trainArguments("d.safetensors") + ["--resume"], in: folder)
        XCTAssertEqual(run.status, 1)
        XCTAssert(run.stderr.contains("training diverged at epoch 2, batch 1: the KL term is not finite"), run.stderr)
        XCTAssert(run.stderr.contains("still holds the last good checkpoint"), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1)
        XCTAssertEqual(try bytes("d.safetensors"), poisoned, "the checkpoint on disk is untouched")
        _ = good
    }

    func testUnwritableModelFolderFailsBeforeTraining() throws {
        // A "folder" that is a file: no user, root included, can write below it.
        XCTAssert(FileManager.default.createFile(atPath: folder + "/plainfile", contents: Data("x".utf8)))
        let run = try VAEBinary.run(trainArguments("plainfile/m.safetensors"), in: folder)
        XCTAssertNotEqual(run.status, 0)
        XCTAssert(run.stderr.contains("plainfile/m.safetensors: folder"), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1)
        // Permissions, where they apply (root ignores them).
        let locked = folder + "/locked"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        chmod(locked, 0o500)
        defer { chmod(locked, 0o700) }
        if access(locked, W_OK) != 0 {
            let denied = try VAEBinary.run(trainArguments("locked/m.safetensors"), in: folder)
            XCTAssertNotEqual(denied.status, 0)
            XCTAssert(denied.stderr.contains("is not writable"), denied.stderr)
        }
    }

    /// Saving fails after training began (the folder vanished): a clear error, exit 1.
    func testSaveFailureIsReported() throws {
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        let run = try VAEBinary.start(trainArguments("out/m.safetensors", epochs: 200), in: folder)
        wait(for: "epoch  1/200", in: run)
        try FileManager.default.removeItem(atPath: folder + "/out")
        let result = try run.finish()
        XCTAssertEqual(result.status, 1)
        // Whether the folder vanished before a save began or during one, the message names the file.
        XCTAssert(result.stderr.contains("out/m.safetensors: cannot write here")
                  || result.stderr.contains("out/m.safetensors: could not write"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1)
    }
}
