internal import COpenBLAS
import Dispatch
import Synchronization

/// Data-parallel loops for the non-GEMM kernels (element-wise ops, norms, softmax, losses, optimizer).
///
/// The worker count is the engine's one thread setting, OpenBLAS's thread count (`BLAS.setThreadCount`,
/// `--threads`), so GEMMs and element-wise ops use the same number of cores. Loops below a size threshold stay
/// on the calling thread (a dispatch costs microseconds). Results never depend on the thread count: element-wise
/// loops write disjoint outputs, and reductions split by size only (`reduceChunks`) and combine the partial
/// results in chunk order.
public enum Parallel {
    /// Workers for the element-wise kernels.
    @inline(__always)
    public static var threads: Int { BLAS.threadCount }

    /// Calls `body` on contiguous ranges that cover `0..<n` exactly once, in parallel when `n` is at least
    /// `2 · grain` and more than one thread is configured. `body` must only write state owned by
    /// its range.
    @inline(__always)
    public static func forRanges(_ n: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let t = Swift.min(threads, n / Swift.max(1, grain))
        guard t > 1 else {
            if n > 0 { body(0..<n) }
            return
        }
        // A few ranges per worker, handed out as workers free up (see `forEach`).
        let ranges = Swift.min(n / Swift.max(1, grain), t &* 4)
        forEach(ranges, workers: t) { c in body(chunk(c, of: ranges, n)) }
    }

    /// Runs `body(i)` for `i` in `0..<count` on up to `workers` threads. Workers take the next index as they
    /// become free, so a worker on a slower or busier core takes fewer tasks instead of holding the others up;
    /// `body` must only write state owned by its index, which keeps results independent of who ran what.
    @inline(__always)
    public static func forEach(_ count: Int, workers: Int = Parallel.threads, _ body: (Int) -> Void) {
        let w = Swift.min(workers, count)
        if w <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { b in
            let work = UncheckedSendable(b)
            if #available(macOS 15, *) {
                let next = TaskCounter()
                DispatchQueue.concurrentPerform(iterations: w) { _ in
                    while true {
                        let i = next.take()
                        if i >= count { break }
                        work.value(i)
                    }
                }
            } else {  // fixed striding where the atomics are unavailable
                DispatchQueue.concurrentPerform(iterations: w) { k in
                    var i = k
                    while i < count { work.value(i); i &+= w }
                }
            }
        }
    }

    /// The chunks used for a deterministic reduction over `0..<n`: their number depends on `n` and `grain`
    /// only (at most `maxChunks`), never on the thread count.
    @inline(__always)
    public static func reduceChunks(_ n: Int, grain: Int, maxChunks: Int = 32) -> Int {
        Swift.max(1, Swift.min(maxChunks, n / Swift.max(1, grain)))
    }

    /// Range of chunk `c` out of `chunks` over `0..<n`.
    @inline(__always)
    public static func chunk(_ c: Int, of chunks: Int, _ n: Int) -> Range<Int> {
        (c &* n / chunks)..<((c &+ 1) &* n / chunks)
    }

    /// Σ over chunks of `partial(range)`, combined in chunk order (deterministic for any thread count).
    public static func sum(_ n: Int, grain: Int, _ partial: (Range<Int>) -> Double) -> Double {
        let chunks = reduceChunks(n, grain: grain)
        if chunks == 1 { return n > 0 ? partial(0..<n) : 0 }
        var parts = [Double](repeating: 0, count: chunks)
        parts.withUnsafeMutableBufferPointer { pp in
            let p = pp.baseAddress!
            forEach(chunks) { c in p[c] = partial(chunk(c, of: chunks, n)) }
        }
        var s = 0.0
        for v in parts { s += v }
        return s
    }

    /// `acc[j] = Σ_rows f(row)[j]` for a `rows × width` reduction: each chunk of rows accumulates into its own
    /// `width`-vector (`body(rowRange, partial)`), and the partial vectors are added in chunk order.
    public static func reduceRows(_ rows: Int, width: Int, grain: Int,
                                  _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        let chunks = reduceChunks(rows, grain: grain, maxChunks: 16)
        var parts = [Float](repeating: 0, count: chunks &* width)
        parts.withUnsafeMutableBufferPointer { pp in
            let p = pp.baseAddress!
            forEach(chunks) { c in body(chunk(c, of: chunks, rows), p + c &* width) }
        }
        if chunks == 1 { return parts }
        var out = [Float](repeating: 0, count: width)
        parts.withUnsafeBufferPointer { pp in
            for c in 0..<chunks {
                let src = pp.baseAddress! + c &* width
                for j in 0..<width { out[j] += src[j] }
            }
        }
        return out
    }
}

/// The next task index for `Parallel.forEach`'s workers.
@available(macOS 15, *)
final class TaskCounter: Sendable {
    private let value = Atomic<Int>(0)
    @inline(__always) func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Hands a loop body to `concurrentPerform`. The bodies write only through pointers to disjoint ranges
/// and `concurrentPerform` returns before the body's scope ends, which the compiler cannot see.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// Grain sizes (elements per worker at least) for the kernels: cheap memory-bound loops need more work to
/// pay for a dispatch than loops with an `exp` per element.
enum Grain {
    static let memory = 32_768
    static let compute = 8_192
    /// Rows of width `d` per worker for row-wise kernels.
    @inline(__always) static func rows(_ d: Int, _ elements: Int = compute) -> Int { Swift.max(1, elements / Swift.max(1, d)) }
}

extension BLAS {
    /// Runs `body` with OpenBLAS limited to one thread, for GEMMs issued from several `Parallel` workers at
    /// once (OpenBLAS 0.3.21 serializes concurrent multithreaded GEMMs behind one lock). Restores the count.
    /// The count is one setting for the whole process: the change holds `threadSetting` until the count is
    /// restored, so that no other thread's `setThreadCount` or `singleThreaded` can raise it while `body`'s GEMMs
    /// run (a tile computed by multithreaded OpenBLAS rounds differently with some kernels, and two tests that
    /// set the count at once made tiled results differ between runs). A body that runs with the count at one
    /// already (a worker inside another `singleThreaded`) changes nothing and takes no lock.
    @inline(__always)
    static func singleThreaded<R>(when condition: Bool, _ body: () -> R) -> R {
        guard condition, threadCount > 1 else { return body() }
        return threadSetting.sync {
            let t = threadCount
            if t > 1 { openblas_set_num_threads(1) }
            defer { if t > 1 { openblas_set_num_threads(Int32(t)) } }
            return body()
        }
    }

    /// Serializes changes of OpenBLAS's thread count (see `singleThreaded`); a serial queue rather than a `Mutex`,
    /// which needs macOS 15.
    static let threadSetting = DispatchQueue(label: "glossa.blas.thread-count")
}
