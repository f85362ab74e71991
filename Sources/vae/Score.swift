import ArgumentParser
import Foundation
import VAEData
import VAEInference

/// `--metric`, `--samples`, `--background` and `--neighbours`, shared by `score` and `anomaly`.
struct ScoringOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Anomaly score: nelbo (−ELBO in nats), recon (reconstruction term at z = μ), iw (importance-weighted −log p(x)), complexity (−log p(x) less the image's compressed length in nats, Serrà et al. 2020: a two-colour PNG for a Bernoulli model, 8-bit levels for --loss mse), ratio (−log p(x) less the background model's, Ren et al. 2019; needs --background), knn (the distance from the encoder's features of the image, its last hidden layer, to the k-th nearest features of the images the model trained on, all scaled to unit length, Sun et al. 2022), or all (vae anomaly: every one, ratio with --background).",
                               valueName: "metric"))
    var metric: MetricChoice = .one(.nelbo)

    @Option(help: "Draws of z per image: averaged for --metric nelbo, the K of the importance-weighted −log p(x) of iw, complexity and ratio (default: 1 for nelbo, 100 for the others).")
    var samples: Int?

    @Option(help: ArgumentHelp("For --metric ratio: a model of the same architecture trained on perturbed images (vae train --perturb 0.2).", valueName: "path"))
    var background: String?

    @Option(help: ArgumentHelp("For --metric knn: which nearest training image's distance is the score.", valueName: "k"))
    var neighbours = FeatureNeighbours.defaultCount

    /// `--metric`: one metric, or every one.
    enum MetricChoice: ExpressibleByArgument, Equatable {
        case one(AnomalyMetric)
        case all

        init?(argument: String) {
            if argument == "all" { self = .all } else if let metric = AnomalyMetric(rawValue: argument) { self = .one(metric) } else { return nil }
        }

        static var allValueStrings: [String] { AnomalyMetric.allCases.map(\.rawValue) + ["all"] }

        var defaultValueDescription: String {
            switch self {
            case .one(let metric): metric.rawValue
            case .all: "all"
            }
        }
    }

    func validate() throws {
        if let samples, !(1...10_000).contains(samples) {
            throw ValidationError("--samples must be in 1...10000, got \(samples)")
        }
        if metric == .one(.ratio) && background == nil {
            throw ValidationError("--metric ratio needs --background MODEL (the same architecture trained with vae train --perturb 0.2)")
        }
        if background != nil && metric != .one(.ratio) && metric != .all {
            throw ValidationError("--background goes with --metric ratio or all")
        }
        guard (1...100_000).contains(neighbours) else { throw ValidationError("--neighbours must be in 1...100000, got \(neighbours)") }
    }

    /// The metrics asked for: one, or every one (ratio only with a background model).
    var metrics: [AnomalyMetric] {
        switch metric {
        case .one(let metric): return [metric]
        case .all: return AnomalyMetric.allCases.filter { background != nil || !$0.needsBackground }
        }
    }

    /// A scorer for `loaded`'s model, with the background model loaded when
    /// one is given, and for knn the encoder features of the images it trained on
    /// (of `trainingSplit`, the data set's training images, as its checkpoint records).
    func scorer(for loaded: Checkpoint.Loaded, seed: UInt64, trainingSplit: () throws -> ImageSet) throws -> AnomalyScorer {
        let backgroundModel = try background.map { try Checkpoint.load(path: $0).model }
        var metrics = self.metrics
        if metric == .all { metrics.removeAll { $0 == .iw && loaded.model.noisePerDraw == 0 } }
        let neighbours = try metrics.contains(where: \.needsNeighbours)
            ? FeatureNeighbours(model: loaded.model, reference: loaded.trainingData.split(try trainingSplit()).fit, k: self.neighbours) : nil
        return try AnomalyScorer(model: loaded.model, metrics: metrics, samples: samples, seed: seed, background: backgroundModel,
                                 neighbours: neighbours)
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Anomaly scores for images (higher = more anomalous), with a threshold.",
        discussion: "The threshold is --threshold T, or the --percentile P (default 99) of the scores of a reference set of normal images given by --calibrate: train (the images the model was trained on, as its checkpoint records: the training split less any excluded digits and held-out images), heldout (the held-out ones), test, an MNIST reference like test:0-999, a folder of PNG/PGM images, or one image file. Images scoring above it are marked anomalous. For --metric knn calibrate on heldout images: each training image finds itself among its neighbours.")

    @OptionGroup var inputs: ManyImageInputs
    @OptionGroup var scoring: ScoringOptions

    @Option(help: ArgumentHelp("A fixed threshold.", valueName: "T"))
    var threshold: Double?

    @Option(help: ArgumentHelp("Normal images to calibrate the threshold on.", valueName: "spec"))
    var calibrate: String?

    @Option(help: ArgumentHelp("The percentile of the calibration scores used as threshold.", valueName: "P"))
    var percentile: Double = 99

    @Option(name: .short, help: ArgumentHelp("Write source,label,score,anomalous rows to this CSV instead of a table on stdout.", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Write the threshold and how it was chosen as JSON.", valueName: "path"))
    var json: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if threshold != nil && calibrate != nil { throw ValidationError("use --threshold or --calibrate, not both") }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number") }
        guard (0...100).contains(percentile) else { throw ValidationError("--percentile must be in 0...100, got \(percentile)") }
    }

    func run() throws {
        threadOptions.apply()
        if let output { try checkWritable(output, flag: "-o") }
        if let json { try checkWritable(json, flag: "--json") }
        let loaded = try Checkpoint.load(path: modelOptions.model)
        if scoring.metric == .all { throw CLIError("--metric all goes with vae anomaly; vae score writes one score per image: choose one metric") }
        // The images first: a bad path or file is reported before knn encodes every training image.
        let images = try inputs.load(for: loaded)
        let reader = inputs.imageOptions.reader(for: loaded)
        let scorer = try scoring.scorer(for: loaded, seed: seedOptions.seed) { try reader.split(.train) }
        let scores = scorer.scores(images.map(\.pixels),
                                   conditions: try inputs.imageOptions.conditions(for: images, loaded: loaded, modelPath: modelOptions.model))
        var chosen: Threshold?
        if let threshold { chosen = Threshold(value: threshold, method: "given") }
        if let calibrate {
            let reference = try reader.calibrationImages(calibrate, trainingData: loaded.trainingData)
            try loaded.model.checkInput(reference)
            chosen = try scorer.threshold(normal: reference, percentile: percentile, describedAs: calibrate)
        }
        let flags = scores.map { s in chosen.map { s > $0.value } }

        var csv = "source,label,score,anomalous\n"
        for (image, (s, flag)) in zip(images, zip(scores, flags)) {
            csv += "\(image.source),\(image.label.map(String.init) ?? ""),\(s),\(flag.map { $0 ? "1" : "0" } ?? "")\n"
        }
        if let output {
            try AtomicFile.write(Array(csv.utf8), to: output)
            print("scored \(images.count) images (\(scorer.metric.rawValue)) into \(output)")
        } else {
            let width = max(6, images.map(\.source.count).max() ?? 0)
            func pad(_ text: String, _ n: Int) -> String { text + String(repeating: " ", count: max(0, n - text.count)) }
            print(pad("source", width) + "  label       score  anomalous")
            for (image, (s, flag)) in zip(images, zip(scores, flags)) {
                print(pad(image.source, width) + "  " + pad(image.label.map(String.init) ?? "", 5)
                      + String(format: " %11.3f  ", s) + (flag.map { $0 ? "yes" : "no" } ?? ""))
            }
        }
        let flagged = flags.compactMap { $0 }.filter { $0 }.count
        if let chosen {
            print(String(format: "threshold %.3f (%@): %d of %d images anomalous", chosen.value, chosen.method, flagged, images.count))
        }
        if let json {
            var doc: [String: Any] = ["metric": scorer.metric.rawValue, "n": images.count, "samples": scorer.draws(scorer.metric)]
            if let chosen {
                doc["threshold"] = chosen.value
                doc["threshold_method"] = chosen.method
                doc["n_anomalous"] = flagged
                if let p = chosen.percentile { doc["percentile"] = p; doc["calibration_n"] = chosen.calibrationCount }
            }
            try writeJSON(doc, to: json)
        }
    }
}
