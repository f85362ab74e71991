import ArgumentParser
import VAEData
import VAETraining

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw new images from a trained model into a grid.",
        discussion: "Decodes n draws z ~ N(0, I); each pixel is the decoder's Bernoulli mean as a grey level. With --manifold (a model with a 2-D latent space), decodes instead a grid of z at evenly spaced quantiles of N(0, 1), --nrow a side (default 20).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(name: .short, help: "Number of images.")
    var n = 16

    @Option(help: ArgumentHelp("Images per grid row (default: near-square, ⌈√n⌉).", valueName: "k"))
    var nrow: Int?

    @Flag(help: "Draw the latent manifold of a 2-D model instead of random samples.")
    var manifold = false

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm.", valueName: "path"))
    var output = "samples.png"

    func validate() throws {
        guard (1...10_000).contains(n) else { throw ValidationError("-n must be in 1...10000, got \(n)") }
        if let nrow, !(1...(manifold ? 100 : 10_000)).contains(nrow) {
            throw ValidationError("--nrow must be in 1...\(manifold ? 100 : 10_000), got \(nrow)")
        }
        try checkImageExtension(output, flag: "-o")
    }

    func run() throws {
        threadOptions.apply()
        try checkWritable(output, flag: "-o")
        let model = try loadModel(modelOptions)
        if manifold {
            guard model.configuration.latent == 2 else {
                throw CLIError("--manifold needs a model with a 2-D latent space; \(modelOptions.model) has \(model.configuration.latent) (train one with --latent 2)")
            }
            let side = nrow ?? 20
            let grid = makeGrid(tiles: model.decodedImages(manifoldLatents(side: side)), columns: side)
            try grid.write(path: output)
            print("wrote the \(side)x\(side) latent manifold to \(output) (\(grid.width)x\(grid.height))")
            return
        }
        let images = sampleImages(model: model, count: n, seed: seedOptions.seed)
        let grid = makeGrid(tiles: images, columns: nrow ?? nearSquareColumns(n))
        try grid.write(path: output)
        print("wrote \(n) samples to \(output) (\(grid.width)x\(grid.height))")
    }
}
