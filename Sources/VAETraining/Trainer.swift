import Foundation
import VAEData
import VAEEngine
import VAEModels

/// The hyperparameters of a run (`vae train`'s flags).
public struct TrainingSettings: Equatable {
    public var epochs = 10
    public var batchSize = 128
    public var learningRate: Float = 1e-3
    /// Weight of the KL term: 1 is the VAE, > 1 the β-VAE.
    public var beta: Float = 1
    public var seed: UInt64 = 0

    public init() {}
}

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

/// Mini-batch training of a VAE with Adam. Each epoch shuffles the training
/// set with a generator derived from (seed, epoch), and draws ε from another,
/// so a run resumed at an epoch boundary continues exactly as if uninterrupted.
public final class Trainer {
    public let model: MLPVAE
    public let optimizer: Adam
    public let settings: TrainingSettings
    public private(set) var completedEpochs: Int
    private let train: ImageSet
    private let test: ImageSet?
    private let input: Tensor
    private let noise: Tensor

    public init(model: MLPVAE, optimizer: Adam, settings: TrainingSettings,
                train: ImageSet, test: ImageSet?, completedEpochs: Int = 0) {
        precondition(train.pixelsPerImage == model.configuration.inputSize)
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self.train = train
        self.test = test
        self.completedEpochs = completedEpochs
        let batch = min(settings.batchSize, train.count)
        input = Tensor(shape: [batch, train.pixelsPerImage])
        noise = Tensor(shape: [batch, model.configuration.latent])
        model.reserve(batchSize: batch)
    }

    public var batchesPerEpoch: Int { (train.count + settings.batchSize - 1) / settings.batchSize }

    /// One pass over the training set (the last batch may be smaller), then
    /// the test set's negative ELBO.
    public func trainEpoch(progress: ((BatchProgress) -> Void)? = nil) -> EpochReport {
        let epoch = completedEpochs + 1
        var shuffler = RandomGenerator(seed: settings.seed, stream: .shuffle, index: UInt64(epoch))
        let order = shuffler.permutation(train.count)
        var rng = RandomGenerator(seed: settings.seed, stream: .noise, index: UInt64(epoch))
        let beta = Double(settings.beta)
        let latent = model.configuration.latent
        var totals = ELBOTerms()
        let start = DispatchTime.now().uptimeNanoseconds
        let batches = batchesPerEpoch
        for b in 0..<batches {
            let lower = b * settings.batchSize
            let upper = min(lower + settings.batchSize, train.count)
            let rows = upper - lower
            let x = input.matrix(rows: rows, columns: train.pixelsPerImage)
            train.gather(order[lower..<upper], into: x.pointer)
            let eps = noise.matrix(rows: rows, columns: latent)
            rng.fillNormal(eps.pointer, count: eps.count)

            model.parameters.zeroGradients()
            totals = totals + model.forward(x, noise: eps)
            model.backward(beta: settings.beta)
            optimizer.update()

            if let progress {
                let elapsed = seconds(since: start)
                progress(BatchProgress(epoch: epoch, batch: b + 1, batches: batches,
                                       runningLoss: totals.loss(beta: beta) / Double(totals.count),
                                       samplesPerSecond: Double(totals.count) / max(elapsed, 1e-9), elapsed: elapsed))
            }
        }
        let trainSeconds = seconds(since: start)
        completedEpochs = epoch
        let testTerms = test.map { evaluate(model: model, images: $0, seed: settings.seed) } ?? ELBOTerms()
        return EpochReport(epoch: epoch, trainLoss: totals.loss(beta: beta) / Double(totals.count), train: totals,
                           test: testTerms, trainSeconds: trainSeconds,
                           samplesPerSecond: Double(totals.count) / max(trainSeconds, 1e-9))
    }
}

/// The negative ELBO of `images` (one draw of z per image, from a generator
/// made afresh from `seed`, so every evaluation of a model gives the same number).
public func evaluate(model: MLPVAE, images: ImageSet, seed: UInt64, batchSize: Int = 1000) -> ELBOTerms {
    let batch = min(batchSize, images.count)
    let input = Tensor(shape: [batch, images.pixelsPerImage])
    let noise = Tensor(shape: [batch, model.configuration.latent])
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
        totals = totals + model.forward(x, noise: eps)
        lower = upper
    }
    return totals
}

func seconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
