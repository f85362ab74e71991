import Foundation
import XCTest

/// Runs the built `vae` binary as a user would.
struct VAERun {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum VAEBinary {
    /// The `vae` built beside this test bundle (swift test builds it first).
    static let url: URL? = {
        if let explicit = ProcessInfo.processInfo.environment["VAE_BIN"] { return URL(fileURLWithPath: explicit) }
        let bundle = Bundle.main.bundleURL
        for folder in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = folder.appendingPathComponent("vae")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let data = repository.appendingPathComponent("Data/mnist").path

    static func run(_ arguments: [String], in folder: String, environment: [String: String] = [:]) throws -> VAERun {
        guard let url else { throw XCTSkip("the vae binary was not found beside the tests; set VAE_BIN") }
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "VAE_DATA")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // Output goes to files: nothing can block on a full pipe.
        let outPath = NSTemporaryDirectory() + "vae-out-\(UUID().uuidString)"
        let errPath = outPath + ".err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let outData = try Data(contentsOf: URL(fileURLWithPath: outPath))
        let errData = try Data(contentsOf: URL(fileURLWithPath: errPath))
        return VAERun(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
