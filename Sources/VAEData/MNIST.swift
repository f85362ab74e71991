import Foundation

public enum MNISTSplit: String, CaseIterable, Sendable {
    case train, test

    var stem: String { self == .train ? "train" : "t10k" }
}

/// The four MNIST files in a folder, gzipped (`train-images-idx3-ubyte.gz`) or not.
public enum MNIST {
    public static let classCount = 10

    /// The standard file names of a split, without `.gz`.
    public static func fileNames(_ split: MNISTSplit) -> (images: String, labels: String) {
        ("\(split.stem)-images-idx3-ubyte", "\(split.stem)-labels-idx1-ubyte")
    }

    /// Loads one split: images and labels, checked to agree in count.
    public static func load(directory: String, split: MNISTSplit) throws -> ImageSet {
        let names = fileNames(split)
        let imagesPath = try file(directory, names.images)
        let labelsPath = try file(directory, names.labels)
        var images = try IDX.readImages(path: imagesPath)
        let labels = try IDX.readLabels(path: labelsPath, classCount: classCount)
        guard labels.count == images.count else {
            throw FileError(labelsPath, "has \(labels.count) labels but \(imagesPath) has \(images.count) images")
        }
        images.labels = labels
        return images
    }

    /// `NAME.gz` if present, else `NAME`.
    static func file(_ directory: String, _ name: String) throws -> String {
        let base = (directory as NSString).appendingPathComponent(name)
        for candidate in [base + ".gz", base] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw FileError(base + ".gz", "no such file (nor \(name) uncompressed)")
    }

    public static func holdsMNIST(_ directory: String) -> Bool {
        (try? file(directory, "train-images-idx3-ubyte")) != nil
    }

    /// Where the data is: `explicit` (--data) if given, else $VAE_DATA, else
    /// ./Data/mnist, else the installed copy beside the executable
    /// (PREFIX/share/vae/mnist for PREFIX/bin/vae), else /usr/local/share/vae/mnist.
    public static func locate(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                              executablePath: String = CommandLine.arguments.first ?? "") throws -> String {
        if let explicit {
            guard holdsMNIST(explicit) else {
                throw FileError(explicit, "no MNIST files here (expected train-images-idx3-ubyte.gz and the three others)")
            }
            return explicit
        }
        var candidates: [String] = []
        if let env = environment["VAE_DATA"], !env.isEmpty { candidates.append(env) }
        candidates.append("Data/mnist")
        let executable = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath()
        let prefix = executable.deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(prefix.appendingPathComponent("share/vae/mnist").path)
        candidates.append("/usr/local/share/vae/mnist")
        var seen = Set<String>()
        candidates = candidates.filter { seen.insert($0).inserted }
        if let found = candidates.first(where: holdsMNIST) { return found }
        throw FileError(candidates.joined(separator: ", "),
                        "MNIST not found in any of these folders; pass --data DIR or set VAE_DATA")
    }
}
