import Foundation

/// Ctrl-C (SIGINT) and SIGTERM during training: the first asks the training
/// loop to stop after the current step and save; a second exits at once
/// (the checkpoint on disk is only ever replaced by an atomic rename, so it
/// stays the last good one).
final class StopRequest {
    /// Written by the signal handler, read by the loop. A signal handler may only
    /// touch such a plain word of memory (no locks, no allocation).
    private static let received: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    private static let shared = StopRequest()

    /// The signal received, if any.
    var signal: Int32? {
        let s = StopRequest.received.pointee
        return s == 0 ? nil : s
    }

    static func install() -> StopRequest {
        received.pointee = 0
        let handler: @convention(c) (Int32) -> Void = { sig in
            if StopRequest.received.pointee != 0 { _exit(128 + sig) }
            StopRequest.received.pointee = sig
        }
        Foundation.signal(SIGINT, handler)
        Foundation.signal(SIGTERM, handler)
        return shared
    }

    static func uninstall() {
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }
}
