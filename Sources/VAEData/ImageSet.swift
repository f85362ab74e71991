/// Grey images kept as bytes (a quarter of Float32's memory), with optional
/// labels. Batches are converted to Float32 in [0, 1] as they are drawn.
public struct ImageSet {
    public private(set) var pixels: [UInt8]
    public let count: Int
    public let rows: Int
    public let columns: Int
    public var labels: [UInt8]?

    public init(pixels: [UInt8], count: Int, rows: Int, columns: Int, labels: [UInt8]? = nil) {
        precondition(pixels.count == count * rows * columns)
        self.pixels = pixels
        self.count = count
        self.rows = rows
        self.columns = columns
        self.labels = labels
    }

    public var pixelsPerImage: Int { rows * columns }

    /// Writes images `indices` as rows of `destination` (indices.count × pixelsPerImage), x/255.
    public func gather<C: Collection>(_ indices: C, into destination: UnsafeMutablePointer<Float>) where C.Element == Int {
        let d = pixelsPerImage
        let scale: Float = 1 / 255
        pixels.withUnsafeBufferPointer { src in
            var out = destination
            for i in indices {
                let row = src.baseAddress! + i * d
                for j in 0..<d { out[j] = Float(row[j]) * scale }
                out += d
            }
        }
    }

    /// The images whose indices are given, in that order (labels kept).
    public func subset<C: Collection>(_ indices: C) -> ImageSet where C.Element == Int {
        let d = pixelsPerImage
        var out = [UInt8]()
        out.reserveCapacity(indices.count * d)
        for i in indices { out += pixels[(i * d)..<((i + 1) * d)] }
        return ImageSet(pixels: out, count: indices.count, rows: rows, columns: columns,
                        labels: labels.map { l in indices.map { l[$0] } })
    }
}
