import Foundation
import VAEData
import XCTest

/// `vae judge` and `vae eval --sample-quality` as a user runs them, with the
/// shipped MNIST judge.
final class JudgeCommandTests: XCTestCase {
    static let folder = NSTemporaryDirectory() + "vae-judge-\(UUID().uuidString)"

    override class func setUp() { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func vae(_ arguments: [String]) throws -> VAERun {
        try VAEBinary.run(arguments, in: Self.folder, environment: ["VAE_DATA": VAEBinary.data])
    }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name))) as! [String: Any]
    }

    /// The test split: 99% and more read as their label, distance 0 to itself.
    func testTheJudgeReadsTheTestSplit() throws {
        let run = try vae(["judge", "read", "--split", "test", "--json", "test.json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let doc = try json("test.json")
        XCTAssertGreaterThanOrEqual(doc["accuracy"] as? Double ?? 0, 0.99)
        XCTAssertEqual(doc["frechet_distance"] as? Double ?? 1, 0, accuracy: 1e-3)
        XCTAssertEqual((doc["class_histogram"] as? [Int])?.reduce(0, +), 10_000)
    }

    /// Images from an IDX file and from a folder of class subfolders; the folder's labels give an accuracy.
    func testTheJudgeReadsFilesAndFolders() throws {
        let test = try MNIST.load(directory: VAEBinary.data, split: .test).subset(0..<60)
        try IDX.writeGzipped(test, imagesPath: Self.folder + "/few-images.idx3-ubyte.gz", labelsPath: Self.folder + "/few-labels.idx1-ubyte.gz")
        let idx = try vae(["judge", "read", "few-images.idx3-ubyte.gz", "--extremes", "extremes.png"])
        XCTAssertEqual(idx.status, 0, idx.stderr)
        XCTAssert(idx.stdout.contains("60 images from few-images.idx3-ubyte.gz"), idx.stdout)
        // The picture of the surest and least sure: their probabilities in order, the two rows apart.
        let line = try XCTUnwrap(idx.stdout.split(separator: "\n").first { $0.hasPrefix("wrote extremes.png: surest ") })
        let probabilities = line.split(separator: ";").map { part in
            part.split(separator: ",").compactMap { Double($0.split(separator: " ").last(where: { Double($0) != nil }) ?? "") }
        }
        XCTAssertEqual(probabilities.map(\.count), [10, 10], String(line))
        XCTAssertEqual(probabilities[0], probabilities[0].sorted(by: >))
        XCTAssertEqual(probabilities[1], probabilities[1].sorted())
        XCTAssertGreaterThanOrEqual(probabilities[0].min()!, probabilities[1].max()!)
        XCTAssertLessThan(probabilities[1][0], 0.9, "among 60 test digits, one is read with less than 0.9")
        let picture = try Picture.read(path: Self.folder + "/extremes.png")
        XCTAssertGreaterThan(picture.width, 10 * 28)
        XCTAssertGreaterThan(picture.height, 2 * 28)
        XCTAssertFalse(idx.stdout.contains("read as their label"), "an IDX image file has no labels")
        try ImageFolder.write(test, to: Self.folder + "/digits")
        let folder = try vae(["judge", "read", "digits", "--json", "digits.json"])
        XCTAssertEqual(folder.status, 0, folder.stderr)
        XCTAssertGreaterThan(try json("digits.json")["accuracy"] as? Double ?? 0, 0.95)
    }

    /// A model's samples through `judge read --model` and `eval --sample-quality`: the same figures for the same seed.
    func testSampleQualityOfAModel() throws {
        let train = try vae(["train", "--epochs", "1", "--train-images", "2000", "--test-images", "200", "--model", "small.safetensors"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let read = try vae(["judge", "read", "--model", "small.safetensors", "-n", "300", "--json", "read.json"])
        XCTAssertEqual(read.status, 0, read.stderr)
        let eval = try vae(["eval", "--model", "small.safetensors", "--limit", "100", "--sample-quality", "300", "--json", "eval.json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let quality = try XCTUnwrap(try json("eval.json")["sample_quality"] as? [String: Any])
        let direct = try json("read.json")
        XCTAssertEqual(quality["class_histogram"] as? [Int], direct["class_histogram"] as? [Int])
        XCTAssertEqual(quality["frechet_distance"] as? Double ?? -1, direct["frechet_distance"] as? Double ?? -2, accuracy: 1e-9)
        for key in ["class_entropy", "mean_confidence", "confident_share", "reconstruction_frechet_distance", "test_class_entropy"] {
            XCTAssertNotNil(quality[key], key)
        }
    }

    /// Bad requests: one line naming the file or flag, a non-zero exit, no output.
    func testBadRequests() throws {
        let train = try vae(["train", "--epochs", "1", "--train-images", "300", "--test-images", "100", "--model", "m.safetensors"])
        XCTAssertEqual(train.status, 0, train.stderr)
        try Data("not a judge".utf8).write(to: URL(fileURLWithPath: Self.folder + "/junk.safetensors"))
        let cases: [([String], String)] = [
            (["judge", "read", "--split", "test", "--judge", "m.safetensors", "--json", "out.json"], "m.safetensors: this is a VAE checkpoint, not a judge"),
            (["judge", "read", "--split", "test", "--judge", "junk.safetensors", "--json", "out.json"], "junk.safetensors"),
            (["judge", "read", "--split", "test", "--judge", "missing.safetensors", "--json", "out.json"], "missing.safetensors"),
            (["judge", "read", "--json", "out.json"], "give inputs, --model or --split"),
            (["judge", "read", "--split", "test", "--extremes", "out.txt"], "out.txt: unknown chart format"),
            (["judge", "read", "nothing-here.png", "--json", "out.json"], "nothing-here.png: no such file or folder"),
            (["judge", "read", "--model", "m.safetensors", "-n", "1", "--json", "out.json"], "-n must be in 2...100000"),
            (["judge", "train", "--epochs", "0", "-o", "out.json"], "--epochs must be in"),
            (["judge", "train", "--stages", "32/9", "-o", "out.json"], "--stages takes channels/stride pairs"),
            (["judge", "train", "-o", "no-folder/j.safetensors"], "-o no-folder/j.safetensors: folder"),
            (["eval", "--model", "m.safetensors", "--sample-quality", "100", "--judge", "junk.safetensors", "--json", "out.json"], "junk.safetensors"),
            (["eval", "--model", "m.safetensors", "--sample-quality", "1"], "--sample-quality must be in 2...100000"),
        ]
        for (arguments, message) in cases {
            let run = try vae(arguments)
            XCTAssertNotEqual(run.status, 0, arguments.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "one line: \(run.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.folder + "/out.json"), "no output after an error")
    }
}
