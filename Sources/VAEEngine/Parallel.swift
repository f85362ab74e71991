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
    parallelRows(rows, workPerRow: workPerRow) { _, range in body(range) }
}

/// The same, telling each chunk its part number, below `BLASThreads.current`:
/// for work that needs a scratch buffer of its own per part.
public func parallelRows(_ rows: Int, workPerRow: Int, _ body: (_ part: Int, Range<Int>) -> Void) {
    let threads = BLASThreads.current
    let parts = min(threads, rows, max(1, rows * workPerRow / minimumSplitWork))
    if parts <= 1 { body(0, 0..<rows); return }
    let size = (rows + parts - 1) / parts
    let chunk = { (part: Int) in
        let lower = part * size
        if lower < rows { body(part, lower..<min(lower + size, rows)) }
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
    let teamSize: ThreadNumber

    static let shared: OpenMP? = {
        let handle = dlopen(nil, RTLD_NOW)
        guard let parallel = dlsym(handle, "GOMP_parallel"), let number = dlsym(handle, "omp_get_thread_num"),
              let size = dlsym(handle, "omp_get_num_threads") else { return nil }
        return OpenMP(parallel: unsafeBitCast(parallel, to: Parallel.self),
                      threadNumber: unsafeBitCast(number, to: ThreadNumber.self),
                      teamSize: unsafeBitCast(size, to: ThreadNumber.self))
    }()

    /// `body(part)` for every part in 0..<parts, spread over an OpenMP team of
    /// up to `parts` threads. A team may be smaller than asked (inside another
    /// parallel region it is one thread), so each thread takes every part
    /// congruent to its number.
    func run(_ parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var context = Context(body: body, parts: parts, threadNumber: threadNumber, teamSize: teamSize)
            withUnsafeMutablePointer(to: &context) { pointer in
                parallel({ raw in
                    let context = raw!.assumingMemoryBound(to: Context.self).pointee
                    let team = max(1, Int(context.teamSize()))
                    for part in stride(from: Int(context.threadNumber()), to: context.parts, by: team) { context.body(part) }
                }, UnsafeMutableRawPointer(pointer), UInt32(parts), 0)
            }
        }
    }

    private struct Context {
        let body: (Int) -> Void
        let parts: Int
        let threadNumber: ThreadNumber
        let teamSize: ThreadNumber
    }
}

/// How many independent jobs `parallelParts` runs at once: the BLAS threads
/// when OpenBLAS is the OpenMP build, else 1.
public var concurrentParts: Int { OpenMP.shared == nil ? 1 : BLASThreads.current }

/// `count` items (a batch's images) cut into up to `concurrentParts`
/// contiguous runs, for `parallelParts`: each part its own run and a
/// scratch buffer of its own. A part past the end gets an empty run.
public struct ContiguousParts {
    public let count: Int
    public let parts: Int
    private let size: Int

    public init(_ count: Int) {
        self.count = count
        parts = max(1, min(concurrentParts, count))
        size = (count + parts - 1) / parts
    }

    public func range(_ part: Int) -> Range<Int> { min(count, part * size)..<min(count, (part + 1) * size) }
}

/// Runs `body(part)` for every part in 0..<parts, up to `concurrentParts` at
/// once, each on its own thread of OpenBLAS's OpenMP team. Inside a part,
/// products run single-threaded (OpenBLAS does inside a parallel region)
/// and `parallelRows` runs its chunks in turn: for jobs large enough to keep
/// a core busy alone, such as one image's thousands of importance samples.
public func parallelParts(_ parts: Int, _ body: (Int) -> Void) {
    guard parts > 1, concurrentParts > 1, let openMP = OpenMP.shared else {
        for part in 0..<parts { body(part) }
        return
    }
    openMP.run(min(parts, concurrentParts), { thread in
        for part in stride(from: thread, to: parts, by: min(parts, concurrentParts)) { body(part) }
    })
}
