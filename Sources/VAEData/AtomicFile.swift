import Foundation

/// Writing a file so that a reader (or a crash) only ever sees the old file
/// or the whole new one: the bytes go to a temporary file in the same folder,
/// are flushed to disk (fsync), and the temporary file is renamed over the
/// target (rename is atomic within a file system). `durable: false` skips
/// the two fsyncs (still never a torn file, but a crash may lose the newest):
/// for the thousands of small files of a data set written in one go.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, durable: Bool = true) throws {
        try write(to: path, durable: durable) { emit in try bytes.withUnsafeBytes(emit) }
    }

    /// The same for bytes that `produce` hands to `emit` piece by piece (a
    /// file larger than anything worth copying into one array).
    public static func write(to path: String, durable: Bool = true,
                             _ produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var template = Array((folder + "/.\(url.lastPathComponent).tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileError(path, "cannot write here: \(String(cString: strerror(errno)))") }
        let temporary = String(cString: template)
        var failure: String?
        // Stops at the first failure; `produce` is told by the error it throws.
        struct WriteFailed: Error {}
        do {
            try produce { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 {
                        guard errno == EINTR else {
                            failure = String(cString: strerror(errno))
                            throw WriteFailed()
                        }
                    } else { offset += n }
                }
            }
        } catch is WriteFailed {
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        if failure == nil && durable && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        if failure == nil {
            fchmodDefault(temporary)
            if rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        }
        if let failure {
            unlink(temporary)
            throw FileError(path, "could not write: \(failure)")
        }
        // Make the rename itself durable.
        guard durable else { return }
        let dirfd = open(folder.isEmpty ? "." : folder, O_RDONLY)
        if dirfd >= 0 { fsync(dirfd); close(dirfd) }
    }

    /// mkstemp creates 0600; give the file the usual 0644 less the umask.
    private static func fchmodDefault(_ path: String) {
        let mask = umask(0)
        umask(mask)
        chmod(path, 0o666 & ~mask)
    }
}

/// A regular file open for reading, its size checked against a limit before
/// anything is read; bytes come from positioned reads, so a reader takes
/// only the parts it needs (a checkpoint's parameters, not its optimiser state).
public final class ReadableFile {
    public let path: String
    public let size: Int
    private let descriptor: Int32

    public init(_ path: String, limit: Int) throws {
        (descriptor, size) = try Self.open(path, limit: limit)
        self.path = path
    }

    /// The descriptor and size of a regular file within the limit; nothing left open when it throws.
    private static func open(_ path: String, limit: Int) throws -> (Int32, Int) {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(path, String(cString: strerror(errno)).lowercased()) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw FileError(path, "not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            close(descriptor)
            throw FileError(path, "file is \(info.st_size) bytes, above the \(limit)-byte limit")
        }
        return (descriptor, Int(info.st_size))
    }

    deinit { close(descriptor) }

    /// `count` bytes from `offset` into `target`; the file must still hold them
    /// (it may have been cut short since it was opened).
    public func read(_ count: Int, at offset: Int, into target: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < count {
            let n = pread(descriptor, target + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw FileError(path, n < 0 ? "could not read: \(String(cString: strerror(errno)))"
                                            : "could not read the whole file (it ends before byte \(offset + count) of \(size))")
            }
            done += n
        }
    }

    /// `count` bytes from `offset`, uninitialised until read (the pages are touched once, not zeroed first).
    public func bytes(_ count: Int, at offset: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { try read(count, at: offset, into: buffer.baseAddress!) }
            initialized = count
        }
    }
}

/// The whole of a file, refusing files above `limit` bytes before reading them.
public func readFile(_ path: String, limit: Int) throws -> [UInt8] {
    let file = try ReadableFile(path, limit: limit)
    return try file.bytes(file.size, at: 0)
}
