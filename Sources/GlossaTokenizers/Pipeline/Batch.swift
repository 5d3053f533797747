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
        return try parallelMap(n, workers: workers) { (i: Int, state: inout EncoderState) throws(TokenizerError) in
            try self.encodeIds(bytes: texts[i], specialTokens: specialTokens, state: &state)
        }
    }

    /// Runs `body` for indices 0..<n on `workers` threads, each with its own `EncoderState`; results in order.
    func parallelMap<T>(_ n: Int, workers: Int,
                        _ body: @escaping (Int, inout EncoderState) throws(TokenizerError) -> T) throws(TokenizerError) -> [T] {
        let results = ResultSlots<T>(count: n)
        let next = AtomicCounter()
        let work = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var state = EncoderState()
            while true {
                let i = next.fetchAdd()
                if i >= n { break }
                let r: Result<T, TokenizerError>
                do { r = .success(try work.value(i, &state)) }
                catch let e as TokenizerError { r = .failure(e) }
                catch { r = .failure(.invalidArgument("\(error)")) }
                // After a failure no worker claims another index (read through the counter's lock, not a
                // flag read without one).
                if case .failure = r { next.stop(at: n) }
                results.set(i, r)
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

/// Result slots written by workers (each index at most once: none are claimed after a failure).
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [Result<T, TokenizerError>?]
    private let lock = Lock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<T, TokenizerError>) {
        lock.lock(); slots[i] = r; lock.unlock()
    }
    func collect() throws(TokenizerError) -> [T] {
        var out = [T]()
        out.reserveCapacity(slots.count)
        for s in slots {
            switch s {
            case .success(let v)?: out.append(v)
            case .failure(let e)?: throw e
            case nil: continue
            }
        }
        return out
    }
}

/// Carries a closure that only reads shared immutable state into concurrentPerform.
struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = Lock()
    func fetchAdd() -> Int { lock.lock(); defer { lock.unlock() }; let v = value; value += 1; return v }
    /// Later `fetchAdd` calls return `end` or more.
    func stop(at end: Int) { lock.lock(); value = max(value, end); lock.unlock() }
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
