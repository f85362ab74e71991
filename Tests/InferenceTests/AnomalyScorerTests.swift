import VAEData
import VAEEngine
import VAEInference
import VAEModels
import XCTest

/// The complexity and ratio metrics (Serrà et al. 2020; Ren et al. 2019)
/// built from the model's own scores, and every metric scored at once agreeing
/// with each scored alone.
final class AnomalyScorerTests: XCTestCase {
    let shape = ImageShape(channels: 1, height: 28, width: 28)

    func model(seed: UInt64) -> GaussianVAE {
        let model = GaussianVAE(configuration: ModelConfiguration(hidden: [32], latent: 4))
        model.initialize(seed: seed)
        return model
    }

    /// Twelve images: blanks, strokes and noise.
    var images: [[Float]] {
        var rng = RandomGenerator(seed: 5)
        return (0..<12).map { (i: Int) -> [Float] in
            (0..<784).map { (j: Int) -> Float in
                switch i % 3 {
                case 0: return 0
                case 1: return j % 28 == 14 ? 1 : 0
                default: return rng.uniform()
                }
            }
        }
    }

    /// The Gaussian likelihood's L(x): the 8-bit grey levels as PNG.
    func testCompressedGreyLevelsOfKnownImages() {
        func length(_ pixels: [Float], _ shape: ImageShape) -> Double { compressedLength(of: pixels, shape: shape, likelihood: .gaussian) }
        let blank = length([Float](repeating: 0, count: 784), shape)
        var rng = RandomGenerator(seed: 1)
        let noise = length((0..<784).map { _ in Float(Int(rng.uniform() * 256)) / 255 }, shape)
        let stroke = length((0..<784).map { $0 % 28 == 14 ? 1 : 0 }, shape)
        // 784 random bytes do not compress: at least 784 · 8 bits, in nats.
        XCTAssertGreaterThanOrEqual(noise, 784 * 8 * log(2))
        XCTAssertLessThan(noise, (784 + 200) * 8 * log(2))
        // A blank image is a few dozen bytes (PNG's chunks and a deflated run), a stroke a little more.
        XCTAssertLessThan(blank, 100 * 8 * log(2))
        XCTAssertLessThan(blank, stroke)
        XCTAssertLessThan(stroke, noise / 5)
        // Colour: three planes interleaved, each of them noise, is three times the bytes.
        let colour = length((0..<(3 * 784)).map { _ in Float(Int(rng.uniform() * 256)) / 255 }, ImageShape(channels: 3, height: 28, width: 28))
        XCTAssertGreaterThanOrEqual(colour, 3 * 784 * 8 * log(2))
    }

    /// The Bernoulli likelihood's L(x): the black-and-white image it models,
    /// one bit per pixel, whatever the grey levels on either side of ½.
    func testCompressedBlackAndWhiteOfKnownImages() {
        func length(_ pixels: [Float], _ shape: ImageShape) -> Double { compressedLength(of: pixels, shape: shape, likelihood: .bernoulli) }
        var rng = RandomGenerator(seed: 1)
        let blank = length([Float](repeating: 0, count: 784), shape)
        // A diagonal: every row different (a vertical stroke's identical rows deflate as a blank's do).
        let stroke = length((0..<784).map { $0 % 29 == 0 ? 1 : 0 }, shape)
        let greyNoise = (0..<784).map { _ in rng.uniform() }
        let noise = length(greyNoise, shape)
        // 784 random bits do not compress: at least 98 bytes, and the 8-bit
        // grey levels they came from would take eight times as many.
        XCTAssertGreaterThanOrEqual(noise, 784 * log(2))
        XCTAssertLessThan(noise, (98 + 28 + 150) * 8 * log(2))
        XCTAssertLessThan(noise, compressedLength(of: greyNoise, shape: shape, likelihood: .gaussian) / 3)
        XCTAssertEqual(noise, length(greyNoise.map { $0 >= 0.5 ? 1 : 0 }, shape), "only which side of ½ a value is on counts")
        // A blank image is PNG's chunks (about 90 bytes, the palette's among
        // them) and a deflated run.
        XCTAssertLessThan(blank, 110 * 8 * log(2))
        XCTAssertLessThan(blank, stroke)
        XCTAssertLessThan(stroke, noise)
        // Colour: the three planes' bits, each of them noise.
        let colour = length((0..<(3 * 784)).map { _ in rng.uniform() }, ImageShape(channels: 3, height: 28, width: 28))
        XCTAssertGreaterThanOrEqual(colour, 3 * 784 * log(2))
        XCTAssertGreaterThan(colour, 2 * noise)
    }

    func testComplexityAndRatioAreTheirDefinitions() throws {
        let (m, background) = (model(seed: 1), model(seed: 2))
        let images = self.images
        let iw = anomalyScores(model: m, images: images, metric: .iw, samples: 10, seed: 3)
        let backgroundIW = anomalyScores(model: background, images: images, metric: .iw, samples: 10, seed: 3)
        let complexity = try AnomalyScorer(model: m, metric: .complexity, samples: 10, seed: 3).scores(images, conditions: nil)
        let ratio = try AnomalyScorer(model: m, metric: .ratio, samples: 10, seed: 3, background: background).scores(images, conditions: nil)
        for i in images.indices {
            XCTAssertEqual(complexity[i], iw[i] - compressedLength(of: images[i], shape: shape, likelihood: .bernoulli), accuracy: 1e-9)
            XCTAssertEqual(ratio[i], iw[i] - backgroundIW[i], accuracy: 1e-9)
        }
        // A model against itself: no evidence either way.
        let itself = try AnomalyScorer(model: m, metric: .ratio, samples: 10, seed: 3, background: m).scores(images, conditions: nil)
        XCTAssertEqual(itself, [Double](repeating: 0, count: images.count))
        // The ratio needs its background model, of the same shape.
        XCTAssertThrowsError(try AnomalyScorer(model: m, metric: .ratio, samples: nil, seed: 0))
        let other = GaussianVAE(configuration: ModelConfiguration(shape: ImageShape(channels: 1, height: 20, width: 20), hidden: [32], latent: 4))
        XCTAssertThrowsError(try AnomalyScorer(model: m, metric: .ratio, samples: nil, seed: 0, background: other))
    }

    func testEveryMetricAtOnceAgreesWithEachAlone() throws {
        let (m, background) = (model(seed: 4), model(seed: 6))
        let images = self.images
        let neighbours = try FeatureNeighbours(model: m, reference: imageSet(images), k: 3)
        let all = try AnomalyScorer(model: m, metrics: AnomalyMetric.allCases, samples: nil, seed: 9, background: background,
                                    neighbours: neighbours)
        let together = all.scoresByMetric(images, conditions: nil)
        for (metric, scores) in zip(AnomalyMetric.allCases, together) {
            let alone = try AnomalyScorer(model: m, metric: metric, samples: nil, seed: 9, background: background, neighbours: neighbours)
            XCTAssertEqual(alone.scores(images, conditions: nil), scores, metric.rawValue)
            XCTAssertEqual(all.draws(metric), metric == .nelbo || metric == .recon ? 1 : metric == .knn ? 0 : 100, metric.rawValue)
        }
        XCTAssertThrowsError(try AnomalyScorer(model: m, metric: .knn, samples: nil, seed: 0))
        // Features from one model, scored by another: refused.
        XCTAssertThrowsError(try AnomalyScorer(model: background, metric: .knn, samples: nil, seed: 0, neighbours: neighbours))
    }

    /// 8-bit images as a set (the intensities rounded to levels).
    func imageSet(_ images: [[Float]]) -> ImageSet {
        ImageSet(pixels: images.flatMap { $0.map { UInt8(($0 * 255).rounded()) } }, count: images.count, shape: shape)
    }

    /// The k-th largest of a window, against sorting: ties, k = 1 and k = count.
    func testKthLargestIsTheSortedValue() {
        var rng = RandomGenerator(seed: 11)
        for count in [1, 2, 7, 100, 1000] {
            // Few distinct values, so ties are common.
            let values = (0..<count).map { _ in Float(Int(rng.uniform() * 20)) }
            let sorted = values.sorted(by: >)
            for k in Set([1, 2, count / 2, count].filter { $0 >= 1 && $0 <= count }) {
                values.withUnsafeBufferPointer { XCTAssertEqual(kthLargest($0, k: k), sorted[k - 1], "count \(count), k \(k)") }
            }
        }
    }

    /// knn is its definition: the k-th smallest distance between unit-length
    /// encoder features (the hidden layer the heads read: 32 wide, not the
    /// latent's 4), computed here image by image; an image in the reference
    /// set is its own nearest neighbour.
    func testNeighbourDistancesAreTheirDefinition() throws {
        let m = model(seed: 7)
        var rng = RandomGenerator(seed: 8)
        let reference = (0..<40).map { _ in (0..<784).map { _ in Float(UInt8(rng.uniform() * 255)) / 255 } }
        let queries = Array(reference[0..<3]) + self.images
        let unit = { (x: [Float]) -> [Double] in
            let input = Tensor(shape: [1, 784])
            x.withUnsafeBufferPointer { input.pointer.update(from: $0.baseAddress!, count: 784) }
            m.reserve(batchSize: 1)
            let features = m.encode(input.matrix(rows: 1, columns: 784), condition: nil).features.array(row: 0).map(Double.init)
            let norm = features.map { $0 * $0 }.reduce(0, +).squareRoot()
            return features.map { $0 / norm }
        }
        let referencePoints = reference.map(unit)
        XCTAssertEqual(referencePoints[0].count, 32)
        for k in [1, 5, 40] {
            let neighbours = try FeatureNeighbours(model: m, reference: imageSet(reference), k: k)
            let distances = neighbours.distances(images: queries, conditions: nil)
            for (q, query) in queries.enumerated() {
                let point = unit(query)
                let all = referencePoints.map { r in zip(point, r).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() }.sorted()
                XCTAssertEqual(distances[q], all[k - 1], accuracy: 1e-3, "query \(q), k \(k)")
            }
            if k == 1 { for q in 0..<3 { XCTAssertEqual(distances[q], 0, accuracy: 1e-3) } }
        }
        XCTAssertThrowsError(try FeatureNeighbours(model: m, reference: imageSet(reference), k: 41))
        XCTAssertThrowsError(try FeatureNeighbours(model: m, reference: imageSet(reference), k: 0))
    }
}
