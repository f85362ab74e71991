import VAEData
import VAEEngine
import VAEInference
import VAEModels

/// A training run's checkpoint: the model (`Checkpoint`), Adam's moments and
/// step, the settings, where the run is and its last test figures.
///
/// Metadata beyond the model's and the settings': epoch (completed), batch
/// (done in the next epoch: nonzero after an interruption) with
/// epoch_train_<term> (those batches' sums, one per term of the objective:
/// recon and kl, or iw_bound) and epoch_train_count, adam_step, and the last
/// epoch's test figures per image: test_nelbo (the bound), test_<term>, test_count.
public enum TrainingCheckpoint {
    public static func save(model: any VariationalModel, optimizer: Adam, settings: TrainingSettings,
                            position: TrainingPosition, test: LossTerms, extra: [String: String] = [:], iterate: Tensor? = nil,
                            to path: String) throws {
        var metadata = settings.metadata.merging(extra) { run, _ in run }
        metadata["epoch"] = String(position.epoch)
        metadata["batch"] = String(position.batch)
        for (term, sum) in zip(position.partial.terms, position.partial.sums) { metadata["epoch_train_\(term.name)"] = String(sum) }
        metadata["epoch_train_count"] = String(position.partial.count)
        metadata["adam_step"] = String(optimizer.step)
        metadata["test_nelbo"] = String(test.boundPerSample)
        for (name, value) in test.perSampleByName { metadata["test_\(name)"] = String(value) }
        metadata["test_count"] = String(test.count)
        try Checkpoint.save(model: model, metadata: metadata,
                            states: [("adam.m.", optimizer.m), ("adam.v.", optimizer.v)] + (iterate.map { [("iterate.", $0)] } ?? []),
                            to: path)
    }

    public struct Loaded {
        public let model: any VariationalModel
        public let settings: TrainingSettings
        public let position: TrainingPosition
        public let test: LossTerms
        /// Present when the file holds the optimiser's state.
        public let optimizer: Adam?
        /// Every metadata key (a VQ-VAE's prior training keeps its own there).
        public let metadata: [String: String]
        /// The weights the optimiser moves, when the model's are their average (`iterate.*`).
        public let iterate: Tensor?
    }

    /// A run saved at `path`; Adam's learning rate and ε are the ones given or the run's.
    public static func load(path: String, learningRate: Float? = nil, adamEpsilon: Float? = nil) throws -> Loaded {
        let loaded = try Checkpoint.load(path: path, states: ["adam.m.", "adam.v.", "iterate."])
        let m = MetadataReader(loaded.metadata)
        do {
            let settings = try TrainingSettings(metadata: loaded.metadata)
            let terms = Objective(settings.objective, model: loaded.model).terms
            // Format 1 kept an importance-weighted run's partial sum under epoch_train_recon.
            func partialSum(_ term: LossTerm) throws -> Double {
                let key = m.has("epoch_train_\(term.name)") || term.role != .bound ? "epoch_train_\(term.name)" : "epoch_train_recon"
                return try m.real(key, default: 0)
            }
            let position = TrainingPosition(
                epoch: try m.integer("epoch", in: 0...Int(Int32.max)), batch: try m.integer("batch", in: 0...Int(Int32.max), default: 0),
                partial: LossTerms(terms, sums: try terms.map(partialSum),
                                   count: try m.integer("epoch_train_count", in: 0...Int(Int32.max), default: 0)))
            let testTerms = loaded.model.lossTerms(.closedForm)
            let testCount = try m.integer("test_count", in: 0...Int(Int32.max), default: 0)
            let test = LossTerms(testTerms, sums: try testTerms.map { try m.real("test_\($0.name)", default: 0) * Double(testCount) },
                                 count: testCount)
            var optimizer: Adam?
            if let moments = loaded.states["adam.m."], let squares = loaded.states["adam.v."], m.has("adam_step") {
                let adam = Adam(parameters: loaded.model.parameters, learningRate: learningRate ?? settings.learningRate,
                                epsilon: adamEpsilon ?? settings.adamEpsilon)
                adam.m.pointer.update(from: moments.pointer, count: adam.m.count)
                adam.v.pointer.update(from: squares.pointer, count: adam.v.count)
                adam.step = try m.integer("adam_step", in: 0...Int(Int32.max))
                optimizer = adam
            }
            return Loaded(model: loaded.model, settings: settings, position: position, test: test, optimizer: optimizer,
                          metadata: loaded.metadata, iterate: loaded.states["iterate."])
        } catch let error as MetadataError {
            throw FileError(path, error.problem)
        }
    }
}
