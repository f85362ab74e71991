import VAEData

/// Tiles of equal size in a grid, `columns` tiles wide, with `border` pixels
/// of `borderLevel` grey between and around them; grey tiles make a grey
/// grid, colour tiles a colour one.
public func makeGrid(tiles: [Picture], columns: Int, border: Int = 2, borderLevel: UInt8 = 96) -> Picture {
    precondition(!tiles.isEmpty && columns > 0)
    let tw = tiles[0].width, th = tiles[0].height, channels = tiles[0].channels
    precondition(tiles.allSatisfy { $0.width == tw && $0.height == th && $0.channels == channels })
    let rows = (tiles.count + columns - 1) / columns
    let width = columns * tw + (columns + 1) * border
    let height = rows * th + (rows + 1) * border
    var pixels = [UInt8](repeating: borderLevel, count: width * height * channels)
    for (n, tile) in tiles.enumerated() {
        let x0 = border + (n % columns) * (tw + border)
        let y0 = border + (n / columns) * (th + border)
        for y in 0..<th {
            let dst = ((y0 + y) * width + x0) * channels
            pixels.replaceSubrange(dst..<(dst + tw * channels), with: tile.pixels[(y * tw * channels)..<((y + 1) * tw * channels)])
        }
    }
    return Picture(width: width, height: height, channels: channels, pixels: pixels)
}

/// Rows of tiles as one grid, short rows filled out with black tiles.
public func makeGrid(rows: [[Picture]]) -> Picture {
    let columns = rows.map(\.count).max() ?? 1
    let first = rows.first { !$0.isEmpty }![0]
    let blank = Picture(width: first.width, height: first.height, channels: first.channels,
                        pixels: [UInt8](repeating: 0, count: first.pixels.count))
    return makeGrid(tiles: rows.flatMap { $0 + Array(repeating: blank, count: columns - $0.count) }, columns: columns)
}

/// The columns of a near-square grid for n tiles: ⌈√n⌉.
public func nearSquareColumns(_ n: Int) -> Int {
    var c = 1
    while c * c < n { c += 1 }
    return c
}

/// An image grid with names beside its rows and above its columns: the class
/// of each row of a conditional grid, the steps of an interpolation, the
/// dimension of each traversal row. Tiles are drawn `scale` points a pixel
/// (sharp, nearest pixel), so small digits stay legible next to the text.
public struct LabelledGrid {
    public let grid: Picture
    let tileWidth: Int, tileHeight: Int
    let border: Int
    public let rowNames: [String]
    public let columnNames: [String]
    /// What the rows and columns are, above the row names ("z₁ \\ z₀": rows z₁, columns z₀).
    public let axes: String?
    let scale: Double

    static let textSize = 11.0

    /// Rows of tiles (short rows filled out with black) with up to one name per row and per column.
    public init(rows: [[Picture]], rowNames: [String] = [], columnNames: [String] = [], axes: String? = nil) {
        grid = makeGrid(rows: rows)
        let first = rows.first { !$0.isEmpty }![0]
        tileWidth = first.width
        tileHeight = first.height
        border = 2
        self.rowNames = rowNames
        self.columnNames = columnNames
        self.axes = axes
        scale = first.height <= 32 ? 2 : 1
    }

    /// Room for names, estimated from DejaVu Sans's average advance (about 0.62 em).
    private var leftMargin: Double {
        let widest = (rowNames + (axes.map { [$0] } ?? [])).map(\.count).max() ?? 0
        return widest == 0 ? 4 : 12 + 0.62 * Self.textSize * Double(widest)
    }
    private var topMargin: Double { columnNames.isEmpty && axes == nil ? 4 : 8 + 1.6 * Self.textSize }

    var size: (width: Double, height: Double) {
        (leftMargin + Double(grid.width) * scale + 4, topMargin + Double(grid.height) * scale + 4)
    }

    func draw(on canvas: Canvas, x: Double, y: Double) {
        let (left, top) = (x + leftMargin, y + topMargin)
        canvas.draw(grid, x: left, y: top, scale: scale)
        for (row, name) in rowNames.enumerated() {
            let centre = top + (Double(border + row * (tileHeight + border)) + Double(tileHeight) / 2) * scale
            canvas.text(name, x: left - 6, y: centre + 4, size: Self.textSize, anchor: .right)
        }
        if let axes { canvas.text(axes, x: left - 6, y: top - 6, size: Self.textSize, anchor: .right, colour: .grey) }
        for (column, name) in columnNames.enumerated() {
            let centre = left + (Double(border + column * (tileWidth + border)) + Double(tileWidth) / 2) * scale
            canvas.text(name, x: centre, y: top - 6, size: Self.textSize, anchor: .centre)
        }
    }
}
