import Foundation
import VAEData
import VAEInference
import XCTest

/// Which images `--data` gives, and how: IDX files or class folders, split or not.
final class DataSourceTests: XCTestCase {
    var folder = ""
    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vae-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func writeImages(_ root: String, classes: [String: Int]) throws {
        for (name, count) in classes {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            for i in 0..<count {
                try Picture(width: 4, height: 4, channels: 1, pixels: [UInt8](repeating: UInt8(truncatingIfNeeded: 8 * i), count: 16)).write(path: "\(root)/\(name)/\(i).png")
            }
        }
    }

    func testAFolderIsSplitBySeed() throws {
        try writeImages(folder + "/all", classes: ["ant": 30, "bee": 20])
        var options = ImageLoading()
        options.testFraction = 0.2
        options.seed = 3
        let a = try DataSplits.load(directory: folder + "/all", options: options)
        XCTAssertEqual(a.test.count, 10)
        XCTAssertEqual(a.train.count, 40)
        XCTAssertEqual(a.classNames, ["ant", "bee"])
        XCTAssertEqual(a.testSplit?.fraction, 0.2)
        let b = try DataSplits.load(directory: folder + "/all", options: options)
        XCTAssertEqual(a.test.pixels, b.test.pixels, "the same seed, the same split")
        XCTAssertEqual(a.test.labels, b.test.labels)
        options.seed = 4
        XCTAssertNotEqual(try DataSplits.load(directory: folder + "/all", options: options).test.labels, a.test.labels)
    }

    func testTrainAndTestFolders() throws {
        try writeImages(folder + "/split/train", classes: ["ant": 3, "bee": 2])
        try writeImages(folder + "/split/test", classes: ["bee": 2])
        let data = try DataSplits.load(directory: folder + "/split", options: ImageLoading())
        XCTAssertEqual(data.train.count, 5)
        XCTAssertEqual(data.test.labels, [1, 1], "test classes take the training split's labels")
        XCTAssertNil(data.testSplit)
        try writeImages(folder + "/split/test", classes: ["cow": 1])
        XCTAssertThrowsError(try DataSplits.load(directory: folder + "/split", options: ImageLoading())) { error in
            XCTAssert("\(error)".contains("test/cow: a test class the training split does not have"), "\(error)")
        }
    }

    func testMNISTFilesAreResizedOnlyWhenAsked() throws {
        let mnist = Fixtures.mnist
        XCTAssertEqual(try DataSplits.load(directory: mnist, options: ImageLoading()).train.shape, .mnist)
        var options = ImageLoading()
        options.size = ImageShape(height: 14, width: 14)
        options.channels = 3
        let small = try DataSplits.load(directory: mnist, options: options)
        XCTAssertEqual(small.test.shape, ImageShape(channels: 3, height: 14, width: 14))
        XCTAssertEqual(small.test.count, 10_000)
    }
}
