import VAEEngine

/// Polyak averaging (Polyak & Juditsky 1992), as PixelCNN++ uses it for its
/// test likelihoods (Salimans et al. 2017, decay 0.9995): an exponential
/// moving average of the weights the optimiser visits, which is what the
/// model is evaluated, sampled and saved with, while training goes on from
/// the optimiser's own iterate.
///
///   a ← d_t a + (1 − d_t) θ,   d_t = min(γ, (1 + t) / (10 + t))
///
/// with t the optimiser's step, as TensorFlow's ExponentialMovingAverage
/// with num_updates: early on the average spans the last ~t/9 steps rather
/// than remembering the initial weights for 1/(1 − γ) steps (0.9995^7000 is
/// still 3%: a run of 15 epochs of 469 steps).
public final class ParameterAverage {
    public let decay: Float
    /// Laid out like the whole store; only `range` moves, the rest is a copy
    /// of the store's values (so the block is a whole model, and swapping it
    /// in changes nothing outside the range).
    public let average: Tensor
    public let range: Range<Int>
    private let parameters: ParameterStore

    /// Starts at `average` if given (a resumed run's), else at the current values.
    public init(parameters: ParameterStore, range: Range<Int>, decay: Float, average: Tensor? = nil) {
        precondition(average.map { $0.count == parameters.count } ?? true, "an average laid out like another store")
        precondition(decay > 0 && decay < 1, "a decay in (0, 1)")
        self.parameters = parameters
        self.range = range
        self.decay = decay
        let block = Tensor(shape: [parameters.count])
        block.pointer.update(from: (average ?? parameters.values).pointer, count: parameters.count)
        self.average = block
    }

    /// The decay after optimiser step `step` (counted from 1).
    public func decay(atStep step: Int) -> Float {
        min(decay, Float(1 + step) / Float(10 + step))
    }

    /// Moves the average toward the current values, after optimiser step `step`.
    public func update(afterStep step: Int) {
        let d = decay(atStep: step)
        let a = average.pointer, theta = parameters.values.pointer
        for i in range { a[i] = d * a[i] + (1 - d) * theta[i] }
    }

    /// Runs `body` with the store holding the average and `average` holding
    /// the iterate (for a checkpoint that keeps both), then swaps them back:
    /// both come back bit for bit.
    public func withAverageInStore<T>(_ body: () throws -> T) rethrows -> T {
        swap()
        defer { swap() }
        return try body()
    }

    private func swap() {
        let a = average.pointer, theta = parameters.values.pointer
        for i in range { (a[i], theta[i]) = (theta[i], a[i]) }
    }
}
