import Foundation
import VAEData
import VAEEngine
import VAEModels
import VAEInference
import VAETraining
import XCTest

final class ImportanceWeightingTests: XCTestCase {
    /// A model whose decoder ignores z (zero weights, output biases b): then
    /// p(x|z) = p(x) = Π_i Bernoulli(x_i; σ(b_i)) exactly, and the posterior is the prior.
    func toyModel(mu: Float, logVar: Float) -> (GaussianVAE, [Float]) {
        let c = ModelConfiguration(shape: ImageShape(height: 4, width: 4), hidden: [4], latent: 3)
        let model = GaussianVAE(configuration: c)
        let store = model.parameters
        store.values.fill(0)
        var rng = RandomGenerator(seed: 12)
        let biases = (0..<16).map { _ in rng.uniform(-2, 2) }
        let out = store.slot("decoder.1.bias")
        for i in 0..<16 { store.values.pointer[out.offset + i] = biases[i] }
        // The encoder says q(z|x) = N(mu, exp(logVar)) for every x.
        for (name, value) in [("mu.bias", mu), ("logvar.bias", logVar)] {
            let slot = store.slot(name)
            for i in 0..<slot.spec.count { store.values.pointer[slot.offset + i] = value }
        }
        return (model, biases)
    }

    func images(_ n: Int) -> ImageSet {
        var rng = RandomGenerator(seed: 13)
        let pixels = (0..<(n * 16)).map { _ in rng.uniform() < 0.5 ? UInt8(255) : 0 }
        return ImageSet(pixels: pixels, count: n, rows: 4, columns: 4)
    }

    /// −log p(x) in closed form for the toy: Σ_i BCE(σ(b_i), x_i), averaged over images.
    func exactNLL(_ set: ImageSet, biases: [Float]) -> Double {
        var total = 0.0
        for i in 0..<set.count {
            for j in 0..<16 {
                let x = Double(set.pixels[i * 16 + j]) / 255, p = 1 / (1 + exp(-Double(biases[j])))
                total -= x * log(p) + (1 - x) * log(1 - p)
            }
        }
        return total / Double(set.count)
    }

    func testExactPosteriorGivesTheExactLikelihoodForAnyK() {
        let (model, biases) = toyModel(mu: 0, logVar: 0)   // q(z|x) = p(z) = p(z|x)
        let set = images(20)
        let exact = exactNLL(set, biases: biases)
        for k in [1, 7, 100] {
            let iw = evaluateModel(model, images: set, seed: 1, importanceSamples: k).importanceWeightedNLL!
            XCTAssertEqual(iw, exact, accuracy: 1e-4, "K = \(k)")
        }
    }

    func testWrongPosteriorTightensTowardsTheExactLikelihood() {
        // q = N(0.5, e^0.5) is not the posterior N(0, 1): the ELBO is short by exactly KL(q ‖ p).
        // (q is wider than p, so the weights p/q stay bounded and the estimate converges quickly.)
        let (model, biases) = toyModel(mu: 0.5, logVar: 0.5)
        let set = images(50)
        let exact = exactNLL(set, biases: biases)
        let kl = 3 * 0.5 * (0.5 * 0.5 + exp(0.5) - 1 - 0.5)
        let result = evaluateModel(model, images: set, seed: 2, importanceSamples: 1)
        XCTAssertEqual(result.terms.boundPerSample, exact + kl, accuracy: 1e-3)
        var previous = Double.infinity
        for k in [1, 10, 100, 2000] {
            let iw = evaluateModel(model, images: set, seed: 2, importanceSamples: k).importanceWeightedNLL!
            XCTAssertLessThan(iw, previous + 0.02, "tightens with K (\(k))")
            XCTAssertGreaterThan(iw, exact - 0.05, "an upper bound on −log p(x), up to noise (\(k))")
            previous = iw
        }
        XCTAssertEqual(previous, exact, accuracy: 0.03, "K = 2000 is close to exact")
        XCTAssertGreaterThan(exact + kl - previous, 0.9 * kl, "most of the KL gap is closed")
    }

    func testTrainedModelBoundNeverAboveTheELBOAndTightens() throws {
        let data = Fixtures.mnist
        let train = try MNIST.load(directory: data, split: .train).subset(0..<3000)
        let test = binarized(try MNIST.load(directory: data, split: .test).subset(0..<200), seed: 3)
        let model = GaussianVAE(configuration: ModelConfiguration(hidden: [64], latent: 6, activation: .tanh))
        model.initialize(seed: 3)
        var settings = TrainingSettings()
        settings.data.binarized = true
        settings.learningRate = 3e-3
        let trainer = Trainer(model: model, optimizer: Adam(parameters: model.parameters, learningRate: 3e-3),
                              settings: settings, train: train, test: nil)
        for _ in 0..<3 { _ = try trainer.trainEpoch() }
        let nelbo = evaluateModel(model, images: test, seed: 4).terms.boundPerSample
        let bounds = [1, 5, 50].map { evaluateModel(model, images: test, seed: 4, importanceSamples: $0).importanceWeightedNLL! }
        print("−ELBO \(nelbo); IW-NLL for K = 1, 5, 50: \(bounds)")
        XCTAssertEqual(bounds[0], nelbo, accuracy: 0.02 * nelbo, "K = 1 is the ELBO, sampled")
        XCTAssertLessThan(bounds[1], bounds[0])
        XCTAssertLessThan(bounds[2], bounds[1])
        XCTAssertLessThan(bounds[2], nelbo)
    }

    /// The conv model decodes at most 512 draws at once, so K = 2,700 is
    /// taken in slices (5 × 512 + 140) combined by log-sum-exp: the same
    /// bound as all 2,560 draws in one product, with the same ε.
    func testSlicedDrawsGiveTheSameBound() {
        let c = ModelConfiguration(architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [8], latent: 3)
        let model = GaussianVAE(configuration: c)
        model.initialize(seed: 21)
        var pixelRNG = RandomGenerator(seed: 22)
        let image = ImageSet(pixels: (0..<64).map { _ in UInt8(pixelRNG.integer(below: 256)) }, count: 1, rows: 8, columns: 8)
        let K = 2700
        let x = Tensor(shape: [1, 64])
        image.gather([0], into: x.pointer)
        let eps = Tensor(shape: [K, 3])
        var rng = RandomGenerator(seed: 5, stream: .importance, index: 0)   // image 0's stream
        rng.fillNormal(eps.pointer, count: eps.count)
        let whole = Objective(.importanceWeighted(samples: K), model: model)
            .forward(Batch(input: x.matrix(rows: 1, columns: 64)), noise: eps.matrix(rows: K, columns: 3), training: false).boundPerSample
        let sliced = evaluateModel(model, images: image, seed: 5, importanceSamples: K).importanceWeightedNLL
        XCTAssertEqual(sliced ?? 0, whole, accuracy: 1e-9 * abs(whole))
    }

    /// Each image's draws come from its own stream and the images go to the
    /// threads side by side, each thread with its own copy of the model: with
    /// K large (one image per product, per thread) the same bounds, bit for
    /// bit, with one thread or two; with K small (many images per product,
    /// which the threads split) the same to the last bits.
    func testBoundsAreTheSameForAnyThreadCount() throws {
        let test = binarized(try MNIST.load(directory: Fixtures.mnist, split: .test).subset(0..<9), seed: 3)
        let model = GaussianVAE(configuration: ModelConfiguration(hidden: [32], latent: 4, activation: .tanh))
        model.initialize(seed: 8)
        let threads = BLASThreads.current
        defer { BLASThreads.set(threads) }
        for K in [3, 5000] {
            var results: [[Double]] = []
            for count in [1, 2] {
                BLASThreads.set(count)
                results.append(ImportanceSampler(model: model, samples: K).bounds(of: test, seed: 6))
            }
            if K == 5000 {
                XCTAssertEqual(results[0], results[1], "K = \(K)")
            } else {
                // Several images share one product, which two threads split:
                // OpenBLAS's split may move the last bits of the float32
                // products. How many depends on the CPU's kernel (its edge
                // rows take another path on some): 7e-8 relative measured on
                // CI's machine, so float32's own precision is the bound here.
                for (a, b) in zip(results[0], results[1]) { XCTAssertEqual(a, b, accuracy: 1e-6 * a, "K = \(K)") }
            }
            XCTAssertEqual(results[0].count, 9)
            XCTAssert(results[0].allSatisfy { $0.isFinite && $0 > 0 }, "\(results[0])")
        }
    }

    func testBinarisationIsFixedBySeed() throws {
        let set = ImageSet(pixels: (0..<1000).map { UInt8($0 % 256) }, count: 10, rows: 10, columns: 10)
        let a = binarized(set, seed: 1), b = binarized(set, seed: 1), c = binarized(set, seed: 2)
        XCTAssertEqual(a.pixels, b.pixels)
        XCTAssertNotEqual(a.pixels, c.pixels)
        XCTAssert(a.pixels.allSatisfy { $0 == 0 || $0 == 255 })
        let mean = Double(a.pixels.map { Int($0) }.reduce(0, +)) / 255 / 1000
        XCTAssertEqual(mean, Double(set.pixels.map { Int($0) }.reduce(0, +)) / 255 / 1000, accuracy: 0.05)
    }
}
