import VAEEngine
import VAEModels
import XCTest

final class LayerGradientTests: XCTestCase {
    func testLinearForwardIsXWTransposePlusBias() {
        let store = ParameterStore(specs: Linear.specs(name: "l", inputSize: 2, outputSize: 3))
        store.values.buffer.update(fromContentsOf: [1, 2, 3, 4, 5, 6, 0.5, -1, 2] as [Float])
        let layer = Linear(name: "l", store: store)
        let x = Tensor(shape: [1, 2], values: [1, -1])
        let y = layer.forward(x.matrix(rows: 1, columns: 2))
        // W = [[1,2],[3,4],[5,6]], b = [0.5,-1,2]: y = [1-2+0.5, 3-4-1, 5-6+2]
        XCTAssertEqual(y.array, [-0.5, -2, 1])
    }

    func testLinearBackwardMatchesFiniteDifferences() {
        let (batch, inSize, outSize) = (4, 5, 3)
        let store = ParameterStore(specs: Linear.specs(name: "l", inputSize: inSize, outputSize: outSize))
        let layer = Linear(name: "l", store: store)
        var rng = RandomGenerator(seed: 1)
        layer.initialize(using: &rng)
        let x = randomTensor([batch, inSize], seed: 2)
        let xm = x.matrix(rows: batch, columns: inSize)
        let projection = Projection(count: batch * outSize, seed: 3)
        let loss = { projection.loss(layer.forward(xm)) }

        _ = layer.forward(xm)
        store.zeroGradients()
        let dy = projection.gradient(rows: batch, columns: outSize)
        let dx = layer.backward(dy.matrix(rows: batch, columns: outSize)).array
        let tol = Tolerance(h: 1e-2, rtol: 1e-3, atol: 1e-4)   // linear in every input: FD is exact but for rounding
        checkGradient("dWeight", values: store.values.pointer, count: outSize * inSize,
                      analytic: store.gradients("l.weight").array, tolerance: tol, loss: loss)
        checkGradient("dBias", values: store.values.pointer + outSize * inSize, count: outSize,
                      analytic: store.gradients("l.bias").array, tolerance: tol, loss: loss)
        checkGradient("dInput", values: x.pointer, count: x.count, analytic: dx, tolerance: tol, loss: loss)
    }

    func testLinearAccumulatesGradientsAcrossCalls() {
        let store = ParameterStore(specs: Linear.specs(name: "l", inputSize: 2, outputSize: 2))
        let layer = Linear(name: "l", store: store)
        let x = Tensor(shape: [1, 2], values: [1, 2])
        let dy = Tensor(shape: [1, 2], values: [1, 1])
        for _ in 0..<2 {
            _ = layer.forward(x.matrix(rows: 1, columns: 2))
            layer.backward(dy.matrix(rows: 1, columns: 2))
        }
        XCTAssertEqual(store.gradients("l.weight").array, [2, 4, 2, 4])
        XCTAssertEqual(store.gradients("l.bias").array, [2, 2])
    }

    func testLinearDefaultInitialisationBound() {
        let store = ParameterStore(specs: Linear.specs(name: "l", inputSize: 400, outputSize: 50))
        var rng = RandomGenerator(seed: 9)
        Linear(name: "l", store: store).initialize(using: &rng)
        let bound: Float = 1 / 20   // 1/√400
        let w = store.values.array
        XCTAssert(w.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(w.map(abs).max()!, 0.95 * bound)   // uniform over the whole range
    }

    func testReLUBackwardMatchesFiniteDifferences() {
        let (rows, columns) = (3, 7)
        // Inputs kept away from 0, where ReLU has a kink that FD would straddle.
        let x = randomTensor([rows, columns], seed: 11)
        for i in 0..<x.count where abs(x.pointer[i]) < 0.05 { x.pointer[i] = 0.3 }
        let relu = ReLU()
        let scratch = Tensor(shape: [rows, columns])
        let projection = Projection(count: x.count, seed: 12)
        let loss = { () -> Double in
            scratch.matrix(rows: rows, columns: columns).copy(from: x.matrix(rows: rows, columns: columns))
            return projection.loss(relu.forward(scratch.matrix(rows: rows, columns: columns)))
        }
        _ = loss()
        let dy = projection.gradient(rows: rows, columns: columns)
        let dx = relu.backward(dy.matrix(rows: rows, columns: columns)).array
        checkGradient("ReLU dInput", values: x.pointer, count: x.count, analytic: dx,
                      tolerance: Tolerance(h: 1e-2, rtol: 1e-3, atol: 1e-4), loss: loss)
    }
}
