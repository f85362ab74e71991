import VAEData
import VAEEngine
import VAEModels

/// The codes a VQ-VAE gives a set of images: P per image, in raster order
/// (image i's are codes[i·P ..< (i + 1)·P]), `batchSize` images at a time
/// (by default the model's inference batch). Only the encoder's and the
/// quantiser's buffers are allocated.
public func codes(of model: VQVAE, images: ImageSet, batchSize: Int? = nil) -> [Int32] {
    var all: [Int32] = []
    all.reserveCapacity(images.count * model.positions)
    model.forEachBatch(of: images, batchSize: batchSize ?? model.inferenceBatch, reservingModel: false) { x, _, _ in
        all += model.encode(x, condition: nil).codes!
    }
    return all
}

/// How often each of the K codes occurs.
public func codeCounts(_ codes: [Int32], codebookSize: Int) -> [Int] {
    var counts = [Int](repeating: 0, count: codebookSize)
    for c in codes { counts[Int(c)] += 1 }
    return counts
}

/// A VQ-VAE measured on a data set (`vae eval`): its terms, how it uses its
/// codebook, how far reconstructions are from the images, and with a prior
/// the bound on −log p(x) of the discrete model,
///
///   −log p(x) ≤ −log p(x|z_q(x)) − log p(c(x)),
///
/// (the posterior puts all its mass on one grid of codes, so the ELBO's
/// entropy term is 0), in nats per image and in bits per dimension.
public struct CodeModelEvaluation {
    /// −log p(x|z_q) per image (nats).
    public let reconstruction: Double
    /// Σ‖z_e − z_q‖² per image.
    public let distance: Double
    /// Mean squared error per pixel between x and the decoder's mean image.
    public let meanSquaredError: Double
    public let usage: CodebookUsage
    /// The prior's −log p(c_i | c_<i) per code (nats), with a prior.
    public let priorCrossEntropyPerCode: Double?
    public let values: Int
    public let positions: Int

    /// The bound on −log p(x) per image, in nats, with a prior.
    public var boundNats: Double? { priorCrossEntropyPerCode.map { reconstruction + $0 * Double(positions) } }
    /// The bound per image value, in bits.
    public var bitsPerDimension: Double? { boundNats.map { $0 / (Double(values) * log(2.0)) } }
}

public func evaluateCodeModel(_ model: VQVAE, images: ImageSet) -> CodeModelEvaluation {
    var reconstruction = 0.0, distance = 0.0, squares = 0.0, prior = 0.0
    var all: [Int32] = []
    let n = images.count, d = images.pixelsPerImage
    model.forEachBatch(of: images, batchSize: model.inferenceBatch) { x, condition, _ in
        let encoding = model.encode(x, condition: nil)
        let logits = model.decode(encoding.point.base, condition: nil)
        _ = model.likelihood.forward(logits: logits, target: x, draws: 1, gradient: false)
        for r in 0..<x.rows {
            reconstruction += Double(model.likelihood.perSample.pointer[r])
            distance += Double(model.quantiser.perImage.pointer[r])
        }
        let means = model.likelihood.means(logits)
        for i in 0..<x.count { squares += Double(means.pointer[i] - x.pointer[i]) * Double(means.pointer[i] - x.pointer[i]) }
        let grid = encoding.codes!
        all += grid
        if model.prior != nil {
            for nats in model.priorNegativeLogLikelihood(grid, images: x.rows, labels: condition.map(VQVAE.labels(of:))) { prior += nats }
        }
    }
    return CodeModelEvaluation(
        reconstruction: reconstruction / Double(n), distance: distance / Double(n), meanSquaredError: squares / Double(n * d),
        usage: CodebookUsage(counts: codeCounts(all, codebookSize: model.quantiser.codes)),
        priorCrossEntropyPerCode: model.prior != nil ? prior / Double(n * model.positions) : nil,
        values: d, positions: model.positions)
}
