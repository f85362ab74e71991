import VAEData
import VAEEngine
import VAEModels

/// One image's encoding, copied out of the model's buffers: each stochastic
/// layer's q(z_i|·) = N(μ, diag exp(log σ²)), and the image's point in the
/// decoder's latent space (μ for a Gaussian posterior).
public struct ImageEncoding: Equatable {
    public struct Layer: Equatable {
        public let mu: [Float]
        public let logVar: [Float]
    }

    public let layers: [Layer]
    public let point: [Float]
    /// A VQ-VAE's codes, one per grid position in raster order.
    public var codes: [Int32]?
}

/// Batched encoding and decoding for the commands that use a trained model.
public extension VariationalModel {
    /// The encoding of each image (D values in [0, 1] each); a conditional
    /// model needs each image's condition (see `conditions(labels:)`).
    func encodings(_ images: [[Float]], conditions: [[Float]]? = nil, batchSize: Int? = nil) -> [ImageEncoding] {
        var out: [ImageEncoding] = []
        out.reserveCapacity(images.count)
        forEachBatch(of: images, conditions: conditions, width: configuration.inputSize,
                     batchSize: batchSize ?? inferenceBatch) { x, c in
            let encoding = encode(x, condition: c)
            let perImage = (encoding.codes?.count ?? 0) / x.rows
            for r in 0..<x.rows {
                out.append(ImageEncoding(
                    layers: encoding.layers.map { .init(mu: $0.mu.array(row: r), logVar: $0.logVar.array(row: r)) },
                    point: encoding.point.array(row: r), codes: encoding.codes.map { Array($0[(r * perImage)..<((r + 1) * perImage)]) }))
            }
        }
        return out
    }

    /// The decoder's means σ(logits) for each latent vector (and condition,
    /// for a conditional model), as intensities in [0, 1].
    func decodedIntensities(_ latents: [[Float]], conditions: [[Float]]? = nil, batchSize: Int? = nil) -> [[Float]] {
        var out: [[Float]] = []
        out.reserveCapacity(latents.count)
        forEachBatch(of: latents, conditions: conditions, width: latentSize,
                     batchSize: batchSize ?? decodeBatch) { z, c in
            let means = decodeMeans(z, condition: c)
            for r in 0..<means.rows { out.append(Array(UnsafeBufferPointer(start: means.row(r), count: means.columns))) }
        }
        return out
    }

    /// The same, as 8-bit pictures of the model's shape (grey or colour).
    func decodedPictures(_ latents: [[Float]], conditions: [[Float]]? = nil) -> [Picture] {
        decodedIntensities(latents, conditions: conditions).map { Picture(planes: $0, shape: configuration.shape) }
    }

    /// Planes of intensities of this model's shape (an input, a reconstruction) as a picture.
    func picture(_ intensities: [Float]) -> Picture { Picture(planes: intensities, shape: configuration.shape) }

    /// How many rows a pass over many images takes at once. The conv model
    /// keeps every row's patches (~270 MB for 1,000 images), so it takes fewer;
    /// each thread of an importance-weighted estimate decodes its own image's
    /// draws, so two threads' 512 draws weigh what one pass of 1,024 did.
    /// - inferenceBatch: images per batch when encoding or evaluating;
    /// - decodeBatch: latent vectors per batch when decoding to images: 16
    ///   for conv and VQ models, chosen when a transposed convolution formed
    ///   the whole batch's columns at once (225 KB an image in the VQ
    ///   decoder's last layer: 16 images' stayed in cache where 250 streamed
    ///   56 MB through memory). The layer now takes them image by image, so
    ///   the batch size matters less (BENCHMARKS.md, "Sampling from a cold
    ///   start" and "Transposed convolutions image by image");
    /// - importanceRows: latent draws per product of an importance-weighted
    ///   estimate (several images' K draws share one when K is small);
    /// - importanceRowLimit: the most draws decoded at once, above which one
    ///   image's K draws are taken in slices (ImportanceSampling.swift).
    var inferenceBatch: Int { isConv ? 250 : 1000 }
    var decodeBatch: Int { isConv ? 16 : 1000 }
    var importanceRows: Int { isConv ? 512 : 4096 }
    var importanceRowLimit: Int { isConv ? 512 : 8192 }
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

    /// The images of `set` in batches of `batchSize` (as intensities), with
    /// their labels' conditions, and the range of `set` each batch covers.
    /// With `reservingModel` false the model's buffers are left to the
    /// layers `body` runs (each reserves for its first, largest batch): a
    /// pass that only encodes then never allocates the decoder's.
    func forEachBatch(of set: ImageSet, batchSize: Int, reservingModel: Bool = true, _ body: (Matrix, Matrix?, Range<Int>) -> Void) {
        let batch = max(1, min(batchSize, set.count))
        let buffer = Tensor(shape: [batch, set.pixelsPerImage])
        let labels = ConditionBuffer(classes: configuration.classes, batchSize: batch)
        if reservingModel { reserve(batchSize: batch) }
        for lower in stride(from: 0, to: set.count, by: batch) {
            let upper = min(lower + batch, set.count)
            let x = buffer.matrix(rows: upper - lower, columns: set.pixelsPerImage)
            set.gather(lower..<upper, into: x.pointer)
            body(x, labels.rows(of: set, lower..<upper), lower..<upper)
        }
    }
}

/// Mean squared error per pixel between two images of intensities.
public func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var s = 0.0
    for i in a.indices { s += Double(a[i] - b[i]) * Double(a[i] - b[i]) }
    return s / Double(a.count)
}

public extension VariationalModel {
    /// Throws unless the images of a set have the model's shape: one line
    /// naming them and both shapes.
    func checkInput(_ set: ImageSet, source: String) throws {
        guard set.shape == configuration.shape else {
            throw RequestError("\(source): images of \(set.shape); the model (\(configuration.summary)) takes \(configuration.shape)")
        }
        if configuration.isConditional, let top = set.labels?.max(), Int(top) >= configuration.classes {
            throw RequestError("\(source): has class \(set.className(Int(top))) (number \(top)); the conditional model knows \(configuration.classes) classes")
        }
    }

    /// Throws unless every input has the model's number of values, naming the first that does not.
    func checkInput(_ images: [InputImage]) throws {
        if let bad = images.first(where: { $0.pixels.count != configuration.inputSize }) {
            throw RequestError("\(bad.source): \(bad.pixels.count) values; the model (\(configuration.summary)) takes \(configuration.shape), \(configuration.inputSize) values")
        }
    }
}
