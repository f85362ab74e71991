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

    /// A deflated copy gives every image, moved or not, as the set does, and
    /// takes less memory where there is something to compress.
    func testDeflatedImagesReadBackAsTheSet() {
        var state: UInt32 = 12345
        // Noise, a blank image, one bright pixel, and the colour images above.
        let noise = (0..<(4 * 784)).map { _ -> UInt8 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
        let dot = [UInt8](repeating: 0, count: 400) + [255] + [UInt8](repeating: 0, count: 383)
        let digits = ImageSet(pixels: noise + [UInt8](repeating: 0, count: 784) + dot, count: 6, shape: ImageShape(height: 28, width: 28))
        for images in [digits, set] {
            let deflated = DeflatedImages(images)
            XCTAssertEqual(deflated.count, images.count)
            let d = images.pixelsPerImage
            var (expected, actual) = ([Float](repeating: 0, count: d), [Float](repeating: 1, count: d))
            for i in [images.count - 1, 0] + Array(0..<images.count) {   // out of order, and again
                for shift in [(0, 0), (1, -1), (-2, 3), (40, 0)] {
                    images.gather(i, movedBy: shift, into: &expected)
                    deflated.gather(i, movedBy: shift, into: &actual)
                    XCTAssertEqual(actual, expected, "image \(i) moved by \(shift)")
                }
            }
        }
        let blank = ImageSet(pixels: [UInt8](repeating: 0, count: 100 * 784), count: 100, shape: ImageShape(height: 28, width: 28))
        XCTAssertLessThan(DeflatedImages(blank).storedBytes, 100 * 784 / 20)
    }
}
