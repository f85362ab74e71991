import CZlib
import Foundation

/// A file read front to back, whether gzip-compressed or plain: gzip is
/// recognised by its magic bytes (1f 8b) and inflated by zlib as it streams,
/// so memory holds only what the caller asks for, never the whole file twice.
public final class ByteStream {
    public let path: String
    /// Size of the file on disk (compressed size for gzip).
    public let fileSize: Int
    public let isCompressed: Bool
    private let file: UnsafeMutablePointer<FILE>
    private var zstream = z_stream()
    private var inputChunk = [UInt8](repeating: 0, count: 1 << 16)
    private var inflateFinished = false
    private var ownedBuffer: UnsafeMutableRawPointer?

    /// deflate never compresses better than about 1032:1, so a gzip file of
    /// n bytes cannot hold more than this many times n.
    public static let maximumCompressionRatio = 1100

    public convenience init(path: String) throws {
        guard let file = fopen(path, "rb") else {
            throw FileError(path, String(cString: strerror(errno)).lowercased())
        }
        var info = stat()
        guard fstat(fileno(file), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            fclose(file)
            throw FileError(path, "not a regular file")
        }
        try self.init(file: file, size: Int(info.st_size), path: path)
    }

    /// Bytes already in memory (for tests and fuzzing), read through the same code.
    public convenience init(bytes: [UInt8], name: String) throws {
        // fmemopen reads from a buffer it does not own: keep a copy alive with the stream.
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(copy), byteCount: bytes.count) }
        guard let file = fmemopen(bytes.isEmpty ? nil : copy, bytes.count, "rb") ?? fopen("/dev/null", "rb") else {
            copy.deallocate()
            throw FileError(name, "could not open the bytes as a stream")
        }
        try self.init(file: file, size: bytes.count, path: name)
        ownedBuffer = copy
    }

    /// Takes ownership of `file` (closed on deinit, or here on failure).
    private init(file: UnsafeMutablePointer<FILE>, size: Int, path: String) throws {
        self.file = file
        self.path = path
        fileSize = size
        var magic: [UInt8] = [0, 0]
        let got = fread(&magic, 1, 2, file)
        rewind(file)
        isCompressed = got == 2 && magic == [0x1f, 0x8b]
        if isCompressed {
            // 15 window bits + 16: expect a gzip wrapper and check its CRC-32 and length.
            let status = inflateInit2_(&zstream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else {
                fclose(file)
                throw FileError(path, "zlib could not start (code \(status))")
            }
        }
    }

    deinit {
        if isCompressed { inflateEnd(&zstream) }
        fclose(file)
        ownedBuffer?.deallocate()
    }

    /// Upper bound on how many bytes the stream can yield: checked before a
    /// header's claim decides an allocation.
    public var maximumContentSize: Int {
        isCompressed ? fileSize.multipliedReportingOverflow(by: Self.maximumCompressionRatio).partialValue : fileSize
    }

    /// Reads up to `count` bytes; returns fewer only at the end of the content.
    public func read(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        guard count > 0 else { return 0 }
        guard isCompressed else { return fread(destination, 1, count, file) }
        var produced = 0
        while produced < count && !inflateFinished {
            if zstream.avail_in == 0 {
                let n = inputChunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                if n == 0 {
                    throw FileError(path, "gzip stream is truncated (ends before its end marker)")
                }
                try feed(count: n)
            }
            zstream.next_out = (destination + produced).assumingMemoryBound(to: Bytef.self)
            let want = min(count - produced, Int(UInt32.max))
            zstream.avail_out = uInt(want)
            let status = inflate(&zstream, Z_NO_FLUSH)
            produced += want - Int(zstream.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                try finishMember()
            default:
                let reason = zstream.msg.map { String(cString: $0) } ?? "code \(status)"
                throw FileError(path, "gzip data is corrupt (\(reason))")
            }
        }
        return produced
    }

    /// Points zlib at the first `count` bytes of the input chunk.
    private func feed(count: Int) throws {
        inputChunk.withUnsafeMutableBufferPointer { zstream.next_in = $0.baseAddress }
        zstream.avail_in = uInt(count)
    }

    /// At the end of one gzip member: a further member (as `cat a.gz b.gz`
    /// makes) continues the content; anything else after it is an error.
    private func finishMember() throws {
        if zstream.avail_in == 0 {
            let n = inputChunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { inflateFinished = true; return }
            try feed(count: n)
        }
        guard zstream.avail_in >= 2, zstream.next_in[0] == 0x1f, zstream.next_in[1] == 0x8b else {
            throw FileError(path, "unexpected bytes after the end of the gzip stream")
        }
        inflateReset(&zstream)
    }

    /// Reads exactly `count` bytes or throws, naming what was being read.
    public func readExactly(into destination: UnsafeMutableRawPointer, count: Int, what: String) throws {
        let n = try read(into: destination, count: count)
        guard n == count else {
            throw FileError(path, "truncated: expected \(count) bytes of \(what), found \(n)")
        }
    }

    /// True when no content remains (for gzip, this also checks the CRC-32).
    public func isAtEnd() throws -> Bool {
        var byte: UInt8 = 0
        return try read(into: &byte, count: 1) == 0
    }
}
