import VAEData
import VAEEngine
import VAEModels

/// The approximate posterior q(z|x) = N(μ, diag exp(logVar)) of one image.
public struct Encoding: Equatable {
    public let mu: [Float]
    public let logVar: [Float]
}

/// Batched encoding and decoding for the commands that use a trained model.
public extension MLPVAE {
    /// q(z|x) for each image (784 values in [0, 1] each).
    func encodings(_ images: [[Float]], batchSize: Int = 1000) -> [Encoding] {
        let k = configuration.latent
        var out: [Encoding] = []
        out.reserveCapacity(images.count)
        forEachBatch(of: images, width: configuration.inputSize, batchSize: batchSize) { x in
            let stats = encode(x)
            for r in 0..<stats.rows {
                let row = stats.row(r)
                out.append(Encoding(mu: Array(UnsafeBufferPointer(start: row, count: k)),
                                    logVar: Array(UnsafeBufferPointer(start: row + k, count: k))))
            }
        }
        return out
    }

    /// The decoder's means σ(logits) for each latent vector, as intensities in [0, 1].
    func decodedIntensities(_ latents: [[Float]], batchSize: Int = 1000) -> [[Float]] {
        var out: [[Float]] = []
        out.reserveCapacity(latents.count)
        forEachBatch(of: latents, width: configuration.latent, batchSize: batchSize) { z in
            let means = decodeMeans(z)
            for r in 0..<means.rows { out.append(Array(UnsafeBufferPointer(start: means.row(r), count: means.columns))) }
        }
        return out
    }

    /// The same, as 28x28 grey images.
    func decodedImages(_ latents: [[Float]]) -> [GrayImage] {
        decodedIntensities(latents).map { grayImage($0) }
    }

    /// Copies `rows` (each `width` long) into one buffer, `batchSize` rows at a
    /// time, and hands each batch to `body` as a matrix.
    func forEachBatch(of rows: [[Float]], width: Int, batchSize: Int, _ body: (Matrix) -> Void) {
        let batch = max(1, min(batchSize, rows.count))
        let buffer = Tensor(shape: [batch, width])
        reserve(batchSize: batch)
        for lower in stride(from: 0, to: rows.count, by: batch) {
            let upper = min(lower + batch, rows.count)
            for (r, row) in rows[lower..<upper].enumerated() {
                precondition(row.count == width, "a row of \(row.count) values where the model takes \(width)")
                row.withUnsafeBufferPointer { (buffer.pointer + r * width).update(from: $0.baseAddress!, count: width) }
            }
            body(buffer.matrix(rows: upper - lower, columns: width))
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
