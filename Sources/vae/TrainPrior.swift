import ArgumentParser
import Foundation
import VAEInference
import VAETraining

struct TrainPrior: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-prior",
        abstract: "Fit a VQ-VAE's PixelCNN prior over its codes, so that `vae sample` can draw from it.",
        discussion: """
            Encodes the training images with the VQ-VAE at --model (trained by `vae train --vq K`), then trains a \
            PixelCNN (van den Oord et al. 2016: a masked 7x7 type-A convolution, residual blocks of masked 3x3 type-B \
            convolutions, a softmax over the codes at each position) on their code grids with Adam, and stores it in \
            the same checkpoint after every epoch. Reports the cross-entropy per code on the training and test images. \
            Run again with more --epochs to continue (bit-exactly, also after an interruption), or --restart for a new prior.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var loadingOptions: ImageLoadingOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Prior epochs in all.")
    var epochs = 10

    @Option(help: ArgumentHelp("Code grids per mini-batch (default: 128, or the prior's).", valueName: "n"))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Adam learning rate (default: 0.001, or the prior's).", valueName: "rate"))
    var lr: Float?

    @Option(help: ArgumentHelp("A new prior's channels (default: 128).", valueName: "n"))
    var priorChannels: Int?

    @Option(help: ArgumentHelp("A new prior's residual blocks of masked 3x3 convolutions (default: 4).", valueName: "n"))
    var priorBlocks: Int?

    @Flag(help: "Train a new prior even if the checkpoint has one.")
    var restart = false

    @Option(help: ArgumentHelp("Also write the per-epoch figures as JSON to this file.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Fit the prior to the first n training images only (quick runs).", valueName: "n"))
    var trainImages: Int?

    @Option(help: ArgumentHelp("Measure it on the first n test images only (quick runs).", valueName: "n"))
    var testImages: Int?

    func validate() throws {
        guard (1...100_000).contains(epochs) else { throw ValidationError("--epochs must be in 1...100000, got \(epochs)") }
        if let batchSize, !(1...65_536).contains(batchSize) { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        if let lr, !(lr.isFinite && lr > 0 && lr <= 10) { throw ValidationError("--lr must be in (0, 10], got \(lr)") }
        if let priorChannels, !(1...1024).contains(priorChannels) {
            throw ValidationError("--prior-channels must be in 1...1024, got \(priorChannels)")
        }
        if let priorBlocks, !(0...32).contains(priorBlocks) { throw ValidationError("--prior-blocks must be in 0...32, got \(priorBlocks)") }
        if let n = trainImages, n < 1 { throw ValidationError("--train-images must be at least 1, got \(n)") }
        if let n = testImages, n < 1 { throw ValidationError("--test-images must be at least 1, got \(n)") }
    }

    func run() throws {
        threadOptions.apply()
        try checkWritable(modelOptions.model, flag: "--model")
        if let json { try checkWritable(json, flag: "--json") }
        var request = PriorTrainingRequest()
        request.modelPath = modelOptions.model
        request.dataDirectory = try dataOptions.locate()
        request.epochs = epochs
        request.batchSize = batchSize
        request.learningRate = lr
        request.channels = priorChannels
        request.blocks = priorBlocks
        request.restart = restart
        request.jsonPath = json
        request.loading = loadingOptions.loading(seed: 0, skipUnreadable: dataOptions.skipUnreadable)
        request.trainImages = trainImages
        request.testImages = testImages

        let run = try PriorTrainingRun(request, loadingProgress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: [])
        let reporter = TrainingReporter(totalEpochs: epochs)
        reporter.say(run.summary)
        let stop = StopRequest.install()
        defer { StopRequest.uninstall() }
        let outcome: TrainingOutcome
        do {
            outcome = try run.run(progress: reporter.progress, epochFinished: { r in
                reporter.clearLine()
                reporter.say(String(format: "prior epoch %2d/%d  train %.4f  test %.4f nats per code  %.0f grids/s  %.2fs",
                                    r.epoch, epochs, r.trainCrossEntropy, r.testCrossEntropy, r.samplesPerSecond, r.trainSeconds))
            }, shouldStop: { stop.signal != nil })
        } catch let diverged as TrainingDiverged {
            reporter.clearLine()
            throw CLIError(diverged.description + "; \(modelOptions.model) holds the prior's last good epoch")
        } catch {
            reporter.clearLine()
            throw error
        }
        switch outcome {
        case .finished(let peak):
            reporter.say(String(format: "saved the prior in %@%@; peak memory %.0f MiB", modelOptions.model, json.map { ", figures in \($0)" } ?? "", peak))
        case .interrupted(let p):
            reporter.clearLine()
            let at = p.batch > 0 ? "prior epoch \(p.epoch + 1), batch \(p.batch) of \(run.batchesPerEpoch)" : "prior epoch \(p.epoch)"
            reporter.say("interrupted after \(at); saved \(modelOptions.model). Resume with: vae train-prior --model \(modelOptions.model) --epochs \(epochs)"
                + (dataOptions.data.map { " --data \($0)" } ?? ""))
            throw ExitCode(128 + (stop.signal ?? SIGINT))
        }
    }
}
