import ArgumentParser
import VAEData
import VAEInference
import VAEPlots

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw new images from a trained model into a grid.",
        discussion: "Decodes n draws z ~ N(0, I); each pixel is the decoder's Bernoulli mean as a grey level. With --manifold (a model with a 2-D latent space), decodes instead a grid of z at evenly spaced quantiles of N(0, 1), --nrow a side (default 20). A conditional model draws the digit given with --digit; without it, one row per class (⌈n / classes⌉ images per row, default 10), the same z down each column, so a column shows one style across every digit.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(name: .short, help: ArgumentHelp("Number of images (default: 16, or 10 per class for a conditional model without --digit).", valueName: "n"))
    var n: Int?

    @Option(help: ArgumentHelp("The digit a conditional model draws.", valueName: "d"))
    var digit: Int?

    @Option(help: ArgumentHelp("Images per grid row (default: near-square, ⌈√n⌉).", valueName: "k"))
    var nrow: Int?

    @Flag(help: "Draw the latent manifold of a 2-D model instead of random samples.")
    var manifold = false

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm.", valueName: "path"))
    var output = "samples.png"

    func validate() throws {
        if let n, !(1...10_000).contains(n) { throw ValidationError("-n must be in 1...10000, got \(n)") }
        if let digit, digit < 0 { throw ValidationError("--digit must be a class number (0-9 for MNIST), got \(digit)") }
        if let nrow, !(1...(manifold ? 100 : 10_000)).contains(nrow) {
            throw ValidationError("--nrow must be in 1...\(manifold ? 100 : 10_000), got \(nrow)")
        }
        try checkImageExtension(output, flag: "-o")
    }

    func run() throws {
        // A few hundred images: the grid of a manifold, or n samples (default 16, or 10 per class).
        threadOptions.apply(light: manifold ? (nrow ?? 20) <= 20 : (n ?? 100) <= 500)
        try checkWritable(output, flag: "-o")
        let model = try loadModel(modelOptions)
        let classes = model.configuration.classes
        if let digit {
            guard model.configuration.isConditional else {
                throw CLIError("--digit: \(modelOptions.model) is not a conditional model; train one with vae train --conditional")
            }
            guard digit < classes else { throw CLIError("--digit \(digit): \(modelOptions.model) knows classes 0-\(classes - 1)") }
        }
        if manifold {
            guard model.hasStandardNormalPrior else {
                throw CLIError("--manifold: \(modelOptions.model)'s prior is not N(0, I) over z, so its quantiles mean nothing")
            }
            guard model.latentSize == 2 else {
                throw CLIError("--manifold needs a model with a 2-D latent space; \(modelOptions.model) has \(model.latentSize) (train one with --latent 2)")
            }
            if model.configuration.isConditional && digit == nil {
                throw CLIError("--manifold: \(modelOptions.model) is a conditional model; choose the digit with --digit")
            }
            let side = nrow ?? 20
            let latents = manifoldLatents(side: side)
            let labels = digit.map { Array(repeating: $0, count: latents.count) }
            let grid = makeGrid(tiles: model.decodedImages(latents, conditions: labels.flatMap(model.conditions(labels:))), columns: side)
            try grid.write(path: output)
            print("wrote the \(side)x\(side) latent manifold to \(output) (\(grid.width)x\(grid.height))")
            return
        }
        if model.configuration.isConditional && digit == nil {
            // One row per class; column j uses the same z in every row.
            let perClass = n.map { max(1, ($0 + classes - 1) / classes) } ?? 10
            let columnImages = (0..<classes).map { c in
                sampleImages(model: model, count: perClass, labels: Array(repeating: c, count: perClass), seed: seedOptions.seed)
            }
            let grid = makeGrid(tiles: columnImages.flatMap { $0 }, columns: perClass)
            try grid.write(path: output)
            print("wrote \(perClass) samples of each of \(classes) classes to \(output) (\(grid.width)x\(grid.height)), one row per class")
            return
        }
        let count = n ?? 16
        let images = sampleImages(model: model, count: count, labels: digit.map { Array(repeating: $0, count: count) },
                                  seed: seedOptions.seed)
        let grid = makeGrid(tiles: images, columns: nrow ?? nearSquareColumns(count))
        try grid.write(path: output)
        print("wrote \(count) samples\(digit.map { " of digit \($0)" } ?? "") to \(output) (\(grid.width)x\(grid.height))")
    }
}
