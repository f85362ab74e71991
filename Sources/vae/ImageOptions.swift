import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEModels
import VAEPlots

/// How image inputs are read: MNIST-style preprocessing unless `--raw`, and
/// where the data set is for `test:N` references.
struct ImageOptions: ParsableArguments {
    @Flag(help: "Take image files as they are (28x28, white on black): no MNIST-style preprocessing.")
    var raw = false

    @Option(help: ArgumentHelp("For a conditional model, the digit of the inputs: one for all, or one per input in order (test:N and train:N inputs otherwise use their own label).",
                               valueName: "d|d1,d2,..."))
    var label: CommaSeparated<Int>?

    @OptionGroup var dataOptions: DataOptions

    func validate() throws { _ = try labels() }

    func reader() -> ImageInputs { ImageInputs(raw: raw, dataDirectory: dataOptions.locate) }

    /// The digits given with --label, or nil.
    func labels() throws -> [Int]? {
        try label?.checked("--label", in: 0...65_535, counts: 1...100_000, what: "class numbers")
    }

    /// What `model` needs besides the pixels of `inputs`: nothing (nil) for an
    /// unconditional model, else one-hot rows of each input's label, from
    /// --label or the data set.
    func conditions(for inputs: [InputImage], model: any VariationalModel, modelPath: String) throws -> [[Float]]? {
        guard model.configuration.isConditional else { return try noLabels(modelPath) }
        let given = try labels()
        if let given, given.count != 1 && given.count != inputs.count {
            throw CLIError("--label gives \(given.count) labels for \(inputs.count) inputs; give one for all or one per input")
        }
        let labels = try inputs.enumerated().map { i, input -> Int in
            guard let label = given.map({ $0.count == 1 ? $0[0] : $0[i] }) ?? input.label else {
                throw CLIError("\(modelPath) is a conditional model: give the digit of \(input.source) with --label (test:N and train:N inputs carry their own)")
            }
            return label
        }
        return try oneHotConditions(labels: labels, model: model, modelPath: modelPath, flag: "--label")
    }

    /// The one-hot label a conditional model draws with when there is no
    /// input image (--label d, required); nil for an unconditional model.
    func drawingCondition(model: any VariationalModel, modelPath: String) throws -> [Float]? {
        guard model.configuration.isConditional else { return try noLabels(modelPath) }
        guard let labels = try labels(), labels.count == 1 else {
            throw CLIError("\(modelPath) is a conditional model: give the digit to draw with --label d")
        }
        return try oneHotConditions(labels: labels, model: model, modelPath: modelPath, flag: "--label")?[0]
    }

    /// What an unconditional model needs besides pixels: nothing, and --label is a mistake.
    private func noLabels<T>(_ modelPath: String) throws -> T? {
        if label != nil { throw CLIError("--label: \(modelPath) is not a conditional model, so it takes no labels") }
        return nil
    }
}

/// One-hot rows of `labels` for a conditional model, checked against its classes.
func oneHotConditions(labels: [Int], model: any VariationalModel, modelPath: String, flag: String) throws -> [[Float]]? {
    let classes = model.configuration.classes
    if let bad = labels.first(where: { !(0..<classes).contains($0) }) {
        throw CLIError("\(flag) \(bad): \(modelPath) knows classes 0-\(classes - 1)")
    }
    return model.conditions(labels: labels)
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

    /// The inputs, checked against the model that will read them.
    func load(for model: any VariationalModel) throws -> [InputImage] {
        let reader = imageOptions.reader()
        let images = try split.map { try reader.load(split: $0, limit: limit) } ?? reader.load(inputs)
        try model.checkInput(images)
        return images
    }
}

/// The model of a command that uses a trained VAE.
func loadModel(_ options: ModelOptions) throws -> any VariationalModel {
    try Checkpoint.load(path: options.model).model
}

/// Rows of tiles, each row the same length, written as one image.
func writeGrid(_ rows: [[GrayImage]], to path: String) throws -> GrayImage {
    let columns = rows.map(\.count).max() ?? 1
    let blank = GrayImage(width: 28, height: 28, pixels: [UInt8](repeating: 0, count: 784))
    let tiles = rows.flatMap { $0 + Array(repeating: blank, count: columns - $0.count) }
    let grid = makeGrid(tiles: tiles, columns: columns)
    try grid.write(path: path)
    return grid
}
