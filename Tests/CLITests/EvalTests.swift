import Foundation
import VAEData
import XCTest

/// `vae eval` and the training options the literature needs, end to end.
final class EvalTests: FolderTestCase {

    func testIWAETrainingAndEvaluation() throws {
        let train = try VAEBinary.run(["train", "--data", VAEBinary.data, "--hidden", "64,64", "--latent", "5", "--activation", "tanh",
                                       "--binarize", "dynamic", "--iw-samples", "5", "--warmup-epochs", "1", "--lr-decay", "iwae", "--adam-epsilon", "1e-4",
                                       "--epochs", "2", "--train-images", "2000", "--test-images", "200", "--threads", "2",
                                       "--model", "iwae.safetensors"], in: folder)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssert(train.stdout.contains("tanh"), train.stdout)
        XCTAssert(train.stdout.contains("IWAE K=5"), train.stdout)
        XCTAssert(train.stdout.contains("dynamically binarised"), train.stdout)
        let metadata = try SafeTensors.read(path: folder + "/iwae.safetensors").metadata
        XCTAssertEqual(metadata["activation"], "tanh")
        XCTAssertEqual(metadata["binarize"], "dynamic")
        XCTAssertEqual(metadata["iw_samples"], "5")
        XCTAssertEqual(metadata["lr_decay"], "iwae")
        XCTAssertEqual(Float(metadata["adam_epsilon"] ?? ""), 1e-4)
        XCTAssert(train.stdout.contains("Adam ε 0.0001"), train.stdout)

        let eval = try VAEBinary.run(["eval", "--data", VAEBinary.data, "--limit", "100", "--iw-samples", "50",
                                      "--model", "iwae.safetensors", "--json", "e.json"], in: folder)
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssert(eval.stdout.contains("binarised"), eval.stdout)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/e.json"))) as! [String: Any]
        for key in ["nelbo", "recon", "kl", "iw_nll"] { XCTAssertNotNil(doc[key] as? Double, key) }
        XCTAssertEqual(doc["iw_samples"] as? Int, 50)
        XCTAssertEqual(doc["n"] as? Int, 100)
        let active = try XCTUnwrap(doc["active_units"] as? Int)
        XCTAssert((0...5).contains(active))
        XCTAssertEqual((doc["kl_per_dimension"] as? [Double])?.count, 5)
        XCTAssertLessThan(doc["iw_nll"] as! Double, doc["nelbo"] as! Double)

        let refused = try VAEBinary.run(["train", "--data", VAEBinary.data, "--loss", "mse", "--iw-samples", "5",
                                         "--model", "x.safetensors"], in: folder)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssert(refused.stderr.contains("--iw-samples needs the Bernoulli likelihood"), refused.stderr)
    }
}
