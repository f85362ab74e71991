import VAEEngine

/// The name and shape of one learnable tensor, e.g. `encoder.0.weight` (512, 784).
/// Names follow PyTorch's `state_dict`, so a checkpoint loads into torch.
public struct ParameterSpec: Equatable {
    public let name: String
    public let shape: [Int]
    public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
    public var count: Int { shape.reduce(1, *) }
}

/// Where one parameter lives inside the flat store.
public struct ParameterSlot: Equatable {
    public let spec: ParameterSpec
    public let offset: Int
}

/// All parameters of a model in one contiguous block, their gradients in a
/// second block of the same layout (as llm.c does): the optimiser is then one
/// loop, zeroing gradients one memset, and layers hold views into the blocks.
/// The order of `specs` is the memory order; a model can place tensors it
/// wants to treat as one (the μ and log σ² heads) side by side.
public final class ParameterStore {
    public let slots: [ParameterSlot]
    public let values: Tensor
    public let gradients: Tensor
    private let index: [String: Int]
    /// One entry per block of `forEachBlockRange`: 0, or NaN where a gradient is not finite.
    private let blockChecks: Tensor

    public init(specs: [ParameterSpec]) {
        var offset = 0
        var slots: [ParameterSlot] = []
        for spec in specs {
            slots.append(ParameterSlot(spec: spec, offset: offset))
            offset += spec.count
        }
        self.slots = slots
        self.values = Tensor(shape: [offset])
        self.gradients = Tensor(shape: [offset])
        self.blockChecks = Tensor(shape: [max(1, (offset + Self.block - 1) / Self.block)])
        var index: [String: Int] = [:]
        for (i, slot) in slots.enumerated() {
            precondition(index[slot.spec.name] == nil, "parameter \(slot.spec.name) declared twice")
            index[slot.spec.name] = i
        }
        self.index = index
    }

    public var count: Int { values.count }
    public var names: [String] { slots.map(\.spec.name) }

    public func slot(_ name: String) -> ParameterSlot {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        return slots[i]
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// One parameter, or several adjacent ones, as a single (rows, columns) view:
    /// a 1-D tensor is one row. Adjacent tensors of equal width stack as rows.
    public func values(_ names: String...) -> Matrix { view(values, names) }
    public func gradients(_ names: String...) -> Matrix { view(gradients, names) }

    private func view(_ block: Tensor, _ names: [String]) -> Matrix {
        let parts = names.map(slot)
        for (a, b) in zip(parts, parts.dropFirst()) {
            precondition(a.offset + a.spec.count == b.offset, "\(a.spec.name) and \(b.spec.name) are not adjacent")
        }
        let first = parts[0].spec.shape
        let columns = first.count == 1 ? first[0] : first.dropFirst().reduce(1, *)
        let total = parts.reduce(0) { $0 + $1.spec.count }
        let rows = first.count == 1 ? 1 : total / columns
        return Matrix(block.pointer + parts[0].offset, rows: rows, columns: first.count == 1 ? total : columns)
    }

    /// Passes over the flat buffers (zeroing, checking, Adam) go in blocks
    /// of 16k values, shared among the BLAS threads.
    static let block = 1 << 14

    /// Runs `body` on ranges of whole blocks covering 0..<count, in parallel.
    public func forEachBlockRange(_ body: (Range<Int>) -> Void) {
        let total = count
        parallelRows(blockChecks.count, workPerRow: Self.block) { blocks in
            body((blocks.lowerBound * Self.block)..<min(total, blocks.upperBound * Self.block))
        }
    }

    public func zeroGradients() {
        let g = gradients.pointer
        forEachBlockRange { range in (g + range.lowerBound).update(repeating: 0, count: range.count) }
    }

    /// False if any gradient is NaN or infinite (`allFinite` per block, the blocks in parallel).
    public func gradientsAreFinite() -> Bool {
        let g = gradients.pointer, checks = blockChecks.pointer
        forEachBlockRange { range in
            for lower in stride(from: range.lowerBound, to: range.upperBound, by: Self.block) {
                let upper = min(range.upperBound, lower + Self.block)
                checks[lower / Self.block] = allFinite(g + lower, count: upper - lower) ? 0 : .nan
            }
        }
        return blockChecks.buffer.allSatisfy { $0.isFinite }
    }
}

/// A layer's weight, viewed as (rows, columns), and bias, with their
/// gradients: what Linear and the convolutions hold. (The bias has one entry
/// per output: per row for Linear and Conv2d, per column block for ConvTranspose2d.)
public struct WeightAndBias {
    public let weight, bias, dWeight, dBias: Matrix

    public init(weight: Matrix, bias: Matrix, dWeight: Matrix, dBias: Matrix) {
        precondition(dWeight.count == weight.count && dBias.count == bias.count)
        self.weight = weight; self.bias = bias; self.dWeight = dWeight; self.dBias = dBias
    }

    /// The store's `NAME.weight` as `rows` rows, and `NAME.bias`.
    public init(name: String, store: ParameterStore, rows: Int) {
        let w = store.values("\(name).weight"), dw = store.gradients("\(name).weight")
        precondition(rows > 0 && w.count % rows == 0, "\(name).weight cannot be viewed as \(rows) rows")
        self.init(weight: Matrix(w.pointer, rows: rows, columns: w.count / rows), bias: store.values("\(name).bias"),
                  dWeight: Matrix(dw.pointer, rows: rows, columns: w.count / rows), dBias: store.gradients("\(name).bias"))
    }

    /// PyTorch's default initialisation of Linear and convolution layers:
    /// weight and bias ~ U(−1/√fanIn, 1/√fanIn) (kaiming_uniform with a = √5
    /// reduces to this bound).
    public func initialize(fanIn: Int, using rng: inout RandomGenerator) {
        let bound = 1 / Float(fanIn).squareRoot()
        for i in 0..<weight.count { weight.pointer[i] = rng.uniform(-bound, bound) }
        for i in 0..<bias.count { bias.pointer[i] = rng.uniform(-bound, bound) }
    }

    /// Sets each of `channels` planes of `planeSize` values to its channel's bias
    /// (a convolution's output before the product is added).
    public func fillChannels(_ image: UnsafeMutablePointer<Float>, planeSize: Int) {
        for c in 0..<bias.count { (image + c * planeSize).update(repeating: bias.pointer[c], count: planeSize) }
    }

    /// dBias[c] += Σ over the images (rows of `dImages`) of channel c's plane
    /// (the bias gradient of a convolution). Channels are split between the
    /// threads, and each plane is summed eight lanes at a time: one running
    /// scalar sum made this a tenth of the conv model's step.
    public func accumulateChannelBiasGradient(_ dImages: Matrix, planeSize: Int) {
        let dBias = self.dBias.pointer
        parallelRows(self.dBias.count, workPerRow: dImages.rows * planeSize) { channels in
            for c in channels {
                var total: Float = 0
                for b in 0..<dImages.rows { total += Self.planeSum(dImages.row(b) + c * planeSize, count: planeSize) }
                dBias[c] += total
            }
        }
    }

    /// For a pass that has each image's planes in cache: sums[c] = the sum
    /// of image's plane c, for `addChannelBiasGradient` to add up later.
    func sumChannels(of image: UnsafePointer<Float>, planeSize: Int, into sums: UnsafeMutablePointer<Float>) {
        for c in 0..<dBias.count { sums[c] = Self.planeSum(image + c * planeSize, count: planeSize) }
    }

    /// dBias[c] += Σ_b sums[b·channels + c] over `images` images' plane sums
    /// (`sumChannels`), in image order: the same bits as
    /// `accumulateChannelBiasGradient` of those images.
    func addChannelBiasGradient(planeSums sums: UnsafePointer<Float>, images: Int) {
        let channels = dBias.count
        for c in 0..<channels {
            var total: Float = 0
            for b in 0..<images { total += sums[b * channels + c] }
            dBias.pointer[c] += total
        }
    }

    /// dWeight += each part's weight-gradient terms (`weight.count` floats
    /// apart, one per part of `split` that had images), in part order.
    func addWeightGradientTerms(_ terms: UnsafePointer<Float>, split: ContiguousParts) {
        let dW = dWeight.pointer
        for part in 0..<split.parts where !split.range(part).isEmpty {
            let term = terms + part * weight.count
            for i in 0..<weight.count { dW[i] += term[i] }
        }
    }

    /// One plane's sum, eight lanes at a time and then across the lanes.
    @inline(__always)
    static func planeSum(_ plane: UnsafePointer<Float>, count: Int) -> Float {
        let whole = count / FloatLanes.scalarCount * FloatLanes.scalarCount
        var lanes = FloatLanes(repeating: 0)
        for i in stride(from: 0, to: whole, by: FloatLanes.scalarCount) { lanes += FloatLanes(loading: plane + i) }
        if whole < count { lanes += FloatLanes(loading: plane + whole, count: count - whole) }
        return lanes.sum()
    }
}
