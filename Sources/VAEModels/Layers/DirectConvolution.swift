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
final class DirectConvolution {
    let geometry: ConvolutionGeometry
    let outChannels: Int
    /// One padded image per part of a parallel pass: made once, the borders
    /// and slack stay zero (passes write only the planes' insides).
    private var paddedImages: [Tensor] = []
    /// dy's rows zero-extended to whole lanes for the batch: the tails stay zero.
    private var gradientRows = Tensor(shape: [0])
    /// The weights turned for the input gradient.
    private let turned: Tensor
    /// The weight gradient's sums, per part: (outChannels, tapSlots) lanes.
    private var tapSums: [UnsafeMutablePointer<FloatLanes>] = []
    /// The kernel's taps in groups of `tapsPerGroup`, each tap as its offset
    /// ky·(W + 2p) + kx in a padded plane; the last group filled up with
    /// repeats of the last tap, whose sums are never read.
    private let tapOffsets: [Int]
    private var tapSlots: Int { tapOffsets.count }
    /// The weight gradient sums this many taps at once, in registers: nine
    /// sums (a 3x3 kernel's) and the gradient's lanes leave room in the
    /// sixteen vector registers, and every tap shares the gradient's load.
    static let tapsPerGroup = 9

    init(geometry: ConvolutionGeometry, outChannels: Int) {
        self.geometry = geometry
        self.outChannels = outChannels
        turned = Tensor(shape: [geometry.channels * outChannels * geometry.kernel * geometry.kernel])
        let k = geometry.kernel, taps = k * k, groups = (taps + Self.tapsPerGroup - 1) / Self.tapsPerGroup
        let paddedWidth = geometry.width + 2 * geometry.padding
        tapOffsets = (0..<(groups * Self.tapsPerGroup)).map { t in min(t, taps - 1) / k * paddedWidth + min(t, taps - 1) % k }
    }

    deinit { for sums in tapSums { sums.deallocate() } }

    /// A padded buffer (and tap sums) for every part the thread count allows;
    /// buffers made before stay, with their zeros.
    private func reserveParts() {
        let size = paddedCount(planes: max(geometry.channels, outChannels)), taps = outChannels * tapSlots
        while paddedImages.count < max(1, BLASThreads.current) {
            paddedImages.append(Tensor(shape: [size]))
            tapSums.append(.allocate(capacity: taps))
        }
    }

    /// When a convolution goes this way: stride 1, the same size out, every
    /// kernel tap (not a masked subset), at most four outputs.
    static func applies(_ g: ConvolutionGeometry, outChannels: Int) -> Bool {
        g.stride == 1 && g.kernel % 2 == 1 && 2 * g.padding == g.kernel - 1 && g.offsets.count == g.kernel * g.kernel && outChannels <= 4
    }

    /// Planes padded by p on every side, so that every tap of every output
    /// column reads inside its plane: (H + 2p) rows of W + 2p, and slack at
    /// the end for the last row's whole blocks of lanes.
    private var paddedWidth: Int { geometry.width + 2 * geometry.padding }
    private var paddedPlane: Int { (geometry.height + 2 * geometry.padding) * paddedWidth }
    private func paddedCount(planes: Int) -> Int { planes * paddedPlane + Self.block + geometry.kernel }
    /// Output columns computed at once: four lanes of eight, kept in registers.
    private static let block = 32

    /// Copies `planes` planes (H x W) into the padded layout (the borders stay zero).
    private func pad(_ source: UnsafePointer<Float>, planes: Int, into target: UnsafeMutablePointer<Float>) {
        let g = geometry, p = g.padding, PW = paddedWidth
        for c in 0..<planes {
            for i in 0..<g.height {
                (target + c * paddedPlane + (i + p) * PW + p).update(from: source + (c * g.height + i) * g.width, count: g.width)
            }
        }
    }

    /// Row i of one output plane, out[j] = start + Σ_{s, ky, kx} w[s, ky, kx] ·
    /// padded[s, i + ky, j + kx] over `sources` padded planes, 32 columns
    /// at a time in four lanes (unfused: the same bits on any build).
    @inline(__always)
    private func correlateRow(_ padded: UnsafePointer<Float>, sources: Int, weights w: UnsafePointer<Float>, start: Float,
                              row i: Int, into out: UnsafeMutablePointer<Float>) {
        let k = geometry.kernel, W = geometry.width, PW = paddedWidth, plane = paddedPlane
        for j0 in stride(from: 0, to: W, by: Self.block) {
            var a0 = FloatLanes(repeating: start), a1 = a0, a2 = a0, a3 = a0
            for s in 0..<sources {
                for ky in 0..<k {
                    let line = padded + s * plane + (i + ky) * PW + j0
                    for kx in 0..<k {
                        let weight = FloatLanes(repeating: w[(s * k + ky) * k + kx]), from = line + kx
                        a0 = weight * FloatLanes(loading: from) + a0
                        a1 = weight * FloatLanes(loading: from + 8) + a1
                        a2 = weight * FloatLanes(loading: from + 16) + a2
                        a3 = weight * FloatLanes(loading: from + 24) + a3
                    }
                }
            }
            let n = min(Self.block, W - j0), target = out + j0
            a0.store(to: target, count: n)
            if n > 8 { a1.store(to: target + 8, count: n - 8) }
            if n > 16 { a2.store(to: target + 16, count: n - 16) }
            if n > 24 { a3.store(to: target + 24, count: n - 24) }
        }
    }

    /// sums[t] += Σ_{i, q} d[i, q] · padded[i·(W + 2p) + 8q + offset_t] for
    /// the group's nine taps t, d one plane of the gradient in lanes (rows of
    /// `lanesPerRow` lanes): the nine sums stay in registers through the
    /// plane (kept in memory, each tap's sum waited on its own store), in the
    /// same order of additions as one tap at a time.
    @inline(__always)
    private func addTapGroup(_ d: UnsafePointer<Float>, lanesPerRow: Int, padded: UnsafePointer<Float>, group: Int,
                             into sums: UnsafeMutablePointer<FloatLanes>) {
        let PW = paddedWidth
        let (o0, o1, o2) = (tapOffsets[group], tapOffsets[group + 1], tapOffsets[group + 2])
        let (o3, o4, o5) = (tapOffsets[group + 3], tapOffsets[group + 4], tapOffsets[group + 5])
        let (o6, o7, o8) = (tapOffsets[group + 6], tapOffsets[group + 7], tapOffsets[group + 8])
        var (s0, s1, s2, s3, s4, s5, s6, s7, s8) = (sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6], sums[7], sums[8])
        for i in 0..<geometry.height {
            for q in 0..<lanesPerRow {
                let lanes = FloatLanes(loading: d + (i * lanesPerRow + q) * 8), at = padded + i * PW + 8 * q
                s0 = lanes * FloatLanes(loading: at + o0) + s0
                s1 = lanes * FloatLanes(loading: at + o1) + s1
                s2 = lanes * FloatLanes(loading: at + o2) + s2
                s3 = lanes * FloatLanes(loading: at + o3) + s3
                s4 = lanes * FloatLanes(loading: at + o4) + s4
                s5 = lanes * FloatLanes(loading: at + o5) + s5
                s6 = lanes * FloatLanes(loading: at + o6) + s6
                s7 = lanes * FloatLanes(loading: at + o7) + s7
                s8 = lanes * FloatLanes(loading: at + o8) + s8
            }
        }
        (sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6], sums[7], sums[8]) = (s0, s1, s2, s3, s4, s5, s6, s7, s8)
    }

    func forward(_ x: Matrix, weight: Matrix, bias: Matrix, into y: Matrix) {
        let g = geometry, plane = g.height * g.width
        reserveParts()
        parallelRows(x.rows, workPerRow: outChannels * g.patchSize * plane) { part, images in
            let padded = paddedImages[part].pointer
            for b in images {
                pad(x.row(b), planes: g.channels, into: padded)
                for o in 0..<outChannels {
                    for i in 0..<g.height {
                        correlateRow(padded, sources: g.channels, weights: weight.pointer + o * g.patchSize, start: bias.pointer[o],
                                     row: i, into: y.row(b) + o * plane + i * g.width)
                    }
                }
            }
        }
    }

    /// dW += Σ_b dy ⋆ x (split by input channel, images in order: the same
    /// sums for any thread count), and with `dx` the input gradient: the
    /// forward correlation of dy (padded) with the kernel turned by 180°
    /// and its channels swapped, dx[c] = Σ_o W[o, c] rotated ⋆ dy[o].
    func backward(_ dy: Matrix, input x: Matrix, weight: Matrix, dWeight: Matrix, dx: Matrix?) {
        let g = geometry, H = g.height, W = g.width, k = g.kernel, plane = H * W
        // dy's rows zero-extended to whole lanes, (B, outChannels, H, lanes·8), read by every channel's sums.
        let lanesPerRow = (W + 7) / 8, extendedPlane = H * lanesPerRow * 8
        if gradientRows.count < x.rows * outChannels * extendedPlane { gradientRows = Tensor(shape: [x.rows * outChannels * extendedPlane]) }
        let gradientRows = self.gradientRows.pointer
        reserveParts()
        for b in 0..<x.rows {
            for o in 0..<outChannels {
                for i in 0..<H {
                    (gradientRows + (b * outChannels + o) * extendedPlane + i * lanesPerRow * 8).update(from: dy.row(b) + o * plane + i * W, count: W)
                }
            }
        }
        parallelRows(g.channels, workPerRow: x.rows * outChannels * k * k * plane) { part, channels in
            // One image's plane of channel c, padded.
            let padded = paddedImages[part].pointer, sums = tapSums[part]
            for c in channels {
                sums.initialize(repeating: FloatLanes(repeating: 0), count: outChannels * tapSlots)
                for b in 0..<x.rows {
                    pad(x.row(b) + c * plane, planes: 1, into: padded)
                    for o in 0..<outChannels {
                        let gradient = gradientRows + (b * outChannels + o) * extendedPlane
                        for group in stride(from: 0, to: tapSlots, by: Self.tapsPerGroup) {
                            addTapGroup(gradient, lanesPerRow: lanesPerRow, padded: padded, group: group, into: sums + o * tapSlots + group)
                        }
                    }
                }
                for o in 0..<outChannels {
                    for t in 0..<(k * k) { dWeight.pointer[o * g.patchSize + c * k * k + t] += sums[o * tapSlots + t].sum() }
                }
            }
        }
        guard let dx else { return }
        // Wᵀ turned: for input channel c, (outChannels, k, k) with [o, ky, kx] = W[o, c, k−1−ky, k−1−kx].
        let t = turned.pointer
        for c in 0..<g.channels {
            for o in 0..<outChannels {
                for tap in 0..<(k * k) { t[(c * outChannels + o) * k * k + tap] = weight.pointer[o * g.patchSize + c * k * k + (k * k - 1 - tap)] }
            }
        }
        parallelRows(x.rows, workPerRow: outChannels * g.patchSize * plane) { part, images in
            let padded = paddedImages[part].pointer
            for b in images {
                pad(dy.row(b), planes: outChannels, into: padded)
                for c in 0..<g.channels {
                    for i in 0..<H {
                        correlateRow(padded, sources: outChannels, weights: t + c * outChannels * k * k, start: 0,
                                     row: i, into: dx.row(b) + c * plane + i * W)
                    }
                }
            }
        }
    }
}
