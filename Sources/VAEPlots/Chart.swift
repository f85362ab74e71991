import Foundation

/// A chart: frame, grid, ticks with numbers (or category names), axis names,
/// title, a legend, and any mix of point clouds (coloured by class), lines and
/// bars. Latent plots, ROC curves, score histograms, training curves, KL per
/// dimension and the anomaly table are all charts; a `Figure` lays one or
/// more out and writes them as PNG, SVG or PDF.
public struct Chart {
    public struct Point {
        public let x: Double, y: Double
        /// Class index (e.g. the digit), or nil for unlabelled points (drawn grey).
        public let label: Int?
        public init(x: Double, y: Double, label: Int?) { self.x = x; self.y = y; self.label = label }
    }

    /// A bar over [lower, upper) on the x axis, from 0 to `height`.
    public struct Bar {
        public let lower: Double, upper: Double, height: Double
        public init(lower: Double, upper: Double, height: Double) { self.lower = lower; self.upper = upper; self.height = height }
    }

    public enum Series {
        /// Discs coloured by class from `palette`, one legend row per class present.
        case points([Point])
        /// A polyline; `name` gives it a legend row.
        case line([(x: Double, y: Double)], Colour, name: String? = nil, dashed: Bool = false)
        /// Bars in one colour (give it an opacity for bars that overlap); `name` gives them a legend row.
        case bars([Bar], Colour, name: String? = nil)
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Point classes' names in the legend (a folder data set's), else their numbers.
    public var classNames: [String]?
    public var xRange: (Double, Double)?
    public var yRange: (Double, Double)?
    /// Ticks on whole numbers only along x (epochs, dimensions).
    public var wholeXTicks = false
    /// Names at chosen x positions instead of numeric ticks (categories).
    public var xTickNames: [(x: Double, name: String)]?
    /// The chart's size in points.
    public var width = 640.0
    public var height = 480.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// Ten well-separated colours (the "tab10" palette), one per digit.
    public static let palette: [Colour] = [
        Colour(bytes: 31, 119, 180), Colour(bytes: 255, 127, 14), Colour(bytes: 44, 160, 44), Colour(bytes: 214, 39, 40),
        Colour(bytes: 148, 103, 189), Colour(bytes: 140, 86, 75), Colour(bytes: 227, 119, 194), Colour(bytes: 127, 127, 127),
        Colour(bytes: 188, 189, 34), Colour(bytes: 23, 190, 207),
    ]

    public static func colour(ofClass label: Int?) -> Colour { label.map { palette[$0 % palette.count] } ?? .grey }

    /// A marker's radius in points.
    public static let markerRadius = 2.5

    enum LegendMark { case disc, line(dashed: Bool), box }

    /// The legend's rows: named lines and bars, then each class present.
    var legend: [(name: String, colour: Colour, mark: LegendMark)] {
        var rows: [(name: String, colour: Colour, mark: LegendMark)] = []
        for s in series {
            switch s {
            case .line(let points, let colour, let name?, let dashed) where !points.isEmpty:
                rows.append((name, colour, .line(dashed: dashed)))
            case .bars(let bars, let colour, let name?) where !bars.isEmpty:
                rows.append((name, colour.opacity(max(colour.alpha, 0.6)), .box))
            case .points(let points):
                rows += Set(points.compactMap(\.label)).sorted().map { label in
                    (classNames.flatMap { label < $0.count ? $0[label] : nil } ?? "\(label)", Self.colour(ofClass: label), .disc)
                }
                if points.contains(where: { $0.label == nil }) { rows.append(("unlabelled", .grey, .disc)) }
            default: break
            }
        }
        return rows
    }

    /// The data's extent along each axis (bars include 0).
    private var extent: (xs: [Double], ys: [Double]) {
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            switch s {
            case .points(let p): xs += p.map(\.x); ys += p.map(\.y)
            case .line(let p, _, _, _): xs += p.map(\.x); ys += p.map(\.y)
            case .bars(let b, _, _): xs += b.flatMap { [$0.lower, $0.upper] }; ys += b.map(\.height) + [0]
            }
        }
        return (xs.filter(\.isFinite), ys.filter(\.isFinite))
    }

    /// Draws the chart into the rectangle at (x, y) of its own width and height.
    func draw(on canvas: Canvas, x originX: Double, y originY: Double) {
        let legend = self.legend
        let legendWidth = legend.isEmpty ? 0 : 34 + (legend.map { canvas.textWidth($0.name, size: 11) }.max() ?? 0)
        let left = originX + 72, right = originX + width - 16 - legendWidth
        let top = originY + 40, bottom = originY + height - 52
        let (xs, ys) = extent
        let (x0, x1) = xRange ?? Self.paddedRange(xs.min() ?? -1, xs.max() ?? 1)
        let (y0, y1) = yRange ?? Self.paddedRange(ys.min() ?? -1, ys.max() ?? 1)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (y - y0) / (y1 - y0) * (bottom - top) }
        // Hairlines on pixel centres, so a PNG's 1-point lines are one pixel wide.
        func crisp(_ v: Double) -> Double { v.rounded(.down) + 0.5 }

        let xValues = Self.ticks(x0, x1, whole: wholeXTicks)
        let xTicks = xTickNames ?? xValues.map { ($0, Self.format($0, ticks: xValues)) }
        let yTickValues = Self.ticks(y0, y1)
        for (t, name) in xTicks {
            let x = crisp(px(t))
            if xTickNames == nil { canvas.stroke([(x, top), (x, bottom)], colour: .gridGrey) }
            canvas.stroke([(x, bottom), (x, bottom + 4)], colour: .black)
            canvas.text(name, x: x, y: bottom + 17, size: 11, anchor: .centre)
        }
        for t in yTickValues {
            let y = crisp(py(t))
            canvas.stroke([(left, y), (right, y)], colour: .gridGrey)
            canvas.stroke([(left - 4, y), (left, y)], colour: .black)
            canvas.text(Self.format(t, ticks: yTickValues), x: left - 7, y: y + 4, size: 11, anchor: .right)
        }

        canvas.clip(to: (left, top, right - left, bottom - top))
        for s in series {
            switch s {
            case .bars(let bars, let colour, _):
                for b in bars where b.height != 0 && b.height.isFinite {
                    let (xa, xb, ya, yb) = (px(b.lower), px(b.upper), py(b.height), py(0))
                    canvas.fill(rectangle: (xa, min(ya, yb), max(0.5, xb - xa), abs(yb - ya)), colour: colour)
                }
            case .line(let points, let colour, _, let dashed):
                canvas.stroke(points.filter { $0.x.isFinite && $0.y.isFinite }.map { (px($0.x), py($0.y)) },
                              colour: colour, width: 1.75, dash: dashed ? [6, 4] : [])
            case .points(let points):
                // Unlabelled first, so classes stay visible on top.
                for p in points.sorted(by: { ($0.label ?? -1) < ($1.label ?? -1) }) where p.x.isFinite && p.y.isFinite {
                    canvas.disc(x: px(p.x), y: py(p.y), radius: Self.markerRadius, colour: Self.colour(ofClass: p.label))
                }
            }
        }
        canvas.unclip()

        let (l, r, t, b) = (crisp(left), crisp(right), crisp(top), crisp(bottom))
        canvas.stroke([(l, t), (r, t), (r, b), (l, b), (l, t)], colour: .black)
        canvas.text(title, x: (left + right) / 2, y: originY + 25, size: 14, anchor: .centre, bold: true)
        canvas.text(xLabel, x: (left + right) / 2, y: bottom + 40, size: 13, anchor: .centre)
        canvas.text(yLabel, x: originX + 20, y: (top + bottom) / 2, size: 13, anchor: .centre, rotation: -Double.pi / 2)
        for (row, entry) in legend.enumerated() {
            let x = right + 14, y = top + 8 + Double(row) * 18
            switch entry.mark {
            case .disc: canvas.disc(x: x + 7, y: y, radius: 4, colour: entry.colour)
            case .box: canvas.fill(rectangle: (x + 1, y - 5, 12, 10), colour: entry.colour)
            case .line(let dashed): canvas.stroke([(x, y), (x + 14, y)], colour: entry.colour, width: 1.75, dash: dashed ? [4, 2] : [])
            }
            canvas.text(entry.name, x: x + 20, y: y + 4, size: 11)
        }
    }

    /// Histogram bars of `values` over `bins` equal bins of [lower, upper],
    /// heights as fractions of the values (so sets of different sizes compare).
    public static func histogram(_ values: [Double], lower: Double, upper: Double, bins: Int) -> [Bar] {
        let width = (upper - lower) / Double(bins)
        var counts = [Int](repeating: 0, count: bins)
        for v in values where v.isFinite {
            counts[min(bins - 1, max(0, Int((v - lower) / width)))] += 1
        }
        return counts.enumerated().map { Bar(lower: lower + Double($0.offset) * width, upper: lower + Double($0.offset + 1) * width,
                                             height: Double($0.element) / Double(max(values.count, 1))) }
    }

    /// A range padded by 5% and widened if empty.
    static func paddedRange(_ lower: Double, _ upper: Double) -> (Double, Double) {
        let span = upper - lower
        if span < 1e-9 { return (lower - 1, upper + 1) }
        return (lower - 0.05 * span, upper + 0.05 * span)
    }

    /// Round tick values (1, 2 or 5 times a power of ten apart), 4 to 10 of them.
    static func ticks(_ lower: Double, _ upper: Double, whole: Bool = false) -> [Double] {
        let raw = whole ? max(1, (upper - lower) / 6) : (upper - lower) / 6
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        var t = ceil(lower / step) * step, out: [Double] = []
        while t <= upper + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// A tick value with as many decimals as the tick spacing needs, and a true minus sign.
    static func format(_ v: Double, ticks: [Double]) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        let text = String(format: "%.\(decimals)f", abs(v))
        return v < 0 ? "−" + text : text
    }
}
