/// Netpbm grey maps: binary P5 (written and read) and plain-text P2 (read),
/// 8- or 16-bit; levels are rescaled from 0...maxval to 0...255.
public enum PGM {
    public static func encode(_ image: GrayImage) -> [UInt8] {
        Array("P5\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> GrayImage {
        var reader = HeaderReader(bytes: bytes, path: path)
        let magic = try reader.token()
        guard magic == "P5" || magic == "P2" else { throw FileError(path, "not a PGM file (magic \(magic))") }
        let width = try reader.number(max: GrayImage.maximumSide, what: "width")
        let height = try reader.number(max: GrayImage.maximumSide, what: "height")
        let maxval = try reader.number(max: 65535, what: "maxval")
        guard maxval > 0 else { throw FileError(path, "PGM maxval is 0") }
        try GrayImage.checkSize(width: width, height: height, path: path, format: "PGM")
        let n = width * height
        // Checked against the bytes present before the pixel buffer is made.
        let bytesPerPixel = maxval > 255 ? 2 : 1
        let available = bytes.count - reader.position - 1
        guard magic == "P2" ? n <= (available + 1) / 2 : n * bytesPerPixel <= available else {
            throw FileError(path, "truncated: \(width)x\(height) pixels need \(magic == "P2" ? 2 * n : n * bytesPerPixel) bytes, found \(max(0, available))")
        }
        var pixels = [UInt8](repeating: 0, count: n)
        func scaled(_ v: Int) throws -> UInt8 {
            guard v <= maxval else { throw FileError(path, "pixel value \(v) exceeds maxval \(maxval)") }
            return UInt8((v * 255 + maxval / 2) / maxval)
        }
        if magic == "P5" {
            reader.position += 1   // the single whitespace after maxval
            for i in 0..<n {
                let at = reader.position + i * bytesPerPixel
                let v = bytesPerPixel == 1 ? Int(bytes[at]) : Int(bytes[at]) << 8 | Int(bytes[at + 1])
                pixels[i] = try scaled(v)
            }
        } else {
            for i in 0..<n { pixels[i] = try scaled(reader.number(max: 65535, what: "pixel \(i)")) }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Whitespace-separated header tokens, skipping `#` comments.
    struct HeaderReader {
        let bytes: [UInt8]
        let path: String
        var position = 0

        init(bytes: [UInt8], path: String) { self.bytes = bytes; self.path = path }

        mutating func token() throws -> String {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 10 { position += 1 }
                } else if isSpace(bytes[position]) {
                    position += 1
                } else { break }
            }
            let start = position
            while position < bytes.count && !isSpace(bytes[position]) && position - start < 16 { position += 1 }
            guard position > start else { throw FileError(path, "truncated PGM header") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func number(max: Int, what: String) throws -> Int {
            let t = try token()
            guard let v = Int(t), v >= 0 else { throw FileError(path, "PGM \(what) is not a number: \(t)") }
            guard v <= max else { throw FileError(path, "PGM \(what) \(v) is above the limit \(max)") }
            return v
        }

        private func isSpace(_ c: UInt8) -> Bool { c == 32 || (9...13).contains(c) }
    }
}
