import Foundation
import VAEEngine

/// K planar flow steps after a Gaussian posterior (Rezende & Mohamed 2015, §4.1),
/// amortised as in the paper: each image's u, w ∈ ℝᵏ and b ∈ ℝ of every step
/// come from the encoder.
///
///   f(z) = z + û h(wᵀz + b),   h = tanh,
///   log |det ∂f/∂z| = log |1 + h'(wᵀz + b) wᵀû|,
///
/// with û = u + (m(wᵀu) − wᵀu) w / ‖w‖² and m(a) = −1 + softplus(a), so that
/// wᵀû ≥ −1 and every step is invertible (the paper's appendix A.1). The
/// log-determinant has 1e-8 added inside the logarithm, as the PyTorch
/// reference does.
///
/// params: (B, K·(2k+1)), step s's u, w, b at columns s(2k+1) …; z: (B·draws, k),
/// a row's draws adjacent, each drawing its image's parameters.
public final class PlanarFlow {
    public let steps: Int
    public let latent: Int
    /// z before each step and after the last, (K+1) blocks of (rows, k).
    private var zs = Tensor(shape: [0])
    /// h(wᵀz + b) of each row and step, (rows, K).
    private var hs = Tensor(shape: [0])
    /// û of each image and step, (B, K·k).
    private var uHats = Tensor(shape: [0])
    private var logDet = Tensor(shape: [0])
    private var dzBuffer = Tensor(shape: [0])
    private var last: (params: ColumnSlice, rows: Int, draws: Int)?

    public init(steps: Int, latent: Int) {
        self.steps = steps
        self.latent = latent
    }

    /// The encoder outputs a flow of K steps needs per image.
    public static func parameterCount(steps: Int, latent: Int) -> Int { steps * (2 * latent + 1) }

    private func reserve(rows: Int, images: Int) {
        let k = latent, K = steps
        if zs.count < (K + 1) * rows * k { zs = Tensor(shape: [(K + 1) * rows * k]) }
        if hs.count < rows * K { hs = Tensor(shape: [rows * K]) }
        if uHats.count < images * K * k { uHats = Tensor(shape: [images * K * k]) }
        if logDet.count < rows { logDet = Tensor(shape: [rows]) }
        if dzBuffer.count < rows * k { dzBuffer = Tensor(shape: [rows * k]) }
    }

    /// z_K (rows, k) and Σ_s log|det| of each row (rows, 1) from z_0.
    public func forward(_ z0: Matrix, params: ColumnSlice, draws: Int) -> (z: Matrix, logDeterminant: Matrix) {
        let k = latent, K = steps, rows = z0.rows, images = params.rows
        precondition(z0.columns == k && rows == images * draws && params.columns == Self.parameterCount(steps: K, latent: k))
        reserve(rows: rows, images: images)
        // û of each image and step: u + (m(wᵀu) − wᵀu) w/‖w‖².
        for b in 0..<images {
            for s in 0..<K {
                let u = params.row(b) + s * (2 * k + 1), w = u + k, uHat = uHats.pointer + (b * K + s) * k
                var wu: Float = 0, ww: Float = 0
                for j in 0..<k { wu += w[j] * u[j]; ww += w[j] * w[j] }
                let coefficient = (Self.softplus(wu) - 1 - wu) / ww
                for j in 0..<k { uHat[j] = u[j] + coefficient * w[j] }
            }
        }
        zs.pointer.update(from: z0.pointer, count: rows * k)
        let z = zs.pointer, h = hs.pointer, ld = logDet.pointer, uHatBase = uHats.pointer
        parallelRows(rows, workPerRow: 4 * K * k) { range in
            for r in range {
                let b = r / draws
                var total: Float = 0
                for s in 0..<K {
                    let zin = z + (s * rows + r) * k, zout = z + ((s + 1) * rows + r) * k
                    let w = params.row(b) + s * (2 * k + 1) + k, bias = w[k], uHat = uHatBase + (b * K + s) * k
                    var a = bias, wu: Float = 0
                    for j in 0..<k { a += w[j] * zin[j]; wu += w[j] * uHat[j] }
                    let t = tanh(a)
                    h[r * K + s] = t
                    for j in 0..<k { zout[j] = zin[j] + uHat[j] * t }
                    total += log(abs(1 + (1 - t * t) * wu) + 1e-8)
                }
                ld[r] = total
            }
        }
        last = (params, rows, draws)
        return (Matrix(z + K * rows * k, rows: rows, columns: k), logDet.matrix(rows: rows, columns: 1))
    }

    /// Given dL/dz_K (rows, k) and dL/d(Σ log|det|) of each row, writes
    /// dL/dparams (B, K(2k+1)), summed over each image's draws, into
    /// `dParams` and returns dL/dz_0 (rows, k).
    public func backward(_ dzK: Matrix, logDeterminantGradients dld: UnsafePointer<Float>, into dParams: ColumnSlice) -> Matrix {
        guard let (params, rows, draws) = last else { preconditionFailure("PlanarFlow.backward before forward") }
        let k = latent, K = steps, images = params.rows
        for b in 0..<images { dParams.row(b).update(repeating: 0, count: dParams.columns) }
        let dz = dzBuffer.matrix(rows: rows, columns: k)
        dz.copy(from: dzK)
        for r in 0..<rows {
            let b = r / draws, g = dz.row(r)
            for s in stride(from: K - 1, through: 0, by: -1) {
                let zin = zs.pointer + (s * rows + r) * k
                let u = params.row(b) + s * (2 * k + 1), w = u + k, uHat = uHats.pointer + (b * K + s) * k
                let du = dParams.row(b) + s * (2 * k + 1), dw = du + k
                let t = hs.pointer[r * K + s], gh = 1 - t * t
                var wuHat: Float = 0, uHatDz: Float = 0
                for j in 0..<k { wuHat += w[j] * uHat[j]; uHatDz += uHat[j] * g[j] }
                let v = 1 + gh * wuHat
                // log(|v| + 1e-8): its derivative in v.
                let dv = dld[r] * (v < 0 ? -1 : 1) / (abs(v) + 1e-8)
                let dq = dv * gh                            // q = wᵀû
                let dh = uHatDz + dv * wuHat * (-2 * t)     // through û h and through h' = 1 − h²
                let da = dh * gh
                // û's gradient: from z' = z + û h and from q = wᵀû.
                var dCoefficient: Float = 0, wu: Float = 0, ww: Float = 0
                for j in 0..<k { wu += w[j] * u[j]; ww += w[j] * w[j] }
                let coefficient = (Self.softplus(wu) - 1 - wu) / ww
                for j in 0..<k {
                    let dUHat = t * g[j] + dq * w[j]
                    du[j] += dUHat
                    dw[j] += coefficient * dUHat + da * zin[j] + dq * uHat[j]
                    dCoefficient += dUHat * w[j]
                }
                dw[k] += da   // b
                // coefficient = (softplus(wu) − 1 − wu) / ww.
                let dwu = dCoefficient * (Self.sigmoid(wu) - 1) / ww
                let dww = -dCoefficient * coefficient / ww
                for j in 0..<k {
                    du[j] += dwu * w[j]
                    dw[j] += dwu * u[j] + 2 * dww * w[j]
                    g[j] += da * w[j]   // z' = z + …, and a = wᵀz + b
                }
            }
        }
        return dz
    }

    /// log(1 + e^a), without overflow.
    @inline(__always)
    static func softplus(_ a: Float) -> Float { a > 0 ? a + log1p(exp(-a)) : log1p(exp(a)) }

    @inline(__always)
    static func sigmoid(_ a: Float) -> Float { 1 / (1 + exp(-a)) }
}
