import Foundation
import VAEData

/// One image given to a command: where it came from, its label when known,
/// and its values in [0, 1] (C, H, W), ready for the model.
public struct InputImage {
    public let source: String
    public let label: Int?
    public let pixels: [Float]

    public init(source: String, label: Int?, pixels: [Float]) {
        self.source = source
        self.label = label
        self.pixels = pixels
    }
}

/// Resolves what a user names on the command line, for a model of `shape`:
/// - `test:123`, `train:5`: one image of the data set (with its label);
/// - `test:0-99`: a range of them;
/// - anything else: a PNG or PGM file. For a model of 28x28 grey digits it
///   is prepared as MNIST's digits were (`DigitPreprocessing`); for any
///   other model it is resized to the model's shape (or cropped, as the
///   model's data was), colour turned to grey or grey to colour as the
///   model needs. `raw` takes files as they are, which must be the model's size.
public final class ImageInputs {
    private let dataDirectory: () throws -> String
    private var data: DataSplits?
    public let raw: Bool
    public let shape: ImageShape
    /// Throws unless a split of the data set fits the model (`Checkpoint.Loaded.checkData`).
    private let checkData: (ImageSet, String) throws -> Void
    /// How the data set is read (the model's crop mode and test split).
    public let loading: ImageLoading

    public init(raw: Bool, shape: ImageShape = .mnist, loading: ImageLoading = ImageLoading(),
                checkData: @escaping (ImageSet, String) throws -> Void = { _, _ in },
                dataDirectory: @escaping () throws -> String) {
        self.raw = raw
        self.shape = shape
        self.checkData = checkData
        self.loading = loading
        self.dataDirectory = dataDirectory
    }

    /// One split of the data set, read as the model's data was for training.
    public func split(_ split: MNISTSplit) throws -> ImageSet {
        if data == nil { data = try DataSplits.load(directory: try dataDirectory(), options: loading) }
        let set = split == .train ? data!.train : data!.test
        try checkData(set, try dataDirectory())
        return set
    }

    /// The images named by `specs`, in order.
    public func load(_ specs: [String]) throws -> [InputImage] {
        try specs.flatMap { try load($0) }
    }

    /// The first `limit` images of a whole split (all when nil).
    public func load(split name: MNISTSplit, limit: Int?) throws -> [InputImage] {
        let set = try split(name)
        return images(of: set, split: name, indices: 0..<min(limit ?? set.count, set.count))
    }

    /// Exactly one image (for commands whose inputs are single images).
    public func loadOne(_ spec: String) throws -> InputImage {
        let images = try load(spec)
        guard images.count == 1 else { throw FileError(spec, "names \(images.count) images; one is expected here") }
        return images[0]
    }

    public func load(_ spec: String) throws -> [InputImage] {
        if let (name, range) = try datasetReference(spec) {
            let set = try split(name)
            guard range.upperBound <= set.count else {
                throw FileError(spec, "index out of range: the \(name.rawValue) split has images 0-\(set.count - 1)")
            }
            return images(of: set, split: name, indices: range)
        }
        return [InputImage(source: spec, label: nil, pixels: try prepare(spec))]
    }

    /// A file's values for the model.
    func prepare(_ path: String) throws -> [Float] {
        if shape == .mnist { return try DigitPreprocessing.prepare(try GrayImage.read(path: path), path: path, raw: raw) }
        let picture = try Picture.read(path: path)
        if raw && (picture.width != shape.width || picture.height != shape.height) {
            throw FileError(path, "is \(picture.height)x\(picture.width); --raw needs the model's \(shape.height)x\(shape.width)")
        }
        return try Resizing.planes(picture, to: shape, mode: loading.mode, path: path)
    }

    func images(of set: ImageSet, split: MNISTSplit, indices: Range<Int>) -> [InputImage] {
        images(of: set.subset(indices), name: split.rawValue, firstIndex: indices.lowerBound)
    }

    /// Every image of a set as intensities in [0, 1].
    public static func pixels(of set: ImageSet) -> [[Float]] {
        (0..<set.count).map { i in
            var pixels = [Float](repeating: 0, count: set.pixelsPerImage)
            pixels.withUnsafeMutableBufferPointer { set.gather([i], into: $0.baseAddress!) }
            return pixels
        }
    }

    /// Every image of a set, named `name:i`.
    public func images(of set: ImageSet, name: String, firstIndex: Int = 0) -> [InputImage] {
        zip(0..<set.count, Self.pixels(of: set)).map { i, pixels in
            InputImage(source: "\(name):\(firstIndex + i)", label: set.labels.map { Int($0[i]) }, pixels: pixels)
        }
    }

    /// `train:N`, `test:N` or `test:A-B` (inclusive), else nil for a file path.
    /// (A file whose name starts with "test:" can be given as ./test:….)
    func datasetReference(_ spec: String) throws -> (MNISTSplit, Range<Int>)? {
        guard let colon = spec.firstIndex(of: ":"), let split = MNISTSplit(rawValue: String(spec[..<colon])) else { return nil }
        let rest = spec[spec.index(after: colon)...]
        let parts = rest.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(parts.count), let first = parts[0], let last = parts.last!, first >= 0, last >= first else {
            throw FileError(spec, "expected \(split.rawValue):N or \(split.rawValue):A-B with 0 ≤ A ≤ B")
        }
        return (split, first..<(last + 1))
    }
}
