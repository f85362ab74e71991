import Foundation
import VAEData
import VAEEngine
import VAEModels
import XCTest

/// The VQ-VAE's quantiser and its PixelCNN prior: gradients against finite
/// differences, the masks' causality, and sampling's determinism.
final class VQTests: XCTestCase {
    func small(ema: Double? = nil, prior: CodePrior? = nil) -> ModelConfiguration {
        ModelConfiguration(family: .vq, architecture: .conv, shape: ImageShape(height: 8, width: 8), hidden: [], latent: 3,
                           convChannels: [4, 5], quantiser: Quantiser(codes: 6, dimensions: 3, emaDecay: ema), codePrior: prior)
    }

    /// The straight-through path: dL/dz_e is the decoder's dL/dz_q plus the
    /// commitment's gradient, and the codebook's gradient is the codebook
    /// loss's; both parts against finite differences of the quantiser's own d.
    func testQuantiserStraightThrough() {
        let store = ParameterStore(specs: VectorQuantiser.specs(codes: 5, dimensions: 3, movingAverage: false))
        let quantiser = VectorQuantiser(store: store, positions: 4, commitment: 0.25, emaDecay: nil)
        var rng = RandomGenerator(seed: 3)
        for i in 0..<store.count { store.values.pointer[i] = rng.uniform(-1, 1) }
        let ze = randomTensor([2, 12], seed: 4)
        let z = ze.matrix(rows: 2, columns: 12)
        _ = quantiser.quantise(z)
        let d0 = (0..<2).map { Double(quantiser.perImage.pointer[$0]) }
        let codes = Array(quantiser.lastCodes)
        XCTAssertEqual(d0.count, 2)
        let r = Projection(count: 24, seed: 5)
        let dzq = r.gradient(rows: 2, columns: 12)
        let dze = quantiser.backward(dzq.matrix(rows: 2, columns: 12), termWeights: nil)
        // d(β·d)/dz_e by differences, plus the straight-through r.
        let commitmentPart = (0..<24).map { dze.pointer[$0] - dzq.pointer[$0] }
        let betaD: () -> Double = {
            _ = quantiser.quantise(z)
            return 0.25 * (0..<2).reduce(0.0) { $0 + Double(quantiser.perImage.pointer[$1]) }
        }
        checkGradient("quantiser dz_e − dz_q", values: ze.pointer, count: 24, analytic: commitmentPart,
                      tolerance: Tolerance(h: 1e-3, rtol: 1e-2, atol: 1e-3), loss: betaD)
        // The codebook's gradient is that of d itself (weight 1).
        let analytic = Array(store.gradients.buffer)
        let d: () -> Double = {
            _ = quantiser.quantise(z)
            return (0..<2).reduce(0.0) { $0 + Double(quantiser.perImage.pointer[$1]) }
        }
        checkGradient("codebook", values: store.values.pointer, count: 15, analytic: analytic,
                      tolerance: Tolerance(h: 1e-3, rtol: 1e-2, atol: 1e-3), loss: d)
        _ = quantiser.quantise(z)
        XCTAssertEqual(Array(quantiser.lastCodes), codes, "small steps keep the codes")
        // Each code is the nearest: no other is closer to its vector.
        let book = store.values.pointer
        for (r, code) in codes.enumerated() {
            let (b, p) = (r / 4, r % 4)
            func distance(_ j: Int) -> Float { (0..<3).reduce(0) { s, k in let v = z[b, k * 4 + p] - book[j * 3 + k]; return s + v * v } }
            for j in 0..<5 { XCTAssertLessThanOrEqual(distance(Int(code)), distance(j)) }
        }
    }

    /// The decoder and likelihood get exact gradients of the whole objective
    /// (the codes do not move under small steps).
    func testDecoderGradients() {
        let model = VQVAE(configuration: small())
        model.initialize(seed: 2)
        checkObjectiveGradient(model, .elbo, beta: 1, batch: 2, tolerance: Tolerance(h: 1e-3, rtol: 2e-2, atol: 3e-3),
                               maxChecks: 30, only: { $0.hasPrefix("dec.") })
    }

    /// The moving-average codebook follows the vectors assigned to it, and a
    /// dead code restarts at a vector of the batch.
    func testMovingAverageCodebook() {
        let model = VQVAE(configuration: small(ema: 0.5))
        model.initialize(seed: 1)
        let x = randomTensor([4, 64], seed: 2, scale: 0.5)
        for i in 0..<x.count { x.pointer[i] += 0.5 }
        let before = Array(model.parameters.values("codebook.weight").buffer)
        for _ in 0..<8 {
            _ = model.forward(Batch(input: x.matrix(rows: 4, columns: 64)), noise: Matrix(x.pointer, rows: 4, columns: 0), draws: 1,
                              estimate: .closedForm, training: true)
            model.backward(drawWeights: nil, beta: 1)
        }
        let after = Array(model.parameters.values("codebook.weight").buffer)
        XCTAssertNotEqual(before, after)
        XCTAssertEqual(Array(model.parameters.gradients("codebook.weight").buffer), [Float](repeating: 0, count: 18),
                       "no gradient reaches a moving-average codebook")
        let counts = model.parameters.values("codebook.ema_count").buffer
        XCTAssertTrue(counts.allSatisfy { $0 >= 0.5 }, "no code left dead: \(Array(counts))")
    }

    /// A small prior, and the store its layers view (which must outlive it).
    func prior(codes: Int = 5, channels: Int = 4, blocks: Int = 2, side: Int = 4, inputKernel: Int = 7) -> (PixelCNN, ParameterStore) {
        let shape = CodePrior(channels: channels, blocks: blocks, inputKernel: inputKernel)
        let store = ParameterStore(specs: PixelCNN.specs(prefix: "prior", codes: codes, shape: shape))
        let prior = PixelCNN(store: store, prefix: "prior", codes: codes, shape: shape, height: side, width: side)
        var rng = RandomGenerator(seed: 7)
        prior.initialize(using: &rng)
        return (prior, store)
    }

    func randomGrid(_ count: Int, codes: Int, seed: UInt64) -> [Int32] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Int32(rng.integer(below: codes)) }
    }

    /// Every prior parameter's gradient of the summed cross-entropy, also
    /// with units dropped (the same ones in every pass: the same step), on
    /// 4x4 grids and on 3x3 ones (9 positions: a block of eight and one more).
    func testPixelCNNGradients() {
        for (classes, rate, kernel, side) in [(0, Float(0), 7, 4), (3, 0, 7, 4), (3, 0.3, 7, 4), (0, 0, 3, 4), (3, 0.3, 9, 4), (0, 0, 3, 3)] {
            let dropout = rate > 0 ? PriorDropout(rate: rate, seed: 9, step: 4) : nil
            let grid = randomGrid(2 * side * side, codes: 5, seed: 3)
            let labels: [Int32]? = classes > 0 ? [2, 0] : nil
            var nats = [Double](repeating: 0, count: 2)
            let shape = CodePrior(channels: 4, blocks: 2, inputKernel: kernel)
            let store = ParameterStore(specs: PixelCNN.specs(prefix: "prior", codes: 5, shape: shape, classes: classes))
            let checked = PixelCNN(store: store, prefix: "prior", codes: 5, shape: shape, height: side, width: side, classes: classes)
            var rng = RandomGenerator(seed: 7)
            checked.initialize(using: &rng)
            func pass(gradient: Bool) -> Double {
                grid.withUnsafeBufferPointer { g in
                    let logits = checked.forward(g.baseAddress!, images: 2, labels: labels, dropout: dropout)
                    nats.withUnsafeMutableBufferPointer {
                        checked.crossEntropy(logits, codes: g.baseAddress!, perImage: $0.baseAddress!, gradientScale: gradient ? 1 : nil)
                    }
                }
                return nats.reduce(0, +)
            }
            _ = pass(gradient: true)
            checked.backward()
            for slot in store.slots {
                let analytic = Array(UnsafeBufferPointer(start: store.gradients.pointer + slot.offset, count: slot.spec.count))
                checkGradient("PixelCNN \(slot.spec.name), dropout \(rate), first kernel \(kernel)", values: store.values.pointer + slot.offset, count: slot.spec.count,
                              analytic: analytic, tolerance: Tolerance(h: 1e-3, rtol: 2e-2, atol: 2e-3), maxChecks: 40,
                              loss: { pass(gradient: false) })
            }
            if classes > 0 {
                // The class that is not in the batch gets no gradient; the others do.
                let d = store.gradients("prior.cond.weight")
                XCTAssert((0..<4).allSatisfy { d[$0, 1] == 0 } && (0..<4).contains { d[$0, 2] != 0 })
            }
        }
    }

    /// The cross-entropy against log Σ_j e^(l_j) − l_code summed in Double,
    /// on grids of 9, 4 and 16 positions (with and without a short block).
    func testCrossEntropyAgainstTheSoftmax() {
        for side in [3, 2, 4] {
            let P = side * side, K = 6, images = 3
            let shape = CodePrior(channels: 4, blocks: 1, inputKernel: 3)
            let store = ParameterStore(specs: PixelCNN.specs(prefix: "prior", codes: K, shape: shape, classes: 0))
            let pixelCNN = PixelCNN(store: store, prefix: "prior", codes: K, shape: shape, height: side, width: side, classes: 0)
            var rng = RandomGenerator(seed: 12)
            pixelCNN.initialize(using: &rng)
            for i in 0..<store.values.count { store.values.pointer[i] *= 8 }   // logits well apart
            let grid = randomGrid(images * P, codes: K, seed: 5)
            var nats = [Double](repeating: 0, count: images)
            grid.withUnsafeBufferPointer { g in
                let logits = pixelCNN.forward(g.baseAddress!, images: images)
                nats.withUnsafeMutableBufferPointer { pixelCNN.crossEntropy(logits, codes: g.baseAddress!, perImage: $0.baseAddress!) }
                for b in 0..<images {
                    var expected = 0.0
                    for p in 0..<P {
                        let l = (0..<K).map { Double(logits[b, $0 * P + p]) }, m = l.max()!
                        expected += m + log(l.reduce(0) { $0 + exp($1 - m) }) - l[Int(grid[b * P + p])]
                    }
                    XCTAssertEqual(nats[b], expected, accuracy: 1e-5 * max(1, abs(expected)), "\(side)x\(side), image \(b)")
                }
            }
        }
    }

    /// Dropout is fixed by the seed and step, differs between steps, and a
    /// rate of 0 is no dropout.
    func testDropoutIsSeeded() {
        let (pixelCNN, store) = prior(channels: 8, blocks: 2)
        defer { withExtendedLifetime(store) {} }
        let grid = randomGrid(3 * 16, codes: 5, seed: 1)
        func logits(_ dropout: PriorDropout?) -> [Float] {
            grid.withUnsafeBufferPointer { g in
                let m = pixelCNN.forward(g.baseAddress!, images: 3, dropout: dropout)
                return Array(UnsafeBufferPointer(start: m.pointer, count: m.count))
            }
        }
        let plain = logits(nil), a = logits(PriorDropout(rate: 0.5, seed: 2, step: 7))
        XCTAssertEqual(a, logits(PriorDropout(rate: 0.5, seed: 2, step: 7)))
        XCTAssertNotEqual(a, logits(PriorDropout(rate: 0.5, seed: 2, step: 8)))
        XCTAssertNotEqual(a, plain)
        XCTAssertEqual(plain, logits(PriorDropout(rate: 0, seed: 2, step: 7)))
    }

    /// Changing the code at position p leaves the logits of positions ≤ p
    /// bit-identical, and reaches some later position (all but the last).
    /// (Not necessarily the next: a masked PixelCNN has a blind spot, and the
    /// first position of a row cannot see the end of the row above.) A first
    /// kernel of 2·side − 1 has none: every later position sees it.
    func testMasksAreCausal() {
        for kernel in [3, 7, 9] {
            let (pixelCNN, store) = prior(channels: 8, side: 5, inputKernel: kernel)
            defer { withExtendedLifetime(store) {} }
            let P = 25
            let grid = randomGrid(P, codes: 5, seed: 11)
            func logits(_ g: [Int32]) -> [Float] {
                g.withUnsafeBufferPointer { Array(pixelCNN.forward($0.baseAddress!, images: 1).buffer) }
            }
            let base = logits(grid)
            var unseen = 0   // (p, q > p) where q does not see p
            for p in 0..<P {
                var changed = grid
                changed[p] = (changed[p] + 1) % 5
                let after = logits(changed)
                for q in 0...p {
                    for k in 0..<5 {
                        XCTAssertEqual(after[k * P + q].bitPattern, base[k * P + q].bitPattern, "kernel \(kernel): position \(q) saw the code at \(p)")
                    }
                }
                let seen = ((p + 1)..<P).filter { q in (0..<5).contains { after[$0 * P + q] != base[$0 * P + q] } }
                if p + 1 < P { XCTAssertFalse(seen.isEmpty, "kernel \(kernel): no position sees the code at \(p)") }
                unseen += P - 1 - p - seen.count
            }
            if kernel == 9 {
                XCTAssertEqual(unseen, 0, "a 9x9 first layer on a 5x5 grid leaves no blind spot")
            } else {
                XCTAssertGreaterThan(unseen, 0, "a \(kernel)x\(kernel) first layer on a 5x5 grid has a blind spot")
            }
        }
    }

    /// The walk's logits at each position are `forward`'s on the same grid
    /// (up to the order of float sums), on a grid wider than tall, with and
    /// without classes; it visits the positions from `first` on, in order.
    func testWalkMatchesForward() {
        for (classes, kernel) in [(0, 7), (3, 7), (3, 9)] {
            let shape = CodePrior(channels: 4, blocks: 2, inputKernel: kernel)
            let store = ParameterStore(specs: PixelCNN.specs(prefix: "prior", codes: 5, shape: shape, classes: classes))
            defer { withExtendedLifetime(store) {} }
            let pixelCNN = PixelCNN(store: store, prefix: "prior", codes: 5, shape: shape, height: 4, width: 5, classes: classes)
            var rng = RandomGenerator(seed: 7)
            pixelCNN.initialize(using: &rng)
            let P = 20, images = 3
            var grid = randomGrid(images * P, codes: 5, seed: 5)
            let labels: [Int32]? = classes > 0 ? [2, 0, 1] : nil
            let full = grid.withUnsafeBufferPointer { Array(pixelCNN.forward($0.baseAddress!, images: images, labels: labels).buffer) }
            var visited: [Int] = []
            grid.withUnsafeMutableBufferPointer { g in
                pixelCNN.walk(g.baseAddress!, images: images, labels: labels, from: 2) { p, logits in
                    visited.append(p)
                    for b in 0..<images {
                        for k in 0..<5 {
                            let expected = full[b * 5 * P + k * P + p]
                            XCTAssertEqual(logits[b, k], expected, accuracy: 1e-5 * max(1, abs(expected)), "image \(b), code \(k), position \(p)")
                        }
                    }
                }
            }
            XCTAssertEqual(visited, Array(2..<P))
        }
    }

    /// Sampling draws what the definition draws: at each position, a whole
    /// forward pass over the grid so far and a draw from that position's
    /// softmax (the same uniforms in the same order), also for a completion.
    func testSamplingFollowsTheFullForwardPass() {
        let (pixelCNN, store) = prior(side: 4)
        defer { withExtendedLifetime(store) {} }
        let P = 16, count = 9, temperature: Float = 0.8
        let given = randomGrid(count * P, codes: 5, seed: 21)
        for kept in [0, 6] {
            var reference = kept == 0 ? [Int32](repeating: 0, count: count * P) : given
            var rng = RandomGenerator(seed: 4)
            for p in kept..<P {
                let logits = reference.withUnsafeBufferPointer { Array(pixelCNN.forward($0.baseAddress!, images: count).buffer) }
                for b in 0..<count {
                    let scaled = (0..<5).map { Double(logits[b * 5 * P + $0 * P + p]) / Double(temperature) }
                    let m = scaled.max()!, weights = scaled.map { exp($0 - m) }
                    var u = Double(rng.uniform()) * weights.reduce(0, +), code = 4
                    for j in 0..<5 {
                        u -= weights[j]
                        if u < 0 { code = j; break }
                    }
                    reference[b * P + p] = Int32(code)
                }
            }
            var drawn = RandomGenerator(seed: 4)
            let walked = pixelCNN.sample(count: count, temperature: temperature, rng: &drawn, given: kept == 0 ? nil : given, kept: kept)
            XCTAssertEqual(walked, reference, "kept \(kept)")
            for b in 0..<count where kept > 0 {
                XCTAssertEqual(Array(walked[(b * P)..<(b * P + kept)]), Array(given[(b * P)..<(b * P + kept)]), "image \(b)'s kept codes")
            }
        }
    }

    func testSamplingIsDeterministic() {
        let (pixelCNN, store) = prior()
        defer { withExtendedLifetime(store) {} }
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9), c = RandomGenerator(seed: 10)
        let first = pixelCNN.sample(count: 6, temperature: 1, rng: &a)
        XCTAssertEqual(first, pixelCNN.sample(count: 6, temperature: 1, rng: &b))
        XCTAssertNotEqual(first, pixelCNN.sample(count: 6, temperature: 1, rng: &c))
        XCTAssertTrue(first.allSatisfy { (0..<5).contains($0) })
    }

    /// The prior's first kernel is kept in the metadata; a checkpoint from
    /// before it had one reads as 7, and an even or oversized one is refused.
    func testPriorKernelIsKeptInTheMetadata() throws {
        let c = ModelConfiguration(family: .vq, architecture: .conv, hidden: [], latent: 16,
                                   quantiser: Quantiser(codes: 128, dimensions: 16), codePrior: CodePrior(channels: 8, blocks: 1, inputKernel: 13))
        var metadata = c.metadata
        XCTAssertEqual(metadata["prior_kernel"], "13")
        XCTAssertEqual(try ModelConfiguration(metadata: metadata), c)
        XCTAssertEqual(VQVAE.parameterSpecs(c).first { $0.name == "prior.inp.weight" }?.shape, [8, 128, 13, 13])
        metadata["prior_kernel"] = nil
        XCTAssertEqual(try ModelConfiguration(metadata: metadata).codePrior?.inputKernel, 7)
        for bad in ["8", "33", "x"] {
            metadata["prior_kernel"] = bad
            XCTAssertThrowsError(try ModelConfiguration(metadata: metadata), bad)
        }
    }

    func testNamesFollowTheTorchReference() {
        let c = ModelConfiguration(family: .vq, architecture: .conv, hidden: [], latent: 16,
                                   quantiser: Quantiser(codes: 128, dimensions: 16), codePrior: CodePrior())
        XCTAssertEqual(VQVAE.parameterSpecs(c).map { "\($0.name) \($0.shape)" }, [
            "enc.0.weight [32, 1, 3, 3]", "enc.0.bias [32]", "enc.2.weight [64, 32, 3, 3]", "enc.2.bias [64]",
            "enc.4.weight [16, 64, 1, 1]", "enc.4.bias [16]", "codebook.weight [128, 16]",
            "dec.0.weight [16, 64, 3, 3]", "dec.0.bias [64]", "dec.2.weight [64, 32, 3, 3]", "dec.2.bias [32]",
            "dec.4.weight [1, 32, 3, 3]", "dec.4.bias [1]",
            "prior.inp.weight [128, 128, 7, 7]", "prior.inp.bias [128]",
            "prior.blocks.0.weight [128, 128, 3, 3]", "prior.blocks.0.bias [128]",
            "prior.blocks.1.weight [128, 128, 3, 3]", "prior.blocks.1.bias [128]",
            "prior.blocks.2.weight [128, 128, 3, 3]", "prior.blocks.2.bias [128]",
            "prior.blocks.3.weight [128, 128, 3, 3]", "prior.blocks.3.bias [128]",
            "prior.out.1.weight [128, 128, 1, 1]", "prior.out.1.bias [128]", "prior.out.3.weight [128, 128, 1, 1]", "prior.out.3.bias [128]",
        ])
    }
}
