import VAEData
import XCTest

final class ImageFileTests: FileTestCase {
    let image = GrayImage(width: 5, height: 3, pixels: (0..<15).map { UInt8($0 * 17) })

    func testPNGRoundTrip() throws {
        let p = path("a.png")
        try image.write(path: p)
        XCTAssertEqual(try GrayImage.read(path: p), image)
        let bytes = try readFile(p, limit: 1 << 20)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    }

    /// A black-and-white PNG is a one-bit palette image that reads back as
    /// the same pixels, in black and white.
    func testBlackAndWhitePNGRoundTrip() throws {
        let on = (0..<(13 * 7)).map { ($0 * 7) % 5 < 2 }
        let bytes = try PNG.encode(blackAndWhite: on, width: 13, height: 7, path: "bw.png")
        // IHDR: bit depth 1, colour type 3 (palette).
        XCTAssertEqual(Array(bytes[24..<26]), [1, 3])
        let decoded = try PNG.decode(bytes, path: "bw.png")
        XCTAssertEqual(decoded, GrayImage(width: 13, height: 7, pixels: on.map { $0 ? 255 : 0 }))
        // Fewer pixels than the size claims: an error, never a read past the array.
        XCTAssertThrowsError(try PNG.encode(blackAndWhite: on, width: 13, height: 8, path: "bw.png"))
        XCTAssertThrowsError(try PNG.encode(pixels: [1, 2, 3], width: 2, height: 2, channels: 1, path: "g.png"))
    }

    func testPGMRoundTrip() throws {
        let p = path("a.pgm")
        try image.write(path: p)
        XCTAssertEqual(try GrayImage.read(path: p), image)
        XCTAssertEqual(Array(try readFile(p, limit: 1 << 20).prefix(11)), Array("P5\n5 3\n255\n".utf8))
    }

    func testPlainPGMWithCommentsAndMaxval() throws {
        let p = try write(Array("P2\n# a comment\n3 1\n15\n0 15 5\n".utf8), "plain.pgm")
        XCTAssertEqual(try GrayImage.read(path: p).pixels, [0, 255, 85])
    }

    func testSixteenBitPGM() throws {
        let p = try write(Array("P5 2 1 65535\n".utf8) + [0xff, 0xff, 0x00, 0x00], "deep.pgm")
        XCTAssertEqual(try GrayImage.read(path: p).pixels, [255, 0])
    }

    func testCorruptPNGIsAnErrorNotACrash() throws {
        let p = path("a.png")
        try image.write(path: p)
        let bytes = try readFile(p, limit: 1 << 20)
        let cut = try write(Array(bytes.prefix(bytes.count / 2)), "cut.png")
        assertFileError(cut, "invalid PNG") { try GrayImage.read(path: cut) }
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x5a   // CRC mismatch inside a chunk
        let bad = try write(flipped, "flipped.png")
        assertFileError(bad, "invalid PNG") { try GrayImage.read(path: bad) }
    }

    func testHostilePGMHeaders() throws {
        let huge = try write(Array("P5 60000 60000 255\n".utf8), "huge.pgm")
        assertFileError(huge, "above the limit") { try GrayImage.read(path: huge) }
        let short = try write(Array("P5 4 4 255\n".utf8) + [1, 2, 3], "short.pgm")
        assertFileError(short, "truncated") { try GrayImage.read(path: short) }
        let over = try write(Array("P2 1 1 10 11\n".utf8), "over.pgm")
        assertFileError(over, "exceeds maxval") { try GrayImage.read(path: over) }
    }

    func testUnknownFormatAndExtension() throws {
        let p = try write([1, 2, 3, 4], "x.bin")
        assertFileError(p, "not a PNG or PGM") { try GrayImage.read(path: p) }
        let out = path("x.jpg")
        assertFileError(out, "use a .png or .pgm") { try image.write(path: out) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testWriteIntoMissingFolderLeavesNothing() {
        let p = path("missing/a.png")
        assertFileError(p, "cannot write here") { try image.write(path: p) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }
}
