import Foundation
import VAEData
import XCTest

/// End-to-end tests of the convolutional and conditional models: every
/// command runs on each, conditional models ask for labels where they need
/// them, and a conditional model's samples are the digit asked for.
final class ArchitectureTests: XCTestCase {
    /// Small models, trained by the binary once for the suite.
    static var suite: SuiteModels!
    static var shared: String { suite.folder }
    static var training: [String: VAERun] { suite.training }

    override class func setUp() {
        suite = SuiteModels("vae-arch", models: [
            "conv": ["--arch", "conv", "--epochs", "1", "--train-images", "3000", "--test-images", "200", "--latent", "8"],
            "cmlp": ["--conditional", "--epochs", "4", "--train-images", "20000", "--test-images", "500", "--hidden", "256",
                     "--latent", "8", "--lr", "0.002"],
            "cconv": ["--arch", "conv", "--conditional", "--epochs", "2", "--train-images", "12000", "--test-images", "200",
                      "--latent", "8", "--lr", "0.002"],
        ])
    }

    override class func tearDown() { suite.remove() }

    override func setUpWithError() throws { try Self.suite.checkTrained() }

    func vae(_ model: String, _ arguments: [String]) throws -> VAERun { try Self.suite.vae(model, arguments) }

    func image(_ name: String) throws -> GrayImage { try GrayImage.read(path: Self.shared + "/" + name) }

    func testTrainingReportsTheArchitecture() throws {
        XCTAssert(Self.training["conv"]!.stdout.contains("training conv 28x28-c32-c64-256-8 ("), Self.training["conv"]!.stdout)
        XCTAssert(Self.training["cconv"]!.stdout.contains("conditional on 10 classes"), Self.training["cconv"]!.stdout)
    }

    func testEveryCommandRunsOnEachArchitecture() throws {
        for model in ["conv", "cmlp", "cconv"] {
            let conditional = model != "conv"
            let commands: [[String]] = [
                ["sample", "-n", "8", "-o", "s.png"] + (conditional ? ["--digit", "4"] : []),
                ["interpolate", "test:0", "test:1", "--steps", "5", "-o", "i.png"],
                ["encode", "test:0-9", "-o", "z.csv"],
                ["reconstruct", "test:0-9", "--mask", "0.3", "-o", "r.png"],
                ["arithmetic", "test:0", "test:1", "test:2", "-o", "a.png"],
                ["traverse", "test:0", "--dims", "0,1", "-o", "t.png"],
                ["augment", "--split", "test", "--limit", "20", "--per-image", "2", "-o", "aug-\(model)"],
                ["score", "test:0-19", "--calibrate", "test:100-199"],
                ["anomaly", "--anomaly-digits", "9", "--calibration-images", "300"],
                ["eval", "--limit", "100", "--iw-samples", "4"],
            ]
            for arguments in commands {
                let run = try vae(model, arguments)
                XCTAssertEqual(run.status, 0, "\(model) \(arguments.joined(separator: " ")): \(run.stderr)")
            }
            XCTAssertEqual(try image("s.png").width, 3 * 30 + 2, model)   // 8 samples: ⌈√8⌉ columns
            let encoded = try String(contentsOfFile: Self.shared + "/z.csv", encoding: .utf8)
            XCTAssertEqual(encoded.split(separator: "\n").count, 11, model)
            let augmented = try MNIST.load(directory: Self.shared + "/aug-\(model)", split: .test)
            XCTAssertEqual(augmented.count, 40, model)
        }
        // Training resumes from a conv checkpoint (a copy, so other tests keep theirs).
        try FileManager.default.copyItem(atPath: Self.shared + "/conv.safetensors", toPath: Self.shared + "/resumed.safetensors")
        let resumed = try VAEBinary.run(["train", "--resume", "--epochs", "2", "--train-images", "3000", "--test-images", "200",
                                         "--threads", "2", "--model", "resumed.safetensors"], in: Self.shared,
                                        environment: ["VAE_DATA": VAEBinary.data])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssert(resumed.stdout.contains("epoch  2/2"), resumed.stdout)
    }

    func testConditionalSamplingGrid() throws {
        let grid = try vae("cmlp", ["sample", "-o", "classes.png"])
        XCTAssertEqual(grid.status, 0, grid.stderr)
        XCTAssert(grid.stdout.contains("10 samples of each of 10 classes"), grid.stdout)
        let picture = try image("classes.png")
        XCTAssertEqual(picture.height, 10 * 30 + 2, "one row per class")
        XCTAssertEqual(picture.width, 10 * 30 + 2)
        // A column holds one z: its rows are different digits, so they differ.
        let change = (0..<10).map { meanSquaredDifference(tile(picture, row: 0, column: $0), tile(picture, row: 1, column: $0)) }
        XCTAssertGreaterThan(change.reduce(0, +) / 10, 0.02, "\(change)")
    }

    /// Labels where a conditional model needs them, and clear errors otherwise.
    func testConditionalModelsAskForLabels() throws {
        let digit = try MNIST.load(directory: VAEBinary.data, split: .test).subset([0])   // a 7
        let file = Self.shared + "/seven.png"
        try GrayImage(width: 28, height: 28, pixels: digit.pixels).write(path: file)
        let errors: [(String, [String], String)] = [
            ("cmlp", ["encode", file, "-o", "e.csv"], "give the class of \(file) with --label"),
            ("cmlp", ["encode", file, "test:1", "test:2", "--label", "1,2", "-o", "e.csv"], "--label gives 2 labels for 3 inputs"),
            ("cmlp", ["encode", file, "--label", "12", "-o", "e.csv"], "--label 12: cmlp.safetensors knows classes 0-9"),
            ("cmlp", ["sample", "--digit", "10"], "--digit 10: cmlp.safetensors knows classes 0-9"),
            ("cmlp", ["traverse", "-o", "t.png"], "give the class to draw with --label c"),
            ("conv", ["encode", file, "--label", "7", "-o", "e.csv"], "is not a conditional model"),
            ("conv", ["sample", "--digit", "3"], "is not a conditional model"),
        ]
        for (model, arguments, message) in errors {
            let run = try vae(model, arguments)
            XCTAssertNotEqual(run.status, 0, arguments.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "one line: \(run.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/e.csv"), "no output after an error")
        let labelled = try vae("cmlp", ["encode", file, "test:1", "--label", "7", "-o", "e.csv"])
        XCTAssertEqual(labelled.status, 0, labelled.stderr)
        let traverse = try vae("cmlp", ["traverse", "--label", "3", "--dims", "0", "-o", "t3.png"])
        XCTAssertEqual(traverse.status, 0, traverse.stderr)
    }

    /// A conditional model learns p(z|y) by default (`--class-prior`); the
    /// flag is refused where it means nothing or differs from a checkpoint's,
    /// and a learned prior's draws take a temperature.
    func testClassPriorFlag() throws {
        let metadata = try SafeTensors.read(path: Self.shared + "/cmlp.safetensors").metadata
        XCTAssertEqual(metadata["class_prior"], "learned")
        XCTAssert(Self.training["cmlp"]!.stdout.contains("with a learned prior p(z|class)"), Self.training["cmlp"]!.stdout)
        let cool = try vae("cmlp", ["sample", "--digit", "3", "-n", "4", "--temperature", "0.5", "-o", "cool.png"])
        XCTAssertEqual(cool.status, 0, cool.stderr)
        try FileManager.default.copyItem(atPath: Self.shared + "/cmlp.safetensors", toPath: Self.shared + "/cmlp-copy.safetensors")
        let errors: [([String], String)] = [
            (["--class-prior", "standard", "--model", "x.safetensors"], "--class-prior goes with --conditional"),
            (["--class-prior", "learned", "--conditional", "--vq", "8", "--model", "x.safetensors"], "PixelCNN prior takes the class"),
            (["--class-prior", "sometimes", "--conditional", "--model", "x.safetensors"], "--class-prior"),
            (["--resume", "--class-prior", "standard", "--model", "cmlp-copy.safetensors"], "--class-prior standard differs from the checkpoint's learned"),
        ]
        for (arguments, message) in errors {
            let run = try VAEBinary.run(["train", "--epochs", "1", "--train-images", "500", "--test-images", "100"] + arguments,
                                        in: Self.shared, environment: ["VAE_DATA": VAEBinary.data])
            XCTAssertNotEqual(run.status, 0, arguments.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/x.safetensors"), "no output after an error")
        }
    }

    /// The issue's quality bar for conditional models: `sample --digit d` draws
    /// d. The shipped judge (Data/judge.safetensors) reads 200 samples, every
    /// class in turn, through `vae eval --sample-quality`.
    func testConditionalSamplesAreTheDigitAskedFor() throws {
        for model in ["cmlp", "cconv"] {
            let run = try vae(model, ["eval", "--limit", "500", "--sample-quality", "200", "--json", "quality-\(model).json"])
            XCTAssertEqual(run.status, 0, run.stderr)
            let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/quality-\(model).json"))) as! [String: Any]
            let quality = try XCTUnwrap(doc["sample_quality"] as? [String: Any])
            let share = try XCTUnwrap(quality["conditional_share"] as? Double)
            let byClass = try XCTUnwrap(quality["conditional_share_by_class"] as? [Double])
            XCTAssertEqual(byClass.count, 10)
            XCTAssertEqual(byClass.reduce(0, +) / 10, share, accuracy: 1e-9, "200 samples: 20 per class")
            print(String(format: "%@: %.1f%% of 200 conditional samples read as the digit asked for", model, 100 * share))
            // Small models, briefly trained (this judge reads 78% and 70% for
            // them with the learned class prior, 56% and 59% with N(0, I)):
            // the bar is well above chance (10%) and above what N(0, I) gave.
            XCTAssertGreaterThan(share, 0.6, model)
            XCTAssert(run.stdout.contains("read as the class asked for"), run.stdout)
        }
    }
}
