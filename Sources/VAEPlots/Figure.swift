import VAEData

/// One or more panels (charts, or a labelled image grid) laid out in a row
/// or a grid, written as PNG, SVG or PDF by the path's extension.
public struct Figure {
    enum Panel {
        case chart(Chart)
        case grid(LabelledGrid)

        var size: (width: Double, height: Double) {
            switch self {
            case .chart(let c): return (c.width, c.height)
            case .grid(let g): return g.size
            }
        }
    }

    var panels: [Panel]
    /// Panels per row.
    var columns: Int

    public init(_ chart: Chart) { panels = [.chart(chart)]; columns = 1 }

    /// Charts in rows of `columns`, each row as tall as its tallest.
    public init(charts: [Chart], columns: Int) {
        panels = charts.map(Panel.chart)
        self.columns = max(1, columns)
    }

    public init(_ grid: LabelledGrid) { panels = [.grid(grid)]; columns = 1 }

    private var rows: [[Panel]] { stride(from: 0, to: panels.count, by: columns).map { Array(panels[$0..<min($0 + columns, panels.count)]) } }

    /// The figure's size in points (a PNG's in pixels).
    public var size: (width: Double, height: Double) {
        let rows = self.rows
        let width = rows.map { $0.map(\.size.width).reduce(0, +) }.max() ?? 0
        return (width, rows.map { $0.map(\.size.height).max() ?? 0 }.reduce(0, +))
    }

    /// The file's bytes in `format`; `path` names the file in errors.
    public func render(format: FigureFormat, path: String) throws -> [UInt8] {
        let (width, height) = size
        let canvas = try Canvas(format: format, width: width, height: height, path: path)
        var y = 0.0
        for row in rows {
            var x = 0.0
            for panel in row {
                switch panel {
                case .chart(let chart): chart.draw(on: canvas, x: x, y: y)
                case .grid(let grid): grid.draw(on: canvas, x: x, y: y)
                }
                x += panel.size.width
            }
            y += row.map(\.size.height).max() ?? 0
        }
        return try canvas.finish(path: path)
    }

    /// Writes the figure atomically in the format its extension names: the
    /// whole file, or (on any error) none.
    public func write(to path: String) throws {
        let bytes = try render(format: FigureFormat(path: path), path: path)
        try AtomicFile.write(bytes, to: path)
    }
}

extension Figures {
    /// Fails (naming `path`) when fontconfig finds no font for charts: a
    /// command that draws only at the end of long work checks first.
    public static func checkFont(for path: String) throws {
        _ = try Font.find(family: Canvas.fontFamily, path: path)
    }
}
