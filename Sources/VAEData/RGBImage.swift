/// An 8-bit RGB image, row-major, 3 bytes a pixel: what plots are drawn on.
public struct RGBImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = fill.r; pixels[3 * i + 1] = fill.g; pixels[3 * i + 2] = fill.b }
    }

    /// Sets one pixel; points outside the image are ignored (drawing clips).
    public mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    public func get(_ x: Int, _ y: Int) -> RGB {
        let i = 3 * (y * width + x)
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Writes the image atomically as PNG (or as a grey PGM, by extension).
    public func write(path: String) throws {
        if path.lowercased().hasSuffix(".png") {
            try AtomicFile.write(try PNG.encode(self, path: path), to: path)
        } else {
            let grey = (0..<(width * height)).map { i -> UInt8 in
                let c = get(i % width, i / width)
                let (r, g, b) = (Double(c.r), Double(c.g), Double(c.b))
                let luma: Double = 0.299 * r + 0.587 * g + 0.114 * b
                return UInt8(luma.rounded())
            }
            try GrayImage(width: width, height: height, pixels: grey).write(path: path)
        }
    }
}

public struct RGB: Equatable {
    public let r, g, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let grey = RGB(128, 128, 128)
    public static let lightGrey = RGB(225, 225, 225)
}
