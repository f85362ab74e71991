import VAEData
import VAEEngine
import VAEModels

/// What a model was trained on, as its checkpoint records it: only some
/// digits (`vae train --digits`, or `--exclude-digits`, for anomaly
/// detection), less a held-out tail of normal training images kept back for
/// calibrating thresholds, drawn as grey levels or dynamically binarised.
/// The commands that calibrate a threshold or evaluate a model read it.
public struct TrainingData: Equatable, Sendable {
    /// The digits kept, or nil for all.
    public var digits: [Int]?
    /// How many of the kept training images, taken from the end, are not trained on.
    public var holdout: Int
    /// Dynamic binarisation: every time an image is drawn, each pixel is set
    /// to 1 with probability equal to its intensity (Burda et al. 2015).
    public var binarized: Bool

    public init(digits: [Int]? = nil, holdout: Int = 0, binarized: Bool = false) {
        self.digits = digits
        self.holdout = holdout
        self.binarized = binarized
    }

    /// The images of `set` whose label is kept.
    public func keep(_ set: ImageSet) -> ImageSet {
        guard let digits, let labels = set.labels else { return set }
        let wanted = Set(digits.map(UInt8.init))
        return set.subset(labels.indices.filter { wanted.contains(labels[$0]) })
    }

    /// The training images split into what is trained on and what is held out.
    public func split(_ train: ImageSet) -> (fit: ImageSet, heldOut: ImageSet?) {
        let kept = keep(train)
        guard holdout > 0 else { return (kept, nil) }
        let cut = max(0, kept.count - holdout)
        return (kept.subset(0..<cut), kept.subset(cut..<kept.count))
    }

    /// Metadata keys: binarize (dynamic|none), and only when set, digits
    /// ("0,1,…,8") and holdout (images held back).
    public var metadata: [String: String] {
        var m = ["binarize": binarized ? "dynamic" : "none"]
        if let digits { m["digits"] = commaSeparated(digits) }
        if holdout > 0 { m["holdout"] = String(holdout) }
        return m
    }

    public init(metadata values: [String: String]) throws {
        let m = MetadataReader(values)
        self.init(digits: m.has("digits") ? try m.integers("digits", in: 0...9, counts: 1...10) : nil,
                  holdout: try m.integer("holdout", in: 0...Int(Int32.max), default: 0),
                  binarized: try m.choice("binarize", default: false, expected: "dynamic or none") { ["dynamic": true, "none": false][$0] })
    }
}

/// Each pixel set to 1 with probability equal to its intensity, from a fixed
/// seed: the same binarised set every time (`--binarize fixed`).
public func binarized(_ set: ImageSet, seed: UInt64) -> ImageSet {
    var rng = RandomGenerator(seed: seed, stream: .binarization, index: 0)
    let pixels = set.pixels.map { rng.uniform() < Float($0) / 255 ? UInt8(255) : 0 }
    return ImageSet(pixels: pixels, count: set.count, rows: set.rows, columns: set.columns, labels: set.labels)
}
