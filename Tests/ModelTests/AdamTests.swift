import VAEEngine
import VAEModels
import XCTest

final class AdamTests: XCTestCase {
    /// Two steps against Algorithm 1 of Kingma & Ba (2014), computed in Double.
    func testTwoStepsMatchTheAlgorithm() {
        let store = ParameterStore(specs: [ParameterSpec(name: "p", shape: [3])])
        store.values.buffer.update(fromContentsOf: [1, -2, 0.5] as [Float])
        let adam = Adam(parameters: store, learningRate: 0.1)
        let gradients: [[Double]] = [[0.5, -1, 0.001], [0.2, 3, -0.002]]
        var theta: [Double] = [1, -2, 0.5], m = [0.0, 0, 0], v = [0.0, 0, 0]
        for (t, g) in gradients.enumerated() {
            store.gradients.buffer.update(fromContentsOf: g.map(Float.init))
            adam.update()
            for i in 0..<3 {
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                let mHat = m[i] / (1 - pow(0.9, Double(t + 1)))
                let vHat = v[i] / (1 - pow(0.999, Double(t + 1)))
                theta[i] -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        XCTAssertEqual(adam.step, 2)
        for i in 0..<3 { XCTAssertEqual(Double(store.values.pointer[i]), theta[i], accuracy: 1e-6) }
    }

    func testZeroGradientLeavesParametersAlone() {
        let store = ParameterStore(specs: [ParameterSpec(name: "p", shape: [2])])
        store.values.buffer.update(fromContentsOf: [3, 4] as [Float])
        Adam(parameters: store).update()
        XCTAssertEqual(store.values.array, [3, 4])
    }

    func testAdjacentParametersViewAsOneMatrix() {
        let store = ParameterStore(specs: [ParameterSpec(name: "a", shape: [2, 3]), ParameterSpec(name: "b", shape: [1, 3])])
        let both = store.values("a", "b")
        XCTAssertEqual(both.rows, 3)
        XCTAssertEqual(both.columns, 3)
        XCTAssertEqual(both.pointer, store.values.pointer)
    }
}
