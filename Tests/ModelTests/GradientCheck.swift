import VAEEngine
import VAEModels
import XCTest

/// The one finite-difference helper used for every layer, loss and the whole
/// ELBO (tinygrad's `helper_test_op` idea): for each checked element θ_i,
///
///   numeric_i = (L(θ + h e_i) − L(θ − h e_i)) / 2h
///
/// must match the analytic gradient within |analytic − numeric| ≤ atol + rtol·|numeric|.
/// ReLU has corners: where the one-sided differences (L(θ+h) − L(θ))/h and
/// (L(θ) − L(θ−h))/h disagree, a corner lies within h, and the analytic
/// gradient must equal one of the two one-sided derivatives (a subgradient)
/// instead. Such points are counted: at most one, or a tenth of those checked.
/// The engine is Float32, so h is large (1e-2 by default) and the tolerances
/// are stated per test: rounding in L is ~1e-6 relative, giving ~1e-4·|L|/h of noise.
struct Tolerance {
    var h: Float = 1e-2
    var rtol: Double = 1e-2
    var atol: Double = 1e-3
}

func checkGradient(_ label: String, values: UnsafeMutablePointer<Float>, count: Int,
                   analytic: [Float], tolerance: Tolerance = Tolerance(), maxChecks: Int = 200,
                   loss: () -> Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(analytic.count, count, "\(label): gradient size", file: file, line: line)
    let stride = max(1, count / maxChecks)
    let h = Double(tolerance.h)
    func within(_ numeric: Double, _ a: Double) -> Bool { abs(a - numeric) <= tolerance.atol + tolerance.rtol * abs(numeric) }
    var checked = 0, corners = 0
    for i in Swift.stride(from: 0, to: count, by: stride) {
        let saved = values[i]
        let centre = loss()
        values[i] = saved + tolerance.h
        let plus = loss()
        values[i] = saved - tolerance.h
        let minus = loss()
        values[i] = saved
        checked += 1
        let a = Double(analytic[i])
        let central = (plus - minus) / (2 * h)
        if within(central, a) { continue }
        let forward = (plus - centre) / h, backward = (centre - minus) / h
        if !within(forward, backward) && (within(forward, a) || within(backward, a)) {
            corners += 1
            continue
        }
        XCTFail("\(label)[\(i)]: analytic \(a), central difference \(central) (one-sided \(forward), \(backward))",
                file: file, line: line)
    }
    XCTAssertLessThanOrEqual(corners, max(1, checked / 10), "\(label): \(corners) of \(checked) points at a ReLU corner",
                             file: file, line: line)
}

/// A random projection r · y (in Double): a scalar loss whose gradient with
/// respect to y is r, so any layer's output can be checked.
struct Projection {
    let weights: [Double]

    init(count: Int, seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: 99)
        weights = (0..<count).map { _ in Double(rng.uniform(-1, 1)) }
    }

    func loss(_ y: Matrix) -> Double {
        var s = 0.0
        for i in 0..<y.count { s += weights[i] * Double(y.pointer[i]) }
        return s
    }

    /// dL/dy as a tensor the layer's backward can take.
    func gradient(rows: Int, columns: Int) -> Tensor {
        Tensor(shape: [rows, columns], values: weights.map(Float.init))
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t.pointer[i] = rng.uniform(-scale, scale) }
    return t
}

/// The gradient of a model's whole objective (the ELBO, or the
/// importance-weighted bound with K draws; weight β; the input corrupted when
/// `corruption` is given, the target staying clean) with respect to every
/// parameter tensor, on a small random batch, against finite differences:
/// one call per family and configuration. A conditional model sees one-hot
/// labels (row r is class r mod C).
func checkObjectiveGradient(_ model: any VariationalModel, _ kind: Objective.Kind, beta: Float, batch: Int = 3,
                            corruption: Corruption? = nil, seed: UInt64 = 6,
                            tolerance: Tolerance = Tolerance(h: 1e-3, rtol: 2e-2, atol: 3e-3), maxChecks: Int = 40,
                            only: (String) -> Bool = { _ in true },
                            file: StaticString = #filePath, line: UInt = #line) {
    let c = model.configuration, objective = Objective(kind, model: model)
    var rng = RandomGenerator(seed: seed)
    let x = Tensor(shape: [batch, c.inputSize])
    for i in 0..<x.count { x.pointer[i] = rng.uniform() }
    let xm = x.matrix(rows: batch, columns: c.inputSize)
    let corrupted = Tensor(shape: [batch, c.inputSize])
    if let corruption { corruption.apply(xm, into: corrupted.matrix(rows: batch, columns: c.inputSize), rng: &rng) }
    let eps = Tensor(shape: [batch * objective.draws, model.noisePerDraw])
    rng.fillNormal(eps.pointer, count: eps.count)
    let labels = Tensor(shape: [max(1, batch * c.classes)])
    let condition = c.isConditional ? labels.matrix(rows: batch, columns: c.classes) : nil
    for r in 0..<batch where c.isConditional { condition![r, r % c.classes] = 1 }
    let input = corruption == nil ? xm : corrupted.matrix(rows: batch, columns: c.inputSize)
    let em = eps.matrix(rows: batch * objective.draws, columns: model.noisePerDraw)
    let loss = { objective.forward(Batch(input: input, target: xm, condition: condition), noise: em, beta: beta).loss(beta: Double(beta)) }
    _ = loss()
    model.parameters.zeroGradients()
    objective.backward(beta: beta)
    let store = model.parameters
    for slot in store.slots where only(slot.spec.name) {
        let analytic = Array(UnsafeBufferPointer(start: store.gradients.pointer + slot.offset, count: slot.spec.count))
        checkGradient("\(c.summary) \(kind) \(slot.spec.name)", values: store.values.pointer + slot.offset, count: slot.spec.count,
                      analytic: analytic, tolerance: tolerance, maxChecks: maxChecks, loss: loss, file: file, line: line)
    }
}
