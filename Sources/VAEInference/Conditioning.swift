import VAEData
import VAEEngine
import VAEModels

/// How a conditional VAE is told each image's class: a one-hot row of
/// `classes` values. Rows need not be one-hot: a mixture of two labels'
/// rows (as `vae interpolate` uses) asks the decoder for something between them.
public enum Conditioning {
    /// The one-hot row of `label`.
    public static func oneHot(_ label: Int, classes: Int) -> [Float] {
        precondition((0..<classes).contains(label), "label \(label) outside 0..<\(classes)")
        var row = [Float](repeating: 0, count: classes)
        row[label] = 1
        return row
    }

    /// Writes the one-hot rows of `labels` into `destination` (labels.count × classes).
    public static func fillOneHot<C: Collection>(_ labels: C, classes: Int, into destination: Matrix) where C.Element == Int {
        precondition(destination.rows == labels.count && destination.columns == classes)
        destination.fill(0)
        for (r, label) in labels.enumerated() {
            precondition((0..<classes).contains(label), "label \(label) outside 0..<\(classes)")
            destination[r, label] = 1
        }
    }

    /// The classes a conditional model of this data needs: one per named
    /// class (a folder's), else one more than its largest label (10 for
    /// MNIST), or nil for unlabelled data.
    public static func classes(of set: ImageSet) -> Int? {
        set.classNames?.count ?? set.labels.flatMap { $0.max() }.map { Int($0) + 1 }
    }
}

/// A batch's one-hot labels, kept in one buffer across batches.
public struct ConditionBuffer {
    public let classes: Int
    private let storage: Tensor

    public init(classes: Int, batchSize: Int) {
        self.classes = classes
        storage = Tensor(shape: [max(1, batchSize * classes)])
    }

    /// The one-hot rows of `set`'s labels at `indices`, or nil for an unconditional model.
    public func rows<C: Collection>(of set: ImageSet, _ indices: C) -> Matrix? where C.Element == Int {
        guard classes > 0 else { return nil }
        guard let labels = set.labels else { preconditionFailure("a conditional model needs labelled images") }
        let m = storage.matrix(rows: indices.count, columns: classes)
        Conditioning.fillOneHot(indices.lazy.map { Int(labels[$0]) }, classes: classes, into: m)
        return m
    }

    /// `rows` given directly (each `classes` long), or nil for an unconditional model.
    public func rows(_ conditions: ArraySlice<[Float]>?) -> Matrix? {
        guard classes > 0 else { return nil }
        guard let conditions else { preconditionFailure("a conditional model needs a condition for every input") }
        let m = storage.matrix(rows: conditions.count, columns: classes)
        for (r, row) in conditions.enumerated() {
            precondition(row.count == classes, "a condition of \(row.count) values where the model has \(classes) classes")
            row.withUnsafeBufferPointer { m.row(r).update(from: $0.baseAddress!, count: classes) }
        }
        return m
    }
}

public extension VariationalModel {
    /// The conditions to give this model for images with these labels: one-hot
    /// rows for a conditional model, nil (none needed) otherwise.
    func conditions(labels: [Int]) -> [[Float]]? {
        guard configuration.isConditional else { return nil }
        return labels.map { Conditioning.oneHot($0, classes: configuration.classes) }
    }

    /// The same for the images of `set` (nil too when the set has no labels).
    func conditions(of set: ImageSet) -> [[Float]]? {
        set.labels.flatMap { conditions(labels: $0.map(Int.init)) }
    }
}
