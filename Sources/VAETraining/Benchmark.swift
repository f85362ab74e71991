import Foundation
import VAEData
import VAEEngine
import VAEModels

/// Steady-state speed of one architecture (`vae bench`).
public struct BenchmarkResult {
    public let name: String
    public let trainSamplesPerSecond: Double
    /// Seconds an epoch of 60,000 images would take at that rate.
    public let epochSeconds: Double
    /// Share of the training step spent in matrix products, and their speed.
    public let matrixProductFraction: Double
    public let gflops: Double
    public let encodeSeconds: Double
    public let decodeSeconds: Double
    public let imagesCoded: Int
    /// Peak resident memory of the process after the training steps (before the
    /// 10k-image batches; cumulative over the architectures benchmarked before).
    public let trainingPeakMiB: Double
}

/// Times `batches` training steps on real MNIST batches after a warm-up,
/// then encoding `images` test images and decoding as many prior draws, each
/// as one batch.
public func benchmark(name: String, configuration: VAEConfiguration, train: ImageSet, test: ImageSet,
                      batchSize: Int = 128, batches: Int = 200, seed: UInt64 = 0) throws -> BenchmarkResult {
    let model = VAE(configuration: configuration)
    model.initialize(seed: seed)
    var settings = TrainingSettings()
    settings.batchSize = batchSize
    settings.seed = seed
    let warmup = 20
    let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), settings: settings,
                          train: train.subset(0..<min(train.count, (batches + warmup) * batchSize)), test: nil)
    var steps = 0
    _ = try trainer.trainEpoch(shouldStop: { steps += 1; return steps >= warmup })
    MatrixProductStatistics.reset()
    MatrixProductStatistics.isEnabled = true
    let start = DispatchTime.now().uptimeNanoseconds
    _ = try trainer.trainEpoch()   // the remaining `batches` steps
    let elapsed = seconds(since: start)
    MatrixProductStatistics.isEnabled = false
    let gemmSeconds = Double(MatrixProductStatistics.nanoseconds) / 1e9
    let gflops = MatrixProductStatistics.flops / max(gemmSeconds, 1e-12) / 1e9
    let samples = Double(trainer.batchesPerEpoch * batchSize - warmup * batchSize)
    let trainingPeak = peakResidentMemoryMiB()

    let images = ImageInputs.pixels(of: test)
    // Once untimed, so the buffers for 10k rows exist before the timed runs.
    _ = model.decodedIntensities(model.encodings(images, batchSize: images.count).map(\.mu), batchSize: images.count)
    var t = DispatchTime.now().uptimeNanoseconds
    let codes = model.encodings(images, batchSize: images.count)
    let encodeSeconds = seconds(since: t)
    t = DispatchTime.now().uptimeNanoseconds
    _ = model.decodedIntensities(codes.map(\.mu), batchSize: codes.count)
    let decodeSeconds = seconds(since: t)
    return BenchmarkResult(name: name, trainSamplesPerSecond: samples / elapsed, epochSeconds: 60_000 / (samples / elapsed),
                           matrixProductFraction: gemmSeconds / elapsed, gflops: gflops,
                           encodeSeconds: encodeSeconds, decodeSeconds: decodeSeconds, imagesCoded: images.count,
                           trainingPeakMiB: trainingPeak)
}
