import Foundation
import VAEData
import XCTest

/// Colour pictures, hostile PNG chunks, resizing and folder data sets.
final class ColourImageTests: FileTestCase {
    let rgb = Picture(width: 3, height: 2, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 7, 7, 7])

    func testColourAndGreyPNGRoundTrip() throws {
        try rgb.write(path: path("c.png"))
        XCTAssertEqual(try Picture.read(path: path("c.png")), rgb)
        let grey = Picture(GrayImage(width: 2, height: 2, pixels: [0, 85, 170, 255]))
        try grey.write(path: path("g.png"))
        XCTAssertEqual(try Picture.read(path: path("g.png")), grey, "a grey file stays one channel")
        try grey.write(path: path("g.pgm"))
        XCTAssertEqual(try Picture.read(path: path("g.pgm")), grey)
        assertFileError(path("c.pgm"), "PGM holds grey images only") { try rgb.write(path: path("c.pgm")) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("c.pgm")))
        // Read as grey, a grey colour keeps its level (libpng turns colour to grey in linear light).
        XCTAssertEqual(try GrayImage.read(path: path("c.png")).pixels[5], 7)
    }

    func testPlanesConvertChannels() {
        XCTAssertEqual(rgb.planes(channels: 3)[0], 1)          // R of pixel 0
        XCTAssertEqual(rgb.planes(channels: 3)[6 + 1], 1)      // G plane, pixel 1
        let luma = rgb.planes(channels: 1)
        XCTAssertEqual(luma[3], (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255, accuracy: 1e-6)
        let grey = Picture(width: 2, height: 1, channels: 1, pixels: [0, 255]).planes(channels: 3)
        XCTAssertEqual(grey, [0, 1, 0, 1, 0, 1], "grey repeated into three planes")
        XCTAssertEqual(Picture(planes: rgb.planes(channels: 3), shape: ImageShape(channels: 3, height: 2, width: 3)), rgb)
    }

    /// A PNG chunk whose length claims more than the file holds is refused
    /// before libpng sees it (libpng allocated what a text chunk claimed:
    /// 68 bytes made it take 1 GiB), and ancillary chunks are dropped.
    func testChunkLengthsAreCheckedAgainstTheFile() throws {
        try rgb.write(path: path("c.png"))
        let valid = Array(try Data(contentsOf: URL(fileURLWithPath: path("c.png"))))
        func chunk(_ type: String, _ data: [UInt8], claiming length: Int? = nil) -> [UInt8] {
            let l = UInt32(length ?? data.count), t = Array(type.utf8)
            let crc = UInt32(truncatingIfNeeded: crc32(t + data))
            return [UInt8(l >> 24), UInt8(l >> 16 & 255), UInt8(l >> 8 & 255), UInt8(l & 255)] + t + data
                + [UInt8(crc >> 24), UInt8(crc >> 16 & 255), UInt8(crc >> 8 & 255), UInt8(crc & 255)]
        }
        let afterHeader = 8 + 25   // signature, IHDR
        let hostile = Array(valid[..<afterHeader]) + chunk("tEXt", Array("Comment\u{0}hi".utf8), claiming: 1 << 30) + Array(valid[afterHeader...])
        let file = try write(hostile, "hostile.png")
        assertFileError(file, "chunk tEXt claims 1073741824 bytes, more than the") { try Picture.read(path: file) }
        // Honest ancillary chunks (text, a 64 KiB profile) are dropped, not decoded: the same picture.
        let extra = Array(valid[..<afterHeader]) + chunk("tEXt", Array("Comment\u{0}hello".utf8))
            + chunk("iCCP", Array("p\u{0}\u{0}".utf8) + [UInt8](repeating: 7, count: 65536)) + Array(valid[afterHeader...])
        XCTAssertEqual(try Picture.read(path: try write(extra, "extra.png")), rgb)
    }

    /// CRC-32 (ISO 3309), as PNG chunks carry it.
    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    func testResizingAveragesDownAndInterpolatesUp() throws {
        // 4x4 → 2x2: each output is the mean of a 2x2 block.
        let levels: [UInt8] = [0, 40, 80, 120, 40, 80, 120, 160, 200, 200, 0, 0, 200, 200, 0, 0]
        let square = Picture(width: 4, height: 4, channels: 1, pixels: levels)
        let down = try Resizing.planes(square, to: ImageShape(height: 2, width: 2), path: "square")
        for (got, expected) in zip(down, [40.0, 120, 200, 0]) { XCTAssertEqual(Double(got) * 255, expected, accuracy: 1e-3) }
        // 3 → 2 covers one and a half pixels each: (a + b/2) / 1.5.
        let row = Picture(width: 3, height: 1, channels: 1, pixels: [0, 102, 255])
        let two = try Resizing.planes(row, to: ImageShape(height: 1, width: 2), path: "row")
        XCTAssertEqual(Double(two[0]) * 255, (0 + 51) / 1.5, accuracy: 1e-3)
        XCTAssertEqual(Double(two[1]) * 255, (51 + 255) / 1.5, accuracy: 1e-3)
        // 2 → 4 bilinear at pixel centres: 0, ¼, ¾, 1 of the way.
        let up = try Resizing.planes(Picture(width: 2, height: 1, channels: 1, pixels: [0, 200]), to: ImageShape(height: 1, width: 4), path: "up")
        for (got, expected) in zip(up, [0.0, 50, 150, 200]) { XCTAssertEqual(Double(got) * 255, expected, accuracy: 1e-3) }
        // A centre crop takes the middle window unscaled.
        let crop = try Resizing.planes(square, to: ImageShape(height: 2, width: 2), mode: .crop, path: "square")
        for (got, expected) in zip(crop, [80.0, 120, 200, 0]) { XCTAssertEqual(Double(got) * 255, expected, accuracy: 1e-3) }
        assertFileError("small", "smaller than the 8x8 crop") {
            try Resizing.planes(square, to: ImageShape(height: 8, width: 8), mode: .crop, path: "small")
        }
    }

    /// A folder data set: classes sorted, images by name, colour found, bad files named or skipped.
    func testImageFolder() throws {
        for (name, picture) in [("b/2.png", rgb), ("b/1.png", rgb), ("a/x.png", rgb)] {
            try FileManager.default.createDirectory(atPath: path((name as NSString).deletingLastPathComponent), withIntermediateDirectories: true)
            try picture.write(path: path(name))
        }
        let grey = Picture(width: 3, height: 2, channels: 1, pixels: [0, 50, 100, 150, 200, 250])
        try grey.write(path: path("a/y.pgm"))
        let classes = try XCTUnwrap(try ImageFolder.classFolders(folder))
        XCTAssertEqual(classes.map(\.name), ["a", "b"])
        XCTAssertEqual(classes[1].files.map { ($0 as NSString).lastPathComponent }, ["1.png", "2.png"])
        let loaded = try ImageFolder.load(classes: classes, options: ImageLoading())
        XCTAssertEqual(loaded.set.shape, ImageShape(channels: 3, height: 2, width: 3), "colour when any image has it")
        XCTAssertEqual(loaded.set.labels, [0, 0, 1, 1])
        XCTAssertEqual(loaded.set.classNames, ["a", "b"])
        XCTAssertEqual(loaded.set.picture(0), rgb)
        XCTAssertEqual(loaded.set.picture(1).pixels, grey.pixels.flatMap { [$0, $0, $0] }, "grey repeated into colour")
        var options = ImageLoading()
        options.channels = 1
        options.size = ImageShape(height: 4, width: 6)
        XCTAssertEqual(try ImageFolder.load(classes: classes, options: options).set.shape, ImageShape(height: 4, width: 6))

        try Data("not an image".utf8).write(to: URL(fileURLWithPath: path("a/z.png")))
        assertFileError(path("a/z.png"), "not a PNG or PGM image") { try ImageFolder.load(classes: try ImageFolder.classFolders(folder)!, options: ImageLoading()) }
        try Data("notes".utf8).write(to: URL(fileURLWithPath: path("b/notes.txt")))
        options = ImageLoading()
        options.skipUnreadable = true
        let skipping = try ImageFolder.load(classes: try ImageFolder.classFolders(folder)!, options: options)
        XCTAssertEqual(skipping.set.count, 4)
        XCTAssertEqual(skipping.skipped.map { ($0 as NSString).lastPathComponent }.sorted(), ["notes.txt", "z.png"])
        try FileManager.default.removeItem(atPath: path("a/z.png"))
        try FileManager.default.removeItem(atPath: path("b/notes.txt"))

        try Picture(width: 5, height: 5, channels: 3, pixels: [UInt8](repeating: 9, count: 75)).write(path: path("b/3.png"))
        assertFileError(path("b/3.png"), "is 5x5 where") { try ImageFolder.load(classes: try ImageFolder.classFolders(folder)!, options: ImageLoading()) }
    }

    /// Written as class folders and read back: the same images, labels and names.
    func testImageFolderWriteReadsBack() throws {
        let set = ImageSet(pixels: (0..<(5 * 12)).map { UInt8($0 * 4) }, count: 5, shape: ImageShape(channels: 3, height: 2, width: 2),
                           labels: [1, 0, 1, 2, 0], classNames: ["cat", "dog", "emu"])
        try ImageFolder.write(set, to: path("out"))
        let back = try ImageFolder.load(classes: try ImageFolder.classFolders(path("out"))!, options: ImageLoading()).set
        XCTAssertEqual(back.classNames, ["cat", "dog", "emu"])
        XCTAssertEqual(back.labels, [0, 0, 1, 1, 2], "class by class")
        let order = [1, 4, 0, 2, 3]
        for (i, original) in order.enumerated() { XCTAssertEqual(back.picture(i), set.picture(original)) }
    }
}
