import Foundation
import VAEData
import XCTest

/// End-to-end: the built binary, its files, exit codes and messages.
final class CLITests: FolderTestCase {

    func vae(_ arguments: String..., environment: [String: String] = [:]) throws -> VAERun {
        try VAEBinary.run(arguments, in: folder, environment: environment)
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: folder + "/" + name) }

    /// A failure: non-zero exit, one line on stderr starting "vae: " and containing `fragment`.
    func assertFails(_ run: VAERun, _ fragment: String, line: UInt = #line) {
        XCTAssertNotEqual(run.status, 0, line: line)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line on stderr: \(run.stderr)", line: line)
        XCTAssert(run.stderr.hasPrefix("vae: "), run.stderr, line: line)
        XCTAssert(run.stderr.contains(fragment), "'\(run.stderr)' lacks '\(fragment)'", line: line)
    }

    /// Trains a tiny model quickly into `name`.
    func trainTiny(_ name: String = "m.safetensors", epochs: Int = 2, extra: [String] = []) throws -> VAERun {
        try VAEBinary.run(["train", "--data", VAEBinary.data, "--epochs", "\(epochs)", "--train-images", "1024",
                           "--test-images", "256", "--hidden", "64", "--latent", "4", "--threads", "1",
                           "--model", name] + extra, in: folder)
    }

    func testHelpListsEverySubcommandAndFlag() throws {
        let root = try vae("--help")
        XCTAssertEqual(root.status, 0)
        for word in ["train", "sample"] { XCTAssert(root.stdout.contains(word), word) }
        let train = try vae("train", "--help")
        for flag in ["--data", "--epochs", "--batch-size", "--lr", "--latent", "--hidden", "--beta", "--loss",
                     "--seed", "--threads", "--model", "--resume", "--json"] {
            XCTAssert(train.stdout.contains(flag), flag)
        }
        XCTAssert(train.stdout.contains("(default: 128)"))
        XCTAssert(train.stdout.contains("model.safetensors"))
        XCTAssert(train.stdout.contains("(default: 10)"))
        let version = try vae("--version")
        XCTAssertEqual(version.status, 0)
        XCTAssert(version.stdout.hasPrefix("vae "))
    }

    /// `vae bench` states each pass against its bound (the same products
    /// timed alone through sgemm in the same run): the figures exist, are
    /// finite and consistent (no speed is asserted).
    func testBenchStatesTheBound() throws {
        let run = try vae("bench", "--arch", "mlp400", "--batches", "10", "--data", VAEBinary.data, "--json", "bench.json")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssert(run.stdout.contains("mlp400 bound: a step's products"), run.stdout)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/bench.json"))) as! [String: Any]
        let entry = try XCTUnwrap(doc["mlp400"] as? [String: Any])
        let figures = entry.compactMapValues { $0 as? Double }
        // 784-400-20 with its mirror: each layer's product forward and two
        // backward, but the first layer's input gradient (x needs none).
        let layers = 784 * 400 + 400 * 40 + 20 * 400 + 400 * 784
        XCTAssertEqual(figures["step_gflop"] ?? 0, 2 * 128 * Double(3 * layers - 784 * 400) / 1e9, accuracy: 1e-9)
        // Importance sampling: the encoder once per image, the decoder on its 5000 draws.
        XCTAssertEqual(figures["iw_gflop_per_image"] ?? 0, 2 * Double(784 * 400 + 400 * 40 + 5000 * (20 * 400 + 400 * 784)) / 1e9, accuracy: 1e-9)
        XCTAssert(run.stdout.contains("mlp400 importance sampling, K = 5000"), run.stdout)
        for key in ["bound_ms", "step_ms", "bound_gflops", "bound_fraction", "encode_bound_fraction", "decode_bound_fraction",
                    "iw_images_per_s", "iw_bound_fraction"] {
            let value = try XCTUnwrap(figures[key], key)
            XCTAssertTrue(value.isFinite && value > 0, "\(key) \(value)")
        }
        XCTAssertEqual(figures["bound_fraction"]!, figures["bound_ms"]! / figures["step_ms"]!, accuracy: 1e-9)
        // Ten steps in rounds of two, each timed against its own products:
        // the fraction stated is the median round's.
        let rounds = try XCTUnwrap(entry["bound_fraction_rounds"] as? [Double])
        XCTAssertEqual(rounds.count, 5)
        XCTAssertTrue(rounds.allSatisfy { $0.isFinite && $0 > 0 }, "\(rounds)")
        XCTAssertEqual(figures["bound_fraction"]!, rounds.sorted()[2])
        XCTAssert(run.stdout.contains("(the median of 5 rounds, "), run.stdout)
    }

    func testTrainResumeAndSample() throws {
        let first = try trainTiny(extra: ["--json", "train.json"])
        XCTAssertEqual(first.status, 0, first.stderr)
        // Not a terminal: one plain line per epoch.
        let epochLines = first.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(epochLines.count, 2, first.stdout)
        XCTAssert(epochLines[0].contains("test -ELBO"))
        XCTAssertFalse(first.stdout.contains("\r"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/train.json"))) as! [String: Any]
        let epochs = json["epochs"] as! [[String: Any]]
        XCTAssertEqual(epochs.count, 2)
        XCTAssertNotNil(epochs[1]["test_nelbo"] as? Double)
        XCTAssertNotNil(json["peak_rss_mib"] as? Double)

        let resumed = try trainTiny(epochs: 3, extra: ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssert(resumed.stdout.contains("resuming after epoch 2"))
        XCTAssert(resumed.stdout.contains("epoch  3/3"))
        let checkpoint = try SafeTensors.read(path: folder + "/m.safetensors")
        XCTAssertEqual(checkpoint.metadata["epoch"], "3")

        let png = try vae("sample", "-n", "16", "--model", "m.safetensors", "-o", "s.png")
        XCTAssertEqual(png.status, 0, png.stderr)
        let grid = try GrayImage.read(path: folder + "/s.png")
        XCTAssertEqual(grid.width, 4 * 28 + 5 * 2)
        XCTAssertEqual(grid.height, 4 * 28 + 5 * 2)
        let pgm = try vae("sample", "-n", "6", "--nrow", "3", "--model", "m.safetensors", "-o", "s.pgm")
        XCTAssertEqual(pgm.status, 0, pgm.stderr)
        let small = try GrayImage.read(path: folder + "/s.pgm")
        XCTAssertEqual(small.width, 3 * 28 + 4 * 2)
        XCTAssertEqual(small.height, 2 * 28 + 3 * 2)
        // Same seed, same picture.
        _ = try vae("sample", "-n", "16", "--model", "m.safetensors", "-o", "again.png")
        XCTAssertEqual(try GrayImage.read(path: folder + "/again.png"), grid)
    }

    func testMissingDataNamesWhereItLooked() throws {
        assertFails(try vae("train", "--epochs", "1"), "Data/mnist")
        assertFails(try vae("train", "--data", "/nonexistent"), "/nonexistent: no such folder")
        try FileManager.default.createDirectory(atPath: folder + "/empty", withIntermediateDirectories: true)
        assertFails(try vae("train", "--data", "empty"), "empty: holds neither MNIST IDX files")
        XCTAssertFalse(exists("model.safetensors"))
    }

    func testCorruptDataFile() throws {
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
            try FileManager.default.copyItem(atPath: VAEBinary.data + "/" + name, toPath: data + "/" + name)
        }
        let real = try Data(contentsOf: URL(fileURLWithPath: VAEBinary.data + "/train-images-idx3-ubyte.gz"))
        try real.prefix(real.count / 3).write(to: URL(fileURLWithPath: data + "/train-images-idx3-ubyte.gz"))
        assertFails(try vae("train", "--data", data, "--epochs", "1"), "train-images-idx3-ubyte.gz: gzip stream is truncated")
        XCTAssertFalse(exists("model.safetensors"))
    }

    func testCorruptCheckpointLeavesNoOutput() throws {
        XCTAssertEqual(try trainTiny(epochs: 1).status, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: folder + "/m.safetensors"))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: folder + "/cut.safetensors"))
        assertFails(try vae("sample", "--model", "cut.safetensors", "-o", "out.png"), "cut.safetensors")
        XCTAssertFalse(exists("out.png"))
        try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: folder + "/junk.safetensors"))
        assertFails(try vae("sample", "--model", "junk.safetensors", "-o", "out.png"), "junk.safetensors")
        assertFails(try vae("sample", "--model", "absent.safetensors"), "absent.safetensors: no such file")
        XCTAssertFalse(exists("out.png"))
    }

    func testBadFlagValues() throws {
        assertFails(try vae("train", "--loss", "l1"), "'l1' is invalid for '--loss <bce|mse>'. Please provide one of 'bce' and 'mse'")
        assertFails(try vae("train", "--corrupt", "blur:2"), "--corrupt must be noise:σ")
        assertFails(try vae("train", "--corrupt", "mask:1.5"), "--corrupt must be")
        assertFails(try vae("reconstruct", "test:0", "--corrupt", "noise"), "--corrupt must be")
        assertFails(try vae("reconstruct", "test:0", "--noise", "0.1", "--corrupt", "mask:0.1"), "use one of --noise, --mask and --corrupt")
        assertFails(try vae("train", "--hidden", "0"), "--hidden must be up to 16 comma-separated widths in 1...65536")
        assertFails(try vae("train", "--batch-size", "0"), "--batch-size must be in 1...65536")
        assertFails(try vae("train", "--beta", "-1"), "--beta")
        assertFails(try vae("train", "--latent", "0"), "--latent must be 1 or 2 comma-separated sizes in 1...4096")
        assertFails(try vae("train", "--hidden", "512,,256"), "--hidden")
        assertFails(try vae("train", "--epochs", "many"), "--epochs")
        assertFails(try vae("train", "--model", "no/such/folder/m.safetensors"), "does not exist")
        assertFails(try vae("sample", "-n", "0"), "-n must be in 1...10000")
        assertFails(try vae("sample", "-o", "grid.jpg"), "use a .png or .pgm extension")
        assertFails(try vae("frobnicate"), "frobnicate")
        XCTAssertFalse(exists("model.safetensors"))
    }

    /// IDX data sets of other sizes (32x32, and 20x30, not square) train
    /// models of their own shape; given to a model of another shape, every
    /// command that reads them answers in one line naming both shapes, and
    /// writes nothing (not a trap).
    func testDataOfAnotherShapeTrainsItsOwnModelAndIsRefusedByOthers() throws {
        func write(_ name: String, rows: Int, columns: Int) throws -> String {
            let data = folder + "/" + name
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let set = ImageSet(pixels: (0..<(40 * rows * columns)).map { UInt8($0 % 251) }, count: 40, rows: rows, columns: columns,
                               labels: (0..<40).map { UInt8($0 % 10) })
            for split in ["train", "t10k"] {
                try IDX.writeGzipped(set, imagesPath: "\(data)/\(split)-images-idx3-ubyte.gz", labelsPath: "\(data)/\(split)-labels-idx1-ubyte.gz")
            }
            return data
        }
        let square = try write("idx32", rows: 32, columns: 32), oblong = try write("idx20x30", rows: 20, columns: 30)
        for (data, shape) in [(square, "32x32"), (oblong, "20x30")] {
            for arch in ["mlp", "conv"] {
                let run = try vae("train", "--data", data, "--epochs", "1", "--arch", arch, "--hidden", "16", "--latent", "2",
                                  "--threads", "1", "--model", "own-\(arch).safetensors")
                XCTAssertEqual(run.status, 0, run.stderr)
                let sample = try vae("sample", "-n", "4", "--model", "own-\(arch).safetensors", "-o", "own.png")
                XCTAssertEqual(sample.status, 0, sample.stderr)
                let grid = try GrayImage.read(path: folder + "/own.png")
                let (h, w) = (Int(shape.split(separator: "x")[0])!, Int(shape.split(separator: "x")[1])!)
                XCTAssertEqual(grid.width, 2 * w + 3 * 2, "\(arch) draws \(shape) images")
                XCTAssertEqual(grid.height, 2 * h + 3 * 2)
            }
        }
        XCTAssertEqual(try trainTiny(epochs: 1).status, 0)
        for (data, shape) in [(square, "32x32 grey"), (oblong, "20x30 grey")] {
            for command in [["eval"], ["encode", "--split", "test", "-o", "out.csv"], ["score", "test:0"], ["score", "--split", "test"],
                            ["augment", "-o", "out"], ["anomaly", "--anomaly-digits", "1"], ["reconstruct", "test:0-2", "-o", "out.png"],
                            ["traverse", "test:3", "-o", "out.png"], ["interpolate", "test:0", "test:1", "-o", "out.png"],
                            ["arithmetic", "test:0", "test:1", "test:2", "-o", "out.png"], ["score", "test:0", "--calibrate", "test"]] {
                assertFails(try VAEBinary.run(command + ["--data", data, "--model", "m.safetensors"], in: folder),
                            "images of \(shape); the model")
            }
            for name in ["out.csv", "out", "out.png"] { XCTAssertFalse(exists(name), name) }
        }
        // The other way round: a model of 32x32 images, given MNIST's 28x28.
        assertFails(try vae("eval", "--model", "own-conv.safetensors", "--data", VAEBinary.data), "images of 28x28 grey; the model")
        assertFails(try vae("train", "--resume", "--epochs", "2", "--model", "own-conv.safetensors", "--data", VAEBinary.data),
                    "images of 28x28 grey; the model")
    }

    func testResumeRefusesConflictingArchitecture() throws {
        XCTAssertEqual(try trainTiny(epochs: 1).status, 0)
        assertFails(try trainTiny(epochs: 2, extra: ["--resume", "--latent", "9"]), "--latent 9 differs from the checkpoint's 4")
    }
}
