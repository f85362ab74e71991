import ArgumentParser
import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels
import VAEPlots
import VAETraining

/// `vae judge`: the classifier that says whether images are digits (or any
/// labelled data set's classes), and how far their features are from real ones.
struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Train the classifier that judges samples, or have it read images: classes, confidence, Fréchet distance.",
        discussion: """
            The judge is a small convolutional classifier (two stride-2 3x3 convolutions, 32 and 64 channels, a 256-wide \
            layer whose outputs are its features, one logit per class). The repository ships one for MNIST \
            (Data/judge.safetensors); vae judge train makes one for any labelled data set.
              vae judge train -o judge.safetensors          train on --data (MNIST by default)
              vae judge read --model model.safetensors -n 1000   judge a model's samples
              vae judge read samples.idx.gz                 judge images from an IDX file, a folder or PNG/PGM files
              vae judge read --split test                   the judge's accuracy on the test split
            """,
        subcommands: [JudgeTrain.self, JudgeRead.self])
}

/// `--judge PATH`: which judge reads the images.
struct JudgeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The judge (default: $VAE_JUDGE, else ./Data/judge.safetensors, else the installed one).", valueName: "path"))
    var judge: String?

    func load() throws -> JudgeFile.Loaded { try JudgeFile.load(path: try JudgeFile.locate(explicit: judge)) }
}

struct JudgeTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a judge on a labelled data set's training split; its test accuracy is printed and stored in the file.",
        discussion: "Adam, batch 128, step size 3e-3 times 0.65 after every epoch, each training image shifted by up to one pixel in x and y (drawn per epoch). MNIST, 5 epochs: see the README for the accuracy and time.")

    @Option(help: "Passes over the training images.")
    var epochs = JudgeTrainingSettings().epochs

    @Option(help: ArgumentHelp("Train on the first n training images only (a quick run).", valueName: "n"))
    var trainImages: Int?

    @Option(help: ArgumentHelp("Adam's step size in the first epoch.", valueName: "lr"))
    var lr = JudgeTrainingSettings().learningRate

    @Option(help: ArgumentHelp("Each epoch's step size is the last one's times this.", valueName: "f"))
    var lrDecay = JudgeTrainingSettings().learningRateDecay

    @Option(help: ArgumentHelp("The convolutions: output channels/stride of each 3x3 stage.", valueName: "c/s,…"))
    var stages = JudgeConfiguration.defaultStages.map { "\($0.channels)/\($0.stride)" }.joined(separator: ",")

    @Option(help: ArgumentHelp("The width of the features (the fully connected layer).", valueName: "n"))
    var hidden = JudgeConfiguration().hidden

    @Option(help: ArgumentHelp("Shift each training image by up to this many pixels (0: none).", valueName: "px"))
    var shift = JudgeTrainingSettings().maximumShift

    @Option(name: .short, help: ArgumentHelp("Where to write the judge (safetensors).", valueName: "path"))
    var output = "judge.safetensors"

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var loadingOptions: ImageLoadingOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        try validateTrainingFlags(epochs: epochs, batchSize: nil, lr: nil, trainImages: trainImages, testImages: nil)
        guard epochs <= 100 else { throw ValidationError("--epochs must be in 1...100 for a judge, got \(epochs)") }
        try validateTrainingFlags(epochs: epochs, batchSize: nil, lr: lr, trainImages: nil, testImages: nil)
        guard lrDecay.isFinite && lrDecay > 0 && lrDecay <= 1 else { throw ValidationError("--lr-decay must be in (0, 1], got \(lrDecay)") }
        _ = try parsedStages()
        guard (1...4096).contains(hidden) else { throw ValidationError("--hidden must be in 1...4096, got \(hidden)") }
        guard (0...8).contains(shift) else { throw ValidationError("--shift must be in 0...8, got \(shift)") }
    }

    func parsedStages() throws -> [JudgeConfiguration.Stage] {
        let stages = try self.stages.split(separator: ",").map { entry in
            let parts = entry.split(separator: "/").map { Int($0) }
            guard parts.count == 2, let c = parts[0], let s = parts[1], (1...1024).contains(c), (1...4).contains(s) else {
                throw ValidationError("--stages takes channels/stride pairs (channels 1...1024, stride 1...4), got '\(self.stages)'")
            }
            return JudgeConfiguration.Stage(channels: c, stride: s)
        }
        guard (1...6).contains(stages.count) else { throw ValidationError("--stages lists 1 to 6 convolutions, got \(stages.count)") }
        return stages
    }

    func run() throws {
        threadOptions.apply()
        try checkWritable(output, flag: "-o")
        let directory = try dataOptions.locate()
        let data = try DataSplits.load(directory: directory, options: loadingOptions.loading(seed: seedOptions.seed, skipUnreadable: dataOptions.skipUnreadable),
                                       progress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: data.skipped)
        var train = data.train
        if let n = trainImages, n < train.count { train = train.subset(0..<n) }
        guard train.shape == data.test.shape else {
            throw CLIError("--data \(directory): the training images are \(train.shape), the test images \(data.test.shape)")
        }
        guard let labels = train.labels, data.test.labels != nil else {
            throw CLIError("--data \(directory): a judge learns from labelled images, and these have no labels")
        }
        let classes = max(Int(labels.max() ?? 0) + 1, data.classNames?.count ?? 0)
        guard classes >= 2 else { throw CLIError("--data \(directory): one class only; a judge needs at least two") }
        let configuration = JudgeConfiguration(shape: train.shape, classes: classes, stages: try parsedStages(), hidden: hidden)
        if let problem = configuration.problem { throw CLIError("--data \(directory): \(problem)") }
        var settings = JudgeTrainingSettings()
        settings.epochs = epochs
        settings.seed = seedOptions.seed
        settings.learningRate = lr
        settings.learningRateDecay = lrDecay
        settings.maximumShift = shift
        print("vae judge train: \(train.count) training and \(data.test.count) test images, \(data.description), \(train.shape), \(classes) classes, \(BLASThreads.current) thread(s)")
        let judge = Judge(configuration)
        let isTerminal = LoadingProgress.isTerminal
        let started = Date()
        let history = trainJudge(judge, train: train, test: data.test, settings: settings, progress: { epoch, done, total in
            guard isTerminal, done % (50 * settings.batchSize) == 0 || done == total else { return }
            print("\repoch \(epoch): \(done)/\(total)\u{1B}[K", terminator: "")
            fflush(stdout)
        }, epochDone: { e in
            if isTerminal { print("\r\u{1B}[K", terminator: "") }
            print(String(format: "epoch %d: loss %.4f, train %.2f%% (shifted), test %.2f%%, %.1f s", e.epoch, e.trainLoss,
                         100 * e.trainAccuracy, 100 * e.testAccuracy, e.seconds))
        })
        let accuracy = history.last!.testAccuracy
        try JudgeFile.save(judge, classNames: data.classNames, testAccuracy: accuracy,
                           extra: ["epochs": String(epochs), "seed": String(seedOptions.seed), "train_images": String(train.count)], to: output)
        print(String(format: "test accuracy %.2f%% after %.1f s; wrote %@", 100 * accuracy, Date().timeIntervalSince(started), output))
    }
}

struct JudgeRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Have the judge read images: the class histogram and its entropy, the mean confidence, and the Fréchet distance to the test split.",
        discussion: """
            The images: a model's samples (--model, -n), a split of the data set (--split), or inputs: IDX image files \
            (gzipped or not), folders of PNG/PGM images (class subfolders give labels, and so an accuracy), PNG/PGM files. \
            The Fréchet distance compares the Gaussians fitted to the judge's 256 features of these images and of \
            --data's test split (d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), the MNIST analogue of FID); it needs at least two images.
            """)

    @Argument(help: ArgumentHelp("IDX files, folders or PNG/PGM files.", valueName: "input"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Judge this model's samples instead (a conditional model: every class in turn).", valueName: "path"))
    var model: String?

    @Option(name: .short, help: ArgumentHelp("How many samples with --model.", valueName: "n"))
    var n = 1000

    @Option(help: ArgumentHelp("Judge a split of the data set instead (its labels give the accuracy).", valueName: "train|test"))
    var split: MNISTSplit?

    @Option(help: ArgumentHelp("Write the figures as JSON.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Also draw the 10 images the judge is surest of and the 10 it is least sure of, one labelled row each (.png, .svg or .pdf).",
                               valueName: "path"))
    var extremes: String?

    @OptionGroup var judgeOptions: JudgeOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        let sources = [!inputs.isEmpty, model != nil, split != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give inputs, --model or --split (one of them)") }
        guard (2...100_000).contains(n) else { throw ValidationError("-n must be in 2...100000, got \(n)") }
    }

    func run() throws {
        threadOptions.apply()
        if let json { try checkWritable(json, flag: "--json") }
        if let extremes { try checkChartOutput(extremes, flag: "--extremes") }
        let loaded = try judgeOptions.load()
        let judge = loaded.judge
        let shape = judge.configuration.shape
        let directory = try dataOptions.locate()
        let data = try DataSplits.load(directory: directory, options: loading(at: shape), progress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: data.skipped)
        guard data.train.shape == shape && data.test.shape == shape else {
            throw CLIError("--data \(directory) holds \(data.test.shape) images; the judge reads \(shape)")
        }
        let reference = readImages(judge, data.test)
        let source = try readSource(judge: judge, data: data)
        let (reading, labels, what) = (source.reading, source.labels, source.description)
        guard reading.count >= 1 else { throw CLIError("no images to read") }
        let names = loaded.classNames ?? (0..<judge.classes).map(String.init)
        print("\(what), read by \(QualityReport.judgeName(loaded))")
        print(QualityReport.lines(reading, classNames: names).joined(separator: "\n"))
        var doc = QualityReport.json(reading)
        if let labels {
            let accuracy = reading.agreement(with: labels)
            print(String(format: "read as their label: %.2f%%", 100 * accuracy))
            doc["accuracy"] = accuracy
        }
        if let distance = reading.frechetDistance(to: reference) {
            print(String(format: "Fréchet distance to the test split (%d images): %.3f", reference.count, distance))
            doc["frechet_distance"] = distance
        }
        if let extremes {
            let (most, least) = reading.extremes(count: 10)
            let grid = LabelledGrid(rows: [most.map(source.picture), least.map(source.picture)], rowNames: ["surest", "least sure"])
            try Figure(grid).write(to: extremes)
            func named(_ indices: [Int]) -> String {
                indices.map { String(format: "%@ %.3f", names[reading.predictions[$0]], reading.confidences[$0]) }.joined(separator: ", ")
            }
            print("wrote \(extremes): surest \(named(most)); least sure \(named(least)) (class read, its probability)")
        }
        if let json { try writeJSON(doc, to: json) }
    }

    /// Images the judge has read.
    struct JudgedImages {
        let reading: JudgeReading
        /// Their labels, when known (a conditional model's samples: the class asked for).
        let labels: [Int]?
        let description: String
        /// Image i as a picture (for --extremes).
        let picture: (Int) -> Picture
    }

    /// The judge's reading of the images asked for.
    func readSource(judge: Judge, data: DataSplits) throws -> JudgedImages {
        let shape = judge.configuration.shape
        if let split {
            let set = split == .train ? data.train : data.test
            return JudgedImages(reading: readImages(judge, set), labels: set.labels?.map(Int.init), description: "\(set.count) \(split.rawValue) images",
                              picture: { Picture(planes: set.intensities($0), shape: shape) })
        }
        if let model {
            let loaded = try Checkpoint.load(path: model)
            guard loaded.model.configuration.shape == shape else {
                throw CLIError("--model \(model) draws \(loaded.model.configuration.shape) images; the judge reads \(shape)")
            }
            if let problem = loaded.model.priorProblem { throw CLIError("--model \(model): \(problem)") }
            let (reading, asked, pictures) = judgedSamples(model: loaded.model, judge: judge, count: n, seed: seedOptions.seed)
            return JudgedImages(reading: reading, labels: asked,
                              description: "\(n) samples of \(model)" + (asked == nil ? "" : " (every class in turn; 'label' is the class asked for)"),
                              picture: { pictures[$0] })
        }
        let sets = try inputs.map { try readInput($0, shape: shape) }
        // Labels count only when every input has them and the judge knows each class.
        var labels = sets.allSatisfy { $0.labels != nil } ? sets.flatMap { $0.labels!.map(Int.init) } : nil
        if let l = labels, l.contains(where: { $0 >= judge.classes }) { labels = nil }
        let all = ImageSet(pixels: sets.flatMap(\.pixels), count: sets.reduce(0) { $0 + $1.count }, shape: shape)
        return JudgedImages(reading: readImages(judge, all), labels: labels, description: "\(all.count) images from \(inputs.joined(separator: ", "))",
                          picture: { Picture(planes: all.intensities($0), shape: shape) })
    }

    /// Images read at the judge's size and channels, as a model of that shape reads them.
    func loading(at shape: ImageShape) -> ImageLoading {
        var options = ImageLoading()
        options.size = shape
        options.channels = shape.channels
        options.skipUnreadable = dataOptions.skipUnreadable
        return options
    }

    /// An IDX file, a folder (class subfolders give labels) or one image, at the judge's shape.
    func readInput(_ path: String, shape: ImageShape) throws -> ImageSet {
        let options = loading(at: shape)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw FileError(path, "no such file or folder") }
        if isFolder.boolValue {
            let classes = try ImageFolder.classFolders(path)
            let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { !$0.hasPrefix(".") }.sorted()
                .map { (path as NSString).appendingPathComponent($0) }
            let loaded = try ImageFolder.load(classes: classes ?? [("", files)], options: options, shape: shape)
            var set = loaded.set
            if classes == nil { set.labels = nil }
            return set
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".png") || lower.hasSuffix(".pgm") {
            let planes = try Resizing.planes(try Picture.read(path: path), to: shape, path: path)
            return ImageSet(pixels: planes.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }, count: 1, shape: shape)
        }
        let set = try IDX.readImages(path: path)
        guard set.shape == shape else { throw FileError(path, "holds \(set.shape) images; the judge reads \(shape)") }
        return set
    }
}

/// The judge's figures as lines and as JSON, shared by `judge read` and `eval --sample-quality`.
enum QualityReport {
    /// "the judge PATH (99.21% on its test split)".
    static func judgeName(_ judge: JudgeFile.Loaded) -> String {
        "the judge \(judge.path)" + (judge.testAccuracy.map { String(format: " (%.2f%% on its test split)", 100 * $0) } ?? "")
    }

    static func lines(_ r: JudgeReading, classNames: [String]) -> [String] {
        [
            "classes " + (classNames.count <= 10 ? classNames.joined(separator: " ") : "0–\(classNames.count - 1)") + ": "
                + r.histogram.map(String.init).joined(separator: " "),
            String(format: "class entropy %.3f nats (%.3f if every class were as common); mean confidence %.3f; read with p > 0.9: %.1f%%",
                   r.classEntropy, log(Double(r.classes)), r.meanConfidence, 100 * r.share(confidentAbove: 0.9)),
        ]
    }

    static func json(_ r: JudgeReading) -> [String: Any] {
        ["n": r.count, "class_histogram": r.histogram, "class_entropy": r.classEntropy, "mean_confidence": r.meanConfidence,
         "confident_share": r.share(confidentAbove: 0.9)]
    }
}
