/// Turns a picture of a digit into what an MNIST model expects: 28x28, ink
/// bright on a black background, in [0, 1]. The recipe is the one MNIST was
/// made with (LeCun et al.): the digit's bounding box is scaled so its longer
/// side is 20 pixels, keeping its aspect ratio, with antialiasing, and placed
/// in a 28x28 field so that its centre of mass is at the centre.
///
/// Steps, for an image that is not already 28x28:
/// 1. Polarity: the border's mean level is the background; a light background
///    is inverted, so ink becomes bright as in MNIST.
/// 2. Levels are stretched so the background maps to 0 and the brightest ink to 1.
/// 3. Crop to the bounding box of the ink (pixels above 5% after step 2).
/// 4. Scale the longer side to 20 px by area averaging (each output pixel is the
///    mean of the source area it covers: antialiased when shrinking).
/// 5. Place in 28x28 with the centre of mass on pixel (14, 14), counting from 0
///    (where MNIST's own digits have it), shifted by whole pixels.
/// A 28x28 image only gets step 1. `raw` skips everything and requires 28x28.
public enum DigitPreprocessing {
    public static let side = 28
    public static let box = 20

    public static func prepare(_ image: GrayImage, path: String, raw: Bool = false) throws -> [Float] {
        var v = image.pixels.map { Float($0) / 255 }
        if raw {
            guard image.width == side, image.height == side else {
                throw FileError(path, "is \(image.width)x\(image.height); --raw needs 28x28 images")
            }
            return v
        }
        let (w, h) = (image.width, image.height)
        let background = borderMean(v, width: w, height: h)
        if background > 0.5 { v = v.map { 1 - $0 } }
        if w == side && h == side { return v }

        let floor = min(background, 1 - background)
        let peak = v.max() ?? 0
        guard peak - floor > 0.1 else { throw FileError(path, "no digit found: the image is blank (no contrast)") }
        v = v.map { min(max(($0 - floor) / (peak - floor), 0), 1) }

        // Bounding box of the ink.
        var (x0, y0, x1, y1) = (w, h, -1, -1)
        for y in 0..<h { for x in 0..<w where v[y * w + x] > 0.05 {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
        } }
        let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1)
        var cropped = [Float](repeating: 0, count: cw * ch)
        for y in 0..<ch { for x in 0..<cw { cropped[y * cw + x] = v[(y + y0) * w + x + x0] } }

        // Longer side to 20 px.
        let scale = Double(box) / Double(max(cw, ch))
        let (sw, sh) = (max(1, Int((Double(cw) * scale).rounded())), max(1, Int((Double(ch) * scale).rounded())))
        let scaled = resample(cropped, width: cw, height: ch, toWidth: sw, toHeight: sh)

        // Centre of mass to the centre of the field.
        var (mass, mx, my) = (0.0, 0.0, 0.0)
        for y in 0..<sh { for x in 0..<sw {
            let m = Double(scaled[y * sw + x])
            mass += m; mx += m * Double(x); my += m * Double(y)
        } }
        let dx = Int((Double(side) / 2 - mx / mass).rounded())
        let dy = Int((Double(side) / 2 - my / mass).rounded())
        var out = [Float](repeating: 0, count: side * side)
        for y in 0..<sh { for x in 0..<sw {
            let (tx, ty) = (x + dx, y + dy)
            if tx >= 0, ty >= 0, tx < side, ty < side { out[ty * side + tx] = scaled[y * sw + x] }
        } }
        return out
    }

    static func borderMean(_ v: [Float], width w: Int, height h: Int) -> Float {
        var sum: Float = 0, n = 0
        for x in 0..<w { sum += v[x] + v[(h - 1) * w + x]; n += 2 }
        for y in 0..<h { sum += v[y * w] + v[y * w + w - 1]; n += 2 }
        return sum / Float(n)
    }

    /// Area-averaging resampling, one axis at a time.
    static func resample(_ v: [Float], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [Float] {
        let columns = weights(from: width, to: toWidth), rows = weights(from: height, to: toHeight)
        var horizontal = [Float](repeating: 0, count: toWidth * height)
        for y in 0..<height {
            for (x, taps) in columns.enumerated() {
                horizontal[y * toWidth + x] = taps.reduce(0) { $0 + $1.weight * v[y * width + $1.index] }
            }
        }
        var out = [Float](repeating: 0, count: toWidth * toHeight)
        for (y, taps) in rows.enumerated() {
            for x in 0..<toWidth {
                out[y * toWidth + x] = taps.reduce(0) { $0 + $1.weight * horizontal[$1.index * toWidth + x] }
            }
        }
        return out
    }

    /// For each of `m` output cells along an axis of `n` source cells, the
    /// source cells it overlaps and the fraction of the output cell each covers.
    static func weights(from n: Int, to m: Int) -> [[(index: Int, weight: Float)]] {
        let step = Double(n) / Double(m)
        return (0..<m).map { i in
            let lower = Double(i) * step, upper = Double(i + 1) * step
            var taps: [(index: Int, weight: Float)] = []
            var j = Int(lower)
            while j < n && Double(j) < upper {
                let overlap = min(upper, Double(j + 1)) - max(lower, Double(j))
                if overlap > 0 { taps.append((j, Float(overlap / step))) }
                j += 1
            }
            return taps
        }
    }
}
