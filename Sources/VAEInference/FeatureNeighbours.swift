import VAEData
import VAEEngine
import VAEModels

/// Deep nearest neighbours in the encoder's representation (Sun, Ming, Zhu
/// & Li, ICML 2022, "Out-of-distribution detection with deep nearest
/// neighbors"; Bergman, Cohen & Hoshen 2020, "Deep nearest neighbor anomaly
/// detection"): an image's score is the distance from its encoder's features
/// (`Encoding.features`: the last hidden layer, which the posterior's heads
/// read, as the paper takes a network's penultimate layer), scaled to unit
/// length, to the k-th nearest of the training images' features, scaled
/// likewise.
///
/// Why it helps where likelihoods fail: −log p(x) is dominated by how many
/// pixels an image has to explain, so a model that never saw a 1 still finds
/// a short stroke cheap (its −ELBO ranks held-out 1s as the most normal
/// images). The encoder's features say what the image is; an unseen class
/// lands where no training image does. Unit length (the paper's
/// normalisation) keeps the direction and drops the norm.
///
/// No density is assumed, so k sets the scale of "near": Bergman et al.
/// take k = 2 throughout, Sun et al. k = 50 for CIFAR-10's 50,000 training
/// images; the default, 5, was chosen on MNIST's held-out-digit table
/// (README, "The held-out-digit table").
public struct FeatureNeighbours {
    public static let defaultCount = 5

    /// Which neighbour's distance is the score (1 = the nearest).
    public let k: Int
    /// The model whose encoder gives the features, of the reference and of every image scored.
    public let model: any VariationalModel
    /// The training images' unit-length features, one row each.
    private let reference: Tensor
    public let referenceCount: Int
    private let dimensions: Int

    /// The reference features of `set` (the images the model was trained on).
    public init(model: any VariationalModel, reference set: ImageSet, k: Int) throws {
        guard k >= 1 else { throw RequestError("--neighbours must be at least 1, got \(k)") }
        guard set.count >= k else {
            throw RequestError("--metric knn: the \(k)-th nearest training image needs at least \(k) of them; the model trained on \(set.count)")
        }
        self.k = k
        self.model = model
        referenceCount = set.count
        var points: Tensor?
        model.forEachBatch(of: set, batchSize: model.inferenceBatch) { x, c, range in
            let point = model.encode(x, condition: c).features
            if points == nil { points = Tensor(shape: [set.count, point.columns]) }
            copyUnitRows(point, into: points!.matrix(rows: set.count, columns: point.columns), firstRow: range.lowerBound)
        }
        reference = points!   // set.count ≥ k ≥ 1: one batch at least
        dimensions = reference.count / set.count
    }

    /// Each image's distance to its k-th nearest reference features (0 to 2).
    public func distances(images: [[Float]], conditions: [[Float]]?) -> [Double] {
        guard !images.isEmpty else { return [] }
        let queries = Tensor(shape: [images.count, dimensions])
        let points = queries.matrix(rows: images.count, columns: dimensions)
        var row = 0
        model.forEachBatch(of: images, conditions: conditions, width: model.configuration.inputSize, batchSize: model.inferenceBatch) { x, c in
            let point = model.encode(x, condition: c).features
            precondition(point.columns == dimensions, "a model's features have one width")
            copyUnitRows(point, into: points, firstRow: row)
            row += x.rows
        }
        // Cosine similarities a block of queries at a time (one product
        // against every reference point); ‖q − r‖² = 2 − 2 q·r for unit rows.
        let references = reference.matrix(rows: referenceCount, columns: dimensions)
        let block = min(images.count, Self.queryBlock)
        let similarities = Tensor(shape: [block, referenceCount])
        var result = [Double](repeating: 0, count: images.count)
        for lower in stride(from: 0, to: images.count, by: block) {
            let rows = min(block, images.count - lower)
            let q = Matrix(points.row(lower), rows: rows, columns: dimensions)
            let s = similarities.matrix(rows: rows, columns: referenceCount)
            matrixProduct(q, .none, references, .transposed, into: s)
            result.withUnsafeMutableBufferPointer { out in
                parallelRows(rows, workPerRow: referenceCount) { range in
                    for r in range {
                        let similarity = Double(kthLargest(UnsafeBufferPointer(start: s.row(r), count: referenceCount), k: k))
                        out[lower + r] = (max(0, 2 - 2 * similarity)).squareRoot()
                    }
                }
            }
        }
        return result
    }

    /// Query rows per product: 128 × 54,000 similarities is 28 MB.
    static let queryBlock = 128
}

/// The k-th largest of `values` (k ≤ count): the k largest kept in a sorted
/// window, most values rejected by one comparison with its smallest.
public func kthLargest(_ values: UnsafeBufferPointer<Float>, k: Int) -> Float {
    precondition(k >= 1 && k <= values.count)
    var window = Array(values[0..<k]).sorted()   // ascending: window[0] is the k-th largest so far
    for v in values[k...] where v > window[0] {
        var i = 0
        while i + 1 < k && window[i + 1] < v {
            window[i] = window[i + 1]
            i += 1
        }
        window[i] = v
    }
    return window[0]
}

/// The rows of `points`, each scaled to unit length, into rows `firstRow…`
/// of `out` (a zero row stays zero).
func copyUnitRows(_ points: ColumnSlice, into out: Matrix, firstRow: Int) {
    for r in 0..<points.rows {
        let source = points.row(r), target = out.row(firstRow + r)
        var squares: Float = 0
        for j in 0..<points.columns { squares += source[j] * source[j] }
        let scale = squares > 0 ? 1 / squares.squareRoot() : 0
        for j in 0..<points.columns { target[j] = source[j] * scale }
    }
}
