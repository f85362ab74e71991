import ArgumentParser
import Foundation
import VAEData
import VAETraining

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode images to their latent distributions q(z|x) = N(μ, σ²).",
        discussion: "Writes one row per image: CSV with the header source,label,mu_0,…,mu_{k-1},logvar_0,…,logvar_{k-1} (label empty when unknown), or a float32 .npy array of shape [n, 2k] (μ then log σ²). --plot draws the means: the two latent dimensions when k = 2, else their first two principal components, coloured by digit.")

    @OptionGroup var inputs: ManyImageInputs

    @Option(name: .short, help: ArgumentHelp("Output table: .csv or .npy.", valueName: "path"))
    var output = "latents.csv"

    @Option(help: ArgumentHelp("Also draw the latent means as a scatter plot (.png).", valueName: "path"))
    var plot: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        let lower = output.lowercased()
        guard lower.hasSuffix(".csv") || lower.hasSuffix(".npy") else {
            throw ValidationError("-o \(output): use a .csv or .npy extension")
        }
        if let plot { try checkImageExtension(plot, flag: "--plot") }
    }

    func run() throws {
        threadOptions.apply()
        try checkWritable(output, flag: "-o")
        if let plot { try checkWritable(plot, flag: "--plot") }
        let model = try loadModel(modelOptions)
        let images = try inputs.load()
        let conditions = try inputs.imageOptions.conditions(for: images, model: model, modelPath: modelOptions.model)
        let codes = model.encodings(images.map(\.pixels), conditions: conditions)
        let k = model.configuration.latent
        if output.lowercased().hasSuffix(".npy") {
            let flat = codes.flatMap { $0.mu + $0.logVar }
            try AtomicFile.write(NPY.encode(float32: flat, shape: [codes.count, 2 * k]), to: output)
        } else {
            var csv = "source,label," + (0..<k).map { "mu_\($0)" }.joined(separator: ",") + ","
                + (0..<k).map { "logvar_\($0)" }.joined(separator: ",") + "\n"
            for (image, code) in zip(images, codes) {
                csv += csvField(image.source) + "," + (image.label.map(String.init) ?? "") + ","
                    + (code.mu + code.logVar).map { "\($0)" }.joined(separator: ",") + "\n"
            }
            try AtomicFile.write(Array(csv.utf8), to: output)
        }
        print("encoded \(images.count) images to \(output) (k = \(k))")
        if let plot {
            let means = codes.map(\.mu)
            let scatter: Chart
            if k == 2 {
                scatter = Chart(title: "LATENT MEANS", xLabel: "Z0", yLabel: "Z1", series: [
                    .points(zip(means, images).map { .init(x: Double($0[0]), y: Double($0[1]), label: $1.label) })])
            } else {
                let pca = PrincipalProjection(means)
                scatter = Chart(
                    title: String(format: "LATENT MEANS, PCA OF %d DIMENSIONS", k),
                    xLabel: String(format: "PC1 (%.0f%%)", 100 * pca.explained.0),
                    yLabel: String(format: "PC2 (%.0f%%)", 100 * pca.explained.1),
                    series: [.points(zip(pca.coordinates, images).map { .init(x: $0.0, y: $0.1, label: $1.label) })])
            }
            try scatter.render().write(path: plot)
            print("plotted \(means.count) latent means to \(plot)")
        }
    }

    /// A CSV field, quoted when it holds a comma, quote or newline (RFC 4180).
    func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
