import Foundation
import VAEData

/// One training run's figures per epoch, as `vae train --json` writes them:
/// train_loss, test_nelbo, and train_<term>/test_<term> for each part of the
/// objective (recon, kl, …).
public struct RunHistory {
    public let name: String
    public let epochs: [[String: Double]]

    public init(name: String, epochs: [[String: Double]]) {
        self.name = name
        self.epochs = epochs
    }

    /// Reads a `train --json` file; the run is named after the file.
    public init(path: String) throws {
        let bytes = try readFile(path, limit: 64 << 20)
        guard let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw FileError(path, "not a JSON object (expected the file vae train --json writes)")
        }
        guard let epochs = document["epochs"] as? [[String: Any]] else {
            throw FileError(path, "has no \"epochs\" list (expected the file vae train --json writes)")
        }
        guard !epochs.isEmpty else { throw FileError(path, "holds no finished epoch yet") }
        let numbers = epochs.map { entry in entry.compactMapValues { ($0 as? NSNumber).map(\.doubleValue) } }
        guard numbers.allSatisfy({ $0["epoch"] != nil && $0["train_loss"] != nil }) else {
            throw FileError(path, "an epoch lacks \"epoch\" or \"train_loss\" (expected the file vae train --json writes)")
        }
        self.init(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, epochs: numbers)
    }

    /// The parts of the objective recorded for train or test, first the
    /// reconstruction and KL terms, then the rest by name.
    var terms: [String] {
        let skipped: Set = ["loss", "seconds", "nelbo"]
        let names = Set(epochs.flatMap { $0.keys }.compactMap { key -> String? in
            for prefix in ["train_", "test_"] where key.hasPrefix(prefix) { return String(key.dropFirst(prefix.count)) }
            return nil
        }).subtracting(skipped)
        let first = ["recon", "kl"].filter(names.contains)
        return first + names.subtracting(first).sorted()
    }

    func series(_ key: String) -> [(x: Double, y: Double)] {
        epochs.compactMap { e in e[key].map { (e["epoch"]!, $0) } }
    }
}

extension Figures {
    /// Training and test figures per epoch of one or more runs: the loss and
    /// the test −ELBO, then one chart per part of the objective; a colour per
    /// run, training solid, test dashed.
    public static func trainingCurves(_ runs: [RunHistory]) -> Figure {
        func chart(title: String, yLabel: String, train: String, test: String) -> Chart {
            var series: [Chart.Series] = []
            for (index, run) in runs.enumerated() {
                let colour = Chart.palette[index % Chart.palette.count]
                let prefix = runs.count == 1 ? "" : run.name + ", "
                let (trainPoints, testPoints) = (run.series(train), run.series(test))
                if !trainPoints.isEmpty { series.append(.line(trainPoints, colour, name: prefix + "train")) }
                if !testPoints.isEmpty { series.append(.line(testPoints, colour, name: prefix + "test", dashed: true)) }
            }
            var chart = Chart(title: title, xLabel: "epoch", yLabel: yLabel, series: series)
            chart.wholeXTicks = true
            chart.width = 560
            chart.height = 400
            return chart
        }
        let terms = runs.flatMap(\.terms).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let charts = [chart(title: "Loss (training) and −ELBO (test)", yLabel: "nats per image", train: "train_loss", test: "test_nelbo")]
            + terms.map { term in
                let (title, unit) = termTitles[term] ?? (term.replacingOccurrences(of: "_", with: " "), "per image")
                return chart(title: title, yLabel: unit, train: "train_" + term, test: "test_" + term)
            }
        return Figure(charts: charts, columns: 2)
    }

    private static let termTitles: [String: (String, String)] = [
        "recon": ("Reconstruction −log p(x|z)", "nats per image"),
        "kl": ("KL(q(z|x) ‖ p(z))", "nats per image"),
        "iw_bound": ("Importance-weighted bound", "nats per image"),
        "perplexity": ("Codebook perplexity", "codes"),
        "codes_in_use": ("Codes in use", "codes"),
    ]
}
