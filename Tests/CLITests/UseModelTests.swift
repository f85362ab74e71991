import Foundation
import VAEData
import XCTest

/// End-to-end tests of every command that uses a trained model, against one
/// small model trained (by the binary) once for the suite.
final class UseModelTests: XCTestCase {
    static let shared = NSTemporaryDirectory() + "vae-use-\(UUID().uuidString)"
    static var trained: VAERun?

    override class func setUp() {
        try? FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        trained = try? VAEBinary.run(["train", "--data", VAEBinary.data, "--epochs", "4", "--train-images", "12000",
                                      "--test-images", "500", "--hidden", "256", "--latent", "8", "--lr", "0.002",
                                      "--threads", "2", "--model", "model.safetensors"], in: shared)
        // A 2-D model for the manifold.
        _ = try? VAEBinary.run(["train", "--data", VAEBinary.data, "--epochs", "1", "--train-images", "2000",
                                "--test-images", "100", "--hidden", "64", "--latent", "2", "--threads", "2",
                                "--model", "model2d.safetensors"], in: shared)
    }

    override class func tearDown() { try? FileManager.default.removeItem(atPath: shared) }

    override func setUpWithError() throws {
        let run = try XCTUnwrap(Self.trained, "training the suite's model did not run")
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    func vae(_ arguments: String...) throws -> VAERun {
        let run = try VAEBinary.run(arguments + ["--model", "model.safetensors"], in: Self.shared,
                                    environment: ["VAE_DATA": VAEBinary.data])
        return run
    }

    func image(_ name: String) throws -> GrayImage { try GrayImage.read(path: Self.shared + "/" + name) }

    func testInterpolateEndsResembleTheirInputs() throws {
        for extra in [[], ["--slerp"]] {
            let run = try VAEBinary.run(["interpolate", "test:3", "test:2", "--steps", "8", "-o", "i.png",
                                         "--model", "model.safetensors"] + extra,
                                        in: Self.shared, environment: ["VAE_DATA": VAEBinary.data])
            XCTAssertEqual(run.status, 0, run.stderr)
            let strip = try image("i.png")
            XCTAssertEqual(strip.width, 10 * 28 + 11 * 2)
            XCTAssertEqual(strip.height, 28 + 4)
            let (a, b) = (tile(strip, row: 0, column: 0), tile(strip, row: 0, column: 9))
            let (first, last) = (tile(strip, row: 0, column: 1), tile(strip, row: 0, column: 8))
            XCTAssertLessThan(meanSquaredDifference(first, a), meanSquaredDifference(first, b), "first step is closer to A \(extra)")
            XCTAssertLessThan(meanSquaredDifference(last, b), meanSquaredDifference(last, a), "last step is closer to B \(extra)")
        }
    }

    func testEncodeCSVAndNPYAndPlot() throws {
        let run = try vae("encode", "test:0-9", "-o", "z.csv", "--plot", "z.png")
        XCTAssertEqual(run.status, 0, run.stderr)
        let csv = try String(contentsOfFile: Self.shared + "/z.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 11)
        XCTAssertEqual(csv[0], "source,label," + (0..<8).map { "mu_\($0)" }.joined(separator: ",") + ","
                       + (0..<8).map { "logvar_\($0)" }.joined(separator: ","))
        XCTAssert(csv[1].hasPrefix("test:0,7,"))
        XCTAssertEqual(csv[1].split(separator: ",").count, 2 + 16)
        let plot = try GrayImage.read(path: Self.shared + "/z.png")   // read back (as grey) through libpng
        XCTAssertEqual(plot.width, 720)

        let npy = try vae("encode", "--split", "test", "--limit", "25", "-o", "z.npy")
        XCTAssertEqual(npy.status, 0, npy.stderr)
        let bytes = try readFile(Self.shared + "/z.npy", limit: 1 << 20)
        XCTAssertEqual(Array(bytes.prefix(6)), [0x93] + Array("NUMPY".utf8))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssert(header.contains("'shape': (25, 16)"), header)
        XCTAssertEqual(bytes.count, 10 + headerLength + 25 * 16 * 4)
        // The first μ agrees with the CSV's.
        let firstMu = Float(bitPattern: UInt32(bytes[10 + headerLength]) | UInt32(bytes[11 + headerLength]) << 8
                            | UInt32(bytes[12 + headerLength]) << 16 | UInt32(bytes[13 + headerLength]) << 24)
        XCTAssertEqual(firstMu, Float(csv[1].split(separator: ",")[2])!, accuracy: 1e-6)
    }

    func testReconstructionRemovesMasking() throws {
        let run = try vae("reconstruct", "test:0-49", "--mask", "0.5", "-o", "r.png", "--json", "r.json")
        XCTAssertEqual(run.status, 0, run.stderr)
        let grid = try image("r.png")
        XCTAssertEqual(grid.width, 10 * 28 + 11 * 2)
        XCTAssertEqual(grid.height, 15 * 28 + 16 * 2)   // 5 blocks of input, masked, reconstruction
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/r.json"))) as! [String: Any]
        let recon = try XCTUnwrap(doc["mse_reconstruction"] as? Double)
        let corrupted = try XCTUnwrap(doc["mse_corrupted"] as? Double)
        XCTAssertLessThan(recon, corrupted, "the reconstruction is closer to the clean digit than the masked input")
        // Per image, from the picture: reconstruction (row 2) vs clean (row 0) beats masked (row 1) vs clean on average.
        var wins = 0
        for c in 0..<10 where meanSquaredDifference(tile(grid, row: 2, column: c), tile(grid, row: 0, column: c))
            < meanSquaredDifference(tile(grid, row: 1, column: c), tile(grid, row: 0, column: c)) { wins += 1 }
        XCTAssertGreaterThanOrEqual(wins, 6)

        // --mask p is --corrupt mask:p: the same draws, the same picture.
        let same = try vae("reconstruct", "test:0-49", "--corrupt", "mask:0.5", "-o", "r2.png", "--json", "r2.json")
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(try image("r2.png"), grid)
        let salt = try vae("reconstruct", "test:0-9", "--corrupt", "saltpepper:0.2", "-o", "r3.png", "--json", "r3.json")
        XCTAssertEqual(salt.status, 0, salt.stderr)
        XCTAssert(salt.stdout.contains("corrupted input"), salt.stdout)
    }

    func testArithmeticAndTraverse() throws {
        let a = try vae("arithmetic", "test:0", "test:2", "test:5", "-o", "a.pgm")
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(try image("a.pgm").width, 4 * 28 + 5 * 2)
        let t = try vae("traverse", "test:1", "--dims", "0,3,7", "--steps", "5", "--range", "2", "-o", "t.png")
        XCTAssertEqual(t.status, 0, t.stderr)
        let grid = try image("t.png")
        XCTAssertEqual(grid.width, 5 * 28 + 6 * 2)
        XCTAssertEqual(grid.height, 3 * 28 + 4 * 2)
        XCTAssertGreaterThan(meanSquaredDifference(tile(grid, row: 0, column: 0), tile(grid, row: 0, column: 4)), 1e-4, "the row changes")
        let bad = try vae("traverse", "--dims", "8")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.stderr.contains("latent dimensions are 0-7"), bad.stderr)
    }

    func testManifoldNeedsTwoDimensions() throws {
        let ok = try VAEBinary.run(["sample", "--manifold", "--nrow", "6", "--model", "model2d.safetensors", "-o", "m.png"], in: Self.shared)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try image("m.png").width, 6 * 28 + 7 * 2)
        let refused = try vae("sample", "--manifold", "-o", "m8.png")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssert(refused.stderr.contains("2-D latent space"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/m8.png"))
    }

    func testAugmentWritesLoadableMNIST() throws {
        let run = try vae("augment", "--split", "train", "--limit", "40", "--per-image", "3", "-o", "aug")
        XCTAssertEqual(run.status, 0, run.stderr)
        let set = try MNIST.load(directory: Self.shared + "/aug", split: .train)
        XCTAssertEqual(set.count, 120)
        let original = try MNIST.load(directory: VAEBinary.data, split: .train)
        XCTAssertEqual(Array(set.labels!.prefix(6)), [original.labels![0], original.labels![0], original.labels![0],
                                                       original.labels![1], original.labels![1], original.labels![1]])
        XCTAssertNotEqual(Array(set.pixels[0..<784]), Array(set.pixels[784..<1568]), "draws differ")
        XCTAssertEqual(try MNIST.load(directory: Self.shared + "/aug", split: .test).count, 10_000)
        // And vae itself trains on it.
        let train = try VAEBinary.run(["train", "--data", "aug", "--epochs", "1", "--test-images", "100", "--hidden", "32",
                                       "--latent", "2", "--model", "aug.safetensors"], in: Self.shared)
        XCTAssertEqual(train.status, 0, train.stderr)
    }

    func testImageFileInputsAndTheirErrors() throws {
        // A test digit written as a large black-on-white PNG by the tool's own writer.
        let test = try MNIST.load(directory: VAEBinary.data, split: .test)
        var big = [UInt8](repeating: 255, count: 112 * 112)
        for y in 0..<112 { for x in 0..<112 { big[y * 112 + x] = 255 - test.pixels[(y / 4) * 28 + x / 4] } }
        try GrayImage(width: 112, height: 112, pixels: big).write(path: Self.shared + "/seven.png")
        let ok = try vae("reconstruct", "seven.png", "test:0", "-o", "two.png")
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let grid = try image("two.png")
        XCTAssertLessThan(meanSquaredDifference(tile(grid, row: 0, column: 0), tile(grid, row: 0, column: 1)), 0.01,
                          "the preprocessed file matches the data set's digit")

        try Data("GIF89a nonsense".utf8).write(to: URL(fileURLWithPath: Self.shared + "/x.gif"))
        let png = try Data(contentsOf: URL(fileURLWithPath: Self.shared + "/seven.png"))
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: Self.shared + "/cut.png"))
        for (args, fragment) in [(["reconstruct", "x.gif", "-o", "bad.png"], "x.gif: not a PNG or PGM image"),
                                 (["interpolate", "test:0", "missing.png", "-o", "bad.png"], "missing.png: no such file"),
                                 (["arithmetic", "cut.png", "test:1", "test:2", "-o", "bad.png"], "cut.png: invalid PNG"),
                                 (["interpolate", "test:0-3", "test:9", "-o", "bad.png"], "test:0-3: names 4 images; one is expected"),
                                 (["encode", "test:10000", "-o", "bad.csv"], "test:10000: index out of range"),
                                 (["encode", "test:5-2", "-o", "bad.csv"], "expected test:N or test:A-B"),
                                 (["reconstruct", "seven.png", "--raw", "-o", "bad.png"], "--raw needs 28x28"),
                                 (["interpolate", "test:0", "test:1", "--steps", "1"], "--steps must be in 2...100"),
                                 (["encode", "-o", "bad.csv"], "give input images or --split")] {
            let run = try VAEBinary.run(args + ["--model", "model.safetensors"], in: Self.shared,
                                        environment: ["VAE_DATA": VAEBinary.data])
            XCTAssertNotEqual(run.status, 0, "\(args)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
            XCTAssert(run.stderr.contains(fragment), "'\(run.stderr)' lacks '\(fragment)'")
        }
        for leftover in ["bad.png", "bad.csv"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/" + leftover), leftover)
        }
    }
}
