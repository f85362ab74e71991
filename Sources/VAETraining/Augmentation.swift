import VAEData
import VAEEngine
import VAEModels

/// New training images from old: each image is encoded to q(z|x), `perImage`
/// draws z = μ + σ·ε are decoded, and their means kept as 8-bit images with
/// the original label. Processed in batches, so memory holds only the output.
public func augment(_ set: ImageSet, model: VAE, perImage: Int, seed: UInt64, batchSize: Int = 500) -> ImageSet {
    precondition(set.pixelsPerImage == model.configuration.inputSize && perImage >= 1)
    let d = set.pixelsPerImage, k = model.configuration.latent
    var rng = RandomGenerator(seed: seed, stream: .augmentation)
    var pixels = [UInt8](repeating: 0, count: set.count * perImage * d)
    var labels = [UInt8](repeating: 0, count: set.count * perImage)
    var eps = [Float](repeating: 0, count: k)
    for lower in stride(from: 0, to: set.count, by: batchSize) {
        let upper = min(lower + batchSize, set.count)
        let batch = set.subset(lower..<upper)
        let images = ImageInputs.pixels(of: batch)
        let conditions = model.conditions(of: batch)
        precondition(conditions != nil || !model.configuration.isConditional, "a conditional model augments labelled images")
        var latents: [[Float]] = []
        for code in model.encodings(images, conditions: conditions) {
            for _ in 0..<perImage {
                eps.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: k) }
                latents.append((0..<k).map { code.mu[$0] + exp(0.5 * code.logVar[$0]) * eps[$0] })
            }
        }
        // Each draw is decoded with its image's own label.
        let drawConditions = conditions.map { c in c.flatMap { Array(repeating: $0, count: perImage) } }
        for (n, intensities) in model.decodedIntensities(latents, conditions: drawConditions).enumerated() {
            let record = lower * perImage + n
            for j in 0..<d { pixels[record * d + j] = grayLevel(intensities[j]) }
            labels[record] = set.labels?[lower + n / perImage] ?? 0
        }
    }
    return ImageSet(pixels: pixels, count: set.count * perImage, rows: set.rows, columns: set.columns, labels: labels)
}
