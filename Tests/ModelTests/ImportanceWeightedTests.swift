import VAEData
import VAEEngine
import VAEModels
import XCTest

final class ImportanceWeightedTests: XCTestCase {
    func makeBatch(_ c: ModelConfiguration, batch: Int, samples: Int, seed: UInt64) -> (Tensor, Tensor) {
        var rng = RandomGenerator(seed: seed)
        let x = Tensor(shape: [batch, c.inputSize])
        for i in 0..<x.count { x.pointer[i] = rng.uniform() }
        let eps = Tensor(shape: [batch * samples, c.latent])
        rng.fillNormal(eps.pointer, count: eps.count)
        return (x, eps)
    }

    /// The IWAE objective's gradient with respect to every parameter tensor.
    func testIWAEGradientMatchesFiniteDifferences() {
        let cases: [(ModelConfiguration, Float, Corruption?)] = [
            (ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [7, 6], latent: 3, activation: .tanh), 1, nil),
            (ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [7, 6], latent: 3), 0.7, nil),
            // Conditional conv on 4x4 images (smooth, see ELBOGradientTests): the
            // labels are repeated for each of the K draws.
            (ModelConfiguration(architecture: .conv, shape: ImageShape(height: 4, width: 4), hidden: [5], latent: 2, activation: .tanh, classes: 3), 1, nil),
            // A denoising IWAE: K draws from q(z|x̃), each scored against the clean x.
            (ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [7], latent: 3, activation: .tanh), 1, .noise(0.2)),
        ]
        for (c, beta, corruption) in cases {
            let model = GaussianVAE(configuration: c)
            model.initialize(seed: 8)
            checkObjectiveGradient(model, .importanceWeighted(samples: 4), beta: beta, batch: 2, corruption: corruption, seed: 9,
                                   maxChecks: 30)
        }
    }

    /// With one sample, −L_1 is the ELBO with its KL term estimated by sampling:
    /// averaged over many draws it approaches the closed-form negative ELBO.
    func testOneSampleBoundAveragesToTheELBO() {
        let c = ModelConfiguration(shape: ImageShape(height: 3, width: 4), hidden: [8], latent: 2)
        let model = GaussianVAE(configuration: c)
        model.initialize(seed: 3)
        let draws = 4000
        let (x1, _) = makeBatch(c, batch: 1, samples: 1, seed: 4)
        let x = Tensor(shape: [draws, c.inputSize])
        for r in 0..<draws { (x.pointer + r * c.inputSize).update(from: x1.pointer, count: c.inputSize) }
        let eps = Tensor(shape: [draws, c.latent])
        var rng = RandomGenerator(seed: 5)
        rng.fillNormal(eps.pointer, count: eps.count)
        let xm = x.matrix(rows: draws, columns: c.inputSize), em = eps.matrix(rows: draws, columns: c.latent)
        let iw = Objective(.importanceWeighted(samples: 1), model: model).forward(Batch(input: xm), noise: em).boundPerSample
        let elbo = Objective(.elbo, model: model).forward(Batch(input: xm), noise: em).boundPerSample
        XCTAssertEqual(iw, elbo, accuracy: 0.02 * abs(elbo))
    }

    func testTanhBackwardMatchesFiniteDifferences() {
        let x = randomTensor([3, 5], seed: 51, scale: 2)
        let tanhLayer = Tanh()
        let scratch = Tensor(shape: [3, 5])
        let projection = Projection(count: 15, seed: 52)
        let loss = { () -> Double in
            scratch.matrix(rows: 3, columns: 5).copy(from: x.matrix(rows: 3, columns: 5))
            return projection.loss(tanhLayer.forward(scratch.matrix(rows: 3, columns: 5)))
        }
        _ = loss()
        let dy = projection.gradient(rows: 3, columns: 5)
        let dx = tanhLayer.backward(dy.matrix(rows: 3, columns: 5)).array
        checkGradient("tanh dInput", values: x.pointer, count: 15, analytic: dx,
                      tolerance: Tolerance(h: 1e-3, rtol: 1e-2, atol: 1e-4), loss: loss)
    }
}
