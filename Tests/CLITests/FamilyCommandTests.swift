import Foundation
import VAEData
import XCTest

/// End-to-end tests of the families beyond the Gaussian VAE: a model with
/// two stochastic layers (Burda et al. 2015) and Gaussian posteriors
/// followed by planar (Rezende & Mohamed 2015) and inverse autoregressive
/// (Kingma et al. 2016) flows. Every command runs on each or says in one
/// line why not; checkpoints resume bit-exactly.
final class FamilyCommandTests: XCTestCase {
    static let common = ["--epochs", "2", "--train-images", "2000", "--test-images", "200", "--threads", "2", "--seed", "3"]
    /// Small models, trained by the binary once for the suite.
    static let models: [String: [String]] = [
        // Started at the mean image, so the bit-exact resume below covers such a run too.
        "two": ["--latent", "16,8", "--hidden", "64/32", "--activation", "tanh", "--binarize", "dynamic", "--iw-samples", "3", "--mean-bias"],
        "planar": ["--flow", "planar:3", "--hidden", "64", "--latent", "6"],
        "iaf": ["--flow", "iaf:2", "--hidden", "64", "--latent", "6", "--iw-samples", "2"],
    ]
    static var suite: SuiteModels!
    static var shared: String { suite.folder }
    static var training: [String: VAERun] { suite.training }

    override class func setUp() { suite = SuiteModels("vae-families", models: models, common: common, json: true) }

    override class func tearDown() { suite.remove() }

    override func setUpWithError() throws { try Self.suite.checkTrained() }

    func vae(_ model: String, _ arguments: [String]) throws -> VAERun { try Self.suite.vae(model, arguments) }

    func text(_ name: String) throws -> String { try String(contentsOfFile: Self.shared + "/" + name, encoding: .utf8) }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/" + name))) as! [String: Any]
    }

    func testTrainingDescribesEachFamilyAndItsTerms() throws {
        let two = Self.training["two"]!.stdout
        XCTAssert(two.contains("training mlp 784-64-16 / 32-8 ("), two)
        XCTAssert(two.contains("KL z1 ") && two.contains("KL z2 "), two)
        // Two stochastic layers take the IWAE paper's Adam ε unless told otherwise.
        XCTAssert(two.contains("Adam ε 0.0001"), two)
        let metadata = try SafeTensors.read(path: Self.shared + "/two.safetensors").metadata
        XCTAssertEqual(Float(metadata["adam_epsilon"] ?? ""), 1e-4)
        XCTAssert(two.contains("output bias from the mean image"), two)
        XCTAssertEqual(metadata["init_bias"], "mean")
        XCTAssertNil(try SafeTensors.read(path: Self.shared + "/planar.safetensors").metadata["init_bias"])
        XCTAssertFalse(Self.training["planar"]!.stdout.contains("Adam ε"), Self.training["planar"]!.stdout)
        XCTAssert(Self.training["planar"]!.stdout.contains("784-64-6 + planar:3 ("), Self.training["planar"]!.stdout)
        XCTAssert(Self.training["iaf"]!.stdout.contains("784-64-6 + iaf:2 ("), Self.training["iaf"]!.stdout)
        let epochs = try json("two.json")["epochs"] as! [[String: Any]]
        XCTAssertNotNil(epochs[1]["test_kl_z1"] as? Double, "\(epochs[1])")
        XCTAssertNotNil(epochs[1]["test_kl_z2"] as? Double, "\(epochs[1])")
    }

    func testEveryCommandRunsOnEachFamily() throws {
        for model in ["two", "planar", "iaf"] {
            let commands: [[String]] = [
                ["sample", "-n", "9", "-o", "s-\(model).png"],
                ["interpolate", "test:0", "test:1", "--steps", "5", "-o", "i.png"],
                ["encode", "test:0-9", "-o", "z-\(model).csv", "--plot", "z.png"],
                ["reconstruct", "test:0-9", "--mask", "0.3", "-o", "r.png"],
                ["arithmetic", "test:0", "test:1", "test:2", "-o", "a.png"],
                ["augment", "--split", "test", "--limit", "20", "--per-image", "2", "-o", "aug-\(model)"],
                ["score", "test:0-19", "--metric", "nelbo", "--calibrate", "test:100-199"],
                ["score", "test:0-4", "--metric", "iw", "--samples", "20"],
                // Every metric; the model as its own background makes the ratio 0, which still runs the path.
                ["anomaly", "--anomaly-digits", "9", "--calibration-images", "300", "--metric", "all", "--samples", "5",
                 "--background", "\(model).safetensors"],
                ["eval", "--limit", "100", "--iw-samples", "8", "--json", "e-\(model).json"],
            ]
            for arguments in commands {
                let run = try vae(model, arguments)
                XCTAssertEqual(run.status, 0, "\(model) \(arguments.joined(separator: " ")): \(run.stderr)")
            }
            let samples = try GrayImage.read(path: Self.shared + "/s-\(model).png")
            XCTAssertEqual(samples.width, 3 * 30 + 2, model)
            let augmented = try MNIST.load(directory: Self.shared + "/aug-\(model)", split: .test)
            XCTAssertEqual(augmented.count, 40, model)
        }
        // A flow's posterior is over the decoder's z, whose prior is N(0, I): traversal means something.
        XCTAssertEqual(try vae("planar", ["traverse", "test:0", "--dims", "0,1", "-o", "t.png"]).status, 0)
    }

    /// Ancestral samples z2 ~ N(0, I), z1 ~ p(z1|z2), x ~ p(x|z1): varied,
    /// and the same for the same seed.
    func testAncestralSamplesAreVariedAndSeeded() throws {
        for seed in ["1", "1", "2"] {
            let run = try vae("two", ["sample", "-n", "16", "--seed", seed, "-o", "anc-\(seed).png"])
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let picture = try GrayImage.read(path: Self.shared + "/anc-1.png")
        let tiles = (0..<4).map { tile(picture, row: 0, column: $0) }
        XCTAssertGreaterThan(meanSquaredDifference(tiles[0], tiles[1]) + meanSquaredDifference(tiles[2], tiles[3]), 0.001)
        let other = try GrayImage.read(path: Self.shared + "/anc-2.png")
        XCTAssertNotEqual(picture.pixels, other.pixels)
    }

    /// `encode` writes each layer's means and log-variances, z1 then z2.
    func testEncodeWritesEveryLayer() throws {
        let run = try vae("two", ["encode", "test:0-9", "-o", "layers.csv"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = try text("layers.csv").split(separator: "\n")
        XCTAssertEqual(lines.count, 11)
        let header = lines[0].split(separator: ",").map(String.init)
        XCTAssertEqual(header.count, 2 + 2 * 16 + 2 * 8)
        XCTAssertEqual(Array(header.prefix(3)), ["source", "label", "z1_mu_0"])
        XCTAssert(header.contains("z1_logvar_15") && header.contains("z2_mu_7") && header.last == "z2_logvar_7", "\(header)")
        XCTAssertEqual(lines[1].split(separator: ",").count, header.count)
    }

    /// `eval` reports each layer's KL and active units, and an
    /// importance-weighted −log p(x) no worse than the ELBO (K = 64 ≥ 1).
    func testEvalReportsEveryLayer() throws {
        let two = try vae("two", ["eval", "--limit", "200", "--iw-samples", "64", "--json", "two-eval.json"])
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssert(two.stdout.contains("active units of z1: ") && two.stdout.contains(" of 16 ("), two.stdout)
        XCTAssert(two.stdout.contains("active units of z2: ") && two.stdout.contains(" of 8 ("), two.stdout)
        let figures = try json("two-eval.json")
        let nelbo = try XCTUnwrap(figures["nelbo"] as? Double), nll = try XCTUnwrap(figures["iw_nll"] as? Double)
        let recon = try XCTUnwrap(figures["recon"] as? Double)
        let kl1 = try XCTUnwrap(figures["kl_z1"] as? Double), kl2 = try XCTUnwrap(figures["kl_z2"] as? Double)
        XCTAssertEqual(recon + kl1 + kl2, nelbo, accuracy: 1e-6 * nelbo)
        XCTAssertLessThan(nll, nelbo)
        XCTAssertEqual((figures["active_units_per_layer"] as? [Int])?.count, 2)

        let flow = try vae("iaf", ["eval", "--limit", "200", "--iw-samples", "64", "--json", "iaf-eval.json"])
        XCTAssertEqual(flow.status, 0, flow.stderr)
        XCTAssertFalse(flow.stdout.contains("KL per dimension"), "a flow's KL does not split by dimension: \(flow.stdout)")
        let flowFigures = try json("iaf-eval.json")
        XCTAssertLessThan(try XCTUnwrap(flowFigures["iw_nll"] as? Double), try XCTUnwrap(flowFigures["nelbo"] as? Double))
    }

    /// What the prior of a two-layer model does not allow, refused in one line.
    func testRefusalsNameTheReason() throws {
        let refusals: [(String, [String], String)] = [
            ("two", ["traverse", "-o", "refused-t.png"], "its prior is not a Gaussian over z"),
            ("two", ["sample", "--manifold", "-o", "m.png"], "prior is not a Gaussian over z"),
        ]
        for (model, arguments, message) in refusals {
            let run = try vae(model, arguments)
            XCTAssertNotEqual(run.status, 0, arguments.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/refused-t.png"))
        let training: [([String], String)] = [
            (["--flow", "planar:2", "--conditional"], "flow steps are not conditional"),
            (["--flow", "iaf:2", "--arch", "conv"], "flow steps go with --arch mlp"),
            (["--latent", "10,5", "--arch", "conv"], "two stochastic layers go with --arch mlp"),
            (["--latent", "10,5", "--flow", "iaf:2"], "use --flow or two latent sizes, not both"),
            (["--latent", "10,5", "--hidden", "64"], "--hidden gives widths for 1 stochastic layer but --latent 2 sizes"),
            (["--latent", "10,5,2"], "--latent must be 1 or 2 comma-separated sizes"),
            (["--flow", "radial:3"], "--flow must be planar:K or iaf:K"),
            (["--flow", "planar:0"], "--flow must be planar:K or iaf:K with K in 1...64"),
            (["--adam-epsilon", "0"], "--adam-epsilon must be in (0, 1], got 0.0"),
            (["--arch", "conv", "--mean-bias", "--train-images", "100"], "--mean-bias: a conv 28x28-c32-c64-256-20 model's decoder has one output bias per channel"),
        ]
        for (flags, message) in training {
            let run = try VAEBinary.run(["train", "--data", VAEBinary.data, "--model", "refused.safetensors"] + flags, in: Self.shared)
            XCTAssertNotEqual(run.status, 0, flags.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(flags): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/refused.safetensors"))
        let resumed = try vae("two", ["train", "--resume", "--epochs", "3", "--mean-bias"])
        XCTAssertNotEqual(resumed.status, 0)
        XCTAssertEqual(resumed.stderr, "vae: --mean-bias sets where a new model starts; a resumed run goes on from its weights\n")
    }

    /// One epoch, then `--resume` to two: the same bytes as two epochs straight.
    func testResumeIsBitExactForEachFamily() throws {
        for (name, flags) in Self.models.sorted(by: { $0.key < $1.key }) {
            let once = ["train", "--data", VAEBinary.data, "--model", "\(name)-resumed.safetensors", "--train-images", "2000",
                        "--test-images", "200", "--threads", "2", "--seed", "3"]
            XCTAssertEqual(try VAEBinary.run(once + ["--epochs", "1"] + flags, in: Self.shared).status, 0)
            let resumed = try VAEBinary.run(once + ["--epochs", "2", "--resume"], in: Self.shared)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            let straight = try SafeTensors.read(path: Self.shared + "/\(name).safetensors")
            let again = try SafeTensors.read(path: Self.shared + "/\(name)-resumed.safetensors")
            XCTAssertEqual(straight.names, again.names, name)
            for (a, b) in zip(straight.tensors, again.tensors) { XCTAssert(a == b, "\(name): \(a.name) differs") }
        }
    }
}
