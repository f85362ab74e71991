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
