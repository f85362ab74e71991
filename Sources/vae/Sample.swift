import ArgumentParser
import VAEData
import VAEInference
import VAEModels
import VAEPlots

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw new images from a trained model into a grid.",
        discussion: "Decodes n draws z ~ N(0, I) (a VQ-VAE: grids of codes drawn by its PixelCNN prior, position by position); each pixel is the decoder's mean, in grey or colour as the model draws. With --manifold (a model with a 2-D latent space), decodes instead a grid of z at evenly spaced quantiles of N(0, 1), --nrow a side (default 20). A conditional model draws the class given with --class (a name or a number; --digit d for MNIST); without it, one row per class (⌈n / classes⌉ images per row, default 10), the same z down each column, so a column shows one style across every class.")

    @OptionGroup var gridLabels: GridLabelOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(name: .short, help: ArgumentHelp("Number of images (default: 16, or 10 per class for a conditional model without --class).", valueName: "n"))
    var n: Int?

    @Option(name: .customLong("class"), help: ArgumentHelp("The class a conditional model draws: its name (a folder's) or its number.", valueName: "name|c"))
    var className: String?

    @Option(help: ArgumentHelp("The digit a conditional MNIST model draws (as --class d).", valueName: "d"))
    var digit: Int?

    @Option(help: ArgumentHelp("Images per grid row (default: near-square, ⌈√n⌉).", valueName: "k"))
    var nrow: Int?

    @Option(help: ArgumentHelp("Sampling temperature: a VQ-VAE's prior draws each code from softmax(logits / T); a model with an N(0, I) prior draws z ~ N(0, T²I) (default: 1; below 1, fewer odd samples and less variety).",
                               valueName: "T"))
    var temperature: Float?

    @Flag(help: "Draw the latent manifold of a 2-D model instead of random samples.")
    var manifold = false

    @Option(name: .short, help: ArgumentHelp("Output image: .png, or .pgm for a grey model (with --labels: .png, .svg or .pdf).", valueName: "path"))
    var output = "samples.png"

    func validate() throws {
        if let n, !(1...10_000).contains(n) { throw ValidationError("-n must be in 1...10000, got \(n)") }
        if let digit, digit < 0 { throw ValidationError("--digit must be a class number (0-9 for MNIST), got \(digit)") }
        if digit != nil && className != nil { throw ValidationError("use --class or --digit, not both") }
        if let temperature, !(temperature.isFinite && temperature > 0 && temperature <= 100) {
            throw ValidationError("--temperature must be in (0, 100], got \(temperature)")
        }
        if manifold && temperature != nil { throw ValidationError("--temperature goes with random samples, not --manifold") }
        if let nrow, !(1...(manifold ? 100 : 10_000)).contains(nrow) {
            throw ValidationError("--nrow must be in 1...\(manifold ? 100 : 10_000), got \(nrow)")
        }
        try gridLabels.checkExtension(output)
    }

    /// The class asked for, as a number of the model's classes, or nil.
    func chosenClass(_ loaded: Checkpoint.Loaded) throws -> Int? {
        guard let asked = className ?? digit.map(String.init) else { return nil }
        let flag = className != nil ? "--class" : "--digit", classes = loaded.model.configuration.classes
        guard loaded.model.configuration.isConditional else {
            throw CLIError("\(flag): \(modelOptions.model) is not a conditional model; train one with vae train --conditional")
        }
        guard let index = loaded.trainingData.classIndex(asked, count: classes) else {
            throw CLIError("\(flag) \(asked): \(modelOptions.model) knows classes \(classList(loaded))")
        }
        return index
    }

    func run() throws {
        // A few hundred images: the grid of a manifold, or n samples (default 16, or 10 per class).
        threadOptions.apply(light: manifold ? (nrow ?? 20) <= 20 : (n ?? 100) <= 500)
        let loaded = try loadModel(modelOptions)
        let model = loaded.model
        // A VQ-VAE's draw is heavy (its prior walks the code grid, its decoder is convolutional): every core pays.
        if model is VQVAE { threadOptions.apply() }
        try gridLabels.checkOutput(output, model: model)
        let classes = model.configuration.classes
        let chosen = try chosenClass(loaded)
        if manifold {
            guard model.hasGaussianPrior else {
                throw CLIError("--manifold: \(modelOptions.model)'s prior is not a Gaussian over z, so its quantiles mean nothing"
                               + (model is VQVAE ? " (a VQ-VAE's latents are discrete codes)" : ""))
            }
            guard model.latentSize == 2 else {
                throw CLIError("--manifold needs a model with a 2-D latent space; \(modelOptions.model) has \(model.latentSize) (train one with --latent 2)")
            }
            if model.configuration.isConditional && chosen == nil {
                throw CLIError("--manifold: \(modelOptions.model) is a conditional model; choose the class with --class")
            }
            let side = nrow ?? 20
            let latents = manifoldLatents(side: side)
            let labels = chosen.map { Array(repeating: $0, count: latents.count) }
            let conditions = labels.flatMap(model.conditions(labels:))
            let tiles = model.decodedPictures(model.priorPoints(latents, conditions: conditions), conditions: conditions)
            let rows = stride(from: 0, to: tiles.count, by: side).map { Array(tiles[$0..<($0 + side)]) }
            // Row r holds z1 = latents[r·side][1]; column c, z0 = latents[c][0].
            let grid = try gridLabels.write(rows, rowNames: (0..<side).map { coordinateName(Double(latents[$0 * side][1])) },
                                            columnNames: (0..<side).map { coordinateName(Double(latents[$0][0])) }, axes: "z₁ \\ z₀",
                                            to: output)
            print("wrote the \(side)x\(side) latent manifold to \(output) (\(grid.width)x\(grid.height))")
            return
        }
        if let problem = model.priorProblem { throw CLIError("\(modelOptions.model): \(problem)") }
        let temperature = self.temperature ?? 1
        if temperature != 1 && !model.hasGaussianPrior && !(model is VQVAE) {
            throw CLIError("--temperature: \(modelOptions.model) draws z ancestrally through its layers; temperature goes with an N(0, I) prior or a VQ-VAE's")
        }
        if model.configuration.isConditional && chosen == nil {
            // One row per class; column j uses the same z in every row.
            let perClass = n.map { max(1, ($0 + classes - 1) / classes) } ?? 10
            let rows = (0..<classes).map { c in
                sampleImages(model: model, count: perClass, labels: Array(repeating: c, count: perClass), seed: seedOptions.seed,
                             temperature: temperature)
            }
            let grid = try gridLabels.write(rows, rowNames: (0..<classes).map(loaded.trainingData.className), axes: "class", to: output)
            print("wrote \(perClass) samples of each of \(classes) classes to \(output) (\(grid.width)x\(grid.height)), one row per class")
            return
        }
        if gridLabels.labels {
            throw CLIError("--labels names the rows of a conditional model's grid (one class a row) or a manifold's coordinates; these samples have none")
        }
        let count = n ?? 16
        let images = sampleImages(model: model, count: count, labels: chosen.map { Array(repeating: $0, count: count) },
                                  seed: seedOptions.seed, temperature: temperature)
        let grid = makeGrid(tiles: images, columns: nrow ?? nearSquareColumns(count))
        try grid.write(path: output)
        print("wrote \(count) samples\(chosen.map { " of class \(loaded.trainingData.className($0))" } ?? "") to \(output) (\(grid.width)x\(grid.height))")
    }
}
