import Dispatch
import Glibc

/// Runs `body` over `0..<rows` in contiguous chunks, one per BLAS thread, when
/// there is enough work (`rows × work` elements above `minimumSplitWork`). Each row is
/// computed the same way whatever the split, so results do not depend on the
/// thread count.
///
/// The chunks run on the same threads as OpenBLAS's products when OpenBLAS is
/// the OpenMP build (`libopenblas0-openmp`, found through the run path, see
/// Package.swift): its threads then take our passes between products instead
/// of spinning beside them. With the pthreads build, GCD's threads run them.
public func parallelRows(_ rows: Int, workPerRow: Int, _ body: (Range<Int>) -> Void) {
    let threads = BLASThreads.current
    let parts = min(threads, rows, max(1, rows * workPerRow / minimumSplitWork))
    if parts <= 1 { body(0..<rows); return }
    let size = (rows + parts - 1) / parts
    let chunk = { (part: Int) in
        let lower = part * size
        if lower < rows { body(lower..<min(lower + size, rows)) }
    }
    if let openMP = OpenMP.shared {
        openMP.run(parts, chunk)
    } else {
        DispatchQueue.concurrentPerform(iterations: parts, execute: chunk)
    }
}

/// Elements of simple work per extra thread before a split pays. Waking
/// OpenMP's team, which spins between products, costs about a microsecond:
/// a 16k-element pass (~5 µs) already gains. Dispatching to GCD's threads costs
/// ~10–20 µs, so there the split waits for 256k elements.
private let minimumSplitWork = OpenMP.shared == nil ? 262_144 : 16_384

/// libgomp's entry points, looked up at run time: present when the OpenMP
/// build of OpenBLAS is loaded, absent (nil) otherwise.
struct OpenMP {
    typealias Outlined = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias Parallel = @convention(c) (Outlined, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void
    typealias ThreadNumber = @convention(c) () -> Int32

    let parallel: Parallel
    let threadNumber: ThreadNumber

    static let shared: OpenMP? = {
        let handle = dlopen(nil, RTLD_NOW)
        guard let parallel = dlsym(handle, "GOMP_parallel"), let number = dlsym(handle, "omp_get_thread_num") else { return nil }
        return OpenMP(parallel: unsafeBitCast(parallel, to: Parallel.self),
                      threadNumber: unsafeBitCast(number, to: ThreadNumber.self))
    }()

    /// `body(part)` for every part in 0..<parts, one per thread of an OpenMP team.
    func run(_ parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var context = Context(body: body, threadNumber: threadNumber)
            withUnsafeMutablePointer(to: &context) { pointer in
                parallel({ raw in
                    let context = raw!.assumingMemoryBound(to: Context.self).pointee
                    context.body(Int(context.threadNumber()))
                }, UnsafeMutableRawPointer(pointer), UInt32(parts), 0)
            }
        }
    }

    private struct Context {
        let body: (Int) -> Void
        let threadNumber: ThreadNumber
    }
}
