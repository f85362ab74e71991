import ArgumentParser
import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels
import VAEPlots

/// `--model PATH`: the checkpoint a command reads (or `train` writes).
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Checkpoint file (safetensors).", valueName: "path"))
    var model = "model.safetensors"
}

/// `--seed N`: every random draw of a command comes from it.
struct SeedOptions: ParsableArguments {
    @Option(help: "Random seed: the same seed and thread count give the same numbers.")
    var seed: UInt64 = 0
}

/// `--threads N`: threads for the matrix products.
struct ThreadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Threads for matrix products and other parallel work (default: all cores; one for a few images).", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be in 1...256, got \(threads)")
        }
    }

    /// Sets the thread count. A `light` job (a few hundred images at most)
    /// runs on one thread unless --threads says otherwise: it would finish
    /// before a second thread paid for itself, and OpenMP's threads spin on
    /// after their last job (~10 ms of a 40 ms `vae sample`).
    func apply(light: Bool = false) {
        BLASThreads.set(threads ?? (light ? 1 : ProcessInfo.processInfo.activeProcessorCount))
    }
}

/// `--data DIR`: the data set, and how unreadable files in it are treated.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The data set: a folder with the four MNIST-style IDX files, or with images in class subfolders (DIR/<class>/*.png|*.pgm, with DIR/train/ and DIR/test/ if present) (default: $VAE_DATA, else ./Data/mnist, else the installed MNIST).",
        valueName: "dir"))
    var data: String?

    @Flag(help: "Leave out (and count) files in a folder data set that are not readable images, instead of stopping at the first.")
    var skipUnreadable = false

    /// The folder: --data as given, else the first place MNIST is found.
    func locate() throws -> String {
        guard let data else { return try MNIST.locate(explicit: nil) }
        guard FileManager.default.fileExists(atPath: data) else { throw FileError(data, "no such folder") }
        return data
    }

    /// How a trained model's data set is read: as its checkpoint says it was for training.
    func loading(for loaded: Checkpoint.Loaded) -> ImageLoading {
        var options = ImageLoading()
        options.skipUnreadable = skipUnreadable
        return loaded.trainingData.loading(base: options, shape: loaded.model.configuration.shape)
    }

    /// The data set read as a trained model's was, checked to fit it.
    func load(for loaded: Checkpoint.Loaded) throws -> DataSplits {
        let directory = try locate()
        let splits = try DataSplits.load(directory: directory, options: loading(for: loaded), progress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: splits.skipped)
        try loaded.checkData(splits.train, source: directory)
        try loaded.checkData(splits.test, source: directory)
        return splits
    }
}

/// How image files become a data set of one shape: for `train`, `bench` and `export`.
struct ImageLoadingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Resize every image to this size: area averaging down, bilinear up (default: the images' own size, which must agree).",
                               valueName: "HxW"))
    var imageSize: String?

    @Flag(help: "With --image-size: take the central window of that size instead of resizing.")
    var crop = false

    @Option(help: ArgumentHelp("1 (grey) or 3 (colour) (default: 3 when any image has colour).", valueName: "1|3"))
    var channels: Int?

    @Option(help: ArgumentHelp("A folder without train/ and test/ subfolders: the share of its images held out as the test split, drawn by --seed (by seed 0 where a command has no --seed; a model's own training split where the command reads one).",
                               valueName: "f"))
    var testFraction = 0.1

    func validate() throws {
        if let imageSize, ImageShape.parseSize(imageSize) == nil {
            throw ValidationError("--image-size must be HxW with sides in 1...\(ImageShape.maximumSide), got '\(imageSize)'")
        }
        if crop && imageSize == nil { throw ValidationError("--crop goes with --image-size") }
        if let channels, channels != 1 && channels != 3 { throw ValidationError("--channels must be 1 or 3, got \(channels)") }
        guard testFraction > 0 && testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)") }
    }

    func loading(seed: UInt64, skipUnreadable: Bool) -> ImageLoading {
        var options = ImageLoading()
        options.size = imageSize.flatMap(ImageShape.parseSize).map { ImageShape(height: $0.height, width: $0.width) }
        options.mode = crop ? .crop : .scale
        options.channels = channels
        options.testFraction = testFraction
        options.seed = seed
        options.skipUnreadable = skipUnreadable
        return options
    }
}

/// Loading a folder of images: a count on a terminal as it goes, and what was skipped.
enum LoadingProgress {
    static let isTerminal = isatty(STDOUT_FILENO) != 0

    static let terminal: ((Int, Int) -> Void)? = isTerminal ? { done, total in
        print("\rloading images: \(done)/\(total)\u{1B}[K", terminator: "")
        fflush(stdout)
    } : nil

    /// Clears the count and says how many files were left out.
    static func finish(skipped: [String]) {
        if isTerminal { print("\r\u{1B}[K", terminator: "") }
        if !skipped.isEmpty {
            print("skipped \(skipped.count) unreadable file\(skipped.count == 1 ? "" : "s"), the first \(skipped[0])")
        }
    }
}

// MARK: flag values

/// A comma-separated list ("512,256", "0,1,8"): the one parser for every list flag.
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument {
    let values: [Element]

    init(values: [Element]) { self.values = values }

    init?(argument: String) {
        var values: [Element] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = Element(argument: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            values.append(value)
        }
        self.values = values
    }

    var defaultValueDescription: String { values.map(\.defaultValueDescription).joined(separator: ",") }
}

extension CommaSeparated where Element == Int {
    /// The values, when there are `counts` of them and each is in `range`.
    func checked(_ flag: String, in range: ClosedRange<Int>, counts: ClosedRange<Int> = 1...256, what: String = "integers") throws -> [Int] {
        guard counts.contains(values.count), values.allSatisfy(range.contains) else {
            let number = counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)"
                : counts.lowerBound == 0 ? "up to \(counts.upperBound)"
                : counts.count == 2 ? "\(counts.lowerBound) or \(counts.upperBound)"
                : "\(counts.lowerBound) to \(counts.upperBound)"
            throw ValidationError("\(flag) must be \(number) comma-separated \(what) in \(range.lowerBound)...\(range.upperBound), got '\(defaultValueDescription)'")
        }
        return values
    }
}

/// Each stochastic layer's hidden widths: "512,256", or "200,200/100,100" for two layers.
struct LayerWidths: ExpressibleByArgument {
    let layers: [CommaSeparated<Int>]

    init?(argument: String) {
        var layers: [CommaSeparated<Int>] = []
        for part in argument.split(separator: "/", omittingEmptySubsequences: false) {
            // An empty layer ("" or "/100") is a layer without hidden widths.
            guard let widths = part.isEmpty ? CommaSeparated<Int>(argument: "") ?? CommaSeparated(values: [])
                    : CommaSeparated<Int>(argument: String(part)) else { return nil }
            layers.append(widths)
        }
        guard (1...2).contains(layers.count) else { return nil }
        self.layers = layers
    }

    var defaultValueDescription: String { layers.map(\.defaultValueDescription).joined(separator: "/") }
}

extension Architecture: ExpressibleByArgument {}
extension ReconstructionLikelihood: ExpressibleByArgument {}
extension ActivationKind: ExpressibleByArgument {}
extension ClassPrior: ExpressibleByArgument {}
extension MNISTSplit: ExpressibleByArgument {}
extension AnomalyMetric: ExpressibleByArgument {}

/// A `--corrupt` value: a corruption spec, or `none` where `allowingNone`.
func parseCorruption(_ text: String, allowingNone: Bool = false) throws -> Corruption? {
    if allowingNone && text == "none" { return nil }
    guard let corruption = Corruption(spec: text) else {
        throw ValidationError("--corrupt must be \(Corruption.specHelp)\(allowingNone ? " or none" : ""), got '\(text)'")
    }
    return corruption
}

// MARK: outputs

/// Checks that a file can be created at `path` (its folder exists and is writable),
/// before any long work starts.
func checkWritable(_ path: String, flag: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIError("\(flag) \(path): folder \(folder) does not exist")
    }
    guard access(folder, W_OK) == 0 else { throw CLIError("\(flag) \(path): folder \(folder) is not writable") }
}

/// Checks an image output path's extension.
func checkImageExtension(_ path: String, flag: String) throws {
    let lower = path.lowercased()
    guard lower.hasSuffix(".png") || lower.hasSuffix(".pgm") else {
        throw ValidationError("\(flag) \(path): use a .png or .pgm extension")
    }
}

/// Checks a chart's path: .png, .svg or .pdf.
func checkChartExtension(_ path: String, flag: String) throws {
    guard FigureFormat.accepts(path) else {
        throw ValidationError("\(flag) \(path): charts are written as .png, .svg or .pdf")
    }
}

/// Checks a chart's output before any work: its folder, and that there is a font to draw with.
func checkChartOutput(_ path: String, flag: String) throws {
    try checkWritable(path, flag: flag)
    try Figures.checkFont(for: path)
}

/// Checks an image output path before any work: extension and folder, and
/// for a model that draws colour, that the format can hold it.
func checkImageOutput(_ path: String, flag: String = "-o", model: (any VariationalModel)? = nil) throws {
    try checkImageExtension(path, flag: flag)
    if let model, model.configuration.shape.isColor, path.lowercased().hasSuffix(".pgm") {
        throw CLIError("\(flag) \(path): PGM holds grey images, and this model draws colour: use .png")
    }
    try checkWritable(path, flag: flag)
}

/// Writes `object` as pretty JSON, atomically.
func writeJSON(_ object: [String: Any], to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(Array(data) + [10], to: path)
}

/// The flags `train` and `train-prior` share: --epochs, --batch-size, --lr
/// and the quick-run subsets, each in its range.
func validateTrainingFlags(epochs: Int, batchSize: Int?, lr: Float?, trainImages: Int?, testImages: Int?) throws {
    guard (1...100_000).contains(epochs) else { throw ValidationError("--epochs must be in 1...100000, got \(epochs)") }
    if let batchSize, !(1...65_536).contains(batchSize) { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
    if let lr, !(lr.isFinite && lr > 0 && lr <= 10) { throw ValidationError("--lr must be in (0, 10], got \(lr)") }
    if let n = trainImages, n < 1 { throw ValidationError("--train-images must be at least 1, got \(n)") }
    if let n = testImages, n < 1 { throw ValidationError("--test-images must be at least 1, got \(n)") }
}
