import Foundation
import VAEData
import VAEModels

/// Scores images by one metric (higher = more anomalous) and calibrates
/// thresholds on normal ones: what `vae score` and `vae anomaly` share.
public struct AnomalyScorer {
    public let model: any VariationalModel
    public let metric: AnomalyMetric
    /// Draws per image: averaged for nelbo, the K of iw.
    public let samples: Int
    public let seed: UInt64

    public init(model: any VariationalModel, metric: AnomalyMetric, samples: Int, seed: UInt64) throws {
        if metric == .iw && model.noisePerDraw == 0 {
            throw RequestError("--metric iw: a \(model.configuration.summary) model draws no z from q(z|x), so there is nothing to importance-sample")
        }
        if metric == .nelbo, model is VQVAE, let problem = model.priorProblem {
            throw RequestError("--metric nelbo: a VQ-VAE's bound −log p(x|z_q) − log p(z_q) needs its prior, and \(problem) (or use --metric recon)")
        }
        self.model = model
        self.metric = metric
        self.samples = samples
        self.seed = seed
    }

    public func scores(_ images: [[Float]], conditions: [[Float]]?) -> [Double] {
        anomalyScores(model: model, images: images, conditions: conditions, metric: metric, samples: samples, seed: seed)
    }

    /// The scores of a data set's images, each given its own label when the model is conditional.
    public func scores(_ set: ImageSet) -> [Double] {
        scores(ImageInputs.pixels(of: set), conditions: model.conditions(of: set))
    }

    /// The `percentile`-th percentile of the scores of normal images: a
    /// threshold that flags about (100 − P)% of such images.
    public func threshold(normal images: [InputImage], percentile p: Double, describedAs source: String) throws -> Threshold {
        var conditions: [[Float]]?
        if model.configuration.isConditional {
            // Reference images carry their labels only when they come from a data set.
            let labels = try images.map { image in
                guard let label = image.label else {
                    throw RequestError("calibration images \(source): the model is conditional, and \(image.source) has no label; calibrate on MNIST images (train, heldout, test, test:A-B)")
                }
                guard (0..<model.configuration.classes).contains(label) else {
                    throw RequestError("calibration images \(source): \(image.source) has label \(label); the model knows classes 0-\(model.configuration.classes - 1)")
                }
                return label
            }
            conditions = model.conditions(labels: labels)
        }
        let value = VAEInference.percentile(scores(images.map(\.pixels), conditions: conditions), p)
        return Threshold(value: value, method: String(format: "percentile %g of %d calibration images (%@)", p, images.count, source),
                         calibrationCount: images.count, percentile: p)
    }
}

/// Images scoring above `value` are flagged anomalous.
public struct Threshold: Equatable {
    public let value: Double
    /// How it was chosen, in words.
    public let method: String
    public let calibrationCount: Int
    public let percentile: Double?

    public init(value: Double, method: String, calibrationCount: Int = 0, percentile: Double? = nil) {
        self.value = value
        self.method = method
        self.calibrationCount = calibrationCount
        self.percentile = percentile
    }
}

extension ImageInputs {
    /// Normal images to calibrate a threshold on, named by `spec`: `train`
    /// (what the model trained on, per its checkpoint: the training split less
    /// excluded digits and held-out images), `heldout`, `test`, an MNIST
    /// reference like `test:0-999`, a folder of PNG/PGM images, or one file.
    public func calibrationImages(_ spec: String, trainingData: TrainingData) throws -> [InputImage] {
        switch spec {
        case "train", "heldout":
            let split = trainingData.split(try split(.train))
            guard let set = spec == "train" ? split.fit : split.heldOut else {
                throw RequestError("calibration images heldout: the model was trained without held-out images (vae train --holdout N)")
            }
            return images(of: set, name: spec)
        case "test":
            return try load(split: .test, limit: nil)
        default:
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: spec, isDirectory: &isFolder), isFolder.boolValue {
                let files = try FileManager.default.contentsOfDirectory(atPath: spec).sorted()
                    .filter { $0.lowercased().hasSuffix(".png") || $0.lowercased().hasSuffix(".pgm") }
                guard !files.isEmpty else { throw FileError(spec, "no .png or .pgm images in this folder") }
                return try load(files.map { (spec as NSString).appendingPathComponent($0) })
            }
            return try load(spec)
        }
    }
}
