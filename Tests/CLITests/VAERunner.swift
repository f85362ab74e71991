import Foundation
import VAEData
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
        try start(arguments, in: folder, environment: environment).finish()
    }

    /// Starts `vae` without waiting, for tests that signal it.
    static func start(_ arguments: [String], in folder: String, environment: [String: String] = [:]) throws -> RunningVAE {
        guard let url else {
            XCTFail("the vae binary was not found beside the tests; set VAE_BIN")
            throw CocoaError(.fileNoSuchFile)
        }
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "VAE_DATA")
        // The shipped judge, wherever the test runs (a test may name another).
        env["VAE_JUDGE"] = repository.appendingPathComponent("Data/judge.safetensors").path
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // Output goes to files: nothing can block on a full pipe.
        let outPath = NSTemporaryDirectory() + "vae-out-\(UUID().uuidString)"
        // (FileHandle(forWritingTo:) below throws if either could not be made.)
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: outPath + ".err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath + ".err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return RunningVAE(process: process, outPath: outPath)
    }
}

/// A `vae` process under way.
struct RunningVAE {
    let process: Process
    let outPath: String

    /// What it has printed on stdout so far.
    var stdoutSoFar: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    func finish() throws -> VAERun {
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: outPath + ".err")
        }
        let outData = try Data(contentsOf: URL(fileURLWithPath: outPath))
        let errData = try Data(contentsOf: URL(fileURLWithPath: outPath + ".err"))
        return VAERun(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// The text pdftotext (poppler-utils, which `make test` installs) reads from a PDF.
func readPDFText(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["pdftotext", path, "-"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, "pdftotext opens \(path)")
    return String(decoding: data, as: UTF8.self)
}

/// A test case with a fresh temporary folder, removed afterwards.
class FolderTestCase: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vae-\(type(of: self))-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }
}

/// Tile (row, column) of a grid with 28x28 tiles and 2-pixel borders, as intensities.
func tile(_ grid: GrayImage, row: Int, column: Int) -> [Float] {
    var out: [Float] = []
    for y in 0..<28 { for x in 0..<28 {
        out.append(Float(grid.pixels[(2 + row * 30 + y) * grid.width + 2 + column * 30 + x]) / 255)
    } }
    return out
}

/// Mean squared difference per pixel of two images of intensities.
func meanSquaredDifference(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(a.count)
}

/// Models a suite trains once with the built binary, in a folder of its own
/// (removed after the suite), for tests that use them as a user would.
final class SuiteModels {
    let folder: String
    let models: [String: [String]]
    private(set) var training: [String: VAERun] = [:]

    /// `models`: each model's name and its training flags (after `common`).
    init(_ prefix: String, models: [String: [String]], common: [String] = ["--threads", "2"], json: Bool = false) {
        folder = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        self.models = models
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, flags) in models {
            let output = ["--model", "\(name).safetensors"] + (json ? ["--json", "\(name).json"] : [])
            training[name] = try? VAEBinary.run(["train", "--data", VAEBinary.data] + output + common + flags, in: folder)
        }
    }

    /// Fails the calling test unless every model trained.
    func checkTrained() throws {
        for name in models.keys.sorted() {
            let run = try XCTUnwrap(training[name], "training \(name) did not run")
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
        }
    }

    /// `vae ARGUMENTS --model MODEL.safetensors` in the folder, MNIST as the data.
    func vae(_ model: String, _ arguments: [String]) throws -> VAERun {
        try VAEBinary.run(arguments + ["--model", "\(model).safetensors"], in: folder, environment: ["VAE_DATA": VAEBinary.data])
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}
