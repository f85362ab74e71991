import VAEData
import VAEEngine
import VAEModels

/// New images from the prior: z ~ N(0, I), decoded to the Bernoulli means
/// σ(logits), shown as grey levels.
public func sampleImages(model: MLPVAE, count: Int, seed: UInt64, side: Int = 28) -> [GrayImage] {
    let latent = model.configuration.latent
    let z = Tensor(shape: [count, latent])
    var rng = RandomGenerator(seed: seed, stream: .sampling)
    rng.fillNormal(z.pointer, count: z.count)
    model.reserve(batchSize: count)
    let means = model.decodeMeans(z.matrix(rows: count, columns: latent))
    return (0..<count).map { grayImage(means.row($0), width: side, height: model.configuration.inputSize / side) }
}

/// Intensities in [0, 1] to 8-bit grey, rounded.
public func grayImage(_ intensities: UnsafePointer<Float>, width: Int, height: Int) -> GrayImage {
    let pixels = (0..<(width * height)).map { UInt8((min(max(intensities[$0], 0), 1) * 255).rounded()) }
    return GrayImage(width: width, height: height, pixels: pixels)
}
