import CPNG

/// PNG through libpng's simplified API (`png_image_*`), which reports errors
/// in `png_image.message` instead of longjmp-ing through Swift frames.
public enum PNG {
    /// Any PNG (every colour type, bit depth 1–16, palette, transparency,
    /// interlacing) as 8-bit grey (colour converted by libpng). Transparent
    /// areas are composited over the background opposite to the ink (white
    /// under dark ink, black under light ink), so a digit drawn on a
    /// transparent canvas stays visible.
    public static func decode(_ bytes: [UInt8], path: String) throws -> GrayImage {
        let picture = try decode(bytes, path: path, color: false)
        return GrayImage(width: picture.width, height: picture.height, pixels: picture.pixels)
    }

    /// Any PNG as 8-bit grey or RGB, as the file is; transparency composited
    /// as for `decode`, judged by the ink's luma.
    public static func decodePicture(_ bytes: [UInt8], path: String) throws -> Picture {
        try decode(bytes, path: path, color: nil)
    }

    /// `color`: true for RGB, false for grey, nil for what the file holds.
    static func decode(_ bytes: [UInt8], path: String, color: Bool?) throws -> Picture {
        let checked = try withoutAncillaryChunks(bytes, path: path)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        // libpng reads from `checked` until png_image_finish_read: it must outlive that.
        defer { withExtendedLifetime(checked) { png_image_free(&image) } }
        let began = checked.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        let (width, height) = (Int(image.width), Int(image.height))
        try GrayImage.checkSize(width: width, height: height, path: path, format: "PNG")
        // deflate expands at most ~1032:1 and a pixel takes at least one bit, so
        // the file's size bounds what its header may honestly claim.
        guard width * height <= bytes.count * 8 * 1032 else {
            throw FileError(path, "PNG claims \(width)x\(height) pixels, more than its \(bytes.count) bytes can hold")
        }
        let isColor = color ?? (image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0)
        let channels = isColor ? 3 : 1
        // libpng's simplified API takes 16-bit samples as linear light and would
        // gamma-encode them on the way to 8 bits; reading them as 16-bit and
        // scaling keeps their levels as stored, like an 8-bit file's.
        let sixteenBit = image.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
        image.format = UInt32(PNG_FORMAT_FLAG_ALPHA) | (isColor ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0)
            | (sixteenBit ? UInt32(PNG_FORMAT_FLAG_LINEAR) : 0)
        let components = channels + 1, bytesPerSample = sixteenBit ? 2 : 1
        var buffer = [UInt8](repeating: 0, count: width * height * components * bytesPerSample)
        let finished = buffer.withUnsafeMutableBytes {
            // The row stride is counted in components (samples), not bytes.
            png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * components), nil)
        }
        guard finished != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        guard sixteenBit else { return composite(buffer, width: width, height: height, channels: channels) }
        // 16-bit output comes premultiplied by alpha: undo that, then 8 bits.
        var straight = [UInt8](repeating: 0, count: width * height * components)
        buffer.withUnsafeBytes { raw in
            for i in 0..<(width * height) {
                let alpha = Int(raw.load(fromByteOffset: 2 * (components * i + channels), as: UInt16.self))
                for c in 0..<channels {
                    let value = Int(raw.load(fromByteOffset: 2 * (components * i + c), as: UInt16.self))
                    let unpremultiplied = alpha > 0 ? min(65535, value * 65535 / alpha) : 0
                    straight[components * i + c] = UInt8((unpremultiplied + 128) / 257)
                }
                straight[components * i + channels] = UInt8((alpha + 128) / 257)
            }
        }
        return composite(straight, width: width, height: height, channels: channels)
    }

    /// Colour channels and alpha, interleaved, over the background that
    /// contrasts with the ink: the ink's alpha-weighted mean luma decides which.
    static func composite(_ values: [UInt8], width: Int, height: Int, channels: Int) -> Picture {
        let components = channels + 1, n = width * height
        func luma(_ i: Int) -> Double {
            channels == 1 ? Double(values[components * i])
                : 0.299 * Double(values[components * i]) + 0.587 * Double(values[components * i + 1]) + 0.114 * Double(values[components * i + 2])
        }
        var inkSum = 0.0, alphaSum = 0.0, transparent = false
        for i in 0..<n {
            let a = Double(values[components * i + channels])
            inkSum += a * luma(i)
            alphaSum += a
            if values[components * i + channels] < 255 { transparent = true }
        }
        let background: Double = alphaSum > 0 && inkSum / alphaSum < 128 ? 255 : 0
        var pixels = [UInt8](repeating: 0, count: n * channels)
        for i in 0..<n {
            let a = Double(values[components * i + channels]) / 255
            for c in 0..<channels {
                let v = values[components * i + c]
                pixels[channels * i + c] = transparent ? UInt8((a * Double(v) + (1 - a) * background).rounded()) : v
            }
        }
        return Picture(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// PNG chunks libpng's simplified API reads for the pixels; every other
    /// ancillary chunk (text, profiles, times…) is dropped before libpng
    /// sees the file, along with what it might allocate.
    static let chunksKept: Set<String> = ["tRNS", "gAMA", "cHRM", "sRGB"]

    /// The file with each chunk's claimed length checked against the bytes
    /// that follow it (libpng allocates what a text chunk claims before
    /// reading it: a 68-byte file claiming 1 GiB of text took 1 GiB), and
    /// the ancillary chunks it does not need dropped. A file that is not a
    /// PNG, or ends early, is passed on for libpng to report.
    static func withoutAncillaryChunks(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        guard bytes.starts(with: signature) else { return bytes }
        var out = signature, at = 8
        while at + 8 <= bytes.count {
            let length = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            let name = String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self)
            let left = bytes.count - at - 12
            guard length <= left else {
                throw FileError(path, "invalid PNG: chunk \(name) claims \(length) bytes, more than the \(max(left, 0)) left in the file")
            }
            let end = at + 12 + length
            let critical = bytes[at + 4] & 0x20 == 0
            if critical || chunksKept.contains(name) { out += bytes[at..<end] }
            at = end
            if name == "IEND" { return out }
        }
        return out + bytes[at...]
    }

    public static func encode(_ gray: GrayImage, path: String) throws -> [UInt8] {
        try encode(pixels: gray.pixels, width: gray.width, height: gray.height, channels: 1, path: path)
    }

    /// 8-bit grey (1 channel) or RGB (3 channels), row-major, no padding.
    ///
    /// Grey images are written unfiltered at zlib level 3 (libpng's
    /// PNG_IMAGE_FLAG_FAST), colour ones with libpng's adaptive filters at
    /// level 6: digits and their grids, mostly black with sharp strokes,
    /// come out smaller unfiltered, and in under half the time (`vae sample
    /// -n 64`'s 242x242 grid: 30,196 bytes against 31,342, 1.6 ms against
    /// 3.9), where a filter pays on smooth colour photographs.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, path: String) throws -> [UInt8] {
        try write(pixels: pixels, width: width, height: height, stride: width * channels,
                  format: channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : UInt32(PNG_FORMAT_GRAY), colormap: nil, fast: channels == 1, path: path)
    }

    /// A black-and-white image (true white), row-major, as a two-colour
    /// palette PNG: libpng packs a palette of at most two entries one bit
    /// per pixel.
    public static func encode(blackAndWhite pixels: [Bool], width: Int, height: Int, path: String) throws -> [UInt8] {
        let indices = pixels.map { $0 ? UInt8(1) : 0 }
        return try write(pixels: indices, width: width, height: height, stride: width,
                         format: UInt32(PNG_FORMAT_GRAY) | UInt32(PNG_FORMAT_FLAG_COLORMAP), colormap: [0, 255], fast: false, path: path)
    }

    /// `format` describes the pixels, or with PNG_FORMAT_FLAG_COLORMAP the
    /// entries of `colormap` (the pixels then being indices into it).
    private static func write(pixels: [UInt8], width: Int, height: Int, stride: Int, format: UInt32, colormap: [UInt8]?,
                              fast: Bool, path: String) throws -> [UInt8] {
        // libpng reads height · stride bytes whatever the array holds.
        guard width > 0, height > 0, pixels.count == height * stride else {
            throw FileError(path, "PNG encoding: \(pixels.count) bytes for a \(width)x\(height) image of \(stride) bytes a row")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = format
        image.colormap_entries = UInt32(colormap?.count ?? 0)
        image.flags = fast ? UInt32(PNG_IMAGE_FLAG_FAST) : 0
        defer { png_image_free(&image) }
        let stride = Int32(stride)
        // One write into libpng's own bound on the encoded size (the
        // measuring call would compress the image a second time).
        var size = Int(vae_png_image_size_max(&image))
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { source in
                (colormap ?? []).withUnsafeBytes { entries in
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, source.baseAddress, stride,
                                              colormap == nil ? nil : entries.baseAddress)
                }
            }
        }
        guard written != 0, size <= out.count else { throw FileError(path, "PNG encoding failed: \(message(&image))") }
        return Array(out.prefix(size))
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
