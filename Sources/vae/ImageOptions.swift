import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEModels
import VAEPlots

/// How image inputs are read: MNIST-style preprocessing (for a 28x28 grey
/// model) or resizing to the model's shape unless `--raw`, and where the
/// data set is for `test:N` references; a conditional model's labels.
struct ImageOptions: ParsableArguments {
    @Flag(help: "Take image files as they are (the model's size; for a 28x28 grey model, white on black): no preprocessing or resizing.")
    var raw = false

    @Option(help: ArgumentHelp("For a conditional model, the class of the inputs (a name or a number): one for all, or one per input in order (test:N and train:N inputs otherwise use their own label).",
                               valueName: "c|c1,c2,..."))
    var label: CommaSeparated<String>?

    @OptionGroup var dataOptions: DataOptions

    /// A reader of inputs for this model.
    func reader(for loaded: Checkpoint.Loaded) -> ImageInputs {
        ImageInputs(raw: raw, shape: loaded.model.configuration.shape, loading: dataOptions.loading(for: loaded),
                    checkData: loaded.checkData, dataDirectory: dataOptions.locate)
    }

    /// The classes given with --label, as numbers of this model's classes.
    func labels(for loaded: Checkpoint.Loaded, path: String) throws -> [Int]? {
        guard let label else { return nil }
        let classes = loaded.model.configuration.classes
        return try label.values.map { name in
            guard let index = loaded.trainingData.classIndex(name, count: classes) else {
                throw CLIError("--label \(name): \(path) knows classes \(classList(loaded))")
            }
            return index
        }
    }

    /// What the model needs besides the pixels of `inputs`: nothing (nil) for an
    /// unconditional model, else one-hot rows of each input's label, from
    /// --label or the data set.
    func conditions(for inputs: [InputImage], loaded: Checkpoint.Loaded, modelPath: String) throws -> [[Float]]? {
        guard loaded.model.configuration.isConditional else { return try noLabels(modelPath) }
        let given = try labels(for: loaded, path: modelPath)
        if let given, given.count != 1 && given.count != inputs.count {
            throw CLIError("--label gives \(given.count) labels for \(inputs.count) inputs; give one for all or one per input")
        }
        let labels = try inputs.enumerated().map { i, input -> Int in
            guard let label = given.map({ $0.count == 1 ? $0[0] : $0[i] }) ?? input.label else {
                throw CLIError("\(modelPath) is a conditional model: give the class of \(input.source) with --label (test:N and train:N inputs carry their own)")
            }
            return label
        }
        return try oneHotConditions(labels: labels, loaded: loaded, modelPath: modelPath, flag: "--label")
    }

    /// The one-hot label a conditional model draws with when there is no
    /// input image (--label c, required); nil for an unconditional model.
    func drawingCondition(loaded: Checkpoint.Loaded, modelPath: String) throws -> [Float]? {
        guard loaded.model.configuration.isConditional else { return try noLabels(modelPath) }
        guard let labels = try labels(for: loaded, path: modelPath), labels.count == 1 else {
            throw CLIError("\(modelPath) is a conditional model: give the class to draw with --label c")
        }
        return try oneHotConditions(labels: labels, loaded: loaded, modelPath: modelPath, flag: "--label")?[0]
    }

    /// What an unconditional model needs besides pixels: nothing, and --label is a mistake.
    private func noLabels<T>(_ modelPath: String) throws -> T? {
        if label != nil { throw CLIError("--label: \(modelPath) is not a conditional model, so it takes no labels") }
        return nil
    }
}

/// A model's classes, for messages: "0-9", or their names.
func classList(_ loaded: Checkpoint.Loaded) -> String {
    let classes = loaded.model.configuration.classes
    return loaded.trainingData.classNames?.joined(separator: ", ") ?? "0-\(classes - 1)"
}

/// One-hot rows of `labels` for a conditional model, checked against its classes.
func oneHotConditions(labels: [Int], loaded: Checkpoint.Loaded, modelPath: String, flag: String) throws -> [[Float]]? {
    let classes = loaded.model.configuration.classes
    if let bad = labels.first(where: { !(0..<classes).contains($0) }) {
        throw CLIError("\(flag) \(bad): \(modelPath) knows classes \(classList(loaded))")
    }
    return loaded.model.conditions(labels: labels)
}

/// Many inputs: files and data set references, or a whole split.
struct ManyImageInputs: ParsableArguments {
    @Argument(help: ArgumentHelp("Images: PNG or PGM files, or data set references test:N, train:N, test:A-B.",
                                 valueName: "input"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Use a whole split of the data set (train or test) instead of listed inputs.", valueName: "split"))
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

    /// The inputs, made to fit the model that will read them.
    func load(for loaded: Checkpoint.Loaded) throws -> [InputImage] {
        let reader = imageOptions.reader(for: loaded)
        let images = try split.map { try reader.load(split: $0, limit: limit) } ?? reader.load(inputs)
        try loaded.model.checkInput(images)
        return images
    }
}

/// The model of a command that uses a trained VAE, with what it was trained on.
func loadModel(_ options: ModelOptions) throws -> Checkpoint.Loaded {
    try Checkpoint.load(path: options.model)
}

/// Rows of tiles, written as one grid (short rows filled out with black tiles).
func writeGrid(_ rows: [[Picture]], to path: String) throws -> Picture {
    let grid = makeGrid(rows: rows)
    try grid.write(path: path)
    return grid
}

/// `--labels`: names beside an image grid's rows and above its columns, drawn
/// with the chart library (so the output is .png, .svg or .pdf).
struct GridLabelOptions: ParsableArguments {
    @Flag(help: "Name the grid's rows and columns (classes, steps, dimensions); the output is then .png, .svg or .pdf.")
    var labels = false

    /// The output's extension: an image (.png, .pgm), or with --labels a chart format.
    func checkExtension(_ output: String) throws {
        if labels { try checkChartExtension(output, flag: "-o") } else { try checkImageExtension(output, flag: "-o") }
    }

    /// The output before any work.
    func checkOutput(_ output: String, model: any VariationalModel) throws {
        if labels { try checkChartOutput(output, flag: "-o") } else { try checkImageOutput(output, model: model) }
    }

    /// Writes rows of tiles as one grid, named when --labels asks; returns its size in pixels (points for SVG and PDF).
    func write(_ rows: [[Picture]], rowNames: [String] = [], columnNames: [String] = [], axes: String? = nil,
               to path: String) throws -> (width: Int, height: Int) {
        guard labels else {
            let grid = try writeGrid(rows, to: path)
            return (grid.width, grid.height)
        }
        let figure = Figure(LabelledGrid(rows: rows, rowNames: rowNames, columnNames: columnNames, axes: axes))
        try figure.write(to: path)
        return (Int(figure.size.width.rounded(.up)), Int(figure.size.height.rounded(.up)))
    }
}

/// A latent coordinate for a grid label: at most `decimals` decimals, no
/// trailing zeros, a true minus sign (and a plus sign when `signed`).
func coordinateName(_ value: Double, decimals: Int = 2, signed: Bool = false) -> String {
    var text = String(format: "%.\(decimals)f", abs(value))
    if text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    if text == "0" { return text }
    return value < 0 ? "−" + text : (signed ? "+" + text : text)
}
