import VAEEngine

/// A stride-1 convolution that keeps the image's size (padding (k − 1)/2)
/// with few output channels, computed in place of im2col and a product:
///
///   y[o, i, j] = b[o] + Σ_c Σ_{ky,kx} W[o, c, ky, kx] · x[c, i + ky − p, j + kx − p]
///
/// For one output channel (a decoder's last layer) the product would be a
/// single row over a (Cin·k·k, B·H·W) patch matrix: 115 MB written and read
/// again for a batch of 128 28x28 images, most of the VQ-VAE's step. Here
/// each tap adds a shifted line of the input to a line of the output, lines
/// being contiguous, so the loops vectorise and nothing is copied.
struct DirectConvolution {
    let geometry: ConvolutionGeometry
    let outChannels: Int

    /// When a convolution goes this way: stride 1, the same size out, every
    /// kernel tap (not a masked subset), at most four outputs.
    static func applies(_ g: ConvolutionGeometry, outChannels: Int) -> Bool {
        g.stride == 1 && g.kernel % 2 == 1 && 2 * g.padding == g.kernel - 1 && g.offsets.count == g.kernel * g.kernel && outChannels <= 4
    }

    /// For tap offset (ky or kx) along an axis of length n: the output range
    /// whose source o + k − p lies inside, and the shift k − p.
    @inline(__always)
    private func span(_ k: Int, length n: Int) -> (range: Range<Int>, shift: Int) {
        let shift = k - geometry.padding
        return (max(0, -shift)..<min(n, n - shift), shift)
    }

    func forward(_ x: Matrix, weight: Matrix, bias: Matrix, into y: Matrix) {
        let g = geometry, H = g.height, W = g.width, k = g.kernel, plane = H * W
        parallelRows(x.rows, workPerRow: outChannels * g.patchSize * plane) { images in
            for b in images {
                for o in 0..<outChannels {
                    let out = y.row(b) + o * plane
                    out.update(repeating: bias.pointer[o], count: plane)
                    for c in 0..<g.channels {
                        let source = x.row(b) + c * plane
                        for ky in 0..<k {
                            let rowSpan = span(ky, length: H)
                            for kx in 0..<k {
                                let w = weight.pointer[o * g.patchSize + (c * k + ky) * k + kx]
                                let columnSpan = span(kx, length: W)
                                for i in rowSpan.range {
                                    let line = out + i * W, from = source + (i + rowSpan.shift) * W + columnSpan.shift
                                    for j in columnSpan.range { line[j] += w * from[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dW += Σ_b dy ⋆ x (split by input channel, images in order: the same
    /// sums for any thread count), and with `dx` the input gradient.
    func backward(_ dy: Matrix, input x: Matrix, weight: Matrix, dWeight: Matrix, dx: Matrix?) {
        let g = geometry, H = g.height, W = g.width, k = g.kernel, plane = H * W
        parallelRows(g.channels, workPerRow: x.rows * outChannels * k * k * plane) { channels in
            for c in channels {
                for b in 0..<x.rows {
                    let source = x.row(b) + c * plane
                    for o in 0..<outChannels {
                        let gradient = dy.row(b) + o * plane
                        for ky in 0..<k {
                            let rowSpan = span(ky, length: H)
                            for kx in 0..<k {
                                let columnSpan = span(kx, length: W)
                                var total: Float = 0
                                for i in rowSpan.range {
                                    let line = gradient + i * W, from = source + (i + rowSpan.shift) * W + columnSpan.shift
                                    for j in columnSpan.range { total += line[j] * from[j] }
                                }
                                dWeight.pointer[o * g.patchSize + (c * k + ky) * k + kx] += total
                            }
                        }
                    }
                }
            }
        }
        guard let dx else { return }
        parallelRows(x.rows, workPerRow: outChannels * g.patchSize * plane) { images in
            for b in images {
                dx.row(b).update(repeating: 0, count: g.channels * plane)
                for c in 0..<g.channels {
                    let target = dx.row(b) + c * plane
                    for o in 0..<outChannels {
                        let gradient = dy.row(b) + o * plane
                        for ky in 0..<k {
                            let rowSpan = span(ky, length: H)
                            for kx in 0..<k {
                                let w = weight.pointer[o * g.patchSize + (c * k + ky) * k + kx]
                                let columnSpan = span(kx, length: W)
                                for i in rowSpan.range {
                                    let line = gradient + i * W, to = target + (i + rowSpan.shift) * W + columnSpan.shift
                                    for j in columnSpan.range { to[j] += w * line[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
