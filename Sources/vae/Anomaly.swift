import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEModels
import VAEPlots

struct Anomaly: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomaly",
        abstract: "Benchmark anomaly detection: held-out classes of the test set are the anomalies.",
        discussion: "The standard protocol: a model trained without some classes (vae train --exclude-digits 9, or --exclude-classes NAME for a folder data set) scores the whole test set; images of the classes it never saw are the anomalies. Reports AUROC and average precision, and for a target false-positive rate the threshold — calibrated on held-out normal training images (vae train --holdout N), never on the test set — with the test precision, recall and FPR it gives.")

    @Option(help: ArgumentHelp("The anomalous classes, by name or number (default: those the model was not trained on).", valueName: "c1,c2,..."))
    var anomalyClasses: CommaSeparated<String>?

    @Option(help: ArgumentHelp("The anomalous digits of an MNIST model (as --anomaly-classes).", valueName: "d1,d2,..."))
    var anomalyDigits: CommaSeparated<Int>?

    @OptionGroup var scoring: ScoringOptions

    @Option(help: "Target false-positive rate for the threshold.")
    var fpr = 0.05

    @Option(help: ArgumentHelp("Calibration images when the model has no held-out ones: the last n normal training images.", valueName: "n"))
    var calibrationImages = 5000

    @Option(help: ArgumentHelp("Write the figures as JSON.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Draw the ROC curve and the two score histograms: .png, .svg or .pdf.", valueName: "path"))
    var plot: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard fpr > 0, fpr < 1 else { throw ValidationError("--fpr must be in (0, 1), got \(fpr)") }
        guard calibrationImages >= 1 else { throw ValidationError("--calibration-images must be at least 1") }
        _ = try anomalyDigits?.checked("--anomaly-digits", in: 0...255, counts: 1...256, what: "digits")
        if anomalyDigits != nil && anomalyClasses != nil { throw ValidationError("use --anomaly-classes or --anomaly-digits, not both") }
        if let plot { try checkChartExtension(plot, flag: "--plot") }
    }

    /// The anomalous classes asked for (names or numbers), as numbers, or nil.
    func anomalies(_ loaded: Checkpoint.Loaded, classCount: Int) throws -> Set<Int>? {
        guard let listed = anomalyClasses?.values ?? anomalyDigits?.values.map(String.init) else { return nil }
        return Set(try listed.map { name in
            guard let index = loaded.trainingData.classIndex(name, count: classCount) else {
                throw CLIError("--anomaly-classes \(name): the data set has classes \(loaded.trainingData.classNames?.joined(separator: ", ") ?? "0-\(classCount - 1)")")
            }
            return index
        })
    }

    func run() throws {
        threadOptions.apply()
        if let json { try checkWritable(json, flag: "--json") }
        if let plot { try checkChartOutput(plot, flag: "--plot") }
        let loaded = try Checkpoint.load(path: modelOptions.model)
        let data = try dataOptions.load(for: loaded)
        let classCount = data.classNames?.count ?? Conditioning.classes(of: data.train) ?? 0
        let scorer = try scoring.scorer(for: loaded, seed: seedOptions.seed) { data.train }
        let benchmark = try AnomalyBenchmark(
            scorer: scorer, trainingData: loaded.trainingData, classCount: classCount, anomalies: try anomalies(loaded, classCount: classCount),
            falsePositiveRate: fpr, fallbackCalibrationCount: calibrationImages)
        let results = benchmark.runEveryMetric(test: data.test, train: data.train, trainingData: loaded.trainingData)
        let classes = benchmark.anomalies.sorted().map(loaded.trainingData.className).joined(separator: ",")
        let first = results[0].result

        print("anomalies: class(es) \(classes); \(first.anomalousCount) anomalous and \(first.normalCount) normal test images; "
              + "metric \(results.count == 1 ? results[0].metric.rawValue : "all")")
        if results.count == 1 {
            let r = first
            print(String(format: "AUROC %.4f   average precision %.4f", r.auroc, r.averagePrecision))
            print(String(format: "threshold %.3f for FPR %.3f, calibrated on %@", r.threshold, fpr, r.calibrationNote))
            print(String(format: "on the test set: FPR %.4f, recall (TPR) %.4f, precision %.4f", r.outcome.falsePositiveRate,
                         r.outcome.truePositiveRate, r.outcome.precision))
        } else {
            print(String(format: "thresholds for FPR %.3f, calibrated on %@", fpr, first.calibrationNote))
            print("metric       AUROC  avg prec   threshold  test FPR    recall  precision  mean score normal / anomalous")
            for (metric, r) in results {
                let name = metric.rawValue + String(repeating: " ", count: max(0, 10 - metric.rawValue.count))
                print(name + String(format: "  %.4f    %.4f  %10.3f    %.4f    %.4f     %.4f  %10.3f / %.3f", r.auroc, r.averagePrecision,
                             r.threshold, r.outcome.falsePositiveRate, r.outcome.truePositiveRate, r.outcome.precision,
                             r.meanScore(anomalous: false), r.meanScore(anomalous: true)))
            }
        }
        if let json {
            func figures(_ metric: AnomalyMetric, _ r: AnomalyBenchmark.Result) -> [String: Any] {
                var figures: [String: Any] = [
                    "metric": metric.rawValue, "auroc": r.auroc, "average_precision": r.averagePrecision, "threshold": r.threshold,
                    "test_fpr": r.outcome.falsePositiveRate, "test_tpr": r.outcome.truePositiveRate, "precision": r.outcome.precision,
                    "samples": scorer.draws(metric), "mean_score_normal": r.meanScore(anomalous: false),
                    "mean_score_anomalous": r.meanScore(anomalous: true)]
                if metric == .knn, let neighbours = scorer.neighbours { figures["neighbours"] = neighbours.k }
                return figures
            }
            let common: [String: Any] = [
                "fpr_target": fpr, "n_normal": first.normalCount, "n_anomalous": first.anomalousCount,
                "anomaly_digits": benchmark.anomalies.sorted(), "anomaly_classes": benchmark.anomalies.sorted().map(loaded.trainingData.className),
                "calibration_n": first.calibrationCount, "latent": loaded.model.latentSize,
            ]
            let doc = results.count == 1 ? figures(results[0].metric, first)
                : ["metric": "all", "metrics": results.map { figures($0.metric, $0.result) }]
            try writeJSON(common.merging(doc) { $1 }, to: json)
        }
        if let plot {
            // The histogram of the metric that separates best.
            let (best, r) = results.max { $0.result.auroc < $1.result.auroc }!
            try Figures.anomalyPlot(rocs: results.map { (results.count == 1 ? "ROC" : $0.metric.rawValue,
                                                         rocCurve(scores: $0.result.scores, anomalous: $0.result.anomalous), $0.result.auroc) },
                                    scores: r.scores, anomalous: r.anomalous, threshold: r.threshold,
                                    histogramRange: (percentile(r.scores, 0.1), percentile(r.scores, 99.9)),
                                    scoreName: best.axisName, anomalyName: "class " + classes).write(to: plot)
            print("plotted the ROC curve\(results.count == 1 ? "" : "s") and score histograms to \(plot)")
        }
    }
}

extension AnomalyMetric {
    /// The score's name on a histogram's axis.
    var axisName: String {
        switch self {
        case .nelbo: "−ELBO (nats)"
        case .recon: "reconstruction −log p(x|z) (nats)"
        case .iw: "−log p(x), importance-weighted (nats)"
        case .complexity: "−log p(x) − L(x), complexity-corrected (nats)"
        case .ratio: "−log p(x) + log p_bg(x), likelihood ratio (nats)"
        case .knn: "distance to the k-th nearest training image's features (unit length)"
        }
    }
}
