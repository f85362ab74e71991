import VAEEngine

/// Adam (Kingma & Ba 2014, Algorithm 1), as PyTorch implements it, over a
/// whole `ParameterStore` in one loop:
///
///   m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
///   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
///
/// Defaults are PyTorch's: β1 0.9, β2 0.999, ε 1e-8.
public final class Adam {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    /// Steps taken so far (t); saved in checkpoints so `--resume` continues exactly.
    public var step: Int = 0
    /// First and second moments, laid out like the parameters.
    public let m: Tensor
    public let v: Tensor
    private let parameters: ParameterStore
    /// The parameters it updates: all, or a part trained on its own (a VQ-VAE's prior).
    public let range: Range<Int>

    /// `range` limits the updates to part of the store; `moments` shares
    /// blocks of m and v (laid out like the whole store) with another Adam
    /// that updates another part, so one checkpoint holds both.
    public init(parameters: ParameterStore, range: Range<Int>? = nil, moments: (m: Tensor, v: Tensor)? = nil,
                learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        precondition(moments.map { $0.m.count == parameters.count && $0.v.count == parameters.count } ?? true)
        self.parameters = parameters
        self.range = range ?? 0..<parameters.count
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = moments?.m ?? Tensor(shape: [parameters.count])
        v = moments?.v ?? Tensor(shape: [parameters.count])
    }

    /// One update from the gradients in the store, which it leaves zero: the
    /// next step's backward pass accumulates into them with no separate
    /// zeroing pass (the zeros are stored while each line is in cache).
    public func update() {
        step += 1
        let t = Double(step)
        let biasCorrection1 = 1 - pow(Double(beta1), t)
        let biasCorrection2 = 1 - pow(Double(beta2), t)
        let stepSize = Float(Double(learningRate) / biasCorrection1)
        let rootCorrection2 = Float(biasCorrection2.squareRoot())
        let theta = parameters.values.pointer, g = parameters.gradients.pointer
        let mp = m.pointer, vp = v.pointer
        let (b1, b2, eps) = (beta1, beta2, epsilon), limits = self.range
        // Eight lanes at a time (explicit SIMD: the compiler cannot prove the
        // four buffers do not alias, so it leaves the scalar loop scalar), in
        // blocks shared among the BLAS threads.
        parameters.forEachBlockRange { block in
            let range = block.clamped(to: limits)
            guard !range.isEmpty else { return }
            var i = range.lowerBound
            while i + FloatLanes.scalarCount <= range.upperBound {
                let gi = FloatLanes(loading: g + i)
                let mi = b1 * FloatLanes(loading: mp + i) + (1 - b1) * gi
                let vi = b2 * FloatLanes(loading: vp + i) + (1 - b2) * gi * gi
                let ti = FloatLanes(loading: theta + i)
                mi.store(to: mp + i)
                vi.store(to: vp + i)
                FloatLanes(repeating: 0).store(to: g + i)
                (ti - stepSize * mi / (squareRoot(vi) / rootCorrection2 + eps)).store(to: theta + i)
                i += FloatLanes.scalarCount
            }
            while i < range.upperBound {   // the last few, the same formula one at a time
                mp[i] = b1 * mp[i] + (1 - b1) * g[i]
                vp[i] = b2 * vp[i] + (1 - b2) * g[i] * g[i]
                theta[i] -= stepSize * mp[i] / (vp[i].squareRoot() / rootCorrection2 + eps)
                g[i] = 0
                i += 1
            }
        }
    }
}
