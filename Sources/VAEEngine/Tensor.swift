import Foundation

/// A block of Float32 memory that the engine owns: row-major, contiguous,
/// zero-initialised. Tensors are allocated once (per batch size, or once for
/// all parameters) and then reused, so hot loops never allocate.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        // calloc: a large block comes as fresh zero pages from the kernel, so
        // memory is touched (and counts toward the resident set) only where
        // it is written — a buffer reserved for training and unused by a
        // sampling pass costs nothing — and is not zeroed twice.
        guard let memory = calloc(max(count, 1), MemoryLayout<Float>.stride) else {
            fatalError("out of memory for a tensor of \(count) floats")
        }
        self.pointer = memory.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    deinit { free(pointer) }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }

    public func fill(_ value: Float) { buffer.update(repeating: value) }

    /// A (rows, columns) view of the first rows·columns floats: a buffer
    /// sized for the largest batch serves every smaller one.
    public func matrix(rows: Int, columns: Int) -> Matrix {
        precondition(rows >= 0 && columns >= 0 && rows * columns <= count,
                     "a (\(rows), \(columns)) view does not fit in \(count) floats")
        return Matrix(pointer, rows: rows, columns: columns)
    }
}

/// A borrowed, row-major (rows, columns) view of memory that a `Tensor` owns.
/// A value type of a pointer and two counts: making one costs nothing, so the
/// training step passes them around freely. Its owner must outlive it.
public struct Matrix {
    public let pointer: UnsafeMutablePointer<Float>
    public let rows: Int
    public let columns: Int

    public init(_ pointer: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        self.pointer = pointer
        self.rows = rows
        self.columns = columns
    }

    public var count: Int { rows * columns }
    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }

    public subscript(row: Int, column: Int) -> Float {
        get { pointer[row * columns + column] }
        nonmutating set { pointer[row * columns + column] = newValue }
    }

    public func row(_ index: Int) -> UnsafeMutablePointer<Float> { pointer + index * columns }

    public func fill(_ value: Float) { buffer.update(repeating: value) }

    /// self = other, the rows split among the threads as the passes before
    /// and after split them: each thread writes the rows it reads next,
    /// which are then in its own cache (a copy by one thread leaves the
    /// other's half in the first's cache: in the PixelCNN prior's step, the
    /// other thread's im2col of it took half again as long).
    public func copy(from other: Matrix) {
        precondition(other.rows == rows && other.columns == columns, "copy between different shapes")
        let width = columns
        parallelRows(rows, workPerRow: width) { range in
            row(range.lowerBound).update(from: other.row(range.lowerBound), count: range.count * width)
        }
    }

    /// self += other, element by element, the rows split among the threads.
    public func add(_ other: Matrix) {
        precondition(other.count == count, "sum of different sizes")
        let x = pointer, y = other.pointer, width = columns
        parallelRows(rows, workPerRow: width) { range in
            for i in (range.lowerBound * width)..<(range.upperBound * width) { x[i] += y[i] }
        }
    }
}
