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

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        precondition(channels > 0 && kernel > 0 && stride > 0 && padding >= 0)
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
        precondition(outHeight > 0 && outWidth > 0, "kernel larger than the padded image")
    }

    public var patchSize: Int { channels * kernel * kernel }
    public var outputPixels: Int { outHeight * outWidth }
    public var inputSize: Int { channels * height * width }

    /// The output columns ox whose input column ox·stride − padding + kx lies
    /// inside the image: the loops below copy those and zero the rest, with no
    /// test per pixel.
    @inline(__always)
    func validColumns(kx: Int) -> Range<Int> {
        // ox·s ≥ p − kx  and  ox·s ≤ width − 1 + p − kx
        let low = max(0, (padding - kx + self.stride - 1) / self.stride)
        let highNumerator = width - 1 + padding - kx
        let high = highNumerator < 0 ? -1 : min(outWidth - 1, highNumerator / self.stride)
        return low <= high ? low..<(high + 1) : 0..<0
    }

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
        let s = self.stride, P = outputPixels
        var row = 0
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let valid = validColumns(kx: kx)
                    for b in batch {
                        let plane = images.row(b) + c * height * width
                        let out = columns + row * rowStride + b * P
                        for oy in 0..<outHeight {
                            let y = oy * s - padding + ky
                            let line = out + oy * outWidth
                            guard y >= 0 && y < height && !valid.isEmpty else {
                                line.update(repeating: 0, count: outWidth)
                                continue
                            }
                            line.update(repeating: 0, count: valid.lowerBound)
                            (line + valid.upperBound).update(repeating: 0, count: outWidth - valid.upperBound)
                            let source = plane + y * width - padding + kx
                            var ox = valid.lowerBound   // wrapping arithmetic: no overflow checks in the innermost loop
                            while ox < valid.upperBound { line[ox] = source[ox &* s]; ox &+= 1 }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back to the pixel of
    /// image b (a row of `images`) it came from, for the images in `batch`.
    /// Each pixel receives its terms in the same order (row by row) as when
    /// the images were taken one at a time.
    public func col2im(_ columns: UnsafePointer<Float>, rowStride: Int, addingInto images: Matrix, _ batch: Range<Int>) {
        let s = self.stride, P = outputPixels
        var row = 0
        for c in 0..<channels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let valid = validColumns(kx: kx)
                    for b in batch {
                        let plane = images.row(b) + c * height * width
                        let src = columns + row * rowStride + b * P
                        for oy in 0..<outHeight {
                            let y = oy * s - padding + ky
                            guard y >= 0 && y < height else { continue }
                            let line = src + oy * outWidth, target = plane + y * width - padding + kx
                            var ox = valid.lowerBound
                            while ox < valid.upperBound { target[ox &* s] += line[ox]; ox &+= 1 }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}

/// A batch of images passes between layers as (B, C·P): image by image, each
/// channel's P pixels contiguous. One product per batch wants (C, B·P):
/// channel by channel, the batch's images side by side. These copy between the two.
enum ChannelMajor {
    /// dst[c, b·P + i] = src[b, c·P + i].
    static func gather(_ src: Matrix, channels: Int, into dst: UnsafeMutablePointer<Float>) {
        let plane = src.columns / channels, width = src.rows * plane
        parallelRows(src.rows, workPerRow: src.columns) { images in
            for b in images {
                for c in 0..<channels {
                    (dst + c * width + b * plane).update(from: src.row(b) + c * plane, count: plane)
                }
            }
        }
    }

    /// dst[b, c·P + i] = src[c, b·P + i].
    static func scatter(_ src: UnsafePointer<Float>, channels: Int, into dst: Matrix) {
        let plane = dst.columns / channels, width = dst.rows * plane
        parallelRows(dst.rows, workPerRow: dst.columns) { images in
            for b in images {
                for c in 0..<channels {
                    (dst.row(b) + c * plane).update(from: src + c * width + b * plane, count: plane)
                }
            }
        }
    }
}
