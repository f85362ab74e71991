import VAEData
import VAEEngine
import VAEInference
import VAEModels
import XCTest

final class CodeStatisticsTests: XCTestCase {
    /// The prior's training encodes its images a few at a time to keep the
    /// autoencoder's buffers small: an image's codes must not depend on
    /// how many are encoded with it, nor on which batch it falls in.
    func testCodesDoNotDependOnTheBatch() {
        let configuration = ModelConfiguration(family: .vq, architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [],
                                               latent: 3, convChannels: [4, 5], quantiser: Quantiser(codes: 6, dimensions: 3))
        let model = VQVAE(configuration: configuration)
        model.initialize(seed: 4)
        var rng = RandomGenerator(seed: 11)
        let count = 23
        let images = ImageSet(pixels: (0..<(count * 64)).map { _ in UInt8(rng.integer(below: 256)) }, count: count,
                              shape: configuration.shape)
        let whole = codes(of: model, images: images, batchSize: count)
        XCTAssertEqual(whole.count, count * model.positions)
        XCTAssertGreaterThan(Set(whole).count, 1, "a model giving every position one code tests nothing")
        for batchSize in [1, 5, 8] {
            XCTAssertEqual(codes(of: model, images: images, batchSize: batchSize), whole, "batches of \(batchSize)")
        }
    }
}
