import VAEEngine

/// The shape arithmetic of a 2-D convolution over one image, and the two
/// rearrangements that turn it into a matrix product (im2col) and back (col2im).
///
/// An image is (channels, height, width), row-major. Its columns matrix is
/// (channels·kernel·kernel, outHeight·outWidth): column (oy, ox) holds the
/// kernel-sized patch that output pixel sees, zeros where the patch hangs
/// over the padding. Then a convolution is weight (out, channels·k·k) × columns.
public struct ConvolutionGeometry: Equatable {
    public let channels, height, width: Int
    public let kernel, stride, padding: Int
    public let outHeight, outWidth: Int
    /// For kernel offset r = ky·k + kx and output pixel i = oy·outWidth + ox,
    /// entry r·P + i: where in a channel plane that pixel's input lies, and a
    /// mask of all ones, or 0 and a mask of zeros where it falls in the
    /// padding. Made once, so im2col is one flat loop of P per kernel
    /// offset and image, with no bounds tests (the lines are only outWidth
    /// long: per-line bookkeeping was most of its time).
    let sourceIndex: [Int32]
    let sourceMask: [UInt32]
    /// The kernel offsets ky·k + kx a patch holds, in order: all of them, or
    /// those a mask keeps (a PixelCNN's masked kernels: the others are zero,
    /// so their rows of the columns matrix would only add zeros).
    public let offsets: [Int]
    /// For a same-size, stride-1 geometry, each kernel offset's row is the
    /// plane shifted by (ky − p)·width + (kx − p): entry i is pixel i + shift
    /// wherever it is inside. im2col then copies a contiguous run, eight
    /// lanes at a time, in place of a gather (a PixelCNN's 7x7 grids: the
    /// gather was 12% of its training step). Nil for other geometries.
    let shifts: [Int]?

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int, keptOffsets: [Int]? = nil) {
        precondition(channels > 0 && kernel > 0 && stride > 0 && padding >= 0)
        let offsets = keptOffsets ?? Array(0..<(kernel * kernel))
        precondition(!offsets.isEmpty && offsets.allSatisfy { (0..<(kernel * kernel)).contains($0) })
        self.offsets = offsets
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "kernel larger than the padded image")
        var index: [Int32] = [], mask: [UInt32] = []
        for offset in offsets {
            let (ky, kx) = (offset / kernel, offset % kernel)
            do {
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        let y = oy * stride - padding + ky, x = ox * stride - padding + kx
                        let inside = y >= 0 && y < height && x >= 0 && x < width
                        index.append(inside ? Int32(y * width + x) : 0)
                        mask.append(inside ? ~0 : 0)
                    }
                }
            }
        }
        sourceIndex = index
        sourceMask = mask
        let P = outHeight * outWidth
        let shifts = offsets.map { ($0 / kernel - padding) * width + ($0 % kernel - padding) }
        let shifted = stride == 1 && outHeight == height && outWidth == width && offsets.indices.allSatisfy { r in
            (0..<P).allSatisfy { i in mask[r * P + i] == 0 || Int(index[r * P + i]) == i + shifts[r] }
        }
        self.shifts = shifted ? shifts : nil
    }

    public var patchSize: Int { channels * offsets.count }
    public var outputPixels: Int { outHeight * outWidth }
    public var inputSize: Int { channels * height * width }

    /// columns[(c·k + ky)·k + kx, b·P + oy·outWidth + ox] = image_b[c, oy·s − p + ky, ox·s − p + kx]
    /// (0 outside), for the images b in `batch` (rows of `images`, one image
    /// each). The batch's columns sit side by side, image b's P = outputPixels
    /// columns starting at column b·P, and rows of `columns` are `rowStride`
    /// long, so one product serves the whole batch.
    ///
    /// The loops run row of `columns` by row, and within a row image by image:
    /// the writes stream through memory, and the images' channel planes being
    /// read stay in cache across the k·k rows of a channel. (Image by image,
    /// each image touched all rows of a 7 MB matrix: cache misses made these
    /// copies a sixth of the conv step.)
    public func im2col(_ images: Matrix, _ batch: Range<Int>, into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        let P = outputPixels
        if let shifts {
            shiftedIm2col(images, batch, into: columns, rowStride: rowStride, shifts: shifts)
            return
        }
        if isDoubling {
            im2colByPhase(images, batch, into: columns, rowStride: rowStride)
            return
        }
        forEachPatchRow(images, batch, columns: columns, rowStride: rowStride) { plane, line, index, mask in
            let source = UnsafeRawPointer(plane).assumingMemoryBound(to: UInt32.self)
            let target = UnsafeMutableRawPointer(line).assumingMemoryBound(to: UInt32.self)
            // The pixel's bits, or +0 in the padding: a select by mask, no branch.
            for i in 0..<P { target[i] = source[Int(index[i])] & mask[i] }
        }
    }

    /// The same entries as the gather: the run of pixels i + shift that lie in
    /// the plane, masked (a row's wrap-around is padding), and zeros before
    /// and after it (above or below the image).
    private func shiftedIm2col(_ images: Matrix, _ batch: Range<Int>, into columns: UnsafeMutablePointer<Float>, rowStride: Int,
                               shifts: [Int]) {
        typealias Lanes = SIMD8<UInt32>
        let P = outputPixels, lanes = Lanes.scalarCount
        forEachShiftedRow(images, batch, columns: columns, rowStride: rowStride, shifts: shifts) { pixels, line, mask, run in
            let source = UnsafeRawPointer(pixels), target = UnsafeMutableRawPointer(line)
            let zero = UInt32(0)
            for i in 0..<run.lowerBound { target.storeBytes(of: zero, toByteOffset: 4 * i, as: UInt32.self) }
            var i = run.lowerBound
            while i + lanes <= run.upperBound {
                let bits = source.loadUnaligned(fromByteOffset: 4 * i, as: Lanes.self)
                    & UnsafeRawPointer(mask).loadUnaligned(fromByteOffset: 4 * i, as: Lanes.self)
                target.storeBytes(of: bits, toByteOffset: 4 * i, as: Lanes.self)
                i += lanes
            }
            while i < run.upperBound {
                target.storeBytes(of: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & mask[i],
                                  toByteOffset: 4 * i, as: UInt32.self)
                i += 1
            }
            for i in run.upperBound..<P { target.storeBytes(of: zero, toByteOffset: 4 * i, as: UInt32.self) }
        }
    }

    /// The walk of both shifted passes: for each row of `columns` (channel
    /// c, kernel offset r) and each image b in `batch`, `body(pixels, line,
    /// mask, run)` with channel c of image b moved by the row's shift (entry
    /// i of the line goes with pixels[i]), image b's P entries of that row,
    /// the row's mask, and the entries whose pixel lies in the plane: [lower,
    /// upper) within [0, P) (a kernel wider than the image can shift a whole
    /// row out).
    @inline(__always)
    private func forEachShiftedRow(_ images: Matrix, _ batch: Range<Int>, columns: UnsafeMutablePointer<Float>, rowStride: Int, shifts: [Int],
                                   _ body: (_ pixels: UnsafeMutablePointer<Float>, _ line: UnsafeMutablePointer<Float>,
                                            _ mask: UnsafePointer<UInt32>, _ run: Range<Int>) -> Void) {
        let P = outputPixels, planeSize = height * width
        sourceMask.withUnsafeBufferPointer { masks in
            for c in 0..<channels {
                for (r, shift) in shifts.enumerated() {
                    let row = columns + (c * offsets.count + r) * rowStride
                    let lower = min(P, max(0, -shift)), upper = max(lower, min(P, planeSize - shift))
                    for b in batch {
                        body(images.row(b) + c * planeSize + shift, row + b * P, masks.baseAddress! + r * P, lower..<upper)
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back to the pixel of
    /// image b (a row of `images`) it came from, for the images in `batch`.
    /// Row by row of the output grid, only the entries that land inside the
    /// image: a run of pixels `stride` apart, added eight or four at a time.
    /// Within one kernel offset the pixels are distinct, so each pixel
    /// receives its terms in kernel-offset order, as when the images were
    /// taken one at a time.
    public func col2im(_ columns: UnsafePointer<Float>, rowStride: Int, addingInto images: Matrix, _ batch: Range<Int>) {
        if let shifts {
            shiftedCol2im(columns, rowStride: rowStride, addingInto: images, batch, shifts: shifts)
            return
        }
        if isDoubling {
            col2imByPhase(columns, rowStride: rowStride, addingInto: images, batch)
            return
        }
        let planeSize = height * width
        for c in 0..<channels {
            for (r, offset) in offsets.enumerated() {
                let (ky, kx) = (offset / kernel, offset % kernel)
                // Output columns ox whose x = ox·s − p + kx lies in [0, width).
                let first = max(0, (padding - kx + stride - 1) / stride)
                let last = width - 1 + padding - kx   // ≥ 0 unless the kernel overhangs the padded image
                let end = last < 0 ? 0 : min(outWidth, last / stride + 1)
                guard first < end else { continue }
                let row = columns + (c * offsets.count + r) * rowStride, x = first * stride - padding + kx
                for b in batch {
                    let plane = images.row(b) + c * planeSize, line = row + b * outputPixels
                    let imageEnd = images.row(b) + images.columns
                    for oy in 0..<outHeight {
                        let y = oy * stride - padding + ky
                        guard y >= 0 && y < height else { continue }
                        let target = plane + y * width + x
                        addRun(line + oy * outWidth + first, count: end - first, into: target, room: imageEnd - target)
                    }
                }
            }
        }
    }

    /// The adjoint of `shiftedIm2col`: row r's run added back at pixel
    /// i + shift, eight lanes at a time, the padding's entries left out (a
    /// select by the mask's bits: the pixel keeps its own, as when skipped).
    private func shiftedCol2im(_ columns: UnsafePointer<Float>, rowStride: Int, addingInto images: Matrix, _ batch: Range<Int>,
                               shifts: [Int]) {
        typealias Lanes = SIMD8<Float>
        let lanes = Lanes.scalarCount
        forEachShiftedRow(images, batch, columns: UnsafeMutablePointer(mutating: columns), rowStride: rowStride, shifts: shifts) { target, line, mask, run in
            var i = run.lowerBound
            while i + lanes <= run.upperBound {
                let kept = UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD8<UInt32>.self)
                let pixel = UnsafeRawPointer(target + i).loadUnaligned(as: Lanes.self)
                let sum = pixel + UnsafeRawPointer(line + i).loadUnaligned(as: Lanes.self)
                let bits = (unsafeBitCast(sum, to: SIMD8<UInt32>.self) & kept) | (unsafeBitCast(pixel, to: SIMD8<UInt32>.self) & ~kept)
                UnsafeMutableRawPointer(target + i).storeBytes(of: bits, as: SIMD8<UInt32>.self)
                i += lanes
            }
            while i < run.upperBound {
                if mask[i] != 0 { target[i] += line[i] }
                i += 1
            }
        }
    }

    /// Stride 2, a full 3x3 kernel, padding 1 and an image twice the grid's
    /// height and width: the transposed convolutions of the decoders (7 → 14 → 28).
    var isDoubling: Bool {
        stride == 2 && kernel == 3 && padding == 1 && offsets.count == 9 && height == 2 * outHeight && width == 2 * outWidth
    }

    /// col2im for `isDoubling`, the image row by row. Pixel (y, x) takes the
    /// entries of kernel row ky = 1 at grid row y/2 when y is even, ky = 0 at
    /// (y + 1)/2 and ky = 2 at (y − 1)/2 when y is odd, and likewise kx and
    /// the grid column for x. So one kernel row's three lines add into a
    /// whole image row at once: the even pixels 2j take kx = 1 at j, the odd
    /// pixels 2j + 1 kx = 0 at j + 1, then kx = 2 at j. Kernel rows taken in
    /// order, each pixel gets its terms in kernel-offset order, the bits of
    /// the general path; but each image row is loaded and stored once per
    /// kernel row instead of once per kernel offset, in whole vectors.
    private func col2imByPhase(_ columns: UnsafePointer<Float>, rowStride: Int, addingInto images: Matrix, _ batch: Range<Int>) {
        forEachPhaseRow(images, batch, columns: UnsafeMutablePointer(mutating: columns), rowStride: rowStride) { row, lines in
            addKernelRow(lines, rowStride: rowStride, into: row)
        }
    }

    /// im2col for `isDoubling`, the adjoint walk of `col2imByPhase`: each
    /// image row split into its even pixels, the kx = 1 line, and its odd
    /// ones, the kx = 2 line and, one column on, the kx = 0 line. Kernel row
    /// 0 of grid row 0 and each kx = 0 line's first entry lie in the
    /// padding: zeros. The same entries as the gather, taken eight at a
    /// time from whole vectors of the row instead of one load through the
    /// index table per entry.
    private func im2colByPhase(_ images: Matrix, _ batch: Range<Int>, into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        forEachPhaseRow(images, batch, columns: columns, rowStride: rowStride) { row, lines in
            takeKernelRow(row, into: lines, rowStride: rowStride)
        } gridRowAbove: { lines in
            for kx in 0..<3 { (lines + kx * rowStride).initialize(repeating: 0, count: outWidth) }
        }
    }

    /// The walk of both `isDoubling` passes: for each channel c, image b in
    /// `batch` and image row y, `body(row, lines)` with row y of channel c
    /// of image b and, for each kernel row that reaches it in kernel-row
    /// order (y even: ky = 1 at grid row y/2; y odd: ky = 0 at (y + 1)/2
    /// while inside the grid, then ky = 2 at (y − 1)/2), the kx = 0 line of
    /// that kernel row at that grid row (kx = 1 and 2 follow, `rowStride`
    /// apart). `gridRowAbove(lines)` gets kernel row 0's lines at grid row
    /// 0, which no image row reaches (they lie in the top padding).
    @inline(__always)
    private func forEachPhaseRow(_ images: Matrix, _ batch: Range<Int>, columns: UnsafeMutablePointer<Float>, rowStride: Int,
                                 _ body: (_ row: UnsafeMutablePointer<Float>, _ lines: UnsafeMutablePointer<Float>) -> Void,
                                 gridRowAbove: (_ lines: UnsafeMutablePointer<Float>) -> Void = { _ in }) {
        let w = outWidth, planeSize = height * width
        for c in 0..<channels {
            for b in batch {
                let plane = images.row(b) + c * planeSize
                // Kernel row ky's three lines for image b: kx = 0, 1, 2, each at the start of its grid row oy.
                let lines = { (ky: Int, oy: Int) in columns + (c * 9 + ky * 3) * rowStride + b * outputPixels + oy * w }
                gridRowAbove(lines(0, 0))
                for y in 0..<height {
                    let row = plane + y * width, m = y / 2
                    if y % 2 == 0 {
                        body(row, lines(1, m))
                    } else {
                        if m + 1 < outHeight { body(row, lines(0, m + 1)) }
                        body(row, lines(2, m))
                    }
                }
            }
        }
    }

    /// k1[j] = row[2j], k2[j] = row[2j + 1], k0[j + 1] = row[2j + 1] for
    /// j < w (k0's last only while j + 1 < w) and k0[0] = 0: one kernel
    /// row's three lines, `rowStride` apart, from an image row 2w long.
    @inline(__always)
    private func takeKernelRow(_ row: UnsafePointer<Float>, into k0: UnsafeMutablePointer<Float>, rowStride: Int) {
        let k1 = k0 + rowStride, k2 = k1 + rowStride, w = outWidth
        k0[0] = 0
        var j = 0
        while j + 9 <= w {   // k0 is written at j + 1 ..< j + 9
            let pair = UnsafeRawPointer(row + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(k1 + j).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(k2 + j).storeBytes(of: pair.oddHalf, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(k0 + j + 1).storeBytes(of: pair.oddHalf, as: SIMD8<Float>.self)
            j += 8
        }
        if j + 5 <= w {
            let pair = UnsafeRawPointer(row + 2 * j).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(k1 + j).storeBytes(of: pair.evenHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(k2 + j).storeBytes(of: pair.oddHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(k0 + j + 1).storeBytes(of: pair.oddHalf, as: SIMD4<Float>.self)
            j += 4
        }
        while j < w {
            k1[j] = row[2 * j]
            k2[j] = row[2 * j + 1]
            if j + 1 < w { k0[j + 1] = row[2 * j + 1] }
            j += 1
        }
    }

    /// row[2j] += k1[j], row[2j + 1] += k0[j + 1] (while j + 1 < w), then
    /// += k2[j], for j < w: k0, k1, k2 one kernel row's lines, `rowStride` apart.
    @inline(__always)
    private func addKernelRow(_ k0: UnsafePointer<Float>, rowStride: Int, into row: UnsafeMutablePointer<Float>) {
        let k1 = k0 + rowStride, k2 = k1 + rowStride, w = outWidth
        var j = 0
        while j + 9 <= w {   // k0 is read at j + 1 ..< j + 9
            var pair = UnsafeRawPointer(row + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
            pair.evenHalf += SIMD8<Float>(loading: k1 + j)
            pair.oddHalf += SIMD8<Float>(loading: k0 + j + 1)
            pair.oddHalf += SIMD8<Float>(loading: k2 + j)
            UnsafeMutableRawPointer(row + 2 * j).storeBytes(of: pair, as: SIMD16<Float>.self)
            j += 8
        }
        if j + 5 <= w {
            var pair = UnsafeRawPointer(row + 2 * j).loadUnaligned(as: SIMD8<Float>.self)
            pair.evenHalf += UnsafeRawPointer(k1 + j).loadUnaligned(as: SIMD4<Float>.self)
            pair.oddHalf += UnsafeRawPointer(k0 + j + 1).loadUnaligned(as: SIMD4<Float>.self)
            pair.oddHalf += UnsafeRawPointer(k2 + j).loadUnaligned(as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(row + 2 * j).storeBytes(of: pair, as: SIMD8<Float>.self)
            j += 4
        }
        while j < w {
            row[2 * j] += k1[j]
            if j + 1 < w { row[2 * j + 1] += k0[j + 1] }
            row[2 * j + 1] += k2[j]
            j += 1
        }
    }

    /// target[j·stride] += source[j] for j < count: stride 1 a contiguous
    /// run; stride 2 the even lanes of a block twice as long, its odd lanes
    /// stored back unchanged. The `room` floats from target on belong to the
    /// image being written (the thread's own), so a block may reach past the
    /// run into them; nothing beyond them is touched.
    @inline(__always)
    private func addRun(_ source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>, room: Int) {
        var j = 0
        switch stride {
        case 1:
            while j + 8 <= count {
                (SIMD8<Float>(loading: target + j) + SIMD8<Float>(loading: source + j)).store(to: target + j)
                j += 8
            }
            if j + 4 <= count {
                let sum = UnsafeRawPointer(target + j).loadUnaligned(as: SIMD4<Float>.self)
                    + UnsafeRawPointer(source + j).loadUnaligned(as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(target + j).storeBytes(of: sum, as: SIMD4<Float>.self)
                j += 4
            }
        case 2:
            while j + 8 <= count && 2 * j + 16 <= room {
                var pair = UnsafeRawPointer(target + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
                pair.evenHalf += SIMD8<Float>(loading: source + j)
                UnsafeMutableRawPointer(target + 2 * j).storeBytes(of: pair, as: SIMD16<Float>.self)
                j += 8
            }
            if j + 4 <= count && 2 * j + 8 <= room {
                var pair = UnsafeRawPointer(target + 2 * j).loadUnaligned(as: SIMD8<Float>.self)
                pair.evenHalf += UnsafeRawPointer(source + j).loadUnaligned(as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(target + 2 * j).storeBytes(of: pair, as: SIMD8<Float>.self)
                j += 4
            }
        default:
            break
        }
        while j < count {
            target[j * stride] += source[j]
            j += 1
        }
    }

    /// The walk of the gather: for each row of `columns` (channel c, kernel
    /// offset r) and each image b in `batch`, `body(plane, line, index, mask)`
    /// with channel c of image b, image b's P entries of that row, and the
    /// row's index and mask tables.
    @inline(__always)
    private func forEachPatchRow(_ images: Matrix, _ batch: Range<Int>, columns: UnsafeMutablePointer<Float>, rowStride: Int,
                                 _ body: (_ plane: UnsafeMutablePointer<Float>, _ line: UnsafeMutablePointer<Float>,
                                          _ index: UnsafePointer<Int32>, _ mask: UnsafePointer<UInt32>) -> Void) {
        let P = outputPixels, offsets = self.offsets.count, planeSize = height * width
        sourceIndex.withUnsafeBufferPointer { index in
            sourceMask.withUnsafeBufferPointer { mask in
                for c in 0..<channels {
                    for r in 0..<offsets {
                        let row = columns + (c * offsets + r) * rowStride
                        for b in batch {
                            body(images.row(b) + c * planeSize, row + b * P, index.baseAddress! + r * P, mask.baseAddress! + r * P)
                        }
                    }
                }
            }
        }
    }
}
