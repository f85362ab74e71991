import ArgumentParser
import Foundation
import VAEData
import VAEInference
import VAEModels
import VAEPlots

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode images to their latent distributions q(z|x) = N(μ, σ²), or a VQ-VAE's codes.",
        discussion: "Writes one row per image: CSV with the header source,label,mu_0,…,mu_{k-1},logvar_0,…,logvar_{k-1} (label empty when unknown), or a float32 .npy array of shape [n, 2k] (μ then log σ²); a model with several stochastic layers has each layer's columns in turn, named z1_mu_0, …, z1_logvar_0, …, z2_mu_0, …. A VQ-VAE writes its code indices instead, one per grid position in raster order: CSV columns code_0, …, code_{P-1}, or an int32 .npy array of shape [n, height, width]. --plot draws the points the decoder would start from (μ): the two latent dimensions when there are two, else their first two principal components, coloured by digit.")

    @OptionGroup var inputs: ManyImageInputs

    @Option(name: .short, help: ArgumentHelp("Output table: .csv or .npy.", valueName: "path"))
    var output = "latents.csv"

    @Option(help: ArgumentHelp("Also draw the latent means as a scatter plot: .png, .svg or .pdf.", valueName: "path"))
    var plot: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        let lower = output.lowercased()
        guard lower.hasSuffix(".csv") || lower.hasSuffix(".npy") else {
            throw ValidationError("-o \(output): use a .csv or .npy extension")
        }
        if let plot { try checkChartExtension(plot, flag: "--plot") }
    }

    func run() throws {
        threadOptions.apply()
        try checkWritable(output, flag: "-o")
        if let plot { try checkChartOutput(plot, flag: "--plot") }
        let loaded = try loadModel(modelOptions)
        let model = loaded.model
        let images = try inputs.load(for: loaded)
        let conditions = try inputs.imageOptions.conditions(for: images, loaded: loaded, modelPath: modelOptions.model)
        let codes = model.encodings(images.map(\.pixels), conditions: conditions)
        if let vq = model as? VQVAE {
            try writeCodes(codes.map { $0.codes! }, images: images, grid: vq.grid)
        } else {
            try writeLatents(codes, images: images)
        }
        if let plot {
            let points = codes.map(\.point)
            let k = model.latentSize
            let figure: Figure
            if k == 2 {
                figure = Figures.latentScatter(points: points.map { (Double($0[0]), Double($0[1])) }, labels: images.map(\.label),
                                               classNames: loaded.trainingData.classNames, dimensions: k, explained: nil)
            } else {
                let pca = PrincipalProjection(points)
                figure = Figures.latentScatter(points: pca.coordinates.map { ($0.0, $0.1) }, labels: images.map(\.label),
                                               classNames: loaded.trainingData.classNames, dimensions: k, explained: pca.explained)
            }
            try figure.write(to: plot)
            print("plotted \(points.count) latent means to \(plot)")
        }
    }

    func writeLatents(_ codes: [ImageEncoding], images: [InputImage]) throws {
        let layers = codes.first?.layers.map(\.mu.count) ?? []
        let width = 2 * layers.reduce(0, +)
        let rows = codes.map { $0.layers.flatMap { $0.mu + $0.logVar } }
        if output.lowercased().hasSuffix(".npy") {
            try AtomicFile.write(NPY.encode(float32: rows.flatMap { $0 }, shape: [codes.count, width]), to: output)
        } else {
            let names = layers.enumerated().flatMap { i, k -> [String] in
                let prefix = layers.count == 1 ? "" : "z\(i + 1)_"
                return (0..<k).map { "\(prefix)mu_\($0)" } + (0..<k).map { "\(prefix)logvar_\($0)" }
            }
            try writeCSV(names: names, rows: rows.map { $0.map { "\($0)" } }, images: images)
        }
        print("encoded \(images.count) images to \(output) (k = \(layers.map(String.init).joined(separator: ", ")))")
    }

    /// A VQ-VAE's code grids.
    func writeCodes(_ grids: [[Int32]], images: [InputImage], grid: (height: Int, width: Int)) throws {
        let positions = grid.height * grid.width
        if output.lowercased().hasSuffix(".npy") {
            try AtomicFile.write(NPY.encode(int32: grids.flatMap { $0 }, shape: [grids.count, grid.height, grid.width]), to: output)
        } else {
            try writeCSV(names: (0..<positions).map { "code_\($0)" }, rows: grids.map { $0.map { "\($0)" } }, images: images)
        }
        print("encoded \(images.count) images to \(output) (\(grid.height)x\(grid.width) codes each)")
    }

    func writeCSV(names: [String], rows: [[String]], images: [InputImage]) throws {
        var csv = (["source", "label"] + names).joined(separator: ",") + "\n"
        for (image, row) in zip(images, rows) {
            csv += csvField(image.source) + "," + (image.label.map(String.init) ?? "") + "," + row.joined(separator: ",") + "\n"
        }
        try AtomicFile.write(Array(csv.utf8), to: output)
    }

    /// A CSV field, quoted when it holds a comma, quote or newline (RFC 4180).
    func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
