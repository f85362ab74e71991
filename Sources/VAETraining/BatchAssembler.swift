import VAEData
import VAEEngine
import VAEInference
import VAEModels

/// The images of each training step as the model sees them. Each epoch's
/// order comes from a generator derived from (seed, epoch); each batch's
/// perturbation, binarisation, corruption and ε from generators derived from (seed, epoch,
/// batch). So any batch can be rebuilt exactly, which is what makes a run
/// resumed at any batch continue as if it had not stopped.
public final class BatchAssembler {
    public let images: ImageSet
    public let settings: TrainingSettings
    public let noisePerDraw: Int
    public let draws: Int
    private let target: Tensor
    private let input: Tensor?
    private let noise: Tensor
    private let labels: ConditionBuffer

    public init(images: ImageSet, settings: TrainingSettings, noisePerDraw: Int, draws: Int, classes: Int) {
        self.images = images
        self.settings = settings
        self.noisePerDraw = noisePerDraw
        self.draws = draws
        let rows = min(settings.batchSize, images.count)
        target = Tensor(shape: [rows, images.pixelsPerImage])
        input = settings.corruption == nil ? nil : Tensor(shape: [rows, images.pixelsPerImage])
        noise = Tensor(shape: [rows * draws, noisePerDraw])
        labels = ConditionBuffer(classes: classes, batchSize: rows)
    }

    public var batchesPerEpoch: Int { (images.count + settings.batchSize - 1) / settings.batchSize }

    /// The epoch's (1-based) shuffled order of the images.
    public func order(epoch: Int) -> [Int] {
        var shuffler = RandomGenerator(seed: settings.seed, stream: .shuffle, index: UInt64(epoch))
        return shuffler.permutation(images.count)
    }

    /// Batch `index` (0-based) of epoch `epoch` (1-based) in `order`: its
    /// target x (binarised if the run binarises), its input (x corrupted, for
    /// a denoising run, else x), labels, and ε (B·draws, noisePerDraw). Views
    /// of buffers kept until the next call.
    public func batch(epoch: Int, index b: Int, order: [Int]) -> (batch: Batch, noise: Matrix) {
        let lower = b * settings.batchSize, upper = min(lower + settings.batchSize, images.count)
        let rows = upper - lower
        let x = target.matrix(rows: rows, columns: images.pixelsPerImage)
        images.gather(order[lower..<upper], into: x.pointer)
        let stream = UInt64(epoch) << 32 | UInt64(b)
        if let rate = settings.data.perturbation {
            // Input and target alike: the background model learns the perturbed images.
            var rng = RandomGenerator(seed: settings.seed, stream: .perturbation, index: stream)
            for i in 0..<x.count where rng.uniform() < rate { x.pointer[i] = Float(min(255, Int(rng.uniform() * 256))) / 255 }
        }
        if settings.data.binarized {
            var coin = RandomGenerator(seed: settings.seed, stream: .binarization, index: stream)
            for i in 0..<x.count { x.pointer[i] = coin.uniform() < x.pointer[i] ? 1 : 0 }
        }
        var corrupted: Matrix?
        if let corruption = settings.corruption, let input {
            let xt = input.matrix(rows: rows, columns: images.pixelsPerImage)
            var rng = RandomGenerator(seed: settings.seed, stream: .corruption, index: stream)
            corruption.apply(x, into: xt, rng: &rng)
            corrupted = xt
        }
        let eps = noise.matrix(rows: rows * draws, columns: noisePerDraw)
        var rng = RandomGenerator(seed: settings.seed, stream: .noise, index: stream)
        rng.fillNormal(eps.pointer, count: eps.count)
        return (Batch(input: corrupted ?? x, target: x, condition: labels.rows(of: images, order[lower..<upper])), eps)
    }
}
