import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels

/// What `vae train-prior` is asked: nil where a flag was not given.
public struct PriorTrainingRequest {
    public var modelPath = "model.safetensors"
    public var dataDirectory = "Data/mnist"
    /// Prior epochs in all (a resumed prior trains until it has this many).
    public var epochs = 10
    public var batchSize: Int?
    public var learningRate: Float?
    /// How the rate changes from epoch to epoch (nil: the prior's, or constant).
    public var schedule: LearningRateSchedule?
    /// The share of each residual block's input units dropped in training (nil: the prior's, or 0).
    public var dropout: Float?
    /// The Polyak average's decay γ, 0 for none (nil: the prior's, or 0).
    public var polyak: Float?
    /// The largest shift in pixels of the training images whose codes the prior is fitted to (nil: the prior's, or 0).
    public var maximumShift: Int?
    /// A new prior's shape (default 128 channels, 4 blocks, first kernel 7).
    public var channels: Int?
    public var blocks: Int?
    public var inputKernel: Int?
    /// Start a new prior even if the checkpoint has one.
    public var restart = false
    public var jsonPath: String?
    public var loading = ImageLoading()
    public var trainImages: Int?
    public var testImages: Int?

    public init() {}
}

/// The figures of one prior epoch, in nats per code.
public struct PriorEpochReport {
    public let epoch: Int
    public let trainCrossEntropy: Double
    public let testCrossEntropy: Double
    /// With Polyak averaging, the test figure of the weights Adam moves (the other is the average's).
    public let iterateTestCrossEntropy: Double?
    public let trainSeconds: Double
    /// The test cross-entropy's pass.
    public let testSeconds: Double
    public let samplesPerSecond: Double
}

/// Fits a VQ-VAE's PixelCNN prior to the codes of its training images
/// (van den Oord et al. 2017, §3.2: the autoencoder frozen, the prior
/// trained after it), with Adam on the mean cross-entropy per code, and
/// stores it in the same checkpoint.
///
/// The checkpoint keeps the autoencoder's run as it was (settings, position,
/// Adam's moments for its parameters) and adds the prior's: its parameters
/// (`prior.*`), Adam's moments for them in the same blocks, and metadata
/// prior_epoch, prior_batch (done in the next epoch), prior_train_nats and
/// prior_train_codes (those batches' sums), prior_adam_step, prior_lr,
/// prior_lr_decay, prior_dropout, prior_polyak, prior_shift, prior_batch_size and prior_test_ce (nats per code after the last epoch).
/// With Polyak averaging the prior's tensors hold the average (what every
/// command uses) and `iterate.prior.*` the weights Adam moves.
/// A stopped run resumes at the next batch, bit-exactly.
public final class PriorTrainingRun {
    public let request: PriorTrainingRequest
    public let model: VQVAE
    public let batchSize: Int
    public let learningRate: Float
    public let schedule: LearningRateSchedule
    public let dropout: Float
    /// The Polyak average's decay, 0 for none.
    public let polyak: Float
    /// With a shift s > 0, each epoch fits the prior to the codes of every
    /// training image moved by (dx, dy), each drawn from −s…s per image and
    /// epoch, the uncovered border black: shifted copies are a classic
    /// regulariser, and the prior, fitted to one fixed grid per image,
    /// overfits (training cross-entropy 1.004 against 1.075 on the test
    /// images). The test figure is always on the unshifted images' codes.
    public let maximumShift: Int
    /// Prior epochs done, and batches done in the next one with their sums.
    public private(set) var epoch: Int
    public private(set) var batch: Int
    private var partialNats: Double
    private var partialCodes: Int
    public private(set) var testCrossEntropy: Double?
    private let run: TrainingCheckpoint.Loaded
    private let autoencoderOptimizer: Adam
    private let optimizer: Adam
    private let average: ParameterAverage?
    /// The training images' codes (none with a shift: those are made batch by batch).
    private let trainCodes: [Int32]
    private let testCodes: [Int32]
    /// With a shift: the training images, encoded batch by batch as they
    /// are moved; kept deflated (a quarter of the bytes: as they are,
    /// MNIST's took 47 of the shifted prior's 212 MiB).
    private let shiftedImages: DeflatedImages?
    /// Each image's class, for a conditional prior (a VQ-VAE trained with --conditional).
    private let trainLabels: [Int32]?
    private let testLabels: [Int32]?
    private let seed: UInt64
    public let dataDescription: String

    public let trainCount: Int
    /// Images the autoencoder encodes at a time: its buffers are sized by
    /// it (at 128, the prior's batch, its columns and outputs took 19 MB
    /// more of the shifted prior's peak; the encoding is a few per cent of a
    /// step).
    static let encodingBatch = 32
    public var batchesPerEpoch: Int { (trainCount + batchSize - 1) / batchSize }

    public init(_ request: PriorTrainingRequest, loadingProgress: ((Int, Int) -> Void)? = nil) throws {
        self.request = request
        let path = request.modelPath
        let loaded = try TrainingCheckpoint.load(path: path)
        guard let vq = loaded.model as? VQVAE else {
            throw RequestError("\(path): a \(loaded.model.configuration.summary) model has no codes; train-prior goes with a VQ-VAE (vae train --vq K)")
        }
        let m = MetadataReader(loaded.metadata)
        let resuming = vq.prior != nil && !request.restart
        if let p = request.polyak, !(p >= 0 && p < 1) { throw RequestError("--polyak must be in [0, 1), got \(p)") }
        if let s = request.maximumShift, !(0...8).contains(s) { throw RequestError("--shift must be in 0...8, got \(s)") }
        var configuration = vq.configuration
        do {
            if resuming {
                let saved = configuration.codePrior!
                if let c = request.channels, c != saved.channels { throw RequestError("--prior-channels \(c) differs from the checkpoint's prior's \(saved.channels); --restart trains a new one") }
                if let b = request.blocks, b != saved.blocks { throw RequestError("--prior-blocks \(b) differs from the checkpoint's prior's \(saved.blocks); --restart trains a new one") }
                if let k = request.inputKernel, k != saved.inputKernel {
                    throw RequestError("--prior-kernel \(k) differs from the checkpoint's prior's \(saved.inputKernel); --restart trains a new one")
                }
                epoch = try m.integer("prior_epoch", in: 0...Int(Int32.max), default: 0)
                batch = try m.integer("prior_batch", in: 0...Int(Int32.max), default: 0)
                partialNats = try m.real("prior_train_nats", default: 0)
                partialCodes = try m.integer("prior_train_codes", in: 0...Int(Int32.max), default: 0)
                batchSize = try request.batchSize ?? m.integer("prior_batch_size", in: 1...65_536, default: 128)
                learningRate = try request.learningRate ?? Float(m.real("prior_lr", default: 1e-3))
                schedule = try request.schedule ?? m.choice("prior_lr_decay", default: .constant, expected: "none, iwae or a factor in (0, 1]",
                                                            LearningRateSchedule.init(text:))
                dropout = try request.dropout ?? Float(m.real("prior_dropout", default: 0))
                guard (0..<1).contains(dropout) else { throw MetadataError("metadata prior_dropout is \(dropout), expected a number in [0, 1)") }
                maximumShift = try request.maximumShift ?? m.integer("prior_shift", in: 0...8, default: 0)
                let savedPolyak = try m.real("prior_polyak", default: 0)
                guard (0..<1).contains(savedPolyak) else { throw MetadataError("metadata prior_polyak is \(savedPolyak), expected a number in [0, 1)") }
                if savedPolyak > 0 && loaded.iterate == nil {
                    throw MetadataError("its prior is a Polyak average, but the weights it was trained from (iterate.*) are missing")
                }
                polyak = request.polyak ?? Float(savedPolyak)
                testCrossEntropy = m.has("prior_test_ce") ? try m.real("prior_test_ce") : nil
                if batch > 0, batchSize != (try m.integer("prior_batch_size", in: 1...65_536, default: 128)) {
                    throw RequestError("\(path): the prior stopped at batch \(batch) of an epoch; resume it with its --batch-size")
                }
                guard epoch < request.epochs else {
                    throw RequestError("\(path): its prior is already trained for \(epoch) epochs; ask for more with --epochs, or --restart")
                }
            } else {
                // A wider first kernel than 2·max(H, W) − 1 adds only taps outside the grid.
                let widest = 2 * max(vq.grid.height, vq.grid.width) - 1
                if let k = request.inputKernel, k > widest {
                    throw RequestError("--prior-kernel \(k) is wider than needed: \(widest) already sees every earlier code of the \(vq.grid.height)x\(vq.grid.width) grid")
                }
                configuration.codePrior = CodePrior(channels: request.channels ?? 128, blocks: request.blocks ?? 4, inputKernel: request.inputKernel ?? 7)
                if let problem = configuration.problem { throw RequestError(problem) }
                (epoch, batch, partialNats, partialCodes) = (0, 0, 0, 0)
                batchSize = request.batchSize ?? 128
                learningRate = request.learningRate ?? 1e-3
                schedule = request.schedule ?? .constant
                dropout = request.dropout ?? 0
                polyak = request.polyak ?? 0
                maximumShift = request.maximumShift ?? 0
                testCrossEntropy = nil
            }
        } catch let error as MetadataError {
            throw FileError(path, error.problem)
        }
        // The model with its prior: the autoencoder's values and moments copied (they come first in the store).
        let model = resuming ? vq : VQVAE(configuration: configuration)
        let moments = (m: Tensor(shape: [model.parameters.count]), v: Tensor(shape: [model.parameters.count]))
        let kept = resuming ? model.parameters.count : vq.priorParameterRange.lowerBound
        if !resuming {
            model.parameters.values.pointer.update(from: vq.parameters.values.pointer, count: kept)
            model.initializePrior(seed: loaded.settings.seed)
        }
        if let saved = loaded.optimizer {
            moments.m.pointer.update(from: saved.m.pointer, count: kept)
            moments.v.pointer.update(from: saved.v.pointer, count: kept)
        }
        let priorRange = model.priorParameterRange
        autoencoderOptimizer = Adam(parameters: model.parameters, range: 0..<priorRange.lowerBound, moments: moments,
                                    learningRate: loaded.settings.learningRate, epsilon: loaded.settings.adamEpsilon)
        autoencoderOptimizer.step = loaded.optimizer?.step ?? 0
        optimizer = Adam(parameters: model.parameters, range: priorRange, moments: moments, learningRate: learningRate)
        optimizer.step = resuming ? try m.integer("prior_adam_step", in: 0...Int(Int32.max), default: 0) : 0
        // A resumed prior's own tensors may be an average: the average goes on from them, training from the iterate.
        let iterate = resuming ? loaded.iterate : nil
        average = polyak > 0 ? ParameterAverage(parameters: model.parameters, range: priorRange, decay: polyak,
                                                average: iterate.map { _ in model.parameters.values }) : nil
        if let iterate {
            model.parameters.values.pointer.update(from: iterate.pointer, count: model.parameters.count)
        }
        self.model = model
        run = loaded
        seed = loaded.settings.seed

        // The images the autoencoder was trained on, read the same way.
        let settings = loaded.settings, shape = model.configuration.shape
        let data = try DataSplits.load(directory: request.dataDirectory, options: settings.data.loading(base: request.loading, shape: shape),
                                       progress: loadingProgress)
        try model.checkInput(data.train, source: "\(request.dataDirectory) (training split)")
        var (train, test) = (data.train, data.test)
        if let n = request.trainImages, n < train.count { train = train.subset(0..<n) }
        train = settings.data.split(train).fit
        test = settings.data.keep(test)
        if let n = request.testImages, n < test.count { test = test.subset(0..<n) }
        if settings.data.binarized {
            train = binarized(train, seed: seed)
            test = binarized(test, seed: seed)
        }
        guard train.count > 0, test.count > 0 else { throw RequestError("\(request.dataDirectory): no images to fit the prior to") }
        // Encoded a few at a time: the autoencoder's buffers stay that size.
        trainCount = train.count
        trainCodes = maximumShift > 0 ? [] : codes(of: model, images: train, batchSize: Self.encodingBatch)
        testCodes = codes(of: model, images: test, batchSize: Self.encodingBatch)
        shiftedImages = maximumShift > 0 ? DeflatedImages(train) : nil
        if model.configuration.isConditional {
            guard let a = train.labels, let b = test.labels else { throw RequestError("\(request.dataDirectory): a conditional prior needs labelled images") }
            (trainLabels, testLabels) = (a.map(Int32.init), b.map(Int32.init))
        } else {
            (trainLabels, testLabels) = (nil, nil)
        }
        if batch > 0 && batch >= (train.count + batchSize - 1) / batchSize {
            throw RequestError("\(path): the prior stopped at batch \(batch) of an epoch; resume it with the same data")
        }
        dataDescription = data.description
        model.prior!.reserve(batchSize: min(batchSize, train.count))
    }

    public var summary: String {
        let shape = model.configuration.codePrior!, p = model.positions
        let resumeNote = batch > 0 ? ", resuming at epoch \(epoch + 1), batch \(batch + 1)" : epoch > 0 ? ", resuming after epoch \(epoch)" : ""
        return "training a PixelCNN prior (\(shape.channels) channels, \(shape.inputKernel)x\(shape.inputKernel) first kernel, \(shape.blocks) blocks, "
            + "\(optimizer.range.count) parameters, lr \(learningRate)"
            + (schedule != .constant ? ", lr decay \(schedule.text)" : "") + (dropout > 0 ? ", dropout \(dropout)" : "")
            + (polyak > 0 ? ", Polyak average \(polyak)" : "") + (maximumShift > 0 ? ", images shifted by up to \(maximumShift) px" : "") + ", batch \(batchSize)) "
            + "over the \(model.grid.height)x\(model.grid.width) codes (\(p) per image, \(model.quantiser.codes) values) of \(trainCount) images from \(dataDescription)"
            + resumeNote
    }

    /// Trains until `request.epochs` prior epochs, saving after each, or
    /// until `shouldStop` (asked after every step) says stop.
    public func run(progress: ((BatchProgress) -> Void)? = nil, epochFinished: (PriorEpochReport) -> Void = { _ in },
                    shouldStop: () -> Bool = { false }) throws -> TrainingOutcome {
        var log: [[String: Any]] = []
        while epoch < request.epochs {
            let finished = try trainEpoch(progress: progress, shouldStop: shouldStop)
            try save()
            if let report = finished {
                epochFinished(report)
                var entry: [String: Any] = ["epoch": report.epoch, "train_ce_per_code": report.trainCrossEntropy,
                                            "test_ce_per_code": report.testCrossEntropy, "train_seconds": report.trainSeconds,
                                            "test_seconds": report.testSeconds, "samples_per_s": report.samplesPerSecond]
                if let ce = report.iterateTestCrossEntropy { entry["iterate_test_ce_per_code"] = ce }
                log.append(entry)
                try writeLog(log)
            } else {
                return .interrupted(TrainingPosition(epoch: epoch, batch: batch, partial: LossTerms([])))
            }
            if epoch < request.epochs && shouldStop() {
                return .interrupted(TrainingPosition(epoch: epoch, batch: batch, partial: LossTerms([])))
            }
        }
        let peak = peakResidentMemoryMiB()
        try writeLog(log, peak: peak)
        return .finished(peakResidentMiB: peak)
    }

    /// The rest of the current epoch; nil when stopped part way.
    private func trainEpoch(progress: ((BatchProgress) -> Void)?, shouldStop: () -> Bool) throws -> PriorEpochReport? {
        let prior = model.prior!, P = model.positions, n = trainCount, current = epoch + 1
        optimizer.learningRate = schedule.rate(base: learningRate, epoch: current)
        var rng = RandomGenerator(seed: seed, stream: .priorShuffle, index: UInt64(current))
        let order = rng.permutation(n)
        let shifts = shiftedImages.map {
            ShiftedCodes(images: $0, model: model, maximumShift: maximumShift, seed: seed, epoch: current, encodingBatch: Self.encodingBatch)
        }
        var grid = [Int32](repeating: 0, count: batchSize * P)
        var labels = trainLabels.map { _ in [Int32](repeating: 0, count: batchSize) }
        var nats = [Double](repeating: 0, count: batchSize)
        let start = DispatchTime.now().uptimeNanoseconds, resumedCodes = partialCodes
        for b in batch..<batchesPerEpoch {
            let rows = order[(b * batchSize)..<min(n, (b + 1) * batchSize)]
            if let shifts {
                let shifted = shifts.codes(of: rows)
                grid.replaceSubrange(0..<shifted.count, with: shifted)
            } else {
                for (r, image) in rows.enumerated() { for p in 0..<P { grid[r * P + p] = trainCodes[image * P + p] } }
            }
            if let trainLabels { for (r, image) in rows.enumerated() { labels![r] = trainLabels[image] } }
            let count = rows.count
            let batchLabels = labels.map { Array($0.prefix(count)) }
            grid.withUnsafeBufferPointer { g in
                nats.withUnsafeMutableBufferPointer {
                    prior.accumulateGradient(g.baseAddress!, images: count, labels: batchLabels,
                                             dropout: dropout > 0 ? PriorDropout(rate: dropout, seed: seed, step: optimizer.step) : nil,
                                             perImage: $0.baseAddress!)
                }
            }
            // Summed in row order: the same total for any thread count.
            let total = nats.prefix(count).reduce(0, +)
            guard total.isFinite else { throw TrainingDiverged(epoch: current, batch: b + 1, term: "prior's cross-entropy") }
            guard model.parameters.gradientsAreFinite() else { throw TrainingDiverged(epoch: current, batch: b + 1, term: "gradient") }
            optimizer.update()
            average?.update(afterStep: optimizer.step)
            partialNats += total
            partialCodes += count * P
            batch = b + 1
            let elapsed = seconds(since: start)
            progress?(BatchProgress(epoch: current, batch: b + 1, batches: batchesPerEpoch, runningLoss: partialNats / Double(partialCodes),
                                    samplesPerSecond: Double(partialCodes - resumedCodes) / Double(P) / max(elapsed, 1e-9), elapsed: elapsed))
            if b + 1 < batchesPerEpoch && shouldStop() { return nil }
        }
        let trainSeconds = seconds(since: start)
        let testStart = DispatchTime.now().uptimeNanoseconds
        let test = withModelWeights { crossEntropy(of: testCodes, labels: testLabels) }
        let iterateTest = average.map { _ in crossEntropy(of: testCodes, labels: testLabels) }
        let report = PriorEpochReport(epoch: current, trainCrossEntropy: partialNats / Double(max(partialCodes, 1)),
                                      testCrossEntropy: test, iterateTestCrossEntropy: iterateTest, trainSeconds: trainSeconds, testSeconds: seconds(since: testStart),
                                      samplesPerSecond: Double(partialCodes - resumedCodes) / Double(P) / max(trainSeconds, 1e-9))
        (epoch, batch, partialNats, partialCodes) = (current, 0, 0, 0)
        testCrossEntropy = report.testCrossEntropy
        return report
    }

    /// The prior's mean −log p(c_i | c_<i) (given the class, if conditional) over grids of codes, in nats per code.
    public func crossEntropy(of grids: [Int32], labels: [Int32]?) -> Double {
        let P = model.positions, images = grids.count / P, step = batchSize
        var total = 0.0
        for lower in stride(from: 0, to: images, by: step) {
            let upper = min(images, lower + step)
            total += model.priorNegativeLogLikelihood(Array(grids[(lower * P)..<(upper * P)]), images: upper - lower,
                                                      labels: labels.map { Array($0[lower..<upper]) }).reduce(0, +)
        }
        return total / Double(grids.count)
    }

    /// `body` run with the model's weights in the store: the Polyak average
    /// if there is one, else the iterate.
    private func withModelWeights<T>(_ body: () throws -> T) rethrows -> T {
        guard let average else { return try body() }
        return try average.withAverageInStore(body)
    }

    private func save() throws {
        var extra = [
            "prior_epoch": String(epoch), "prior_batch": String(batch), "prior_train_nats": String(partialNats),
            "prior_train_codes": String(partialCodes), "prior_adam_step": String(optimizer.step),
            "prior_lr": String(learningRate), "prior_lr_decay": schedule.text, "prior_dropout": String(dropout), "prior_polyak": String(polyak),
            "prior_shift": String(maximumShift),
            "prior_batch_size": String(batchSize),
        ]
        if let testCrossEntropy { extra["prior_test_ce"] = String(testCrossEntropy) }
        // Inside the swap, the average's block holds the iterate.
        try withModelWeights {
            try TrainingCheckpoint.save(model: model, optimizer: autoencoderOptimizer, settings: run.settings, position: run.position,
                                        test: run.test, extra: extra, iterate: average?.average, to: request.modelPath)
        }
    }

    private func writeLog(_ epochs: [[String: Any]], peak: Double? = nil) throws {
        guard let path = request.jsonPath else { return }
        let shape = model.configuration.codePrior!
        let document: [String: Any] = [
            "config": ["channels": shape.channels, "blocks": shape.blocks, "codes": model.quantiser.codes, "positions": model.positions,
                       "lr": Double(learningRate), "lr_decay": schedule.text, "dropout": Double(dropout), "polyak": Double(polyak), "shift": maximumShift, "batch_size": batchSize, "seed": seed],
            "prior_epochs": epochs, "peak_rss_mib": peak ?? peakResidentMemoryMiB(),
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(Array(data) + [10], to: path)
    }
}

/// One epoch's shifted training images, encoded a batch at a time: image
/// i moved by (dx_i, dy_i), drawn from (seed, epoch) for every image at
/// once, so that a resumed epoch moves each image as the stopped one did.
private struct ShiftedCodes {
    let images: DeflatedImages
    let model: VQVAE
    let dx: [Int8], dy: [Int8]
    let batch: Tensor

    init(images: DeflatedImages, model: VQVAE, maximumShift s: Int, seed: UInt64, epoch: Int, encodingBatch: Int) {
        var rng = RandomGenerator(seed: seed, stream: .priorShift, index: UInt64(epoch))
        var (dx, dy) = ([Int8](repeating: 0, count: images.count), [Int8](repeating: 0, count: images.count))
        for i in 0..<images.count {
            dx[i] = Int8(rng.integer(below: 2 * s + 1) - s)
            dy[i] = Int8(rng.integer(below: 2 * s + 1) - s)
        }
        (self.images, self.model, self.dx, self.dy) = (images, model, dx, dy)
        batch = Tensor(shape: [encodingBatch * images.shape.values])
    }

    /// The code grids of `rows`' shifted images, one after the other,
    /// encoded a batch of `encodingBatch` at a time.
    func codes(of rows: ArraySlice<Int>) -> [Int32] {
        var grids: [Int32] = []
        grids.reserveCapacity(rows.count * model.positions)
        let width = images.shape.values, encodingBatch = batch.count / width
        for lower in stride(from: rows.startIndex, to: rows.endIndex, by: encodingBatch) {
            let part = rows[lower..<min(rows.endIndex, lower + encodingBatch)]
            let x = batch.matrix(rows: part.count, columns: width)
            for (r, i) in part.enumerated() { images.gather(i, movedBy: (Int(dx[i]), Int(dy[i])), into: x.row(r)) }
            grids += model.encode(x, condition: nil).codes!
        }
        return grids
    }
}
