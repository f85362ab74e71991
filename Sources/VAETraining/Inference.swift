import VAEData
import VAEEngine
import VAEModels

/// The approximate posterior q(z|x) = N(μ, diag exp(logVar)) of one image.
public struct Encoding: Equatable {
    public let mu: [Float]
    public let logVar: [Float]
}

/// Batched encoding and decoding for the commands that use a trained model.
public extension VAE {
    /// q(z|x) for each image (784 values in [0, 1] each); a conditional model
    /// needs each image's condition (see `conditions(labels:)`).
    func encodings(_ images: [[Float]], conditions: [[Float]]? = nil, batchSize: Int? = nil) -> [Encoding] {
        let k = configuration.latent
        var out: [Encoding] = []
        out.reserveCapacity(images.count)
        forEachBatch(of: images, conditions: conditions, width: configuration.inputSize,
                     batchSize: batchSize ?? inferenceBatch) { x, c in
            let stats = encode(x, condition: c)
            for r in 0..<stats.rows {
                let row = stats.row(r)
                out.append(Encoding(mu: Array(UnsafeBufferPointer(start: row, count: k)),
                                    logVar: Array(UnsafeBufferPointer(start: row + k, count: k))))
            }
        }
        return out
    }

    /// The decoder's means σ(logits) for each latent vector (and condition,
    /// for a conditional model), as intensities in [0, 1].
    func decodedIntensities(_ latents: [[Float]], conditions: [[Float]]? = nil, batchSize: Int? = nil) -> [[Float]] {
        var out: [[Float]] = []
        out.reserveCapacity(latents.count)
        forEachBatch(of: latents, conditions: conditions, width: configuration.latent,
                     batchSize: batchSize ?? inferenceBatch) { z, c in
            let means = decodeMeans(z, condition: c)
            for r in 0..<means.rows { out.append(Array(UnsafeBufferPointer(start: means.row(r), count: means.columns))) }
        }
        return out
    }

    /// The same, as 28x28 grey images.
    func decodedImages(_ latents: [[Float]], conditions: [[Float]]? = nil) -> [GrayImage] {
        decodedIntensities(latents, conditions: conditions).map { grayImage($0) }
    }

    /// How many rows a pass over many images takes at once. The conv model
    /// keeps every row's patches (~270 MB for 1,000 images), so it takes fewer.
    /// - inferenceBatch: images per batch when encoding, decoding or evaluating;
    /// - importanceRows: latent draws per product of an importance-weighted
    ///   estimate (several images' K draws share one when K is small);
    /// - importanceRowLimit: the most draws decoded at once, above which one
    ///   image's K draws are taken in slices (ImportanceSampling.swift).
    var inferenceBatch: Int { isConv ? 250 : 1000 }
    var importanceRows: Int { isConv ? 1024 : 4096 }
    var importanceRowLimit: Int { isConv ? 1024 : 8192 }
    private var isConv: Bool { configuration.architecture == .conv }

    /// Copies `rows` (each `width` long) into one buffer, `batchSize` rows at a
    /// time, and hands each batch to `body` as a matrix, with the batch's
    /// conditions (nil for an unconditional model).
    func forEachBatch(of rows: [[Float]], conditions: [[Float]]?, width: Int, batchSize: Int, _ body: (Matrix, Matrix?) -> Void) {
        precondition(conditions == nil || conditions?.count == rows.count, "one condition per row")
        let batch = max(1, min(batchSize, rows.count))
        let buffer = Tensor(shape: [batch, width])
        let conditionBuffer = ConditionBuffer(classes: configuration.classes, batchSize: batch)
        reserve(batchSize: batch)
        for lower in stride(from: 0, to: rows.count, by: batch) {
            let upper = min(lower + batch, rows.count)
            for (r, row) in rows[lower..<upper].enumerated() {
                precondition(row.count == width, "a row of \(row.count) values where the model takes \(width)")
                row.withUnsafeBufferPointer { (buffer.pointer + r * width).update(from: $0.baseAddress!, count: width) }
            }
            body(buffer.matrix(rows: upper - lower, columns: width), conditionBuffer.rows(conditions?[lower..<upper]))
        }
    }
}

/// Intensities in [0, 1] (a square image) to 8-bit grey, rounded.
public func grayImage(_ intensities: [Float]) -> GrayImage {
    let side = Int(Double(intensities.count).squareRoot())
    precondition(side * side == intensities.count, "not a square image")
    return GrayImage(width: side, height: side, pixels: intensities.map(grayLevel))
}

/// One intensity in [0, 1] (clamped) as an 8-bit grey level, rounded.
@inline(__always)
public func grayLevel(_ intensity: Float) -> UInt8 {
    UInt8((min(max(intensity, 0), 1) * 255).rounded())
}

/// Mean squared error per pixel between two images of intensities.
public func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var s = 0.0
    for i in a.indices { s += Double(a[i] - b[i]) * Double(a[i] - b[i]) }
    return s / Double(a.count)
}
