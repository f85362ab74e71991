import VAEData
import VAEPlots
import XCTest

final class GridTests: XCTestCase {
    func testGridLayout() {
        let tile = Picture(GrayImage(width: 2, height: 2, pixels: [255, 255, 255, 255]))
        let grid = makeGrid(tiles: Array(repeating: tile, count: 3), columns: 2, border: 1, borderLevel: 0)
        XCTAssertEqual(grid.width, 2 * 2 + 3)
        XCTAssertEqual(grid.height, 2 * 2 + 3)
        // Row 1: border, tile, border, tile, border.
        XCTAssertEqual(Array(grid.pixels[7..<14]), [0, 255, 255, 0, 255, 255, 0])
        // Row 4: the third tile, then an empty cell.
        XCTAssertEqual(Array(grid.pixels[28..<35]), [0, 255, 255, 0, 0, 0, 0])
        XCTAssertEqual(nearSquareColumns(16), 4)
        XCTAssertEqual(nearSquareColumns(17), 5)
        XCTAssertEqual(nearSquareColumns(1), 1)
    }
}

final class ColourGridTests: XCTestCase {
    /// Colour tiles make a colour grid, their channels kept together per pixel.
    func testColourGrid() {
        let red = Picture(width: 1, height: 1, channels: 3, pixels: [255, 0, 0])
        let blue = Picture(width: 1, height: 1, channels: 3, pixels: [0, 0, 255])
        let grid = makeGrid(rows: [[red, blue], [red]])
        XCTAssertEqual(grid.channels, 3)
        XCTAssertEqual(grid.width, 2 + 3 * 2)
        XCTAssertEqual(grid.height, 2 + 3 * 2)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(grid.pixels[(3 * (y * grid.width + x))..<(3 * (y * grid.width + x) + 3)]) }
        XCTAssertEqual(pixel(2, 2), [255, 0, 0])
        XCTAssertEqual(pixel(5, 2), [0, 0, 255])
        XCTAssertEqual(pixel(5, 5), [0, 0, 0], "a short row is filled out with black")
        XCTAssertEqual(pixel(0, 0), [96, 96, 96], "the border")
    }
}
