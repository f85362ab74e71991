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
