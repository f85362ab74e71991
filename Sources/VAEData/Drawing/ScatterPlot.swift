import Foundation

/// A labelled scatter plot drawn straight into pixels: frame, ticks with
/// numbers, axis names, title, and a legend of classes with their colours.
public struct ScatterPlot {
    public struct Point {
        public let x: Double, y: Double
        /// Class index (e.g. the digit), or nil for unlabelled points (drawn grey).
        public let label: Int?
        public init(x: Double, y: Double, label: Int?) { self.x = x; self.y = y; self.label = label }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var points: [Point]
    public var width = 720
    public var height = 600

    public init(title: String, xLabel: String, yLabel: String, points: [Point]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.points = points
    }

    /// Ten well-separated colours (the "tab10" palette), one per digit.
    public static let palette: [RGB] = [
        RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189),
        RGB(140, 86, 75), RGB(227, 119, 194), RGB(127, 127, 127), RGB(188, 189, 34), RGB(23, 190, 207),
    ]

    public func render() -> RGBImage {
        var image = RGBImage(width: width, height: height)
        let left = 70, right = width - 110, top = 40, bottom = height - 50
        let xs = points.map(\.x), ys = points.map(\.y)
        let (x0, x1) = Self.niceRange(xs.min() ?? -1, xs.max() ?? 1)
        let (y0, y1) = Self.niceRange(ys.min() ?? -1, ys.max() ?? 1)
        func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }

        // Grid and ticks.
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
        // Points: unlabelled first, so classes stay visible on top.
        for p in points.sorted(by: { ($0.label ?? -1) < ($1.label ?? -1) }) {
            let color = p.label.map { Self.palette[$0 % Self.palette.count] } ?? .grey
            image.fill(x: px(p.x) - 1, y: py(p.y) - 1, width: 3, height: 3, color: color)
        }
        // Frame, labels, title.
        image.line(from: (left, top), to: (right, top), color: .black)
        image.line(from: (left, bottom), to: (right, bottom), color: .black)
        image.line(from: (left, top), to: (left, bottom), color: .black)
        image.line(from: (right, top), to: (right, bottom), color: .black)
        image.draw(text: xLabel, x: (left + right - RGBImage.textWidth(xLabel, scale: 2)) / 2, y: bottom + 24, scale: 2)
        image.draw(text: yLabel, x: 8, y: top - 22, scale: 2)
        image.draw(text: title, x: (width - RGBImage.textWidth(title, scale: 2)) / 2, y: 10, scale: 2)
        // Legend.
        let classes = Set(points.compactMap(\.label)).sorted()
        for (row, c) in classes.enumerated() {
            let y = top + 10 + row * 20
            image.fill(x: right + 20, y: y, width: 10, height: 10, color: Self.palette[c % Self.palette.count])
            image.draw(text: "\(c)", x: right + 38, y: y + 1, scale: 1)
        }
        if points.contains(where: { $0.label == nil }) {
            let y = top + 10 + classes.count * 20
            image.fill(x: right + 20, y: y, width: 10, height: 10, color: .grey)
            image.draw(text: "?", x: right + 38, y: y + 1)
        }
        return image
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
        while t <= upper { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// A tick value with as many decimals as the tick spacing needs.
    static func format(_ v: Double, ticks: [Double]) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}
