/// A checkpoint's metadata value that is missing or malformed, said in one
/// sentence (the reader of the file adds its path).
public struct MetadataError: Error, CustomStringConvertible, Equatable {
    public let problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// Typed reads of a checkpoint's string metadata: each failure names the key,
/// the value found and what was expected.
public struct MetadataReader {
    public let values: [String: String]

    public init(_ values: [String: String]) { self.values = values }

    public func has(_ key: String) -> Bool { values[key] != nil }

    /// A key every checkpoint has.
    public func string(_ key: String) throws -> String {
        guard let v = values[key] else { throw MetadataError("not a vae checkpoint: metadata has no \(key)") }
        return v
    }

    public func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        let v = try string(key)
        guard let i = Int(v), range.contains(i) else {
            throw MetadataError("metadata \(key) is \(v), expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    /// An optional key: `fallback` when absent.
    public func integer(_ key: String, in range: ClosedRange<Int>, default fallback: Int) throws -> Int {
        has(key) ? try integer(key, in: range) : fallback
    }

    public func real(_ key: String) throws -> Double {
        let v = try string(key)
        guard let d = Double(v), d.isFinite else { throw MetadataError("metadata \(key) is \(v), expected a number") }
        return d
    }

    public func real(_ key: String, default fallback: Double) throws -> Double {
        has(key) ? try real(key) : fallback
    }

    /// A value from a fixed set, parsed by `parse`; `fallback` when absent (nil: required).
    public func choice<T>(_ key: String, default fallback: T? = nil, expected: String, _ parse: (String) -> T?) throws -> T {
        if let fallback, !has(key) { return fallback }
        let v = try string(key)
        guard let value = parse(v) else { throw MetadataError("metadata \(key) is \(v), expected \(expected)") }
        return value
    }

    /// Comma-separated integers in `range`, between `counts` of them ("" is none).
    public func integers(_ key: String, in range: ClosedRange<Int>, counts: ClosedRange<Int>) throws -> [Int] {
        let v = try string(key)
        let values = v.isEmpty ? [] : v.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard counts.contains(values.count), values.allSatisfy({ $0.map(range.contains) == true }) else {
            throw MetadataError("metadata \(key) is \(v), expected comma-separated integers in \(range.lowerBound)...\(range.upperBound)")
        }
        return values.compactMap { $0 }
    }
}

/// Comma-separated, as metadata writes lists ("512,256").
public func commaSeparated(_ values: [Int]) -> String { values.map(String.init).joined(separator: ",") }
