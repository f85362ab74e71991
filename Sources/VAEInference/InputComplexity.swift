import Foundation
import VAEData

/// L(x) of the complexity-corrected score (Serrà et al., ICLR 2020, §3): the
/// length of the image under a lossless general-purpose compressor, in nats
/// (bytes · 8 · ln 2), so it subtracts from −log p(x) in the same unit.
///
/// The compressor is PNG through libpng, which `vae` links for its pictures:
/// the image as 8-bit levels (what the pixels were before they became
/// intensities), each row filtered by libpng's adaptive choice of predictor
/// and the whole deflated by zlib. Serrà et al. compared PNG, JPEG2000 and
/// FLIF and found the ordering of the corrected scores much the same; PNG's
/// fixed overhead (signature, header and end chunks: the same bytes for every
/// image of one shape) shifts every score alike and changes no ranking.
public func compressedLength(of pixels: [Float], shape: ImageShape) -> Double {
    let count = shape.height * shape.width
    var levels = [UInt8](repeating: 0, count: pixels.count)
    // Planes (C, H, W) to interleaved pixels, as PNG stores them.
    for c in 0..<shape.channels {
        for i in 0..<count {
            levels[i * shape.channels + c] = UInt8(max(0, min(255, (pixels[c * count + i] * 255).rounded())))
        }
    }
    let length = (try? PNG.encode(pixels: levels, width: shape.width, height: shape.height, channels: shape.channels, path: "L(x)"))?.count
        ?? levels.count
    return Double(8 * length) * log(2)
}
