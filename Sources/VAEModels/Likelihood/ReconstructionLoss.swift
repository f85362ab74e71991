import VAEEngine

/// The decoder's likelihood p(x | z), chosen with `--loss`.
public enum ReconstructionLikelihood: String, CaseIterable, Sendable {
    /// Bernoulli: −log p(x|z) = BCE(σ(logits), x), summed over pixels.
    case bernoulli = "bce"
    /// Gaussian with fixed variance: Σ (σ(logits) − x)², the sum of squared errors.
    case gaussian = "mse"
}

/// −log p(x | z) of a batch, from the decoder's logits, per sample and summed.
///
/// logits, target: (B, D); `perSample`: (B).
/// Bernoulli, written to be stable for any logit l (no log 0, no overflow):
///   BCE(σ(l), x) = max(l, 0) − l·x + log(1 + e^−|l|),   ∂/∂l = σ(l) − x.
/// Gaussian, with p = σ(l):  (p − x)²,   ∂/∂l = 2 (p − x) · p (1 − p).
public final class ReconstructionLoss {
    public let likelihood: ReconstructionLikelihood
    private var dLogits = Tensor(shape: [0])
    private var perSampleBuffer = Tensor(shape: [0])
    private var logits: Matrix?
    private var rows = 0
    private var meansBuffer = Tensor(shape: [0])

    public init(likelihood: ReconstructionLikelihood) { self.likelihood = likelihood }

    private static let laneIndex = FloatLanes(0, 1, 2, 3, 4, 5, 6, 7)

    public func reserve(batchSize: Int, features: Int) {
        guard dLogits.count < batchSize * features || perSampleBuffer.count < batchSize else { return }
        dLogits = Tensor(shape: [batchSize * features])
        perSampleBuffer = Tensor(shape: [batchSize])
    }

    /// The loss of each sample of the last forward pass.
    public var perSample: Matrix { perSampleBuffer.matrix(rows: rows, columns: 1) }

    /// Returns Σ over the batch of −log p(x | z), for logits (B·draws, D) of
    /// `draws` draws per image and target (B, D): draw r is scored against
    /// image r / draws, so K draws share their image's row rather than a K-fold
    /// copy. With `gradient` (training), dL/dlogits is computed in the same
    /// pass (it shares e^−|l| with the loss) and kept for `backward`; without
    /// it (a measurement) it is neither computed nor written.
    public func forward(logits: Matrix, target: Matrix, draws: Int = 1, gradient: Bool = true) -> Double {
        precondition(draws >= 1 && logits.rows == target.rows * draws && logits.columns == target.columns)
        reserve(batchSize: logits.rows, features: logits.columns)
        self.logits = gradient ? logits : nil
        let d = dLogits.matrix(rows: logits.rows, columns: logits.columns)
        let perSample = perSampleBuffer.pointer, likelihood = likelihood
        let columns = logits.columns, whole = columns / FloatLanes.scalarCount * FloatLanes.scalarCount
        parallelRows(logits.rows, workPerRow: columns) { rows in
            if likelihood == .bernoulli {
                for r in rows {
                    perSample[r] = gradient
                        ? Self.bernoulliTraining(logits.row(r), target.row(r / draws), gradient: d.row(r), columns: columns)
                        : Self.bernoulliMeasurement(logits.row(r), target.row(r / draws), columns: columns)
                }
                return
            }
            for r in rows {
                let l = logits.row(r), x = target.row(r / draws), g = d.row(r)
                // Eight pixels from j (n of them valid): their loss, with the
                // lanes past the row's end adding nothing, and their gradient.
                @inline(__always) func block(_ j: Int, _ n: Int) -> FloatLanes {
                    let v = FloatLanes(loading: l + j, count: n), t = FloatLanes(loading: x + j, count: n)
                    let p = sigmoid(v), diff = p - t
                    var loss = diff * diff
                    if gradient { (2 * diff * p * (1 - p)).store(to: g + j, count: n) }
                    if n < FloatLanes.scalarCount { loss = loss.replacing(with: 0, where: Self.laneIndex .>= FloatLanes(repeating: Float(n))) }
                    return loss
                }
                // Whole blocks in the loop, the short one after it (a short
                // load is built on the stack).
                var sum = FloatLanes(repeating: 0)
                for j in stride(from: 0, to: whole, by: FloatLanes.scalarCount) { sum += block(j, FloatLanes.scalarCount) }
                if whole < columns { sum += block(whole, columns - whole) }
                perSample[r] = sum.sum()
            }
        }
        rows = logits.rows
        // Summed in row order afterwards: the same total for any thread count.
        var total = 0.0
        for r in 0..<logits.rows { total += Double(perSample[r]) }
        return total
    }

    /// One row's Bernoulli loss in training, and its gradient σ(l) − x into
    /// `gradient`: eight pixels at a time, e^−|l| shared by the loss and σ,
    /// the loss summed lane by lane and the lanes added at the end.
    @inline(__always)
    private static func bernoulliTraining(_ l: UnsafePointer<Float>, _ x: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
                                          columns: Int) -> Float {
        let lanes = FloatLanes.scalarCount, whole = columns / lanes * lanes
        @inline(__always) func loss(_ v: FloatLanes, _ t: FloatLanes, _ e: FloatLanes) -> FloatLanes {
            positivePart(v) - v * t + logOnePlusUnit(e)
        }
        var sum = FloatLanes(repeating: 0)
        for j in stride(from: 0, to: whole, by: lanes) {
            let v = FloatLanes(loading: l + j), t = FloatLanes(loading: x + j)
            let e = exponentialOfNonPositive(negativeMagnitude(v))   // e^−|v| in (0, 1]: never overflows
            sum += loss(v, t, e)
            (sigmoid(v, expMinusAbs: e) - t).store(to: g + j)
        }
        if whole < columns {
            // The short block (a load built on the stack): lanes past the
            // row's end add nothing.
            let n = columns - whole
            let v = FloatLanes(loading: l + whole, count: n), t = FloatLanes(loading: x + whole, count: n)
            let e = exponentialOfNonPositive(negativeMagnitude(v))
            sum += loss(v, t, e).replacing(with: 0, where: laneIndex .>= FloatLanes(repeating: Float(n)))
            (sigmoid(v, expMinusAbs: e) - t).store(to: g + whole, count: n)
        }
        return sum.sum()
    }

    /// One row's Bernoulli loss for a measurement (nothing trained):
    ///   Σ_j [max(l_j, 0) − l_j·x_j] + log Π_j (1 + e^−|l_j|),
    /// the sum of logarithms taken as the logarithm of a product. Each factor
    /// lies in [1, 2], so a lane's product over 64 blocks of eight pixels stays
    /// below 2⁶⁴: one logarithm per 512 pixels where the sum took one per
    /// pixel, which made it a seventh of an importance-weighted estimate's
    /// time. The product's roundings (at most 64 of 2⁻²⁴ relative) move a
    /// lane's logarithm by under 4e−6 nats; the polynomials run in FMAs.
    @inline(__always)
    private static func bernoulliMeasurement(_ l: UnsafePointer<Float>, _ x: UnsafePointer<Float>, columns: Int) -> Float {
        let lanes = FloatLanes.scalarCount, whole = columns / lanes * lanes, chunk = 64 * lanes
        var linear = FloatLanes(repeating: 0), logarithms = FloatLanes(repeating: 0)
        @inline(__always) func factor(_ v: FloatLanes) -> FloatLanes { 1 + exponentialOfNonPositive(negativeMagnitude(v), fused: true) }
        for start in stride(from: 0, to: whole, by: chunk) {
            var product = FloatLanes(repeating: 1)
            for j in stride(from: start, to: min(start + chunk, whole), by: lanes) {
                let v = FloatLanes(loading: l + j), t = FloatLanes(loading: x + j)
                linear += positivePart(v) - v * t
                product *= factor(v)
            }
            logarithms += logarithmOfAtLeastOne(product)
        }
        if whole < columns {
            // The short block: lanes past the row's end load as 0 and add
            // nothing to the linear part; their factor is set to 1.
            let n = columns - whole
            let v = FloatLanes(loading: l + whole, count: n), t = FloatLanes(loading: x + whole, count: n)
            linear += positivePart(v) - v * t
            logarithms += logarithmOfAtLeastOne(factor(v).replacing(with: 1, where: laneIndex .>= FloatLanes(repeating: Float(n))))
        }
        return (linear + logarithms).sum()
    }

    /// dL/dlogits (B, D) of the last forward pass.
    public func backward() -> Matrix {
        guard let l = logits else { preconditionFailure("ReconstructionLoss.backward without a forward pass that kept the gradient") }
        return dLogits.matrix(rows: l.rows, columns: l.columns)
    }

    /// The likelihood's mean image σ(logits) (B, D) for both likelihoods: the
    /// pictures a model draws. In a buffer of its own, kept until the next call.
    public func means(_ logits: Matrix) -> Matrix {
        if meansBuffer.count < logits.count { meansBuffer = Tensor(shape: [logits.count]) }
        let out = meansBuffer.matrix(rows: logits.rows, columns: logits.columns)
        parallelRows(logits.rows, workPerRow: logits.columns) { rows in   // exp-bound: worth both cores
            let start = rows.lowerBound * logits.columns
            mapLanes(logits.pointer + start, out.pointer + start, count: rows.count * logits.columns, sigmoid)
        }
        return out
    }

    /// Scales each row r of the last forward's dL/dlogits by w_r (the
    /// importance weight of draw r).
    public func scaleGradientRows(by w: UnsafePointer<Float>) {
        let d = backward()
        parallelRows(d.rows, workPerRow: d.columns) { rows in
            for r in rows {
                let row = d.row(r)
                for j in 0..<d.columns { row[j] *= w[r] }
            }
        }
    }
}
