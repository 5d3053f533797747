// Pre-token counting exactly as HF `BpeTrainer::feed`: each sequence → normalizer → pre-tokenizer →
// pieces counted. Blocks of whole lines are split among worker threads, each with its own table;
// the tables are summed at the end, so the counts do not depend on the number of threads.

import Dispatch
import GlossaJSON
import GlossaPatterns
import GlossaUnicode

/// The normalizer applied before pre-tokenization (HF `normalizers.*`).
public enum TrainingNormalization: String, Sendable, CaseIterable {
    case none, nfc, nfd, nfkc, nfkd
}

/// The pre-tokenization regex (HF `ByteLevel(use_regex=True)` for GPT-2; `Split(Regex, Isolated)` +
/// `ByteLevel(use_regex=False)` otherwise).
public enum TrainingPattern: Sendable, Equatable {
    case known(KnownPattern)
    case regex(String)

    /// `gpt2`, `cl100k`, `o200k`, `qwen`, or a regex (Oniguruma syntax).
    public init(argument: String) {
        switch argument.lowercased() {
        case "gpt2", "r50k", "p50k": self = .known(.gpt2)
        case "cl100k", "cl100k_base", "llama3": self = .known(.cl100k)
        case "o200k", "o200k_base": self = .known(.o200k)
        case "qwen", "qwen2": self = .known(.qwen)
        default: self = KnownPattern(regex: argument).map { .known($0) } ?? .regex(argument)
        }
    }

    public var regex: String {
        switch self {
        case .known(let k): return k.regex
        case .regex(let r): return r
        }
    }

    func splitter() throws(TrainingError) -> PatternSplitter {
        switch self {
        case .known(let k): return PatternSplitter(k)
        case .regex(let r):
            do { return try PatternSplitter(regex: r) } catch { throw .invalidOption("--pattern: \(error.description)") }
        }
    }
}

/// Progress reports (on the thread that called `train`).
public enum TrainingProgress: Sendable {
    /// Input consumed so far (bytes of the raw, possibly compressed-then-inflated, stream).
    case counting(bytes: Int, sequences: Int, source: String)
    /// Merges learned so far, out of at most `target`.
    case merging(done: Int, target: Int)
}

/// Options of the counting stage.
struct CountingOptions: Sendable {
    var pattern: TrainingPattern
    var normalization: TrainingNormalization
    var lowercase: Bool
    var threads: Int
    var sampleFraction: Double = 1
    var blockBytesPerThread: Int = 4 << 20

    /// Whether a line belongs to the sample (FNV-1a over its bytes against the fraction).
    @inline(__always) func keeps(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if sampleFraction >= 1 { return true }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0 ..< n { h = (h ^ UInt64(p[i])) &* 0x100_0000_01B3 }
        h ^= h &>> 29
        return Double(h >> 11) / Double(1 << 53) < sampleFraction
    }
}

/// Result of the counting stage.
public struct PreTokenCounts: Sendable {
    /// Pre-token (raw bytes, before the byte-level mapping) → count.
    public var words: WordCounter
    public var bytesRead: Int
    public var sequences: Int

    public init(words: WordCounter, bytesRead: Int = 0, sequences: Int = 0) {
        self.words = words; self.bytesRead = bytesRead; self.sequences = sequences
    }
}

/// A read-only block shared by the workers for the duration of one `concurrentPerform`.
struct SharedBytes: @unchecked Sendable {
    let base: UnsafePointer<UInt8>
}

/// Per-worker state; each worker touches only its own instance during a block.
final class CountingWorker: @unchecked Sendable {
    var counter = WordCounter(capacity: 1 << 14)
    var sequences = 0
    var lines = 0
    /// First failure in this worker's slice: (line index within the slice, message kind).
    var failure: (line: Int, kind: FailureKind)?
    var scratch: [UInt8] = []

    enum FailureKind { case utf8, json(String) }
}

/// A line's normalized bytes into `scratch`: ASCII lines only need lowercasing (no normalization form changes
/// them); others go through `NormalizedText`.
func normalizeLine(_ p: UnsafePointer<UInt8>, _ n: Int, ascii: Bool, normalization: TrainingNormalization, lowercase: Bool,
                   into scratch: inout [UInt8]) {
    if ascii {
        scratch.removeAll(keepingCapacity: true)
        for k in 0 ..< n {
            let c = p[k]
            scratch.append(lowercase && c &- 0x41 < 26 ? c | 0x20 : c)
        }
        return
    }
    var t = NormalizedText(UnsafeBufferPointer(start: p, count: n))
    switch normalization {
    case .none: break
    case .nfc: t.nfc()
    case .nfd: t.nfd()
    case .nfkc: t.nfkc()
    case .nfkd: t.nfkd()
    }
    if lowercase { t.lowercase() }
    scratch = t.normalized
}

/// Reads every source in blocks of whole lines, splits each block among `threads` workers (slices cut at line
/// ends) and sums the workers' tables. `process` counts one slice into its worker; the first failure is reported
/// with its line number in the source.
func countInLineBlocks(sources: [CorpusSource], threads: Int, blockBytesPerThread: Int,
                       progress: ((TrainingProgress) -> Void)?,
                       process: @escaping @Sendable (UnsafePointer<UInt8>, Int, CorpusFormat, CountingWorker) -> Void)
    throws(TrainingError) -> PreTokenCounts {
    let workers = (0 ..< threads).map { _ in CountingWorker() }
    var totalBytes = 0
    var totalSequences = 0
    for source in sources {
        let reader = LineBlockReader(try ByteStream(source))
        var lineBase = 0
        while let block = try reader.next(target: blockBytesPerThread * threads) {
            // Slices of whole lines, one per worker.
            var cuts = [0]
            for t in 1 ..< threads {
                var c = max(cuts[cuts.count - 1], block.count * t / threads)
                while c < block.count && c > 0 && block[c - 1] != 0x0A { c += 1 }
                cuts.append(c)
            }
            cuts.append(block.count)
            for w in workers { w.lines = 0; w.sequences = 0; w.failure = nil }
            let slices = cuts
            let format = source.format
            block.withUnsafeBufferPointer { buf in
                guard let base = buf.baseAddress else { return }
                let shared = SharedBytes(base: base)
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    let lo = slices[t], hi = slices[t + 1]
                    guard hi > lo else { return }
                    process(shared.base + lo, hi - lo, format, workers[t])
                }
            }
            for w in workers {
                if let f = w.failure {
                    let line = lineBase + f.line + 1
                    switch f.kind {
                    case .utf8: throw .invalidUTF8(path: source.name, line: line)
                    case .json(let r): throw .invalidJSON(path: source.name, line: line, reason: r)
                    }
                }
                lineBase += w.lines
                totalSequences += w.sequences
            }
            progress?(.counting(bytes: totalBytes + reader.bytesRead, sequences: totalSequences, source: source.name))
        }
        totalBytes += reader.bytesRead
    }
    // Sum the tables, largest first (the order does not change any count).
    let order = workers.indices.sorted { workers[$0].counter.count > workers[$1].counter.count }
    var total = workers[order[0]].counter
    workers[order[0]].counter = WordCounter()
    for i in order.dropFirst() {
        total.merge(workers[i].counter)
        workers[i].counter = WordCounter()
    }
    return PreTokenCounts(words: total, bytesRead: totalBytes, sequences: totalSequences)
}

enum PreTokenCounting {
    static func count(sources: [CorpusSource], options: CountingOptions,
                      progress: ((TrainingProgress) -> Void)?) throws(TrainingError) -> PreTokenCounts {
        let splitter = try options.pattern.splitter()
        return try countInLineBlocks(sources: sources, threads: max(1, options.threads),
                                     blockBytesPerThread: options.blockBytesPerThread, progress: progress) { p, n, format, worker in
            process(p, n, format: format, splitter: splitter, options: options, worker: worker)
        }
    }

    /// Processes one slice of whole lines.
    static func process(_ p: UnsafePointer<UInt8>, _ n: Int, format: CorpusFormat, splitter: PatternSplitter,
                        options: CountingOptions, worker: CountingWorker) {
        // Work on a local table (no class-property access in the hot loop), handed back at the end.
        var counter = worker.counter
        worker.counter = WordCounter(capacity: 0)
        var scratch = worker.scratch
        worker.scratch = []
        defer { worker.counter = counter; worker.scratch = scratch }
        var i = 0
        var line = 0
        let fieldKey: [UInt8]
        if case .jsonl(let f) = format { fieldKey = Array(f.utf8) } else { fieldKey = [] }
        while i < n {
            var e = i
            while e < n && p[e] != 0x0A { e &+= 1 }
            let end = e < n ? e &+ 1 : n   // the line with its '\n'
            if !options.keeps(p + i, e &- i) { i = end; line &+= 1; continue }
            switch format {
            case .lines:
                if !sequence(p + i, end &- i, splitter: splitter, options: options, counter: &counter, scratch: &scratch) {
                    worker.failure = (line, .utf8)
                    return
                }
                worker.sequences &+= 1
            case .jsonl:
                var a = i, b = end
                while a < b && (p[a] == 0x20 || p[a] == 0x09 || p[a] == 0x0D || p[a] == 0x0A) { a &+= 1 }
                while b > a && (p[b - 1] == 0x20 || p[b - 1] == 0x09 || p[b - 1] == 0x0D || p[b - 1] == 0x0A) { b &-= 1 }
                if b > a {
                    let text: [UInt8]
                    do {
                        let doc = try JSONDocument(bytes: Array(UnsafeBufferPointer(start: p + a, count: b &- a)))
                        guard doc.root.isObject else { worker.failure = (line, .json("not a JSON object")); return }
                        var value: JSONValue?
                        _ = doc.root.forEachEntry { k, v in
                            if value == nil && k.elementsEqual(fieldKey) { value = v }
                        }
                        guard let value else {
                            worker.failure = (line, .json("no \"\(String(decoding: fieldKey, as: UTF8.self))\" field")); return
                        }
                        guard let s = value.stringBytes else {
                            worker.failure = (line, .json("field \"\(String(decoding: fieldKey, as: UTF8.self))\" is not a string")); return
                        }
                        text = s
                    } catch {
                        worker.failure = (line, .json(error.description)); return
                    }
                    let ok = text.withUnsafeBufferPointer { t -> Bool in
                        guard let tb = t.baseAddress else { return true }
                        return sequence(tb, t.count, splitter: splitter, options: options, counter: &counter, scratch: &scratch)
                    }
                    if !ok { worker.failure = (line, .utf8); return }
                    worker.sequences &+= 1
                }
            }
            line &+= 1
            i = end
        }
        worker.lines = line
    }

    /// Normalizes and pre-tokenizes one sequence, counting its pieces. False on invalid UTF-8.
    @inline(__always)
    static func sequence(_ p: UnsafePointer<UInt8>, _ n: Int, splitter: PatternSplitter,
                         options: CountingOptions, counter: inout WordCounter, scratch: inout [UInt8]) -> Bool {
        guard let ascii = UTF8Check.validate(p, n) else { return false }
        if options.normalization == .none && !options.lowercase {
            split(p, n, splitter: splitter, counter: &counter)
            return true
        }
        if ascii && !options.lowercase {
            split(p, n, splitter: splitter, counter: &counter)
            return true
        }
        normalizeLine(p, n, ascii: ascii, normalization: options.normalization, lowercase: options.lowercase, into: &scratch)
        let s = scratch
        s.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { split(base, b.count, splitter: splitter, counter: &counter) }
        }
        return true
    }

    /// Pieces of a split with HF's `Isolated` behaviour: matches and the gaps between them.
    @inline(__always)
    static func split(_ p: UnsafePointer<UInt8>, _ n: Int, splitter: PatternSplitter, counter: inout WordCounter) {
        var last = 0
        splitter.forEachMatch(in: UnsafeBufferPointer(start: p, count: n)) { s, e in
            if s > last { counter.add(p + last, s &- last) }
            if e > s { counter.add(p + s, e &- s) }
            last = e
        }
        if last < n { counter.add(p + last, n &- last) }
    }
}

/// Strict UTF-8 validation (as Rust's `str::from_utf8`: no overlongs, surrogates or values above U+10FFFF).
enum UTF8Check {
    /// nil when invalid; otherwise whether the bytes are all ASCII.
    @inline(__always)
    static func validate(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool? {
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i &+ 8 <= n {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i &+= 8
        }
        while i < n && p[i] < 0x80 { i &+= 1 }
        if i == n { return true }
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 { i &+= 1; continue }
            if b0 < 0xC2 { return nil }
            if b0 < 0xE0 {
                guard i &+ 1 < n, p[i &+ 1] & 0xC0 == 0x80 else { return nil }
                i &+= 2
            } else if b0 < 0xF0 {
                guard i &+ 2 < n else { return nil }
                let b1 = p[i &+ 1], b2 = p[i &+ 2]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return nil }
                if b0 == 0xE0 && b1 < 0xA0 { return nil }      // overlong
                if b0 == 0xED && b1 >= 0xA0 { return nil }     // surrogate
                i &+= 3
            } else if b0 < 0xF5 {
                guard i &+ 3 < n else { return nil }
                let b1 = p[i &+ 1], b2 = p[i &+ 2], b3 = p[i &+ 3]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return nil }
                if b0 == 0xF0 && b1 < 0x90 { return nil }      // overlong
                if b0 == 0xF4 && b1 >= 0x90 { return nil }     // above U+10FFFF
                i &+= 4
            } else {
                return nil
            }
        }
        return false
    }
}
