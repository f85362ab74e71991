import Foundation

/// One named Float32 tensor of a safetensors file.
public struct NamedTensor: Equatable {
    public let name: String
    public let shape: [Int]
    public let values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A tensor to write whose values lie elsewhere; they must outlive the write.
public struct TensorView {
    public let name: String
    public let shape: [Int]
    public let values: UnsafeBufferPointer<Float>

    public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
        precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
        (self.name, self.shape, self.values) = (name, shape, values)
    }
}

/// The contents of a safetensors file: tensors in data order, and the
/// `__metadata__` string map.
public struct SafeTensorsFile: Equatable {
    public var tensors: [NamedTensor]
    public var metadata: [String: String]
    /// Tensors present and checked but whose values were not read (see `SafeTensors.read`).
    public var unread: [String] = []

    public init(tensors: [NamedTensor], metadata: [String: String]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Every tensor name in the file, read or not.
    public var names: [String] { tensors.map(\.name) + unread }

    public func tensor(_ name: String) -> NamedTensor? { tensors.first { $0.name == name } }
}

/// The safetensors format (Hugging Face): 8-byte little-endian header length
/// N, N bytes of JSON — `{"NAME": {"dtype": "F32", "shape": [..],
/// "data_offsets": [begin, end]}, …, "__metadata__": {str: str}}` — padded
/// with spaces, then the tensors' raw little-endian bytes. Offsets are relative
/// to the end of the header and must tile the data exactly: no gaps, no
/// overlaps, nothing after. `vae` writes and reads F32 only.
public enum SafeTensors {
    /// The reference implementation refuses headers above 100 MB.
    public static let maximumHeaderSize = 100_000_000
    public static let maximumFileSize = 4 << 30

    public static func encode(_ file: SafeTensorsFile) throws -> [UInt8] {
        var out = try header(file.tensors.map { ($0.name, $0.shape) }, metadata: file.metadata)
        for t in file.tensors {
            t.values.withUnsafeBufferPointer { values in appendLittleEndian(values) { out += $0 } }
        }
        return out
    }

    public static func write(_ file: SafeTensorsFile, to path: String) throws {
        try AtomicFile.write(try encode(file), to: path)
    }

    /// Writes tensors that live elsewhere (a model's parameter block), their
    /// bytes streamed from where they lie: no copy of the file is built in
    /// memory (a training checkpoint is three times the model).
    public static func write(_ tensors: [TensorView], metadata: [String: String], to path: String) throws {
        let head = try header(tensors.map { ($0.name, $0.shape) }, metadata: metadata)
        try AtomicFile.write(to: path) { emit in
            try head.withUnsafeBytes(emit)
            for t in tensors { try appendLittleEndian(t.values, emit) }
        }
    }

    /// The 8-byte length, then the JSON header padded with spaces so the data starts 8-byte aligned.
    private static func header(_ entries: [(name: String, shape: [Int])], metadata: [String: String]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, shape) in entries {
            let size = shape.reduce(1, *) * 4
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        let n = UInt64(json.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + json
    }

    /// The floats as little-endian bytes, handed on a slice at a time
    /// through a small buffer (the floats themselves on a little-endian host).
    private static func appendLittleEndian(_ values: UnsafeBufferPointer<Float>, _ emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        #if _endian(big)
        var slice = [UInt32](repeating: 0, count: 16_384)
        for lower in stride(from: 0, to: values.count, by: slice.count) {
            let upper = min(lower + slice.count, values.count)
            for i in lower..<upper { slice[i - lower] = values[i].bitPattern.littleEndian }
            try slice.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[0..<((upper - lower) * 4)])) }
        }
        #else
        try emit(UnsafeRawBufferPointer(values))
        #endif
    }

    /// The file at `path`. Every entry is validated; only the tensors `reading`
    /// accepts are read from disk (the others are listed in `unread`).
    public static func read(path: String, reading: (String) -> Bool = { _ in true }) throws -> SafeTensorsFile {
        let reader = try Reader(path: path)
        let tensors = try reader.layout.entries.filter { reading($0.name) }.map { e in
            let count = (e.end - e.begin) / 4
            let values = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                try reader.read(e, into: buffer.baseAddress, count: count)
                initialized = count
            }
            return NamedTensor(name: e.name, shape: e.shape, values: values)
        }
        return reader.layout.file(tensors, reading: reading)
    }

    /// A file opened and its header checked as `read` checks it, whose
    /// tensors are then read one at a time straight into memory the caller
    /// holds: a model's parameters load with no copy in between.
    public final class Reader {
        public let path: String
        fileprivate let layout: Layout
        private let file: ReadableFile
        private let dataStart: Int
        private let index: [String: Int]

        public init(path: String) throws {
            file = try ReadableFile(path, limit: maximumFileSize)
            guard file.size >= 8 else { throw FileError(path, "not a safetensors file: \(file.size) bytes, shorter than the 8-byte header length") }
            let headerSize = try checkedHeaderSize(try file.bytes(8, at: 0), fileSize: file.size, path: path)
            layout = try Layout(header: try file.bytes(headerSize, at: 8), dataSize: file.size - 8 - headerSize, path: path)
            dataStart = 8 + headerSize
            index = Dictionary(layout.entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            self.path = path
        }

        public var metadata: [String: String] { layout.metadata }
        /// Every tensor's name, in data order.
        public var names: [String] { layout.entries.map(\.name) }
        /// The shape of the tensor `name`, or nil if the file has none of that name.
        public func shape(of name: String) -> [Int]? { index[name].map { layout.entries[$0].shape } }

        /// The values of tensor `name` (`count` floats, as its shape says) into `target`.
        public func read(_ name: String, into target: UnsafeMutablePointer<Float>, count: Int) throws {
            guard let i = index[name] else { throw FileError(path, "tensor \(name) is missing") }
            try read(layout.entries[i], into: target, count: count)
        }

        fileprivate func read(_ e: Layout.Entry, into target: UnsafeMutablePointer<Float>?, count: Int) throws {
            guard count == (e.end - e.begin) / 4 else {
                throw FileError(path, "tensor \(e.name) holds \((e.end - e.begin) / 4) values where \(count) are expected")
            }
            guard count > 0, let target else { return }
            try file.read(count * 4, at: dataStart + e.begin, into: target)
            fromLittleEndian(target, count: count)
        }
    }

    /// The same from the file's bytes in memory.
    public static func decode(_ bytes: [UInt8], path: String, reading: (String) -> Bool = { _ in true }) throws -> SafeTensorsFile {
        guard bytes.count >= 8 else { throw FileError(path, "not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerSize = try checkedHeaderSize(Array(bytes[0..<8]), fileSize: bytes.count, path: path)
        let dataStart = 8 + headerSize
        let layout = try Layout(header: Array(bytes[8..<dataStart]), dataSize: bytes.count - dataStart, path: path)
        let tensors = bytes.withUnsafeBytes { raw in
            layout.entries.filter { reading($0.name) }.map { e in
                let count = (e.end - e.begin) / 4
                let values = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)]))
                    if let start = out.baseAddress { fromLittleEndian(start, count: count) }
                    initialized = count
                }
                return NamedTensor(name: e.name, shape: e.shape, values: values)
            }
        }
        return layout.file(tensors, reading: reading)
    }

    /// The 8-byte little-endian header length, within the file and the limit.
    fileprivate static func checkedHeaderSize(_ prefix: [UInt8], fileSize: Int, path: String) throws -> Int {
        var headerSize: UInt64 = 0
        for i in 0..<8 { headerSize |= UInt64(prefix[i]) << (8 * UInt64(i)) }
        guard headerSize <= UInt64(min(maximumHeaderSize, fileSize - 8)) else {
            throw FileError(path, "header length \(headerSize) is larger than the file (\(fileSize) bytes) or the \(maximumHeaderSize)-byte limit")
        }
        return Int(headerSize)
    }

    /// The file's bytes are little-endian: on a little-endian host they are the floats.
    private static func fromLittleEndian(_ values: UnsafeMutablePointer<Float>, count: Int) {
        #if _endian(big)
        for i in 0..<count { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        #endif
    }

    /// The header's metadata and tensor entries, every entry checked against
    /// the data's size, the entries tiling the data exactly.
    fileprivate struct Layout {
        struct Entry { let name: String; let shape: [Int]; let begin: Int; let end: Int }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []

        init(header headerBytes: [UInt8], dataSize: Int, path: String) throws {
            func fail(_ problem: String) -> FileError { FileError(path, problem) }
            guard headerBytes.first == UInt8(ascii: "{"),
                  let object = try? JSONSerialization.jsonObject(with: Data(headerBytes)),
                  let header = object as? [String: Any] else {
                throw fail("safetensors header is not a JSON object")
            }
            if let raw = header["__metadata__"] {
                guard let map = raw as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw fail("__metadata__ value of \(k) is not a string") }
                    metadata[k] = s
                }
            }
            for (name, raw) in header where name != "__metadata__" {
                guard let info = raw as? [String: Any] else { throw fail("tensor \(name): entry is not an object") }
                guard let dtype = info["dtype"] as? String else { throw fail("tensor \(name): no dtype") }
                guard dtype == "F32" else { throw fail("tensor \(name): dtype \(dtype), expected F32") }
                guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                    throw fail("tensor \(name): shape is not a list of non-negative integers")
                }
                guard let offsets = integers(info["data_offsets"]), offsets.count == 2,
                      offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                    throw fail("tensor \(name): data_offsets are not [begin, end] within the \(dataSize) data bytes")
                }
                var count = 1
                for d in shape {
                    let (p, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow, p <= dataSize else { throw fail("tensor \(name): shape \(shape) is larger than the file") }
                    count = p
                }
                guard count * 4 == offsets[1] - offsets[0] else {
                    throw fail("tensor \(name): shape \(shape) needs \(count * 4) bytes, data_offsets span \(offsets[1] - offsets[0])")
                }
                entries.append(Entry(name: name, shape: shape, begin: offsets[0], end: offsets[1]))
            }
            entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
            var expected = 0
            for e in entries {
                guard e.begin == expected else {
                    throw fail(e.begin < expected ? "tensor \(e.name) overlaps the tensor before it"
                                                  : "gap before tensor \(e.name): data bytes \(expected)..<\(e.begin) belong to no tensor")
                }
                expected = e.end
            }
            guard expected == dataSize else {
                throw fail("tensors cover \(expected) data bytes but the file has \(dataSize)")
            }
        }

        func file(_ tensors: [NamedTensor], reading: (String) -> Bool) -> SafeTensorsFile {
            var file = SafeTensorsFile(tensors: tensors, metadata: metadata)
            file.unread = entries.map(\.name).filter { !reading($0) }
            return file
        }
    }

    /// A JSON array of whole numbers, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in array {
            guard !(item is String), let n = item as? NSNumber, let i = Int(exactly: n.doubleValue) else { return nil }
            out.append(i)
        }
        return out
    }
}
