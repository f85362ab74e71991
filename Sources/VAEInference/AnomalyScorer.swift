import Foundation
import VAEData
import VAEModels

/// Scores images by one or more metrics (higher = more anomalous) and
/// calibrates thresholds on normal ones: what `vae score` and `vae anomaly`
/// share. Metrics scored together share their work: −log p(x) is estimated
/// once for iw, complexity and ratio.
public struct AnomalyScorer {
    public let model: any VariationalModel
    public let metrics: [AnomalyMetric]
    /// The model of perturbed images that `ratio` divides by.
    public let background: (any VariationalModel)?
    /// The training images' encoder features that `knn` measures distances to.
    public let neighbours: FeatureNeighbours?
    /// Draws per image when given: averaged for nelbo, the K of the
    /// importance-weighted estimates; nil: 1 and 100.
    public let samples: Int?
    public let seed: UInt64

    /// The first (or only) metric.
    public var metric: AnomalyMetric { metrics[0] }

    public init(model: any VariationalModel, metrics: [AnomalyMetric], samples: Int?, seed: UInt64,
                background: (any VariationalModel)? = nil, neighbours: FeatureNeighbours? = nil) throws {
        guard !metrics.isEmpty else { throw RequestError("no anomaly metric to score with") }
        if metrics.contains(.iw) && model.noisePerDraw == 0 {
            throw RequestError("--metric iw: a \(model.configuration.summary) model draws no z from q(z|x), so there is nothing to importance-sample")
        }
        if model is VQVAE, let problem = model.priorProblem,
           let metric = metrics.first(where: { [.nelbo, .complexity, .ratio].contains($0) }) {
            throw RequestError("--metric \(metric.rawValue): a VQ-VAE's bound −log p(x|z_q) − log p(z_q) needs its prior, and \(problem) (or use --metric recon)")
        }
        if metrics.contains(where: \.needsBackground) && background == nil {
            throw RequestError("--metric ratio needs --background MODEL: the same architecture trained with vae train --perturb 0.2")
        }
        if metrics.contains(where: \.needsNeighbours) && neighbours == nil {
            throw RequestError("--metric knn needs the encoder features of the images the model trained on")
        }
        if let neighbours, neighbours.model !== model {
            throw RequestError("--metric knn: the training images' features come from another model than the one scoring")
        }
        if let background {
            guard background.configuration.shape == model.configuration.shape,
                  background.configuration.classes == model.configuration.classes else {
                throw RequestError("--background: it takes \(background.configuration.shape) images\(background.configuration.isConditional ? " with \(background.configuration.classes) classes" : ""), the model \(model.configuration.shape)\(model.configuration.isConditional ? " with \(model.configuration.classes) classes" : ""); they must match")
            }
            if !(model is VQVAE), ModelScore.likelihood(of: background) != ModelScore.likelihood(of: model) {
                throw RequestError("--background: its −log p(x) estimate must be of the same kind as the model's (both draw z, or neither)")
            }
            if background is VQVAE, let problem = background.priorProblem { throw RequestError("--background: \(problem)") }
        }
        self.model = model
        self.metrics = metrics
        self.background = background
        self.neighbours = neighbours
        self.samples = samples
        self.seed = seed
    }

    public init(model: any VariationalModel, metric: AnomalyMetric, samples: Int?, seed: UInt64,
                background: (any VariationalModel)? = nil, neighbours: FeatureNeighbours? = nil) throws {
        try self.init(model: model, metrics: [metric], samples: samples, seed: seed, background: background, neighbours: neighbours)
    }

    /// The draws `metric` uses: as given, else 100 importance samples or one −ELBO draw (none for knn).
    public func draws(_ metric: AnomalyMetric) -> Int {
        metric == .knn ? 0 : draws(metric.modelScore ?? ModelScore.likelihood(of: model))
    }

    func draws(_ score: ModelScore) -> Int { samples ?? (score == .iw ? 100 : 1) }

    /// The first metric's scores.
    public func scores(_ images: [[Float]], conditions: [[Float]]?) -> [Double] {
        scoresByMetric(images, conditions: conditions)[0]
    }

    /// Each metric's scores, in the order of `metrics`.
    public func scoresByMetric(_ images: [[Float]], conditions: [[Float]]?) -> [[Double]] {
        // The model's base scores, each computed once however many metrics use it.
        var cache: [ModelScore: [Double]] = [:]
        func base(_ score: ModelScore) -> [Double] {
            if let cached = cache[score] { return cached }
            let scores = anomalyScores(model: model, images: images, conditions: conditions, metric: score, samples: draws(score), seed: seed)
            cache[score] = scores
            return scores
        }
        let likelihood = ModelScore.likelihood(of: model)
        return metrics.map { metric in
            switch metric {
            case .nelbo: return base(.nelbo)
            case .recon: return base(.recon)
            case .iw: return base(.iw)
            case .complexity:
                let configuration = model.configuration
                let lengths = images.map { compressedLength(of: $0, shape: configuration.shape, likelihood: configuration.likelihood) }
                return zip(base(likelihood), lengths).map { $0 - $1 }
            case .ratio:
                // init refuses ratio without a background model.
                let backgroundScores = background.map {
                    anomalyScores(model: $0, images: images, conditions: conditions, metric: likelihood, samples: draws(likelihood), seed: seed)
                } ?? base(likelihood)
                return zip(base(likelihood), backgroundScores).map { $0 - $1 }
            case .knn:
                // init refuses knn without the reference features.
                return neighbours?.distances(images: images, conditions: conditions) ?? []
            }
        }
    }

    /// The scores of a data set's images, each given its own label when the model is conditional.
    public func scores(_ set: ImageSet) -> [Double] { scoresByMetric(set)[0] }

    public func scoresByMetric(_ set: ImageSet) -> [[Double]] {
        scoresByMetric(ImageInputs.pixels(of: set), conditions: model.conditions(of: set))
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
