import CPNG

/// PNG through libpng's simplified API (`png_image_*`), which reports errors
/// in `png_image.message` instead of longjmp-ing through Swift frames.
public enum PNG {
    /// Any PNG (every colour type, bit depth 1–16, palette, transparency,
    /// interlacing) as 8-bit grey. Transparent areas are composited over the
    /// background opposite to the ink (white under dark ink, black under light
    /// ink), so a digit drawn on a transparent canvas stays visible.
    public static func decode(_ bytes: [UInt8], path: String) throws -> GrayImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        let (width, height) = (Int(image.width), Int(image.height))
        try GrayImage.checkSize(width: width, height: height, path: path, format: "PNG")
        // deflate expands at most ~1032:1 and a pixel takes at least one bit, so
        // the file's size bounds what its header may honestly claim.
        guard width * height <= bytes.count * 8 * 1032 else {
            throw FileError(path, "PNG claims \(width)x\(height) pixels, more than its \(bytes.count) bytes can hold")
        }
        // libpng's simplified API takes 16-bit samples as linear light and would
        // gamma-encode them on the way to 8 bits; reading them as 16-bit and
        // scaling keeps their levels as stored, like an 8-bit file's.
        let sixteenBit = image.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
        image.format = UInt32(PNG_FORMAT_FLAG_ALPHA) | (sixteenBit ? UInt32(PNG_FORMAT_FLAG_LINEAR) : 0)
        let bytesPerSample = sixteenBit ? 2 : 1
        var buffer = [UInt8](repeating: 0, count: width * height * 2 * bytesPerSample)
        let finished = buffer.withUnsafeMutableBytes {
            // The row stride is counted in components (samples), not bytes.
            png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * 2), nil)
        }
        guard finished != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        guard sixteenBit else { return composite(buffer, width: width, height: height) }
        // 16-bit output comes with grey premultiplied by alpha: undo that, then 8 bits.
        var greyAlpha = [UInt8](repeating: 0, count: width * height * 2)
        buffer.withUnsafeBytes { raw in
            for i in 0..<(width * height) {
                let grey = Int(raw.load(fromByteOffset: 4 * i, as: UInt16.self))
                let alpha = Int(raw.load(fromByteOffset: 4 * i + 2, as: UInt16.self))
                let straight = alpha > 0 ? min(65535, grey * 65535 / alpha) : 0
                greyAlpha[2 * i] = UInt8((straight + 128) / 257)
                greyAlpha[2 * i + 1] = UInt8((alpha + 128) / 257)
            }
        }
        return composite(greyAlpha, width: width, height: height)
    }

    /// Grey+alpha pairs over the background that contrasts with the ink:
    /// the ink's alpha-weighted mean level decides which.
    static func composite(_ ga: [UInt8], width: Int, height: Int) -> GrayImage {
        var inkSum = 0.0, alphaSum = 0.0, transparent = false
        for i in 0..<(width * height) {
            let a = Double(ga[2 * i + 1])
            inkSum += a * Double(ga[2 * i])
            alphaSum += a
            if ga[2 * i + 1] < 255 { transparent = true }
        }
        let background: Double = alphaSum > 0 && inkSum / alphaSum < 128 ? 255 : 0
        let pixels = (0..<(width * height)).map { i -> UInt8 in
            guard transparent else { return ga[2 * i] }
            let a = Double(ga[2 * i + 1]) / 255
            return UInt8((a * Double(ga[2 * i]) + (1 - a) * background).rounded())
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    public static func encode(_ gray: GrayImage, path: String) throws -> [UInt8] {
        try encode(pixels: gray.pixels, width: gray.width, height: gray.height, channels: 1, path: path)
    }

    public static func encode(_ rgb: RGBImage, path: String) throws -> [UInt8] {
        try encode(pixels: rgb.pixels, width: rgb.width, height: rgb.height, channels: 3, path: path)
    }

    /// 8-bit grey (1 channel) or RGB (3 channels), row-major, no padding.
    static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, path: String) throws -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : UInt32(PNG_FORMAT_GRAY)
        defer { png_image_free(&image) }
        let stride = Int32(width * channels)
        var size = 0
        // First call measures, second writes.
        let measured = pixels.withUnsafeBytes {
            png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil)
        }
        guard measured != 0, size > 0 else { throw FileError(path, "PNG encoding failed: \(message(&image))") }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes {
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw FileError(path, "PNG encoding failed: \(message(&image))") }
        return Array(out.prefix(size))
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
