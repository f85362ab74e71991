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

    /// columns[(c·k + ky)·k + kx, oy·outWidth + ox] = image[c, oy·s − p + ky, ox·s − p + kx] (0 outside).
    public func im2col(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>) {
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let out = columns + row * outputPixels
                    for oy in 0..<outHeight {
                        let y = oy * stride - padding + ky
                        for ox in 0..<outWidth {
                            let x = ox * stride - padding + kx
                            out[oy * outWidth + ox] = (y >= 0 && y < height && x >= 0 && x < width) ? plane[y * width + x] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back to the image pixel it came from.
    public func col2im(_ columns: UnsafePointer<Float>, addingInto image: UnsafeMutablePointer<Float>) {
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let src = columns + row * outputPixels
                    for oy in 0..<outHeight {
                        let y = oy * stride - padding + ky
                        guard y >= 0 && y < height else { continue }
                        for ox in 0..<outWidth {
                            let x = ox * stride - padding + kx
                            if x >= 0 && x < width { plane[y * width + x] += src[oy * outWidth + ox] }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
