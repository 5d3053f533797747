import Dispatch
import Glibc

extension Tokenizer {
    /// Encodes many texts across `threads` cores (default: all), one `EncoderState` per worker.
    /// Results are in input order and identical to encoding each text alone.
    public func encodeBatch(_ texts: [[UInt8]], options: EncodeOptions = EncodeOptions(),
                            threads: Int? = nil) throws(TokenizerError) -> [Encoding] {
        let n = texts.count
        let workers = max(1, min(threads ?? Self.processorCount, n))
        if workers == 1 {
            var state = EncoderState()
            var out = [Encoding]()
            out.reserveCapacity(n)
            for t in texts { out.append(try encode(bytes: t, options: options, state: &state)) }
            return try padIfNeeded(out)
        }
        let out = try parallelMap(n, workers: workers) { (i: Int, state: inout EncoderState) throws(TokenizerError) in
            try self.encode(bytes: texts[i], options: options, state: &state)
        }
        return try padIfNeeded(out)
    }

    /// Ids only, in parallel (no offsets, no post-processing): the bulk path for datasets.
    public func encodeIdsBatch(_ texts: [[UInt8]], specialTokens: SpecialTokenPolicy = .allowed,
                               threads: Int? = nil) throws(TokenizerError) -> [[Int32]] {
        let n = texts.count
        let workers = max(1, min(threads ?? Self.processorCount, n))
        if let path = idsPath {
            // Taken out once: `encodeIds` copies it for every document, retaining the model and tables that
            // all workers share, and those counts' cache lines went back and forth between the cores.
            return try parallelMap(n, workers: workers) { (i: Int, state: inout EncoderState) throws(TokenizerError) in
                self.idsOut(try self.runIds(texts[i], path, policy: specialTokens, state: &state), state)
            }
        }
        return try parallelMap(n, workers: workers) { (i: Int, state: inout EncoderState) throws(TokenizerError) in
            try self.encodeIds(bytes: texts[i], specialTokens: specialTokens, state: &state)
        }
    }

    /// Runs `body` for indices 0..<n on `workers` threads, each with its own `EncoderState`; results in order.
    ///
    /// Workers claim runs of neighbouring indices (`ClaimCounter`) and write their results straight into
    /// their own slots, so that the threads share no cache line per document: claiming every index under a
    /// lock and storing each result under another bounced those locks' lines (and neighbouring result slots)
    /// between the cores for every document.
    func parallelMap<T>(_ n: Int, workers: Int,
                        _ body: @escaping (Int, inout EncoderState) throws(TokenizerError) -> T) throws(TokenizerError) -> [T] {
        let results = ResultSlots<T>(count: n)
        let claims = ClaimCounter(count: n, workers: workers)
        let work = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var state = EncoderState()
            while let run = claims.next() {
                for i in run {
                    do throws(TokenizerError) {
                        results.set(i, try work.value(i, &state))
                    } catch {
                        results.fail(i, error)
                        // No worker claims another run, and this one ends its own: every index below the
                        // failing one was claimed before it, so the first failure is still found.
                        claims.stop()
                        break
                    }
                }
            }
        }
        return try results.collect()
    }

    func padIfNeeded(_ encodings: [Encoding]) throws(TokenizerError) -> [Encoding] {
        guard let padding, case .batchLongest = padding.strategy else { return encodings }
        var e = encodings
        padBatch(&e, padding: padding, hasPostProcessor: postProcessor != nil)
        return e
    }
}

/// Result slots written by workers without a lock: each index by at most one worker (none are claimed
/// twice), and `collect` runs after `concurrentPerform` has returned.
final class ResultSlots<T>: @unchecked Sendable {
    /// Initialized where `done` is 1.
    private let values: UnsafeMutablePointer<T>
    private let done: UnsafeMutablePointer<UInt8>
    private let failures: UnsafeMutablePointer<TokenizerError?>
    private let count: Int
    init(count: Int) {
        self.count = count
        values = .allocate(capacity: count)
        done = .allocate(capacity: count)
        done.initialize(repeating: 0, count: count)
        failures = .allocate(capacity: count)
        failures.initialize(repeating: nil, count: count)
    }
    deinit {
        for i in 0..<count where done[i] != 0 { (values + i).deinitialize(count: 1) }
        values.deallocate(); done.deallocate()
        failures.deinitialize(count: count); failures.deallocate()
    }
    func set(_ i: Int, _ v: consuming T) { (values + i).initialize(to: v); done[i] = 1 }
    func fail(_ i: Int, _ e: TokenizerError) { failures[i] = e }
    /// The results in order, or the failure of the lowest index that failed. The values are moved into
    /// the array, not copied: copies were retained here and released again by `deinit`, on the calling
    /// thread alone after the workers had finished (≈ 1.5 % of a two-thread batch's samples, all serial).
    func collect() throws(TokenizerError) -> [T] {
        for i in 0..<count { if let e = failures[i] { throw e } }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            var k = 0
            for i in 0..<count where done[i] != 0 {
                (buffer.baseAddress! + k).moveInitialize(from: values + i, count: 1)
                done[i] = 0
                k &+= 1
            }
            initialized = k
        }
    }
}

/// Carries a closure that only reads shared immutable state into concurrentPerform.
struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

/// Hands out runs of consecutive indices of 0..<count, in increasing order: a share of what is left
/// (guided scheduling), at most `maxRun` and at least 1, so that a claim per document does not cost a lock
/// round trip between the cores while the last runs stay short enough that no worker waits long at the end.
final class ClaimCounter: @unchecked Sendable {
    private var claimed = 0
    private let count: Int
    private let divisor: Int
    private let lock = Lock()
    static let maxRun = 64
    init(count: Int, workers: Int) { self.count = count; divisor = max(1, workers) &* 8 }
    func next() -> Range<Int>? {
        lock.lock(); defer { lock.unlock() }
        guard claimed < count else { return nil }
        let run = min(Self.maxRun, max(1, (count &- claimed) / divisor))
        let r = claimed..<(claimed &+ run)
        claimed &+= run
        return r
    }
    /// Later `next` calls return nil.
    func stop() { lock.lock(); claimed = count; lock.unlock() }
}

extension Tokenizer {
    /// Online cores (sysconf), at least 1.
    static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// A pthread mutex (Foundation-free).
final class Lock: @unchecked Sendable {
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(m, nil) }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    func lock() { pthread_mutex_lock(m) }
    func unlock() { pthread_mutex_unlock(m) }
}

/// A value built at most once and shared by all threads: the first thread that asks builds it, outside
/// the lock, and threads that ask meanwhile go on without it (the values held this way only save work).
final class BuildOnce<Value>: @unchecked Sendable {
    private let lock = Lock()
    /// 0: not started, 1: being built, 2: built (`value` nil when there was nothing to build).
    private var stage = 0
    private var value: Value?

    /// The value, built here by `make` when nobody has started, and whether that answer is final (false
    /// while another thread builds it).
    func get(_ make: () -> Value?) -> (value: Value?, ready: Bool) {
        lock.lock()
        if stage != 0 {
            defer { lock.unlock() }
            return (value, stage == 2)
        }
        stage = 1
        lock.unlock()
        let v = make()
        lock.lock(); value = v; stage = 2; lock.unlock()
        return (v, true)
    }

    /// The value and whether it is final, without building it.
    func peek() -> (value: Value?, ready: Bool) {
        lock.lock(); defer { lock.unlock() }
        return (value, stage == 2)
    }

    /// Tests: behave as if another thread were still building the value.
    func holdAsBuilding() { lock.lock(); stage = 1; lock.unlock() }
}
