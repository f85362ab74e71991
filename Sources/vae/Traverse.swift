import ArgumentParser
import VAEInference
import VAEModels

struct Traverse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traverse",
        abstract: "Vary one latent dimension at a time: the β-VAE disentanglement picture.",
        discussion: "One row per dimension: the latent point (the input's μ, or 0 without an input) with that dimension moved through evenly spaced values from −range to +range. A conditional model decodes every image with the input's label (--label d, needed when there is no input).")

    @Argument(help: ArgumentHelp("An image to start from (file or test:N); without one, z = 0.", valueName: "input"))
    var input: String?

    @Option(help: ArgumentHelp("Dimensions to vary (default: all, at most the first 20).", valueName: "d1,d2,..."))
    var dims: CommaSeparated<Int>?

    @Option(help: "How far each dimension moves either side of its starting value.")
    var range: Float = 3

    @Option(help: "Images per row.")
    var steps = 9

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm (with --labels: .png, .svg or .pdf).", valueName: "path"))
    var output = "traverse.png"

    @OptionGroup var gridLabels: GridLabelOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var imageOptions: ImageOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (2...100).contains(steps) else { throw ValidationError("--steps must be in 2...100, got \(steps)") }
        guard range.isFinite, range > 0, range <= 100 else { throw ValidationError("--range must be in (0, 100], got \(range)") }
        if let dims { _ = try parseDims(dims, latent: nil) }
        try gridLabels.checkExtension(output)
    }

    func parseDims(_ list: CommaSeparated<Int>, latent: Int?) throws -> [Int] {
        let dims = try list.checked("--dims", in: 0...4095, what: "dimension numbers")
        if let latent, let bad = dims.first(where: { $0 >= latent }) {
            throw ValidationError("--dims: dimension \(bad) does not exist; the model's latent dimensions are 0-\(latent - 1)")
        }
        return dims
    }

    func run() throws {
        threadOptions.apply(light: true)
        let loaded = try loadModel(modelOptions)
        let model = loaded.model
        try gridLabels.checkOutput(output, model: model)
        guard model.hasGaussianPrior else {
            throw CLIError("\(modelOptions.model): its prior is not a Gaussian over z, so there are no dimensions to traverse by ±σ"
                           + (model is VQVAE ? " (a VQ-VAE's latents are discrete codes)" : ""))
        }
        let k = model.latentSize
        let dimensions = try dims.map { try parseDims($0, latent: k) } ?? Array(0..<min(k, 20))
        let condition: [Float]?, image: InputImage?
        if let input {
            let loadedImage = try imageOptions.reader(for: loaded).loadOne(input)
            try model.checkInput([loadedImage])
            image = loadedImage
            condition = try imageOptions.conditions(for: [loadedImage], loaded: loaded, modelPath: modelOptions.model)?[0]
        } else {
            image = nil
            condition = try imageOptions.drawingCondition(loaded: loaded, modelPath: modelOptions.model)
        }
        // The prior's centre and σ per dimension (0 and 1 for N(0, I)); a
        // traversal steps in σ of the prior, from the image's μ or the centre.
        let centre = model.priorPoints([[Float](repeating: 0, count: k), [Float](repeating: 1, count: k)],
                                       conditions: condition.map { [$0, $0] })
        let sigma = zip(centre[1], centre[0]).map { $0 - $1 }
        let base = image.map { model.encodings([$0.pixels], conditions: condition.map { [$0] })[0].point } ?? centre[0]
        let latents = traversal(base: base, dimensions: dimensions, range: range, steps: steps, scale: sigma)
        let tiles = model.decodedPictures(latents, conditions: condition.map { Array(repeating: $0, count: latents.count) })
        let rows = stride(from: 0, to: tiles.count, by: steps).map { Array(tiles[$0..<($0 + steps)]) }
        let offsets = (0..<steps).map { Double(-range + 2 * range * Float($0) / Float(steps - 1)) }
        let grid = try gridLabels.write(rows, rowNames: dimensions.map { "z\($0)" },
                                        columnNames: offsets.map { coordinateName($0, signed: true) }, axes: "dim \\ Δ", to: output)
        print("wrote \(output) (\(grid.width)x\(grid.height)): dimensions \(dimensions.map(String.init).joined(separator: ",")), ±\(range)")
    }
}
