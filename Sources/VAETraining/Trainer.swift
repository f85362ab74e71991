import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels

/// Where a run is within an epoch, for progress bars.
public struct BatchProgress {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    /// Mean training loss per sample so far this epoch (as optimised, with the full β).
    public let runningLoss: Double
    public let samplesPerSecond: Double
    public let elapsed: Double
}

/// The figures of one epoch.
public struct EpochReport {
    public let epoch: Int
    /// Mean training loss per sample (as optimised, with the full β).
    public let trainLoss: Double
    /// The objective's terms over the epoch's training images.
    public let train: LossTerms
    /// The ELBO's terms over the test images (one draw of z, from a fixed seed).
    public let test: LossTerms
    public let trainSeconds: Double
    public let samplesPerSecond: Double
    /// A VQ-VAE's use of its codebook on the test images.
    public var codebook: CodebookUsage?
}

/// Where a run is: completed epochs, batches done in the next one, and the
/// training loss terms of those batches. Saved in checkpoints, so a run
/// interrupted mid-epoch resumes at the very next batch.
public struct TrainingPosition: Equatable {
    public var epoch: Int
    public var batch: Int
    public var partial: LossTerms

    /// The start of the epoch after `epoch` completed ones, nothing summed yet.
    public init(epoch: Int = 0, batch: Int = 0, partial: LossTerms) {
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
    /// "reconstruction term", "KL term", "importance-weighted bound" or "gradient".
    public let term: String
    /// What is on disk now, when known.
    public var checkpointNote: String?

    public var description: String {
        "training diverged at epoch \(epoch), batch \(batch): the \(term) is not finite (NaN or infinite); try a lower --lr"
            + (checkpointNote.map { "; \($0)" } ?? "")
    }
}

/// Mini-batch training of a model with Adam, on the ELBO or the
/// importance-weighted bound; batches come from a `BatchAssembler`, so a run
/// resumed at any batch continues exactly as if it had not stopped.
public final class Trainer {
    public let model: any VariationalModel
    public let optimizer: Adam
    public let settings: TrainingSettings
    public let objective: Objective
    public private(set) var position: TrainingPosition
    private let batches: BatchAssembler
    private let test: ImageSet?
    /// True after a completed step: Adam has zeroed the gradients.
    private var gradientsAreZero = false

    public init(model: any VariationalModel, optimizer: Adam, settings: TrainingSettings,
                train: ImageSet, test: ImageSet?, position: TrainingPosition? = nil) {
        precondition(train.pixelsPerImage == model.configuration.inputSize)
        precondition(!model.configuration.isConditional || (train.labels != nil && (test == nil || test?.labels != nil)),
                     "a conditional model trains on labelled images")
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self.test = test
        objective = Objective(settings.objective, model: model)
        self.position = position ?? TrainingPosition(partial: LossTerms(objective.terms))
        precondition(self.position.partial.terms == objective.terms, "a position of another objective")
        batches = BatchAssembler(images: train, settings: settings, noisePerDraw: model.noisePerDraw,
                                 draws: objective.draws, classes: model.configuration.classes)
        // The encoder sees B rows; what follows the draws grows to B·K on the first step.
        model.reserve(batchSize: min(settings.batchSize, train.count))
    }

    public var completedEpochs: Int { position.epoch }
    public var batchesPerEpoch: Int { batches.batchesPerEpoch }

    /// The rest of the current epoch (the last batch may be smaller), then the
    /// test set's negative ELBO. `shouldStop` is asked after every step.
    public func trainEpoch(progress: ((BatchProgress) -> Void)? = nil,
                           shouldStop: () -> Bool = { false }) throws -> EpochOutcome {
        let epoch = position.epoch + 1
        let order = batches.order(epoch: epoch)
        optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
        var totals = position.partial
        let resumedCount = totals.count
        let start = DispatchTime.now().uptimeNanoseconds
        let count = batchesPerEpoch
        for b in position.batch..<count {
            let (batch, eps) = batches.batch(epoch: epoch, index: b, order: order)
            let beta = settings.klWeight(at: Double(epoch - 1) + Double(b) / Double(count))
            totals = totals + (try step(batch, noise: eps, beta: beta, epoch: epoch, batch: b + 1))
            position = TrainingPosition(epoch: epoch - 1, batch: b + 1, partial: totals)

            if let progress {
                let elapsed = seconds(since: start)
                progress(BatchProgress(epoch: epoch, batch: b + 1, batches: count,
                                       runningLoss: totals.loss(beta: Double(settings.beta)) / Double(totals.count),
                                       samplesPerSecond: Double(totals.count - resumedCount) / max(elapsed, 1e-9),
                                       elapsed: elapsed))
            }
            if b + 1 < count && shouldStop() { return .interrupted(position) }
        }
        let trainSeconds = seconds(since: start)
        position = TrainingPosition(epoch: epoch, partial: LossTerms(objective.terms))
        // In training-sized batches: the buffers reserved for the steps serve
        // the test split too, where the larger inference batch would grow
        // them (a conv model's patches, ~270 kB per image) for the rest of the run.
        let testBatch = settings.batchSize
        let testTerms = test.map { evaluate(model: model, images: $0, seed: settings.seed, batchSize: testBatch) }
            ?? LossTerms(model.lossTerms(.closedForm))
        let codebook = (model as? VQVAE).flatMap { vq in
            test.map { CodebookUsage(counts: codeCounts(codes(of: vq, images: $0, batchSize: testBatch), codebookSize: vq.quantiser.codes)) }
        }
        return .finished(EpochReport(epoch: epoch, trainLoss: totals.loss(beta: Double(settings.beta)) / Double(totals.count),
                                     train: totals, test: testTerms, trainSeconds: trainSeconds,
                                     samplesPerSecond: Double(totals.count - resumedCount) / max(trainSeconds, 1e-9), codebook: codebook))
    }

    /// One optimisation step: the objective's gradients, checked, then Adam.
    /// Returns the terms to report (unweighted, so epochs compare during a
    /// warm-up); throws before the weights change if anything is not finite.
    private func step(_ batch: Batch, noise eps: Matrix, beta: Float, epoch: Int, batch index: Int) throws -> LossTerms {
        // Adam leaves the gradients zero; only a step that stopped early (or
        // the first) needs the zeroing pass.
        if !gradientsAreZero { model.parameters.zeroGradients() }
        gradientsAreZero = false
        let terms = objective.forward(batch, noise: eps, beta: beta)
        for (term, sum) in zip(terms.terms, terms.sums) where !sum.isFinite {
            throw TrainingDiverged(epoch: epoch, batch: index, term: term.phrase)
        }
        objective.backward(beta: beta)
        guard model.parameters.gradientsAreFinite() else { throw TrainingDiverged(epoch: epoch, batch: index, term: "gradient") }
        optimizer.update()
        gradientsAreZero = true
        return terms
    }
}

func seconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
