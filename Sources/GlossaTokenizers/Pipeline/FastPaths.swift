import GlossaUnicode

/// Pipelines that the general path runs through `NormalizedText` (per-byte alignments, one array per
/// piece) but whose rewriting is simple enough to do on the input bytes directly. Chosen once, when
/// the tokenizer is built; anything not recognised here stays on the general path, which remains the
/// reference (`FastPathTests` compares the two).
enum FastPath: Sendable {
    /// Metaspace (SentencePiece-style): spaces become the replacement character, which may be prepended.
    case metaspace(MetaspacePath)
    /// BertNormalizer + BertPreTokenizer + WordPiece: ASCII words straight from the input, the rest of a
    /// whitespace-delimited chunk through the general path.
    case bert(BertPath)

    static func select(normalizer: NormalizerConfig?, preTokenizer: PreTokenizerConfig?, model: TokenModel,
                       addedVocabulary: AddedVocabulary) -> FastPath? {
        // Added tokens matched after normalization would need the normalized text.
        if addedVocabulary.hasNormalizedTokens { return nil }
        let steps = preTokenizer.map(Self.flattened)
        let single = steps?.count == 1 ? steps?.first : nil
        switch (model, normalizer, single) {
        case let (.bpe(m), nil, .metaspace(replacement: rep, prependScheme: scheme, split: split)?) where !m.byteLevel:
            let prepend: MetaspacePath.Prepend = scheme == .always ? .unlessReplacement : scheme == .first ? .atInputStart : .never
            return MetaspacePath(model: m, replacement: rep, prepend: prepend, split: split).map(FastPath.metaspace)
        case let (.bpe(m), .sequence(norms)?, nil) where !m.byteLevel && steps == nil:
            // Older Llama / Mistral files: Prepend("▁") and Replace(" " → "▁") as the normalizer, in either order.
            guard norms.count == 2 else { return nil }
            switch (norms[0], norms[1]) {
            case let (.prepend(a), .replace(.string(" "), b)), let (.replace(.string(" "), b), .prepend(a)):
                guard a == b else { return nil }
                return MetaspacePath(model: m, replacement: a, prepend: .always, split: false).map(FastPath.metaspace)
            default: return nil
            }
        case let (.wordPiece(m), .bert(_, _, _, lowercase)?, .bert?):
            return .bert(BertPath(model: m, lowercase: lowercase))
        default:
            return nil
        }
    }

    static func flattened(_ c: PreTokenizerConfig) -> [PreTokenizerConfig] {
        if case .sequence(let list) = c { return list.flatMap(flattened) }
        return [c]
    }
}

// MARK: - Metaspace

/// HF Metaspace (or the Prepend + Replace normalizer pair) in front of a non-byte-level BPE: the model
/// sees the input with every space replaced, plus a leading replacement per the prepend rule.
struct MetaspacePath: Sendable {
    enum Prepend: Sendable {
        case never
        /// Metaspace `always`: unless the piece already starts with the replacement.
        case unlessReplacement
        /// Metaspace `first`: as `unlessReplacement`, only for the piece at input offset 0.
        case atInputStart
        /// The Prepend normalizer: every non-empty piece.
        case always
    }
    let model: BPEModel
    let replacement: [UInt8]
    let prepend: Prepend
    /// Metaspace `split`: every replacement character starts a new pre-token.
    let split: Bool
    /// Whether pieces may be cut before each replacement run (see `BPEModel.metaspaceSegments`).
    let segments: Bool

    init?(model: BPEModel, replacement rep: String, prepend: Prepend, split: Bool) {
        let r = Array(rep.utf8)
        // A space replacement would be rewritten by itself; ASCII replacements collide with the byte classes below.
        guard rep.unicodeScalars.count == 1, r.count > 1 else { return nil }
        self.model = model; replacement = r; self.prepend = prepend; self.split = split
        // Cutting changes which symbols are first and last: only for undecorated symbols.
        segments = model.metaspaceSegments && model.plainSymbols && !model.options.ignoreMerges && r == [0xE2, 0x96, 0x81]
        // ASCII characters that occur in no token longer than one character: no merge reaches across them, so
        // the model may tokenize the text on either side separately (SentencePiece vocabularies have no token
        // with a newline or tab; their byte fallback covers them).
        let isolated = segments ? Self.isolatedASCII(model) : (0, 0)
        var classes = [UInt8](repeating: Self.plain, count: 256)
        classes[0x20] = Self.space; classes[0xE2] = Self.lead
        for b in 0..<128 where segments && (b < 64 ? (isolated.0 >> UInt64(b)) & 1 : (isolated.1 >> UInt64(b - 64)) & 1) != 0 {
            classes[b] = Self.isolatedClass
        }
        byteClasses = classes
        wordScan = (0..<256).allSatisfy { classes[$0] == Self.plain || $0 <= 0x20 || $0 == 0x7F || $0 == 0xE2 }
    }

    /// Whether every byte that is not `plain` is a control character, a space, DEL or 0xE2, so that
    /// `mayStop` finds the next one eight bytes at a time (SentencePiece vocabularies: their isolated characters
    /// are control characters).
    let wordScan: Bool

    /// High bit set in each byte of `x` that is ≤ 0x20, 0x7F or 0xE2; only the lowest is exact (borrows may
    /// mark bytes above it).
    @inline(__always) static func mayStop(_ x: UInt64) -> UInt64 {
        ((x &- 0x21 &* SWAR.ones) & ~x & SWAR.highs) | SWAR.zeroBytes(x ^ (0x7F &* SWAR.ones))
            | SWAR.zeroBytes(x ^ (0xE2 &* SWAR.ones))
    }

    /// What `forEachSegment` does at each byte: go on, cut before a space, cut around an isolated character, or
    /// look whether a "▁" starts here.
    let byteClasses: [UInt8]
    static let plain: UInt8 = 0, space: UInt8 = 1, isolatedClass: UInt8 = 2, lead: UInt8 = 3

    static func isolatedASCII(_ m: BPEModel) -> (UInt64, UInt64) {
        var inLong = [Bool](repeating: false, count: 128)
        let t = m.lookup
        for e in 0..<t.entryCount {
            t.withEntryBytes(e) { b in
                var chars = 0
                for x in b where x & 0xC0 != 0x80 { chars += 1 }
                if chars > 1 { for x in b where x < 0x80 { inLong[Int(x)] = true } }
            }
        }
        var lo: UInt64 = 0, hi: UInt64 = 0
        for c in 0..<128 where !inLong[c] && c != 0x20 {
            // A character that is neither a token nor covered by byte fallback becomes an unknown symbol,
            // which `fuse_unk` may fuse with its unknown neighbours: only cut where that cannot happen.
            let known = t.find([UInt8(c)]) != nil || !m.fallbackIds.isEmpty || !m.options.fuseUnk
            if known { if c < 64 { lo |= 1 << UInt64(c) } else { hi |= 1 << UInt64(c - 64) } }
        }
        return (lo, hi)
    }

    /// Calls `segment(s, e)` for each piece of `text[start..<end]` that no merge reaches across: cut before every
    /// replacement (`split`) or before each run of them, and around isolated characters. A replacement is "▁" or,
    /// in input bytes, a space. `leadingSpace`: a space stands before `start` (the first segment starts at
    /// `start - 1`). Serves input bytes (`encodeMetaspaceIds`) and model bytes (the spans path) alike.
    @inline(__always)
    func forEachSegment(_ text: UnsafePointer<UInt8>, _ start: Int, _ end: Int, leadingSpace: Bool,
                        _ segment: (Int, Int) -> Void) {
        var i = start, segStart = leadingSpace ? start &- 1 : start, prevSpace = leadingSpace
        byteClasses.withUnsafeBufferPointer { classes in
            while i < end {
                let k = classes[Int(text[i])]
                if k == Self.plain {
                    prevSpace = false
                    i &+= 1
                    if wordScan {
                        // Eight bytes at a time to the next one that may stop the segment.
                        while i &+ 8 <= end {
                            let m = Self.mayStop(SWAR.load(text + i))
                            if m != 0 { i &+= m.trailingZeroBitCount &>> 3; break }
                            i &+= 8
                        }
                    }
                    continue
                }
                let w = k == Self.space ? 1
                    : k == Self.lead && i &+ 2 < end && text[i &+ 1] == 0x96 && text[i &+ 2] == 0x81 ? 3 : 0
                if w != 0 {
                    if i > segStart && (split || !prevSpace) { segment(segStart, i); segStart = i }
                    prevSpace = true
                    i &+= w
                    continue
                }
                prevSpace = false
                if k == Self.isolatedClass {
                    if i > segStart { segment(segStart, i) }
                    segment(i, i &+ 1)
                    segStart = i &+ 1
                }
                i &+= 1
            }
        }
        if end > segStart { segment(segStart, end) }
    }
}

/// Per-thread cache of Metaspace segments (model bytes) → ids and spans, 2-way set associative, plus the
/// model-bytes buffer of the split being encoded. It sits in front of the model (the word cache is skipped):
/// SentencePiece-style text has many distinct segments (indented code, identifiers), and a miss costs a
/// full BPE run. A hit is latency-bound, so an entry is one 128-byte record (token count, key, ids and
/// spans side by side); the key lengths live apart in a 64 KB array that stays in the L2 cache, so most
/// misses are decided without touching a record. Segments longer than a record's key (runs of indentation,
/// ASCII rules) go to a direct-mapped cache of 512-byte records, allocated when the first one comes.
final class SegmentCache: SizedCache {
    /// Sets (log2) of a full cache and of a small one (`SizedCache`).
    static let setBits = 15
    static let smallSetBits = 7
    static let maxKey = 48
    /// Record layout: [0] token count, [8..<56] key, [56..<104] ids, [104..<128] (start, end) of each
    /// token relative to the segment.
    static let short = SegmentRecord(size: 128, keyAt: 8, idsAt: 56, spansAt: 104, maxOut: 12)
    static let longSlots = 4096
    static let maxLongKey = 255
    static let long = SegmentRecord(size: 512, keyAt: 8, idsAt: 264, spansAt: 424, maxOut: 40)
    /// Bound to bytes; each record's ids are bound to Int32 when it is written.
    let records: UnsafeMutablePointer<UInt8>
    /// Key length of each entry (0: empty; segments are never empty).
    let lengths: UnsafeMutablePointer<UInt8>
    /// Per set: the way to replace next (the one not used last).
    let victim: UnsafeMutablePointer<UInt8>
    /// Long segments: records and key lengths (0: empty), nil until needed.
    @exclusivity(unchecked) private(set) var longRecords: UnsafeMutablePointer<UInt8>?
    @exclusivity(unchecked) private(set) var longLengths: UnsafeMutablePointer<UInt16>?
    /// The model the entries belong to (a strong reference, so its identity cannot be reused).
    let owner: BPEModel
    let full: Bool
    var bytesSeen = 0
    /// Sets − 1 (two entries each).
    let setMask: Int
    /// Symbol buffers of the model's merge loop on a miss.
    let symbols = SegmentSymbols()
    /// The model's bytes of the current split (grown on demand).
    @exclusivity(unchecked) var bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    @exclusivity(unchecked) var byteCapacity = 4096
    /// The split's ids and spans, appended to the caller's arrays at its end (one append each instead of one
    /// per token); room for one token per model byte, the most there can be.
    @exclusivity(unchecked) var outIds = UnsafeMutablePointer<Int32>.allocate(capacity: 4096)
    @exclusivity(unchecked) var outSpans = UnsafeMutablePointer<ByteSpan>.allocate(capacity: 4096)
    @exclusivity(unchecked) var outCount = 0
    /// What the model's general path appends for a segment `mergeSegment` declines.
    @exclusivity(unchecked) var spareIds: [Int32] = []
    @exclusivity(unchecked) var spareOffsets: [ByteSpan] = []

    init(owner: BPEModel, full: Bool) {
        self.owner = owner
        self.full = full
        let sets = 1 << (full ? Self.setBits : Self.smallSetBits)
        setMask = sets &- 1
        // Left uninitialized (only read behind a matching length).
        records = Self.allocateRecords(2 &* sets, Self.short)
        lengths = .allocate(capacity: 2 &* sets)
        lengths.initialize(repeating: 0, count: 2 &* sets)
        victim = .allocate(capacity: sets)
        victim.initialize(repeating: 0, count: sets)
    }
    deinit {
        records.deallocate(); lengths.deallocate(); victim.deallocate(); bytes.deallocate()
        outIds.deallocate(); outSpans.deallocate()
        longRecords?.deallocate(); longLengths?.deallocate()
    }

    static func allocateRecords(_ count: Int, _ r: SegmentRecord) -> UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer.allocate(byteCount: count * r.size, alignment: 64)
            .bindMemory(to: UInt8.self, capacity: count * r.size)
    }

    /// The long-segment records and lengths, allocated on first use.
    func longCache() -> (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt16>) {
        if let r = longRecords, let l = longLengths { return (r, l) }
        let r = Self.allocateRecords(Self.longSlots, Self.long)
        let l = UnsafeMutablePointer<UInt16>.allocate(capacity: Self.longSlots)
        l.initialize(repeating: 0, count: Self.longSlots)
        longRecords = r; longLengths = l
        return (r, l)
    }

    /// Room for `n` model bytes and as many tokens; empties the token buffers.
    func reserve(_ n: Int) {
        outCount = 0
        if n <= byteCapacity { return }
        bytes.deallocate(); outIds.deallocate(); outSpans.deallocate()
        byteCapacity = max(n, byteCapacity &* 2)
        bytes = .allocate(capacity: byteCapacity)
        outIds = .allocate(capacity: byteCapacity); outSpans = .allocate(capacity: byteCapacity)
    }

    /// Appends the buffered ids (and spans, when wanted) to `state`.
    func flush(offsets: Bool, state: inout EncoderState) {
        state.ids.append(contentsOf: UnsafeBufferPointer(start: outIds, count: outCount))
        if offsets { state.offsets.append(contentsOf: UnsafeBufferPointer(start: outSpans, count: outCount)) }
        outCount = 0
    }
}

/// Where a segment-cache record keeps its parts: [0] token count, key bytes at `keyAt`, Int32 ids at
/// `idsAt`, (start, end) bytes relative to the segment at `spansAt`, for up to `maxOut` tokens.
struct SegmentRecord {
    let size: Int, keyAt: Int, idsAt: Int, spansAt: Int, maxOut: Int

    /// Buffers a hit's ids, and its spans when wanted.
    @inline(__always)
    func emit(_ h: UnsafeMutablePointer<UInt8>, base: Int32, offsets: Bool, into cache: SegmentCache) {
        let c = Int(h[0]), at = cache.outCount
        let ids = UnsafeMutableRawPointer(h + idsAt).assumingMemoryBound(to: Int32.self)
        // A few ids: a plain loop (`update(from:count:)` is a call into memmove).
        let out = cache.outIds + at
        for k in 0..<c { out[k] = ids[k] }
        if offsets {
            let sp = h + spansAt, out = cache.outSpans + at
            for k in 0..<c { out[k] = ByteSpan(start: base &+ Int32(sp[2 &* k]), end: base &+ Int32(sp[2 &* k &+ 1])) }
        }
        cache.outCount = at &+ c
    }

    /// Writes key `q[0..<n]` and the `c` symbols of `sym` (`c <= maxOut`).
    @inline(__always)
    func store(_ h: UnsafeMutablePointer<UInt8>, _ q: UnsafePointer<UInt8>, _ n: Int, _ sym: SegmentSymbols, _ c: Int) {
        h[0] = UInt8(c)
        (h + keyAt).update(from: q, count: n)
        let ids = UnsafeMutableRawPointer(h + idsAt).bindMemory(to: Int32.self, capacity: maxOut)
        for k in 0..<c { ids[k] = sym.ids[k] }
        let sp = h + spansAt
        for k in 0..<c {
            sp[2 &* k] = UInt8(truncatingIfNeeded: sym.starts[k])
            sp[2 &* k &+ 1] = UInt8(truncatingIfNeeded: sym.ends[k])
        }
    }
}

extension Tokenizer {
    /// One split of the input (between added tokens) through Metaspace + BPE, without `NormalizedText`.
    func encodeMetaspace(_ path: MetaspacePath, _ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                         offsets wantOffsets: Bool, state: inout EncoderState) {
        let base = text.baseAddress!
        let rep = path.replacement, rl = rep.count
        let startsWithRep = base[start] == 0x20
            || (end &- start >= rl && memcmp(base + start, rep, rl) == 0)
        let prepended: Bool
        switch path.prepend {
        case .never: prepended = false
        case .unlessReplacement: prepended = !startsWithRep
        case .atInputStart: prepended = !startsWithRep && start == 0
        case .always: prepended = true
        }
        let cache = SegmentCache.prepared(state.segmentCache, for: path.model, bytes: end &- start)
        state.segmentCache = cache
        if path.segments && !wantOffsets {
            encodeMetaspaceIds(path, base, start, end, prepended: prepended, cache: cache, state: &state)
            return
        }
        // The model's bytes: spaces replaced, the replacement prepended.
        cache.reserve((end &- start) &* rl &+ rl)
        let p = cache.bytes
        var n = 0
        @inline(__always) func putReplacement() { for k in 0..<rl { p[n &+ k] = rep[k] }; n &+= rl }
        if prepended { putReplacement() }
        var i = start
        while i < end {
            let b = base[i]
            if b == 0x20 { putReplacement() } else { p[n] = b; n &+= 1 }
            i &+= 1
        }
        let mark = state.ids.count
        if path.segments {
            let model = path.model
            path.forEachSegment(p, 0, n, leadingSpace: false) { s, e in
                tokenizeSegment(model, p, s, e, cache: cache, offsets: wantOffsets, state: &state)
            }
        } else if path.split {
            // MergedWithNext on every replacement character.
            var s = 0, j = rl
            while j &+ rl <= n {
                if memcmp(p + j, rep, rl) == 0 {
                    tokenizeMetaspacePiece(path, p, s, j, state: &state)
                    s = j; j &+= rl
                } else { j &+= 1 }
            }
            tokenizeMetaspacePiece(path, p, s, n, state: &state)
        } else {
            tokenizeMetaspacePiece(path, p, 0, n, state: &state)
        }
        if path.segments { cache.flush(offsets: wantOffsets, state: &state) }
        if wantOffsets { Self.metaspaceOffsets(&state.offsets, from: mark, base, start, end, replacementLength: rl, prepended: prepended) }
    }

    /// Ids only, for paths that cut segments: one pass over the input, each segment looked up in the segment
    /// cache by its input bytes, a space standing for the replacement; the model's bytes are made only for a
    /// segment that misses. Model bytes never hold a space, so these keys cannot collide with the model-byte
    /// keys of the spans path, and a key without a space means the same in both. The segments are the spans
    /// path's (`MetaspacePath.forEachSegment`); the prepended replacement is a space before `start`.
    func encodeMetaspaceIds(_ path: MetaspacePath, _ text: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                            prepended: Bool, cache: SegmentCache, state: inout EncoderState) {
        let model = path.model
        // Room for the model bytes of any segment, and for the first segment's key with its space ahead of them.
        cache.reserve((end &- start) &* 4 &+ 4)
        /// `s < start`: the segment begins with the prepended space.
        @inline(__always) func segment(_ s: Int, _ e: Int) {
            if s >= start {
                tokenizeSegment(model, text, s, e, spaced: true, cache: cache, offsets: false, state: &state)
                return
            }
            let key = cache.bytes
            key[0] = 0x20
            (key + 1).update(from: text + start, count: e &- start)
            tokenizeSegment(model, key, 0, e &- start &+ 1, spaced: true, cache: cache, offsets: false, state: &state)
        }
        path.forEachSegment(text, start, end, leadingSpace: prepended, segment)
        cache.flush(offsets: false, state: &state)
    }

    /// Hands the piece `p[s..<e]` to the model whole (paths that do not cut segments).
    @inline(__always)
    func tokenizeMetaspacePiece(_ path: MetaspacePath, _ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int,
                                state: inout EncoderState) {
        path.model.tokenize(p + s, e &- s, base: Int32(s), ids: &state.ids, offsets: &state.offsets, scratch: &state.bpe)
    }

    /// One segment `p[s..<e]` through the segment cache, else the model; spans are appended only when
    /// `offsets` (the cache keeps them either way). A `spaced` segment is input bytes whose spaces stand for
    /// the replacement (ids only: its spans would be in model bytes from 0).
    @inline(__always)
    func tokenizeSegment(_ model: BPEModel, _ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, spaced: Bool = false,
                         cache: SegmentCache, offsets: Bool, state: inout EncoderState) {
        let n = e &- s, q = p + s, base = Int32(s)
        if n > SegmentCache.maxKey {
            tokenizeLongSegment(model, q, n, base: base, spaced: spaced, cache: cache, offsets: offsets, state: &state)
            return
        }
        let r = SegmentCache.short
        let set = Int(truncatingIfNeeded: hashBytes(q, n) &>> 40) & cache.setMask
        let pair = cache.records + set &* (2 &* r.size)
        for way in 0..<2 {
            let h = pair + way &* r.size
            if Int(cache.lengths[set &* 2 &+ way]) == n && memcmp(h + r.keyAt, q, n) == 0 {
                r.emit(h, base: base, offsets: offsets, into: cache)
                cache.victim[set] = UInt8(1 &- way)
                return
            }
        }
        let c = encodeSegmentMiss(model, q, n, base: base, spaced: spaced, cache: cache, offsets: offsets, state: &state)
        if c > r.maxOut { return }
        let way = Int(cache.victim[set])
        cache.victim[set] = UInt8(1 &- way)
        cache.lengths[set &* 2 &+ way] = UInt8(n)
        r.store(pair + way &* r.size, q, n, cache.symbols, c)
    }

    /// A segment longer than the main cache's keys: through the direct-mapped long-segment cache.
    func tokenizeLongSegment(_ model: BPEModel, _ q: UnsafePointer<UInt8>, _ n: Int, base: Int32, spaced: Bool,
                             cache: SegmentCache, offsets: Bool, state: inout EncoderState) {
        if n > SegmentCache.maxLongKey {
            _ = encodeSegmentMiss(model, q, n, base: base, spaced: spaced, cache: cache, offsets: offsets, state: &state)
            return
        }
        let r = SegmentCache.long
        let (records, lengths) = cache.longCache()
        let slot = Int(truncatingIfNeeded: hashBytes(q, n) &>> 40) & (SegmentCache.longSlots &- 1)
        let h = records + slot &* r.size
        if Int(lengths[slot]) == n && memcmp(h + r.keyAt, q, n) == 0 {
            r.emit(h, base: base, offsets: offsets, into: cache)
            return
        }
        let c = encodeSegmentMiss(model, q, n, base: base, spaced: spaced, cache: cache, offsets: offsets, state: &state)
        // Spans are kept in bytes: a spaced key's model bytes may run past them.
        if c > r.maxOut || (spaced && c > 0 && cache.symbols.ends[c &- 1] > SegmentCache.maxLongKey) { return }
        lengths[slot] = UInt16(n)
        r.store(h, q, n, cache.symbols, c)
    }

    /// A segment that missed the caches: the model's merge loop into `cache.symbols`, its ids (and spans when
    /// `offsets`) buffered; the model's general path for what `mergeSegment` declines, copied into
    /// `cache.symbols` (the model records spans on this path: `run` sets `withOffsets`). Returns the token count.
    func encodeSegmentMiss(_ model: BPEModel, _ key: UnsafePointer<UInt8>, _ keyLength: Int, base: Int32, spaced: Bool,
                           cache: SegmentCache, offsets: Bool, state: inout EncoderState) -> Int {
        var q = key, n = keyLength
        if spaced {
            // The model's bytes after the key in the split's buffer (`encodeMetaspaceIds` reserved room).
            let m = UnsafeMutablePointer(mutating: key) == cache.bytes ? cache.bytes + keyLength : cache.bytes
            n = 0
            for k in 0..<keyLength {
                let b = key[k]
                if b == 0x20 { m[n] = 0xE2; m[n &+ 1] = 0x96; m[n &+ 2] = 0x81; n &+= 3 } else { m[n] = b; n &+= 1 }
            }
            q = UnsafePointer(m)
        }
        state.bpe.cache.bind(to: model)
        let sym = cache.symbols
        var c = model.mergeSegment(q, n, sym, state.bpe.cache.storage)
        if c < 0 {
            cache.spareIds.removeAll(keepingCapacity: true); cache.spareOffsets.removeAll(keepingCapacity: true)
            model.tokenizeSegment(q, n, base: 0, ids: &cache.spareIds, offsets: &cache.spareOffsets, scratch: &state.bpe)
            c = cache.spareIds.count
            sym.reserve(c)
            for k in 0..<c {
                sym.ids[k] = cache.spareIds[k]
                sym.starts[k] = cache.spareOffsets[k].start; sym.ends[k] = cache.spareOffsets[k].end
            }
        }
        let at = cache.outCount
        let outIds = cache.outIds + at
        for k in 0..<c { outIds[k] = sym.ids[k] }
        if offsets {
            let out = cache.outSpans + at
            for k in 0..<c { out[k] = ByteSpan(start: base &+ sym.starts[k], end: base &+ sym.ends[k]) }
        }
        cache.outCount = at &+ c
        return c
    }

    /// Maps model-byte spans (from `mark` on, in order) back to the input, as `NormalizedText` alignments
    /// would: a replaced space is its one input byte, a prepended replacement shares the first character's
    /// span, and a span inside a character (byte fallback) widens to the whole character.
    static func metaspaceOffsets(_ offsets: inout [ByteSpan], from mark: Int, _ text: UnsafePointer<UInt8>,
                                 _ start: Int, _ end: Int, replacementLength rl: Int, prepended: Bool) {
        if mark == offsets.count { return }
        // The character under the cursor: model bytes up to `me` ↔ input bytes [rs, re).
        var me = 0, rs = start, re = start
        @inline(__always) func next() {
            rs = re
            if re >= end { me = Int.max; return }
            if text[re] == 0x20 { me &+= rl; re &+= 1 } else {
                let len = UTF8Lead.length(text[re]); me &+= len; re &+= len
            }
        }
        if prepended {
            // The prepended replacement and the first character share the first character's span: one unit.
            if text[start] == 0x20 { me = rl &* 2; re = start &+ 1 } else {
                let len = UTF8Lead.length(text[start]); me = rl &+ len; re = start &+ len
            }
        } else {
            next()
        }
        var k = mark
        while k < offsets.count {
            let a = Int(offsets[k].start), b = Int(offsets[k].end)
            while a >= me { next() }
            let os = rs
            while b &- 1 >= me { next() }
            offsets[k] = ByteSpan(os, re)
            k &+= 1
        }
    }
}

// MARK: - Bert + WordPiece

/// BertNormalizer + BertPreTokenizer + WordPiece. On ASCII the normalizer only removes control
/// characters, maps whitespace to spaces and lowercases, and the pre-tokenizer splits on whitespace and
/// isolates punctuation, all byte by byte with identity alignments. A whitespace-delimited chunk holding
/// anything else (non-ASCII, control characters) goes through the general path on its own: both steps act
/// per character and never across ASCII whitespace (NFD reordering stops at it, a starter), so the result is
/// the same as for the whole text.
struct BertPath: Sendable {
    let model: WordPieceModel
    let lowercase: Bool
}

/// Per-thread cache of lowercased ASCII words → WordPiece ids and piece ends (direct-mapped).
final class WordPieceCache: SizedCache {
    /// Slots (log2) of a full cache and of a small one (`SizedCache`).
    static let slotBits = 14
    static let smallSlotBits = 7
    static let maxKey = 32
    static let maxOut = 8
    let keys: UnsafeMutablePointer<UInt8>
    let keyLen: UnsafeMutablePointer<UInt8>
    let outCount: UnsafeMutablePointer<UInt8>
    let outIds: UnsafeMutablePointer<Int32>
    /// End of each piece, relative to the word (pieces are contiguous from 0).
    let outEnds: UnsafeMutablePointer<UInt8>
    /// The model the entries belong to (a strong reference, so its identity cannot be reused).
    let owner: WordPieceModel
    let full: Bool
    var bytesSeen = 0
    let slotMask: Int
    /// The one allocation of the buffers above (`CacheBlock`).
    private let block: UnsafeMutableRawPointer

    init(owner: WordPieceModel, full: Bool) {
        self.owner = owner
        self.full = full
        let slots = 1 << (full ? Self.slotBits : Self.smallSlotBits)
        slotMask = slots &- 1
        var l = CacheBlock()
        let at = (l.add(UInt8.self, slots &* Self.maxKey), l.add(UInt8.self, slots), l.add(UInt8.self, slots),
                  l.add(Int32.self, slots &* Self.maxOut), l.add(UInt8.self, slots &* Self.maxOut))
        block = l.allocate()
        keys = CacheBlock.buffer(block, at.0, slots &* Self.maxKey)
        keyLen = CacheBlock.buffer(block, at.1, slots, zeroed: true)
        outCount = CacheBlock.buffer(block, at.2, slots)
        outIds = CacheBlock.buffer(block, at.3, slots &* Self.maxOut)
        outEnds = CacheBlock.buffer(block, at.4, slots &* Self.maxOut)
    }
    deinit { block.deallocate() }
}

extension Tokenizer {
    /// One split of the input through the Bert fast path (see `BertPath`).
    func encodeBert(_ path: BertPath, _ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                    policy: SpecialTokenPolicy, state: inout EncoderState) throws(TokenizerError) {
        let base = text.baseAddress!
        let cache = WordPieceCache.prepared(state.wordPieceCache, for: path.model, bytes: end &- start)
        state.wordPieceCache = cache
        var i = start
        while i < end {
            // Skip ASCII whitespace; a chunk runs to the next one.
            var b = base[i]
            if b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D { i &+= 1; continue }
            let chunk = i
            var plain = true
            while i < end {
                b = base[i]
                if b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D { break }
                // Printable ASCII only: controls are removed by clean_text, non-ASCII needs Unicode.
                if b &- 0x20 >= 0x5F { plain = false }
                i &+= 1
            }
            if !plain {
                var nt = NormalizedText(UnsafeBufferPointer(rebasing: text[chunk..<i]), originalShift: chunk)
                if let normalizer { try normalizer.normalize(&nt) }
                try encodeNormalized(nt, policy: policy, state: &state)
                continue
            }
            // Words: runs of non-punctuation; each punctuation character is a word of its own.
            var w = chunk
            while w < i {
                var e = w &+ 1
                if !Self.isASCIIPunctuation(base[w]) { while e < i && !Self.isASCIIPunctuation(base[e]) { e &+= 1 } }
                encodeBertWord(path, base + w, e &- w, at: w, cache: cache, state: &state)
                w = e
            }
        }
    }

    @inline(__always) static func isASCIIPunctuation(_ b: UInt8) -> Bool {
        // !"#$%&'()*+,-./ :;<=>?@ [\]^_` {|}~
        let lo: UInt64 = 0xFC00_FFFE_0000_0000, hi: UInt64 = 0x7800_0001_F800_0001
        return b < 64 ? (lo >> UInt64(b)) & 1 != 0 : (hi >> UInt64(b &- 64)) & 1 != 0
    }

    /// One printable-ASCII word: lowercased, then WordPiece through the per-thread cache.
    func encodeBertWord(_ path: BertPath, _ p: UnsafePointer<UInt8>, _ n: Int, at pos: Int, cache: WordPieceCache,
                        state: inout EncoderState) {
        if n > WordPieceCache.maxKey {
            lowerAndTokenize(path, p, n, at: pos, state: &state)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: WordPieceCache.maxKey) { tmp in
            let w = tmp.baseAddress!
            var j = 0
            if path.lowercase {
                while j < n { let c = p[j]; w[j] = c &- 0x41 < 26 ? c | 0x20 : c; j &+= 1 }
            } else {
                w.update(from: p, count: n)
            }
            let slot = Int(truncatingIfNeeded: hashBytes(w, n) &>> 40) & cache.slotMask
            let key = cache.keys + slot &* WordPieceCache.maxKey
            let ids = cache.outIds + slot &* WordPieceCache.maxOut, ends = cache.outEnds + slot &* WordPieceCache.maxOut
            let b32 = Int32(pos)
            if Int(cache.keyLen[slot]) == n && memcmp(key, w, n) == 0 {
                var s: Int32 = 0
                for k in 0..<Int(cache.outCount[slot]) {
                    let e = Int32(ends[k])
                    state.ids.append(ids[k]); state.offsets.append(ByteSpan(start: b32 &+ s, end: b32 &+ e))
                    s = e
                }
                return
            }
            let mark = state.ids.count
            path.model.tokenize(w, n, base: b32, ids: &state.ids, offsets: &state.offsets, key: &state.key)
            let c = state.ids.count &- mark
            if c <= WordPieceCache.maxOut {
                key.update(from: w, count: n)
                cache.keyLen[slot] = UInt8(n)
                cache.outCount[slot] = UInt8(c)
                for k in 0..<c {
                    ids[k] = state.ids[mark &+ k]
                    ends[k] = UInt8(truncatingIfNeeded: state.offsets[mark &+ k].end &- b32)
                }
            }
        }
    }

    func lowerAndTokenize(_ path: BertPath, _ p: UnsafePointer<UInt8>, _ n: Int, at pos: Int, state: inout EncoderState) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { tmp in
            let w = tmp.baseAddress!
            for j in 0..<n { let c = p[j]; w[j] = path.lowercase && c &- 0x41 < 26 ? c | 0x20 : c }
            path.model.tokenize(w, n, base: Int32(pos), ids: &state.ids, offsets: &state.offsets, key: &state.key)
        }
    }
}
