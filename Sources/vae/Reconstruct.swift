import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEModels

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Reconstruct images through the model, optionally after corrupting them (denoising).",
        discussion: "Each image is encoded to μ and decoded. With --noise σ, Gaussian noise of that standard deviation is added first (clipped to [0, 1]); with --mask p, each pixel is blanked with probability p; --corrupt takes any corruption `vae train --corrupt` does (noise:σ, mask:p, saltpepper:p). The picture has, per block of up to 10 images, a row of inputs, a row of corrupted inputs (if any), and a row of reconstructions. The mean squared error per pixel against the clean input is printed for the reconstruction (and for the corrupted input, to compare).")

    @OptionGroup var inputs: ManyImageInputs

    @Option(help: ArgumentHelp("Add Gaussian noise of this standard deviation before encoding (as --corrupt noise:σ).", valueName: "σ"))
    var noise: Float?

    @Option(help: ArgumentHelp("Blank each pixel with this probability before encoding (as --corrupt mask:p).", valueName: "p"))
    var mask: Float?

    @Option(help: ArgumentHelp("Corrupt each input before encoding: noise:σ, mask:p or saltpepper:p.", valueName: "kind:amount"))
    var corrupt: String?

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm.", valueName: "path"))
    var output = "reconstruction.png"

    @Option(help: ArgumentHelp("Also write the figures as JSON.", valueName: "path"))
    var json: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard [noise != nil, mask != nil, corrupt != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("use one of --noise, --mask and --corrupt")
        }
        if let noise, !(noise.isFinite && noise >= 0 && noise <= 10) { throw ValidationError("--noise must be in 0...10, got \(noise)") }
        if let mask, !(mask >= 0 && mask <= 1) { throw ValidationError("--mask must be in 0...1, got \(mask)") }
        if let corrupt { _ = try parseCorruption(corrupt) }
        try checkImageExtension(output, flag: "-o")
    }

    /// The corruption asked for, by whichever flag.
    var corruption: Corruption? { corrupt.flatMap { Corruption(spec: $0) } ?? noise.map(Corruption.noise) ?? mask.map(Corruption.mask) }

    func run() throws {
        threadOptions.apply()
        let loaded = try loadModel(modelOptions)
        let model = loaded.model
        try checkImageOutput(output, model: model)
        if let json { try checkWritable(json, flag: "--json") }
        let images = try inputs.load(for: loaded)
        let conditions = try inputs.imageOptions.conditions(for: images, loaded: loaded, modelPath: modelOptions.model)
        let result = reconstruct(images.map(\.pixels), model: model, conditions: conditions, corruption: corruption, seed: seedOptions.seed)

        var rows: [[Picture]] = []
        for lower in stride(from: 0, to: images.count, by: 10) {
            let block = lower..<min(lower + 10, images.count)
            rows.append(block.map { model.picture(result.clean[$0]) })
            if let corrupted = result.corrupted { rows.append(block.map { model.picture(corrupted[$0]) }) }
            rows.append(block.map { model.picture(result.reconstructions[$0]) })
        }
        let grid = try writeGrid(rows, to: output)
        var line = String(format: "%d images; mean squared error per pixel: reconstruction %.5f", images.count, result.reconstructionError)
        if let inputError = result.corruptedError { line += String(format: ", corrupted input %.5f", inputError) }
        print(line)
        print("wrote \(output) (\(grid.width)x\(grid.height))")
        if let json {
            var doc: [String: Any] = ["n": images.count, "mse_reconstruction": result.reconstructionError, "sources": images.map(\.source)]
            if let inputError = result.corruptedError { doc["mse_corrupted"] = inputError }
            if let corruption { doc["corruption"] = corruption.spec }
            if let noise { doc["noise"] = Double(noise) }
            if let mask { doc["mask"] = Double(mask) }
            try writeJSON(doc, to: json)
        }
    }
}
