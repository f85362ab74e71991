import Foundation
import VAEInference
import VAEModels

/// How a model is trained: what a checkpoint records of its run (`metadata`)
/// and `vae train --resume` continues with unless a flag says otherwise.
public struct TrainingSettings: Equatable {
    public var batchSize = 128
    public var learningRate: Float = 1e-3
    /// Adam's ε (added to √v̂): PyTorch's 1e-8 by default. Burda et al. 2015
    /// (§5) used 1e-4, which damps the steps of weights whose gradients are
    /// mostly noise: with 1e-8 their two-layer model's first ten epochs stall
    /// near the mean image (train −ELBO 164.7 after ten, against 134.0).
    public var adamEpsilon: Float = 1e-8
    /// The ε of a new run with two stochastic layers when no flag gives one.
    public static let twoLayerAdamEpsilon: Float = 1e-4
    /// Weight of the KL term: 1 is the VAE, > 1 the β-VAE (Higgins et al. 2017).
    public var beta: Float = 1
    public var seed: UInt64 = 0
    /// Which images, and whether they are binarised as drawn.
    public var data = TrainingData()
    /// The KL weight rises linearly from 0 to β over this many epochs (per step).
    public var warmupEpochs = 0
    public var schedule = LearningRateSchedule.constant
    /// Samples per image of the importance-weighted bound; 1 trains on the ELBO.
    public var importanceSamples = 1
    /// The denoising criterion's corruption of each input, or nil.
    public var corruption: Corruption?
    /// The run started with the decoder's output bias at the logits of the
    /// training images' mean (`startAtMeanImage`), as Burda et al.'s code.
    public var meanImageBias = false

    public init() {}

    public var objective: Objective.Kind { importanceSamples > 1 ? .importanceWeighted(samples: importanceSamples) : .elbo }

    /// The KL weight at a point of training (epochs completed, as a fraction).
    public func klWeight(at progress: Double) -> Float {
        guard warmupEpochs > 0 else { return beta }
        return beta * Float(min(1, progress / Double(warmupEpochs)))
    }

    /// Metadata keys: beta, lr, adam_epsilon, batch_size, seed, warmup_epochs, lr_decay
    /// (none|iwae|factor), iw_samples, corrupt and init_bias (only when set), and the data's
    /// (binarize, digits, holdout).
    public var metadata: [String: String] {
        var m = [
            "beta": String(Double(beta)),
            "lr": String(Double(learningRate)),
            "adam_epsilon": String(Double(adamEpsilon)),
            "batch_size": String(batchSize),
            "seed": String(seed),
            "warmup_epochs": String(warmupEpochs),
            "lr_decay": schedule.text,
            "iw_samples": String(importanceSamples),
        ]
        if let corruption { m["corrupt"] = corruption.spec }
        if meanImageBias { m["init_bias"] = "mean" }
        return m.merging(data.metadata) { own, _ in own }
    }

    public init(metadata values: [String: String]) throws {
        let m = MetadataReader(values)
        beta = Float(try m.real("beta"))
        learningRate = Float(try m.real("lr"))
        adamEpsilon = Float(try m.real("adam_epsilon", default: 1e-8))
        guard adamEpsilon > 0 && adamEpsilon <= 1 else { throw MetadataError("metadata adam_epsilon is \(adamEpsilon), expected a number in (0, 1]") }
        batchSize = try m.integer("batch_size", in: 1...Int(Int32.max))
        seed = try m.choice("seed", expected: "an unsigned integer", UInt64.init)
        data = try TrainingData(metadata: values)
        warmupEpochs = try m.integer("warmup_epochs", in: 0...100_000, default: 0)
        schedule = try m.choice("lr_decay", default: .constant, expected: "none, iwae or a factor in (0, 1]", LearningRateSchedule.init(text:))
        importanceSamples = try m.integer("iw_samples", in: 1...100_000, default: 1)
        corruption = m.has("corrupt") ? try m.choice("corrupt", expected: Corruption.specHelp, Corruption.init(spec:)) : nil
        meanImageBias = try m.choice("init_bias", default: false, expected: "mean") { $0 == "mean" ? true : nil }
    }
}

/// How the learning rate changes from epoch to epoch.
public enum LearningRateSchedule: Equatable, Sendable {
    case constant
    /// Multiplied by this factor after every epoch.
    case exponential(Double)
    /// Burda et al. 2015, §5: stage i = 0…7 lasts 3^i epochs at lr · 10^(−i/7)
    /// (3280 epochs in all; later epochs stay at the last stage's rate).
    case iwae

    /// The rate for (1-based) epoch `epoch`.
    public func rate(base: Float, epoch: Int) -> Float {
        switch self {
        case .constant: return base
        case .exponential(let factor): return Float(Double(base) * pow(factor, Double(epoch - 1)))
        case .iwae:
            var stage = 0, end = 1
            while epoch > end && stage < 7 { stage += 1; end += Int(pow(3.0, Double(stage))) }
            return Float(Double(base) * pow(10, -Double(stage) / 7))
        }
    }

    /// As written in checkpoints and accepted by `--lr-decay`: none, iwae, or a factor.
    public var text: String {
        switch self {
        case .constant: "none"
        case .exponential(let f): String(f)
        case .iwae: "iwae"
        }
    }

    public init?(text: String) {
        switch text {
        case "none": self = .constant
        case "iwae": self = .iwae
        default:
            guard let f = Double(text), f > 0, f <= 1 else { return nil }
            self = .exponential(f)
        }
    }
}
