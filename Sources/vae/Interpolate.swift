import ArgumentParser
import VAEInference

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interpolate",
        abstract: "Morph one image into another through the latent space.",
        discussion: "Encodes A and B to their means μ, decodes points along the line between them (or the great circle with --slerp), and writes one strip: A, the decoded steps from A's μ to B's μ, then B (inputs as the model saw them). With a conditional model the one-hot label moves linearly from A's digit to B's as well.")

    @Argument(help: ArgumentHelp("The first image: a PNG/PGM file or test:N / train:N.", valueName: "a"))
    var a: String
    @Argument(help: ArgumentHelp("The second image.", valueName: "b"))
    var b: String

    @Option(help: "Decoded images from A to B, both ends included.")
    var steps = 10

    @Flag(help: "Interpolate along the great circle (slerp) instead of a straight line.")
    var slerp = false

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm (with --labels: .png, .svg or .pdf).", valueName: "path"))
    var output = "interpolation.png"

    @OptionGroup var gridLabels: GridLabelOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var imageOptions: ImageOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (2...100).contains(steps) else { throw ValidationError("--steps must be in 2...100, got \(steps)") }
        try gridLabels.checkExtension(output)
    }

    func run() throws {
        threadOptions.apply(light: true)
        let loaded = try loadModel(modelOptions)
        let model = loaded.model
        try gridLabels.checkOutput(output, model: model)
        let reader = imageOptions.reader(for: loaded)
        let inputs = try [a, b].map(reader.loadOne)
        try model.checkInput(inputs)
        let conditions = try imageOptions.conditions(for: inputs, loaded: loaded, modelPath: modelOptions.model)
        let codes = model.encodings(inputs.map(\.pixels), conditions: conditions)
        let path = interpolate(codes[0].point, codes[1].point, steps: steps, spherical: slerp)
        let labelPath = conditions.map { interpolate($0[0], $0[1], steps: steps, spherical: false) }
        let strip = [model.picture(inputs[0].pixels)] + model.decodedPictures(path, conditions: labelPath) + [model.picture(inputs[1].pixels)]
        let fractions = (0..<steps).map { coordinateName(Double($0) / Double(steps - 1)) }
        let grid = try gridLabels.write([strip], columnNames: ["a"] + fractions + ["b"], axes: "t", to: output)
        print("wrote \(output) (\(grid.width)x\(grid.height)): \(a), \(steps) \(slerp ? "slerp" : "linear") steps, \(b)")
    }
}
