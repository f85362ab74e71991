import VAEData
import XCTest

final class ImageSetTests: XCTestCase {
    /// Two 3x2 colour images; the second's values say where they came from.
    let set = ImageSet(pixels: [UInt8](repeating: 7, count: 18) + (0..<18).map { UInt8(10 * $0 + 5) }, count: 2,
                       shape: ImageShape(channels: 3, height: 3, width: 2))

    func moved(_ shift: (dx: Int, dy: Int)) -> [Float] {
        [Float](unsafeUninitializedCapacity: 18) { out, n in
            set.gather(1, movedBy: shift, into: out.baseAddress!)
            n = 18
        }.map { ($0 * 255).rounded() }
    }

    /// Each plane moves by (dx, dy), right and down; what it uncovers is zero; nothing stays from the output's old contents.
    func testMovedImages() {
        XCTAssertEqual(moved((0, 0)), set.intensities(1).map { ($0 * 255).rounded() })
        let plane: (Int) -> [Float] = { c in (0..<6).map { Float(10 * (6 * c + $0) + 5) } }
        // Plane c holds rows (a b) (c d) (e f); moved one right and one up: (0 c) (0 e) (0 0).
        XCTAssertEqual(moved((1, -1)), (0..<3).flatMap { c in let p = plane(c); return [0, p[2], 0, p[4], 0, 0] })
        XCTAssertEqual(moved((-1, 2)), (0..<3).flatMap { c in let p = plane(c); return [0, 0, 0, 0, p[1], 0] })
        XCTAssertEqual(moved((2, 0)), [Float](repeating: 0, count: 18))
        XCTAssertEqual(moved((0, -5)), [Float](repeating: 0, count: 18))
    }
}
