import Foundation
import VAEData
import XCTest

/// `vae score` and `vae anomaly` end to end, on a model trained without the digit 1.
final class AnomalyTests: XCTestCase {
    static let shared = NSTemporaryDirectory() + "vae-anomaly-\(UUID().uuidString)"
    static var trained: VAERun?

    override class func setUp() {
        try? FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        trained = try? VAEBinary.run(["train", "--data", VAEBinary.data, "--exclude-digits", "1", "--holdout", "500",
                                      "--epochs", "2", "--train-images", "8000", "--test-images", "500", "--hidden", "128",
                                      "--latent", "8", "--lr", "0.002", "--threads", "2", "--model", "no1.safetensors"], in: shared)
        // Its background model for the likelihood ratio: the same, on perturbed images.
        _ = try? VAEBinary.run(["train", "--data", VAEBinary.data, "--exclude-digits", "1", "--holdout", "500", "--perturb", "0.2",
                                "--epochs", "1", "--train-images", "4000", "--test-images", "100", "--hidden", "128",
                                "--latent", "8", "--threads", "2", "--model", "bg.safetensors"], in: shared)
    }

    override class func tearDown() { try? FileManager.default.removeItem(atPath: shared) }

    func vae(_ arguments: String...) throws -> VAERun {
        let run = try XCTUnwrap(Self.trained)
        XCTAssertEqual(run.status, 0, run.stderr)
        return try VAEBinary.run(arguments + ["--model", "no1.safetensors", "--data", VAEBinary.data], in: Self.shared)
    }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.shared + "/" + name))) as! [String: Any]
    }

    func testAnomalyBenchmarkUsesTheRightSets() throws {
        let run = try vae("anomaly", "--json", "a.json", "--plot", "roc.png", "--metric", "recon")
        XCTAssertEqual(run.status, 0, run.stderr)
        let doc = try json("a.json")
        // The model's checkpoint says it never saw 1s: they are the anomalies of the whole test set.
        XCTAssertEqual(doc["n_anomalous"] as? Int, 1135)
        XCTAssertEqual(doc["n_normal"] as? Int, 8865)
        XCTAssertEqual(doc["metric"] as? String, "recon")
        XCTAssertEqual(doc["fpr_target"] as? Double, 0.05)
        for key in ["auroc", "average_precision", "threshold", "test_fpr", "test_tpr", "precision"] {
            XCTAssertNotNil(doc[key] as? Double, key)
        }
        // 1s are the simplest digit, so a VAE finds them *likely*: AUROC well under ½ (cf. Tonnaer, table 3.3).
        XCTAssertLessThan(doc["auroc"] as! Double, 0.5)
        XCTAssertEqual(doc["calibration_n"] as? Int, 500 - 0)   // the held-out tail, all normal
        XCTAssertEqual(doc["test_fpr"] as! Double, 0.05, accuracy: 0.03, "calibrated on held-out normals, the FPR carries over")
        XCTAssert(run.stdout.contains("calibrated on 500 held-out normal training images"), run.stdout)
        let plot = try Picture.read(path: Self.shared + "/roc.png")
        XCTAssertEqual(plot.width, 520 + 640, "the ROC chart beside the histograms")
        XCTAssertEqual(plot.channels, 3)

        // Naming the anomalies explicitly changes the sets accordingly.
        let two = try vae("anomaly", "--anomaly-digits", "1,7", "--json", "b.json")
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertEqual(try json("b.json")["n_anomalous"] as? Int, 1135 + 1028)
    }

    func testScoreTableCSVAndThresholds() throws {
        let table = try vae("score", "test:0-3")
        XCTAssertEqual(table.status, 0, table.stderr)
        let rows = table.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 5)
        XCTAssert(rows[1].hasPrefix("test:0"))

        let csv = try vae("score", "--split", "test", "--limit", "200", "--calibrate", "heldout", "--percentile", "90",
                          "-o", "s.csv", "--json", "s.json")
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let lines = try String(contentsOfFile: Self.shared + "/s.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines[0], "source,label,score,anomalous")
        XCTAssertEqual(lines.count, 201)
        let doc = try json("s.json")
        let threshold = try XCTUnwrap(doc["threshold"] as? Double)
        XCTAssertEqual(doc["calibration_n"] as? Int, 500)
        XCTAssert((doc["threshold_method"] as? String)?.contains("percentile 90") == true)
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(f[3] == "1", Double(f[2])! > threshold, String(line))
        }
        // Deterministic: the same seed gives the same scores.
        let again = try vae("score", "--split", "test", "--limit", "200", "--calibrate", "heldout", "--percentile", "90",
                            "-o", "s2.csv")
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(try String(contentsOfFile: Self.shared + "/s2.csv", encoding: .utf8),
                       try String(contentsOfFile: Self.shared + "/s.csv", encoding: .utf8))

        let fixed = try vae("score", "test:0-9", "--threshold=-1")
        XCTAssert(fixed.stdout.contains("10 of 10 images anomalous"), fixed.stdout)
        let both = try vae("score", "test:0", "--threshold", "1", "--calibrate", "train")
        XCTAssertNotEqual(both.status, 0)
        XCTAssert(both.stderr.contains("use --threshold or --calibrate, not both"))
    }

    /// --metric all: every metric in one run, each as it is alone; the
    /// complexity correction turns the 1s from the likeliest digit to the oddest.
    func testEveryMetricAtOnceAgreesWithEachAlone() throws {
        let all = try vae("anomaly", "--metric", "all", "--background", "bg.safetensors", "--samples", "20", "--json", "all.json",
                          "--plot", "all.svg")
        XCTAssertEqual(all.status, 0, all.stderr)
        let figures = try XCTUnwrap(try json("all.json")["metrics"] as? [[String: Any]])
        XCTAssertEqual(figures.compactMap { $0["metric"] as? String }, ["nelbo", "recon", "iw", "complexity", "ratio", "knn"])
        for metric in ["complexity", "ratio", "knn"] {
            let run = try VAEBinary.run(["anomaly", "--metric", metric, "--samples", "20", "--json", "\(metric).json", "--model", "no1.safetensors",
                                         "--data", VAEBinary.data] + (metric == "ratio" ? ["--background", "bg.safetensors"] : []), in: Self.shared)
            XCTAssertEqual(run.status, 0, run.stderr)
            let alone = try json("\(metric).json")
            let together = try XCTUnwrap(figures.first { $0["metric"] as? String == metric })
            for key in ["auroc", "average_precision", "threshold", "mean_score_normal", "mean_score_anomalous"] {
                XCTAssertEqual(together[key] as? Double, alone[key] as? Double, "\(metric) \(key)")
            }
        }
        let auroc = { (metric: String) in figures.first { $0["metric"] as? String == metric }?["auroc"] as? Double ?? .nan }
        XCTAssertLessThan(auroc("iw"), 0.5, "1s are likely under a model that never saw one")
        XCTAssertGreaterThan(auroc("complexity"), 0.8, "but simple, so the corrected score finds them")
        XCTAssertGreaterThan(auroc("knn"), 0.6, "and the encoder puts them where no training digit is")
        XCTAssertEqual(figures.first { $0["metric"] as? String == "knn" }?["neighbours"] as? Int, 5)
        // Without a background model, all means every metric but the ratio; score takes one metric.
        XCTAssertEqual(try vae("anomaly", "--metric", "all", "--samples", "5", "--json", "no-ratio.json").status, 0)
        XCTAssertEqual((try json("no-ratio.json")["metrics"] as? [[String: Any]])?.count, 5)
        let ratio = try vae("anomaly", "--metric", "ratio")
        XCTAssertNotEqual(ratio.status, 0)
        XCTAssertTrue(ratio.stderr.contains("--background"), ratio.stderr)
        // knn from the command line: the score is the distance to the k-th
        // nearest training image's features, and k must be one the set can give.
        let knn = try vae("score", "test:0-4", "--metric", "knn", "--neighbours", "1", "-o", "knn.csv")
        XCTAssertEqual(knn.status, 0, knn.stderr)
        let distances = try String(contentsOfFile: Self.shared + "/knn.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { Double($0.split(separator: ",")[2])! }
        XCTAssertEqual(distances.count, 5)
        XCTAssertTrue(distances.allSatisfy { (0...2).contains($0) }, "\(distances)")
        let tooMany = try vae("score", "test:0", "--metric", "knn", "--neighbours", "99999")
        XCTAssertEqual(tooMany.status, 1)
        XCTAssertTrue(tooMany.stderr.contains("needs at least 99999"), tooMany.stderr)
        XCTAssertEqual(tooMany.stderr.split(separator: "\n").count, 1, tooMany.stderr)
        let score = try vae("score", "test:0", "--metric", "all")
        XCTAssertEqual(score.status, 1)
        XCTAssertTrue(score.stderr.contains("--metric all goes with vae anomaly"), score.stderr)
    }

    func testImportanceWeightedScoresAreTighter() throws {
        func meanScore(_ metric: String) throws -> Double {
            let run = try vae("score", "test:0-19", "--metric", metric, "--samples", "20", "-o", "\(metric).csv")
            XCTAssertEqual(run.status, 0, run.stderr)
            let rows = try String(contentsOfFile: Self.shared + "/\(metric).csv", encoding: .utf8).split(separator: "\n").dropFirst()
            let scores = rows.map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[2])! }
            XCTAssertEqual(scores.count, 20)
            return scores.reduce(0, +) / 20
        }
        let nelbo = try meanScore("nelbo"), iw = try meanScore("iw")
        XCTAssertLessThan(iw, nelbo, "−L_20 ≤ −ELBO on average")
        XCTAssertGreaterThan(iw, nelbo - 20, "but not absurdly so")
    }
}
