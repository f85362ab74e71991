import Foundation
import VAEData
import XCTest

/// A fresh temporary folder per test case, removed afterwards.
class FileTestCase: XCTestCase {
    var folder: String = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vae-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func path(_ name: String) -> String { folder + "/" + name }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// Asserts that `body` throws a `FileError` naming `file` whose message contains `fragment`.
    func assertFileError<T>(_ file: String, _ fragment: String, _ body: () throws -> T,
                            line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error containing '\(fragment)'", line: line)
        } catch let error as FileError {
            XCTAssertEqual(error.path, file, line: line)
            XCTAssert(error.problem.contains(fragment), "'\(error.problem)' lacks '\(fragment)'", line: line)
            XCTAssertFalse(error.description.contains("\n"), "error is one line", line: line)
        } catch {
            XCTFail("unexpected error type: \(error)", line: line)
        }
    }
}

/// The repository's Data/mnist, found from this source file's location.
let repositoryData = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Data/mnist").path
