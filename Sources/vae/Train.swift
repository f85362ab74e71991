import ArgumentParser
import Foundation
import VAEInference
import VAEModels
import VAEPlots
import VAETraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a VAE on MNIST or your own images, saving a checkpoint after every epoch.",
        discussion: """
            Minimises reconstruction + β·KL summed over each mini-batch with Adam (or the importance-weighted \
            bound with --iw-samples), and reports per sample: the training loss, and the test set's negative \
            ELBO (reconstruction + KL, one draw of z). On a terminal a progress bar shows each epoch; otherwise \
            one line per epoch is printed. The checkpoint is replaced atomically after every epoch. With \
            --resume, training flags not given keep the checkpoint's values.
            """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var loadingOptions: ImageLoadingOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Total epochs to train (with --resume: until this many in all).")
    var epochs = 10

    @Option(help: ArgumentHelp("Images per mini-batch (default: 128).", valueName: "n"))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Adam learning rate (default: 0.001).", valueName: "rate"))
    var lr: Float?

    @Option(help: ArgumentHelp("Adam's ε, added to √v (default: 1e-8, PyTorch's; 1e-4, the IWAE paper's, for two stochastic layers).",
                               valueName: "eps"))
    var adamEpsilon: Float?

    @Option(help: ArgumentHelp("Network: mlp (fully connected) or conv (two stride-2 convolutions, 32 and 64 channels, then fully connected) (default: mlp).",
                               valueName: "mlp|conv"))
    var arch: Architecture?

    @Option(help: ArgumentHelp("The conv architecture's stages: one stride-2 3x3 convolution per entry, with that many channels, e.g. 32,64,128 for 64x64 images (default: 32,64).",
                               valueName: "c1,c2,..."))
    var convChannels: CommaSeparated<Int>?

    @Flag(help: "Train a conditional VAE: encoder and decoder also see the one-hot class label, so `vae sample --class c` draws a chosen class.")
    var conditional = false

    @Option(help: ArgumentHelp("A conditional VAE's prior over z: learned, one Gaussian N(μ_y, σ_y²) per class, so samples of a class come from where its images' codes are (default); or standard, N(0, I) for every class.",
                               valueName: "learned|standard"))
    var classPrior: ClassPrior?

    @Option(help: ArgumentHelp("Dimensions of the latent z (default: 20; 10 for a conditional conv model); two sizes, e.g. 100,50, for a model with two stochastic layers (Burda et al. 2015).", valueName: "k|k1,k2"))
    var latent: CommaSeparated<Int>?

    @Option(help: ArgumentHelp("Hidden layer widths of the encoder, mirrored by the decoder (default: 512,256 for mlp, where '400' is the classic VAE; one width, 256, for conv's fully connected layer); for two stochastic layers, each layer's widths separated by / (default: 200,200/100,100).",
                               valueName: "w1,w2,..."))
    var hidden: LayerWidths?

    @Option(help: ArgumentHelp("Flow steps after the Gaussian posterior: planar:K (Rezende & Mohamed 2015) or iaf:K (Kingma et al. 2016) (mlp only).",
                               valueName: "planar:K|iaf:K"))
    var flow: String?

    @Option(help: ArgumentHelp("Train a VQ-VAE (van den Oord et al. 2017) with a codebook of K codes (conv only; then `vae train-prior` for sampling).",
                               valueName: "K"))
    var vq: Int?

    @Option(help: ArgumentHelp("The VQ-VAE's code length D: the encoder's channels at each grid position (default: 16).", valueName: "D"))
    var codeDim: Int?

    @Option(help: ArgumentHelp("The VQ-VAE's commitment weight β in β‖z_e − sg(z_q)‖² (default: 0.25).", valueName: "β"))
    var commitment: Double?

    @Option(help: ArgumentHelp("Update the VQ-VAE's codebook by exponential moving averages with this decay (e.g. 0.99; the paper's Appendix A.1), restarting dead codes, instead of the codebook loss.",
                               valueName: "γ"))
    var vqEma: Double?

    @Option(help: ArgumentHelp("Weight of the KL term: 1 is the VAE, > 1 a β-VAE (default: 1).", valueName: "β"))
    var beta: Float?

    @Option(help: ArgumentHelp("Reconstruction likelihood: bce (Bernoulli) or mse (Gaussian) (default: bce).", valueName: "bce|mse"))
    var loss: ReconstructionLikelihood?

    @Option(help: ArgumentHelp("Hidden nonlinearity: relu or tanh (default: relu).", valueName: "relu|tanh"))
    var activation: ActivationKind?

    @Option(help: ArgumentHelp("dynamic: each time an image is drawn, pixels ~ Bernoulli(intensity); the test set is binarised once, with a fixed seed (default: none).",
                               valueName: "dynamic|none"))
    var binarize: Binarization?

    @Option(help: ArgumentHelp("Denoising VAE (Im et al. 2017): corrupt each training input afresh every time it is drawn, the target staying clean: noise:σ (Gaussian, clipped), mask:p (pixels blanked) or saltpepper:p; none turns it off when resuming (default: none).",
                               valueName: "kind:amount"))
    var corrupt: String?

    @Option(help: ArgumentHelp("Raise the KL weight linearly from 0 to β over this many epochs (default: 0).", valueName: "n"))
    var warmupEpochs: Int?

    @Option(help: ArgumentHelp("Learning-rate schedule: none, iwae (Burda et al.: stage i of 3^i epochs at lr·10^(−i/7)), or a factor applied after every epoch, e.g. 0.95 (default: none).",
                               valueName: "none|iwae|f"))
    var lrDecay: LearningRateSchedule?

    @Option(help: ArgumentHelp("Train on the importance-weighted bound with K samples (IWAE, Burda et al. 2015); 1 is the ELBO (default: 1).",
                               valueName: "K"))
    var iwSamples: Int?

    @Flag(help: "Continue the run saved at --model (weights and optimiser) until --epochs epochs in all.")
    var resume = false

    @Flag(help: "Start a new model's decoder at the mean image: its output bias at the logits of the training images' mean pixel values, as Burda et al.'s IWAE code (mlp decoders).")
    var meanBias = false

    @Option(help: ArgumentHelp("Also write the per-epoch figures as JSON to this file.", valueName: "path"))
    var json: String?

    @Option(help: ArgumentHelp("Draw the training curves after every epoch (as vae plot curves): .png, .svg or .pdf.", valueName: "path"))
    var plot: String?

    @Option(help: ArgumentHelp("Train only on these classes, by name (a folder's) or number (anomaly detection: the others become anomalies).",
                               valueName: "c1,c2,..."))
    var classes: CommaSeparated<String>?

    @Option(help: ArgumentHelp("Train on every class but these.", valueName: "c1,c2,..."))
    var excludeClasses: CommaSeparated<String>?

    @Option(help: ArgumentHelp("Train only on these MNIST digits (as --classes).", valueName: "d1,d2,..."))
    var digits: CommaSeparated<Int>?

    @Option(help: ArgumentHelp("Train on every MNIST digit but these (as --exclude-classes).", valueName: "d1,d2,..."))
    var excludeDigits: CommaSeparated<Int>?

    @Option(help: ArgumentHelp("Hold back the last n kept training images, for calibrating anomaly thresholds (default: 0).", valueName: "n"))
    var holdout: Int?

    @Option(help: ArgumentHelp("Train a background model for --metric ratio (Ren et al. 2019): each pixel of every image drawn is replaced with probability r by a level drawn uniformly at random.",
                               valueName: "r"))
    var perturb: Float?

    @Option(help: ArgumentHelp("Train on the first n training images only (quick runs).", valueName: "n"))
    var trainImages: Int?

    @Option(help: ArgumentHelp("Evaluate on the first n test images only (quick runs).", valueName: "n"))
    var testImages: Int?

    func validate() throws {
        try validateTrainingFlags(epochs: epochs, batchSize: batchSize, lr: lr, trainImages: trainImages, testImages: testImages)
        if let plot { try checkChartExtension(plot, flag: "--plot") }
        if let perturb, !(perturb > 0 && perturb <= 1) { throw ValidationError("--perturb must be in (0, 1], got \(perturb)") }
        if let adamEpsilon, !(adamEpsilon.isFinite && adamEpsilon > 0 && adamEpsilon <= 1) {
            throw ValidationError("--adam-epsilon must be in (0, 1], got \(adamEpsilon)")
        }
        if let beta, !(beta.isFinite && beta >= 0 && beta <= 1000) { throw ValidationError("--beta must be in 0...1000, got \(beta)") }
        if let latent { _ = try latent.checked("--latent", in: 1...4096, counts: 1...2, what: "sizes") }
        if let flow, Flow(spec: flow) == nil { throw ValidationError("--flow must be planar:K or iaf:K with K in 1...64, got '\(flow)'") }
        if flow != nil && (latent?.values.count ?? 1) > 1 { throw ValidationError("use --flow or two latent sizes, not both") }
        _ = try convChannels?.checked("--conv-channels", in: 1...1024, counts: 1...6, what: "channel counts")
        if let hidden {
            for layer in hidden.layers { _ = try layer.checked("--hidden", in: 1...65_536, counts: 0...16, what: "widths") }
            if arch == .conv, hidden.layers.count != 1 || hidden.layers[0].values.count != 1 {
                throw ValidationError("--arch conv has one fully connected hidden layer: give --hidden one width, got '\(hidden.defaultValueDescription)'")
            }
        }
        if vq == nil && (codeDim != nil || commitment != nil || vqEma != nil) {
            throw ValidationError("--code-dim, --commitment and --vq-ema go with --vq K")
        }
        if let problem = quantiser()?.problem { throw ValidationError("--vq: \(problem)") }
        _ = try corruption()
        if let warmupEpochs, !(0...100_000).contains(warmupEpochs) {
            throw ValidationError("--warmup-epochs must be in 0...100000, got \(warmupEpochs)")
        }
        if let iwSamples, !(1...5000).contains(iwSamples) {
            throw ValidationError("--iw-samples must be in 1...5000, got \(iwSamples)")
        }
        guard [digits != nil, excludeDigits != nil, classes != nil, excludeClasses != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("use one of --classes, --exclude-classes, --digits and --exclude-digits")
        }
        _ = try classSelection()
        if let holdout, holdout < 0 { throw ValidationError("--holdout must be at least 0, got \(holdout)") }
    }

    /// --vq and its companions, or nil.
    func quantiser() -> Quantiser? {
        vq.map { Quantiser(codes: $0, dimensions: codeDim ?? 16, commitment: commitment ?? 0.25, emaDecay: vqEma) }
    }

    /// The classes to train on, from --classes, --exclude-classes or their digit forms (nil: all).
    func classSelection() throws -> ClassSelection? {
        if let listed = try digits?.checked("--digits", in: 0...9, counts: 1...10, what: "digits") { return .only(listed.map(String.init)) }
        if let excluded = try excludeDigits?.checked("--exclude-digits", in: 0...9, counts: 1...10, what: "digits") {
            guard Set(excluded).count < 10 else { throw ValidationError("--exclude-digits leaves no digit to train on") }
            return .except(excluded.map(String.init))
        }
        return classes.map { .only($0.values) } ?? excludeClasses.map { .except($0.values) }
    }

    /// --corrupt as given: nil when absent, .some(nil) for none.
    func corruption() throws -> Corruption?? {
        guard let corrupt else { return nil }
        return .some(try parseCorruption(corrupt, allowingNone: true))
    }

    func run() throws {
        threadOptions.apply()
        try checkWritable(modelOptions.model, flag: "--model")
        if let json { try checkWritable(json, flag: "--json") }
        if let plot { try checkChartOutput(plot, flag: "--plot") }
        var request = TrainingRequest()
        request.modelPath = modelOptions.model
        request.dataDirectory = try dataOptions.locate()
        request.epochs = epochs
        request.resume = resume
        request.jsonPath = json
        request.architecture = arch
        request.latent = latent?.values
        request.hidden = hidden?.layers.map(\.values)
        request.flow = flow.flatMap(Flow.init(spec:))
        request.quantiser = quantiser()
        request.likelihood = loss
        request.activation = activation
        request.conditional = conditional
        request.classPrior = classPrior
        request.convChannels = convChannels?.values
        request.loading = loadingOptions.loading(seed: seedOptions.seed, skipUnreadable: dataOptions.skipUnreadable)
        request.batchSize = batchSize
        request.learningRate = lr
        request.adamEpsilon = adamEpsilon
        request.beta = beta
        request.seed = seedOptions.seed
        request.binarize = binarize.map { $0 == .dynamic }
        request.warmupEpochs = warmupEpochs
        request.schedule = lrDecay
        request.importanceSamples = iwSamples
        request.corruption = try corruption()
        request.classes = try classSelection()
        request.holdout = holdout
        request.perturbation = perturb
        request.meanImageBias = meanBias
        request.trainImages = trainImages
        request.testImages = testImages

        let run = try TrainingRun(request, loadingProgress: LoadingProgress.terminal)
        LoadingProgress.finish(skipped: [])
        let reporter = TrainingReporter(totalEpochs: epochs)
        reporter.say(run.summary)
        let name = URL(fileURLWithPath: json ?? modelOptions.model).deletingPathExtension().lastPathComponent
        let epochFinished = { (report: EpochReport) in
            reporter.epochFinished(report)
            guard let plot else { return }
            do {
                try Figures.trainingCurves([RunHistory(name: name, epochs: run.log.epochs)]).write(to: plot)
            } catch {
                // Training goes on; the chart is redrawn after the next epoch.
                FileHandle.standardError.write(Data("vae: --plot \(error)\n".utf8))
            }
        }
        try reporter.drive({ shouldStop in try run.run(progress: reporter.progress, epochFinished: epochFinished, shouldStop: shouldStop) },
                           path: modelOptions.model, saved: "saved \(modelOptions.model)" + (json.map { ", figures in \($0)" } ?? ""), unit: "epoch",
                           batches: run.trainer.batchesPerEpoch,
                           resume: "vae train --resume --model \(modelOptions.model) --epochs \(epochs)" + (dataOptions.data.map { " --data \($0)" } ?? ""))
    }
}

extension Train {
    /// `--binarize`: pixels redrawn from their intensities each time an image is drawn, or grey levels.
    enum Binarization: String, CaseIterable, ExpressibleByArgument { case dynamic, none }
}

extension LearningRateSchedule: ExpressibleByArgument {
    public init?(argument: String) { self.init(text: argument) }
    public var defaultValueDescription: String { text }
}
