import Foundation
import VAEData
import VAEModels

/// A run's figures per epoch, rewritten (atomically) as JSON after each one
/// (`vae train --json`): the configuration, then per epoch train_loss,
/// train_<term> and test_nelbo, test_<term> per image, train_seconds,
/// samples_per_s; peak_rss_mib at the end.
struct TrainingLog {
    let path: String
    let configuration: [String: Any]
    var epochs: [[String: Any]] = []

    init(path: String, model: ModelConfiguration, settings: TrainingSettings) {
        self.path = path
        var config: [String: Any] = [
            "family": model.family.rawValue, "arch": model.arch, "hidden": model.hidden, "latent": model.latent,
            "loss": model.likelihood.rawValue, "activation": model.activation.rawValue, "classes": model.classes,
            "beta": Double(settings.beta), "lr": Double(settings.learningRate), "batch_size": settings.batchSize,
            "seed": settings.seed, "iw_samples": settings.importanceSamples, "binarize": settings.data.binarized,
        ]
        if let corruption = settings.corruption { config["corrupt"] = corruption.spec }
        configuration = config
    }

    mutating func append(_ r: EpochReport) throws {
        var entry: [String: Any] = ["epoch": r.epoch, "train_loss": r.trainLoss, "test_nelbo": r.test.boundPerSample,
                                    "train_seconds": r.trainSeconds, "samples_per_s": r.samplesPerSecond]
        for (name, value) in r.train.perSampleByName { entry["train_\(name)"] = value }
        for (name, value) in r.test.perSampleByName { entry["test_\(name)"] = value }
        if let usage = r.codebook {
            entry["test_perplexity"] = usage.perplexity
            entry["test_codes_in_use"] = usage.codesInUse
        }
        epochs.append(entry)
        try write(peakResidentMiB: peakResidentMemoryMiB())
    }

    func write(peakResidentMiB: Double) throws {
        let document: [String: Any] = ["config": configuration, "epochs": epochs, "peak_rss_mib": peakResidentMiB]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(Array(data) + [10], to: path)
    }
}
