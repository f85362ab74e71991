import Foundation

/// The hyperparameters of a run (`vae train`'s flags).
public struct TrainingSettings: Equatable {
    public var epochs = 10
    public var batchSize = 128
    public var learningRate: Float = 1e-3
    /// Weight of the KL term: 1 is the VAE, > 1 the β-VAE.
    public var beta: Float = 1
    public var seed: UInt64 = 0
    /// Dynamic binarisation: every time an image is drawn, each pixel is set to
    /// 1 with probability equal to its intensity (Burda et al. 2015).
    public var binarize = false
    /// The KL weight rises linearly from 0 to β over this many epochs (per step).
    public var warmupEpochs = 0
    public var schedule = LearningRateSchedule.constant
    /// Samples per image of the importance-weighted bound; 1 trains on the ELBO.
    public var importanceSamples = 1

    public init() {}

    /// The KL weight at a point of training (epochs completed, as a fraction).
    public func klWeight(at progress: Double) -> Float {
        guard warmupEpochs > 0 else { return beta }
        return beta * Float(min(1, progress / Double(warmupEpochs)))
    }
}

/// How the learning rate changes from epoch to epoch.
public enum LearningRateSchedule: Equatable {
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
