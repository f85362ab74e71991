import Foundation
import VAEData
import VAEEngine
import VAEInference
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
    /// Encoding `imagesCoded` test images and decoding as many prior draws to
    /// Bernoulli means, each as one batch: median seconds of five runs, and
    /// the GFLOP/s of their matrix products over those runs' whole time.
    public let encodeSeconds: Double
    public let decodeSeconds: Double
    public let encodeGFLOPS: Double
    public let decodeGFLOPS: Double
    public let imagesCoded: Int
    /// Peak resident memory of the process from the start of this
    /// architecture's benchmark to the end of its first round of timed
    /// training steps (the later rounds repeat them in the same buffers;
    /// before any product is timed alone and before the 10k-image batches):
    /// the kernel's peak, reset when the benchmark starts.
    public let trainingPeakMiB: Double
    /// The bound of each measured pass, in the same run. Training's is the
    /// median of `trainingRounds` (by fraction).
    public let training: ProductBound
    public let trainingRounds: [ProductBound]
    public let encoding: ProductBound
    public let decoding: ProductBound
    /// The importance-weighted estimate as `vae eval --iw-samples` runs it,
    /// for a model that has one (not the VQ-VAE).
    public let importance: ImportanceBenchmark?
}

/// `importanceSamples` draws per image for `images` test images, each
/// image on one thread with single-threaded products (`ImportanceSampler`);
/// its bound is every product timed again on its own shape, `concurrency`
/// at once, each single-threaded, as the sampler runs them.
public struct ImportanceBenchmark {
    public let images: Int
    public let importanceSamples: Int
    public let concurrency: Int
    public let bound: ProductBound

    public var imagesPerSecond: Double { 1 / max(bound.passSeconds, 1e-12) }
}

/// A pass's matrix products set against the time they take on their own:
/// every product the pass ran (sgemm's, and those done another way under the
/// shape sgemm would have had) timed again alone through sgemm, shape by
/// shape, in the same run. `seconds / passSeconds` is the fraction of the
/// bound the pass reaches: 1 when everything but the products is free.
public struct ProductBound {
    /// FLOPs of the products of one pass.
    public let flops: Double
    /// Seconds those products take alone at sgemm's rate on their shapes (the bound).
    public let seconds: Double
    /// Seconds the pass took.
    public let passSeconds: Double

    /// sgemm's rate on the pass's own shapes, GFLOP/s.
    public var gflops: Double { flops / max(seconds, 1e-12) / 1e9 }
    public var fraction: Double { seconds / max(passSeconds, 1e-12) }

    /// The bound of `passes` passes that took `seconds` and ran `shapes`.
    /// `concurrent` > 1: the pass ran that many single-threaded products side by side.
    init(shapes: [ProductShape: Int], passes: Int, seconds: Double, concurrent: Int = 1) {
        let n = Double(max(passes, 1))
        flops = shapes.reduce(0) { $0 + Double($1.value) * $1.key.flops } / n
        self.seconds = MatrixProductStatistics.boundSeconds(of: shapes, concurrent: concurrent) / n
        passSeconds = seconds / n
    }
}

/// Times `batches` training steps on real MNIST batches after a warm-up (with
/// `settings`' batch size, objective and binarisation), then encoding the
/// test images and decoding as many prior draws, each as one batch.
public func benchmark(name: String, configuration: ModelConfiguration, train: ImageSet, test: ImageSet,
                      settings: TrainingSettings = TrainingSettings(), batches: Int = 200) throws -> BenchmarkResult {
    resetPeakResidentMemory()
    let model = configuration.family.makeModel(configuration)
    let seed = settings.seed, batchSize = settings.batchSize
    model.initialize(seed: seed)
    let warmup = 20
    let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters), settings: settings,
                          train: train.subset(0..<min(train.count, (batches + warmup) * batchSize)), test: nil)
    let steps = { (count: Int) in
        var taken = 0
        _ = try trainer.trainEpoch(shouldStop: { taken += 1; return taken >= count })
    }
    try steps(warmup)
    let training = try timedInRounds(trainer.batchesPerEpoch - warmup, steps)
    let elapsed = training.seconds, gemmSeconds = training.productSeconds
    let gflops = training.flops / max(gemmSeconds, 1e-12) / 1e9
    let samples = Double(trainer.batchesPerEpoch * batchSize - warmup * batchSize)
    let trainingPeak = training.peakMiB

    // The model-level passes over one batch of 10k rows, as PyTorch's
    // `model.encode(x)` and `model.decode(z)` are timed in the reference.
    let count = test.count, latent = model.latentSize
    let x = Tensor(shape: [count, test.pixelsPerImage]), z = Tensor(shape: [count, latent])
    test.gather(0..<count, into: x.pointer)
    var rng = RandomGenerator(seed: seed, stream: .evaluation)
    rng.fillNormal(z.pointer, count: z.count)
    model.reserve(batchSize: count)
    let xm = x.matrix(rows: count, columns: test.pixelsPerImage), zm = z.matrix(rows: count, columns: latent)
    let encode = timedRepeats { _ = model.encode(xm, condition: nil) }
    let decode = timedRepeats { _ = model.decodeMeans(zm, condition: nil) }
    let importance = model.noisePerDraw > 0 ? importanceBenchmark(model, test: test, seed: seed) : nil
    return BenchmarkResult(name: name, trainSamplesPerSecond: samples / elapsed, epochSeconds: 60_000 / (samples / elapsed),
                           matrixProductFraction: gemmSeconds / elapsed, gflops: gflops,
                           encodeSeconds: encode.seconds, decodeSeconds: decode.seconds,
                           encodeGFLOPS: encode.gflops, decodeGFLOPS: decode.gflops, imagesCoded: count,
                           trainingPeakMiB: trainingPeak, training: training.median, trainingRounds: training.rounds,
                           encoding: encode.bound, decoding: decode.bound,
                           importance: importance)
}

/// A VQ-VAE's PixelCNN prior (the default: 128 channels, four blocks, a
/// 7x7 first kernel) trained as `vae train-prior` trains it, Adam on the
/// mean cross-entropy per code of 128 grids a step.
public struct PriorBenchmark {
    public let gridsPerSecond: Double
    public let peakMiB: Double
    /// The median round's bound, and every round's.
    public let training: ProductBound
    public let trainingRounds: [ProductBound]
}

/// Times `batches` prior steps after a warm-up, on the codes the VQ-VAE
/// `configuration` (initialised from `seed`) gives the first training
/// images, in order; the bound as for the other passes.
public func priorBenchmark(configuration: ModelConfiguration, train: ImageSet, seed: UInt64, batches: Int = 200) -> PriorBenchmark {
    resetPeakResidentMemory()
    var configuration = configuration
    configuration.codePrior = CodePrior()
    let model = VQVAE(configuration: configuration)
    model.initialize(seed: seed)
    let prior = model.prior!, warmup = 20, batchSize = 128, P = model.positions
    let images = train.subset(0..<min(train.count, (batches + warmup) * batchSize))
    let grids = codes(of: model, images: images, batchSize: 32)
    let optimizer = Adam(parameters: model.parameters, range: model.priorParameterRange)
    var nats = [Double](repeating: 0, count: batchSize)
    let steps = images.count / batchSize
    prior.reserve(batchSize: batchSize)
    let step = { (b: Int) in
        grids.withUnsafeBufferPointer { g in
            nats.withUnsafeMutableBufferPointer { prior.accumulateGradient(g.baseAddress! + b * batchSize * P, images: batchSize, perImage: $0.baseAddress!) }
        }
        optimizer.update()
    }
    for b in 0..<warmup { step(b) }
    var next = warmup
    let run = timedInRounds(steps - warmup) { count in
        for b in next..<(next + count) { step(b) }
        next += count
    }
    return PriorBenchmark(gridsPerSecond: Double((steps - warmup) * batchSize) / run.seconds, peakMiB: run.peakMiB,
                          training: run.median, trainingRounds: run.rounds)
}

/// `count` steps (`run(n)` takes the next n) timed in `rounds` rounds, each
/// round's products then timed alone on their shapes: the whole time, its
/// products' time and FLOPs, each round's bound, the median round's (by
/// fraction), and the peak resident memory since the last reset up to the
/// end of the first round's steps (every later round repeats the same steps
/// in the same buffers; the products timed alone have operands, and
/// OpenBLAS packing buffers, that are not the step's).
///
/// Why rounds: the machine's speed can switch between two levels within
/// seconds (BENCHMARKS.md). With every step first and every shape after, a
/// switch set one speed's steps against the other's bound. A round is
/// short, so most rounds see one speed, and the median sets aside those
/// that do not.
private func timedInRounds(_ count: Int, rounds: Int = 8, _ run: (Int) throws -> Void) rethrows
    -> (seconds: Double, productSeconds: Double, flops: Double, rounds: [ProductBound], median: ProductBound, peakMiB: Double) {
    let perRound = max(1, (count + rounds - 1) / rounds)
    var seconds = 0.0, productSeconds = 0.0, flops = 0.0, bounds: [ProductBound] = [], peak = 0.0
    var done = 0
    while done < count {
        let n = min(perRound, count - done)
        let round = try measuringProducts { try run(n) }
        (seconds, productSeconds, flops) = (seconds + round.seconds, productSeconds + round.productSeconds, flops + round.flops)
        if bounds.isEmpty { peak = peakResidentMemorySinceResetMiB() }
        bounds.append(ProductBound(shapes: round.shapes, passes: n, seconds: round.seconds))
        done += n
    }
    let median = bounds.sorted { $0.fraction < $1.fraction }[bounds.count / 2]
    return (seconds, productSeconds, flops, bounds, median, peak)
}

/// K = 5000 importance samples for each of 16 test images (after the same
/// for as many images as there are threads, untimed: the workers' models
/// and buffers), its products' bound, and the seconds per image.
private func importanceBenchmark(_ model: any VariationalModel, test: ImageSet, seed: UInt64,
                                 images: Int = 16, samples: Int = 5000) -> ImportanceBenchmark {
    let sampler = ImportanceSampler(model: model, samples: samples)
    let timed = test.subset(0..<min(images, test.count))
    _ = sampler.bounds(of: test.subset(0..<min(concurrentParts, test.count)), seed: seed)
    let run = measuringProducts { _ = sampler.bounds(of: timed, seed: seed) }
    let groups = (timed.count + sampler.imagesPerBatch - 1) / sampler.imagesPerBatch
    let concurrency = max(1, min(groups, concurrentParts))
    return ImportanceBenchmark(images: timed.count, importanceSamples: samples, concurrency: concurrency,
                               bound: ProductBound(shapes: run.shapes, passes: timed.count, seconds: run.seconds,
                                                   concurrent: concurrency))
}

/// `body` once untimed (first touch of its buffers), then five timed runs:
/// the median seconds, the GFLOP/s of the matrix products over the runs,
/// and the bound of one run.
private func timedRepeats(_ body: () -> Void) -> (seconds: Double, gflops: Double, bound: ProductBound) {
    body()
    var times: [Double] = []
    let runs = measuringProducts {
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(seconds(since: start))
        }
    }
    let median = times.sorted()[2]
    return (median, runs.flops / max(runs.seconds, 1e-12) / 1e9, ProductBound(shapes: runs.shapes, passes: 5, seconds: 5 * median))
}

/// Runs `body` with the matrix-product statistics on: its seconds, and the
/// seconds, FLOPs and shapes of the products inside it.
private func measuringProducts(_ body: () throws -> Void) rethrows
    -> (seconds: Double, productSeconds: Double, flops: Double, shapes: [ProductShape: Int]) {
    MatrixProductStatistics.reset()
    MatrixProductStatistics.isEnabled = true
    defer { MatrixProductStatistics.isEnabled = false }
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return (seconds(since: start), Double(MatrixProductStatistics.nanoseconds) / 1e9, MatrixProductStatistics.flops,
            MatrixProductStatistics.shapes)
}
