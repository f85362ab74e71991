/// An 8-bit grey image, row-major: what PNG and PGM files hold for `vae`.
public struct GrayImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Largest image accepted from a file: beyond it a header is taken as
    /// hostile, before any pixel buffer is allocated. Decoding one of 4
    /// megapixels takes at most 32 MiB (16-bit RGBA), so no file, whatever
    /// it claims, makes `vae` use much more than that.
    public static let maximumSide = 8192
    public static let maximumPixels = 4 << 20

    static func checkSize(width: Int, height: Int, path: String, format: String) throws {
        guard (1...maximumSide).contains(width), (1...maximumSide).contains(height) else {
            throw FileError(path, "\(format) is \(width)x\(height), outside 1...\(maximumSide) pixels per side")
        }
        guard width * height <= maximumPixels else {
            throw FileError(path, "\(format) is \(width)x\(height), more than the \(maximumPixels / (1 << 20)) megapixel limit")
        }
    }

    public static func read(path: String) throws -> GrayImage {
        try read(bytes: readFile(path, limit: 256 << 20), path: path)
    }

    /// A PNG or PGM image from its bytes; `path` names it in errors.
    public static func read(bytes: [UInt8], path: String) throws -> GrayImage {
        if bytes.starts(with: [0x89, 0x50, 0x4e, 0x47]) { return try PNG.decode(bytes, path: path) }
        if bytes.starts(with: [0x50, 0x35]) || bytes.starts(with: [0x50, 0x32]) { return try PGM.decode(bytes, path: path) }
        throw FileError(path, "not a PNG or PGM image (unrecognised first bytes)")
    }

    /// Writes the image atomically, as PNG or binary PGM by the file's extension.
    public func write(path: String) throws {
        let lower = path.lowercased()
        let bytes: [UInt8]
        if lower.hasSuffix(".png") {
            bytes = try PNG.encode(self, path: path)
        } else if lower.hasSuffix(".pgm") {
            bytes = PGM.encode(self)
        } else {
            throw FileError(path, "unknown image format: use a .png or .pgm extension")
        }
        try AtomicFile.write(bytes, to: path)
    }
}
