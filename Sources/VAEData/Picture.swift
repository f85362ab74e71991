/// An 8-bit image of one channel (grey) or three (RGB), row-major with the
/// channels of a pixel together: what image files hold, and what `vae` writes.
public struct Picture: Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition((channels == 1 || channels == 3) && pixels.count == width * height * channels)
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public init(_ gray: GrayImage) { self.init(width: gray.width, height: gray.height, channels: 1, pixels: gray.pixels) }

    public var isColor: Bool { channels == 3 }

    /// A PNG (grey or colour, as the file is; any bit depth, palette,
    /// transparency) or PGM file.
    public static func read(path: String) throws -> Picture {
        let bytes = try readFile(path, limit: 256 << 20)
        if bytes.starts(with: [0x89, 0x50, 0x4e, 0x47]) { return try PNG.decodePicture(bytes, path: path) }
        return Picture(try GrayImage.read(bytes: bytes, path: path))
    }

    /// Writes the picture atomically: PNG for any, binary PGM for grey only.
    /// `durable: false` for one of many files written in one go (AtomicFile).
    public func write(path: String, durable: Bool = true) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".png") {
            try AtomicFile.write(try PNG.encode(pixels: pixels, width: width, height: height, channels: channels, path: path),
                                 to: path, durable: durable)
        } else if lower.hasSuffix(".pgm") {
            guard channels == 1 else { throw FileError(path, "PGM holds grey images only; write colour to a .png file") }
            try AtomicFile.write(PGM.encode(GrayImage(width: width, height: height, pixels: pixels)), to: path, durable: durable)
        } else {
            throw FileError(path, "unknown image format: use a .png or .pgm extension")
        }
    }

    /// The image as `channels` planes of intensities in [0, 1] (C, H, W):
    /// grey repeated into three channels, or colour to grey by luma
    /// (Rec. 601, as libpng and PIL convert).
    public func planes(channels out: Int) -> [Float] {
        let n = width * height
        var planes = [Float](repeating: 0, count: out * n)
        for i in 0..<n {
            if channels == 1 {
                let v = Float(pixels[i]) / 255
                for c in 0..<out { planes[c * n + i] = v }
            } else if out == 3 {
                for c in 0..<3 { planes[c * n + i] = Float(pixels[3 * i + c]) / 255 }
            } else {
                let (r, g, b) = (Float(pixels[3 * i]), Float(pixels[3 * i + 1]), Float(pixels[3 * i + 2]))
                planes[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255
            }
        }
        return planes
    }

    /// Planes of intensities (C, H, W; values clamped to [0, 1]) as an 8-bit
    /// picture, each value rounded.
    public init(planes: [Float], shape: ImageShape) {
        let n = shape.height * shape.width
        precondition(planes.count == shape.values)
        var pixels = [UInt8](repeating: 0, count: shape.values)
        for i in 0..<n {
            for c in 0..<shape.channels { pixels[i * shape.channels + c] = Self.level(planes[c * n + i]) }
        }
        self.init(width: shape.width, height: shape.height, channels: shape.channels, pixels: pixels)
    }

    /// One intensity in [0, 1] (clamped) as an 8-bit level, rounded.
    @inline(__always)
    public static func level(_ intensity: Float) -> UInt8 {
        UInt8((min(max(intensity, 0), 1) * 255).rounded())
    }
}
