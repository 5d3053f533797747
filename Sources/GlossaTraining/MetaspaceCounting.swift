// Word counting for SentencePiece-style training: each line (without its newline) → normalizer →
// Metaspace (space → "▁", a "▁" dummy prefix unless the text already starts with one) → words split
// before every "▁" (HF `Metaspace(split=true)`, SentencePiece `split_by_whitespace`). A word is always
// "▁" + a run of other characters, so the table keys only the run; the "▁" is implicit.
// Blocks of whole lines are split among worker threads exactly as in `PreTokenCounting`.

import Dispatch
import GlossaJSON
import GlossaUnicode

struct MetaspaceCountingOptions: Sendable {
    var normalization: TrainingNormalization
    var lowercase: Bool
    var threads: Int
    /// Strings replaced by a space before splitting (SentencePiece escapes its meta pieces this way so
    /// that they can never be learned as normal pieces): the special tokens.
    var escaped: [[UInt8]]
    /// Also escape `<0xHH>` (the byte-fallback pieces).
    var escapeBytePieces: Bool
    var blockBytesPerThread: Int = 4 << 20
    /// First bytes of the escaped strings.
    var escapeFirst: [Bool]

    init(normalization: TrainingNormalization, lowercase: Bool, threads: Int, escaped: [[UInt8]], escapeBytePieces: Bool) {
        self.normalization = normalization; self.lowercase = lowercase; self.threads = threads
        self.escaped = escaped.filter { !$0.isEmpty }; self.escapeBytePieces = escapeBytePieces
        var f = [Bool](repeating: false, count: 256)
        for e in self.escaped { f[Int(e[0])] = true }
        if escapeBytePieces { f[0x3C] = true }
        escapeFirst = f
    }
}

enum MetaspaceCounting {
    static func count(sources: [CorpusSource], options: MetaspaceCountingOptions,
                      progress: ((TrainingProgress) -> Void)?) throws(TrainingError) -> PreTokenCounts {
        try countInLineBlocks(sources: sources, threads: max(1, options.threads),
                              blockBytesPerThread: options.blockBytesPerThread, progress: progress) { p, n, format, worker in
            process(p, n, format: format, options: options, worker: worker)
        }
    }

    static func process(_ p: UnsafePointer<UInt8>, _ n: Int, format: CorpusFormat, options: MetaspaceCountingOptions,
                        worker: CountingWorker) {
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
            let end = e < n ? e &+ 1 : n
            switch format {
            case .lines:
                switch sentence(p + i, e &- i, options: options, counter: &counter, scratch: &scratch) {
                case nil: worker.failure = (line, .utf8); return
                case true?: worker.sequences &+= 1
                case false?: break
                }
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
                        let name = String(decoding: fieldKey, as: UTF8.self)
                        guard let value else { worker.failure = (line, .json("no \"\(name)\" field")); return }
                        guard let s = value.stringBytes else {
                            worker.failure = (line, .json("field \"\(name)\" is not a string")); return
                        }
                        text = s
                    } catch {
                        worker.failure = (line, .json(error.description)); return
                    }
                    // A document is fed line by line, as SentencePiece reads a text file.
                    let ok = text.withUnsafeBufferPointer { t -> Bool in
                        guard let tb = t.baseAddress else { return true }
                        var s = 0
                        while s < t.count {
                            var k = s
                            while k < t.count && tb[k] != 0x0A { k &+= 1 }
                            if sentence(tb + s, k &- s, options: options, counter: &counter, scratch: &scratch) == nil {
                                return false
                            }
                            s = k &+ 1
                        }
                        return true
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

    /// One line (no `\n`): nil on invalid UTF-8, false when it is empty after normalization (skipped, as
    /// SentencePiece does), true when counted.
    @inline(__always)
    static func sentence(_ p0: UnsafePointer<UInt8>, _ n0: Int, options: MetaspaceCountingOptions,
                         counter: inout WordCounter, scratch: inout [UInt8]) -> Bool? {
        var n = n0
        if n > 0 && p0[n &- 1] == 0x0D { n &-= 1 }
        guard let ascii = UTF8Check.validate(p0, n) else { return nil }
        let p = p0
        var rewritten = false
        if !ascii && options.normalization != .none || options.lowercase {
            normalizeLine(p, n, ascii: ascii, normalization: options.normalization, lowercase: options.lowercase,
                          into: &scratch)
            rewritten = true
        }
        // Escape the meta pieces (only lines holding a first byte of one are copied).
        if options.escapeFirst.contains(true) {
            let hit: Bool = rewritten
                ? scratch.contains { options.escapeFirst[Int($0)] }
                : UnsafeBufferPointer(start: p, count: n).contains { options.escapeFirst[Int($0)] }
            if hit {
                if !rewritten {
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
                    rewritten = true
                }
                escape(&scratch, options)
            }
        }
        if rewritten {
            let s = scratch
            return s.withUnsafeBufferPointer { b -> Bool in
                guard let base = b.baseAddress, b.count > 0 else { return false }
                words(base, b.count, counter: &counter)
                return true
            }
        }
        if n == 0 { return false }
        words(p, n, counter: &counter)
        return true
    }

    /// Replaces every occurrence of an escaped string (and of `<0xHH>` when asked) by one space.
    static func escape(_ s: inout [UInt8], _ o: MetaspaceCountingOptions) {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        @inline(__always) func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) }
        outer: while i < n {
            for e in o.escaped where !e.isEmpty && i &+ e.count <= n && s[i] == e[0] {
                if s[i ..< i &+ e.count].elementsEqual(e) {
                    out.append(0x20); i &+= e.count; continue outer
                }
            }
            if o.escapeBytePieces && s[i] == 0x3C && i &+ 6 <= n && s[i &+ 1] == 0x30 && s[i &+ 2] == 0x78
                && isHex(s[i &+ 3]) && isHex(s[i &+ 4]) && s[i &+ 5] == 0x3E {
                out.append(0x20); i &+= 6; continue
            }
            out.append(s[i]); i &+= 1
        }
        s = out
    }

    /// Counts the words of one normalized line: "▁" + each run between spaces / "▁"s (the run is the key).
    @inline(__always)
    static func words(_ p: UnsafePointer<UInt8>, _ n: Int, counter: inout WordCounter) {
        @inline(__always) func delimiter(_ i: Int) -> Int {
            if p[i] == 0x20 { return 1 }
            if p[i] == 0xE2 && i &+ 2 < n && p[i &+ 1] == 0x96 && p[i &+ 2] == 0x81 { return 3 }
            return 0
        }
        var i = 0
        // The first word's "▁" is the text's own leading space / "▁", or the dummy prefix.
        let d0 = delimiter(0)
        i = d0
        while true {
            let start = i
            var d = 0
            while i < n {
                d = delimiter(i)
                if d > 0 { break }
                i &+= 1
            }
            counter.add(p + start, i &- start)
            if i >= n { break }
            i &+= d
            if i >= n { counter.add(p + i, 0); break }   // a trailing delimiter is a word "▁" of its own
        }
    }
}
