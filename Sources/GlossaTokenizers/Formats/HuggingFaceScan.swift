import CUTF8
import Dispatch
import GlossaJSON

/// `model.vocab` and `model.merges` of a tokenizer.json, scanned straight from the document's bytes while it
/// is parsed (`JSONIntercept`). They are nearly all of a large file, and as general JSON they would become
/// ~700k nodes read back through handles. The scan validates what it consumes as strictly as the parser and
/// declines anything unusual (a non-integer id, a merge that is neither "a b" nor ["a", "b"], bad syntax), which
/// the general parser and reader then handle, with their errors.
///
/// Spans address the document and a side buffer (one per value) as one space: offsets at or past the document's
/// length fall in the side buffer, which holds the decoded form of strings with escapes.
///
/// Once the vocabulary is scanned, its table is built on the parser's thread (the merges need it first) and its
/// byte-level lookup on another, before the parser goes on (to the merges, which follow it in the files
/// `tokenizers` writes). In a large document the merges are scanned on another thread from the start
/// (`EarlyMerges`), while the parser reads the vocabulary and builds its table.
final class HFModelScan {
    struct VocabEntry { var start: Int32; var len: Int32; var id: Int32 }
    struct Vocab {
        /// The `{` of the value; readers use the scan only for the elided node at this offset.
        var offset: Int
        var entries: PageList<VocabEntry>
        var ordered: Bool
        var maxId: Int
    }
    struct Merges {
        var offset: Int
        /// (start << 32 | end) of "left right", or of left in the pair form.
        var lefts: PageList<Int64>
        /// -2 for "left right"; the right string's span in the pair form. Empty when every merge is
        /// "left right" (as in the files `tokenizers` writes): 2 MB of -2 was fresh memory to fault in.
        var rights: PageList<Int64>
    }

    /// What `scanMerges` took: the merges, their side buffer and the offset after the array.
    struct ScannedMerges { var merges: Merges; var side: [UInt8]; var end: Int }

    private(set) var vocab: Vocab?
    private(set) var merges: Merges?
    private(set) var vocabSide: [UInt8] = []
    private(set) var mergesSide: [UInt8] = []
    private var tables: VocabTables?
    /// The document being parsed (kept for the background build, which outlives the parser's buffer access).
    private let document: FileBytes
    private let early: EarlyMerges?

    /// - Parameter earlyMerges: scan the merges on another thread from the start; nil: for documents of 1 MB
    ///   and more when there is more than one processor (tests force either).
    init(document: FileBytes, earlyMerges: Bool? = nil) {
        self.document = document
        let useEarly = earlyMerges ?? (document.count >= 1 << 20 && Tokenizer.processorCount > 1)
        early = useEarly ? EarlyMerges(document) : nil
    }

    /// The background build for the scanned vocabulary if `offset` is where it was (see `Vocab.offset`).
    func tables(at offset: Int) -> VocabTables? { vocab?.offset == offset ? tables : nil }

    /// The `JSONIntercept` that takes the first `model.vocab` and `model.merges`.
    func intercept(_ outer: UnsafeBufferPointer<UInt8>, _ key: UnsafeBufferPointer<UInt8>,
                   _ doc: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int? {
        guard outer.elementsEqual("model".utf8) else { return nil }
        if vocab == nil, doc[offset] == 0x7B, key.elementsEqual("vocab".utf8), let end = scanVocab(doc, offset) {
            let (v, document, side) = (vocab!, document, vocabSide)
            // The lookup is wanted only for byte-level models, whose config (before the model in these files)
            // names ByteLevel; the reader checks the real config and ignores a lookup it does not need.
            let quoted = Array("\"ByteLevel\"".utf8)
            let mentionsByteLevel = (0..<max(0, offset &- quoted.count)).contains { i in
                doc[i] == 0x22 && UnsafeBufferPointer(rebasing: doc[i..<(i &+ quoted.count)]).elementsEqual(quoted)
            }
            // In id order (as the files are), the lookup needs only the entries: it is built beside the table
            // instead of after it, while the parser still runs (its result is used only if the table is built,
            // i.e. ids and spellings are unique, when it equals `ByteLevelLookup.make` of the table).
            let lookup: (@Sendable () -> ByteTable)? = mentionsByteLevel && v.ordered ? { @Sendable in
                document.withUnsafeBufferPointer { doc in
                    side.withUnsafeBufferPointer { side in
                        v.entries.withUnsafeBufferPointer { ByteLevelLookup.make($0, SplitBytes(first: doc, second: side)) }
                    }
                }
            } : nil
            tables = VocabTables(byteLevelLookup: mentionsByteLevel, lookup: lookup, onCaller: true) {
                try document.withUnsafeBufferPointer { doc in
                    try side.withUnsafeBufferPointer { side in
                        try v.entries.withUnsafeBufferPointer {
                            try HuggingFaceReader.vocabTable($0, ordered: v.ordered, maxId: v.maxId,
                                                             SplitBytes(first: doc, second: side), field: "model.vocab")
                        }
                    }
                }
            }
            return end
        }
        if merges == nil, doc[offset] == 0x5B, key.elementsEqual("merges".utf8) {
            // The early scan ran the same function on the same bytes from the same offset: its result (taken or
            // declined) is the one scanning here would give.
            let scanned = early?.result(at: offset) ?? Self.scanMerges(doc, offset)
            guard let scanned else { return nil }
            (merges, mergesSide) = (scanned.merges, scanned.side)
            return scanned.end
        }
        return nil
    }

    /// The span of the string whose opening quote is at `i` (decoded into `side` if it has escapes) and the
    /// offset after it, or nil.
    @inline(__always)
    private static func string(_ doc: UnsafeBufferPointer<UInt8>, _ i: Int, _ side: inout [UInt8]) -> (start: Int, end: Int, next: Int)? {
        if let p = doc.baseAddress, i < doc.count, p[i] == 0x22, let end = plainString(p, doc.count, i &+ 1) {
            return (i &+ 1, end, end &+ 1)
        }
        guard let (end, escaped) = JSONScan.string(doc, at: i) else { return nil }
        if !escaped { return (i &+ 1, end, end &+ 1) }
        let start = doc.count &+ side.count
        side.append(contentsOf: JSONScan.decode(doc, (i &+ 1)..<end))
        return (start, doc.count &+ side.count, end &+ 1)
    }

    /// The closing quote of the string body from `j` if the body is printable ASCII (no quote or backslash) and
    /// two-byte UTF-8 sequences, which nearly all tokens are; else nil, and `JSONScan.string` decides. What this
    /// accepts, it accepts too, with the same end. Sixteen bytes a step (`glossa_plain_string_end`): most tokens,
    /// "Ġ" and all, in one step without a data-dependent branch per character.
    @inline(__always)
    static func plainString(_ p: UnsafePointer<UInt8>, _ n: Int, _ j: Int) -> Int? {
        let end = glossa_plain_string_end(p, n, j)
        return end >= 0 ? end : nil
    }

    /// `{"token": id, ...}` with ids plain non-negative integers below Int32.max; nil (and nothing kept) otherwise.
    private func scanVocab(_ doc: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int? {
        let p = doc.baseAddress!, n = doc.count
        var side: [UInt8] = []
        // Fresh memory in huge pages (an array was 400 page faults for Llama-3.2's 128k entries); the
        // reserve is a bound that is mapped, not touched.
        var entries = PageList<VocabEntry>.Builder(capacity: (n &- offset) / 16)
        var ordered = true, maxId = -1
        var separator = Separator()
        var i = JSONScan.skipWhitespace(p, n, offset &+ 1)
        if i < n && p[i] == 0x7D {
            vocab = Vocab(offset: offset, entries: PageList(builder: entries), ordered: true, maxId: -1)
            return i &+ 1
        }
        while true {
            guard let s = Self.string(doc, i, &side), s.end < Int(Int32.max) else { break }
            i = JSONScan.skipWhitespace(p, n, s.next)
            guard i < n, p[i] == 0x3A else { break }
            i = JSONScan.skipWhitespace(p, n, i &+ 1)
            // A non-negative integer without fraction or exponent; a leading zero only for 0 itself.
            let digits = i
            var id = 0
            // Up to 7 digits followed by a non-digit, from one 8-byte load (else the loop below).
            if i &+ 8 <= n {
                let x = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                // High bit of a byte outside "0"..."9" (exact for the lowest such byte: carries and borrows run upward).
                let flags = ((x &+ 0x46 &* ones) | (x &- 0x30 &* ones) | x) & (0x80 &* ones)
                let k = flags.trailingZeroBitCount &>> 3
                if k > 0 && k < 8 {
                    // The digits in the top k bytes (first digit lowest), then pairs, quads, the eight-digit value.
                    var v = (x &- 0x30 &* ones) &<< (64 &- 8 &* UInt64(k))
                    v = (v &* 10 &+ (v &>> 8)) & 0x00FF_00FF_00FF_00FF
                    v = (v &* 100 &+ (v &>> 16)) & 0x0000_FFFF_0000_FFFF
                    v = (v &* 10000 &+ (v &>> 32)) & 0xFFFF_FFFF
                    id = Int(v); i &+= k
                }
            }
            while i < n && i &- digits < 10 {
                let d = p[i] &- 0x30
                if d > 9 { break }
                id = id &* 10 &+ Int(d); i &+= 1
            }
            guard i > digits, i &- digits == 1 || p[digits] != 0x30, id < Int(Int32.max) else { break }
            if i < n, p[i] == 0x2E || p[i] == 0x65 || p[i] == 0x45 || (p[i] >= 0x30 && p[i] <= 0x39) { break }
            if id != entries.count { ordered = false }
            if id > maxId { maxId = id }
            entries.append(VocabEntry(start: Int32(s.start), len: Int32(s.end &- s.start), id: Int32(id)))
            i = JSONScan.skipWhitespace(p, n, i)
            guard i < n else { break }
            if p[i] == 0x7D {
                vocab = Vocab(offset: offset, entries: PageList(builder: entries), ordered: ordered, maxId: maxId)
                vocabSide = side
                return i &+ 1
            }
            guard p[i] == 0x2C else { break }
            i = separator.skip(p, n, i &+ 1)
        }
        entries.discard()
        return nil
    }

    /// `["left right", ...]` or `[["left", "right"], ...]` (or both) at `offset`; nil otherwise. Depends on
    /// nothing but its arguments (`EarlyMerges` runs it on another thread).
    static func scanMerges(_ doc: UnsafeBufferPointer<UInt8>, _ offset: Int) -> ScannedMerges? {
        let p = doc.baseAddress!, n = doc.count
        var side: [UInt8] = []
        var lefts = PageList<Int64>.Builder(capacity: (n &- offset) / 16)
        var rights: PageList<Int64>.Builder?
        var separator = Separator()
        @inline(__always) func pack(_ s: (start: Int, end: Int, next: Int)) -> Int64 { Int64(s.start) << 32 | Int64(s.end) }
        var i = JSONScan.skipWhitespace(p, n, offset &+ 1)
        @inline(__always) func merges() -> Merges {
            Merges(offset: offset, lefts: PageList(builder: lefts), rights: rights.map { PageList(builder: $0) } ?? PageList())
        }
        if i < n && p[i] == 0x5D { return ScannedMerges(merges: merges(), side: [], end: i &+ 1) }
        while i < n {
            if p[i] == 0x22 {
                guard let s = string(doc, i, &side) else { break }
                lefts.append(pack(s))
                rights?.append(-2)
                i = s.next
            } else if p[i] == 0x5B {
                guard let a = string(doc, JSONScan.skipWhitespace(p, n, i &+ 1), &side) else { break }
                i = JSONScan.skipWhitespace(p, n, a.next)
                guard i < n, p[i] == 0x2C, let b = string(doc, JSONScan.skipWhitespace(p, n, i &+ 1), &side) else { break }
                i = JSONScan.skipWhitespace(p, n, b.next)
                guard i < n, p[i] == 0x5D else { break }
                if rights == nil {
                    rights = PageList<Int64>.Builder(capacity: lefts.count &* 2)
                    for _ in 0..<lefts.count { rights!.append(-2) }
                }
                lefts.append(pack(a)); rights!.append(pack(b))
                i &+= 1
            } else {
                break
            }
            i = JSONScan.skipWhitespace(p, n, i)
            guard i < n else { break }
            if p[i] == 0x5D {
                return ScannedMerges(merges: merges(), side: side, end: i &+ 1)
            }
            guard p[i] == 0x2C else { break }
            i = separator.skip(p, n, i &+ 1)
        }
        lefts.discard(); rights?.discard()
        return nil
    }
}

/// The whitespace between a comma and the next string of a pretty-printed object or array (a newline and the
/// indentation, the same every time in the files `tokenizers` writes): learned where it is first skipped, then
/// matched with two masked word compares. Skipping it byte by byte was a chain of dependent loads, compares and
/// branches for every vocabulary entry and merge.
struct Separator {
    /// The learned bytes (the whitespace and the quote after it), zero-padded, their masks, and the count
    /// compared; 0: none.
    private var lo: UInt64 = 0, hi: UInt64 = 0, maskLo: UInt64 = 0, maskHi: UInt64 = 0, count = 0

    /// `JSONScan.skipWhitespace(p, n, i)`: the learned whitespace followed by a quote is taken at once (the
    /// quote's offset, as the skip would give), anything else byte by byte (and learned when none was yet).
    @inline(__always)
    mutating func skip(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        if count > 0 && i &+ 16 <= n {
            let raw = UnsafeRawPointer(p + i)
            if raw.loadUnaligned(as: UInt64.self) & maskLo == lo && raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & maskHi == hi {
                return i &+ count &- 1
            }
        }
        return skipAndLearn(p, n, i)
    }

    /// The general skip, learning the whitespace when none is learned yet (out of line: `skip` stays small).
    @inline(never)
    private mutating func skipAndLearn(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        let j = JSONScan.skipWhitespace(p, n, i)
        if count == 0 && j < n && p[j] == 0x22 && j &- i < 16 && i &+ 16 <= n {
            count = j &- i &+ 1
            let raw = UnsafeRawPointer(p + i)
            (maskLo, maskHi) = firstBytesMasks(count)
            lo = raw.loadUnaligned(as: UInt64.self) & maskLo
            hi = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & maskHi
        }
        return j
    }
}

/// `model.merges` scanned on another thread from where a byte search finds `"merges": [`, while the parser reads
/// what comes before it (in the files `tokenizers` writes, the vocabulary). Used only if the parser's intercept
/// comes to that same offset; otherwise (a decoy earlier in the document, merges before the vocabulary) the
/// parser scans them itself.
final class EarlyMerges: @unchecked Sendable {
    private let located = DispatchGroup(), scanned = DispatchGroup()
    /// Each written once by the task before it leaves its group; read only after waiting on that group.
    private var offset = -1
    private var merges: HFModelScan.ScannedMerges?

    init(_ document: FileBytes) {
        located.enter(); scanned.enter()
        DispatchQueue.global().async { [self] in
            document.withUnsafeBufferPointer { doc in
                offset = Self.find(doc) ?? -1
                located.leave()
                if offset >= 0 { merges = HFModelScan.scanMerges(doc, offset) }
            }
            scanned.leave()
        }
    }

    /// The scan's result if it started at `offset` (nil inside when it declined); nil if it started elsewhere.
    func result(at offset: Int) -> HFModelScan.ScannedMerges?? {
        located.wait()
        guard offset == self.offset else { return nil }
        scanned.wait()
        return .some(merges)
    }

    /// The offset of the `[` after the first `"merges"` followed by a colon (whitespace allowed), or nil.
    static func find(_ doc: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let p = doc.baseAddress else { return nil }
        let n = doc.count
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // Eight bytes at a time for the `m`; every flagged byte is checked (the zero-byte test never misses one).
        var i = 1
        while i &+ 8 <= n {
            let x = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) ^ (0x6D &* ones)
            var hits = (x &- ones) & ~x & highs
            while hits != 0 {
                let m = i &+ hits.trailingZeroBitCount &>> 3
                hits &= hits &- 1
                guard m &+ 6 < n, p[m &- 1] == 0x22, p[m &+ 1] == 0x65, p[m &+ 2] == 0x72, p[m &+ 3] == 0x67,
                      p[m &+ 4] == 0x65, p[m &+ 5] == 0x73, p[m &+ 6] == 0x22 else { continue }
                var j = JSONScan.skipWhitespace(p, n, m &+ 7)
                guard j < n, p[j] == 0x3A else { continue }
                j = JSONScan.skipWhitespace(p, n, j &+ 1)
                if j < n, p[j] == 0x5B { return j }
            }
            i &+= 8
        }
        return nil
    }
}

/// Two byte buffers addressed as one: offsets at or past `first.count` fall in `second`.
struct SplitBytes: @unchecked Sendable {
    let first: UnsafeBufferPointer<UInt8>
    let second: UnsafeBufferPointer<UInt8>

    @inline(__always)
    func slice(_ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
        let n = first.count
        return start < n ? UnsafeBufferPointer(rebasing: first[start..<end])
                         : UnsafeBufferPointer(rebasing: second[(start &- n)..<(end &- n)])
    }

    /// The bytes of a packed (start << 32 | end) span.
    @inline(__always)
    func slice(_ packed: Int64) -> UnsafeBufferPointer<UInt8> {
        slice(Int(packed >> 32), Int(packed & 0xFFFF_FFFF))
    }
}

/// A vocabulary's tables: the table first (the merges need it), then, if asked for, the byte-level lookup
/// (`ByteLevelLookup.make`), on other threads or the table on the caller's. Each getter waits for its own value.
final class VocabTables: @unchecked Sendable {
    private let tableReady = DispatchGroup(), lookupReady = DispatchGroup()
    /// Each written once by the task before it leaves its group; read only after waiting on that group,
    /// which orders the two.
    private var table: Result<ByteTable, any Error>?
    private var lookup: ByteTable?
    let buildsByteLevelLookup: Bool

    /// - Parameter lookup: builds the byte-level lookup without the table, on a task of its own; nil: built from
    ///   the table after it, on another task.
    /// - Parameter onCaller: build the table on this thread before returning (the lookup's task already
    ///   started). A caller that needs the table next does better to build it than to wait: a task queued
    ///   behind other running tasks got a core only once one of them ended, while the caller sat idle.
    init(byteLevelLookup: Bool, lookup buildLookup: (@Sendable () -> ByteTable)? = nil, onCaller: Bool = false,
         table build: @escaping @Sendable () throws -> ByteTable) {
        buildsByteLevelLookup = byteLevelLookup
        tableReady.enter()
        if byteLevelLookup { lookupReady.enter() }
        if byteLevelLookup, let buildLookup {
            DispatchQueue.global().async { [self] in
                lookup = buildLookup()
                lookupReady.leave()
            }
        }
        let fromTable = byteLevelLookup && buildLookup == nil
        let buildTable = { @Sendable [self] () -> Result<ByteTable, any Error> in
            let t = Result { try build() }
            table = t
            tableReady.leave()
            return t
        }
        let lookupFromTable = { @Sendable [self] (t: Result<ByteTable, any Error>) in
            if case .success(let vocab) = t { lookup = ByteLevelLookup.make(Vocabulary(table: vocab)) }
            lookupReady.leave()
        }
        if onCaller {
            let t = buildTable()
            if fromTable { DispatchQueue.global().async { lookupFromTable(t) } }
        } else {
            DispatchQueue.global().async {
                let t = buildTable()
                if fromTable { lookupFromTable(t) }
            }
        }
    }

    func vocabularyTable() throws -> ByteTable {
        tableReady.wait()
        return try table!.get()
    }

    /// nil unless `buildsByteLevelLookup` and the table was built.
    func byteLevelLookup() -> ByteTable? {
        guard buildsByteLevelLookup, (try? vocabularyTable()) != nil else { return nil }
        lookupReady.wait()
        return lookup
    }
}
