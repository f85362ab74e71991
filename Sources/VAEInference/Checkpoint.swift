import VAEData
import VAEEngine
import VAEModels

/// A model saved as safetensors, with whatever a training run keeps beside it.
///
/// Tensors: the model's parameters under their PyTorch names
/// (`encoder.0.weight` [512, 784], …; see the family's `parameterSpecs`), then
/// per-parameter training state under a prefix (Adam's moments `adam.m.<name>`,
/// `adam.v.<name>`; `iterate.<name>`, the weights the optimiser moves when
/// the model's own are their Polyak average), laid out like the parameters.
/// `__metadata__`: format_version, the model's description
/// (ModelConfiguration+Metadata.swift), what it was trained on
/// (TrainingData), and the training run's own keys (VAETraining).
public enum Checkpoint {
    /// 2: the image shape (channels, height, width) and the conv stages are
    /// recorded; 1 (still read): square grey images of input_size pixels.
    public static let formatVersion = "2"
    static let readableVersions: Set = ["1", "2"]
    /// Prefixes of per-parameter state a checkpoint may hold beside the weights.
    public static let statePrefixes = ["adam.m.", "adam.v.", "iterate."]

    /// Writes the model, `states` (prefix → a block laid out like the
    /// parameters) and `metadata` (beside the model's own keys), atomically.
    public static func save(model: any VariationalModel, metadata: [String: String], states: [(prefix: String, block: Tensor)] = [],
                            to path: String) throws {
        precondition(states.allSatisfy { statePrefixes.contains($0.prefix) }, "an unknown state prefix")
        let blocks = [("", model.parameters.values)] + states.map { ($0.prefix, $0.block) }
        let tensors = blocks.flatMap { prefix, block in
            model.parameters.slots.map { slot in
                TensorView(name: prefix + slot.spec.name, shape: slot.spec.shape,
                           values: UnsafeBufferPointer(start: block.pointer + slot.offset, count: slot.spec.count))
            }
        }
        let all = metadata.merging(model.configuration.metadata) { _, model in model }
            .merging(["format_version": formatVersion]) { _, version in version }
        try withExtendedLifetime(blocks) { try SafeTensors.write(tensors, metadata: all, to: path) }
    }

    public struct Loaded {
        public let model: any VariationalModel
        /// What the model was trained on.
        public let trainingData: TrainingData
        /// Every metadata key, for the training run's own.
        public let metadata: [String: String]
        /// The state blocks read (those asked for that the file holds whole).
        public let states: [String: Tensor]
    }

    /// The model in `path`, and the per-parameter state under `states`
    /// prefixes when the file holds it (commands that only use the model ask
    /// for none, and skip that work).
    public static func load(path: String, states wanted: [String] = []) throws -> Loaded {
        // Every entry is checked; only the tensors used are read, straight
        // into the model's parameter block (state not asked for, two thirds
        // of a training checkpoint, is never read).
        let file = try SafeTensors.Reader(path: path)
        let configuration: ModelConfiguration
        let trainingData: TrainingData
        do {
            let version = try MetadataReader(file.metadata).string("format_version")
            guard readableVersions.contains(version) else {
                throw MetadataError("checkpoint format_version \(version); this vae reads versions \(readableVersions.sorted().joined(separator: " and "))")
            }
            configuration = try ModelConfiguration(metadata: file.metadata)
            trainingData = try TrainingData(metadata: file.metadata)
        } catch let error as MetadataError {
            throw FileError(path, error.problem)
        }
        // Names and shapes are all checked before the model is built, so the
        // metadata cannot make it allocate more than the file holds.
        let specs = configuration.parameterSpecs
        let names = specs.map(\.name)
        let known = Set(names.flatMap { name in [name] + statePrefixes.map { $0 + name } })
        let present = Set(file.names)
        if let missing = names.first(where: { !present.contains($0) }) {
            throw FileError(path, "tensor \(missing) is missing for a \(configuration.summary) model")
        }
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw FileError(path, "unexpected tensor \(extra) for this architecture")
        }
        // A state is read when every one of its tensors is present; part of one is an error.
        let states = wanted.filter { prefix in names.contains { present.contains(prefix + $0) } }
        for prefix in states {
            if let missing = names.first(where: { !present.contains(prefix + $0) }) {
                throw FileError(path, "training-state tensor \(prefix + missing) is missing")
            }
        }
        for prefix in [""] + states {
            for spec in specs {
                let name = prefix + spec.name, shape = file.shape(of: name) ?? []
                guard shape == spec.shape else {
                    throw FileError(path, "tensor \(name) has shape \(shape), expected \(spec.shape)")
                }
            }
        }
        let model = configuration.family.makeModel(configuration)
        let store = model.parameters
        func fill(_ block: Tensor, prefix: String) throws {
            for slot in store.slots {
                let name = prefix + slot.spec.name, target = block.pointer + slot.offset
                try file.read(name, into: target, count: slot.spec.count)
                guard allFinite(target, count: slot.spec.count) else {
                    throw FileError(path, "tensor \(name) holds NaN or infinite values")
                }
            }
        }
        try fill(store.values, prefix: "")
        var blocks: [String: Tensor] = [:]
        for prefix in states {
            let block = Tensor(shape: [store.count])
            try fill(block, prefix: prefix)
            blocks[prefix] = block
        }
        return Loaded(model: model, trainingData: trainingData, metadata: file.metadata, states: blocks)
    }
}

extension Checkpoint.Loaded {
    /// Throws unless the images of a data set fit this model: its shape, and
    /// for a conditional model, classes it knows, named as it was trained
    /// (one line naming `source` and what differs).
    public func checkData(_ set: ImageSet, source: String) throws {
        try model.checkInput(set, source: source)
        if let names = trainingData.classNames, let found = set.classNames, !found.starts(with: names) && !names.starts(with: found) {
            throw RequestError("\(source): classes \(found.joined(separator: ", ")), where the model was trained on \(names.joined(separator: ", "))")
        }
    }
}
