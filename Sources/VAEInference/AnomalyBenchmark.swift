import VAEData
import VAEModels

/// The held-out-class benchmark (`vae anomaly`): a model trained without
/// some classes (digits, for MNIST) scores the whole test set, and images of
/// the classes it never saw are the anomalies. The threshold for a target false-positive rate is
/// calibrated on normal training images the model did not train on (its
/// held-out tail), never on the test set.
public struct AnomalyBenchmark {
    public let scorer: AnomalyScorer
    /// The anomalous classes.
    public let anomalies: Set<Int>
    /// Classes in the data set.
    public let classCount: Int
    public let falsePositiveRate: Double
    /// Without a held-out tail: how many of the last normal training images to calibrate on.
    public let fallbackCalibrationCount: Int

    /// The anomalies default to the classes the model was not trained on.
    public init(scorer: AnomalyScorer, trainingData: TrainingData, classCount: Int, anomalies: Set<Int>?, falsePositiveRate: Double,
                fallbackCalibrationCount: Int) throws {
        let all = Set(0..<classCount)
        let anomalies = anomalies ?? all.subtracting(trainingData.classes ?? Array(all))
        guard !anomalies.isEmpty else {
            throw RequestError("the model was trained on every class: name the anomalies with --anomaly-classes, or train with --exclude-classes")
        }
        if let outside = anomalies.first(where: { !all.contains($0) }) {
            throw RequestError("--anomaly-classes: class \(outside) is not among the data set's \(classCount)")
        }
        guard anomalies.count < classCount else { throw RequestError("--anomaly-classes leaves no normal class") }
        self.classCount = classCount
        precondition(falsePositiveRate > 0 && falsePositiveRate < 1 && fallbackCalibrationCount >= 1)
        self.scorer = scorer
        self.anomalies = anomalies
        self.falsePositiveRate = falsePositiveRate
        self.fallbackCalibrationCount = fallbackCalibrationCount
    }

    public struct Result {
        public let scores: [Double]
        public let anomalous: [Bool]
        public let auroc: Double
        public let averagePrecision: Double
        public let threshold: Double
        public let outcome: ThresholdOutcome
        public let calibrationCount: Int
        /// Which images the threshold was calibrated on, in words.
        public let calibrationNote: String
        public var anomalousCount: Int { anomalous.filter { $0 }.count }
        public var normalCount: Int { anomalous.count - anomalousCount }

        /// The mean score of the anomalous (or the normal) test images.
        public func meanScore(anomalous wanted: Bool) -> Double {
            let chosen = zip(scores, anomalous).filter { $0.1 == wanted }.map(\.0)
            return chosen.reduce(0, +) / Double(max(chosen.count, 1))
        }
    }

    /// Scores `test` by the scorer's first metric; calibrates on `train`'s held-out normal tail per `trainingData`, else its last normal images.
    public func run(test: ImageSet, train: ImageSet, trainingData: TrainingData) -> Result {
        runEveryMetric(test: test, train: train, trainingData: trainingData)[0].result
    }

    /// The benchmark for every metric of the scorer, from one scoring pass
    /// over the test set and one over the calibration images.
    public func runEveryMetric(test: ImageSet, train: ImageSet, trainingData: TrainingData) -> [(metric: AnomalyMetric, result: Result)] {
        guard let labels = test.labels else { preconditionFailure("the benchmark needs a labelled test set") }
        let anomalous = labels.map { anomalies.contains(Int($0)) }
        let normal = TrainingData(classes: Set(0..<classCount).subtracting(anomalies).sorted())
        let calibration: ImageSet
        let note: String
        if let heldOut = trainingData.split(train).heldOut {
            calibration = normal.keep(heldOut)
            note = "\(calibration.count) held-out normal training images"
        } else {
            let kept = normal.keep(train)
            calibration = kept.subset(max(0, kept.count - fallbackCalibrationCount)..<kept.count)
            note = "the last \(calibration.count) normal training images (the model trained on them: train with --holdout N to keep some back)"
        }
        let testScores = scorer.scoresByMetric(test), calibrationScores = scorer.scoresByMetric(calibration)
        return scorer.metrics.indices.map { m in
            let scores = testScores[m]
            let threshold = percentile(calibrationScores[m], 100 * (1 - falsePositiveRate))
            return (scorer.metrics[m], Result(scores: scores, anomalous: anomalous, auroc: areaUnderROC(scores: scores, anomalous: anomalous),
                                              averagePrecision: averagePrecision(scores: scores, anomalous: anomalous), threshold: threshold,
                                              outcome: ThresholdOutcome(scores: scores, anomalous: anomalous, threshold: threshold),
                                              calibrationCount: calibration.count, calibrationNote: note))
        }
    }
}
