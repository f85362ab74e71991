import ArgumentParser
import Foundation
import VAEData
import VAEEngine

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
