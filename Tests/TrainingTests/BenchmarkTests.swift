import VAEData
import VAEEngine
import VAEModels
import VAETraining
import XCTest

final class BenchmarkTests: XCTestCase {
    /// `vae bench --arch vq` times the default prior on the VQ-VAE's codes:
    /// its step's products are every convolution's forward and two backward
    /// products (the first layer, over one-hot codes, has none), and the
    /// figures are finite (no speed is asserted).
    func testPriorBenchmarkCountsTheStepsProducts() {
        let configuration = ModelConfiguration(family: .vq, architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [],
                                               latent: 3, convChannels: [4, 5], quantiser: Quantiser(codes: 6, dimensions: 3))
        var rng = RandomGenerator(seed: 3)
        let count = 30 * 128
        let images = ImageSet(pixels: (0..<(count * 64)).map { _ in UInt8(rng.integer(below: 256)) }, count: count, shape: configuration.shape)
        let result = priorBenchmark(configuration: configuration, train: images, seed: 1, batches: 10)
        let positions = VQVAE(configuration: configuration).positions, C = 128.0, K = 6.0
        // Per step, a batch of 128 grids: four masked 3x3 blocks (five kept taps), the 1x1 C → C and C → K layers.
        let forward = 2 * Double(128 * positions) * (4 * 5 * C * C + C * C + K * C)
        XCTAssertEqual(result.training.flops, 3 * forward, accuracy: 1)
        for (name, value) in [("grids/s", result.gridsPerSecond), ("bound fraction", result.training.fraction), ("peak", result.peakMiB)] {
            XCTAssertTrue(value.isFinite && value > 0, "\(name) \(value)")
        }
    }
}
