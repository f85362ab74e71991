import Foundation
import VAEData
import VAEEngine
import VAEModels

/// A judge in a safetensors file: its weights under PyTorch's names and, in
/// the metadata, its shape, its classes' names, and its accuracy on the test
/// split it was trained beside.
public enum JudgeFile {
    static let kind = "vae-judge"

    /// Where `vae` looks when no --judge is given: $VAE_JUDGE, ./Data/judge.safetensors,
    /// then beside an installed binary (share/vae/judge.safetensors).
    public static func locate(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                              executablePath: String = CommandLine.arguments.first ?? "") throws -> String {
        if let explicit { return explicit }
        var candidates: [String] = []
        if let env = environment["VAE_JUDGE"], !env.isEmpty { candidates.append(env) }
        candidates.append("Data/judge.safetensors")
        let prefix = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(prefix.appendingPathComponent("share/vae/judge.safetensors").path)
        candidates.append("/usr/local/share/vae/judge.safetensors")
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw FileError(candidates.joined(separator: ", "), "no judge found in any of these places; train one with vae judge train or pass --judge FILE")
    }

    public struct Loaded {
        public let judge: Judge
        /// Where it was read from.
        public let path: String
        public let classNames: [String]?
        /// The test accuracy it reached when trained.
        public let testAccuracy: Double?
        public let metadata: [String: String]
    }

    public static func save(_ judge: Judge, classNames: [String]?, testAccuracy: Double, extra: [String: String] = [:], to path: String) throws {
        let c = judge.configuration
        var metadata = extra.merging([
            "format": kind, "channels": String(c.shape.channels), "height": String(c.shape.height), "width": String(c.shape.width),
            "classes": String(c.classes), "stages": c.stages.map { "\($0.channels)/\($0.stride)" }.joined(separator: ","),
            "hidden": String(c.hidden), "test_accuracy": String(testAccuracy),
        ]) { _, own in own }
        if let classNames { metadata["class_names"] = classNames.joined(separator: "\n") }
        let values = judge.parameters.values
        let tensors = judge.parameters.slots.map { slot in
            TensorView(name: slot.spec.name, shape: slot.spec.shape,
                       values: UnsafeBufferPointer(start: values.pointer + slot.offset, count: slot.spec.count))
        }
        try withExtendedLifetime(values) { try SafeTensors.write(tensors, metadata: metadata, to: path) }
    }

    /// The judge in `path`, every key and tensor checked before anything is
    /// sized from them.
    public static func load(path: String) throws -> Loaded {
        let file = try SafeTensors.read(path: path)
        let configuration: JudgeConfiguration
        var classNames: [String]?
        do {
            let m = MetadataReader(file.metadata)
            guard file.metadata["format"] == kind else {
                throw MetadataError(file.metadata["format_version"] != nil ? "this is a VAE checkpoint, not a judge (vae judge train makes one)"
                                                                          : "not a judge: metadata format is not \(kind)")
            }
            let shape = ImageShape(channels: try m.choice("channels", expected: "1 or 3") { ["1": 1, "3": 3][$0] },
                                   height: try m.integer("height", in: 1...ImageShape.maximumSide),
                                   width: try m.integer("width", in: 1...ImageShape.maximumSide))
            if let problem = shape.problem { throw MetadataError(problem) }
            let stages = try m.string("stages").split(separator: ",").map { entry -> JudgeConfiguration.Stage in
                let parts = entry.split(separator: "/").compactMap { Int($0) }
                guard parts.count == 2, (1...1024).contains(parts[0]), (1...4).contains(parts[1]) else {
                    throw MetadataError("metadata stages is \(file.metadata["stages"]!), expected channels/stride pairs (1...1024, 1...4)")
                }
                return JudgeConfiguration.Stage(channels: parts[0], stride: parts[1])
            }
            guard (1...6).contains(stages.count) else { throw MetadataError("metadata stages lists \(stages.count) convolutions, expected 1 to 6") }
            configuration = JudgeConfiguration(shape: shape, classes: try m.integer("classes", in: 2...1000), stages: stages,
                                               hidden: try m.integer("hidden", in: 1...4096))
            if let problem = configuration.problem { throw MetadataError(problem) }
            if let names = file.metadata["class_names"] {
                let list = names.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                guard list.count == configuration.classes else {
                    throw MetadataError("metadata class_names has \(list.count) names for \(configuration.classes) classes")
                }
                classNames = list
            }
        } catch let error as MetadataError {
            throw FileError(path, error.problem)
        }
        // Names and shapes first, so the metadata cannot size more than the file holds.
        let specs = configuration.parameterSpecs
        for spec in specs {
            guard let t = file.tensor(spec.name) else { throw FileError(path, "tensor \(spec.name) is missing for this judge") }
            guard t.shape == spec.shape else { throw FileError(path, "tensor \(t.name) has shape \(t.shape), expected \(spec.shape)") }
            guard allFinite(t.values) else { throw FileError(path, "tensor \(t.name) holds NaN or infinite values") }
        }
        if let extra = file.names.first(where: { name in !specs.contains { $0.name == name } }) {
            throw FileError(path, "unexpected tensor \(extra) for a judge")
        }
        let judge = Judge(configuration)
        for slot in judge.parameters.slots {
            let values = file.tensor(slot.spec.name)!.values
            values.withUnsafeBufferPointer { (judge.parameters.values.pointer + slot.offset).update(from: $0.baseAddress!, count: values.count) }
        }
        return Loaded(judge: judge, path: path, classNames: classNames, testAccuracy: file.metadata["test_accuracy"].flatMap(Double.init),
                      metadata: file.metadata)
    }
}
