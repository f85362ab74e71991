import VAEData
import VAEEngine
import VAEModels
import XCTest

/// The gradient of the whole negative ELBO with respect to every parameter
/// tensor of the model, against finite differences.
final class ELBOGradientTests: XCTestCase {
    func check(_ configuration: ModelConfiguration, beta: Float, corruption: Corruption? = nil,
               file: StaticString = #filePath, line: UInt = #line) {
        let model = GaussianVAE(configuration: configuration)
        model.initialize(seed: 5)
        // A small step, so that few differences straddle a ReLU corner; the
        // loss is ~30 nats with ~1e-6 of Float32 rounding, ~5e-4 of noise at this h.
        checkObjectiveGradient(model, .elbo, beta: beta, corruption: corruption, file: file, line: line)
    }

    func testBernoulliELBOGradientTwoHiddenLayers() {
        check(ModelConfiguration(shape: ImageShape(height: 3, width: 4), hidden: [9, 7], latent: 3, likelihood: .bernoulli), beta: 1)
    }

    func testGaussianBetaVAEGradientOneHiddenLayer() {
        check(ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [8], latent: 2, likelihood: .gaussian), beta: 4)
    }

    func testTanhModelGradient() {
        check(ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [8, 6], latent: 3, likelihood: .bernoulli, activation: .tanh), beta: 1)
    }

    func testGradientWithNoHiddenLayers() {
        check(ModelConfiguration(shape: ImageShape(height: 2, width: 3), hidden: [], latent: 2, likelihood: .bernoulli), beta: 0.5)
    }

    func testConditionalMLPGradient() {
        check(ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [8, 6], latent: 3, classes: 4), beta: 1)
    }

    func testConditionalMLPWithoutHiddenLayersGradient() {
        check(ModelConfiguration(shape: ImageShape(height: 2, width: 3), hidden: [], latent: 2, classes: 3), beta: 2)
    }

    /// The whole conv VAE on 8x8 images: two convolutions (8 → 4 → 2), fc,
    /// heads, fc, two transposed convolutions (2 → 4 → 8). With 32 and 64
    /// channels each weight moves the loss little, so the loss must be small
    /// for Float32 rounding (~1 ulp of each image's term) to stay below the
    /// differences: the Gaussian term here, and 4x4 images for the Bernoulli one.
    /// A bias of a 32-channel layer also moves dozens of ReLUs at once, so
    /// several corners can fall within h; tanh keeps the whole model smooth
    /// (ReLU itself is checked layer by layer in LayerGradientTests).
    func testConvGradient() {
        check(ModelConfiguration(architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [6], latent: 2, likelihood: .gaussian, activation: .tanh), beta: 1)
        check(ModelConfiguration(architecture: .conv, shape: ImageShape(height: 4, width: 4), hidden: [6], latent: 2, likelihood: .bernoulli, activation: .tanh), beta: 1)
    }

    func testConditionalConvGradient() {
        check(ModelConfiguration(architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [5], latent: 3, likelihood: .gaussian,
                               activation: .tanh, classes: 3), beta: 0.5)
        check(ModelConfiguration(architecture: .conv, shape: ImageShape(height: 4, width: 4), hidden: [5], latent: 3, likelihood: .bernoulli,
                               activation: .tanh, classes: 4), beta: 1)
    }

    /// A conditional model with a learned class prior p(z|y) = N(μ_y, σ_y²):
    /// KL(q(z|x, y) ‖ p(z|y)) in closed form, its gradient into q and into
    /// the prior's table, for both architectures and for the importance-
    /// weighted bound (log q − log p(z|y) sampled, K draws sharing y's prior).
    /// The prior's parameters are moved off their zero start first.
    func testLearnedClassPriorGradient() {
        let configurations = [
            ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [8, 6], latent: 3, classes: 4, learnedClassPrior: true),
            ModelConfiguration(architecture: .conv, shape: ImageShape(height: 4, width: 4), hidden: [5], latent: 3,
                               activation: .tanh, classes: 3, learnedClassPrior: true),
        ]
        for c in configurations {
            let model = GaussianVAE(configuration: c)
            model.initialize(seed: 5)
            let slot = model.parameters.slot("class_prior.weight")
            XCTAssertEqual(slot.spec.shape, [2 * c.latent, c.classes])
            XCTAssertEqual(model.parameters.slot("class_prior.bias").spec.shape, [2 * c.latent])
            var rng = RandomGenerator(seed: 12)
            for name in ["class_prior.weight", "class_prior.bias"] {
                let s = model.parameters.slot(name)
                XCTAssertTrue((0..<s.spec.count).allSatisfy { model.parameters.values.pointer[s.offset + $0] == 0 }, "\(name) starts at zero")
                for i in 0..<s.spec.count { model.parameters.values.pointer[s.offset + i] = rng.uniform(-0.5, 0.5) }
            }
            checkObjectiveGradient(model, .elbo, beta: 1.5, batch: 4)
            checkObjectiveGradient(model, .importanceWeighted(samples: 3), beta: 1, batch: 3, maxChecks: 30)
        }
    }

    /// Draws from a learned class prior have class y's mean and σ: with
    /// W's column y = [μ_y | log σ_y²] and b = 0, 20,000 draws per class.
    func testLearnedClassPriorDraws() {
        let c = ModelConfiguration(shape: ImageShape(height: 2, width: 2), hidden: [4], latent: 2, classes: 2, learnedClassPrior: true)
        let model = GaussianVAE(configuration: c)
        model.initialize(seed: 1)
        let w = model.parameters.values("class_prior.weight")  // (4, 2): rows μ0, μ1, log σ²0, log σ²1
        let table: [[Float]] = [[1.5, -2], [0.5, 0], [0, log(4)], [log(0.25), 0]]
        for (r, row) in table.enumerated() { for (y, v) in row.enumerated() { w[r, y] = v } }
        let n = 20_000, z = Tensor(shape: [n, 2]), labels = Tensor(shape: [n, 2])
        for r in 0..<n { labels.pointer[r * 2 + r % 2] = 1 }
        var rng = RandomGenerator(seed: 3)
        model.drawPrior(into: z.matrix(rows: n, columns: 2), condition: labels.matrix(rows: n, columns: 2), rng: &rng)
        for y in 0..<2 {
            for j in 0..<2 {
                let values = stride(from: y, to: n, by: 2).map { Double(z.pointer[$0 * 2 + j]) }
                let mean = values.reduce(0, +) / Double(values.count)
                let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
                let expectedSD = exp(0.5 * Double(table[2 + j][y]))
                XCTAssertEqual(mean, Double(table[j][y]), accuracy: 4 * expectedSD / Double(values.count).squareRoot(), "class \(y) dim \(j)")
                XCTAssertEqual(sd, expectedSD, accuracy: 0.03 * expectedSD, "class \(y) dim \(j)")
            }
        }
        // Standard-normal coordinates u map to μ_y + σ_y ⊙ u (a manifold's grid, a traversal's steps).
        let points = Tensor(shape: [2, 2], values: [0, 0, 1, -2]), classes = Tensor(shape: [2, 2], values: [0, 1, 1, 0])
        model.placeInPrior(points.matrix(rows: 2, columns: 2), condition: classes.matrix(rows: 2, columns: 2))
        XCTAssertEqual(Array(points.array[0..<2]), [-2, 0])
        XCTAssertEqual(points.array[2], 1.5 + 1, accuracy: 1e-6)
        XCTAssertEqual(points.array[3], 0.5 - 2 * 0.5, accuracy: 1e-6)
        // Without a learned prior the same draws are N(0, I) itself.
        let plain = GaussianVAE(configuration: ModelConfiguration(shape: c.shape, hidden: [4], latent: 2, classes: 2))
        let u = Tensor(shape: [4, 2]), v = Tensor(shape: [4, 2])
        var a = RandomGenerator(seed: 4), b = RandomGenerator(seed: 4)
        plain.drawPrior(into: u.matrix(rows: 4, columns: 2), condition: labels.matrix(rows: 4, columns: 2), rng: &a)
        b.fillNormal(v.pointer, count: 8)
        XCTAssertEqual(u.array, v.array)
    }

    /// The denoising criterion: the encoder reads a corrupted input, the
    /// likelihood scores the clean one (Im et al. 2017).
    func testDenoisingGradient() {
        check(ModelConfiguration(shape: ImageShape(height: 3, width: 4), hidden: [9, 7], latent: 3), beta: 1, corruption: .noise(0.3))
        check(ModelConfiguration(shape: ImageShape(height: 2, width: 5), hidden: [8], latent: 2, activation: .tanh, classes: 3), beta: 1, corruption: .mask(0.4))
        check(ModelConfiguration(architecture: .conv, shape: ImageShape(height: 4, width: 4), hidden: [5], latent: 2, activation: .tanh), beta: 1,
              corruption: .saltAndPepper(0.2))
    }

    /// The label changes what is decoded: the same z with two labels gives
    /// two images, and the encoder's output depends on the label too.
    func testConditionChangesEncoderAndDecoder() {
        for architecture in Architecture.allCases {
            let c = ModelConfiguration(architecture: architecture, shape: ImageShape(height: 8, width: 8), hidden: [8], latent: 2, classes: 2)
            let model = GaussianVAE(configuration: c)
            model.initialize(seed: 3)
            let x = randomTensor([1, 64], seed: 4, scale: 0.5), z = randomTensor([1, 2], seed: 5)
            func outputs(label: Int) -> ([Float], [Float]) {
                let y = Tensor(shape: [1, 2])
                y.pointer[label] = 1
                let condition = y.matrix(rows: 1, columns: 2)
                let q = model.encode(x.matrix(rows: 1, columns: 64), condition: condition).layers[0]
                let stats = q.mu.array(row: 0) + q.logVar.array(row: 0)
                return (stats, model.decode(z.matrix(rows: 1, columns: 2), condition: condition).array)
            }
            let (a, b) = (outputs(label: 0), outputs(label: 1))
            XCTAssertNotEqual(a.0, b.0, "\(architecture): encoder ignores the label")
            XCTAssertNotEqual(a.1, b.1, "\(architecture): decoder ignores the label")
        }
    }

    /// Conv bodies built from the shape: colour, odd and non-square sides
    /// (7x5 → 4x3 → 2x2 and back, output padding 0 on odd sides and 1 on
    /// even ones, per axis), and three stages. The decoder gives back the
    /// input's shape exactly, and the whole ELBO's gradient checks out.
    func testConvFromAnyShapeGradient() {
        let odd = ModelConfiguration(architecture: .conv, shape: ImageShape(channels: 3, height: 7, width: 5), hidden: [4], latent: 2,
                                     likelihood: .gaussian, activation: .tanh, convChannels: [2, 3])
        let three = ModelConfiguration(architecture: .conv, shape: ImageShape(channels: 1, height: 6, width: 8), hidden: [4], latent: 2,
                                       likelihood: .gaussian, activation: .tanh, classes: 2, convChannels: [2, 2, 3])
        for c in [odd, three] {
            let model = GaussianVAE(configuration: c)
            model.initialize(seed: 4)
            let z = randomTensor([2, 2], seed: 1)
            XCTAssertEqual(model.decode(z.matrix(rows: 2, columns: 2), condition: c.isConditional ? Tensor(shape: [2, 2]).matrix(rows: 2, columns: 2) : nil).columns,
                           c.inputSize, "\(c.summary): the decoder gives back the input's shape")
            check(c, beta: 1)
        }
    }

    func testConvStagesFollowConvChannels() {
        let model = GaussianVAE(configuration: ModelConfiguration(architecture: .conv, shape: ImageShape(channels: 3, height: 64, width: 64),
                                                                  hidden: [256], convChannels: [32, 64, 128]))
        let shapes = model.parameters.slots.map { "\($0.spec.name) \($0.spec.shape)" }
        XCTAssertEqual(shapes, [
            "encoder.conv0.weight [32, 3, 3, 3]", "encoder.conv0.bias [32]",
            "encoder.conv1.weight [64, 32, 3, 3]", "encoder.conv1.bias [64]",
            "encoder.conv2.weight [128, 64, 3, 3]", "encoder.conv2.bias [128]",
            "encoder.fc.weight [256, 8192]", "encoder.fc.bias [256]",
            "mu.weight [20, 256]", "logvar.weight [20, 256]", "mu.bias [20]", "logvar.bias [20]",
            "decoder.fc.weight [8192, 20]", "decoder.fc.bias [8192]",
            "decoder.deconv0.weight [128, 64, 3, 3]", "decoder.deconv0.bias [64]",
            "decoder.deconv1.weight [64, 32, 3, 3]", "decoder.deconv1.bias [32]",
            "decoder.deconv2.weight [32, 3, 3, 3]", "decoder.deconv2.bias [3]",
        ])
        XCTAssertEqual(model.configuration.summary, "conv 64x64x3-c32-c64-c128-256-20")
    }

    func testConvParameterNamesAndShapesFollowTheReference() {
        let model = GaussianVAE(configuration: ModelConfiguration(architecture: .conv, hidden: [256]))
        let shapes = model.parameters.slots.map { "\($0.spec.name) \($0.spec.shape)" }
        XCTAssertEqual(shapes, [
            "encoder.conv0.weight [32, 1, 3, 3]", "encoder.conv0.bias [32]",
            "encoder.conv1.weight [64, 32, 3, 3]", "encoder.conv1.bias [64]",
            "encoder.fc.weight [256, 3136]", "encoder.fc.bias [256]",
            "mu.weight [20, 256]", "logvar.weight [20, 256]", "mu.bias [20]", "logvar.bias [20]",
            "decoder.fc.weight [3136, 20]", "decoder.fc.bias [3136]",
            "decoder.deconv0.weight [64, 32, 3, 3]", "decoder.deconv0.bias [32]",
            "decoder.deconv1.weight [32, 1, 3, 3]", "decoder.deconv1.bias [1]",
        ])
        // conv0 + conv1 + fc + two heads + decoder fc + deconv0 + deconv1, as torch counts them.
        XCTAssertEqual(model.parameters.count, 320 + 18_496 + 803_072 + 2 * 5_140 + 65_856 + 18_464 + 289)
    }

    func testConditionalLayersWiden() {
        let mlp = GaussianVAE(configuration: ModelConfiguration(classes: 10)).parameters
        XCTAssertEqual(mlp.slot("encoder.0.weight").spec.shape, [512, 794])
        XCTAssertEqual(mlp.slot("decoder.0.weight").spec.shape, [256, 30])
        let conv = GaussianVAE(configuration: ModelConfiguration(architecture: .conv, hidden: [256], classes: 10)).parameters
        XCTAssertEqual(conv.slot("encoder.fc.weight").spec.shape, [256, 3146])
        XCTAssertEqual(conv.slot("decoder.fc.weight").spec.shape, [3136, 30])
        XCTAssertEqual(conv.slot("encoder.conv0.weight").spec.shape, [32, 1, 3, 3])
    }

    func testParameterNamesFollowPyTorch() {
        let model = GaussianVAE(configuration: ModelConfiguration())
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
