import Dispatch

/// Runs `body` over `0..<rows` in contiguous chunks, one per BLAS thread, when
/// there is enough work (`rows × work` elements above ~256k): for elementwise
/// passes dominated by exp/log, which would otherwise run on one core while
/// OpenBLAS's other threads wait. Each row is computed the same way whatever
/// the split, so results do not depend on the thread count.
public func parallelRows(_ rows: Int, workPerRow: Int, _ body: (Range<Int>) -> Void) {
    let threads = BLASThreads.current
    let parts = min(threads, rows, max(1, rows * workPerRow / 262_144))
    if parts <= 1 { body(0..<rows); return }
    let size = (rows + parts - 1) / parts
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        let lower = part * size
        if lower < rows { body(lower..<min(lower + size, rows)) }
    }
}
