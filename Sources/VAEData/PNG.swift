import CPNG

/// PNG through libpng's simplified API (`png_image_*`), which reports errors
/// in `png_image.message` instead of longjmp-ing through Swift frames.
public enum PNG {
    public static func decode(_ bytes: [UInt8], path: String) throws -> GrayImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        let width = Int(image.width), height = Int(image.height)
        guard (1...GrayImage.maximumSide).contains(width), (1...GrayImage.maximumSide).contains(height) else {
            throw FileError(path, "PNG is \(width)x\(height), outside 1...\(GrayImage.maximumSide) per side")
        }
        // Colour is converted to grey, alpha composited on black, 16 bits reduced to 8.
        image.format = UInt32(PNG_FORMAT_GRAY)
        var pixels = [UInt8](repeating: 0, count: width * height)
        let finished = pixels.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, Int32(width), nil)
        }
        guard finished != 0 else { throw FileError(path, "invalid PNG: \(message(&image))") }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    public static func encode(_ gray: GrayImage, path: String) throws -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(gray.width)
        image.height = UInt32(gray.height)
        image.format = UInt32(PNG_FORMAT_GRAY)
        defer { png_image_free(&image) }
        var size = 0
        // First call measures, second writes.
        let measured = gray.pixels.withUnsafeBytes {
            png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, Int32(gray.width), nil)
        }
        guard measured != 0, size > 0 else { throw FileError(path, "PNG encoding failed: \(message(&image))") }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            gray.pixels.withUnsafeBytes {
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, Int32(gray.width), nil)
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
