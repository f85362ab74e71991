import Foundation
import VAEData
import VAEEngine
import VAEModels

/// What a judge makes of a set of images: each one's class and confidence,
/// and the features the Fréchet distance compares.
public struct JudgeReading {
    public let classes: Int
    /// The most probable class of each image.
    public let predictions: [Int]
    /// Its probability.
    public let confidences: [Float]
    /// The judge's features, one row of `featureSize` per image.
    public let features: [Float]
    public let featureSize: Int

    public var count: Int { predictions.count }

    /// How many images the judge assigns to each class.
    public var histogram: [Int] {
        var h = [Int](repeating: 0, count: classes)
        for p in predictions { h[p] += 1 }
        return h
    }

    /// The entropy of the class histogram in nats: log(classes) when every
    /// class is drawn equally often, 0 when one class is all there is (mode
    /// collapse). MNIST's test set: 2.30 (its classes are nearly balanced).
    public var classEntropy: Double {
        let n = Double(max(count, 1))
        return histogram.filter { $0 > 0 }.map { Double($0) / n }.reduce(0) { $0 - $1 * log($1) }
    }

    /// The mean probability of the top class (how sure the judge is the image is some digit).
    public var meanConfidence: Double { confidences.reduce(0) { $0 + Double($1) } / Double(max(count, 1)) }

    /// The share of images whose top class has probability above `threshold`.
    public func share(confidentAbove threshold: Float) -> Double {
        Double(confidences.filter { $0 > threshold }.count) / Double(max(count, 1))
    }

    /// The share of images read as `labels[i]` (accuracy, for real images; for
    /// a conditional model's samples, the share that show the class asked for).
    public func agreement(with labels: [Int]) -> Double {
        precondition(labels.count == count)
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(max(count, 1))
    }

    /// The indices of the `count` images read most confidently (most sure
    /// first) and of the `count` read least confidently (least sure first);
    /// ties keep the images' order.
    public func extremes(count n: Int) -> (most: [Int], least: [Int]) {
        let order = confidences.indices.sorted { (confidences[$0], $1) > (confidences[$1], $0) }
        let k = min(n, count)
        return (Array(order.prefix(k)), Array(order.suffix(k).reversed()))
    }

    /// The mean and covariance of the features (nil for fewer than two images).
    public var featureMoments: GaussianMoments? { count >= 2 ? GaussianMoments(rows: features, dimension: featureSize) : nil }

    /// The Fréchet distance of these images' features to `other`'s: nil when
    /// either set has fewer than two images (no covariance) or LAPACK fails.
    public func frechetDistance(to other: JudgeReading) -> Double? {
        guard let mine = featureMoments, let theirs = other.featureMoments else { return nil }
        return VAEInference.frechetDistance(mine, theirs)
    }
}

/// Reads `count` images, image i's intensities written by `fill(i, out)`, in batches.
public func readImages(_ judge: Judge, count: Int, fill: (Int, UnsafeMutablePointer<Float>) -> Void) -> JudgeReading {
    let batchSize = 500, d = judge.inputSize, k = judge.featureSize
    judge.reserve(batchSize: min(batchSize, max(count, 1)))
    let x = Tensor(shape: [min(batchSize, max(count, 1)), d])
    var predictions: [Int] = [], confidences: [Float] = [], features: [Float] = []
    predictions.reserveCapacity(count); confidences.reserveCapacity(count); features.reserveCapacity(count * k)
    for first in stride(from: 0, to: count, by: batchSize) {
        let rows = min(batchSize, count - first)
        let batch = x.matrix(rows: rows, columns: d)
        for r in 0..<rows { fill(first + r, batch.row(r)) }
        let reading = judge.read(batch)
        for r in 0..<rows {
            let top = topClass(reading.probabilities.row(r), count: judge.classes)
            predictions.append(top.index)
            confidences.append(top.probability)
            features += UnsafeBufferPointer(start: reading.features.row(r), count: k)
        }
    }
    return JudgeReading(classes: judge.classes, predictions: predictions, confidences: confidences, features: features, featureSize: k)
}

/// The judge's reading of the images of a set.
public func readImages(_ judge: Judge, _ set: ImageSet) -> JudgeReading {
    precondition(set.shape == judge.configuration.shape)
    return readImages(judge, count: set.count) { i, out in set.gather(CollectionOfOne(i), into: out) }
}

/// The judge's reading of images given as planes of intensities in [0, 1].
public func readImages(_ judge: Judge, intensities images: [[Float]]) -> JudgeReading {
    precondition(images.allSatisfy { $0.count == judge.inputSize })
    return readImages(judge, count: images.count) { i, out in
        images[i].withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: judge.inputSize) }
    }
}

/// The mean and covariance of a set of feature vectors, in double precision.
public struct GaussianMoments {
    public let dimension: Int
    public let mean: [Double]
    /// Row-major (dimension × dimension), the unbiased estimate (n − 1).
    public let covariance: [Double]

    public init(rows: [Float], dimension k: Int) {
        let n = rows.count / k
        precondition(n >= 2 && rows.count == n * k, "moments of at least two vectors")
        var mean = [Double](repeating: 0, count: k)
        for i in 0..<n { for j in 0..<k { mean[j] += Double(rows[i * k + j]) } }
        for j in 0..<k { mean[j] /= Double(n) }
        // Σ (x − μ)(x − μ)ᵀ as one product of the centred rows with themselves.
        let centred = Tensor(shape: [n, k])
        for i in 0..<n { for j in 0..<k { centred.pointer[i * k + j] = Float(Double(rows[i * k + j]) - mean[j]) } }
        let product = Tensor(shape: [k, k])
        let c = centred.matrix(rows: n, columns: k)
        matrixProduct(c, .transposed, c, .none, into: product.matrix(rows: k, columns: k))
        dimension = k
        self.mean = mean
        covariance = product.buffer.map { Double($0) / Double(n - 1) }
    }

    public init(mean: [Double], covariance: [Double]) {
        precondition(covariance.count == mean.count * mean.count)
        dimension = mean.count
        self.mean = mean
        self.covariance = covariance
    }
}

/// The Fréchet distance between the Gaussians fitted to two sets of features
/// (Dowson & Landau 1982; FID, Heusel et al. 2017):
///
///   d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)
///
/// Tr (Σ₁ Σ₂)^½ is computed as Tr (Σ₁^½ Σ₂ Σ₁^½)^½: the same eigenvalues,
/// but of a symmetric matrix, so two symmetric eigendecompositions and no
/// general matrix square root (whose imaginary parts FID code discards).
/// nil if LAPACK does not converge.
public func frechetDistance(_ a: GaussianMoments, _ b: GaussianMoments) -> Double? {
    precondition(a.dimension == b.dimension)
    let n = a.dimension
    let meanTerm = zip(a.mean, b.mean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    let traces = (0..<n).reduce(0) { $0 + a.covariance[$1 * n + $1] + b.covariance[$1 * n + $1] }
    guard let eigenA = SymmetricEigen(a.covariance, dimension: n) else { return nil }
    let rootA = eigenA.applying { max($0, 0).squareRoot() }
    var middle = doubleProduct(doubleProduct(rootA, b.covariance, size: n), rootA, size: n)
    // Symmetric up to rounding; dsyev reads one triangle, so make both agree.
    for r in 0..<n { for c in 0..<r { let m = (middle[r * n + c] + middle[c * n + r]) / 2; middle[r * n + c] = m; middle[c * n + r] = m } }
    guard let eigenM = SymmetricEigen(middle, dimension: n) else { return nil }
    let crossTrace = eigenM.values.reduce(0) { $0 + max($1, 0).squareRoot() }
    return max(0, meanTerm + traces - 2 * crossTrace)
}

/// How good a model's samples are, as its judge sees them (`vae eval --sample-quality N`).
public struct SampleQuality {
    /// The judge's reading of the samples.
    public let samples: JudgeReading
    /// The reading of the reference images (the test split).
    public let reference: JudgeReading
    /// Between the samples' features and the reference's (nil if LAPACK failed).
    public let frechetDistance: Double?
    /// Between the reconstructions of the reference images and the reference.
    public let reconstructionFrechetDistance: Double?
    /// A conditional model's sample i was asked to show class `asked[i]`.
    public let asked: [Int]?

    /// The share of samples read as the class asked for (a conditional model).
    public var conditionalShare: Double? { asked.map(samples.agreement) }

    /// The same per class asked for.
    public var conditionalShareByClass: [Double]? {
        guard let asked else { return nil }
        return (0..<samples.classes).map { c in
            let mine = asked.indices.filter { asked[$0] == c }
            return Double(mine.filter { samples.predictions[$0] == c }.count) / Double(max(mine.count, 1))
        }
    }
}

/// `count` samples as `vae sample` draws them (8-bit pictures), read by the
/// judge; a conditional model draws class i mod classes as sample i, so every
/// class equally, and `asked` says which.
public func judgedSamples(model: any VariationalModel, judge: Judge, count: Int, seed: UInt64,
                          temperature: Float = 1) -> (reading: JudgeReading, asked: [Int]?, pictures: [Picture]) {
    precondition(judge.configuration.shape == model.configuration.shape)
    let classes = model.configuration.classes
    let asked = model.configuration.isConditional ? (0..<count).map { $0 % classes } : nil
    let pictures = sampleImages(model: model, count: count, labels: asked, seed: seed, temperature: temperature)
    return (readImages(judge, intensities: pictures.map { $0.planes(channels: judge.configuration.shape.channels) }), asked, pictures)
}

/// Draws `count` samples (`judgedSamples`), has `judge` read them and `reference`, and
/// measures the Fréchet distances of the samples and of the reference's
/// reconstructions (points of q(z|x), decoded) to the reference.
public func measureSampleQuality(model: any VariationalModel, judge: Judge, count: Int, reference: ImageSet,
                                 seed: UInt64, temperature: Float = 1) -> SampleQuality {
    precondition(judge.configuration.shape == model.configuration.shape && reference.shape == judge.configuration.shape)
    let (samples, asked, _) = judgedSamples(model: model, judge: judge, count: count, seed: seed, temperature: temperature)
    let real = readImages(judge, reference)
    let images = (0..<reference.count).map(reference.intensities)
    let conditions = model.conditions(of: reference)
    let points = model.encodings(images, conditions: conditions).map(\.point)
    let reconstructions = readImages(judge, intensities: model.decodedIntensities(points, conditions: conditions))
    return SampleQuality(samples: samples, reference: real, frechetDistance: samples.frechetDistance(to: real),
                         reconstructionFrechetDistance: reconstructions.frechetDistance(to: real), asked: asked)
}
