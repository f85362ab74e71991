import ArgumentParser
import Foundation
import VAEData
import VAEEngine
import VAEInference
import VAEModels

/// `--model PATH`: the checkpoint a command reads (or `train` writes).
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Checkpoint file (safetensors).", valueName: "path"))
    var model = "model.safetensors"
}

/// `--seed N`: every random draw of a command comes from it.
struct SeedOptions: ParsableArguments {
    @Option(help: "Random seed: the same seed and thread count give the same numbers.")
    var seed: UInt64 = 0
}

/// `--threads N`: threads for the matrix products.
struct ThreadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Threads for matrix products and other parallel work (default: all cores; one for a few images).", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be in 1...256, got \(threads)")
        }
    }

    /// Sets the thread count. A `light` job (a few hundred images at most)
    /// runs on one thread unless --threads says otherwise: it would finish
    /// before a second thread paid for itself, and OpenMP's threads spin on
    /// after their last job (~10 ms of a 40 ms `vae sample`).
    func apply(light: Bool = false) {
        BLASThreads.set(threads ?? (light ? 1 : ProcessInfo.processInfo.activeProcessorCount))
    }
}

/// `--data DIR`: where the MNIST files are.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Folder with the four MNIST IDX files (default: $VAE_DATA, else ./Data/mnist, else the installed copy).",
        valueName: "dir"))
    var data: String?

    func locate() throws -> String { try MNIST.locate(explicit: data) }
}

// MARK: flag values

/// A comma-separated list ("512,256", "0,1,8"): the one parser for every list flag.
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument {
    let values: [Element]

    init?(argument: String) {
        var values: [Element] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = Element(argument: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            values.append(value)
        }
        self.values = values
    }

    var defaultValueDescription: String { values.map(\.defaultValueDescription).joined(separator: ",") }
}

extension CommaSeparated where Element == Int {
    /// The values, when there are `counts` of them and each is in `range`.
    func checked(_ flag: String, in range: ClosedRange<Int>, counts: ClosedRange<Int> = 1...256, what: String = "integers") throws -> [Int] {
        guard counts.contains(values.count), values.allSatisfy(range.contains) else {
            let number = counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)"
            throw ValidationError("\(flag) must be \(number) comma-separated \(what) in \(range.lowerBound)...\(range.upperBound), got '\(defaultValueDescription)'")
        }
        return values
    }
}

extension Architecture: ExpressibleByArgument {}
extension ReconstructionLikelihood: ExpressibleByArgument {}
extension ActivationKind: ExpressibleByArgument {}
extension MNISTSplit: ExpressibleByArgument {}
extension AnomalyMetric: ExpressibleByArgument {}

/// A `--corrupt` value: a corruption spec, or `none` where `allowingNone`.
func parseCorruption(_ text: String, allowingNone: Bool = false) throws -> Corruption? {
    if allowingNone && text == "none" { return nil }
    guard let corruption = Corruption(spec: text) else {
        throw ValidationError("--corrupt must be \(Corruption.specHelp)\(allowingNone ? " or none" : ""), got '\(text)'")
    }
    return corruption
}

// MARK: outputs

/// Checks that a file can be created at `path` (its folder exists and is writable),
/// before any long work starts.
func checkWritable(_ path: String, flag: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIError("\(flag) \(path): folder \(folder) does not exist")
    }
    guard access(folder, W_OK) == 0 else { throw CLIError("\(flag) \(path): folder \(folder) is not writable") }
}

/// Checks an image output path's extension.
func checkImageExtension(_ path: String, flag: String) throws {
    let lower = path.lowercased()
    guard lower.hasSuffix(".png") || lower.hasSuffix(".pgm") else {
        throw ValidationError("\(flag) \(path): use a .png or .pgm extension")
    }
}

/// Checks an image output path before any work: extension and folder.
func checkImageOutput(_ path: String, flag: String = "-o") throws {
    try checkImageExtension(path, flag: flag)
    try checkWritable(path, flag: flag)
}

/// Writes `object` as pretty JSON, atomically.
func writeJSON(_ object: [String: Any], to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    try AtomicFile.write(Array(data) + [10], to: path)
}
