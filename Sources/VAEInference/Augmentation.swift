import VAEData
import VAEEngine
import VAEModels

/// New training images from old: `perImage` draws z ~ q(z|x) per image, each
/// decoded to the likelihood's means and kept as an 8-bit image with the
/// original label (a conditional model decodes each draw with its image's
/// label). The draws come one row of noise at a time from one seeded
/// generator, image by image; images go in batches, so memory holds only the output.
public func augment(_ set: ImageSet, model: any VariationalModel, perImage: Int, seed: UInt64) -> ImageSet {
    precondition(set.pixelsPerImage == model.configuration.inputSize && perImage >= 1)
    let d = set.pixelsPerImage, width = model.noisePerDraw
    let batch = max(1, model.inferenceBatch / perImage)
    var rng = RandomGenerator(seed: seed, stream: .augmentation)
    var pixels = [UInt8](repeating: 0, count: set.count * perImage * d)
    var labels = [UInt8](repeating: 0, count: set.count * perImage)
    let noise = Tensor(shape: [batch * perImage, width])
    let drawConditions = RowRepeater()
    model.reserve(batchSize: batch * perImage)
    model.forEachBatch(of: set, batchSize: batch) { x, condition, range in
        let eps = noise.matrix(rows: x.rows * perImage, columns: width)
        for r in 0..<eps.rows { rng.fillNormal(eps.row(r), count: width) }
        let z = model.drawPosterior(x, condition: condition, noise: eps, draws: perImage)
        let means = model.decodeMeans(z, condition: condition.map { drawConditions.repeating($0, times: perImage) })
        for n in 0..<means.rows {
            let record = range.lowerBound * perImage + n, row = means.row(n)
            for j in 0..<d { pixels[record * d + j] = Picture.level(row[j]) }
            labels[record] = set.labels?[range.lowerBound + n / perImage] ?? 0
        }
    }
    return ImageSet(pixels: pixels, count: set.count * perImage, shape: set.shape, labels: labels, classNames: set.classNames)
}
