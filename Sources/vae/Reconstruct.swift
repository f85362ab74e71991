import ArgumentParser
import Foundation
import VAEData
import VAEEngine
import VAETraining

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstruct images through the model, optionally after corrupting them (denoising).",
        discussion: "Each image is encoded to μ and decoded. With --noise σ, Gaussian noise of that standard deviation is added first (clipped to [0, 1]); with --mask p, each pixel is blanked with probability p. The picture has, per block of up to 10 images, a row of inputs, a row of corrupted inputs (if any), and a row of reconstructions. The mean squared error per pixel against the clean input is printed for the reconstruction (and for the corrupted input, to compare).")

    @OptionGroup var inputs: ManyImageInputs

    @Option(help: ArgumentHelp("Add Gaussian noise of this standard deviation before encoding.", valueName: "σ"))
    var noise: Float?

    @Option(help: ArgumentHelp("Blank each pixel with this probability before encoding.", valueName: "p"))
    var mask: Float?

    @Option(name: .short, help: ArgumentHelp("Output image: .png or .pgm.", valueName: "path"))
    var output = "reconstruction.png"

    @Option(help: ArgumentHelp("Also write the figures as JSON.", valueName: "path"))
    var json: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if noise != nil && mask != nil { throw ValidationError("use --noise or --mask, not both") }
        if let noise, !(noise.isFinite && noise >= 0 && noise <= 10) { throw ValidationError("--noise must be in 0...10, got \(noise)") }
        if let mask, !(mask >= 0 && mask <= 1) { throw ValidationError("--mask must be in 0...1, got \(mask)") }
        try checkImageExtension(output, flag: "-o")
    }

    func run() throws {
        threadOptions.apply()
        try checkImageOutput(output)
        if let json { try checkWritable(json, flag: "--json") }
        let model = try loadModel(modelOptions)
        let images = try inputs.load()
        var rng = RandomGenerator(seed: seedOptions.seed, stream: .corruption)
        let clean = images.map(\.pixels)
        let corrupted: [[Float]]? = (noise != nil || mask != nil) ? clean.map { corrupt($0, rng: &rng) } : nil
        let conditions = try inputs.imageOptions.conditions(for: images, model: model, modelPath: modelOptions.model)
        let recon = model.decodedIntensities(model.encodings(corrupted ?? clean, conditions: conditions).map(\.mu),
                                             conditions: conditions)
        let reconError = zip(recon, clean).map(meanSquaredError).reduce(0, +) / Double(clean.count)
        let inputError = corrupted.map { zip($0, clean).map(meanSquaredError).reduce(0, +) / Double(clean.count) }

        var rows: [[GrayImage]] = []
        for lower in stride(from: 0, to: clean.count, by: 10) {
            let block = lower..<min(lower + 10, clean.count)
            rows.append(block.map { grayImage(clean[$0]) })
            if let corrupted { rows.append(block.map { grayImage(corrupted[$0]) }) }
            rows.append(block.map { grayImage(recon[$0]) })
        }
        let grid = try writeGrid(rows, to: output)
        var line = String(format: "%d images; mean squared error per pixel: reconstruction %.5f", clean.count, reconError)
        if let inputError { line += String(format: ", corrupted input %.5f", inputError) }
        print(line)
        print("wrote \(output) (\(grid.width)x\(grid.height))")
        if let json {
            var doc: [String: Any] = ["n": clean.count, "mse_reconstruction": reconError, "sources": images.map(\.source)]
            if let inputError { doc["mse_corrupted"] = inputError }
            if let noise { doc["noise"] = Double(noise) }
            if let mask { doc["mask"] = Double(mask) }
            try writeJSON(doc, to: json)
        }
    }

    func corrupt(_ x: [Float], rng: inout RandomGenerator) -> [Float] {
        if let noise {
            var eps = [Float](repeating: 0, count: x.count)
            eps.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: $0.count) }
            return zip(x, eps).map { min(max($0 + noise * $1, 0), 1) }
        }
        let p = mask ?? 0
        return x.map { rng.uniform() < p ? 0 : $0 }
    }
}
