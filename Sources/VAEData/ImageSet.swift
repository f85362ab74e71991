/// Images of one shape kept as bytes (a quarter of Float32's memory), with
/// optional labels and the names of their classes. Batches are converted to
/// Float32 in [0, 1] as they are drawn.
public struct ImageSet {
    public private(set) var pixels: [UInt8]
    public let count: Int
    public let shape: ImageShape
    public var labels: [UInt8]?
    /// Class c's name, for data sets whose classes have names (a folder's
    /// subfolders); nil when the labels are plain numbers (MNIST's digits).
    public var classNames: [String]?

    public init(pixels: [UInt8], count: Int, shape: ImageShape, labels: [UInt8]? = nil, classNames: [String]? = nil) {
        precondition(pixels.count == count * shape.values)
        self.pixels = pixels
        self.count = count
        self.shape = shape
        self.labels = labels
        self.classNames = classNames
    }

    /// Grey images of `rows` x `columns`.
    public init(pixels: [UInt8], count: Int, rows: Int, columns: Int, labels: [UInt8]? = nil) {
        self.init(pixels: pixels, count: count, shape: ImageShape(height: rows, width: columns), labels: labels)
    }

    public var rows: Int { shape.height }
    public var columns: Int { shape.width }
    /// Values per image (C·H·W).
    public var pixelsPerImage: Int { shape.values }

    /// Each value's mean over the set, x/255 as `gather` gives it.
    public var meanValues: [Double] {
        let d = pixelsPerImage
        let scale: Float = 1 / 255
        var sums = [Double](repeating: 0, count: d)
        pixels.withUnsafeBufferPointer { src in
            for i in 0..<count {
                let row = src.baseAddress! + i * d
                for j in 0..<d { sums[j] += Double(Float(row[j]) * scale) }
            }
        }
        return sums.map { $0 / Double(count) }
    }

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

    /// Image i moved by (dx, dy) pixels (right and down), x/255, the uncovered
    /// border zero (the background of MNIST-like digits): a shifted copy for
    /// training on.
    public func gather(_ i: Int, movedBy shift: (dx: Int, dy: Int), into out: UnsafeMutablePointer<Float>) {
        pixels.withUnsafeBufferPointer { pixels in
            Self.intensities(of: pixels.baseAddress! + i * pixelsPerImage, shape: shape, movedBy: shift, into: out)
        }
    }

    /// One image's bytes (channel, row, column) moved by (dx, dy), x/255, the uncovered border zero.
    static func intensities(of source: UnsafePointer<UInt8>, shape: ImageShape, movedBy shift: (dx: Int, dy: Int),
                            into out: UnsafeMutablePointer<Float>) {
        let (h, w) = (shape.height, shape.width), (dx, dy) = shift
        let scale: Float = 1 / 255
        out.update(repeating: 0, count: shape.values)
        guard abs(dx) < w && abs(dy) < h else { return }   // moved out of the frame
        for c in 0..<shape.channels {
            for y in max(0, dy)..<min(h, h + dy) {
                let from = source + (c * h + y - dy) * w, to = out + (c * h + y) * w
                for x in max(0, dx)..<min(w, w + dx) { to[x] = Float(from[x - dx]) * scale }
            }
        }
    }

    /// Image i as intensities in [0, 1] (x/255).
    public func intensities(_ i: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: pixelsPerImage) { out, n in
            gather(CollectionOfOne(i), into: out.baseAddress!)
            n = pixelsPerImage
        }
    }

    /// The images whose indices are given, in that order (labels and class names kept).
    public func subset<C: Collection>(_ indices: C) -> ImageSet where C.Element == Int {
        let d = pixelsPerImage
        var out = [UInt8]()
        out.reserveCapacity(indices.count * d)
        for i in indices { out += pixels[(i * d)..<((i + 1) * d)] }
        return ImageSet(pixels: out, count: indices.count, shape: shape,
                        labels: labels.map { l in indices.map { l[$0] } }, classNames: classNames)
    }

    /// The name of class `label`: its folder's name, or the number itself.
    public func className(_ label: Int) -> String {
        classNames.flatMap { label < $0.count ? $0[label] : nil } ?? String(label)
    }

    /// Image i as a picture (its planes interleaved, as files hold them).
    public func picture(_ i: Int) -> Picture {
        let n = shape.height * shape.width, channels = shape.channels
        var interleaved = [UInt8](repeating: 0, count: pixelsPerImage)
        for p in 0..<n { for c in 0..<channels { interleaved[p * channels + c] = pixels[i * pixelsPerImage + c * n + p] } }
        return Picture(width: shape.width, height: shape.height, channels: channels, pixels: interleaved)
    }
}
