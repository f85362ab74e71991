import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEPlots

struct Anomaly: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark anomaly detection: held-out digits of the test set are the anomalies.",
        discussion: "The standard protocol: a model trained without some digits (vae train --exclude-digits 9) scores the whole test set; images of the digits it never saw are the anomalies. Reports AUROC and average precision, and for a target false-positive rate the threshold — calibrated on held-out normal training images (vae train --holdout N), never on the test set — with the test precision, recall and FPR it gives.")

    @Option(help: ArgumentHelp("The anomalous digits (default: those the model was not trained on).", valueName: "d1,d2,..."))
    var anomalyDigits: CommaSeparated<Int>?

    @OptionGroup var scoring: ScoringOptions

    @Option(help: "Target false-positive rate for the threshold.")
    var fpr = 0.05

    @Option(help: ArgumentHelp("Calibration images when the model has no held-out ones: the last n normal training images.", valueName: "n"))
    var calibrationImages = 5000

    @Option(help: ArgumentHelp("Write the figures as JSON.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Draw the ROC curve and the two score histograms (.png).", valueName: "path"))
    var plot: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard fpr > 0, fpr < 1 else { throw ValidationError("--fpr must be in (0, 1), got \(fpr)") }
        guard calibrationImages >= 1 else { throw ValidationError("--calibration-images must be at least 1") }
        _ = try anomalyDigits?.checked("--anomaly-digits", in: 0...9, counts: 1...10, what: "digits")
        if let plot { try checkImageExtension(plot, flag: "--plot") }
    }

    func run() throws {
        threadOptions.apply()
        if let json { try checkWritable(json, flag: "--json") }
        if let plot { try checkWritable(plot, flag: "--plot") }
        let loaded = try Checkpoint.load(path: modelOptions.model)
        let benchmark = try AnomalyBenchmark(
            scorer: try AnomalyScorer(model: loaded.model, metric: scoring.metric, samples: scoring.draws, seed: seedOptions.seed),
            trainingData: loaded.trainingData, anomalies: try anomalyDigits.map { Set(try $0.checked("--anomaly-digits", in: 0...9)) },
            falsePositiveRate: fpr, fallbackCalibrationCount: calibrationImages)
        let directory = try dataOptions.locate()
        let test = try MNIST.load(directory: directory, split: .test), train = try MNIST.load(directory: directory, split: .train)
        try loaded.model.checkInput(test, source: "the test split")
        let r = benchmark.run(test: test, train: train, trainingData: loaded.trainingData)
        let digits = benchmark.anomalies.sorted().map(String.init).joined(separator: ",")

        print("anomalies: digit(s) \(digits); \(r.anomalousCount) anomalous and \(r.normalCount) normal test images; metric \(scoring.metric.rawValue)")
        print(String(format: "AUROC %.4f   average precision %.4f", r.auroc, r.averagePrecision))
        print(String(format: "threshold %.3f for FPR %.3f, calibrated on %@", r.threshold, fpr, r.calibrationNote))
        print(String(format: "on the test set: FPR %.4f, recall (TPR) %.4f, precision %.4f", r.outcome.falsePositiveRate,
                     r.outcome.truePositiveRate, r.outcome.precision))
        if let json {
            try writeJSON([
                "auroc": r.auroc, "average_precision": r.averagePrecision, "threshold": r.threshold, "fpr_target": fpr,
                "test_fpr": r.outcome.falsePositiveRate, "test_tpr": r.outcome.truePositiveRate, "precision": r.outcome.precision,
                "n_normal": r.normalCount, "n_anomalous": r.anomalousCount, "metric": scoring.metric.rawValue,
                "anomaly_digits": benchmark.anomalies.sorted(), "calibration_n": r.calibrationCount, "samples": scoring.draws,
            ], to: json)
        }
        if let plot {
            let scoreName = ["nelbo": "-ELBO (NATS)", "recon": "RECONSTRUCTION (NATS)", "iw": "-LOG P(X) (NATS)"][scoring.metric.rawValue]!
            try Figures.anomalyPlot(roc: rocCurve(scores: r.scores, anomalous: r.anomalous), auroc: r.auroc, scores: r.scores,
                                    anomalous: r.anomalous, threshold: r.threshold,
                                    histogramRange: (percentile(r.scores, 0.1), percentile(r.scores, 99.9)),
                                    scoreName: scoreName, anomalyName: "DIGIT " + digits).write(path: plot)
            print("plotted the ROC curve and score histograms to \(plot)")
        }
    }
}
