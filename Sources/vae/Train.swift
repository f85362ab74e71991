import ArgumentParser
import Foundation
import VAEData
import VAEModels
import VAETraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE on MNIST, saving a checkpoint after every epoch.",
        discussion: """
            Minimises reconstruction + β·KL summed over each mini-batch with Adam, and reports per \
            sample: the training loss, and the test set's negative ELBO (reconstruction + KL, one \
            draw of z). On a terminal a progress bar shows each epoch; otherwise one line per epoch \
            is printed. The checkpoint is replaced atomically after every epoch.
            """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Total epochs to train (with --resume: until this many in all).")
    var epochs = 10

    @Option(help: "Images per mini-batch.")
    var batchSize = 128

    @Option(help: "Adam learning rate.")
    var lr: Float = 1e-3

    @Option(help: ArgumentHelp("Network: mlp (fully connected) or conv (two stride-2 convolutions, 32 and 64 channels, then fully connected) (default: mlp).",
                               valueName: "mlp|conv"))
    var arch: String?

    @Flag(help: "Train a conditional VAE: encoder and decoder also see the one-hot digit label, so `vae sample --digit d` draws a chosen digit.")
    var conditional = false

    @Option(help: ArgumentHelp("Dimensions of the latent z (default: 20).", valueName: "k"))
    var latent: Int?

    @Option(help: ArgumentHelp("Hidden layer widths of the encoder, mirrored by the decoder (default: 512,256 for mlp, where '400' is the classic VAE; one width, 256, for conv's fully connected layer).",
                               valueName: "w1,w2,..."))
    var hidden: String?

    @Option(help: "Weight of the KL term: 1 is the VAE, > 1 a β-VAE.")
    var beta: Float = 1

    @Option(help: ArgumentHelp("Reconstruction likelihood: bce (Bernoulli) or mse (Gaussian) (default: bce).", valueName: "bce|mse"))
    var loss: String?

    @Option(help: ArgumentHelp("Hidden nonlinearity: relu or tanh (default: relu).", valueName: "relu|tanh"))
    var activation: String?

    @Option(help: ArgumentHelp("dynamic: each time an image is drawn, pixels ~ Bernoulli(intensity); the test set is binarised once, with a fixed seed (default: none).",
                               valueName: "dynamic|none"))
    var binarize: String?

    @Option(help: ArgumentHelp("Raise the KL weight linearly from 0 to β over this many epochs (default: 0).", valueName: "n"))
    var warmupEpochs: Int?

    @Option(help: ArgumentHelp("Learning-rate schedule: none, iwae (Burda et al.: stage i of 3^i epochs at lr·10^(−i/7)), or a factor applied after every epoch, e.g. 0.95 (default: none).",
                               valueName: "none|iwae|f"))
    var lrDecay: String?

    @Option(help: ArgumentHelp("Train on the importance-weighted bound with K samples (IWAE, Burda et al. 2015); 1 is the ELBO (default: 1).",
                               valueName: "K"))
    var iwSamples: Int?

    @Flag(help: "Continue the run saved at --model (weights and optimiser) until --epochs epochs in all.")
    var resume = false

    @Option(help: ArgumentHelp("Also write the per-epoch figures as JSON to this file.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Train only on these digits (anomaly detection: the others become anomalies).", valueName: "d1,d2,..."))
    var digits: String?

    @Option(help: ArgumentHelp("Train on every digit but these.", valueName: "d1,d2,..."))
    var excludeDigits: String?

    @Option(help: ArgumentHelp("Hold back the last n kept training images, for calibrating anomaly thresholds.", valueName: "n"))
    var holdout = 0

    @Option(help: ArgumentHelp("Train on the first n training images only (quick runs).", valueName: "n"))
    var trainImages: Int?

    @Option(help: ArgumentHelp("Evaluate on the first n test images only (quick runs).", valueName: "n"))
    var testImages: Int?

    func validate() throws {
        guard (1...100_000).contains(epochs) else { throw ValidationError("--epochs must be in 1...100000, got \(epochs)") }
        guard (1...65_536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        guard lr.isFinite, lr > 0, lr <= 10 else { throw ValidationError("--lr must be in (0, 10], got \(lr)") }
        guard beta.isFinite, beta >= 0, beta <= 1000 else { throw ValidationError("--beta must be in 0...1000, got \(beta)") }
        if let latent, !(1...4096).contains(latent) { throw ValidationError("--latent must be in 1...4096, got \(latent)") }
        if let arch, Architecture(rawValue: arch) == nil { throw ValidationError("--arch must be mlp or conv, got '\(arch)'") }
        if let hidden {
            let widths = try parseHidden(hidden)
            if arch == "conv" && widths.count != 1 {
                throw ValidationError("--arch conv has one fully connected hidden layer: give --hidden one width, got '\(hidden)'")
            }
        }
        if let loss, ReconstructionLikelihood(rawValue: loss) == nil {
            throw ValidationError("--loss must be bce or mse, got '\(loss)'")
        }
        if let n = trainImages, n < 1 { throw ValidationError("--train-images must be at least 1, got \(n)") }
        if let activation, ActivationKind(rawValue: activation) == nil {
            throw ValidationError("--activation must be relu or tanh, got '\(activation)'")
        }
        if let binarize, binarize != "dynamic" && binarize != "none" {
            throw ValidationError("--binarize must be dynamic or none, got '\(binarize)'")
        }
        if let warmupEpochs, !(0...100_000).contains(warmupEpochs) {
            throw ValidationError("--warmup-epochs must be in 0...100000, got \(warmupEpochs)")
        }
        if let lrDecay, LearningRateSchedule(text: lrDecay) == nil {
            throw ValidationError("--lr-decay must be none, iwae or a factor in (0, 1], got '\(lrDecay)'")
        }
        if let iwSamples, !(1...5000).contains(iwSamples) {
            throw ValidationError("--iw-samples must be in 1...5000, got \(iwSamples)")
        }
        if digits != nil && excludeDigits != nil { throw ValidationError("use --digits or --exclude-digits, not both") }
        _ = try selectedDigits()
        guard holdout >= 0 else { throw ValidationError("--holdout must be at least 0, got \(holdout)") }
        if let n = testImages, n < 1 { throw ValidationError("--test-images must be at least 1, got \(n)") }
    }

    /// The digits to train on, from --digits or --exclude-digits (nil: all).
    func selectedDigits() throws -> [Int]? {
        guard let text = digits ?? excludeDigits else { return nil }
        let flag = digits != nil ? "--digits" : "--exclude-digits"
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0.map { (0...9).contains($0) } == true }) else {
            throw ValidationError("\(flag) must be comma-separated digits 0-9, got '\(text)'")
        }
        let listed = Set(values.compactMap { $0 })
        let kept = digits != nil ? listed.sorted() : (0...9).filter { !listed.contains($0) }
        guard !kept.isEmpty else { throw ValidationError("\(flag) \(text) leaves no digit to train on") }
        return kept
    }

    func parseHidden(_ text: String) throws -> [Int] {
        let widths = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.count <= 16, widths.allSatisfy({ $0.map { (1...65_536).contains($0) } == true }) else {
            throw ValidationError("--hidden must be 1 to 16 comma-separated widths in 1...65536, got '\(text)'")
        }
        return widths.compactMap { $0 }
    }

    func run() throws {
        threadOptions.apply()
        let modelPath = modelOptions.model
        try checkWritable(modelPath, flag: "--model")
        if let json { try checkWritable(json, flag: "--json") }

        var settings = TrainingSettings()
        settings.epochs = epochs
        settings.batchSize = batchSize
        settings.learningRate = lr
        settings.beta = beta
        settings.seed = seedOptions.seed

        let dataDirectory = try dataOptions.locate()
        var train = try MNIST.load(directory: dataDirectory, split: .train)
        var test = try MNIST.load(directory: dataDirectory, split: .test)

        let model: VAE
        let optimizer: Adam
        var info: CheckpointInfo
        if resume {
            let loaded = try Checkpoint.load(path: modelPath, learningRate: lr)
            try checkArchitecture(matches: loaded.info.configuration)
            guard let adam = loaded.optimizer else {
                throw CLIError("\(modelPath): holds no optimiser state, so training cannot resume from it")
            }
            guard loaded.info.epoch < epochs else {
                throw CLIError("\(modelPath): already trained for \(loaded.info.epoch) epochs; ask for more with --epochs")
            }
            (model, optimizer, info) = (loaded.model, adam, loaded.info)
            settings.seed = loaded.info.seed
        } else {
            let architecture = arch.flatMap(Architecture.init(rawValue:)) ?? .mlp
            let configuration = VAEConfiguration(
                architecture: architecture,
                hidden: try hidden.map(parseHidden) ?? (architecture == .conv ? [256] : [512, 256]), latent: latent ?? 20,
                likelihood: loss.flatMap(ReconstructionLikelihood.init(rawValue:)) ?? .bernoulli,
                activation: activation.flatMap(ActivationKind.init(rawValue:)) ?? .relu,
                classes: conditional ? try labelCount(train, directory: dataDirectory) : 0)
            if let problem = configuration.problem { throw CLIError(problem) }
            model = VAE(configuration: configuration)
            model.initialize(seed: settings.seed)
            optimizer = Adam(parameters: model.parameters, learningRate: lr)
            info = CheckpointInfo(configuration: configuration)
        }
        info.beta = Double(beta)
        info.learningRate = Double(lr)
        let savedBatchSize = info.batchSize
        info.seed = settings.seed
        // Training options: the flag if given, else (resuming) what the checkpoint recorded.
        if let binarize { info.binarize = binarize == "dynamic" }
        if let warmupEpochs { info.warmupEpochs = warmupEpochs }
        if let lrDecay { info.schedule = LearningRateSchedule(text: lrDecay)! }
        if let iwSamples { info.importanceSamples = iwSamples }
        guard info.importanceSamples == 1 || model.configuration.likelihood == .bernoulli else {
            throw CLIError("--iw-samples needs the Bernoulli likelihood (--loss bce): the bound uses log p(x|z)")
        }
        settings.binarize = info.binarize
        settings.warmupEpochs = info.warmupEpochs
        settings.schedule = info.schedule
        settings.importanceSamples = info.importanceSamples

        if resume {
            guard try selectedDigits() == nil || info.data.digits == (try selectedDigits()) else {
                throw CLIError("--digits/--exclude-digits differ from the checkpoint's digits")
            }
        } else {
            info.data = DataSelection(digits: try selectedDigits(), holdout: holdout)
        }
        if let n = trainImages, n < train.count { train = train.subset(0..<n) }
        train = info.data.split(train).fit
        test = info.data.keep(test)
        if let n = testImages, n < test.count { test = test.subset(0..<n) }
        if info.binarize { test = binarized(test, seed: settings.seed) }
        guard train.count > 0 else { throw CLIError("no training images left after selecting digits and holding out \(info.data.holdout)") }

        if info.position.batch > 0 {
            // A run interrupted mid-epoch must continue on the same data to be exact.
            let batches = (train.count + batchSize - 1) / batchSize
            guard info.position.batch < batches, savedBatchSize == batchSize else {
                throw CLIError("\(modelPath): stopped at batch \(info.position.batch) of an epoch; resume it with the same data and --batch-size \(savedBatchSize)")
            }
        }
        info.batchSize = batchSize
        let trainer = Trainer(model: model, optimizer: optimizer, settings: settings,
                              train: train, test: test, position: info.position)
        let reporter = TrainingReporter(totalEpochs: epochs)
        let c = model.configuration
        let resumeNote = info.position.batch > 0 ? ", resuming at epoch \(info.epoch + 1), batch \(info.position.batch + 1)"
            : info.epoch > 0 ? ", resuming after epoch \(info.epoch)" : ""
        reporter.say("training \(c.summary) "
            + "(\(model.parameters.count) parameters, loss \(c.likelihood.rawValue), \(c.activation.rawValue), β \(beta)"
            + (info.importanceSamples > 1 ? ", IWAE K=\(info.importanceSamples)" : "")
            + (info.warmupEpochs > 0 ? ", KL warm-up \(info.warmupEpochs) epochs" : "")
            + (info.schedule != .constant ? ", lr decay \(info.schedule.text)" : "")
            + (info.binarize ? ", dynamically binarised" : "") + ") on \(train.count) images"
            + (info.data.digits.map { " of digits \($0.map(String.init).joined(separator: ","))" } ?? "")
            + (info.data.holdout > 0 ? " (\(info.data.holdout) held out)" : "") + " from \(dataDirectory)"
            + resumeNote)
        var log = TrainingLog(path: json, settings: settings, info: info)
        let stop = StopRequest.install()
        defer { StopRequest.uninstall() }
        while trainer.completedEpochs < epochs {
            let outcome: EpochOutcome
            do {
                outcome = try trainer.trainEpoch(progress: reporter.progress, shouldStop: { stop.signal != nil })
            } catch let diverged as TrainingDiverged {
                reporter.clearLine()
                let kept = info.epoch > 0 || info.position.batch > 0 || resume
                throw CLIError("\(diverged); \(kept ? "\(modelPath) still holds the last good checkpoint" : "no checkpoint was written")")
            }
            switch outcome {
            case .finished(let report):
                info.position = trainer.position
                info.test = report.test
                try Checkpoint.save(model: model, optimizer: optimizer, info: info, to: modelPath)
                reporter.epochFinished(report)
                try log.append(report)
            case .interrupted(let position):
                info.position = position
                try Checkpoint.save(model: model, optimizer: optimizer, info: info, to: modelPath)
            }
            if let signal = stop.signal, trainer.completedEpochs < epochs {
                reporter.clearLine()
                let p = trainer.position
                let at = p.batch > 0 ? "epoch \(p.epoch + 1), batch \(p.batch) of \(trainer.batchesPerEpoch)" : "epoch \(p.epoch)"
                reporter.say("interrupted after \(at); saved \(modelPath). Resume with: vae train --resume --model \(modelPath) --epochs \(epochs)"
                    + (dataOptions.data.map { " --data \($0)" } ?? "") + (batchSize != 128 ? " --batch-size \(batchSize)" : ""))
                throw ExitCode(128 + signal)
            }
        }
        let peak = peakResidentMemoryMiB()
        try log.finish(peakResidentMiB: peak)
        reporter.say(String(format: "saved %@%@; peak memory %.0f MiB", modelPath, json.map { ", figures in \($0)" } ?? "", peak))
    }

    /// A conditional model has one class per label the training data has (10 for MNIST).
    func labelCount(_ train: ImageSet, directory: String) throws -> Int {
        guard let classes = Conditioning.classes(of: train) else {
            throw CLIError("--conditional needs labelled training data; \(directory) has no training labels")
        }
        return classes
    }

    /// With --resume the architecture comes from the checkpoint; flags that disagree are an error.
    func checkArchitecture(matches c: VAEConfiguration) throws {
        if let arch, arch != c.arch { throw CLIError("--arch \(arch) differs from the checkpoint's \(c.arch)") }
        if conditional && !c.isConditional { throw CLIError("--conditional: the checkpoint's model is not conditional") }
        if let latent, latent != c.latent { throw CLIError("--latent \(latent) differs from the checkpoint's \(c.latent)") }
        if let hidden, try parseHidden(hidden) != c.hidden {
            throw CLIError("--hidden \(hidden) differs from the checkpoint's \(c.hidden.map(String.init).joined(separator: ","))")
        }
        if let loss, loss != c.likelihood.rawValue { throw CLIError("--loss \(loss) differs from the checkpoint's \(c.likelihood.rawValue)") }
        if let activation, activation != c.activation.rawValue {
            throw CLIError("--activation \(activation) differs from the checkpoint's \(c.activation.rawValue)")
        }
    }
}
