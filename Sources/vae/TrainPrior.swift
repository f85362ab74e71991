import ArgumentParser
import Foundation
import VAEInference
import VAEModels
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

    @Option(help: ArgumentHelp("Learning-rate schedule: none, or a factor applied after every epoch, e.g. 0.7 (default: none, or the prior's).",
                               valueName: "none|f"))
    var lrDecay: LearningRateSchedule?

    @Option(help: ArgumentHelp("Share of each residual block's input units dropped in training (default: 0, or the prior's).", valueName: "rate"))
    var dropout: Float?

    @Option(help: ArgumentHelp("Evaluate, sample and save the prior with a moving average of its weights of this decay (Polyak averaging, e.g. 0.999; default: 0, none, or the prior's).",
                               valueName: "decay"))
    var polyak: Float?

    @Option(help: ArgumentHelp("Fit the prior to the codes of training images moved by up to this many pixels in x and y, drawn per image and epoch (default: 0, none, or the prior's).",
                               valueName: "px"))
    var shift: Int?

    @Option(help: ArgumentHelp("A new prior's channels (default: 128).", valueName: "n"))
    var priorChannels: Int?

    @Option(help: ArgumentHelp("A new prior's residual blocks of masked 3x3 convolutions (default: 4).", valueName: "n"))
    var priorBlocks: Int?

    @Option(help: ArgumentHelp("A new prior's first, type-A masked kernel (odd; default: 7; 13 on a 7x7 grid sees every earlier code from every position).",
                               valueName: "k"))
    var priorKernel: Int?

    @Flag(help: "Train a new prior even if the checkpoint has one.")
    var restart = false

    @Option(help: ArgumentHelp("Also write the per-epoch figures as JSON to this file.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Fit the prior to the first n training images only (quick runs).", valueName: "n"))
    var trainImages: Int?

    @Option(help: ArgumentHelp("Measure it on the first n test images only (quick runs).", valueName: "n"))
    var testImages: Int?

    func validate() throws {
        try validateTrainingFlags(epochs: epochs, batchSize: batchSize, lr: lr, trainImages: trainImages, testImages: testImages)
        if let priorChannels, !(1...1024).contains(priorChannels) {
            throw ValidationError("--prior-channels must be in 1...1024, got \(priorChannels)")
        }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
        if let polyak, !(polyak >= 0 && polyak < 1) { throw ValidationError("--polyak must be in [0, 1), got \(polyak)") }
        if let shift, !(0...8).contains(shift) { throw ValidationError("--shift must be in 0...8, got \(shift)") }
        if let priorBlocks, !(0...32).contains(priorBlocks) { throw ValidationError("--prior-blocks must be in 0...32, got \(priorBlocks)") }
        if let priorKernel, !(CodePrior.inputKernels.contains(priorKernel) && priorKernel % 2 == 1) {
            throw ValidationError("--prior-kernel must be odd and in \(CodePrior.inputKernels.lowerBound)...\(CodePrior.inputKernels.upperBound), got \(priorKernel)")
        }
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
        request.schedule = lrDecay
        request.dropout = dropout
        request.polyak = polyak
        request.maximumShift = shift
        request.channels = priorChannels
        request.blocks = priorBlocks
        request.inputKernel = priorKernel
        request.restart = restart
        request.jsonPath = json
        request.loading = loadingOptions.loading(seed: 0, skipUnreadable: dataOptions.skipUnreadable)
        request.trainImages = trainImages
        request.testImages = testImages

        let run = try PriorTrainingRun(request, loadingProgress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: [])
        let reporter = TrainingReporter(totalEpochs: epochs)
        reporter.say(run.summary)
        let epochFinished = { (r: PriorEpochReport) in
            reporter.clearLine()
            let unaveraged = r.iterateTestCrossEntropy.map { String(format: " (unaveraged %.4f)", $0) } ?? ""
            reporter.say(String(format: "prior epoch %2d/%d  train %.4f  test %.4f", r.epoch, epochs, r.trainCrossEntropy, r.testCrossEntropy)
                         + unaveraged + String(format: " nats per code  %.0f grids/s  %.2fs", r.samplesPerSecond, r.trainSeconds))
        }
        try reporter.drive({ shouldStop in try run.run(progress: reporter.progress, epochFinished: epochFinished, shouldStop: shouldStop) },
                           path: modelOptions.model, saved: "saved the prior in \(modelOptions.model)" + (json.map { ", figures in \($0)" } ?? ""), unit: "prior epoch",
                           batches: run.batchesPerEpoch,
                           resume: "vae train-prior --model \(modelOptions.model) --epochs \(epochs)" + (dataOptions.data.map { " --data \($0)" } ?? ""),
                           divergedNote: "; \(modelOptions.model) holds the prior's last good epoch")
    }
}
