import ArgumentParser
import Foundation
import VAEData
import VAEInference

struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "augment",
        abstract: "Write an augmented data set: several decoded draws from q(z|x) per image.",
        discussion: "For each image of --split, draws z ~ q(z|x) --per-image times and decodes each, keeping the label. For a grey IDX data set, writes DIR/train-images-idx3-ubyte.gz and DIR/train-labels-idx1-ubyte.gz (t10k-* when augmenting the test split) and copies the other split unchanged, so `vae train --data DIR` and any MNIST loader read the folder; for a folder data set (or colour), writes DIR/train/<class>/N.png and DIR/test/<class>/N.png, the layout `vae train --data DIR` and torchvision's ImageFolder read.")

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
        let loaded = try loadModel(modelOptions)
        let source = try dataOptions.locate()
        let data = try dataOptions.load(for: loaded)
        var set = split == .train ? data.train : data.test
        if let limit, limit < set.count { set = set.subset(0..<limit) }
        if let problem = loaded.model.priorProblem {
            throw CLIError("\(modelOptions.model): a VQ-VAE augments by drawing codes from its prior, and \(problem)")
        }
        let augmented = augment(set, model: loaded.model, perImage: perImage, seed: seedOptions.seed)
        let other: MNISTSplit = split == .train ? .test : .train
        let untouched = split == .train ? data.test : data.train
        // The folder is made only now, when there is something to put in it.
        if !FileManager.default.fileExists(atPath: output) {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            } catch {
                throw CLIError("-o \(output): could not create the folder")
            }
        }
        try checkWritable(folder.appendingPathComponent("train").path, flag: "-o")
        let asIDX = MNIST.holdsMNIST(source) && !set.shape.isColor
        for (s, images) in [(split, augmented), (other, untouched)] {
            if asIDX {
                let names = MNIST.fileNames(s)
                try IDX.writeGzipped(images, imagesPath: folder.appendingPathComponent(names.images + ".gz").path,
                                     labelsPath: folder.appendingPathComponent(names.labels + ".gz").path)
            } else {
                try ImageFolder.write(images, to: folder.appendingPathComponent(s.rawValue).path,
                                      classCount: data.classNames?.count ?? Conditioning.classes(of: data.train))
            }
        }
        print("wrote \(augmented.count) \(split.rawValue) images (\(set.count) × \(perImage)) and the \(untouched.count) \(other.rawValue) images unchanged to \(output)"
              + (asIDX ? " as MNIST IDX files" : " as class folders \(output)/train/<class>/ and \(output)/test/<class>/"))
    }
}
