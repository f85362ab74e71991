import VAEEngine
import VAEModels
import XCTest

final class ParameterAverageTests: XCTestCase {
    /// Three steps of a ← d_t a + (1 − d_t) θ, d_t = min(γ, (1 + t)/(10 + t)),
    /// computed in Double, over part of a store; the rest never moves.
    func testAverageFollowsTheFormulaInItsRange() {
        let store = ParameterStore(specs: [ParameterSpec(name: "frozen", shape: [2]), ParameterSpec(name: "trained", shape: [3])])
        store.values.buffer.update(fromContentsOf: [7, 8, 1, -2, 0.5] as [Float])
        let average = ParameterAverage(parameters: store, range: 2..<5, decay: 0.5)
        var expected: [Double] = [1, -2, 0.5]
        let iterates: [[Float]] = [[2, 0, 1], [4, 1, -1], [0, 3, 2]]
        for (t, theta) in iterates.enumerated() {
            (store.values.pointer + 2).update(from: theta, count: 3)
            average.update(afterStep: t + 1)
            // (1 + t)/(10 + t) is 2/11, 3/12, 4/13: all below γ = 0.5.
            let d = Double(t + 2) / Double(t + 11)
            for i in 0..<3 { expected[i] = d * expected[i] + (1 - d) * Double(theta[i]) }
        }
        XCTAssertEqual(average.decay(atStep: 100), 0.5)
        XCTAssertEqual(Array(average.average.array.prefix(2)), [7, 8])
        for i in 0..<3 { XCTAssertEqual(Double(average.average.pointer[2 + i]), expected[i], accuracy: 1e-6) }
    }

    /// Inside the swap the store holds the average and the block the
    /// iterate; afterwards both are back, bit for bit.
    func testSwapIsExactAndRestores() throws {
        let store = ParameterStore(specs: [ParameterSpec(name: "a", shape: [4])])
        store.values.buffer.update(fromContentsOf: [0.1, 0.2, 0.3, 0.4] as [Float])
        let average = ParameterAverage(parameters: store, range: 1..<4, decay: 0.9)
        store.values.buffer.update(fromContentsOf: [0.1, 1.7, -3.3, 9.9] as [Float])
        average.update(afterStep: 50)
        let (iterate, averaged) = (store.values.array, average.average.array)
        XCTAssertNotEqual(iterate, averaged)
        struct Stop: Error {}
        XCTAssertThrowsError(try average.withAverageInStore {
            XCTAssertEqual(store.values.array, averaged)
            XCTAssertEqual(average.average.array, iterate)
            throw Stop()
        })
        XCTAssertEqual(store.values.array, iterate)
        XCTAssertEqual(average.average.array, averaged)
    }

    /// A resumed average starts where it was saved, not at the store's values.
    func testStartsFromASavedAverage() {
        let store = ParameterStore(specs: [ParameterSpec(name: "a", shape: [2])])
        let saved = Tensor(shape: [2])
        saved.buffer.update(fromContentsOf: [5, 6] as [Float])
        XCTAssertEqual(ParameterAverage(parameters: store, range: 0..<2, decay: 0.99, average: saved).average.array, [5, 6])
        XCTAssertEqual(ParameterAverage(parameters: store, range: 0..<2, decay: 0.99).average.array, [0, 0])
    }
}
