import Foundation
import VAEData

/// A chart drawn straight into pixels: frame, grid, ticks with numbers, axis
/// names, title, a legend, and any mix of point clouds (coloured by class),
/// lines and histogram bars. Used for latent plots, ROC curves and score
/// histograms, so `vae` needs no plotting library and no Python.
public struct Chart {
    public struct Point {
        public let x: Double, y: Double
        /// Class index (e.g. the digit), or nil for unlabelled points (drawn grey).
        public let label: Int?
        public init(x: Double, y: Double, label: Int?) { self.x = x; self.y = y; self.label = label }
    }

    public enum Series {
        /// Dots coloured by class from `palette`.
        case points([Point])
        /// A polyline.
        case line([(x: Double, y: Double)], RGB)
        /// Bars [lower, upper) × [0, height], drawn half transparent so two overlap readably.
        case bars([(lower: Double, upper: Double, height: Double)], RGB)
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Legend rows; for point clouds, one per class present is added automatically.
    public var legend: [(String, RGB)] = []
    /// Point classes' names in the legend (a folder data set's), else their numbers.
    public var classNames: [String]?
    public var xRange: (Double, Double)?
    public var yRange: (Double, Double)?
    public var width = 720
    public var height = 600

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// Ten well-separated colours (the "tab10" palette), one per digit.
    public static let palette: [RGB] = [
        RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189),
        RGB(140, 86, 75), RGB(227, 119, 194), RGB(127, 127, 127), RGB(188, 189, 34), RGB(23, 190, 207),
    ]

    public func render() -> RGBImage {
        var image = RGBImage(width: width, height: height)
        let left = 80, right = width - 110, top = 60, bottom = height - 50
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            switch s {
            case .points(let p): xs += p.map(\.x); ys += p.map(\.y)
            case .line(let p, _): xs += p.map(\.x); ys += p.map(\.y)
            case .bars(let b, _): xs += b.flatMap { [$0.lower, $0.upper] }; ys += b.map(\.height) + [0]
            }
        }
        let (x0, x1) = xRange ?? Self.niceRange(xs.min() ?? -1, xs.max() ?? 1)
        let (y0, y1) = yRange ?? Self.niceRange(ys.min() ?? -1, ys.max() ?? 1)
        func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }

        let (xTicks, yTicks) = (Self.ticks(x0, x1), Self.ticks(y0, y1))
        for t in xTicks {
            let x = px(t)
            image.line(from: (x, top), to: (x, bottom), color: .lightGrey)
            image.line(from: (x, bottom), to: (x, bottom + 4), color: .black)
            let text = Self.format(t, ticks: xTicks)
            image.draw(text: text, x: x - RGBImage.textWidth(text) / 2, y: bottom + 8)
        }
        for t in yTicks {
            let y = py(t)
            image.line(from: (left, y), to: (right, y), color: .lightGrey)
            image.line(from: (left - 4, y), to: (left, y), color: .black)
            let text = Self.format(t, ticks: yTicks)
            image.draw(text: text, x: left - 8 - RGBImage.textWidth(text), y: y - 3)
        }
        var legend = self.legend
        for s in series {
            switch s {
            case .bars(let bars, let color):
                for b in bars where b.height > 0 {
                    let (xa, xb) = (px(b.lower), px(b.upper))
                    let ya = py(b.height)
                    image.blend(x: xa, y: ya, width: max(1, xb - xa), height: bottom - ya, color: color, alpha: 0.5)
                }
            case .line(let p, let color):
                for (a, b) in zip(p, p.dropFirst()) { image.line(from: (px(a.x), py(a.y)), to: (px(b.x), py(b.y)), color: color) }
            case .points(let points):
                // Unlabelled first, so classes stay visible on top.
                for p in points.sorted(by: { ($0.label ?? -1) < ($1.label ?? -1) }) {
                    let color = p.label.map { Self.palette[$0 % Self.palette.count] } ?? .grey
                    image.fill(x: px(p.x) - 1, y: py(p.y) - 1, width: 3, height: 3, color: color)
                }
                legend += Set(points.compactMap(\.label)).sorted().map { label in
                    (classNames.flatMap { label < $0.count ? $0[label].uppercased() : nil } ?? "\(label)", Self.palette[label % Self.palette.count])
                }
                if points.contains(where: { $0.label == nil }) { legend.append(("?", .grey)) }
            }
        }
        image.line(from: (left, top), to: (right, top), color: .black)
        image.line(from: (left, bottom), to: (right, bottom), color: .black)
        image.line(from: (left, top), to: (left, bottom), color: .black)
        image.line(from: (right, top), to: (right, bottom), color: .black)
        image.draw(text: xLabel, x: (left + right - RGBImage.textWidth(xLabel, scale: 2)) / 2, y: bottom + 24, scale: 2)
        image.draw(text: yLabel, x: 8, y: top - 24, scale: 2)
        image.draw(text: title, x: (width - RGBImage.textWidth(title, scale: 2)) / 2, y: 10, scale: 2)
        for (row, entry) in legend.enumerated() {
            let y = top + 10 + row * 20
            image.fill(x: right + 12, y: y, width: 10, height: 10, color: entry.1)
            image.draw(text: entry.0, x: right + 28, y: y + 1)
        }
        return image
    }

    /// Histogram bars of `values` over `bins` equal bins of [lower, upper],
    /// heights as fractions of the values (so sets of different sizes compare).
    public static func histogram(_ values: [Double], lower: Double, upper: Double, bins: Int)
        -> [(lower: Double, upper: Double, height: Double)] {
        let width = (upper - lower) / Double(bins)
        var counts = [Int](repeating: 0, count: bins)
        for v in values where v.isFinite {
            counts[min(bins - 1, max(0, Int((v - lower) / width)))] += 1
        }
        return counts.enumerated().map { (lower + Double($0.offset) * width, lower + Double($0.offset + 1) * width,
                                          Double($0.element) / Double(max(values.count, 1))) }
    }

    /// A range padded by 5% and widened if empty.
    static func niceRange(_ lower: Double, _ upper: Double) -> (Double, Double) {
        let span = upper - lower
        if span < 1e-9 { return (lower - 1, upper + 1) }
        return (lower - 0.05 * span, upper + 0.05 * span)
    }

    /// Round tick values (1, 2 or 5 times a power of ten apart), 4 to 10 of them.
    static func ticks(_ lower: Double, _ upper: Double) -> [Double] {
        let raw = (upper - lower) / 6
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        var t = ceil(lower / step) * step, out: [Double] = []
        while t <= upper + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// A tick value with as many decimals as the tick spacing needs.
    static func format(_ v: Double, ticks: [Double]) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}
