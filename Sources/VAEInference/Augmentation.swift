import VAEData
import VAEEngine
import VAEModels

/// New training images from old: `perImage` draws z ~ q(z|x) per image, each
/// decoded to the likelihood's means and kept as an 8-bit image with the
/// original label (a conditional model decodes each draw with its image's
/// label). The draws come one row of noise at a time from one seeded
/// generator, image by image; images go in batches, so memory holds only the output.
/// A VQ-VAE (whose posterior is one grid of codes) keeps each image's codes
/// in the top ⌈H/2⌉ rows of its grid and draws the rest from its PixelCNN
/// prior given them: the upper half of the digit stays, the lower half varies
/// (so a label can occasionally stop fitting: a 7 completed as a 9).
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
    let vq = model as? VQVAE
    model.forEachBatch(of: set, batchSize: batch) { x, condition, range in
        let z: Matrix
        if let vq {
            // A VQ-VAE's posterior is one grid of codes: draw instead from its
            // prior, the top half of the image's grid kept.
            z = vq.drawCompletions(of: x, condition: condition, keptRows: (vq.grid.height + 1) / 2, draws: perImage, rng: &rng)
        } else {
            let eps = noise.matrix(rows: x.rows * perImage, columns: width)
            for r in 0..<eps.rows { rng.fillNormal(eps.row(r), count: width) }
            z = model.drawPosterior(x, condition: condition, noise: eps, draws: perImage)
        }
        let means = model.decodeMeans(z, condition: condition.map { drawConditions.repeating($0, times: perImage) })
        for n in 0..<means.rows {
            let record = range.lowerBound * perImage + n, row = means.row(n)
            for j in 0..<d { pixels[record * d + j] = Picture.level(row[j]) }
            labels[record] = set.labels?[range.lowerBound + n / perImage] ?? 0
        }
    }
    return ImageSet(pixels: pixels, count: set.count * perImage, shape: set.shape, labels: labels, classNames: set.classNames)
}
