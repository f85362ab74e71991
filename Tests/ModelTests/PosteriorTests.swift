import Foundation
import VAEEngine
import VAEModels
import XCTest

/// The Gaussian posterior: its KLs, its draws and their gradients.
final class PosteriorTests: XCTestCase {
    /// Columns [a, b) of a (rows, columns) tensor as a slice.
    func slice(_ t: Tensor, rows: Int, columns: Int, _ range: Range<Int>) -> ColumnSlice {
        ColumnSlice(t.matrix(rows: rows, columns: columns), columns: range)
    }

    func testKLToStandardNormalKnownValues() {
        // KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1 − log σ²) per dimension.
        let stats = Tensor(shape: [2, 4], values: [0, 0, 0, 0,                         // μ = 0, σ² = 1: KL 0
                                                   1, 2, 0, Foundation.log(4)])        // μ = (1, 2), σ² = (1, 4)
        let kl = GaussianKL()
        let perRow = kl.forward(DiagonalGaussian(packed: stats.matrix(rows: 2, columns: 4))).array
        XCTAssertEqual(perRow[0], 0, accuracy: 1e-7)
        let expected = 0.5 * (1 + 1 - 1 - 0) + 0.5 * (4 + 4 - 1 - Foundation.log(4.0))
        XCTAssertEqual(Double(perRow[1]), expected, accuracy: 1e-5)
    }

    /// KL(q ‖ p) between two diagonal Gaussians: zero for q = p, the
    /// standard-normal formula for p = N(0, I), and a value worked by hand.
    func testKLBetweenTwoGaussiansKnownValues() {
        // Row 0: q = p. Row 1: q = N((1, 0), (1, 4)), p = N((0, 1), (2, 1)):
        // ½ [(log 2 − 0 + (1 + 1)/2 − 1) + (0 − log 4 + (4 + 1)/1 − 1)].
        let v = Tensor(shape: [2, 8], values: [0.5, -1, 0.3, 0.2, 0.5, -1, 0.3, 0.2,
                                               1, 0, 0, Foundation.log(4), 0, 1, Foundation.log(2), 0])
        let q = DiagonalGaussian(mu: slice(v, rows: 2, columns: 8, 0..<2), logVar: slice(v, rows: 2, columns: 8, 2..<4))
        let p = DiagonalGaussian(mu: slice(v, rows: 2, columns: 8, 4..<6), logVar: slice(v, rows: 2, columns: 8, 6..<8))
        let kl = GaussianKL()   // kept: its result is a view of its buffer
        let perRow = kl.forward(q, to: p).array
        XCTAssertEqual(perRow[0], 0, accuracy: 1e-6)
        let expected = 0.5 * ((Foundation.log(2.0) + 1 - 1) + (-Foundation.log(4.0) + 5 - 1))
        XCTAssertEqual(Double(perRow[1]), expected, accuracy: 1e-5)
        // Against N(0, I) spelled out as p, the closed forms agree.
        let standard = Tensor(shape: [2, 4])
        let zero = DiagonalGaussian(packed: standard.matrix(rows: 2, columns: 4))
        let general = kl.forward(q, to: zero).array, special = kl.forward(q).array
        for r in 0..<2 { XCTAssertEqual(general[r], special[r], accuracy: 1e-5) }
    }

    func testKLToStandardNormalGradient() {
        let (batch, k) = (3, 5)
        let stats = randomTensor([batch, 2 * k], seed: 41, scale: 1.5)
        let kl = GaussianKL()
        let q = DiagonalGaussian(packed: stats.matrix(rows: batch, columns: 2 * k))
        let beta: Float = 2.5
        let f = { Double(beta) * kl.forward(q).array.reduce(0) { $0 + Double($1) } }
        _ = f()
        let dStats = Tensor(shape: [batch, 2 * k])
        kl.backward(weight: beta, into: DiagonalGaussian(packed: dStats.matrix(rows: batch, columns: 2 * k)))
        checkGradient("β·KL(q ‖ N(0, I)) d[μ | log σ²]", values: stats.pointer, count: stats.count, analytic: dStats.array,
                      tolerance: Tolerance(h: 1e-3, rtol: 1e-2, atol: 1e-3), loss: f)
    }

    /// ∂KL(q ‖ p) with respect to all four of μ_q, log σ_q², μ_p, log σ_p².
    func testKLBetweenTwoGaussiansGradient() {
        let (batch, k) = (3, 4)
        let v = randomTensor([batch, 4 * k], seed: 42, scale: 1.2)
        func gaussians(_ t: Tensor) -> (DiagonalGaussian, DiagonalGaussian) {
            (DiagonalGaussian(mu: slice(t, rows: batch, columns: 4 * k, 0..<k), logVar: slice(t, rows: batch, columns: 4 * k, k..<(2 * k))),
             DiagonalGaussian(mu: slice(t, rows: batch, columns: 4 * k, (2 * k)..<(3 * k)),
                              logVar: slice(t, rows: batch, columns: 4 * k, (3 * k)..<(4 * k))))
        }
        let (q, p) = gaussians(v)
        let kl = GaussianKL()
        let beta: Float = 0.7
        let f = { Double(beta) * kl.forward(q, to: p).array.reduce(0) { $0 + Double($1) } }
        _ = f()
        let d = Tensor(shape: [batch, 4 * k])
        let (dQ, dP) = gaussians(d)
        kl.backward(weight: beta, into: dQ, prior: dP)
        checkGradient("β·KL(q ‖ p) d[μq | log σq² | μp | log σp²]", values: v.pointer, count: v.count, analytic: d.array,
                      tolerance: Tolerance(h: 1e-3, rtol: 1e-2, atol: 1e-3), loss: f)
    }

    /// log N(z; μ, σ²) written through ε matches the density at z, up to the
    /// constant −(k/2) log 2π that cancels in a log weight.
    func testLogDensityOfDrawsMatchesTheDensity() {
        let (batch, k, draws) = (2, 3, 4)
        let stats = randomTensor([batch, 2 * k], seed: 7)
        let eps = randomTensor([batch * draws, k], seed: 8, scale: 2)
        let q = DiagonalGaussian(packed: stats.matrix(rows: batch, columns: 2 * k))
        let em = eps.matrix(rows: batch * draws, columns: k)
        for r in 0..<(batch * draws) {
            let b = r / draws
            let z = (0..<k).map { q.mu[b, $0] + exp(0.5 * q.logVar[b, $0]) * em[r, $0] }
            let viaNoise = Double(q.logDensityOfDraws(noise: ColumnSlice(em, columns: 0..<k), draws: draws, row: r))
            let direct = z.withUnsafeBufferPointer { q.logDensity(of: $0.baseAddress!, row: b) }
            XCTAssertEqual(viaNoise - Double(k) / 2 * Foundation.log(2 * Double.pi), direct, accuracy: 1e-4)
        }
    }

    /// The heads, the draws and the divergence together: L = Σ_r w_r (p_r·z_r + β div_r)
    /// with the KL in closed form (one draw, w = 1) or sampled (three draws,
    /// unequal weights), against finite differences in the heads' parameters
    /// and in their input h.
    func testPosteriorGradients() {
        let (batch, width, k) = (2, 5, 3)
        for (estimate, draws) in [(DivergenceEstimate.closedForm, 1), (.sampled, 3)] {
            let store = ParameterStore(specs: GaussianPosterior.specs(inputSize: width, latent: k))
            let posterior = GaussianPosterior(store: store)
            var rng = RandomGenerator(seed: 3)
            posterior.initialize(using: &rng)
            let h = randomTensor([batch, width], seed: 4, scale: 2)
            let eps = randomTensor([batch * draws, k], seed: 5, scale: 1.5)
            let projection = Projection(count: batch * draws * k, seed: 6)
            let weights: [Float] = draws == 1 ? [1, 1] : [0.5, 0.2, 0.3, 0.1, 0.6, 0.3]
            let beta: Float = 1.5
            let hm = h.matrix(rows: batch, columns: width), em = eps.matrix(rows: batch * draws, columns: k)
            let loss = { () -> Double in
                let z = posterior.draw(posterior.encode(hm), noise: em, draws: draws)
                let divergence = posterior.divergence(estimate)
                var total = 0.0
                for r in 0..<z.rows {
                    var term = 0.0
                    for j in 0..<k { term += projection.weights[r * k + j] * Double(z[r, j]) }
                    total += Double(weights[r]) * (term + Double(beta) * Double(divergence[r, 0]))
                }
                return total
            }
            _ = loss()
            store.zeroGradients()
            // The reconstruction's gradient reaches z already weighted per draw.
            let dz = Tensor(shape: [batch * draws, k])
            for r in 0..<(batch * draws) { for j in 0..<k { dz.pointer[r * k + j] = weights[r] * Float(projection.weights[r * k + j]) } }
            let dh = weights.withUnsafeBufferPointer { w in
                posterior.backward(dz.matrix(rows: batch * draws, columns: k), drawWeights: draws == 1 ? nil : w.baseAddress,
                                   beta: beta, inputGradient: true).array
            }
            let tolerance = Tolerance(h: 1e-3, rtol: 1e-2, atol: 2e-3)
            for slot in store.slots {
                let analytic = Array(UnsafeBufferPointer(start: store.gradients.pointer + slot.offset, count: slot.spec.count))
                checkGradient("\(estimate) \(slot.spec.name)", values: store.values.pointer + slot.offset, count: slot.spec.count,
                              analytic: analytic, tolerance: tolerance, loss: loss)
            }
            checkGradient("\(estimate) dh", values: h.pointer, count: h.count, analytic: dh, tolerance: tolerance, loss: loss)
        }
    }

    /// The mean KL per dimension that `vae eval` reports, against the closed form.
    func testKLPerDimension() {
        let stats = Tensor(shape: [2, 4], values: [1, 0, 0, 0, 3, 0, Foundation.log(4), 0])
        var sums = [0.0, 0.0]
        DiagonalGaussian(packed: stats.matrix(rows: 2, columns: 4)).accumulateKLPerDimension(into: &sums, count: 2)
        // Dimension 0: ½(1 + 1 − 1 − 0) and ½(9 + 4 − 1 − log 4), averaged; dimension 1: 0.
        XCTAssertEqual(sums[0], (0.5 + 0.5 * (12 - Foundation.log(4.0))) / 2, accuracy: 1e-6)
        XCTAssertEqual(sums[1], 0, accuracy: 1e-9)
    }
}
