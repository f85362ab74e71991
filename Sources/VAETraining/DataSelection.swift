import VAEData

/// Which images a model learns from: only some digits (`vae train --digits`,
/// or `--exclude-digits`, for anomaly detection), less a held-out tail of
/// normal training images kept back for calibrating thresholds.
public struct DataSelection: Equatable {
    /// The digits kept, or nil for all.
    public var digits: [Int]?
    /// How many of the kept training images, taken from the end, are not trained on.
    public var holdout: Int

    public init(digits: [Int]? = nil, holdout: Int = 0) {
        self.digits = digits
        self.holdout = holdout
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
}
