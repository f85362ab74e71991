import ArgumentParser
import Foundation
import VAEData
import VAEInference

struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an augmented MNIST: several decoded draws from q(z|x) per image.",
        discussion: "For each image of --split, draws z ~ q(z|x) --per-image times and decodes each, keeping the label. Writes DIR/train-images-idx3-ubyte.gz and DIR/train-labels-idx1-ubyte.gz (t10k-* when augmenting the test split) and copies the other split unchanged, so `vae train --data DIR` and any MNIST loader read the folder.")

    @Option(help: ArgumentHelp("The split to augment.", valueName: "train|test"))
    var split: MNISTSplit = .train

    @Option(help: "Decoded draws per image.")
    var perImage = 5

    @Option(help: ArgumentHelp("Only the first n images of the split.", valueName: "n"))
    var limit: Int?

    @Option(name: .short, help: ArgumentHelp("Output folder (created if missing; its parent must exist).", valueName: "dir"))
    var output: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (1...100).contains(perImage) else { throw ValidationError("--per-image must be in 1...100, got \(perImage)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
    }

    func run() throws {
        threadOptions.apply()
        let folder = URL(fileURLWithPath: output)
        if !FileManager.default.fileExists(atPath: output) { try checkWritable(output, flag: "-o") }
        let model = try loadModel(modelOptions)
        let source = try dataOptions.locate()
        var set = try MNIST.load(directory: source, split: split)
        if let limit, limit < set.count { set = set.subset(0..<limit) }
        try model.checkInput(set, source: "the \(split.rawValue) split")
        let augmented = augment(set, model: model, perImage: perImage, seed: seedOptions.seed)
        let other: MNISTSplit = split == .train ? .test : .train
        let untouched = try MNIST.load(directory: source, split: other)
        // The folder is made only now, when there is something to put in it.
        if !FileManager.default.fileExists(atPath: output) {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            } catch {
                throw CLIError("-o \(output): could not create the folder")
            }
        }
        try checkWritable(folder.appendingPathComponent("train-images-idx3-ubyte.gz").path, flag: "-o")
        for (s, data) in [(split, augmented), (other, untouched)] {
            let names = MNIST.fileNames(s)
            try IDX.writeGzipped(data, imagesPath: folder.appendingPathComponent(names.images + ".gz").path,
                                 labelsPath: folder.appendingPathComponent(names.labels + ".gz").path)
        }
        print("wrote \(augmented.count) \(split.rawValue) images (\(set.count) × \(perImage)) and the \(untouched.count) \(other.rawValue) images unchanged to \(output)")
    }
}
