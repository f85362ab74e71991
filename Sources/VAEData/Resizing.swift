/// Pictures of any size made into images of one shape: planes of
/// intensities (C, H, W) in [0, 1].
///
/// Each axis is resampled on its own (first along rows, then along
/// columns). Shrinking averages areas: output pixel j is the mean of the
/// source interval [j·n/m, (j+1)·n/m) it covers, partial pixels weighted by
/// their overlap, so nothing aliases. Growing is bilinear, sampling the
/// source at (j + ½)·n/m − ½ (the pixel-centre convention of PIL and
/// OpenCV). Colour becomes grey by luma, grey becomes colour by repetition
/// (`Picture.planes`).
public enum Resizing {
    /// How a picture of another size fits the shape.
    public enum Mode: String, Sendable {
        /// Resample to the shape (aspect ratio not kept).
        case scale
        /// The central window of the shape's size, unscaled.
        case crop
    }

    /// `picture` as planes of `shape`; `path` names it in errors.
    public static func planes(_ picture: Picture, to shape: ImageShape, mode: Mode = .scale, path: String) throws -> [Float] {
        if picture.width == shape.width && picture.height == shape.height { return picture.planes(channels: shape.channels) }
        switch mode {
        case .crop:
            guard picture.width >= shape.width && picture.height >= shape.height else {
                throw FileError(path, "is \(picture.height)x\(picture.width), smaller than the \(shape.height)x\(shape.width) crop")
            }
            let x0 = (picture.width - shape.width) / 2, y0 = (picture.height - shape.height) / 2
            var window = [UInt8](repeating: 0, count: shape.height * shape.width * picture.channels)
            for y in 0..<shape.height {
                let from = ((y0 + y) * picture.width + x0) * picture.channels
                window.replaceSubrange((y * shape.width * picture.channels)..<((y + 1) * shape.width * picture.channels),
                                       with: picture.pixels[from..<(from + shape.width * picture.channels)])
            }
            return Picture(width: shape.width, height: shape.height, channels: picture.channels, pixels: window)
                .planes(channels: shape.channels)
        case .scale:
            let columns = taps(from: picture.width, to: shape.width), rows = taps(from: picture.height, to: shape.height)
            let source = picture.planes(channels: shape.channels)
            let (n, m) = (picture.width * picture.height, shape.width * shape.height)
            var out = [Float](repeating: 0, count: shape.values)
            var across = [Float](repeating: 0, count: picture.height * shape.width)
            for c in 0..<shape.channels {
                // Along each row, then down each column.
                for y in 0..<picture.height {
                    for (x, taps) in columns.enumerated() {
                        var s: Float = 0
                        for tap in taps { s += tap.weight * source[c * n + y * picture.width + tap.index] }
                        across[y * shape.width + x] = s
                    }
                }
                for (y, taps) in rows.enumerated() {
                    for x in 0..<shape.width {
                        var s: Float = 0
                        for tap in taps { s += tap.weight * across[tap.index * shape.width + x] }
                        out[c * m + y * shape.width + x] = s
                    }
                }
            }
            return out
        }
    }

    /// One source index and its weight in an output value.
    struct Tap {
        let index: Int
        let weight: Float
    }

    /// The taps of each of `m` outputs resampled from `n` inputs (weights sum to 1).
    static func taps(from n: Int, to m: Int) -> [[Tap]] {
        let scale = Double(n) / Double(m)
        return (0..<m).map { j in
            if m < n {
                // The covered interval [a, b), each source pixel weighted by its overlap.
                let (a, b) = (Double(j) * scale, Double(j + 1) * scale)
                return (Int(a)..<min(n, Int(b.rounded(.up)))).compactMap { i in
                    let overlap = min(b, Double(i + 1)) - max(a, Double(i))
                    return overlap > 0 ? Tap(index: i, weight: Float(overlap / scale)) : nil
                }
            }
            let x = min(max((Double(j) + 0.5) * scale - 0.5, 0), Double(n - 1))
            let i = Int(x), t = x - Double(i)
            return i + 1 < n && t > 0 ? [Tap(index: i, weight: Float(1 - t)), Tap(index: i + 1, weight: Float(t))] : [Tap(index: i, weight: 1)]
        }
    }
}
