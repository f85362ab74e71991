import ArgumentParser
import Foundation
import VAEData
import VAEInference

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a data set as PNG files in class folders.",
        discussion: "Reads the data set --data names (MNIST's IDX files, or a folder data set, resized with --image-size as for training) and writes OUT/train/<class>/<index>.png and OUT/test/<class>/<index>.png, indices zero-padded so that names sort in the data set's order, class by class: the layout `vae train --data OUT` and torchvision's ImageFolder read.")

    @Option(name: .short, help: ArgumentHelp("Output folder (created if missing; its parent must exist; it must not hold train/ or test/ yet).",
                                             valueName: "dir"))
    var output: String

    @Option(help: ArgumentHelp("Only the first n images of each split.", valueName: "n"))
    var limit: Int?

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var loadingOptions: ImageLoadingOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
    }

    func run() throws {
        threadOptions.apply()
        let manager = FileManager.default
        if !manager.fileExists(atPath: output) { try checkWritable(output, flag: "-o") }
        for split in ["train", "test"] where manager.fileExists(atPath: (output as NSString).appendingPathComponent(split)) {
            throw CLIError("-o \(output): already holds \(split)/; export into a new folder")
        }
        let data = try DataSplits.load(directory: try dataOptions.locate(),
                                       options: loadingOptions.loading(seed: 0, skipUnreadable: dataOptions.skipUnreadable),
                                       progress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: data.skipped)
        do {
            try manager.createDirectory(atPath: output, withIntermediateDirectories: false)
        } catch where manager.fileExists(atPath: output) {
        } catch {
            throw CLIError("-o \(output): could not create the folder")
        }
        let classCount = data.classNames?.count ?? Conditioning.classes(of: data.train) ?? 1
        for (name, set) in [("train", data.train), ("test", data.test)] {
            let images = limit.map { set.subset(0..<min($0, set.count)) } ?? set
            try ImageFolder.write(images, to: (output as NSString).appendingPathComponent(name), classCount: classCount)
            print("wrote \(images.count) \(name) images (\(images.shape)) to \(output)/\(name)/<class>/")
        }
    }
}
