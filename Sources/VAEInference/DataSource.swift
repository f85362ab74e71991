import Foundation
import VAEData
import VAEEngine

/// A data set's training and test images, from either kind of folder `--data` names:
///
/// - the four MNIST-style IDX files (`train-images-idx3-ubyte[.gz]` …),
///   grey images of any size;
/// - images in class subfolders, `DIR/<class>/*.png|*.pgm` (torchvision's
///   `ImageFolder`): with `DIR/train/` and `DIR/test/` when both exist,
///   else the test split is a seeded fraction of all the images.
///
/// Images are brought to one shape as `ImageLoading` says, and stay 8-bit
/// in memory.
public struct DataSplits {
    public let train: ImageSet
    public let test: ImageSet
    /// Where they came from, in words ("MNIST IDX files in DIR", "images in class folders of DIR").
    public let description: String
    /// Files that were not readable images, left out (`--skip-unreadable`).
    public let skipped: [String]
    /// A folder without train/ and test/: the share held out as the test split, and its seed.
    public var testSplit: (fraction: Double, seed: UInt64)?
    /// The classes' names (a folder's subfolders), nil for numbered classes.
    public var classNames: [String]? { train.classNames }

    /// The data set in `directory`, its images brought to one shape as `options` say.
    public static func load(directory: String, options: ImageLoading, progress: ((Int, Int) -> Void)? = nil) throws -> DataSplits {
        if MNIST.holdsMNIST(directory) {
            func load(_ split: MNISTSplit) throws -> ImageSet {
                let set = try MNIST.load(directory: directory, split: split)
                return try set.converted(to: options.shape(height: set.shape.height, width: set.shape.width, anyColor: false),
                                         mode: options.mode)
            }
            return DataSplits(train: try load(.train), test: try load(.test),
                              description: "MNIST IDX files in \(directory)", skipped: [])
        }
        guard let classes = try ImageFolder.classFolders(directory) else {
            throw FileError(directory, "holds neither MNIST IDX files (train-images-idx3-ubyte.gz and the three others) nor class subfolders of images")
        }
        let names = classes.map(\.name)
        if names.contains("train") && names.contains("test") {
            let train = try ImageFolder.classFolders((directory as NSString).appendingPathComponent("train")) ?? []
            let test = try ImageFolder.classFolders((directory as NSString).appendingPathComponent("test")) ?? []
            let trainNames = train.map(\.name)
            if let unknown = test.first(where: { !trainNames.contains($0.name) }) {
                throw FileError((directory as NSString).appendingPathComponent("test/" + unknown.name),
                                "a test class the training split does not have")
            }
            // The test split's classes take the training split's labels.
            let testClasses = trainNames.map { name in (name, test.first { $0.name == name }?.files ?? []) }
            let total = (train + test).reduce(0) { $0 + $1.files.count }
            let trainSet = try ImageFolder.load(classes: train, options: options) { done, _ in progress?(done, total) }
            // The test split takes the training split's channels, and must come to its size.
            var testOptions = options
            testOptions.channels = trainSet.set.shape.channels
            let testSet = try ImageFolder.load(classes: testClasses, options: testOptions) { done, _ in
                progress?(trainSet.set.count + done, total)
            }
            guard testSet.set.shape == trainSet.set.shape else {
                throw FileError((directory as NSString).appendingPathComponent("test"),
                                "images of \(testSet.set.shape) where train/ has \(trainSet.set.shape): give --image-size HxW to bring them to one size")
            }
            return DataSplits(train: trainSet.set, test: testSet.set, description: "images in class folders of \(directory)/train and test",
                              skipped: trainSet.skipped + testSet.skipped)
        }
        let all = try ImageFolder.load(classes: classes, options: options, progress: progress)
        let (train, test) = split(all.set, testFraction: options.testFraction, seed: options.seed)
        return DataSplits(train: train, test: test,
                          description: "images in class folders of \(directory) (\(test.count) held out as the test split)",
                          skipped: all.skipped, testSplit: (options.testFraction, options.seed))
    }

    /// A seeded fraction of `set` (at least one image when there are two)
    /// for testing, the rest for training, each in the set's order.
    static func split(_ set: ImageSet, testFraction: Double, seed: UInt64) -> (train: ImageSet, test: ImageSet) {
        var rng = RandomGenerator(seed: seed, stream: .split)
        let testCount = set.count < 2 ? 0 : min(set.count - 1, max(1, Int((testFraction * Double(set.count)).rounded())))
        let chosen = Set(rng.permutation(set.count).prefix(testCount))
        return (set.subset((0..<set.count).filter { !chosen.contains($0) }), set.subset((0..<set.count).filter { chosen.contains($0) }))
    }
}

extension ImageSet {
    /// The images brought to `shape` (resized or cropped, channels converted).
    public func converted(to target: ImageShape, mode: Resizing.Mode) throws -> ImageSet {
        guard target != shape else { return self }
        if let problem = target.problem { throw FileError("--image-size", problem) }
        let d = target.values
        var out = [UInt8](repeating: 0, count: count * d)
        for i in 0..<count {
            let planes = try Resizing.planes(picture(i), to: target, mode: mode, path: "image \(i)")
            for j in 0..<d { out[i * d + j] = Picture.level(planes[j]) }
        }
        return ImageSet(pixels: out, count: count, shape: target, labels: labels, classNames: classNames)
    }

}
