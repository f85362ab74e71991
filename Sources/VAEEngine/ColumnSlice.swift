/// Adjacent columns `offset..<offset + columns` of every row of a matrix: a
/// view without a copy. A posterior's heads write [μ | log σ²] rows as one
/// product; μ and log σ² are the two slices of that output.
public struct ColumnSlice {
    public let base: Matrix
    public let offset: Int
    public let columns: Int

    public init(_ base: Matrix, columns range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= base.columns, "columns \(range) of a \(base.columns)-column matrix")
        self.base = base
        self.offset = range.lowerBound
        self.columns = range.count
    }

    public var rows: Int { base.rows }

    /// The first of row r's values; the next `columns` follow it.
    public func row(_ r: Int) -> UnsafeMutablePointer<Float> { base.row(r) + offset }

    public subscript(row: Int, column: Int) -> Float {
        get { base[row, offset + column] }
        nonmutating set { base[row, offset + column] = newValue }
    }

    /// Row r's values, copied out.
    public func array(row r: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(r), count: columns)) }
}
