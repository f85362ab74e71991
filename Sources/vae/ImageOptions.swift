import ArgumentParser
import Foundation
import VAEData
import VAEModels
import VAETraining

extension MNISTSplit: ExpressibleByArgument {}

/// How image inputs are read: MNIST-style preprocessing unless `--raw`, and
/// where the data set is for `test:N` references.
struct ImageOptions: ParsableArguments {
    @Flag(help: "Take image files as they are (28x28, white on black): no MNIST-style preprocessing.")
    var raw = false

    @OptionGroup var dataOptions: DataOptions

    func reader() -> ImageInputs { ImageInputs(raw: raw, dataDirectory: dataOptions.locate) }
}

/// Many inputs: files and data set references, or a whole split.
struct ManyImageInputs: ParsableArguments {
    @Argument(help: ArgumentHelp("Images: PNG or PGM files, or MNIST references test:N, train:N, test:A-B.",
                                 valueName: "input"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Use a whole MNIST split (train or test) instead of listed inputs.", valueName: "split"))
    var split: MNISTSplit?

    @Option(help: ArgumentHelp("With --split, only its first n images.", valueName: "n"))
    var limit: Int?

    @OptionGroup var imageOptions: ImageOptions

    func validate() throws {
        guard inputs.isEmpty != (split == nil) else {
            throw ValidationError(inputs.isEmpty ? "give input images or --split" : "give input images or --split, not both")
        }
        if let limit {
            guard split != nil else { throw ValidationError("--limit goes with --split") }
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1, got \(limit)") }
        }
    }

    func load() throws -> [InputImage] {
        let reader = imageOptions.reader()
        if let split { return try reader.load(split: split, limit: limit) }
        return try reader.load(inputs)
    }
}

/// The model of a command that uses a trained VAE.
func loadModel(_ options: ModelOptions) throws -> MLPVAE {
    try Checkpoint.load(path: options.model).model
}

/// Checks an image output path before any work: extension and folder.
func checkImageOutput(_ path: String, flag: String = "-o") throws {
    try checkImageExtension(path, flag: flag)
    try checkWritable(path, flag: flag)
}

/// Writes `object` as pretty JSON, atomically.
func writeJSON(_ object: [String: Any], to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(Array(data) + [10], to: path)
}

/// Rows of tiles, each row the same length.
func writeGrid(_ rows: [[GrayImage]], to path: String) throws -> GrayImage {
    let columns = rows.map(\.count).max() ?? 1
    let blank = GrayImage(width: 28, height: 28, pixels: [UInt8](repeating: 0, count: 784))
    let tiles = rows.flatMap { $0 + Array(repeating: blank, count: columns - $0.count) }
    let grid = makeGrid(tiles: tiles, columns: columns)
    try grid.write(path: path)
    return grid
}
