/// Images or labels from an IDX file (LeCun et al.'s MNIST format), gzip or plain.
///
/// Layout: a big-endian magic 0x0000_08_NN (unsigned bytes, NN dimensions),
/// NN big-endian UInt32 sizes, then the bytes row-major. Labels are 0x801
/// (one dimension), images 0x803 (count, rows, columns).
public enum IDX {
    /// Largest accepted sizes: beyond them a header is taken as corrupt
    /// rather than allowed to size an allocation.
    public static let maximumItems = 10_000_000
    public static let maximumSide = 4096
    public static let maximumPayload = 1 << 31

    public static func readImages(path: String) throws -> ImageSet {
        try readImages(from: ByteStream(path: path))
    }

    public static func readImages(from stream: ByteStream) throws -> ImageSet {
        let path = stream.path
        let dims = try readHeader(stream, expectedDimensions: 3, kind: "images")
        let (count, rows, columns) = (dims[0], dims[1], dims[2])
        guard (1...maximumSide).contains(rows), (1...maximumSide).contains(columns) else {
            throw FileError(path, "image size \(rows)x\(columns) is outside 1...\(maximumSide)")
        }
        let pixels = try readPayload(stream, count: count * rows * columns, what: "\(count) images of \(rows)x\(columns)")
        return ImageSet(pixels: pixels, count: count, rows: rows, columns: columns)
    }

    /// Labels, each checked to be below `classCount`.
    public static func readLabels(path: String, classCount: Int = 10) throws -> [UInt8] {
        try readLabels(from: ByteStream(path: path), classCount: classCount)
    }

    public static func readLabels(from stream: ByteStream, classCount: Int = 10) throws -> [UInt8] {
        let path = stream.path
        let count = try readHeader(stream, expectedDimensions: 1, kind: "labels")[0]
        let labels = try readPayload(stream, count: count, what: "\(count) labels")
        if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw FileError(path, "label \(labels[bad]) at index \(bad) is outside 0...\(classCount - 1)")
        }
        return labels
    }

    private static func readHeader(_ stream: ByteStream, expectedDimensions: Int, kind: String) throws -> [Int] {
        let path = stream.path
        var header = [UInt8](repeating: 0, count: 4 + 4 * expectedDimensions)
        let got = try header.withUnsafeMutableBytes { try stream.read(into: $0.baseAddress!, count: 4) }
        guard got == 4 else {
            throw FileError(path, "truncated: \(got) bytes, too short for an IDX header")
        }
        let magic = bigEndian(header, 0)
        let expectedMagic = 0x800 | UInt32(expectedDimensions)
        guard magic == expectedMagic else {
            throw FileError(path, "not an IDX \(kind) file: magic is 0x\(String(magic, radix: 16)), expected 0x\(String(expectedMagic, radix: 16))")
        }
        try header.withUnsafeMutableBytes {
            try stream.readExactly(into: $0.baseAddress! + 4, count: 4 * expectedDimensions, what: "the IDX \(kind) header")
        }
        let dims = (0..<expectedDimensions).map { Int(bigEndian(header, 4 + 4 * $0)) }
        guard (1...maximumItems).contains(dims[0]) else {
            throw FileError(path, "header claims \(dims[0]) \(kind), outside 1...\(maximumItems)")
        }
        return dims
    }

    /// Reads exactly `count` payload bytes and checks nothing follows. The
    /// claim is checked against what the file can hold before allocating.
    private static func readPayload(_ stream: ByteStream, count: Int, what: String) throws -> [UInt8] {
        let path = stream.path
        guard count <= maximumPayload else {
            throw FileError(path, "header claims \(what) (\(count) bytes), more than the \(maximumPayload)-byte limit")
        }
        guard count <= stream.maximumContentSize else {
            throw FileError(path, "truncated: header claims \(what) but the file has only \(stream.fileSize) bytes")
        }
        var payload = [UInt8](repeating: 0, count: count)
        try payload.withUnsafeMutableBytes { try stream.readExactly(into: $0.baseAddress!, count: count, what: what) }
        guard try stream.isAtEnd() else {
            throw FileError(path, "unexpected bytes after \(what)")
        }
        return payload
    }

    private static func bigEndian(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    /// Writes images and labels as a gzipped IDX pair (atomically), readable by
    /// `readImages`/`readLabels` and by any MNIST loader.
    public static func writeGzipped(_ set: ImageSet, imagesPath: String, labelsPath: String) throws {
        precondition(set.labels?.count == set.count, "writing an image set needs its labels")
        try AtomicFile.write(Gzip.compress(encode(dimensions: [set.count, set.rows, set.columns], payload: set.pixels)),
                             to: imagesPath)
        try AtomicFile.write(Gzip.compress(encode(dimensions: [set.count], payload: set.labels!)), to: labelsPath)
    }

    /// The bytes of an IDX file (uncompressed), for tests and tools that make data.
    public static func encode(dimensions: [Int], payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions {
            out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                    UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
        }
        return out + payload
    }
}
