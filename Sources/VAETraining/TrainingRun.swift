import Foundation
import VAEData
import VAEInference
import VAEModels

/// What `vae train` is asked, as given: nil where a flag was not given.
/// A new run takes the defaults for those; a resumed one the checkpoint's,
/// and a model flag that contradicts the checkpoint is an error.
public struct TrainingRequest {
    public var modelPath = "model.safetensors"
    public var dataDirectory = "Data/mnist"
    /// Epochs in all (a resumed run trains until it has this many).
    public var epochs = 10
    public var resume = false
    public var jsonPath: String?

    // The model.
    public var architecture: Architecture?
    /// One size per stochastic layer (two: the hierarchical family).
    public var latent: [Int]?
    /// Each stochastic layer's hidden widths.
    public var hidden: [[Int]]?
    public var flow: Flow?
    /// A VQ-VAE's codebook (`--vq`).
    public var quantiser: Quantiser?
    public var likelihood: ReconstructionLikelihood?
    public var activation: ActivationKind?
    public var conditional = false
    /// A conditional Gaussian VAE's prior; learned unless given.
    public var classPrior: ClassPrior?
    public var convChannels: [Int]?

    // The data: how image files become images of one shape (size, crop,
    // channels, the test split's share, skipping unreadable files). A
    // resumed run reads its data as it did before.
    public var loading = ImageLoading()
    /// The classes to train on (names or numbers), or those to leave out.
    public var classes: ClassSelection?

    // The training.
    public var batchSize: Int?
    public var learningRate: Float?
    /// Adam's ε; nil: the run's, or for a new run 1e-8 (1e-4 with two stochastic layers).
    public var adamEpsilon: Float?
    public var beta: Float?
    /// A new run's seed; a resumed run keeps its own.
    public var seed: UInt64 = 0
    public var binarize: Bool?
    public var warmupEpochs: Int?
    public var schedule: LearningRateSchedule?
    public var importanceSamples: Int?
    /// `.some(nil)` turns a resumed run's corruption off.
    public var corruption: Corruption??
    public var holdout: Int?
    /// A background model's pixel replacement rate (Ren et al. 2019); fixed when a run starts.
    public var perturbation: Float?
    /// A new model's output bias starts at the logits of its training images' mean.
    public var meanImageBias = false

    // Quick runs: the first images of each split.
    public var trainImages: Int?
    public var testImages: Int?

    public init() {}
}

/// Which classes a run trains on, by name or number (`--digits`,
/// `--classes`, `--exclude-digits`, `--exclude-classes`).
public enum ClassSelection: Equatable, Sendable {
    case only([String])
    case except([String])

    /// The class numbers kept among a data set's classes (names from its folders, or numbers).
    func kept(names: [String]?, count: Int) throws -> [Int] {
        let data = TrainingData(classNames: names)
        let (listed, keep) = switch self {
        case .only(let l): (l, true)
        case .except(let l): (l, false)
        }
        let indices = try listed.map { name -> Int in
            guard let i = data.classIndex(name, count: count) else {
                let known = names.map { $0.joined(separator: ", ") } ?? "0-\(count - 1)"
                throw RequestError("class \(name) is not in the data set (its classes: \(known))")
            }
            return i
        }
        let kept = (0..<count).filter { Set(indices).contains($0) == keep }
        guard !kept.isEmpty else { throw RequestError("the class selection leaves no class to train on") }
        return kept
    }
}

/// How a run ended.
public enum TrainingOutcome {
    case finished(peakResidentMiB: Double)
    /// Stopped on request with epochs to go; the checkpoint holds this position.
    case interrupted(TrainingPosition)
}

/// A training run: the request merged with a checkpoint when resuming, the
/// data selected, the model and optimiser built, then epochs trained with a
/// checkpoint saved after each one (and on a stop request mid-epoch).
public final class TrainingRun {
    /// The figures of every finished epoch (a resumed run's earlier ones from its JSON file).
    public private(set) var log: TrainingLog
    public let request: TrainingRequest
    public let model: any VariationalModel
    public let settings: TrainingSettings
    public let trainer: Trainer
    /// Images trained on per epoch.
    public let trainCount: Int
    private var test: LossTerms
    private var hasCheckpoint: Bool

    /// Where the data came from, in words (and what was skipped).
    public let dataDescription: String

    /// `loadingProgress` hears (images done, total) while a folder loads.
    public init(_ request: TrainingRequest, loadingProgress: ((Int, Int) -> Void)? = nil) throws {
        self.request = request
        let path = request.modelPath
        let data: DataSplits
        let optimizer: Adam
        let model: any VariationalModel
        var settings: TrainingSettings
        var position: TrainingPosition?
        if request.resume {
            let loaded = try TrainingCheckpoint.load(path: path, learningRate: request.learningRate, adamEpsilon: request.adamEpsilon)
            try request.checkModel(matches: loaded.model.configuration)
            guard let adam = loaded.optimizer else {
                throw RequestError("\(path): holds no optimiser state, so training cannot resume from it")
            }
            if loaded.model.configuration.codePrior != nil {
                throw RequestError("\(path): has a prior trained on its codes; training the autoencoder further would change the codes under it (train a new model, or resume before `vae train-prior`)")
            }
            guard loaded.position.epoch < request.epochs else {
                throw RequestError("\(path): already trained for \(loaded.position.epoch) epochs; ask for more with --epochs")
            }
            let shape = loaded.model.configuration.shape
            if let size = request.loading.size, size.height != shape.height || size.width != shape.width {
                throw RequestError("--image-size \(size.height)x\(size.width) differs from the checkpoint's \(shape.height)x\(shape.width)")
            }
            if let channels = request.loading.channels, channels != shape.channels {
                throw RequestError("--channels \(channels) differs from the checkpoint's \(shape.channels)")
            }
            data = try DataSplits.load(directory: request.dataDirectory,
                                       options: loaded.settings.data.loading(base: request.loading, shape: shape), progress: loadingProgress)
            if let names = loaded.settings.data.classNames, data.classNames != names {
                throw RequestError("\(request.dataDirectory): classes \((data.classNames ?? []).joined(separator: ", ")), where the run was trained on \(names.joined(separator: ", "))")
            }
            settings = try request.merged(into: loaded.settings, resuming: true, data: data)
            let terms = Objective(settings.objective, model: loaded.model).terms
            if loaded.position.batch > 0 {
                // A run interrupted mid-epoch must continue on the same data, batches and objective to be exact.
                guard settings.batchSize == loaded.settings.batchSize, terms == loaded.position.partial.terms else {
                    throw RequestError("\(path): stopped at batch \(loaded.position.batch) of an epoch; resume it with the same data, --batch-size \(loaded.settings.batchSize) and --iw-samples \(loaded.settings.importanceSamples)")
                }
                position = loaded.position
            } else {
                position = TrainingPosition(epoch: loaded.position.epoch, partial: LossTerms(terms))
            }
            (model, optimizer, test, hasCheckpoint) = (loaded.model, adam, loaded.test, true)
        } else {
            var loading = request.loading
            loading.seed = request.seed
            data = try DataSplits.load(directory: request.dataDirectory, options: loading, progress: loadingProgress)
            settings = try request.merged(into: TrainingSettings(), resuming: false, data: data)
            let vq = request.quantiser
            if vq != nil && (request.latent != nil || request.hidden != nil || request.flow != nil) {
                throw RequestError("--vq: a VQ-VAE's latent grid is set by --code-dim and --conv-channels, not --latent, --hidden or --flow")
            }
            if vq != nil && request.beta != nil { throw RequestError("--beta: a VQ-VAE has no KL term (its codebook distance is weighted by --commitment)") }
            let architecture = request.architecture ?? (vq != nil ? .conv : .mlp)
            let latents = request.latent ?? [vq?.dimensions ?? (request.conditional && architecture == .conv ? Self.conditionalConvLatent : 20)]
            // Two latent sizes make a two-layer model: the paper's widths and Adam's ε unless given.
            let twoLayers = latents.count == 2
            if twoLayers && request.adamEpsilon == nil { settings.adamEpsilon = TrainingSettings.twoLayerAdamEpsilon }
            let widths = request.hidden ?? (twoLayers ? [[200, 200], [100, 100]] : vq != nil ? [[]] : [architecture == .conv ? [256] : [512, 256]])
            guard widths.count == latents.count else {
                throw RequestError("--hidden gives widths for \(widths.count) stochastic layer\(widths.count == 1 ? "" : "s") but --latent \(latents.count) size\(latents.count == 1 ? "" : "s"); give each layer's widths, separated by / (e.g. --latent 100,50 --hidden 200,200/100,100)")
            }
            let family: ModelFamily = vq != nil ? .vq : twoLayers ? .hierarchical : request.flow != nil ? .flow : .gaussian
            if request.classPrior != nil && !(request.conditional && family == .gaussian) {
                throw RequestError("--class-prior goes with --conditional and a one-layer Gaussian VAE"
                                   + (vq != nil ? " (a conditional VQ-VAE's PixelCNN prior takes the class)" : ""))
            }
            let configuration = ModelConfiguration(
                family: family,
                architecture: architecture, shape: data.train.shape, hidden: widths[0],
                latent: latents[0], likelihood: request.likelihood ?? .bernoulli, activation: request.activation ?? .relu,
                classes: request.conditional ? try Self.labelCount(data.train, directory: request.dataDirectory) : 0,
                convChannels: request.convChannels ?? ModelConfiguration.defaultConvChannels,
                upperLayer: twoLayers ? UpperLayer(latent: latents[1], hidden: widths[1]) : nil, flow: request.flow, quantiser: vq,
                learnedClassPrior: request.conditional && family == .gaussian && request.classPrior != .standard)
            if let problem = configuration.problem { throw RequestError(problem) }
            model = configuration.family.makeModel(configuration)
            model.initialize(seed: settings.seed)
            optimizer = Adam(parameters: model.parameters, learningRate: settings.learningRate, epsilon: settings.adamEpsilon)
            (test, hasCheckpoint) = (LossTerms(model.lossTerms(.closedForm)), false)
        }
        var (train, testSet) = (data.train, data.test)
        try model.checkInput(train, source: "\(request.dataDirectory) (training split)")
        try model.checkInput(testSet, source: "\(request.dataDirectory) (test split)")
        guard settings.importanceSamples == 1 || model.configuration.likelihood == .bernoulli else {
            throw RequestError("--iw-samples needs the Bernoulli likelihood (--loss bce): the bound uses log p(x|z)")
        }
        guard settings.importanceSamples == 1 || model.noisePerDraw > 0 else {
            throw RequestError("--iw-samples: a \(model.configuration.summary) model draws no z from q(z|x), so there is no importance-weighted bound")
        }
        if let n = request.trainImages, n < train.count { train = train.subset(0..<n) }
        train = settings.data.split(train).fit
        testSet = settings.data.keep(testSet)
        if let n = request.testImages, n < testSet.count { testSet = testSet.subset(0..<n) }
        if settings.data.binarized { testSet = binarized(testSet, seed: settings.seed) }
        guard train.count > 0 else {
            throw RequestError("no training images left after selecting classes and holding out \(settings.data.holdout)")
        }
        if settings.meanImageBias && !request.resume {
            guard model.startAtMeanImage(train.meanValues) else {
                throw RequestError("--mean-bias: a \(model.configuration.summary) model's decoder has one output bias per channel, not per pixel (mlp decoders only)")
            }
        }
        if let position, position.batch > 0, position.batch >= (train.count + settings.batchSize - 1) / settings.batchSize {
            throw RequestError("\(path): stopped at batch \(position.batch) of an epoch; resume it with the same data")
        }
        self.model = model
        self.settings = settings
        trainCount = train.count
        dataDescription = data.description + (data.skipped.isEmpty ? "" : "; \(data.skipped.count) unreadable files skipped")
        trainer = Trainer(model: model, optimizer: optimizer, settings: settings, train: train, test: testSet, position: position)
        log = TrainingLog(path: request.jsonPath, model: model.configuration, settings: settings,
                          resumingAfter: request.resume ? trainer.completedEpochs : nil)
    }

    /// One line on what is trained, how, on what, and from where.
    public var summary: String {
        let c = model.configuration, s = settings, p = trainer.position
        let resumeNote = p.batch > 0 ? ", resuming at epoch \(p.epoch + 1), batch \(p.batch + 1)"
            : p.epoch > 0 ? ", resuming after epoch \(p.epoch)" : ""
        return "training \(c.summary) "
            + "(\(model.parameters.count) parameters, loss \(c.likelihood.rawValue), \(c.activation.rawValue), "
            + (c.quantiser.map { "commitment β \($0.commitment)" } ?? "β \(s.beta)")
            + (s.importanceSamples > 1 ? ", IWAE K=\(s.importanceSamples)" : "")
            + (s.corruption.map { ", denoising (\($0.spec))" } ?? "")
            + (s.warmupEpochs > 0 ? ", KL warm-up \(s.warmupEpochs) epochs" : "")
            + (s.schedule != .constant ? ", lr decay \(s.schedule.text)" : "")
            + (s.adamEpsilon != 1e-8 ? ", Adam ε \(s.adamEpsilon)" : "")
            + (s.meanImageBias ? ", output bias from the mean image" : "")
            + (s.data.binarized ? ", dynamically binarised" : "")
            + (s.data.perturbation.map { String(format: ", %g%% of pixels replaced at random (a background model)", 100 * $0) } ?? "") + ") on \(trainCount) images"
            + (s.data.classes.map { " of classes \($0.map(s.data.className).joined(separator: ","))" } ?? "")
            + (s.data.holdout > 0 ? " (\(s.data.holdout) held out)" : "") + " from \(dataDescription)"
            + resumeNote
    }

    /// Trains until `request.epochs` epochs in all, saving after each, or
    /// until `shouldStop` (asked after every step) says stop: then the
    /// checkpoint is saved where the run is.
    public func run(progress: ((BatchProgress) -> Void)? = nil, epochFinished: (EpochReport) -> Void = { _ in },
                    shouldStop: () -> Bool = { false }) throws -> TrainingOutcome {
        while trainer.completedEpochs < request.epochs {
            let outcome: EpochOutcome
            do {
                outcome = try trainer.trainEpoch(progress: progress, shouldStop: shouldStop)
            } catch var diverged as TrainingDiverged {
                diverged.checkpointNote = hasCheckpoint ? "\(request.modelPath) still holds the last good checkpoint" : "no checkpoint was written"
                throw diverged
            }
            if case .finished(let report) = outcome { test = report.test }
            try TrainingCheckpoint.save(model: model, optimizer: trainer.optimizer, settings: settings,
                                        position: trainer.position, test: test, to: request.modelPath)
            hasCheckpoint = true
            if case .finished(let report) = outcome {
                try log.append(report)
                epochFinished(report)
            }
            if trainer.completedEpochs < request.epochs && shouldStop() { return .interrupted(trainer.position) }
        }
        let peak = peakResidentMemoryMiB()
        try log.write(peakResidentMiB: peak)
        return .finished(peakResidentMiB: peak)
    }

    /// A conditional conv model's default latent size. Its encoder puts more
    /// of the image into z than the mlp's (KL 22 nats at 20 dimensions, the
    /// mlp's 16), class included, and z overrules the label in about one
    /// sample of ten; with 10 dimensions the label wins (README, "Convolutional and conditional models": 95.6% of samples
    /// read as the class asked for, against 91.2%, for 2.9 nats of −ELBO).
    static let conditionalConvLatent = 10

    /// A conditional model has one class per label the training data has (10 for MNIST).
    static func labelCount(_ train: ImageSet, directory: String) throws -> Int {
        guard let classes = Conditioning.classes(of: train) else {
            throw RequestError("--conditional needs labelled training data; \(directory) has no training labels")
        }
        return classes
    }
}

extension TrainingRequest {
    /// Model flags given with --resume must agree with the checkpoint's model.
    func checkModel(matches c: ModelConfiguration) throws {
        func differs(_ flag: String, _ given: String, _ saved: String) -> RequestError {
            RequestError("--\(flag) \(given) differs from the checkpoint's \(saved)")
        }
        if let architecture, architecture != c.architecture { throw differs("arch", architecture.rawValue, c.arch) }
        if conditional && !c.isConditional { throw RequestError("--conditional: the checkpoint's model is not conditional") }
        if let classPrior, (classPrior == .learned) != c.learnedClassPrior {
            throw differs("class-prior", classPrior.rawValue, c.learnedClassPrior ? "learned" : c.isConditional ? "standard" : "none (not conditional)")
        }
        let latents = [c.latent] + (c.upperLayer.map { [$0.latent] } ?? [])
        let widths = [c.hidden] + (c.upperLayer.map { [$0.hidden] } ?? [])
        if let latent, latent != latents { throw differs("latent", commaSeparated(latent), commaSeparated(latents)) }
        if let hidden, hidden != widths {
            throw differs("hidden", hidden.map(commaSeparated).joined(separator: "/"), widths.map(commaSeparated).joined(separator: "/"))
        }
        if let flow, flow != c.flow { throw differs("flow", flow.spec, c.flow?.spec ?? "none") }
        if let quantiser, quantiser != c.quantiser {
            let saved = c.quantiser.map { "\($0.codes) codes of \($0.dimensions), commitment \($0.commitment), EMA \($0.emaDecay.map { String($0) } ?? "none")" } ?? "no codebook"
            throw RequestError("--vq/--code-dim/--commitment/--vq-ema differ from the checkpoint's \(saved)")
        }
        if let likelihood, likelihood != c.likelihood { throw differs("loss", likelihood.rawValue, c.likelihood.rawValue) }
        if let activation, activation != c.activation { throw differs("activation", activation.rawValue, c.activation.rawValue) }
    }

    /// `base` (the defaults, or a resumed run's settings) with every given flag applied.
    func merged(into base: TrainingSettings, resuming: Bool, data: DataSplits) throws -> TrainingSettings {
        let classCount = data.classNames?.count ?? Conditioning.classes(of: data.train) ?? 0
        let kept = try classes.map { try $0.kept(names: data.classNames, count: classCount) }
        var s = base
        if let batchSize { s.batchSize = batchSize }
        if let learningRate { s.learningRate = learningRate }
        if let adamEpsilon { s.adamEpsilon = adamEpsilon }
        if let beta { s.beta = beta }
        if !resuming { (s.seed, s.meanImageBias) = (seed, meanImageBias) }
        if let binarize { s.data.binarized = binarize }
        if let warmupEpochs { s.warmupEpochs = warmupEpochs }
        if let schedule { s.schedule = schedule }
        if let importanceSamples { s.importanceSamples = importanceSamples }
        if let corruption { s.corruption = corruption }
        if resuming {
            if meanImageBias { throw RequestError("--mean-bias sets where a new model starts; a resumed run goes on from its weights") }
            // Which images a run sees is fixed when it starts.
            if let kept, kept != base.data.classes ?? Array(0..<classCount) {
                throw RequestError("--digits/--classes/--exclude-… differ from the checkpoint's classes")
            }
            if let holdout, holdout != base.data.holdout {
                throw RequestError("--holdout \(holdout) differs from the checkpoint's \(base.data.holdout)")
            }
            if let perturbation, perturbation != base.data.perturbation {
                throw RequestError("--perturb \(perturbation) differs from the checkpoint's \(base.data.perturbation.map { String($0) } ?? "none")")
            }
        } else {
            s.data.classes = kept
            s.data.holdout = holdout ?? 0
            s.data.perturbation = perturbation
            s.data.classNames = data.classNames
            s.data.resized = loading.size != nil
            s.data.crop = loading.size != nil && loading.mode == .crop
            s.data.rechanneled = loading.channels != nil
            s.data.testSplit = data.testSplit
        }
        return s
    }
}
