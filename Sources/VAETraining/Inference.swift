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
    /// q(z|x) for each image (784 values in [0, 1] each), in batches.
    func encodings(_ images: [[Float]], batchSize: Int = 1000) -> [Encoding] {
        let d = configuration.inputSize, k = configuration.latent
        let batch = max(1, min(batchSize, images.count))
        let input = Tensor(shape: [batch, d])
        reserve(batchSize: batch)
        var out: [Encoding] = []
        out.reserveCapacity(images.count)
        for lower in stride(from: 0, to: images.count, by: batch) {
            let upper = min(lower + batch, images.count)
            for (r, image) in images[lower..<upper].enumerated() {
                precondition(image.count == d, "an image of \(image.count) pixels for a model of \(d)")
                image.withUnsafeBufferPointer { (input.pointer + r * d).update(from: $0.baseAddress!, count: d) }
            }
            let stats = encode(input.matrix(rows: upper - lower, columns: d))
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
        let k = configuration.latent
        let batch = max(1, min(batchSize, latents.count))
        let z = Tensor(shape: [batch, k])
        reserve(batchSize: batch)
        var out: [[Float]] = []
        out.reserveCapacity(latents.count)
        for lower in stride(from: 0, to: latents.count, by: batch) {
            let upper = min(lower + batch, latents.count)
            for (r, latent) in latents[lower..<upper].enumerated() {
                precondition(latent.count == k, "a latent of \(latent.count) values for a model of \(k)")
                latent.withUnsafeBufferPointer { (z.pointer + r * k).update(from: $0.baseAddress!, count: k) }
            }
            let means = decodeMeans(z.matrix(rows: upper - lower, columns: k))
            for r in 0..<means.rows { out.append(Array(UnsafeBufferPointer(start: means.row(r), count: means.columns))) }
        }
        return out
    }

    /// The same, as 28x28 grey images.
    func decodedImages(_ latents: [[Float]]) -> [GrayImage] {
        decodedIntensities(latents).map { grayImage($0) }
    }
}

/// Intensities in [0, 1] (a square image) to 8-bit grey, rounded.
public func grayImage(_ intensities: [Float]) -> GrayImage {
    let side = Int(Double(intensities.count).squareRoot())
    precondition(side * side == intensities.count, "not a square image")
    let pixels = intensities.map { UInt8((min(max($0, 0), 1) * 255).rounded()) }
    return GrayImage(width: side, height: side, pixels: pixels)
}

/// Mean squared error per pixel between two images of intensities.
public func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var s = 0.0
    for i in a.indices { s += Double(a[i] - b[i]) * Double(a[i] - b[i]) }
    return s / Double(a.count)
}
