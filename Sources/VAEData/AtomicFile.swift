import Foundation

/// Writing a file so that a reader (or a crash) only ever sees the old file
/// or the whole new one: the bytes go to a temporary file in the same folder,
/// are flushed to disk (fsync), and the temporary file is renamed over the
/// target (rename is atomic within a file system). `durable: false` skips
/// the two fsyncs (still never a torn file, but a crash may lose the newest):
/// for the thousands of small files of a data set written in one go.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, durable: Bool = true) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var template = Array((folder + "/.\(url.lastPathComponent).tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileError(path, "cannot write here: \(String(cString: strerror(errno)))") }
        let temporary = String(cString: template)
        var failure: String?
        var offset = 0
        while offset < bytes.count && failure == nil {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno != EINTR { failure = String(cString: strerror(errno)) }
            } else { offset += n }
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

/// The whole of a file, refusing files above `limit` bytes before reading them.
public func readFile(_ path: String, limit: Int) throws -> [UInt8] {
    guard let file = fopen(path, "rb") else { throw FileError(path, String(cString: strerror(errno)).lowercased()) }
    defer { fclose(file) }
    var info = stat()
    guard fstat(fileno(file), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        throw FileError(path, "not a regular file")
    }
    let size = Int(info.st_size)
    guard size <= limit else { throw FileError(path, "file is \(size) bytes, above the \(limit)-byte limit") }
    // Uninitialised: fread fills it, so the pages are touched once, not zeroed first.
    var n = 0
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        n = size == 0 ? 0 : fread(buffer.baseAddress, 1, size, file)
        initialized = n
    }
    guard n == size else { throw FileError(path, "could not read the whole file (\(n) of \(size) bytes)") }
    return bytes
}
