import ArgumentParser
import Foundation
import VAEData
import VAETraining

struct Anomaly: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark anomaly detection: held-out digits of the test set are the anomalies.",
        discussion: "The standard protocol: a model trained without some digits (vae train --exclude-digits 9) scores the whole test set; images of the digits it never saw are the anomalies. Reports AUROC and average precision, and for a target false-positive rate the threshold — calibrated on held-out normal training images (vae train --holdout N), never on the test set — with the test precision, recall and FPR it gives.")

    @Option(help: ArgumentHelp("The anomalous digits (default: those the model was not trained on).", valueName: "d1,d2,..."))
    var anomalyDigits: String?

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
        if let anomalyDigits { _ = try parseDigits(anomalyDigits) }
        if let plot { try checkImageExtension(plot, flag: "--plot") }
    }

    func parseDigits(_ text: String) throws -> Set<Int> {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { (0...9).contains($0) } == true }) else {
            throw ValidationError("--anomaly-digits must be comma-separated digits 0-9, got '\(text)'")
        }
        return Set(values.compactMap { $0 })
    }

    func run() throws {
        threadOptions.apply()
        if let json { try checkWritable(json, flag: "--json") }
        if let plot { try checkWritable(plot, flag: "--plot") }
        let loaded = try Checkpoint.load(path: modelOptions.model, optimizer: false)
        let trained = Set(loaded.info.data.digits ?? Array(0...9))
        let anomalies = try anomalyDigits.map(parseDigits) ?? Set(0...9).subtracting(trained)
        guard !anomalies.isEmpty else {
            throw CLIError("\(modelOptions.model) was trained on every digit: name the anomalies with --anomaly-digits, or train with --exclude-digits")
        }
        guard anomalies.count < 10 else { throw CLIError("--anomaly-digits leaves no normal digit") }
        let directory = try dataOptions.locate()
        let test = try MNIST.load(directory: directory, split: .test)
        let labels = test.labels!.map(Int.init)
        let score = { (set: ImageSet) in
            anomalyScores(model: loaded.model, images: ImageInputs.pixels(of: set),
                          conditions: loaded.model.conditions(of: set), metric: scoring.metric,
                          samples: scoring.draws, seed: seedOptions.seed)
        }
        let scores = score(test)
        let anomalous = labels.map { anomalies.contains($0) }

        // Calibration: normal training images the model did not train on, if it kept some back.
        let normal = DataSelection(digits: Set(0...9).subtracting(anomalies).sorted(), holdout: 0)
        let train = try MNIST.load(directory: directory, split: .train)
        let calibration: ImageSet
        let calibrationNote: String
        if let heldOut = loaded.info.data.split(train).heldOut {
            calibration = normal.keep(heldOut)
            calibrationNote = "\(calibration.count) held-out normal training images"
        } else {
            let kept = normal.keep(train)
            calibration = kept.subset(max(0, kept.count - calibrationImages)..<kept.count)
            calibrationNote = "the last \(calibration.count) normal training images (the model trained on them: train with --holdout N to keep some back)"
        }
        let threshold = percentile(score(calibration), 100 * (1 - fpr))
        let outcome = ThresholdOutcome(scores: scores, anomalous: anomalous, threshold: threshold)
        let auroc = areaUnderROC(scores: scores, anomalous: anomalous)
        let ap = averagePrecision(scores: scores, anomalous: anomalous)
        let nAnomalous = anomalous.filter { $0 }.count
        let digits = anomalies.sorted().map(String.init).joined(separator: ",")

        print("anomalies: digit(s) \(digits); \(nAnomalous) anomalous and \(scores.count - nAnomalous) normal test images; metric \(scoring.metric.rawValue)")
        print(String(format: "AUROC %.4f   average precision %.4f", auroc, ap))
        print(String(format: "threshold %.3f for FPR %.3f, calibrated on %@", threshold, fpr, calibrationNote))
        print(String(format: "on the test set: FPR %.4f, recall (TPR) %.4f, precision %.4f", outcome.falsePositiveRate,
                     outcome.truePositiveRate, outcome.precision))
        if let json {
            try writeJSON([
                "auroc": auroc, "average_precision": ap, "threshold": threshold, "fpr_target": fpr,
                "test_fpr": outcome.falsePositiveRate, "test_tpr": outcome.truePositiveRate, "precision": outcome.precision,
                "n_normal": scores.count - nAnomalous, "n_anomalous": nAnomalous, "metric": scoring.metric.rawValue,
                "anomaly_digits": anomalies.sorted(), "calibration_n": calibration.count, "samples": scoring.draws,
            ], to: json)
        }
        if let plot {
            try drawPlot(scores: scores, anomalous: anomalous, threshold: threshold, auroc: auroc, digits: digits).write(path: plot)
            print("plotted the ROC curve and score histograms to \(plot)")
        }
    }

    func drawPlot(scores: [Double], anomalous: [Bool], threshold: Double, auroc: Double, digits: String) -> RGBImage {
        var roc = Chart(title: String(format: "ROC, AUROC %.3f", auroc), xLabel: "FALSE POSITIVE RATE",
                        yLabel: "TRUE POSITIVE RATE",
                        series: [.line([(0, 0), (1, 1)], .grey),
                                 .line(rocCurve(scores: scores, anomalous: anomalous), Chart.palette[0])])
        roc.xRange = (0, 1)
        roc.yRange = (0, 1)
        roc.width = 560
        roc.legend = [("ROC", Chart.palette[0]), ("CHANCE", .grey)]
        // Histograms over the central 99.8% of scores, so a few extremes do not squash the rest.
        let lower = percentile(scores, 0.1), upper = percentile(scores, 99.9)
        let normal = zip(scores, anomalous).filter { !$0.1 }.map(\.0), odd = zip(scores, anomalous).filter { $0.1 }.map(\.0)
        var histogram = Chart(title: "SCORES ON THE TEST SET", xLabel: ["nelbo": "-ELBO (NATS)", "recon": "RECONSTRUCTION (NATS)", "iw": "-LOG P(X) (NATS)"][scoring.metric.rawValue]!,
                              yLabel: "FRACTION",
                              series: [.bars(Chart.histogram(normal, lower: lower, upper: upper, bins: 50), Chart.palette[0]),
                                       .bars(Chart.histogram(odd, lower: lower, upper: upper, bins: 50), Chart.palette[3])])
        let top = (histogram.series.compactMap { s -> Double? in
            if case .bars(let b, _) = s { return b.map(\.height).max() } else { return nil } }.max() ?? 1) * 1.05
        histogram.series.append(.line([(threshold, 0), (threshold, top)], .black))
        histogram.yRange = (0, top)
        histogram.width = 640
        histogram.legend = [("NORMAL", Chart.palette[0]), ("DIGIT " + digits, Chart.palette[3]), ("THRESHOLD", .black)]
        return RGBImage.sideBySide([roc.render(), histogram.render()])
    }
}
