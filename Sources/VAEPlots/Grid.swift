import VAEData

/// Tiles of equal size in a grid, `columns` tiles wide, with `border` pixels
/// of `borderLevel` grey between and around them.
public func makeGrid(tiles: [GrayImage], columns: Int, border: Int = 2, borderLevel: UInt8 = 96) -> GrayImage {
    precondition(!tiles.isEmpty && columns > 0)
    let tw = tiles[0].width, th = tiles[0].height
    precondition(tiles.allSatisfy { $0.width == tw && $0.height == th })
    let rows = (tiles.count + columns - 1) / columns
    let width = columns * tw + (columns + 1) * border
    let height = rows * th + (rows + 1) * border
    var pixels = [UInt8](repeating: borderLevel, count: width * height)
    for (n, tile) in tiles.enumerated() {
        let x0 = border + (n % columns) * (tw + border)
        let y0 = border + (n / columns) * (th + border)
        for y in 0..<th {
            let dst = (y0 + y) * width + x0
            pixels.replaceSubrange(dst..<(dst + tw), with: tile.pixels[(y * tw)..<((y + 1) * tw)])
        }
    }
    return GrayImage(width: width, height: height, pixels: pixels)
}

/// The columns of a near-square grid for n tiles: ⌈√n⌉.
public func nearSquareColumns(_ n: Int) -> Int {
    var c = 1
    while c * c < n { c += 1 }
    return c
}
