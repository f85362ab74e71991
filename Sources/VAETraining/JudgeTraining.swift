import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels

/// How a judge is trained (`vae judge train`).
public struct JudgeTrainingSettings: Sendable {
    public var epochs = 5
    public var batchSize = 128
    /// Adam's step size in the first epoch, multiplied by `learningRateDecay`
    /// after every epoch, so the last epochs settle.
    public var learningRate: Float = 3e-3
    public var learningRateDecay: Float = 0.65
    /// Each training image is moved by up to this many pixels in x and y,
    /// drawn per image and epoch: shifted copies are a classic regulariser for
    /// MNIST classifiers (Simard et al. 2003); on MNIST one pixel did better
    /// than two (99.11% against 98.91% for a 4-epoch run).
    public var maximumShift = 1
    public var seed: UInt64 = 0

    public init() {}
}

/// One epoch of a judge's training.
public struct JudgeEpoch: Sendable {
    public let epoch: Int
    public let trainLoss: Double
    public let trainAccuracy: Double
    /// On the test split, unshifted.
    public let testAccuracy: Double
    public let seconds: Double
}

/// Trains `judge` (initialised here from the seed) on `train`'s labelled
/// images, reporting each epoch's accuracy on `test`.
public func trainJudge(_ judge: Judge, train: ImageSet, test: ImageSet, settings: JudgeTrainingSettings,
                       progress: (_ epoch: Int, _ done: Int, _ total: Int) -> Void = { _, _, _ in },
                       epochDone: (JudgeEpoch) -> Void = { _ in }) -> [JudgeEpoch] {
    precondition(train.labels != nil && test.labels != nil, "a judge learns from labelled images")
    precondition(train.shape == judge.configuration.shape && test.shape == judge.configuration.shape)
    var initialisation = RandomGenerator(seed: settings.seed, stream: .initialisation)
    judge.initialize(using: &initialisation)
    judge.reserve(batchSize: settings.batchSize)
    let optimiser = Adam(parameters: judge.parameters, learningRate: settings.learningRate)
    var order = RandomGenerator(seed: settings.seed, stream: .shuffle)
    var shifts = RandomGenerator(seed: settings.seed, stream: .augmentation)
    let batch = Tensor(shape: [settings.batchSize, judge.inputSize])
    let labels = train.labels!.map(Int.init)
    var epochs: [JudgeEpoch] = []
    for epoch in 1...settings.epochs {
        let start = Date()
        let permutation = order.permutation(train.count)
        var loss = 0.0, correct = 0
        for first in stride(from: 0, to: train.count, by: settings.batchSize) {
            let indices = Array(permutation[first..<min(first + settings.batchSize, train.count)])
            let x = batch.matrix(rows: indices.count, columns: judge.inputSize)
            for (row, i) in indices.enumerated() {
                let dx = shifts.integer(below: 2 * settings.maximumShift + 1) - settings.maximumShift
                let dy = shifts.integer(below: 2 * settings.maximumShift + 1) - settings.maximumShift
                train.gather(i, movedBy: (dx, dy), into: x.row(row))
            }
            let step = judge.crossEntropyStep(x, labels: indices.map { labels[$0] })
            optimiser.update()
            loss += step.loss * Double(indices.count)
            correct += step.correct
            progress(epoch, first + indices.count, train.count)
        }
        let accuracy = judgeAccuracy(judge, on: test)
        let report = JudgeEpoch(epoch: epoch, trainLoss: loss / Double(train.count), trainAccuracy: Double(correct) / Double(train.count),
                                testAccuracy: accuracy, seconds: Date().timeIntervalSince(start))
        epochs.append(report)
        epochDone(report)
        optimiser.learningRate *= settings.learningRateDecay
    }
    return epochs
}

/// The share of `set`'s labelled images whose most probable class is their label.
public func judgeAccuracy(_ judge: Judge, on set: ImageSet) -> Double {
    guard let labels = set.labels, set.count > 0 else { return 0 }
    let reading = readImages(judge, set)
    let right = zip(reading.predictions, labels).filter { $0 == Int($1) }.count
    return Double(right) / Double(set.count)
}
