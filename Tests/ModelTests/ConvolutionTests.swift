import VAEEngine
import VAEModels
import XCTest

/// Conv2d and ConvTranspose2d against naive loops (the definition, straight
/// from PyTorch's documentation), and their backward passes against finite differences.
final class ConvolutionTests: XCTestCase {
    struct Case { let cin, cout, h, w, k, stride, padding, outputPadding: Int }

    // Shapes of the convolutional VAE (scaled down) and some awkward ones.
    // Both ways of computing the weight gradient are covered: sgemm, and
    // NarrowProducts for ≤ 16 taps (Conv2d cases 0, 2, 3; ConvTranspose2d 2–5, 7 and 11).
    let cases = [
        Case(cin: 1, cout: 3, h: 6, w: 6, k: 3, stride: 2, padding: 1, outputPadding: 1),
        Case(cin: 2, cout: 2, h: 5, w: 7, k: 3, stride: 1, padding: 0, outputPadding: 0),
        Case(cin: 3, cout: 2, h: 7, w: 5, k: 2, stride: 2, padding: 1, outputPadding: 1),
        Case(cin: 2, cout: 4, h: 4, w: 4, k: 1, stride: 1, padding: 0, outputPadding: 0),
        Case(cin: 3, cout: 1, h: 5, w: 4, k: 3, stride: 2, padding: 1, outputPadding: 1),   // the last layer's shape
        // Same-size convolutions to few channels go the direct way (no im2col): the VQ-VAE's last layer.
        Case(cin: 3, cout: 1, h: 5, w: 6, k: 3, stride: 1, padding: 1, outputPadding: 0),
        Case(cin: 2, cout: 2, h: 4, w: 3, k: 5, stride: 1, padding: 2, outputPadding: 0),
        // Rows longer than a block of 32 columns, and not whole lanes.
        Case(cin: 2, cout: 1, h: 3, w: 37, k: 3, stride: 1, padding: 1, outputPadding: 0),
        Case(cin: 3, cout: 3, h: 4, w: 11, k: 3, stride: 1, padding: 1, outputPadding: 0),
        // Image by image (Conv2d cases 1, 4 and these): a doubling geometry and a same-size one to more channels.
        Case(cin: 2, cout: 5, h: 6, w: 8, k: 3, stride: 2, padding: 1, outputPadding: 1),
        Case(cin: 2, cout: 5, h: 4, w: 5, k: 3, stride: 1, padding: 1, outputPadding: 0),
        // A 1x1 convolution whose columns are the image itself (the PixelCNN's and the VQ-VAE's projections).
        Case(cin: 17, cout: 5, h: 3, w: 4, k: 1, stride: 1, padding: 0, outputPadding: 0),
    ]

    func fill(_ p: UnsafeMutablePointer<Float>, _ n: Int, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for i in 0..<n { p[i] = rng.uniform(-1, 1) }
    }

    /// y[co, oy, ox] = b[co] + Σ_{ci, ky, kx} W[co, ci, ky, kx] · x[ci, oy·s − p + ky, ox·s − p + kx].
    func naiveConvolution(_ x: [Float], _ w: [Float], _ bias: [Float], _ c: Case, _ g: ConvolutionGeometry) -> [Float] {
        var y = [Float](repeating: 0, count: c.cout * g.outputPixels)
        for co in 0..<c.cout { for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
            var s = Double(bias[co])
            for ci in 0..<c.cin { for ky in 0..<c.k { for kx in 0..<c.k {
                let iy = oy * c.stride - c.padding + ky, ix = ox * c.stride - c.padding + kx
                guard iy >= 0, iy < c.h, ix >= 0, ix < c.w else { continue }
                s += Double(w[((co * c.cin + ci) * c.k + ky) * c.k + kx]) * Double(x[(ci * c.h + iy) * c.w + ix])
            } } }
            y[(co * g.outHeight + oy) * g.outWidth + ox] = Float(s)
        } } }
        return y
    }

    /// y[co, i·s − p + ky, j·s − p + kx] += W[ci, co, ky, kx] · x[ci, i, j], cropped to Hout x Wout.
    func naiveTransposed(_ x: [Float], _ w: [Float], _ bias: [Float], _ c: Case, outH: Int, outW: Int) -> [Float] {
        var y = [Double](repeating: 0, count: c.cout * outH * outW)
        for co in 0..<c.cout { for i in 0..<(outH * outW) { y[co * outH * outW + i] = Double(bias[co]) } }
        for ci in 0..<c.cin { for i in 0..<c.h { for j in 0..<c.w { for co in 0..<c.cout {
            for ky in 0..<c.k { for kx in 0..<c.k {
                let oy = i * c.stride - c.padding + ky, ox = j * c.stride - c.padding + kx
                guard oy >= 0, oy < outH, ox >= 0, ox < outW else { continue }
                y[(co * outH + oy) * outW + ox] += Double(w[((ci * c.cout + co) * c.k + ky) * c.k + kx]) * Double(x[(ci * c.h + i) * c.w + j])
            } }
        } } } }
        return y.map(Float.init)
    }


    /// A linear layer's backward against finite differences of a random
    /// projection of its output: parameters and input, exact up to rounding.
    func checkLinearLayer(_ label: String, store: ParameterStore, input x: Tensor, batch: Int, outputSize: Int, seed: UInt64,
                          forward: @escaping (Matrix) -> Matrix, backward: (Matrix) -> Matrix) {
        let xm = x.matrix(rows: batch, columns: x.count / batch)
        let projection = Projection(count: batch * outputSize, seed: seed)
        let loss = { projection.loss(forward(xm)) }
        _ = loss()
        store.zeroGradients()
        let dy = projection.gradient(rows: batch, columns: outputSize)
        let dx = backward(dy.matrix(rows: batch, columns: outputSize)).array
        let tol = Tolerance(h: 1e-2, rtol: 1e-3, atol: 1e-4)
        checkGradient("\(label) dWeight+dBias", values: store.values.pointer, count: store.count,
                      analytic: store.gradients.array, tolerance: tol, loss: loss)
        checkGradient("\(label) dInput", values: x.pointer, count: x.count, analytic: dx, tolerance: tol, loss: loss)
    }

    /// im2col against its definition, columns[c·R + r, b·P + oy·Wout + ox] =
    /// x_b[c, oy·s − p + ky, ox·s − p + kx] (0 outside), for kernel offsets r
    /// = ky·k + kx: same-size stride-1 geometries (copied as shifted runs,
    /// among them the PixelCNN's masked 3x3 on a 7x7 grid and kernels wider
    /// than the image), the doubling ones (split into even and odd pixels)
    /// and others (gathered).
    func testIm2colMatchesTheDefinition() {
        let shapes: [(c: Int, h: Int, w: Int, k: Int, s: Int, p: Int, kept: [Int]?)] = [
            (3, 7, 7, 3, 1, 1, [0, 1, 2, 3, 4]), (2, 7, 7, 7, 1, 3, Array(0..<24)), (2, 4, 3, 5, 1, 2, nil), (1, 2, 9, 5, 1, 2, nil),
            (2, 5, 13, 3, 1, 1, nil), (3, 4, 4, 1, 1, 0, nil), (2, 6, 6, 3, 2, 1, nil), (2, 5, 7, 3, 1, 0, nil),
            // Strides 2 and 3, long rows, a kernel overhanging the image.
            (1, 28, 28, 3, 2, 1, nil), (1, 5, 37, 3, 2, 1, nil), (2, 9, 40, 5, 2, 2, nil), (2, 11, 17, 3, 3, 1, nil),
            (2, 3, 3, 5, 2, 2, nil), (2, 14, 14, 4, 2, 1, nil),
            // Doubling (3x3, stride 2, padding 1, twice the grid), split row by row: grids 7, 16, 9, 2 and 1 wide, and a tall one (14 wide above).
            (2, 14, 14, 3, 2, 1, nil), (1, 32, 32, 3, 2, 1, nil), (2, 4, 18, 3, 2, 1, nil),
            (2, 4, 4, 3, 2, 1, nil), (1, 2, 2, 3, 2, 1, nil), (1, 20, 6, 3, 2, 1, nil),
        ]
        for (n, t) in shapes.enumerated() {
            let g = ConvolutionGeometry(channels: t.c, height: t.h, width: t.w, kernel: t.k, stride: t.s, padding: t.p, keptOffsets: t.kept)
            let batch = 3, P = g.outputPixels, width = batch * P
            let x = Tensor(shape: [batch, g.inputSize])
            fill(x.pointer, x.count, seed: UInt64(70 + n))
            let xm = x.matrix(rows: batch, columns: g.inputSize)
            var columns = [Float](repeating: .nan, count: g.patchSize * width)
            columns.withUnsafeMutableBufferPointer { g.im2col(xm, 0..<batch, into: $0.baseAddress!, rowStride: width) }
            for c in 0..<t.c { for (r, offset) in g.offsets.enumerated() { for b in 0..<batch { for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
                let iy = oy * t.s - t.p + offset / t.k, ix = ox * t.s - t.p + offset % t.k
                let inside = iy >= 0 && iy < t.h && ix >= 0 && ix < t.w
                let expected = inside ? xm.row(b)[(c * t.h + iy) * t.w + ix] : 0
                let found = columns[(c * g.offsets.count + r) * width + b * P + oy * g.outWidth + ox]
                XCTAssertEqual(found.bitPattern, expected.bitPattern, "shape \(n) channel \(c) offset \(offset) image \(b) (\(oy), \(ox))")
            } } } } }
        }
    }

    /// col2im against its definition, bit for bit: starting from the images'
    /// own values, each pixel adds the column entries that came from it in
    /// kernel-offset order (c, then r, then b, as the loops run). Runs of
    /// stride 1, 2 (blocks of eight and four, and the tails) and 3; rows
    /// long and short; kernels hanging over the image; masked offsets; the
    /// same-size stride-1 geometries added back as shifted runs (among them
    /// the PixelCNN's masked 3x3 and 7x7 on a 7x7 grid); and the doubling
    /// geometries that go row by row.
    func testCol2imMatchesTheDefinition() {
        let shapes: [(c: Int, h: Int, w: Int, k: Int, s: Int, p: Int, kept: [Int]?)] = [
            (2, 7, 7, 4, 2, 1, nil), (3, 14, 14, 4, 2, 1, nil), (2, 28, 28, 3, 2, 1, nil), (1, 5, 37, 3, 2, 1, nil),
            (2, 9, 40, 5, 2, 2, nil), (2, 5, 13, 3, 1, 1, nil), (1, 3, 37, 3, 1, 1, nil), (3, 7, 7, 3, 1, 1, [0, 1, 2, 3, 4]),
            (2, 4, 3, 5, 1, 2, nil), (1, 2, 9, 5, 1, 2, nil), (2, 11, 17, 3, 3, 1, nil), (2, 3, 3, 5, 2, 2, nil),
            (2, 7, 7, 7, 1, 3, Array(0..<24)), (1, 6, 21, 3, 1, 1, nil), (2, 3, 4, 9, 1, 4, nil),
            // Doubling (3x3, stride 2, padding 1, twice the grid), taken row by row: grids 7, 16, 2 and 1 wide, and a tall one.
            (2, 14, 14, 3, 2, 1, nil), (1, 32, 32, 3, 2, 1, nil), (2, 4, 4, 3, 2, 1, nil), (1, 2, 2, 3, 2, 1, nil), (1, 20, 6, 3, 2, 1, nil),
        ]
        for (n, t) in shapes.enumerated() {
            let g = ConvolutionGeometry(channels: t.c, height: t.h, width: t.w, kernel: t.k, stride: t.s, padding: t.p, keptOffsets: t.kept)
            let batch = 3, P = g.outputPixels, width = batch * P
            var columns = [Float](repeating: 0, count: g.patchSize * width)
            var rng = RandomGenerator(seed: UInt64(90 + n))
            for i in columns.indices { columns[i] = rng.uniform(-1, 1) }
            let images = Tensor(shape: [batch, g.inputSize])
            fill(images.pointer, images.count, seed: UInt64(110 + n))
            var expected = images.array
            for c in 0..<t.c { for (r, offset) in g.offsets.enumerated() { for b in 0..<batch { for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
                let iy = oy * t.s - t.p + offset / t.k, ix = ox * t.s - t.p + offset % t.k
                guard iy >= 0 && iy < t.h && ix >= 0 && ix < t.w else { continue }
                expected[b * g.inputSize + (c * t.h + iy) * t.w + ix] += columns[(c * g.offsets.count + r) * width + b * P + oy * g.outWidth + ox]
            } } } } }
            let xm = images.matrix(rows: batch, columns: g.inputSize)
            // Two calls over parts of the batch, as two threads would make them.
            columns.withUnsafeBufferPointer {
                g.col2im($0.baseAddress!, rowStride: width, addingInto: xm, 0..<1)
                g.col2im($0.baseAddress!, rowStride: width, addingInto: xm, 1..<batch)
            }
            XCTAssertEqual(images.array.map(\.bitPattern), expected.map(\.bitPattern), "shape \(n)")
        }
    }

    func testConv2dForwardMatchesTheDefinitionAndBackwardMatchesFiniteDifferences() {
        for (n, c) in cases.enumerated() {
            let store = ParameterStore(specs: Conv2d.specs(name: "conv", inChannels: c.cin, outChannels: c.cout, kernel: c.k))
            let g = ConvolutionGeometry(channels: c.cin, height: c.h, width: c.w, kernel: c.k, stride: c.stride, padding: c.padding)
            let layer = Conv2d(name: "conv", store: store, geometry: g)
            XCTAssertEqual(layer.hasNarrowWeightGradient, [0, 2, 3].contains(n), "case \(n)")
            XCTAssertEqual(layer.isImageByImage, [1, 4, 9, 10, 11].contains(n), "case \(n)")
            fill(store.values.pointer, store.count, seed: UInt64(10 + n))
            // Three images: the threads take them image by image, two and one.
            let batch = 3
            let x = Tensor(shape: [batch, g.inputSize])
            fill(x.pointer, x.count, seed: UInt64(20 + n))
            let xm = x.matrix(rows: batch, columns: g.inputSize)
            let y = layer.forward(xm)
            let w = Array(store.values.buffer.prefix(c.cout * g.patchSize)), bias = Array(store.values.buffer.suffix(c.cout))
            for b in 0..<batch {
                let expected = naiveConvolution(Array(UnsafeBufferPointer(start: xm.row(b), count: g.inputSize)), w, bias, c, g)
                for i in expected.indices { XCTAssertEqual(y.row(b)[i], expected[i], accuracy: 1e-5, "case \(n) sample \(b) [\(i)]") }
            }
            checkLinearLayer("conv \(n)", store: store, input: x, batch: batch, outputSize: layer.outputSize,
                             seed: UInt64(30 + n), forward: layer.forward, backward: { layer.backward($0) })
        }
    }

    func testConvTranspose2dForwardMatchesTheDefinitionAndBackwardMatchesFiniteDifferences() {
        for (n, c) in cases.enumerated() {
            let store = ParameterStore(specs: ConvTranspose2d.specs(name: "up", inChannels: c.cin, outChannels: c.cout, kernel: c.k))
            let layer = ConvTranspose2d(name: "up", store: store, inChannels: c.cin, outChannels: c.cout, height: c.h, width: c.w,
                                        kernel: c.k, stride: c.stride, padding: c.padding, outputPadding: c.outputPadding)
            let (outH, outW) = (layer.geometry.height, layer.geometry.width)
            XCTAssertEqual(layer.hasNarrowWeightGradient, [2, 3, 4, 5, 7, 11].contains(n), "case \(n)")
            XCTAssertEqual(outH, (c.h - 1) * c.stride - 2 * c.padding + c.k + c.outputPadding)
            fill(store.values.pointer, store.count, seed: UInt64(40 + n))
            // Three images: the forward pass's threads take them image by image, two and one.
            let batch = 3
            let x = Tensor(shape: [batch, layer.inputSize])
            fill(x.pointer, x.count, seed: UInt64(50 + n))
            let xm = x.matrix(rows: batch, columns: layer.inputSize)
            let y = layer.forward(xm)
            let w = Array(store.values.buffer.prefix(c.cin * c.cout * c.k * c.k)), bias = Array(store.values.buffer.suffix(c.cout))
            for b in 0..<batch {
                let expected = naiveTransposed(Array(UnsafeBufferPointer(start: xm.row(b), count: layer.inputSize)), w, bias, c,
                                               outH: outH, outW: outW)
                for i in expected.indices { XCTAssertEqual(y.row(b)[i], expected[i], accuracy: 1e-5, "case \(n) sample \(b) [\(i)]") }
            }
            checkLinearLayer("convT \(n)", store: store, input: x, batch: batch, outputSize: layer.outputSize,
                             seed: UInt64(60 + n), forward: layer.forward, backward: { layer.backward($0) })
        }
    }

    func testTheConvolutionalVAEShapes() {
        // 28 → 14 → 7 down, 7 → 14 → 28 up, as in the reference's conv model.
        let down1 = ConvolutionGeometry(channels: 1, height: 28, width: 28, kernel: 3, stride: 2, padding: 1)
        let down2 = ConvolutionGeometry(channels: 32, height: 14, width: 14, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual([down1.outHeight, down2.outHeight], [14, 7])
        let store = ParameterStore(specs: ConvTranspose2d.specs(name: "u", inChannels: 64, outChannels: 32, kernel: 3))
        let up = ConvTranspose2d(name: "u", store: store, inChannels: 64, outChannels: 32, height: 7, width: 7,
                                 kernel: 3, stride: 2, padding: 1, outputPadding: 1)
        XCTAssertEqual(up.outputSize, 32 * 14 * 14)
    }
}
