import Foundation

/// The process's peak resident memory so far, in MiB (getrusage's ru_maxrss is KiB on Linux).
public func peakResidentMemoryMiB() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(Linux)
    return Double(usage.ru_maxrss) / 1024
    #else
    return Double(usage.ru_maxrss) / (1024 * 1024)
    #endif
}

/// Starts a new peak: on Linux the kernel's high-water mark of the resident
/// set (VmHWM) is set back to the current resident set, after the memory
/// already freed is handed back (`5` written to
/// /proc/self/clear_refs), so `peakResidentMemorySinceResetMiB` measures one
/// stretch of work, such as one architecture of `vae bench`, and not the
/// largest before it. False where that is not possible.
@discardableResult
public func resetPeakResidentMemory() -> Bool {
    #if os(Linux)
    // What earlier work freed goes back to the system first (glibc's
    // malloc_trim, not in Swift's Glibc module), so it is not counted again.
    if let trim = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") {
        _ = unsafeBitCast(trim, to: (@convention(c) (Int) -> Int32).self)(0)
    }
    guard let file = fopen("/proc/self/clear_refs", "w") else { return false }
    defer { fclose(file) }
    return fputs("5", file) >= 0
    #else
    return false
    #endif
}

/// The resident set's high-water mark since the last `resetPeakResidentMemory`
/// (VmHWM from /proc/self/status), in MiB; where that cannot be read, the
/// process's peak (`peakResidentMemoryMiB`).
public func peakResidentMemorySinceResetMiB() -> Double {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kib = Double(line.split(separator: " ").dropFirst().first ?? "") {
        return kib / 1024
    }
    #endif
    return peakResidentMemoryMiB()
}
