import Foundation
import VAEData
import VAEModels

/// A run's figures per epoch (`vae train --json` writes them, rewritten
/// atomically after each epoch; `vae train --plot` draws them): the
/// configuration, then per epoch train_loss, train_<term> and test_nelbo,
/// test_<term> per image, train_seconds, samples_per_s; peak_rss_mib at the
/// end. A resumed run keeps the earlier epochs its JSON file holds.
public struct TrainingLog {
    let path: String?
    let configuration: [String: Any]
    /// Each finished epoch's figures, in order.
    public private(set) var epochs: [[String: Double]] = []

    init(path: String?, model: ModelConfiguration, settings: TrainingSettings, resumingAfter completedEpochs: Int?) {
        self.path = path
        var config: [String: Any] = [
            "family": model.family.rawValue, "arch": model.arch, "hidden": model.hidden, "latent": model.latent,
            "loss": model.likelihood.rawValue, "activation": model.activation.rawValue, "classes": model.classes,
            "beta": Double(settings.beta), "lr": Double(settings.learningRate), "batch_size": settings.batchSize,
            "seed": settings.seed, "iw_samples": settings.importanceSamples, "binarize": settings.data.binarized,
        ]
        if let corruption = settings.corruption { config["corrupt"] = corruption.spec }
        configuration = config
        if let path, let completedEpochs { epochs = Self.earlierEpochs(path: path, upTo: completedEpochs) }
    }

    /// The epochs 1...n of an earlier run's file, if it has every one of them (else none: a fresh log).
    static func earlierEpochs(path: String, upTo n: Int) -> [[String: Double]] {
        guard n > 0, let bytes = try? readFile(path, limit: 64 << 20),
              let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let entries = document["epochs"] as? [[String: Any]] else { return [] }
        let numbers = entries.map { $0.compactMapValues { ($0 as? NSNumber)?.doubleValue } }.filter { ($0["epoch"] ?? 0) <= Double(n) }
        return numbers.map { $0["epoch"] ?? 0 } == (1...n).map(Double.init) ? numbers : []
    }

    static let integerKeys: Set = ["epoch", "test_codes_in_use"]

    mutating func append(_ r: EpochReport) throws {
        var entry: [String: Double] = ["epoch": Double(r.epoch), "train_loss": r.trainLoss, "test_nelbo": r.test.boundPerSample,
                                       "train_seconds": r.trainSeconds, "samples_per_s": r.samplesPerSecond]
        for (name, value) in r.train.perSampleByName { entry["train_\(name)"] = value }
        for (name, value) in r.test.perSampleByName { entry["test_\(name)"] = value }
        if let usage = r.codebook {
            entry["test_perplexity"] = usage.perplexity
            entry["test_codes_in_use"] = Double(usage.codesInUse)
        }
        epochs.append(entry)
        try write(peakResidentMiB: peakResidentMemoryMiB())
    }

    func write(peakResidentMiB: Double) throws {
        guard let path else { return }
        // Counts stay integers in the file.
        let rows: [[String: Any]] = epochs.map { entry in
            entry.reduce(into: [String: Any]()) { row, item in
                row[item.key] = Self.integerKeys.contains(item.key) ? Int(item.value) : item.value
            }
        }
        let document: [String: Any] = ["config": configuration, "epochs": rows, "peak_rss_mib": peakResidentMiB]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(Array(data) + [10], to: path)
    }
}
