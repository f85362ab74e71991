import Foundation
import VAEData
import VAEEngine
import VAEModels
import XCTest

/// The two-layer and flow families: every new layer's backward and each
/// family's whole objective against finite differences.
final class FamilyTests: XCTestCase {
    /// The models here are smooth (tanh throughout), so a larger step keeps
    /// Float32's rounding (~1e-6 of a ~50-nat loss) well below the differences.
    let smooth = Tolerance(h: 1e-2, rtol: 2e-2, atol: 3e-3)

    func hierarchical(_ activation: ActivationKind = .tanh) -> ModelConfiguration {
        ModelConfiguration(family: .hierarchical, shape: ImageShape(height: 3, width: 4), hidden: [7, 6], latent: 4,
                           activation: activation, upperLayer: UpperLayer(latent: 3, hidden: [5]))
    }

    func flow(_ flow: Flow) -> ModelConfiguration {
        ModelConfiguration(family: .flow, shape: ImageShape(height: 3, width: 4), hidden: [7], latent: 3, activation: .tanh, flow: flow)
    }

    func testHierarchicalGradients() {
        for (kind, beta) in [(Objective.Kind.elbo, Float(1)), (.importanceWeighted(samples: 3), 0.8)] {
            let model = HierarchicalVAE(configuration: hierarchical())
            model.initialize(seed: 2)
            checkObjectiveGradient(model, kind, beta: beta, batch: 2, tolerance: smooth, maxChecks: 30)
        }
        // A second layer without hidden layers of its own.
        var c = hierarchical()
        c.upperLayer = UpperLayer(latent: 2, hidden: [])
        let model = HierarchicalVAE(configuration: c)
        model.initialize(seed: 3)
        checkObjectiveGradient(model, .elbo, beta: 1, batch: 2, tolerance: smooth, maxChecks: 30)
    }

    func testFlowGradients() {
        for f in [Flow.planar(steps: 3), .iaf(steps: 2)] {
            for kind in [Objective.Kind.elbo, .importanceWeighted(samples: 3)] {
                let model = FlowVAE(configuration: flow(f))
                model.initialize(seed: 4)
                // û = u + c·w/‖w‖² curves the loss sharply where w is small, as
                // where a planar model starts (a tenth of the default scale):
                // the steps' rows taken back to the default, and a smaller
                // step, keep the central difference's truncation error below
                // the tolerance.
                if case .planar = f { scaleFlowRows(of: model, by: 10) }
                checkObjectiveGradient(model, kind, beta: kind == .elbo ? 0.7 : 1, batch: 2, corruption: kind == .elbo ? .noise(0.2) : nil,
                                       tolerance: Tolerance(h: 1e-3, rtol: 2e-2, atol: 3e-3), maxChecks: 30)
            }
        }
    }

    /// Multiplies the head rows after μ's and log σ²'s (a planar flow's u, w, b) by `factor`.
    func scaleFlowRows(of model: FlowVAE, by factor: Float) {
        let weight = model.parameters.values("head.weight"), bias = model.parameters.values("head.bias")
        let first = 2 * model.configuration.latent
        for r in first..<weight.rows {
            bias.pointer[r] *= factor
            for j in 0..<weight.columns { weight[r, j] *= factor }
        }
    }

    /// A planar model's head gives the steps' u, w, b from rows started at a
    /// tenth of PyTorch's bound 1/√fan-in; μ's and log σ²'s rows keep it.
    func testPlanarStepsStartSmall() {
        let c = ModelConfiguration(family: .flow, hidden: [200, 200], latent: 50, activation: .tanh, flow: .planar(steps: 10))
        let model = FlowVAE(configuration: c)
        model.initialize(seed: 3)
        let weight = model.parameters.values("head.weight"), bias = model.parameters.values("head.bias")
        let bound = 1 / Float(200).squareRoot()
        func largest(_ rows: Range<Int>) -> Float {
            rows.map { r in max(abs(bias.pointer[r]), (0..<weight.columns).map { abs(weight[r, $0]) }.max()!) }.max()!
        }
        XCTAssertLessThanOrEqual(largest(100..<weight.rows), 0.1 * bound)
        XCTAssertGreaterThan(largest(0..<100), 0.5 * bound)
        XCTAssertEqual(weight.rows, 100 + 10 * 101)
    }

    /// `startAtMeanImage` sets the bias of the layer that gives the logits in
    /// every fully connected family: with every other weight zero the decoder
    /// then draws the mean image (clipped to [0.001, 0.999]) from any z. A
    /// conv decoder has no bias per pixel and is left alone.
    func testStartAtMeanImage() {
        let shape = ImageShape(height: 3, width: 4)
        let mean = (0..<shape.values).map { Double($0) / 11 }   // 0 and 1 at the ends, clipped
        let models: [any VariationalModel] = [
            GaussianVAE(configuration: ModelConfiguration(shape: shape, hidden: [5, 4], latent: 2)),
            HierarchicalVAE(configuration: hierarchical()),
            FlowVAE(configuration: flow(.planar(steps: 2))),
        ]
        for model in models {
            model.initialize(seed: 1)
            model.parameters.values.fill(0)
            XCTAssertTrue(model.startAtMeanImage(mean), model.configuration.summary)
            model.reserve(batchSize: 2)
            let z = Tensor(shape: [2, model.latentSize])
            for i in 0..<z.count { z.pointer[i] = Float(i) - 1.5 }
            let means = model.decodeMeans(z.matrix(rows: 2, columns: model.latentSize), condition: nil)
            for b in 0..<2 {
                for (j, m) in mean.enumerated() {
                    XCTAssertEqual(Double(means.row(b)[j]), min(max(m, 0.001), 0.999), accuracy: 1e-6, "\(model.configuration.summary) pixel \(j)")
                }
            }
        }
        let conv = GaussianVAE(configuration: ModelConfiguration(architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [8], latent: 3))
        XCTAssertNil(conv.pixelLogitBias)
        XCTAssertFalse(conv.startAtMeanImage([Double](repeating: 0.5, count: 64)))
        // 16 channels at 2x2 after two stride-2 stages: the fully connected layer's bias has the image's 64 values.
        let look = GaussianVAE(configuration: ModelConfiguration(architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [8], latent: 3,
                                                                 convChannels: [8, 16]))
        XCTAssert(look.parameters.slots.contains { $0.spec.name.hasPrefix("decoder.") && $0.spec.shape == [64] }, "\(look.parameters.names)")
        XCTAssertNil(look.pixelLogitBias)
    }

    /// Parameter names as torch_families.py's modules name them, so a
    /// checkpoint loads into its IWAE2 and Planar classes.
    func testNamesFollowTheTorchReference() {
        let c = ModelConfiguration(family: .hierarchical, hidden: [200, 200], latent: 100, activation: .tanh,
                                   upperLayer: UpperLayer(latent: 50, hidden: [100, 100]))
        XCTAssertEqual(HierarchicalVAE.parameterSpecs(c).map { "\($0.name) \($0.shape)" }, [
            "q1.body.0.weight [200, 784]", "q1.body.0.bias [200]", "q1.body.2.weight [200, 200]", "q1.body.2.bias [200]",
            "q1.head.weight [200, 200]", "q1.head.bias [200]",
            "q2.body.0.weight [100, 100]", "q2.body.0.bias [100]", "q2.body.2.weight [100, 100]", "q2.body.2.bias [100]",
            "q2.head.weight [100, 100]", "q2.head.bias [100]",
            "p1.body.0.weight [100, 50]", "p1.body.0.bias [100]", "p1.body.2.weight [100, 100]", "p1.body.2.bias [100]",
            "p1.head.weight [200, 100]", "p1.head.bias [200]",
            "px.0.weight [200, 100]", "px.0.bias [200]", "px.2.weight [200, 200]", "px.2.bias [200]",
            "px.4.weight [784, 200]", "px.4.bias [784]",
        ])
        let p = ModelConfiguration(family: .flow, hidden: [200, 200], latent: 50, activation: .tanh, flow: .planar(steps: 10))
        XCTAssertEqual(FlowVAE.parameterSpecs(p).map { "\($0.name) \($0.shape)" }, [
            "body.0.weight [200, 784]", "body.0.bias [200]", "body.2.weight [200, 200]", "body.2.bias [200]",
            "head.weight [1110, 200]", "head.bias [1110]",
            "px.0.weight [200, 50]", "px.0.bias [200]", "px.2.weight [200, 200]", "px.2.bias [200]",
            "px.4.weight [784, 200]", "px.4.bias [784]",
        ])
        XCTAssertEqual(c.summary, "mlp 784-200-200-100 / 100-100-50")
        XCTAssertEqual(p.summary, "mlp 784-200-200-50 + planar:10")
    }

    /// One planar step in isolation: z_K and Σ log|det| against finite
    /// differences in z_0 and the parameters, two draws per image.
    func testPlanarFlowBackward() {
        let (images, draws, k, steps) = (2, 2, 3, 2)
        let flow = PlanarFlow(steps: steps, latent: k)
        let params = randomTensor([images, PlanarFlow.parameterCount(steps: steps, latent: k)], seed: 1, scale: 1.2)
        let z0 = randomTensor([images * draws, k], seed: 2, scale: 1.5)
        let pz = Projection(count: images * draws * k, seed: 3), pd = Projection(count: images * draws, seed: 4)
        let paramView = ColumnSlice(params.matrix(rows: images, columns: params.count / images), columns: 0..<(params.count / images))
        let loss = { () -> Double in
            let (z, ld) = flow.forward(z0.matrix(rows: images * draws, columns: k), params: paramView, draws: draws)
            return pz.loss(z) + pd.loss(ld)
        }
        _ = loss()
        let dParams = Tensor(shape: [params.count])
        let dLd = pd.weights.map(Float.init)
        let dzK = pz.gradient(rows: images * draws, columns: k)   // kept alive: a Matrix only borrows
        let dz0 = withExtendedLifetime(dzK) {
            dLd.withUnsafeBufferPointer { d in
                flow.backward(dzK.matrix(rows: images * draws, columns: k), logDeterminantGradients: d.baseAddress!,
                              into: ColumnSlice(dParams.matrix(rows: images, columns: params.count / images),
                                                columns: 0..<(params.count / images))).array
            }
        }
        checkGradient("planar dz0", values: z0.pointer, count: z0.count, analytic: dz0, tolerance: smooth, loss: loss)
        checkGradient("planar dparams", values: params.pointer, count: params.count, analytic: dParams.array, tolerance: smooth, loss: loss)
    }

    /// Every step stays invertible: wᵀû ≥ −1, so 1 + h' wᵀû > 0, whatever u and w.
    func testPlanarStepsStayInvertible() {
        let (k, steps) = (4, 8)
        let flow = PlanarFlow(steps: steps, latent: k)
        let params = randomTensor([1, PlanarFlow.parameterCount(steps: steps, latent: k)], seed: 9, scale: 5)
        let z0 = randomTensor([16, k], seed: 10, scale: 3)
        let view = ColumnSlice(params.matrix(rows: 1, columns: params.count), columns: 0..<params.count)
        let (_, ld) = flow.forward(z0.matrix(rows: 16, columns: k), params: view, draws: 16)
        XCTAssert(ld.array.allSatisfy { $0.isFinite && $0 > -40 }, "\(ld.array)")
    }

    /// IAF in isolation: the gradient, and MADE's autoregressive property —
    /// z_K's j-th value moves with z_0's i-th only for i ≤ j in the order,
    /// and Σ log|det| is the log-determinant of the Jacobian.
    func testInverseAutoregressiveFlow() throws {
        let (images, draws, k, contextSize) = (2, 2, 3, 4)
        let specs = InverseAutoregressiveFlow.specs(prefix: "iaf", steps: 1, latent: k, contextSize: contextSize)
        let store = ParameterStore(specs: specs)
        let flow = InverseAutoregressiveFlow(prefix: "iaf", store: store, steps: 1, latent: k, activation: .tanh)
        var rng = RandomGenerator(seed: 5)
        flow.initialize(using: &rng)
        let z0 = randomTensor([images * draws, k], seed: 6, scale: 1.5), h = randomTensor([images, contextSize], seed: 7)
        let pz = Projection(count: images * draws * k, seed: 8), pd = Projection(count: images * draws, seed: 9)
        let loss = { () -> Double in
            let (z, ld) = flow.forward(z0.matrix(rows: images * draws, columns: k), context: h.matrix(rows: images, columns: contextSize), draws: draws)
            return pz.loss(z) + pd.loss(ld)
        }
        _ = loss()
        store.zeroGradients()
        let dLd = pd.weights.map(Float.init)
        let dzK = pz.gradient(rows: images * draws, columns: k)   // kept alive: a Matrix only borrows
        let (dz0Values, dhValues) = withExtendedLifetime(dzK) {
            dLd.withUnsafeBufferPointer { d in
                let (dz0, dh) = flow.backward(dzK.matrix(rows: images * draws, columns: k), logDeterminantGradients: d.baseAddress!)
                return (dz0.array, dh.array)
            }
        }
        checkGradient("iaf dz0", values: z0.pointer, count: z0.count, analytic: dz0Values, tolerance: smooth, loss: loss)
        checkGradient("iaf dh", values: h.pointer, count: h.count, analytic: dhValues, tolerance: smooth, loss: loss)
        for slot in store.slots {
            let analytic = Array(UnsafeBufferPointer(start: store.gradients.pointer + slot.offset, count: slot.spec.count))
            checkGradient("iaf \(slot.spec.name)", values: store.values.pointer + slot.offset, count: slot.spec.count,
                          analytic: analytic, tolerance: smooth, loss: loss)
        }
        // The Jacobian of one row, by differences: lower triangular (the first step's order is natural).
        let row = 0, step: Float = 1e-2
        func zK() -> [Float] {
            let (z, _) = flow.forward(z0.matrix(rows: images * draws, columns: k), context: h.matrix(rows: images, columns: contextSize), draws: draws)
            return Array(z.array[(row * k)..<((row + 1) * k)])
        }
        var jacobian = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<k {
            let saved = z0.pointer[row * k + i]
            z0.pointer[row * k + i] = saved + step; let plus = zK()
            z0.pointer[row * k + i] = saved - step; let minus = zK()
            z0.pointer[row * k + i] = saved
            for j in 0..<k { jacobian[j][i] = Double(plus[j] - minus[j]) / Double(2 * step) }
        }
        for j in 0..<k { for i in (j + 1)..<k { XCTAssertEqual(jacobian[j][i], 0, accuracy: 1e-6, "z_K[\(j)] depends on z_0[\(i)]") } }
        let (_, ld) = flow.forward(z0.matrix(rows: images * draws, columns: k), context: h.matrix(rows: images, columns: contextSize), draws: draws)
        let logDiagonal = (0..<k).reduce(0.0) { $0 + log(abs(jacobian[$1][$1])) }
        XCTAssertEqual(Double(ld[row, 0]), logDiagonal, accuracy: 1e-3, "Σ log σ is log |det J|")
    }

    /// A masked layer's weight gradient is zero where its mask is.
    func testMaskedLinearBackward() {
        let store = ParameterStore(specs: Linear.specs(name: "m", inputSize: 3, outputSize: 2))
        let mask: [Float] = [1, 0, 1, 0, 1, 1]
        let layer = MaskedLinear(name: "m", store: store, mask: mask)
        var rng = RandomGenerator(seed: 1)
        layer.initialize(using: &rng)
        XCTAssertEqual(store.values.pointer[1], 0)
        store.values.pointer[1] = 5   // a checkpoint's stray value in a masked place has no effect
        let x = randomTensor([4, 3], seed: 2), projection = Projection(count: 8, seed: 3)
        let loss = { projection.loss(layer.forward(x.matrix(rows: 4, columns: 3))) }
        _ = loss()
        store.zeroGradients()
        let dy = projection.gradient(rows: 4, columns: 2)
        let dx = withExtendedLifetime(dy) { layer.backward(dy.matrix(rows: 4, columns: 2)).array }
        XCTAssertEqual(store.gradients.pointer[1], 0)
        XCTAssertEqual(store.gradients.pointer[3], 0)
        checkGradient("masked dx", values: x.pointer, count: 12, analytic: dx, tolerance: Tolerance(h: 1e-2, rtol: 1e-3, atol: 1e-4), loss: loss)
        checkGradient("masked dW", values: store.values.pointer, count: store.count,
                      analytic: store.gradients.array, tolerance: Tolerance(h: 1e-2, rtol: 1e-3, atol: 1e-4), loss: loss)
    }
}
