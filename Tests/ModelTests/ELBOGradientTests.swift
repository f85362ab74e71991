import VAEEngine
import VAEModels
import XCTest

/// The gradient of the whole negative ELBO with respect to every parameter
/// tensor of the model, against finite differences.
final class ELBOGradientTests: XCTestCase {
    func check(_ configuration: VAEConfiguration, beta: Float, file: StaticString = #filePath, line: UInt = #line) {
        let model = MLPVAE(configuration: configuration)
        model.initialize(seed: 5)
        let batch = 3
        var rng = RandomGenerator(seed: 6)
        let x = Tensor(shape: [batch, configuration.inputSize])
        for i in 0..<x.count { x.pointer[i] = rng.uniform() }
        let eps = Tensor(shape: [batch, configuration.latent])
        rng.fillNormal(eps.pointer, count: eps.count)
        let xm = x.matrix(rows: batch, columns: configuration.inputSize)
        let em = eps.matrix(rows: batch, columns: configuration.latent)
        let loss = { model.forward(xm, noise: em).loss(beta: Double(beta)) }

        _ = loss()
        model.parameters.zeroGradients()
        model.backward(beta: beta)
        let store = model.parameters
        // A small step, so that few differences straddle a ReLU corner; the
        // loss is ~30 nats with ~1e-6 of Float32 rounding, ~5e-4 of noise at this h.
        let tol = Tolerance(h: 1e-3, rtol: 2e-2, atol: 3e-3)
        for slot in store.slots {
            let analytic = Array(UnsafeBufferPointer(start: store.gradients.pointer + slot.offset, count: slot.spec.count))
            checkGradient(slot.spec.name, values: store.values.pointer + slot.offset, count: slot.spec.count,
                          analytic: analytic, tolerance: tol, maxChecks: 40, loss: loss, file: file, line: line)
        }
    }

    func testBernoulliELBOGradientTwoHiddenLayers() {
        check(VAEConfiguration(inputSize: 12, hidden: [9, 7], latent: 3, likelihood: .bernoulli), beta: 1)
    }

    func testGaussianBetaVAEGradientOneHiddenLayer() {
        check(VAEConfiguration(inputSize: 10, hidden: [8], latent: 2, likelihood: .gaussian), beta: 4)
    }

    func testTanhModelGradient() {
        check(VAEConfiguration(inputSize: 10, hidden: [8, 6], latent: 3, likelihood: .bernoulli, activation: .tanh), beta: 1)
    }

    func testGradientWithNoHiddenLayers() {
        check(VAEConfiguration(inputSize: 6, hidden: [], latent: 2, likelihood: .bernoulli), beta: 0.5)
    }

    func testParameterNamesFollowPyTorch() {
        let model = MLPVAE(configuration: VAEConfiguration())
        XCTAssertEqual(model.parameters.names, [
            "encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
            "mu.weight", "logvar.weight", "mu.bias", "logvar.bias",
            "decoder.0.weight", "decoder.0.bias", "decoder.1.weight", "decoder.1.bias",
            "decoder.2.weight", "decoder.2.bias",
        ])
        XCTAssertEqual(model.parameters.slot("encoder.0.weight").spec.shape, [512, 784])
        XCTAssertEqual(model.parameters.slot("mu.weight").spec.shape, [20, 256])
        XCTAssertEqual(model.parameters.slot("decoder.2.weight").spec.shape, [784, 512])
        // 784·512+512 + 512·256+256 + 2·(256·20+20) + 20·256+256 + 256·512+512 + 512·784+784
        XCTAssertEqual(model.parameters.count, 1_082_680)
    }
}
