import Foundation
import VAEData
import XCTest

/// End-to-end tests of the VQ-VAE (van den Oord et al. 2017) as a user runs
/// it: `train --vq`, `train-prior`, then every command, or a one-line refusal;
/// both trainings resume bit-exactly.
final class VQCommandTests: XCTestCase {
    static let common = ["--epochs", "2", "--train-images", "2000", "--test-images", "200", "--threads", "2", "--seed", "5"]
    static let models: [String: [String]] = [
        "vq": ["--vq", "32", "--code-dim", "8"],
        "ema": ["--vq", "32", "--code-dim", "8", "--vq-ema", "0.9"],
        "conditional": ["--vq", "16", "--code-dim", "4", "--vq-ema", "0.9", "--conditional"],
    ]
    /// A small prior: quick, and enough to exercise every path (its rate × 0.9 after the first epoch).
    static let prior = ["train-prior", "--epochs", "2", "--train-images", "1000", "--test-images", "200", "--prior-channels", "16",
                        "--prior-blocks", "1", "--threads", "2", "--lr", "0.005", "--lr-decay", "0.9"]
    /// The moving-average codebook's prior is also a Polyak average, fitted to the codes of shifted images.
    static let polyak = ["--polyak", "0.9", "--shift", "1"]
    static var suite: SuiteModels!
    static var priorRun: VAERun?
    static var conditionalPriorRun: VAERun?
    static var shared: String { suite.folder }

    override class func setUp() {
        suite = SuiteModels("vae-vq", models: models, common: common, json: true)
        priorRun = try? suite.vae("ema", prior + polyak + ["--json", "prior.json"])
        conditionalPriorRun = try? suite.vae("conditional", prior + ["--dropout", "0.2", "--prior-kernel", "13"])
    }

    override class func tearDown() { suite.remove() }

    override func setUpWithError() throws {
        try Self.suite.checkTrained()
        for run in [Self.priorRun, Self.conditionalPriorRun] {
            let prior = try XCTUnwrap(run)
            XCTAssertEqual(prior.status, 0, prior.stderr)
        }
    }

    /// A VQ-VAE trained with --conditional gets a prior p(c | y): it draws the class asked for, one row per class without.
    /// (This prior was trained with dropout and a 13x13 first kernel, which sees every earlier code of the 7x7 grid.)
    func testConditionalPrior() throws {
        let metadata = try SafeTensors.read(path: Self.shared + "/conditional.safetensors")
        XCTAssert(metadata.names.contains("prior.cond.weight"), "\(metadata.names)")
        XCTAssertEqual(metadata.metadata["prior_dropout"], "0.2")
        XCTAssertEqual(metadata.metadata["prior_kernel"], "13")
        XCTAssert(try XCTUnwrap(Self.conditionalPriorRun).stdout.contains("lr 0.005, lr decay 0.9, dropout 0.2, batch 128)"), Self.conditionalPriorRun!.stdout)
        for arguments in [["sample", "--digit", "3", "-n", "4", "-o", "c3.png"], ["sample", "-n", "20", "-o", "rows.png"],
                          ["eval", "--limit", "100"], ["score", "test:0-9", "-o", "cs.csv"],
                          ["augment", "--split", "test", "--limit", "10", "-o", "caug"]] {
            let run = try vae("conditional", arguments)
            XCTAssertEqual(run.status, 0, "\(arguments): \(run.stderr)")
        }
        XCTAssertEqual(try GrayImage.read(path: Self.shared + "/rows.png").height, 10 * 30 + 2)
        let wrong = try vae("ema", ["sample", "--digit", "3", "-o", "refused.png"])
        XCTAssert(wrong.stderr.contains("is not a conditional model"), wrong.stderr)
    }

    func vae(_ model: String, _ arguments: [String]) throws -> VAERun { try Self.suite.vae(model, arguments) }

    func text(_ name: String) throws -> String { try String(contentsOfFile: Self.shared + "/" + name, encoding: .utf8) }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/" + name))) as! [String: Any]
    }

    func testTrainingReportsTheCodebook() throws {
        let run = try XCTUnwrap(Self.suite.training["ema"])
        XCTAssert(run.stdout.contains("training conv 28x28-c32-c64 + 32 codes of 8 (EMA 0.9) ("), run.stdout)
        XCTAssert(run.stdout.contains("commit ") && run.stdout.contains("perplexity ") && run.stdout.contains(" codes in use"), run.stdout)
        let epoch = try XCTUnwrap((try json("ema.json")["epochs"] as? [[String: Any]])?.last)
        let perplexity = try XCTUnwrap(epoch["test_perplexity"] as? Double), used = try XCTUnwrap(epoch["test_codes_in_use"] as? Int)
        XCTAssert(perplexity > 1 && perplexity <= Double(used) && used <= 32, "\(epoch)")
        XCTAssertNotNil(epoch["test_commitment"] as? Double)
        let prior = try XCTUnwrap((try json("prior.json")["prior_epochs"] as? [[String: Any]])?.last)
        let ce = try XCTUnwrap(prior["test_ce_per_code"] as? Double)
        XCTAssert(ce > 0 && ce < log(32.0), "the prior beats a uniform one: \(prior)")
        let metadata = try SafeTensors.read(path: Self.shared + "/ema.safetensors").metadata
        XCTAssertEqual(metadata["prior_epoch"], "2")
        XCTAssertEqual(metadata["prior_lr_decay"], "0.9")
        XCTAssertEqual(metadata["family"], "vq")
        XCTAssert(try XCTUnwrap(Self.priorRun).stdout.contains("lr 0.005, lr decay 0.9, Polyak average 0.9, images shifted by up to 1 px, batch 128)"),
                  Self.priorRun!.stdout)
        XCTAssertEqual(metadata["prior_shift"], "1")
        XCTAssert(Self.priorRun!.stdout.contains(" (unaveraged "), Self.priorRun!.stdout)
        // The prior's tensors are the average; the weights Adam moves are kept beside them, and differ.
        XCTAssertEqual(metadata["prior_polyak"], "0.9")
        XCTAssertNotNil(prior["iterate_test_ce_per_code"] as? Double)
        let tensors = try SafeTensors.read(path: Self.shared + "/ema.safetensors")
        let averaged = try XCTUnwrap(tensors.tensor("prior.out.3.weight")), moved = try XCTUnwrap(tensors.tensor("iterate.prior.out.3.weight"))
        XCTAssertNotEqual(averaged.values, moved.values)
        XCTAssertEqual(tensors.tensor("iterate.enc.0.weight")?.values, tensors.tensor("enc.0.weight")?.values)
    }

    func testEveryCommandRunsOrSaysWhyNot() throws {
        let commands: [[String]] = [
            ["sample", "-n", "9", "-o", "s.png"],
            ["sample", "-n", "4", "--temperature", "0.5", "-o", "cold.png"],
            ["interpolate", "test:0", "test:1", "--steps", "5", "-o", "i.png"],
            ["encode", "test:0-9", "-o", "codes.csv", "--plot", "z.png"],
            ["encode", "test:0-9", "-o", "codes.npy"],
            ["reconstruct", "test:0-9", "--mask", "0.3", "-o", "r.png"],
            // More threads than images per thread: the decoder's split leaves parts empty (this trapped once).
            ["reconstruct", "test:0-4", "--threads", "4", "-o", "r4.png"],
            ["arithmetic", "test:0", "test:1", "test:2", "-o", "a.png"],
            ["augment", "--split", "test", "--limit", "20", "--per-image", "2", "-o", "aug"],
            ["score", "test:0-19", "--metric", "nelbo", "--calibrate", "test:100-199"],
            ["score", "test:0-19", "--metric", "recon", "-o", "recon.csv"],
            ["anomaly", "--anomaly-digits", "9", "--calibration-images", "300"],
            // Every metric a VQ-VAE has: its bound, the reconstruction, the complexity-corrected bound, the ratio, z_e's neighbours.
            ["anomaly", "--anomaly-digits", "9", "--calibration-images", "300", "--metric", "all", "--background", "ema.safetensors"],
            ["eval", "--limit", "200", "--json", "eval.json"],
        ]
        for arguments in commands {
            let run = try vae("ema", arguments)
            XCTAssertEqual(run.status, 0, "\(arguments.joined(separator: " ")): \(run.stderr)")
        }
        XCTAssertEqual(try GrayImage.read(path: Self.shared + "/s.png").width, 3 * 30 + 2)
        XCTAssertEqual(try MNIST.load(directory: Self.shared + "/aug", split: .test).count, 40)
        let lines = try text("codes.csv").split(separator: "\n")
        XCTAssertEqual(lines.count, 11)
        XCTAssertEqual(lines[0].split(separator: ",").count, 2 + 49)
        XCTAssertEqual(lines[0].split(separator: ",").last, "code_48")
        XCTAssert(lines[1].split(separator: ",").dropFirst(2).allSatisfy { Int($0).map { (0..<32).contains($0) } == true }, String(lines[1]))
        let npy = try Data(contentsOf: URL(fileURLWithPath: Self.shared + "/codes.npy"))
        XCTAssert(String(decoding: npy.prefix(128), as: UTF8.self).contains("'descr': '<i4', 'fortran_order': False, 'shape': (10, 7, 7)"))
        XCTAssertEqual(npy.count, 128 + 4 * 490)
        // The bound adds the prior's −log p(z_q) to the reconstruction term, in nats and bits per dimension.
        let e = try json("eval.json")
        let recon = try XCTUnwrap(e["recon"] as? Double), ce = try XCTUnwrap(e["prior_ce_per_code"] as? Double)
        let bound = try XCTUnwrap(e["bound_nats"] as? Double), bits = try XCTUnwrap(e["bound_bits_per_dim"] as? Double)
        XCTAssertEqual(bound, recon + 49 * ce, accuracy: 1e-9 * bound)
        XCTAssertEqual(bits, bound / (784 * log(2.0)), accuracy: 1e-12)
        XCTAssertNotNil(e["mse_per_pixel"] as? Double)
        XCTAssertNotNil(e["perplexity"] as? Double)
    }

    /// Samples are grids of codes from the prior: the same for a seed, varied across seeds and within a grid.
    func testSamplingIsSeeded() throws {
        for (seed, name) in [("1", "a"), ("1", "b"), ("2", "c")] {
            XCTAssertEqual(try vae("ema", ["sample", "-n", "16", "--seed", seed, "-o", "seed-\(name).png"]).status, 0)
        }
        let a = try GrayImage.read(path: Self.shared + "/seed-a.png"), b = try GrayImage.read(path: Self.shared + "/seed-b.png")
        let c = try GrayImage.read(path: Self.shared + "/seed-c.png")
        XCTAssertEqual(a.pixels, b.pixels)
        XCTAssertNotEqual(a.pixels, c.pixels)
        XCTAssertGreaterThan(meanSquaredDifference(tile(a, row: 0, column: 0), tile(a, row: 0, column: 1)), 0.0001)
    }

    func testRefusalsNameTheReason() throws {
        let refusals: [(String, [String], String)] = [
            ("ema", ["traverse", "-o", "refused.png"], "a VQ-VAE's latents are discrete codes"),
            ("ema", ["sample", "--manifold", "-o", "refused.png"], "a VQ-VAE's latents are discrete codes"),
            ("ema", ["score", "test:0-4", "--metric", "iw", "-o", "refused.csv"], "draws no z from q(z|x)"),
            ("ema", ["eval", "--iw-samples", "10"], "draws no z from q(z|x)"),
            ("vq", ["sample", "-o", "refused.png"], "it has no prior over its codes yet: train one with `vae train-prior`"),
            ("vq", ["augment", "--split", "test", "--limit", "5", "-o", "refused-aug"], "no prior over its codes yet"),
            ("vq", ["score", "test:0-4", "-o", "refused.csv"], "--metric nelbo: a VQ-VAE's bound"),
            ("ema", ["train", "--resume", "--epochs", "3", "--data", VAEBinary.data], "has a prior trained on its codes"),
            ("ema", ["train-prior", "--epochs", "3", "--prior-blocks", "2"], "--prior-blocks 2 differs from the checkpoint's prior's 1"),
            ("ema", ["train-prior", "--epochs", "3", "--dropout", "1"], "--dropout must be in [0, 1), got 1.0"),
            ("ema", ["train-prior", "--epochs", "3", "--prior-kernel", "8"], "--prior-kernel must be odd and in 3...31, got 8"),
            ("conditional", ["train-prior", "--epochs", "3", "--prior-kernel", "7"], "--prior-kernel 7 differs from the checkpoint's prior's 13"),
            ("ema", ["train-prior", "--epochs", "1", "--restart", "--prior-kernel", "15"],
             "--prior-kernel 15 is wider than needed: 13 already sees every earlier code of the 7x7 grid"),
        ]
        for (model, arguments, message) in refusals {
            let run = try vae(model, arguments)
            XCTAssertNotEqual(run.status, 0, arguments.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        }
        for name in ["refused.png", "refused.csv", "refused-aug"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/" + name), name)
        }
        let training: [([String], String)] = [
            (["--vq", "32", "--arch", "mlp"], "a VQ-VAE goes with --arch conv"),
            (["--vq", "32", "--latent", "8"], "not --latent, --hidden or --flow"),
            (["--vq", "32", "--beta", "2"], "--beta: a VQ-VAE has no KL term"),
            (["--vq", "1"], "--vq: the codebook has 2...4096 codes, not 1"),
            (["--vq", "8", "--vq-ema", "1"], "moving-average decay must be in (0, 1)"),
            (["--code-dim", "8"], "--code-dim, --commitment and --vq-ema go with --vq K"),
            (["--vq", "8", "--iw-samples", "5"], "draws no z from q(z|x)"),
        ]
        for (flags, message) in training {
            let run = try VAEBinary.run(["train", "--data", VAEBinary.data, "--model", "refused.safetensors"] + flags, in: Self.shared)
            XCTAssertNotEqual(run.status, 0, flags.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(flags): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.shared + "/refused.safetensors"))
    }

    /// Do samples look like digits? `vae judge read` has the shipped judge read
    /// 100 of the VQ-VAE's samples: a histogram of 100, shares in [0, 1].
    func testTheJudgeReadsSamples() throws {
        let run = try vae("ema", ["judge", "read", "-n", "100", "--json", "judged.json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/judged.json"))) as! [String: Any]
        XCTAssertEqual((doc["class_histogram"] as? [Int])?.reduce(0, +), 100)
        XCTAssert((0...1).contains(doc["confident_share"] as? Double ?? -1), "\(doc)")
        XCTAssertNotNil(doc["frechet_distance"] as? Double)
    }

    /// `train-prior` on a model without codes says so.
    func testTrainPriorNeedsAVQVAE() throws {
        let gaussian = try VAEBinary.run(["train", "--data", VAEBinary.data, "--model", "g.safetensors", "--epochs", "1",
                                          "--train-images", "500", "--test-images", "100"], in: Self.shared)
        XCTAssertEqual(gaussian.status, 0, gaussian.stderr)
        let run = try vae("g", ["train-prior", "--epochs", "1"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssert(run.stderr.contains("train-prior goes with a VQ-VAE (vae train --vq K)"), run.stderr)
    }

    /// The autoencoder (both codebooks) and the prior: one epoch then one
    /// more gives the same bytes as two straight.
    func testResumeIsBitExact() throws {
        for (name, flags) in Self.models.sorted(by: { $0.key < $1.key }) {
            let once = ["train", "--data", VAEBinary.data, "--model", "\(name)-resumed.safetensors", "--train-images", "2000",
                        "--test-images", "200", "--threads", "2", "--seed", "5"]
            XCTAssertEqual(try VAEBinary.run(once + ["--epochs", "1"] + flags, in: Self.shared).status, 0)
            let resumed = try VAEBinary.run(once + ["--epochs", "2", "--resume"], in: Self.shared)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            try assertSameTensors("\(name).safetensors", "\(name)-resumed.safetensors", ignoringPrior: true)
        }
        // The prior, on a copy of the trained autoencoder: one epoch, then a second.
        let ema = Self.shared + "/ema.safetensors"
        let straight = try SafeTensors.read(path: ema)
        let copy = "ema-prior.safetensors"
        try? FileManager.default.removeItem(atPath: Self.shared + "/" + copy)
        try SafeTensors.write(SafeTensorsFile(tensors: straight.tensors.filter { !$0.name.contains("prior.") },
                                              metadata: straight.metadata.filter { !$0.key.hasPrefix("prior_") }),
                              to: Self.shared + "/" + copy)
        var first = Self.prior + Self.polyak
        first[2] = "1"
        XCTAssertEqual(try vae("ema-prior", first).status, 0)
        // The schedule, the average and the shift come from the checkpoint.
        let second = try vae("ema-prior", Array(Self.prior.dropLast(2)))
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssert(second.stdout.contains("resuming after epoch 1"), second.stdout)
        try assertSameTensors("ema.safetensors", copy, ignoringPrior: false)
        // Without the decay the first epoch is the same, the second differs.
        XCTAssertEqual(try vae("ema-prior", first + ["--restart", "--lr-decay", "none", "--json", "constant1.json"]).status, 0)
        XCTAssertEqual(try vae("ema-prior", Self.prior.dropLast(2) + ["--json", "constant2.json"]).status, 0)
        let decayed = try XCTUnwrap(try json("prior.json")["prior_epochs"] as? [[String: Any]])
        // An averaged prior without the weights it was trained from cannot go on.
        let file = try SafeTensors.read(path: Self.shared + "/" + copy)
        try SafeTensors.write(SafeTensorsFile(tensors: file.tensors.filter { !$0.name.hasPrefix("iterate.") }, metadata: file.metadata),
                              to: Self.shared + "/" + copy)
        let refused = try vae("ema-prior", Array(Self.prior.dropLast(2)) + ["--epochs", "3"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertEqual(refused.stderr, "vae: \(copy): its prior is a Polyak average, but the weights it was trained from (iterate.*) are missing\n")
        let constant = try [json("constant1.json"), json("constant2.json")].map { try XCTUnwrap(($0["prior_epochs"] as? [[String: Any]])?.last) }
        XCTAssertEqual(decayed.map { $0["epoch"] as? Int }, [1, 2])
        XCTAssertEqual(constant.map { $0["epoch"] as? Int }, [1, 2])
        XCTAssertEqual(decayed[0]["test_ce_per_code"] as? Double, constant[0]["test_ce_per_code"] as? Double)
        XCTAssertNotEqual(decayed[1]["test_ce_per_code"] as? Double, constant[1]["test_ce_per_code"] as? Double)
    }

    func assertSameTensors(_ a: String, _ b: String, ignoringPrior: Bool) throws {
        let x = try SafeTensors.read(path: Self.shared + "/" + a), y = try SafeTensors.read(path: Self.shared + "/" + b)
        // The prior's training keeps its own tensors (prior.*, and iterate.* with Polyak averaging).
        let keep = { (name: String) in !ignoringPrior || !(name.contains("prior.") || name.hasPrefix("iterate.")) }
        let xs = x.tensors.filter { keep($0.name) }, ys = y.tensors.filter { keep($0.name) }
        XCTAssertEqual(xs.map(\.name), ys.map(\.name), b)
        for (s, t) in zip(xs, ys) { XCTAssert(s == t, "\(b): \(s.name) differs") }
    }
}
