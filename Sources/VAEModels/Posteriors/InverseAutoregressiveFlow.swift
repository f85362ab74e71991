import Foundation
import VAEEngine

/// K inverse autoregressive flow steps after a Gaussian posterior (Kingma,
/// Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improved
/// Variational Inference with Inverse Autoregressive Flow", Algorithm 1):
///
///   [m, s] = MADE_t(z, h),   σ = sigmoid(s),   z ← σ ⊙ z + (1 − σ) ⊙ m,
///   log |det ∂z'/∂z| = Σ_j log σ_j,
///
/// where MADE_t is an autoregressive network (Germain et al. 2015): one
/// hidden layer of H = 2k units, act(M_in ⊙ W_in z + W_ctx h + b), then
/// [m, s] = M_out ⊙ W_out hidden + b_out, the masks making m_j and s_j
/// depend on z only through the z_i before j in the step's order. So ∂z'/∂z
/// is triangular with σ on its diagonal. h is the encoder's last hidden
/// layer (the paper's context); the order is reversed from one step to the
/// next.
///
/// z: (B·draws, k), a row's draws adjacent; h: (B, c).
public final class InverseAutoregressiveFlow {
    public let steps: Int
    public let latent: Int
    struct Step {
        let input: MaskedLinear
        let context: Linear
        let activation: any Layer
        let output: MaskedLinear
    }
    let stepLayers: [Step]
    private let repeatedContext = RowRepeater()
    private var zs = Tensor(shape: [0])
    private var sigmas = Tensor(shape: [0])
    private var means = Tensor(shape: [0])
    private var logDet = Tensor(shape: [0])
    private var dz = Tensor(shape: [0])
    private var dOut = Tensor(shape: [0])
    private var dContextSum = Tensor(shape: [0])
    private var dContext = Tensor(shape: [0])
    private var last: (rows: Int, images: Int, draws: Int)?

    /// The hidden width of each step's MADE.
    public static func hiddenSize(latent: Int) -> Int { 2 * latent }

    /// Each step's `PREFIX.s.input` (H, k, masked), `.context` (H, c), `.output` (2k, H, masked).
    public static func specs(prefix: String, steps: Int, latent: Int, contextSize: Int) -> [ParameterSpec] {
        let hidden = hiddenSize(latent: latent)
        return (0..<steps).flatMap { s in
            Linear.specs(name: "\(prefix).\(s).input", inputSize: latent, outputSize: hidden)
                + Linear.specs(name: "\(prefix).\(s).context", inputSize: contextSize, outputSize: hidden)
                + Linear.specs(name: "\(prefix).\(s).output", inputSize: hidden, outputSize: 2 * latent)
        }
    }

    public init(prefix: String, store: ParameterStore, steps: Int, latent: Int, activation: ActivationKind) {
        self.steps = steps
        self.latent = latent
        let k = latent, hidden = Self.hiddenSize(latent: latent)
        stepLayers = (0..<steps).map { s in
            // Degrees: inputs 1…k in the step's order (reversed on odd steps),
            // hidden units 1…k−1 in turn; an input feeds a hidden unit of no
            // smaller degree, a hidden unit an output of greater degree.
            let inputDegree = (0..<k).map { s % 2 == 0 ? $0 + 1 : k - $0 }
            let hiddenDegree = (0..<hidden).map { $0 % max(k - 1, 1) + 1 }
            let inputMask = hiddenDegree.flatMap { d in inputDegree.map { Float(d >= $0 ? 1 : 0) } }
            let outputMask = (0..<(2 * k)).flatMap { o in hiddenDegree.map { Float(inputDegree[o % k] > $0 ? 1 : 0) } }
            return Step(input: MaskedLinear(name: "\(prefix).\(s).input", store: store, mask: inputMask),
                        context: Linear(name: "\(prefix).\(s).context", store: store),
                        activation: activation.makeLayer(),
                        output: MaskedLinear(name: "\(prefix).\(s).output", store: store, mask: outputMask))
        }
    }

    /// The gate's initial bias: σ starts near sigmoid(2) ≈ 0.88.
    static let initialGateBias: Float = 2

    /// PyTorch's default initialisation, then s's biases raised by 2: "we
    /// found it beneficial … to initialize the parameters … such that its
    /// outputs s_t are, before optimization, sufficiently positive, such as
    /// close to +1 or +2" (Kingma et al. 2016, §4), so each step starts by
    /// changing z only a little.
    public func initialize(using rng: inout RandomGenerator) {
        for step in stepLayers {
            step.input.initialize(using: &rng)
            step.context.initialize(using: &rng)
            step.output.initialize(using: &rng)
            let bias = step.output.parameters.bias.pointer
            for j in latent..<(2 * latent) { bias[j] += Self.initialGateBias }
        }
    }

    private func reserve(rows: Int, images: Int) {
        let k = latent, K = steps, hidden = Self.hiddenSize(latent: latent), c = stepLayers.first?.context.inputSize ?? 0
        if zs.count < (K + 1) * rows * k { zs = Tensor(shape: [(K + 1) * rows * k]) }
        if sigmas.count < K * rows * k { sigmas = Tensor(shape: [K * rows * k]); means = Tensor(shape: [K * rows * k]) }
        if logDet.count < rows { logDet = Tensor(shape: [rows]) }
        if dz.count < rows * k { dz = Tensor(shape: [rows * k]) }
        if dOut.count < rows * 2 * k { dOut = Tensor(shape: [rows * 2 * k]) }
        if dContextSum.count < images * hidden { dContextSum = Tensor(shape: [images * hidden]) }
        if dContext.count < images * c { dContext = Tensor(shape: [images * c]) }
    }

    /// z_K (rows, k) and Σ log|det| of each row (rows, 1), from z_0 and the context h (B, c).
    public func forward(_ z0: Matrix, context h: Matrix, draws: Int) -> (z: Matrix, logDeterminant: Matrix) {
        let k = latent, rows = z0.rows, images = h.rows
        precondition(z0.columns == k && rows == images * draws)
        reserve(rows: rows, images: images)
        zs.pointer.update(from: z0.pointer, count: rows * k)
        let ld = logDet.pointer
        ld.update(repeating: 0, count: rows)
        for (s, step) in stepLayers.enumerated() {
            let zin = Matrix(zs.pointer + s * rows * k, rows: rows, columns: k)
            let zout = Matrix(zs.pointer + (s + 1) * rows * k, rows: rows, columns: k)
            let pre = step.input.forward(zin)
            let context = repeatedContext.repeating(step.context.forward(h), times: draws)
            for i in 0..<pre.count { pre.pointer[i] += context.pointer[i] }
            let out = step.output.forward(step.activation.forward(pre))
            let sigma = sigmas.pointer + s * rows * k, m = means.pointer + s * rows * k
            for r in 0..<rows {
                let o = out.row(r), zi = zin.row(r), zo = zout.row(r)
                var total: Float = 0
                for j in 0..<k {
                    let sj = Self.sigmoid(o[k + j])
                    sigma[r * k + j] = sj
                    m[r * k + j] = o[j]
                    zo[j] = sj * zi[j] + (1 - sj) * o[j]
                    total += Self.logSigmoid(o[k + j])
                }
                ld[r] += total
            }
        }
        last = (rows, images, draws)
        return (Matrix(zs.pointer + steps * rows * k, rows: rows, columns: k), logDet.matrix(rows: rows, columns: 1))
    }

    /// Given dL/dz_K and dL/d(Σ log|det|) of each row: dL/dz_0 (rows, k), and
    /// dL/dh (B, c) summed over each image's draws and the steps.
    public func backward(_ dzK: Matrix, logDeterminantGradients dld: UnsafePointer<Float>) -> (dz: Matrix, dContext: Matrix) {
        guard let (rows, images, draws) = last else { preconditionFailure("InverseAutoregressiveFlow.backward before forward") }
        let k = latent, hidden = Self.hiddenSize(latent: latent), c = stepLayers.first?.context.inputSize ?? 0
        let g = dz.matrix(rows: rows, columns: k)
        g.copy(from: dzK)
        let dh = dContext.matrix(rows: images, columns: c)
        dh.fill(0)
        for (s, step) in stepLayers.enumerated().reversed() {
            let zin = zs.pointer + s * rows * k, sigma = sigmas.pointer + s * rows * k, m = means.pointer + s * rows * k
            let d = dOut.matrix(rows: rows, columns: 2 * k)
            for r in 0..<rows {
                let gr = g.row(r), dr = d.row(r)
                for j in 0..<k {
                    let i = r * k + j, sj = sigma[i]
                    // z' = σ z + (1 − σ) m; log det gains log σ.
                    let dSigma = gr[j] * (zin[i] - m[i]) + dld[r] / sj
                    dr[j] = gr[j] * (1 - sj)              // m
                    dr[k + j] = dSigma * sj * (1 - sj)    // s, through σ = sigmoid(s)
                    gr[j] *= sj                           // z, directly
                }
            }
            let dPre = step.activation.backward(step.output.backward(d), inputGradient: true)
            let dzMade = step.input.backward(dPre)
            for i in 0..<(rows * k) { g.pointer[i] += dzMade.pointer[i] }
            // The context's projection is shared by an image's draws: their gradients add up.
            let dSum = dContextSum.matrix(rows: images, columns: hidden)
            dSum.fill(0)
            for r in 0..<rows {
                let from = dPre.row(r), to = dSum.row(r / draws)
                for j in 0..<hidden { to[j] += from[j] }
            }
            let dhStep = step.context.backward(dSum)
            for i in 0..<(images * c) { dh.pointer[i] += dhStep.pointer[i] }
        }
        return (g, dh)
    }

    @inline(__always)
    static func sigmoid(_ a: Float) -> Float { 1 / (1 + exp(-a)) }

    /// log sigmoid(a) = −log(1 + e^−a), without overflow.
    @inline(__always)
    static func logSigmoid(_ a: Float) -> Float { a > 0 ? -log1p(exp(-a)) : a - log1p(exp(a)) }
}
