import VAEData
import VAEPlots
import XCTest

final class GridTests: XCTestCase {
    func testGridLayout() {
        let tile = GrayImage(width: 2, height: 2, pixels: [255, 255, 255, 255])
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
