import Foundation
import VAEData
import VAEEngine
import VAEModels

/// What a model was trained on, as its checkpoint records it: the classes'
/// names, only some classes (`vae train --digits`, `--exclude-classes`, for
/// anomaly detection), less a held-out tail of normal training images kept
/// back for calibrating thresholds, drawn as intensities or dynamically
/// binarised; for a folder data set, how its images were cropped and how its
/// test split was drawn. The commands that use the model's data set, or
/// calibrate a threshold on it, read it so they see the same images.
public struct TrainingData: Equatable, Sendable {
    /// The classes kept, or nil for all.
    public var classes: [Int]?
    /// How many of the kept training images, taken from the end, are not trained on.
    public var holdout: Int
    /// Dynamic binarisation: every time an image is drawn, each pixel is set
    /// to 1 with probability equal to its intensity (Burda et al. 2015).
    public var binarized: Bool
    /// Class c's name (a folder's subfolders), or nil for numbered classes (MNIST's digits).
    public var classNames: [String]?
    /// A background model's training data (Ren et al. 2019, "Likelihood
    /// ratios for out-of-distribution detection", §3): each time an image is
    /// drawn, each pixel is replaced with this probability by one of the 256
    /// levels chosen uniformly at random; nil: images as they are.
    public var perturbation: Float?
    /// The images were brought to the model's size (`--image-size`), centre-
    /// cropped rather than resized (`--crop`), and to its channels (`--channels`).
    public var resized: Bool
    public var crop: Bool
    public var rechanneled: Bool
    /// A folder without train/ and test/: the share held out for testing, and its seed.
    public var testSplit: (fraction: Double, seed: UInt64)?

    public init(classes: [Int]? = nil, holdout: Int = 0, binarized: Bool = false, classNames: [String]? = nil,
                resized: Bool = false, crop: Bool = false, rechanneled: Bool = false, testSplit: (fraction: Double, seed: UInt64)? = nil,
                perturbation: Float? = nil) {
        self.classes = classes
        self.perturbation = perturbation
        self.holdout = holdout
        self.binarized = binarized
        self.classNames = classNames
        self.resized = resized || crop
        self.crop = crop
        self.rechanneled = rechanneled
        self.testSplit = testSplit
    }

    public static func == (a: TrainingData, b: TrainingData) -> Bool {
        a.classes == b.classes && a.holdout == b.holdout && a.binarized == b.binarized && a.classNames == b.classNames
            && a.resized == b.resized && a.crop == b.crop && a.rechanneled == b.rechanneled
            && a.testSplit?.fraction == b.testSplit?.fraction && a.testSplit?.seed == b.testSplit?.seed
            && a.perturbation == b.perturbation
    }

    /// The name of class `label`.
    public func className(_ label: Int) -> String {
        classNames.flatMap { label < $0.count ? $0[label] : nil } ?? String(label)
    }

    /// The class named `name` (or numbered so), among `count` classes.
    public func classIndex(_ name: String, count: Int) -> Int? {
        if let names = classNames, let i = names.firstIndex(of: name) { return i }
        return Int(name).flatMap { (0..<count).contains($0) ? $0 : nil }
    }

    /// The images of `set` whose label is kept.
    public func keep(_ set: ImageSet) -> ImageSet {
        guard let classes, let labels = set.labels else { return set }
        let wanted = Set(classes.map(UInt8.init))
        return set.subset(labels.indices.filter { wanted.contains(labels[$0]) })
    }

    /// The training images split into what is trained on and what is held out.
    public func split(_ train: ImageSet) -> (fit: ImageSet, heldOut: ImageSet?) {
        let kept = keep(train)
        guard holdout > 0 else { return (kept, nil) }
        let cut = max(0, kept.count - holdout)
        return (kept.subset(0..<cut), kept.subset(cut..<kept.count))
    }

    /// How to load a data set for a model of `shape` as its data was loaded
    /// for training: resized or re-channelled only if it was then; otherwise
    /// the images come as they are, and must have the model's shape.
    public func loading(base: ImageLoading = ImageLoading(), shape: ImageShape) -> ImageLoading {
        var options = base
        if resized { options.size = ImageShape(height: shape.height, width: shape.width) }
        if crop { options.mode = .crop }
        if rechanneled { options.channels = shape.channels }
        if let testSplit { (options.testFraction, options.seed) = (testSplit.fraction, testSplit.seed) }
        return options
    }

    /// Metadata keys: binarize (dynamic|none), and only when set: digits
    /// (the classes kept, "0,1,…,8"), holdout, class_names (a JSON array),
    /// resize (scale|crop), rechannel (true), test_fraction and split_seed, perturb.
    public var metadata: [String: String] {
        var m = ["binarize": binarized ? "dynamic" : "none"]
        if let classes { m["digits"] = commaSeparated(classes) }
        if holdout > 0 { m["holdout"] = String(holdout) }
        if let classNames, let json = try? JSONSerialization.data(withJSONObject: classNames) {
            m["class_names"] = String(decoding: json, as: UTF8.self)
        }
        if resized { m["resize"] = crop ? "crop" : "scale" }
        if rechanneled { m["rechannel"] = "true" }
        if let perturbation { m["perturb"] = String(perturbation) }
        if let testSplit {
            m["test_fraction"] = String(testSplit.fraction)
            m["split_seed"] = String(testSplit.seed)
        }
        return m
    }

    public init(metadata values: [String: String]) throws {
        let m = MetadataReader(values)
        var names: [String]?
        if let text = values["class_names"] {
            guard let decoded = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String], !decoded.isEmpty,
                  decoded.count <= 256, decoded.allSatisfy({ !$0.isEmpty && $0.count <= 255 }) else {
                throw MetadataError("metadata class_names is not a JSON array of 1 to 256 names")
            }
            names = decoded
        }
        let classCount = names?.count ?? 256
        var split: (Double, UInt64)?
        if m.has("test_fraction") {
            let fraction = try m.real("test_fraction")
            guard fraction > 0 && fraction < 1 else { throw MetadataError("metadata test_fraction is \(fraction), expected a fraction in (0, 1)") }
            split = (fraction, try m.choice("split_seed", expected: "an unsigned integer", UInt64.init))
        }
        self.init(classes: m.has("digits") ? try m.integers("digits", in: 0...(classCount - 1), counts: 1...classCount) : nil,
                  holdout: try m.integer("holdout", in: 0...Int(Int32.max), default: 0),
                  binarized: try m.choice("binarize", default: false, expected: "dynamic or none") { ["dynamic": true, "none": false][$0] },
                  classNames: names, resized: m.has("resize"),
                  crop: try m.choice("resize", default: false, expected: "scale or crop") { ["scale": false, "crop": true][$0] },
                  rechanneled: try m.choice("rechannel", default: false, expected: "true") { $0 == "true" ? true : nil },
                  testSplit: split,
                  perturbation: m.has("perturb") ? try m.choice("perturb", expected: "a fraction in (0, 1]") { text in
                      Float(text).flatMap { $0 > 0 && $0 <= 1 ? $0 : nil }
                  } : nil)
    }
}

/// Each pixel set to 1 with probability equal to its intensity, from a fixed
/// seed: the same binarised set every time (`--binarize fixed`).
public func binarized(_ set: ImageSet, seed: UInt64) -> ImageSet {
    var rng = RandomGenerator(seed: seed, stream: .binarization, index: 0)
    let pixels = set.pixels.map { rng.uniform() < Float($0) / 255 ? UInt8(255) : 0 }
    return ImageSet(pixels: pixels, count: set.count, shape: set.shape, labels: set.labels, classNames: set.classNames)
}
