import ArgumentParser
import VAEInference

struct Arithmetic: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arithmetic",
        abstract: "Latent arithmetic: decode μ(A) − μ(B) + μ(C).",
        discussion: "The picture shows A, B, C and the result, in that order. With A a slanted 7, B a slanted 1 and C an upright 1, the result tends to be an upright 7. A conditional model decodes the result with A's label (z carries the style, the label the digit).")

    @Argument(help: ArgumentHelp("Image A: a PNG/PGM file or test:N / train:N.", valueName: "a"))
    var a: String
    @Argument(help: ArgumentHelp("Image B (subtracted).", valueName: "b"))
    var b: String
    @Argument(help: ArgumentHelp("Image C (added).", valueName: "c"))
    var c: String

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm.", valueName: "path"))
    var output = "arithmetic.png"

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var imageOptions: ImageOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws { try checkImageExtension(output, flag: "-o") }

    func run() throws {
        threadOptions.apply(light: true)
        let loaded = try loadModel(modelOptions)
        let model = loaded.model
        try checkImageOutput(output, model: model)
        let reader = imageOptions.reader(for: loaded)
        let inputs = try [a, b, c].map(reader.loadOne)
        try model.checkInput(inputs)
        let conditions = try imageOptions.conditions(for: inputs, loaded: loaded, modelPath: modelOptions.model)
        let mu = model.encodings(inputs.map(\.pixels), conditions: conditions).map(\.point)
        let result = model.decodedPictures([analogy(mu[0], minus: mu[1], plus: mu[2])], conditions: conditions.map { [$0[0]] })
        let grid = try writeGrid([inputs.map { model.picture($0.pixels) } + result], to: output)
        print("wrote \(output) (\(grid.width)x\(grid.height)): \(a) − \(b) + \(c)")
    }
}
