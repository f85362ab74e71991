import Foundation
import VAEData
import VAEEngine
import VAEModels

/// Where a run is within an epoch, for progress bars.
public struct BatchProgress {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    /// Mean training loss per sample so far this epoch (reconstruction + β·KL).
    public let runningLoss: Double
    public let samplesPerSecond: Double
    public let elapsed: Double
}

/// The figures of one epoch.
public struct EpochReport {
    public let epoch: Int
    /// Mean training loss per sample (reconstruction + β·KL, as optimised).
    public let trainLoss: Double
    public let train: ELBOTerms
    public let test: ELBOTerms
    public let trainSeconds: Double
    public let samplesPerSecond: Double
}

/// Where a run is: completed epochs, batches done in the next one, and the
/// training loss terms of those batches. Saved in checkpoints, so a run
/// interrupted mid-epoch resumes at the very next batch.
public struct TrainingPosition: Equatable {
    public var epoch: Int
    public var batch: Int
    public var partial: ELBOTerms

    public init(epoch: Int = 0, batch: Int = 0, partial: ELBOTerms = ELBOTerms()) {
        self.epoch = epoch
        self.batch = batch
        self.partial = partial
    }
}

/// How an epoch ended: finished (with its figures), or stopped on request
/// after a whole step (at this position).
public enum EpochOutcome {
    case finished(EpochReport)
    case interrupted(TrainingPosition)
}

/// A NaN or infinity appeared: training stops before it reaches the weights.
public struct TrainingDiverged: Error, CustomStringConvertible {
    public let epoch: Int
    public let batch: Int
    /// "reconstruction term", "KL term" or "gradient".
    public let term: String

    public var description: String {
        "training diverged at epoch \(epoch), batch \(batch): the \(term) is not finite (NaN or infinite); try a lower --lr"
    }
}

/// Mini-batch training of a VAE with Adam. Each epoch's shuffle comes from a
/// generator derived from (seed, epoch) and each batch's ε from one derived
/// from (seed, epoch, batch), so a run resumed at any batch continues exactly
/// as if it had not stopped.
public final class Trainer {
    public let model: VAE
    public let optimizer: Adam
    public let settings: TrainingSettings
    public private(set) var position: TrainingPosition
    private let train: ImageSet
    private let test: ImageSet?
    private let input: Tensor
    private let noise: Tensor
    private let labels: ConditionBuffer
    /// True after a completed step: Adam has zeroed the gradients.
    private var gradientsAreZero = false

    public init(model: VAE, optimizer: Adam, settings: TrainingSettings,
                train: ImageSet, test: ImageSet?, position: TrainingPosition = TrainingPosition()) {
        precondition(train.pixelsPerImage == model.configuration.inputSize)
        precondition(!model.configuration.isConditional || (train.labels != nil && (test == nil || test?.labels != nil)),
                     "a conditional model trains on labelled images")
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self.train = train
        self.test = test
        self.position = position
        let batch = min(settings.batchSize, train.count)
        input = Tensor(shape: [batch, train.pixelsPerImage])
        noise = Tensor(shape: [batch * settings.importanceSamples, model.configuration.latent])
        labels = ConditionBuffer(classes: model.configuration.classes, batchSize: batch)
        model.reserve(batchSize: batch)
    }

    public var completedEpochs: Int { position.epoch }
    public var batchesPerEpoch: Int { (train.count + settings.batchSize - 1) / settings.batchSize }

    /// The rest of the current epoch (the last batch may be smaller), then the
    /// test set's negative ELBO. `shouldStop` is asked after every step.
    public func trainEpoch(progress: ((BatchProgress) -> Void)? = nil,
                           shouldStop: () -> Bool = { false }) throws -> EpochOutcome {
        let epoch = position.epoch + 1
        var shuffler = RandomGenerator(seed: settings.seed, stream: .shuffle, index: UInt64(epoch))
        let order = shuffler.permutation(train.count)
        optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
        let latent = model.configuration.latent, samples = settings.importanceSamples
        var totals = position.partial
        let resumedCount = totals.count
        let start = DispatchTime.now().uptimeNanoseconds
        let batches = batchesPerEpoch
        for b in position.batch..<batches {
            let lower = b * settings.batchSize
            let upper = min(lower + settings.batchSize, train.count)
            let rows = upper - lower
            let x = input.matrix(rows: rows, columns: train.pixelsPerImage)
            train.gather(order[lower..<upper], into: x.pointer)
            let stream = UInt64(epoch) << 32 | UInt64(b)
            if settings.binarize {
                var coin = RandomGenerator(seed: settings.seed, stream: .binarization, index: stream)
                for i in 0..<x.count { x.pointer[i] = coin.uniform() < x.pointer[i] ? 1 : 0 }
            }
            let eps = noise.matrix(rows: rows * samples, columns: latent)
            var rng = RandomGenerator(seed: settings.seed, stream: .noise, index: stream)
            rng.fillNormal(eps.pointer, count: eps.count)
            let beta = settings.klWeight(at: Double(epoch - 1) + Double(b) / Double(batches))

            let condition = labels.rows(of: train, order[lower..<upper])
            let terms = try step(x, condition: condition, noise: eps, beta: beta, epoch: epoch, batch: b + 1)
            totals = totals + terms
            position = TrainingPosition(epoch: epoch - 1, batch: b + 1, partial: totals)

            if let progress {
                let elapsed = seconds(since: start)
                progress(BatchProgress(epoch: epoch, batch: b + 1, batches: batches,
                                       runningLoss: totals.loss(beta: Double(settings.beta)) / Double(totals.count),
                                       samplesPerSecond: Double(totals.count - resumedCount) / max(elapsed, 1e-9),
                                       elapsed: elapsed))
            }
            if b + 1 < batches && shouldStop() { return .interrupted(position) }
        }
        let trainSeconds = seconds(since: start)
        position = TrainingPosition(epoch: epoch)
        let testTerms = test.map { evaluate(model: model, images: $0, seed: settings.seed) } ?? ELBOTerms()
        return .finished(EpochReport(epoch: epoch, trainLoss: totals.loss(beta: Double(settings.beta)) / Double(totals.count), train: totals,
                                     test: testTerms, trainSeconds: trainSeconds,
                                     samplesPerSecond: Double(totals.count - resumedCount) / max(trainSeconds, 1e-9)))
    }

    /// One optimisation step on batch x with noise ε: gradients of the ELBO
    /// (or of the importance-weighted bound), checked, then Adam. Returns the
    /// terms to report; throws before the weights change if anything is not finite.
    private func step(_ x: Matrix, condition: Matrix?, noise eps: Matrix, beta: Float, epoch: Int, batch: Int) throws -> ELBOTerms {
        func diverged(_ term: String) -> TrainingDiverged { TrainingDiverged(epoch: epoch, batch: batch, term: term) }
        // Adam leaves the gradients zero; only a step that stopped early (or
        // the first) needs the zeroing pass.
        if !gradientsAreZero { model.parameters.zeroGradients() }
        gradientsAreZero = false
        let terms: ELBOTerms
        if settings.importanceSamples > 1 {
            // The bound's value stands in the reconstruction slot: it is the loss trained on.
            let bound = model.forwardImportanceWeighted(x, condition: condition, samples: settings.importanceSamples, noise: eps, beta: beta)
            guard bound.isFinite else { throw diverged("importance-weighted bound") }
            terms = ELBOTerms(reconstruction: bound, kl: 0, count: x.rows)
            model.backwardImportanceWeighted(beta: beta)
        } else {
            terms = model.forward(x, condition: condition, noise: eps)   // reported with the full β, also during warm-up, so epochs compare
            guard terms.reconstruction.isFinite else { throw diverged("reconstruction term") }
            guard terms.kl.isFinite else { throw diverged("KL term") }
            model.backward(beta: beta)
        }
        guard model.parameters.gradientsAreFinite() else { throw diverged("gradient") }
        optimizer.update()
        gradientsAreZero = true
        return terms
    }
}

/// The negative ELBO of `images` (one draw of z per image, from a generator
/// made afresh from `seed`, so every evaluation of a model gives the same number).
public func evaluate(model: VAE, images: ImageSet, seed: UInt64, batchSize: Int? = nil) -> ELBOTerms {
    let batch = min(batchSize ?? model.inferenceBatch, images.count)
    let input = Tensor(shape: [batch, images.pixelsPerImage])
    let noise = Tensor(shape: [batch, model.configuration.latent])
    let labels = ConditionBuffer(classes: model.configuration.classes, batchSize: batch)
    model.reserve(batchSize: batch)
    var rng = RandomGenerator(seed: seed, stream: .evaluation)
    var totals = ELBOTerms()
    var lower = 0
    while lower < images.count {
        let upper = min(lower + batch, images.count)
        let x = input.matrix(rows: upper - lower, columns: images.pixelsPerImage)
        images.gather(lower..<upper, into: x.pointer)
        let eps = noise.matrix(rows: upper - lower, columns: model.configuration.latent)
        rng.fillNormal(eps.pointer, count: eps.count)
        totals = totals + model.forward(x, condition: labels.rows(of: images, lower..<upper), noise: eps)
        lower = upper
    }
    return totals
}

func seconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
