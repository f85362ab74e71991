import VAEData
import XCTest

final class IDXTests: FileTestCase {
    let images: [UInt8] = (0..<(3 * 2 * 4)).map { UInt8($0 * 10) }

    func imageFile(count: Int = 3) -> [UInt8] { IDX.encode(dimensions: [count, 2, 4], payload: images) }

    func testReadsPlainAndGzippedImagesAlike() throws {
        let plain = try write(imageFile(), "images")
        let gz = try write(Gzip.compress(imageFile()), "images.gz")
        for p in [plain, gz] {
            let set = try IDX.readImages(path: p)
            XCTAssertEqual(set.count, 3)
            XCTAssertEqual(set.rows, 2)
            XCTAssertEqual(set.columns, 4)
            XCTAssertEqual(set.pixels, images)
        }
    }

    func testGatherConvertsBytesToUnitInterval() throws {
        let set = try IDX.readImages(path: write(imageFile(), "images"))
        var out = [Float](repeating: -1, count: 16)
        out.withUnsafeMutableBufferPointer { set.gather([2, 0], into: $0.baseAddress!) }
        XCTAssertEqual(out[0], Float(160) / 255)    // first pixel of image 2
        XCTAssertEqual(out[8], 0)                   // first pixel of image 0
        XCTAssertEqual(out[15], Float(70) / 255)
    }

    func testConcatenatedGzipMembersAreOneStream() throws {
        let bytes = imageFile()
        let p = try write(Gzip.compress(Array(bytes.prefix(10))) + Gzip.compress(Array(bytes.dropFirst(10))), "two.gz")
        XCTAssertEqual(try IDX.readImages(path: p).pixels, images)
    }

    func testLabels() throws {
        let p = try write(IDX.encode(dimensions: [4], payload: [0, 9, 3, 3]), "labels")
        XCTAssertEqual(try IDX.readLabels(path: p), [0, 9, 3, 3])
        let bad = try write(IDX.encode(dimensions: [2], payload: [1, 10]), "bad-labels")
        assertFileError(bad, "label 10 at index 1") { try IDX.readLabels(path: bad) }
    }

    func testRejectsWrongMagic() throws {
        let p = try write(IDX.encode(dimensions: [3], payload: [1, 2, 3]), "labels-as-images")
        assertFileError(p, "magic is 0x801, expected 0x803") { try IDX.readImages(path: p) }
    }

    func testRejectsTruncatedPayloadPlainAndGzipped() throws {
        let short = Array(imageFile().dropLast(5))
        let plain = try write(short, "short")
        assertFileError(plain, "truncated") { try IDX.readImages(path: plain) }
        let gz = try write(Gzip.compress(short), "short.gz")
        assertFileError(gz, "truncated") { try IDX.readImages(path: gz) }
    }

    func testRejectsTruncatedGzipStream() throws {
        let gz = Gzip.compress(imageFile())
        let p = try write(Array(gz.prefix(gz.count - 12)), "cut.gz")
        assertFileError(p, "gzip stream is truncated") { try IDX.readImages(path: p) }
    }

    func testRejectsCorruptGzipData() throws {
        var gz = Gzip.compress(imageFile())
        gz[gz.count - 6] ^= 0xff   // inside the CRC-32 / length trailer
        let p = try write(gz, "corrupt.gz")
        assertFileError(p, "gzip data is corrupt") { try IDX.readImages(path: p) }
    }

    func testRejectsTrailingBytes() throws {
        let p = try write(imageFile() + [1, 2], "long")
        assertFileError(p, "unexpected bytes after") { try IDX.readImages(path: p) }
    }

    func testHugeHeaderClaimsAreRejectedBeforeAllocating() throws {
        // 10^9 images, or 60000x60000 pixels: refused from the header alone.
        let many = try write(IDX.encode(dimensions: [1_000_000_000, 28, 28], payload: []), "many")
        assertFileError(many, "header claims 1000000000 images") { try IDX.readImages(path: many) }
        let wide = try write(IDX.encode(dimensions: [1, 60000, 60000], payload: []), "wide")
        assertFileError(wide, "image size 60000x60000") { try IDX.readImages(path: wide) }
        // Plausible sizes that the file cannot hold: refused before the buffer is made.
        let big = try write(Gzip.compress(IDX.encode(dimensions: [2_000_000, 28, 28], payload: [])), "big.gz")
        assertFileError(big, "file has only") { try IDX.readImages(path: big) }
    }

    func testMissingFile() {
        let p = path("nope.gz")
        assertFileError(p, "no such file") { try IDX.readImages(path: p) }
    }

    func testRealMNISTTestSplit() throws {
        let test = try MNIST.load(directory: repositoryData, split: .test)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.rows, 28)
        XCTAssertEqual(test.columns, 28)
        var counts = [Int](repeating: 0, count: 10)
        for l in test.labels! { counts[Int(l)] += 1 }
        // From Data/README.md.
        XCTAssertEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    }

    func testLocateListsWhereItLooked() throws {
        XCTAssertEqual(try MNIST.locate(explicit: repositoryData), repositoryData)
        XCTAssertEqual(try MNIST.locate(explicit: nil, environment: ["VAE_DATA": repositoryData]), repositoryData)
        assertFileError(folder, "no MNIST files here") { try MNIST.locate(explicit: folder) }
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssert(FileManager.default.changeCurrentDirectoryPath(folder))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
        do {
            _ = try MNIST.locate(explicit: nil, environment: ["VAE_DATA": folder + "/empty"], executablePath: folder + "/bin/vae")
            XCTFail("expected an error")
        } catch let error as FileError {
            XCTAssert(error.path.contains(folder + "/empty"))
            XCTAssert(error.path.contains("Data/mnist"))
            XCTAssert(error.path.contains("share/vae/mnist"))
        }
    }
}
