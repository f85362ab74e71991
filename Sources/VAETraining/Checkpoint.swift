import VAEData
import VAEEngine
import VAEModels

/// What a checkpoint records beyond the weights: enough to rebuild the model,
/// resume training exactly, and tell a user what the model is.
public struct CheckpointInfo: Equatable {
    public var configuration: VAEConfiguration
    public var beta: Double = 1
    public var learningRate: Double = 1e-3
    public var batchSize: Int = 128
    public var seed: UInt64 = 0
    /// Completed epochs, and batches done in the next one (mid-epoch after an interruption).
    public var position = TrainingPosition()
    public var epoch: Int { position.epoch }
    /// Which training images the model saw (digits kept, held-out tail).
    public var data = DataSelection()
    /// How it was trained, beyond the flags above (binarisation, warm-up, schedule, IWAE samples).
    public var binarize = false
    public var warmupEpochs = 0
    public var schedule = LearningRateSchedule.constant
    public var importanceSamples = 1
    /// Negative ELBO per test sample after the last epoch, and its two terms.
    public var test = ELBOTerms()

    public init(configuration: VAEConfiguration) { self.configuration = configuration }
}

/// A model and (optionally) its optimiser state, saved as safetensors.
///
/// Tensors: the model's parameters under their PyTorch names
/// (`encoder.0.weight` [512, 784], … or `encoder.conv0.weight` [32, 1, 3, 3], …;
/// see `VAEConfiguration.parameterSpecs`), then `adam.m.<name>` and `adam.v.<name>`.
/// `__metadata__`: format_version, arch (mlp|conv), conditional (true|false),
/// classes (0 unless conditional), input_size, hidden ("512,256"),
/// latent, loss (bce|mse), activation (relu|tanh), binarize (dynamic|none),
/// warmup_epochs, lr_decay (none|iwae|factor), iw_samples, beta, lr, batch_size, seed, epoch (completed),
/// batch (done in the next epoch: nonzero after an interruption) with
/// epoch_train_recon, epoch_train_kl, epoch_train_count (those batches' sums),
/// adam_step, test_nelbo, test_recon, test_kl, test_count, and when training
/// used only some digits, digits ("0,1,…,8") and holdout (images held back).
public enum Checkpoint {
    public static let formatVersion = "1"
    static let limits = (latent: 1...4096, width: 1...65536, input: 1...(4096 * 4096), layers: 0...16, classes: 1...65536)

    public static func save(model: VAE, optimizer: Adam?, info: CheckpointInfo, to path: String) throws {
        var tensors: [NamedTensor] = []
        func add(_ prefix: String, _ block: Tensor) {
            for slot in model.parameters.slots {
                let values = Array(UnsafeBufferPointer(start: block.pointer + slot.offset, count: slot.spec.count))
                tensors.append(NamedTensor(name: prefix + slot.spec.name, shape: slot.spec.shape, values: values))
            }
        }
        add("", model.parameters.values)
        if let optimizer {
            add("adam.m.", optimizer.m)
            add("adam.v.", optimizer.v)
        }
        let c = info.configuration
        var metadata: [String: String] = [
            "format_version": formatVersion,
            "arch": c.arch,
            "conditional": c.isConditional ? "true" : "false",
            "classes": String(c.classes),
            "input_size": String(c.inputSize),
            "hidden": c.hidden.map(String.init).joined(separator: ","),
            "latent": String(c.latent),
            "loss": c.likelihood.rawValue,
            "activation": c.activation.rawValue,
            "binarize": info.binarize ? "dynamic" : "none",
            "warmup_epochs": String(info.warmupEpochs),
            "lr_decay": info.schedule.text,
            "iw_samples": String(info.importanceSamples),
            "beta": String(info.beta),
            "lr": String(info.learningRate),
            "batch_size": String(info.batchSize),
            "seed": String(info.seed),
            "epoch": String(info.position.epoch),
            "batch": String(info.position.batch),
            "epoch_train_recon": String(info.position.partial.reconstruction),
            "epoch_train_kl": String(info.position.partial.kl),
            "epoch_train_count": String(info.position.partial.count),
            "test_nelbo": String(info.test.negativeELBOPerSample),
            "test_recon": String(info.test.reconstructionPerSample),
            "test_kl": String(info.test.klPerSample),
            "test_count": String(info.test.count),
        ]
        if let optimizer { metadata["adam_step"] = String(optimizer.step) }
        if let digits = info.data.digits { metadata["digits"] = digits.map(String.init).joined(separator: ",") }
        if info.data.holdout > 0 { metadata["holdout"] = String(info.data.holdout) }
        try SafeTensors.write(SafeTensorsFile(tensors: tensors, metadata: metadata), to: path)
    }

    public struct Loaded {
        public let model: VAE
        public let info: CheckpointInfo
        /// Present when the file holds the optimiser's state.
        public let optimizer: Adam?
    }

    /// The model in `path`, and its optimiser state too unless `optimizer` is
    /// false (commands that only use the model skip that work).
    public static func load(path: String, learningRate: Float? = nil, optimizer wantsOptimizer: Bool = true) throws -> Loaded {
        // Without the optimiser, its moments (two thirds of the file) are checked but not converted.
        let file = try SafeTensors.read(path: path, reading: { wantsOptimizer || !$0.hasPrefix("adam.") })
        let info = try parseInfo(file.metadata, path: path)
        // Names and shapes are all checked before the model is built, so the
        // metadata cannot make it allocate more than the file holds.
        let specs = info.configuration.parameterSpecs
        let names = specs.map(\.name)
        let expected = Set(names)
        let adamNames = Set(names.flatMap { ["adam.m.\($0)", "adam.v.\($0)"] })
        let present = Set(file.names)
        if let missing = names.first(where: { !present.contains($0) }) {
            throw FileError(path, "tensor \(missing) is missing for a \(info.configuration.summary) model")
        }
        if let extra = file.names.first(where: { !expected.contains($0) && !adamNames.contains($0) }) {
            throw FileError(path, "unexpected tensor \(extra) for this architecture")
        }
        let hasAdam = wantsOptimizer && file.metadata["adam_step"] != nil
        if hasAdam, let missing = adamNames.sorted().first(where: { !present.contains($0) }) {
            throw FileError(path, "optimiser tensor \(missing) is missing")
        }
        for prefix in hasAdam ? ["", "adam.m.", "adam.v."] : [""] {
            for spec in specs {
                let t = file.tensor(prefix + spec.name)!
                guard t.shape == spec.shape else {
                    throw FileError(path, "tensor \(t.name) has shape \(t.shape), expected \(spec.shape)")
                }
            }
        }
        let model = VAE(configuration: info.configuration)
        let store = model.parameters
        func fill(_ block: Tensor, prefix: String) throws {
            for slot in store.slots {
                let t = file.tensor(prefix + slot.spec.name)!
                guard t.values.allSatisfy({ $0.isFinite }) else {
                    throw FileError(path, "tensor \(t.name) holds NaN or infinite values")
                }
                t.values.withUnsafeBufferPointer { (block.pointer + slot.offset).update(from: $0.baseAddress!, count: t.values.count) }
            }
        }
        try fill(store.values, prefix: "")
        var optimizer: Adam?
        if hasAdam {
            let adam = Adam(parameters: store, learningRate: learningRate ?? Float(info.learningRate))
            try fill(adam.m, prefix: "adam.m.")
            try fill(adam.v, prefix: "adam.v.")
            guard let step = Int(file.metadata["adam_step"]!), step >= 0 else {
                throw FileError(path, "metadata adam_step is not a non-negative integer")
            }
            adam.step = step
            optimizer = adam
        }
        return Loaded(model: model, info: info, optimizer: optimizer)
    }

    static func parseInfo(_ m: [String: String], path: String) throws -> CheckpointInfo {
        func value(_ key: String) throws -> String {
            guard let v = m[key] else { throw FileError(path, "not a vae checkpoint: metadata has no \(key)") }
            return v
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            let v = try value(key)
            guard let i = Int(v), range.contains(i) else {
                throw FileError(path, "metadata \(key) is \(v), expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return i
        }
        func real(_ key: String) throws -> Double {
            let v = try value(key)
            guard let d = Double(v) else { throw FileError(path, "metadata \(key) is \(v), expected a number") }
            return d
        }
        let version = try value("format_version")
        guard version == formatVersion else {
            throw FileError(path, "checkpoint format_version \(version); this vae reads version \(formatVersion)")
        }
        let arch = try value("arch")
        guard let architecture = Architecture(rawValue: arch) else {
            throw FileError(path, "architecture \(arch) is not known to this vae (expected mlp or conv)")
        }
        let conditionalText = m["conditional"] ?? "false"
        guard conditionalText == "true" || conditionalText == "false" else {
            throw FileError(path, "metadata conditional is \(conditionalText), expected true or false")
        }
        let classes = conditionalText == "true" ? try integer("classes", limits.classes) : 0
        let hiddenText = try value("hidden")
        let hidden = hiddenText.isEmpty ? [] : hiddenText.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard hidden.allSatisfy({ $0.map(limits.width.contains) == true }), limits.layers.contains(hidden.count) else {
            throw FileError(path, "metadata hidden is \(hiddenText), expected comma-separated widths in 1...65536")
        }
        let loss = try value("loss")
        guard let likelihood = ReconstructionLikelihood(rawValue: loss) else {
            throw FileError(path, "metadata loss is \(loss), expected bce or mse")
        }
        let activationText = m["activation"] ?? "relu"
        guard let activation = ActivationKind(rawValue: activationText) else {
            throw FileError(path, "metadata activation is \(activationText), expected relu or tanh")
        }
        let configuration = VAEConfiguration(
            architecture: architecture, inputSize: try integer("input_size", limits.input), hidden: hidden.compactMap { $0 },
            latent: try integer("latent", limits.latent), likelihood: likelihood, activation: activation, classes: classes)
        if let problem = configuration.problem { throw FileError(path, "metadata describes no buildable model: \(problem)") }
        var info = CheckpointInfo(configuration: configuration)
        info.binarize = m["binarize"] == "dynamic"
        info.warmupEpochs = max(0, Int(m["warmup_epochs"] ?? "0") ?? 0)
        info.schedule = LearningRateSchedule(text: m["lr_decay"] ?? "none") ?? .constant
        info.importanceSamples = max(1, Int(m["iw_samples"] ?? "1") ?? 1)
        info.beta = try real("beta")
        info.learningRate = try real("lr")
        info.batchSize = try integer("batch_size", 1...Int(Int32.max))
        info.position = TrainingPosition(
            epoch: try integer("epoch", 0...Int(Int32.max)),
            batch: Int(m["batch"] ?? "0") ?? 0,
            partial: ELBOTerms(reconstruction: Double(m["epoch_train_recon"] ?? "0") ?? 0,
                               kl: Double(m["epoch_train_kl"] ?? "0") ?? 0,
                               count: Int(m["epoch_train_count"] ?? "0") ?? 0))
        guard info.position.batch >= 0, info.position.partial.count >= 0 else {
            throw FileError(path, "metadata batch or epoch_train_count is negative")
        }
        guard let seed = UInt64(try value("seed")) else { throw FileError(path, "metadata seed is not an unsigned integer") }
        info.seed = seed
        if let text = m["digits"] {
            let digits = text.split(separator: ",").map { Int($0) }
            guard !digits.isEmpty, digits.allSatisfy({ ($0 ?? -1) >= 0 && ($0 ?? 99) <= 9 }) else {
                throw FileError(path, "metadata digits is \(text), expected comma-separated digits 0-9")
            }
            info.data.digits = digits.compactMap { $0 }
        }
        info.data.holdout = Int(m["holdout"] ?? "0") ?? 0
        let count = Int(m["test_count"] ?? "0") ?? 0
        info.test = ELBOTerms(reconstruction: (Double(m["test_recon"] ?? "") ?? 0) * Double(count),
                              kl: (Double(m["test_kl"] ?? "") ?? 0) * Double(count), count: count)
        return info
    }
}
