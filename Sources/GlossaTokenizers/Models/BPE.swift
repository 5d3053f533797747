import GlossaFormats
/// Byte-pair encoding over integer ids.
///
/// Symbols are token ids; merges live in a `PairTable` keyed by the packed (left, right) pair.
/// One algorithm serves all three peers, which agree once stated this way:
/// repeatedly merge the adjacent pair with the lowest rank, leftmost first.
/// - HF `tokenizer.json`: ranks are the merge list order.
/// - tiktoken: every split of a token into two tokens is a merge ranked by the token's rank,
///   and a piece that is itself a token maps to that token (`ignoreMerges`).
/// - SentencePiece BPE: as tiktoken, ranked by descending piece score (equal scores share a rank,
///   so the leftmost pair wins as in SentencePiece's agenda).
public final class BPEModel: Sendable {
    public struct Options: Sendable, Equatable {
        public var unkToken: String?
        public var continuingSubwordPrefix: String?
        public var endOfWordSuffix: String?
        public var fuseUnk: Bool
        public var byteFallback: Bool
        public var ignoreMerges: Bool
        public init(unkToken: String? = nil, continuingSubwordPrefix: String? = nil, endOfWordSuffix: String? = nil,
                    fuseUnk: Bool = false, byteFallback: Bool = false, ignoreMerges: Bool = false) {
            self.unkToken = unkToken; self.continuingSubwordPrefix = continuingSubwordPrefix
            self.endOfWordSuffix = endOfWordSuffix; self.fuseUnk = fuseUnk; self.byteFallback = byteFallback
            self.ignoreMerges = ignoreMerges
        }
    }

    public let options: Options
    /// The vocabulary as the file spells it (byte-level tokens in the GPT-2 alphabet).
    public let vocabulary: Vocabulary
    /// Whether symbols are raw bytes (byte-level BPE) rather than UTF-8 characters.
    public let byteLevel: Bool
    /// Model-domain key → id: raw bytes for byte-level models, UTF-8 otherwise.
    let lookup: ByteTable
    /// How two adjacent symbols merge.
    let rule: MergeRule
    /// `rule`'s table when it is a `SmallPairTable` (which `rule` keeps alive), taken without a retain.
    let smallPairs: SmallPairTable.View?
    /// The merges in rank order, as (left id, right id), for writing files back: made from the list the model
    /// was built from when asked (a copy at load was 2 MB more fresh memory for Llama 3).
    public var merges: [(Int32, Int32)] { writtenMerges ?? builtMerges.map { ($0.0, $0.1) } }
    private let writtenMerges: [(Int32, Int32)]?
    private let builtMerges: [(Int32, Int32, Int32)]
    /// Id of each single byte as an initial symbol (byte-level), or -1.
    let byteIds: [Int32]
    /// Ids of `<0x00>`…`<0xFF>` for byte fallback (all present) or empty.
    let fallbackIds: [Int32]
    let unkId: Int32
    let prefixBytes: [UInt8]
    let suffixBytes: [UInt8]
    let plainSymbols: Bool
    /// True when "▁" is a token and no token has "▁" after another character (SentencePiece-style
    /// vocabularies): long pieces may then be cut before every "▁"-run.
    let metaspaceSegments: Bool
    /// Id of the token "▁", or -1.
    let metaspaceId: Int32
    /// Rank files: the linear-time encoder for long pieces, built on first use.
    let backtracker = LazyBacktracker()

    static func noTokenCrossesMetaspace(_ table: ByteTable) -> Bool {
        let meta: [UInt8] = [0xE2, 0x96, 0x81]
        guard table.find(meta) != nil else { return false }
        for e in 0..<table.entryCount {
            let bad = table.withEntryBytes(e) { b -> Bool in
                guard b.count >= 4 else { return false }
                var i = 1
                while i + 2 < b.count {
                    if b[i] == 0xE2 && b[i + 1] == 0x96 && b[i + 2] == 0x81 {
                        // Any "▁" not preceded by another "▁" (or the start) breaks the property.
                        if !(i >= 3 && b[i - 3] == 0xE2 && b[i - 2] == 0x96 && b[i - 1] == 0x81) { return true }
                    }
                    i += 1
                }
                return false
            }
            if bad { return false }
        }
        return true
    }

    /// - Parameters:
    ///   - vocabulary: ids and spellings.
    ///   - modelKeys: for each id, the bytes the model matches (raw bytes for byte-level), or nil for none.
    ///   - merges: (left, right, merged) ids in rank order; for rank-based sources pass the explicit `ranks`.
    public convenience init(vocabulary: Vocabulary, modelKeys: [[UInt8]?], byteLevel: Bool,
                merges: [(Int32, Int32, Int32)], ranks: [Int32]? = nil, duplicateMergesKeepLast: Bool = false,
                writtenMerges: [(Int32, Int32)]? = nil, options: Options) throws(TokenizerError) {
        try self.init(vocabulary: vocabulary, lookup: ByteTable(keys: modelKeys), byteLevel: byteLevel, merges: merges,
                      ranks: ranks, duplicateMergesKeepLast: duplicateMergesKeepLast, writtenMerges: writtenMerges,
                      options: options)
    }

    /// - Parameter lookup: model-domain key → id (entry order need not be id order).
    /// Rank-file semantics without a merge list: two symbols merge when their concatenation is a token,
    /// ranked by `tokenRanks[id]` (or the id itself). `table` must hold id i at entry i.
    convenience init(vocabulary: Vocabulary, lookup table: ByteTable, byteLevel: Bool, tokenRanks: [Int32]?,
         options: Options) throws(TokenizerError) {
        try self.init(vocabulary: vocabulary, lookup: table, byteLevel: byteLevel, merges: [], writtenMerges: [],
                      options: options, rule: .concatenation(tokenRanks))
    }

    init(vocabulary: Vocabulary, lookup table: ByteTable, byteLevel: Bool,
         merges: [(Int32, Int32, Int32)], ranks: [Int32]? = nil, duplicateMergesKeepLast: Bool = false,
         writtenMerges: [(Int32, Int32)]? = nil, options: Options, rule explicitRule: MergeRule? = nil) throws(TokenizerError) {
        self.vocabulary = vocabulary
        self.byteLevel = byteLevel
        self.options = options
        lookup = table
        let given = explicitRule ?? .pairs(PairTable(merges: merges, ranks: ranks, keepLast: duplicateMergesKeepLast))
        if case .pairs(let t) = given, let small = SmallPairTable(t) { rule = .smallPairs(small) } else { rule = given }
        if case .smallPairs(let t) = rule { smallPairs = t.view } else { smallPairs = nil }
        // Merge loops pack a rank and a position into an Int32 (`mergeQuadratic`).
        let rankRange: (Int32, Int32)? = switch rule {
        case .pairs, .smallPairs: ranks.map { ($0.min() ?? 0, $0.max() ?? 0) } ?? (0, Int32(clamping: max(merges.count - 1, 0)))
        case .concatenation(let r): r.map { ($0.min() ?? 0, $0.max() ?? 0) } ?? (0, Int32(clamping: max(table.entryCount - 1, 0)))
        }
        if let (lo, hi) = rankRange, lo < 0 || Int(hi) >= Self.rankLimit {
            throw .malformed(file: nil, field: "model.merges",
                             reason: "ranks run from \(lo) to \(hi); Glossa takes ranks from 0 to \(Self.rankLimit - 1)")
        }
        metaspaceSegments = !byteLevel && Self.noTokenCrossesMetaspace(table)
        metaspaceId = table.find([0xE2, 0x96, 0x81]) ?? -1
        self.writtenMerges = writtenMerges
        builtMerges = writtenMerges == nil ? merges : []
        var bi = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { bi[b] = table.find([UInt8(b)]) ?? -1 }
        byteIds = bi
        var fb = [Int32]()
        if options.byteFallback {
            for b in 0..<256 {
                let name = "<0x" + String(b, radix: 16, uppercase: true).leftPadded(2) + ">"
                guard let id = vocabulary.id(of: name) else { fb = []; break }
                fb.append(id)
            }
        }
        fallbackIds = fb
        if let unk = options.unkToken {
            guard let id = vocabulary.id(of: unk) else {
                throw .malformed(file: nil, field: "model.unk_token", reason: "unk token \(unk) is not in the vocabulary")
            }
            unkId = id
        } else { unkId = -1 }
        prefixBytes = Array((options.continuingSubwordPrefix ?? "").utf8)
        suffixBytes = Array((options.endOfWordSuffix ?? "").utf8)
        plainSymbols = prefixBytes.isEmpty && suffixBytes.isEmpty
    }

    public var vocabularySize: Int { vocabulary.count }

    /// `pairValue` through a small per-thread direct-mapped memo: text repeats pairs constantly, and
    /// for rank files a miss costs a hash of the concatenated bytes.
    @inline(__always)
    func memoPairValue(_ a: Int32, _ b: Int32, _ memo: WordCache.Storage) -> UInt64 {
        let k = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        let slot = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) &>> memo.pairShift)
        let e = memo.pairs + 2 &* slot
        if e[0] == k { return e[1] }
        let v = pairValue(a, b)
        e[0] = k; e[1] = v
        return v
    }

    /// (rank << 32 | merged id) when symbols `a` and `b` merge, else UInt64.max.
    @inline(__always)
    func pairValue(_ a: Int32, _ b: Int32) -> UInt64 {
        switch rule {
        case .pairs(let t): return t.lookup(a, b)
        case .smallPairs: return smallPairs.unsafelyUnwrapped.lookup(a, b)
        case .concatenation(let ranks):
            let buf = lookup.buffer
            let la = Int(buf.lengths[Int(a)]), lb = Int(buf.lengths[Int(b)])
            // Symbols without a model key (byte-fallback pieces, unk) never merge.
            if la == 0 || lb == 0 { return .max }
            let n = la &+ lb
            let id: Int32 = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { tmp in
                let p = tmp.baseAddress!
                p.update(from: buf.arena + Int(buf.starts[Int(a)]), count: la)
                (p + la).update(from: buf.arena + Int(buf.starts[Int(b)]), count: lb)
                return lookup.find(p, n)
            }
            if id < 0 { return .max }
            let r = ranks?[Int(id)] ?? id
            return UInt64(UInt32(bitPattern: r)) << 32 | UInt64(UInt32(bitPattern: id))
        }
    }

    /// The id of a piece when the whole piece is a token (model domain), or -1.
    func wholeTokenId(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 { lookup.find(p, n) }

    /// Tokenizes one pre-token `p[0..<n]` (model-domain bytes), appending ids and byte spans
    /// relative to `base`.
    public func tokenize(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int32,
                         ids: inout [Int32], offsets: inout [ByteSpan], scratch: inout BPEScratch) {
        if n == 0 { return }
        if n > WordCache.maxKey && metaspaceSegments && !options.ignoreMerges {
            // No token contains "x▁" (x not ▁), so no merge crosses the start of a ▁-run:
            // tokenizing each ▁-initial segment alone gives the same result, and short segments hit the cache.
            var start = 0
            var i = 1
            while i &+ 2 < n {
                if p[i] == 0xE2 && p[i &+ 1] == 0x96 && p[i &+ 2] == 0x81 && !(i >= 3 && p[i &- 3] == 0xE2 && p[i &- 2] == 0x96 && p[i &- 1] == 0x81) {
                    tokenizeSegment(p + start, i &- start, base: base &+ Int32(start), ids: &ids, offsets: &offsets, scratch: &scratch)
                    start = i
                    i &+= 3
                } else {
                    i &+= 1
                }
            }
            tokenizeSegment(p + start, n &- start, base: base &+ Int32(start), ids: &ids, offsets: &offsets, scratch: &scratch)
            return
        }
        tokenizeSegment(p, n, base: base, ids: &ids, offsets: &offsets, scratch: &scratch)
    }

    func tokenizeSegment(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int32,
                         ids: inout [Int32], offsets: inout [ByteSpan], scratch: inout BPEScratch) {
        if n == 0 { return }
        // One hash serves the whole-token lookup and the word cache.
        let h = hashBytes(p, n)
        if options.ignoreMerges {
            let id = lookup.find(p, n, hash: h)
            if id >= 0 {
                ids.append(id)
                if scratch.withOffsets { offsets.append(ByteSpan(start: base, end: base &+ Int32(n))) }
                return
            }
        }
        let cacheable = n <= WordCache.maxKey
        scratch.cache.bind(to: self)
        if cacheable {
            if scratch.cache.lookup(p, n, hash: h, base: base, ids: &ids, offsets: &offsets, withOffsets: scratch.withOffsets) { return }
        }
        scratch.reset()
        if n <= Self.backtrackMinBytes || !backtrack(p, n, &scratch) { mergePiece(p, n, &scratch) }
        let mark = ids.count
        for k in 0..<scratch.count where scratch.alive(k) { ids.append(scratch.ids[k]) }
        if scratch.withOffsets {
            for k in 0..<scratch.count where scratch.alive(k) {
                offsets.append(ByteSpan(start: base &+ scratch.starts[k], end: base &+ scratch.ends[k]))
            }
        }
        if cacheable { scratch.cache.store(p, n, hash: h, ids: ids, from: mark, symbols: scratch) }
    }

    /// Pieces longer than this go to the backtracking encoder when the model has one (shorter ones
    /// mostly hit the word cache, and the merge loop is cheap on them).
    static let backtrackMinBytes = 8

    /// Whether the model can have a backtracking encoder: rank-file merges (a pair merges when its
    /// concatenation is a token, ranked by id) over byte-level symbols.
    var backtrackable: Bool {
        guard case .concatenation(let ranks) = rule, ranks == nil else { return false }
        return byteLevel && plainSymbols
    }

    /// Encodes `p[0..<n]` into the empty `s` by the backtracking encoder; false when the merge loop
    /// should (the model has no encoder, or it is not built yet).
    ///
    /// Building the encoder costs about as much as merging as many long-piece bytes as the vocabulary
    /// has key bytes (~50 ms for cl100k), so it is built once the model has merged that many bytes
    /// (all threads and calls together): never more than twice the cost of the better choice in
    /// hindsight, and short texts never pay. Pieces of 1 KB or more count 8 times their bytes: the heap
    /// merge of such pieces costs many times more per byte than that of short ones (callgrind, 1 MB
    /// pieces of Llama 3: 850 instructions per byte for random letters, 1470 for one letter, against 125
    /// for all of English prose, and more cache misses), so one 1 MB piece builds the encoder at once
    /// instead of merging first (o200k, random letters, `--reps 3`: 3.1 → 12.7 MB/CPU-s); non-Latin
    /// pieces count 3 times (`budgetWeight`). `force` builds it at once (tests).
    func backtrack(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: inout BPEScratch, force: Bool = false) -> Bool {
        if s.backtracking?.model !== self { s.backtracking = BacktrackState(model: self) }
        if s.backtracking!.encoder == nil {
            guard !s.backtracking!.none, backtrackable else {
                return false
            }
            let (e, built) = backtracker.note(merged: n &* Self.budgetWeight(p, n), budget: force ? 0 : lookup.arenaCount) {
                BacktrackingBPE(lookup: lookup, byteIds: byteIds)
            }
            guard let e else {
                if built { s.backtracking!.none = true }
                return false
            }
            s.backtracking!.encoder = e
        }
        s.cache.bind(to: self)
        return s.backtracking!.encoder!.encode(p, n, into: &s)
    }

    /// The encoder for `s` when the model has one built already (by any thread), without counting or
    /// building: a fresh state (one per document in `glossa bench`, per call elsewhere) otherwise sent its
    /// first long piece through `tokenize`, its span arrays and copies (≈ 14 % of a 1 MB piece's time).
    func builtBacktracker(_ s: inout BPEScratch) -> BacktrackingBPE? {
        // Models that can have none (HF merge lists) ask nothing more: the peek takes a lock.
        guard backtrackable else { return nil }
        if let b = s.backtracking, b.model === self, b.encoder != nil || b.none { return b.encoder }
        guard let e = backtracker.peek() else { return nil }
        s.backtracking = BacktrackState(model: self, encoder: e)
        return e
    }

    /// How many times a merged piece's bytes count towards the encoder's build budget (see `backtrack`).
    /// Pieces that start with a non-ASCII byte (or a space or mark and one) count 3 times: the merge loop
    /// costs more per byte on them than on English words (callgrind, o200k, `multi_nonlatin_mix`: about
    /// 530 instructions per counted byte more than the encoder, so the build, ~400 M, paid for itself
    /// after 0.75 MB where the budget waited for 1.4 MB, past the second pass over the file), and the
    /// encoder's tables also cut long CJK runs for the ids-only path (`BacktrackingBPE.partEnd`).
    @inline(__always) static func budgetWeight(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        n >= 1024 ? 8 : (p[0] | p[1]) & 0x80 != 0 ? nonLatinBudgetWeight : 1
    }
    static let nonLatinBudgetWeight = 3

    /// Counts `bytes` of long pieces that a caller's memo served towards the encoder's build budget, as
    /// if they had been merged (the memo hides repeats that the merge loop paid for each time).
    func noteMemoized(_ bytes: Int) {
        guard backtrackable else { return }
        // Non-Latin pieces only (`IdsPath`), weighed as `budgetWeight` does.
        _ = backtracker.note(merged: bytes &* Self.nonLatinBudgetWeight, budget: lookup.arenaCount) { BacktrackingBPE(lookup: lookup, byteIds: byteIds) }
    }

    /// The merge loop proper: initial symbols of `p[0..<n]` into the empty `s`, then merges.
    func mergePiece(_ p: UnsafePointer<UInt8>, _ n: Int, _ scratch: inout BPEScratch) {
        if byteLevel && plainSymbols {
            var i = 0
            while i < n {
                let id = byteIds[Int(p[i])]
                if id >= 0 { scratch.push(id, Int32(i), Int32(i &+ 1)) } else { pushUnknown(p, i, i &+ 1, n, &scratch) }
                i &+= 1
            }
        } else {
            initialCharacterSymbols(p, n, &scratch)
        }
        scratch.flushUnk()
        if scratch.count > 1 {
            if scratch.count <= 24 { mergeShort(&scratch) } else { mergeLong(&scratch) }
        }
    }

    /// One piece's ids without the caches or the whole-token shortcut, by the backtracking encoder
    /// (nil when the model has none) or by the merge loop: what the differential tests compare.
    func uncachedPieceIds(_ bytes: [UInt8], backtracking: Bool) -> [Int32]? {
        var s = BPEScratch()
        return bytes.withUnsafeBufferPointer { b -> [Int32]? in
            guard let p = b.baseAddress, b.count > 0 else { return [] }
            if backtracking {
                if !backtrack(p, b.count, &s, force: true) { return nil }
            } else {
                mergePiece(p, b.count, &s)
            }
            return (0..<s.count).filter { s.alive($0) }.map { s.ids[$0] }
        }
    }

    private func initialCharacterSymbols(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: inout BPEScratch) {
        var i = 0
        var key = [UInt8]()
        while i < n {
            let len = min(UTF8Lead.length(p[i]), n &- i)
            let isFirst = i == 0, isLast = i &+ len == n
            var id: Int32
            if plainSymbols {
                // An ASCII character's id is its single-byte key's, already in `byteIds`: no hash.
                id = len == 1 ? byteIds[Int(p[i])] : lookup.find(p + i, len)
            } else {
                key.removeAll(keepingCapacity: true)
                if !isFirst { key.append(contentsOf: prefixBytes) }
                key.append(contentsOf: UnsafeBufferPointer(start: p + i, count: len))
                if isLast { key.append(contentsOf: suffixBytes) }
                id = key.withUnsafeBufferPointer { lookup.find($0.baseAddress!, $0.count) }
            }
            if id >= 0 {
                s.flushUnk()
                s.push(id, Int32(i), Int32(i &+ len))
            } else if !fallbackIds.isEmpty {
                s.flushUnk()
                if plainSymbols {
                    for j in i..<(i &+ len) { s.push(fallbackIds[Int(p[j])], Int32(j), Int32(j &+ 1)) }
                } else {
                    // HF falls back on the bytes of the decorated symbol; each covers one input byte slot.
                    for (k, b) in key.enumerated() {
                        let st = Int32(i) &+ Int32(min(k, len - 1))
                        s.push(fallbackIds[Int(b)], st, st &+ 1)
                    }
                }
            } else {
                pushUnknown(p, i, i &+ len, n, &s)
            }
            i &+= len
        }
    }

    private func pushUnknown(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ n: Int, _ s: inout BPEScratch) {
        guard unkId >= 0 else { return }   // HF drops unknown symbols when there is no unk token
        if options.fuseUnk, s.pendingUnk { s.pendingUnkEnd = Int32(end); return }
        s.flushUnk()
        s.pendingUnk = true; s.pendingUnkId = unkId
        s.pendingUnkStart = Int32(start); s.pendingUnkEnd = Int32(end)
    }

    /// Quadratic scan for short pieces (cache-friendly; most pre-tokens are short).
    private func mergeShort(_ s: inout BPEScratch) {
        var n = s.count
        let memo = s.cache.storage
        s.ids.withUnsafeMutableBufferPointer { ids in
        s.ends.withUnsafeMutableBufferPointer { ends in
        s.starts.withUnsafeMutableBufferPointer { starts in
            n = mergeQuadratic(ids.baseAddress!, starts.baseAddress!, ends.baseAddress!, n, memo)
        }}}
        s.count = n
        s.compact = true
    }

    /// `mergePiece` of a short piece (≤ 16 bytes, `ids` and `ends` hold 16) whose symbols are its bytes
    /// (`byteIds`): the merge loop on raw buffers, without the word cache, arrays or spans. The ids are
    /// left in `ids`; returns their count.
    @inline(__always)
    func mergeBytes(_ p: UnsafePointer<UInt8>, _ n: Int, byteIds: UnsafePointer<Int32>, ids: UnsafeMutablePointer<Int32>,
                    ends: UnsafeMutablePointer<Int32>, memo: WordCache.Storage) -> Int {
        var i = 0
        while i < n {
            ids[i] = byteIds[Int(p[i])]; ends[i] = Int32(truncatingIfNeeded: i &+ 1)
            i &+= 1
        }
        return mergeQuadratic(ids, nil, ends, n, memo)
    }

    /// Most symbols `mergeQuadratic` takes: a position fits in the low 6 bits of a pair key.
    static let quadraticLimit = 64
    /// Ranks must stay below this (checked at init) for a pair key (rank << 6 | position) to fit an Int32.
    static let rankLimit = 1 << 25

    /// The merge loop for a few symbols (≤ `quadraticLimit`) held in raw buffers: the lowest-ranked adjacent
    /// pair, leftmost first, merged into its left symbol. Symbols stay where they are until the end (no
    /// shifting); each pair's key is (rank << 6 | position) in an Int32, so the minimum over the keys finds the
    /// pair, ties going to the leftmost, in a loop the compiler vectorizes. Returns the symbol count, survivors
    /// compacted. `starts` may be nil when the symbols tile their piece (each starts where the previous one
    /// ends): the caller then takes the starts from the ends.
    @inline(__always)
    func mergeQuadratic(_ ids: UnsafeMutablePointer<Int32>, _ starts: UnsafeMutablePointer<Int32>?,
                        _ ends: UnsafeMutablePointer<Int32>, _ count: Int, _ memo: WordCache.Storage) -> Int {
        let n = count
        assert(n <= Self.quadraticLimit, "mergeQuadratic takes at most \(Self.quadraticLimit) symbols")
        if n < 2 { return n }
        // Per pair: its key (Int32.max: no merge) and merged id; per symbol: the next living one (n past the last).
        let key = memo.quadratic, merged = key + Self.quadraticLimit, next = merged + Self.quadraticLimit
        @inline(__always) func pair(_ i: Int, _ j: Int) {
            let v = memoPairValue(ids[i], ids[j], memo)
            key[i] = v == .max ? .max : Int32(truncatingIfNeeded: (v &>> 32) &<< 6) | Int32(truncatingIfNeeded: i)
            merged[i] = Int32(truncatingIfNeeded: v)
        }
        for i in 0..<(n &- 1) { next[i] = Int32(truncatingIfNeeded: i &+ 1); pair(i, i &+ 1) }
        key[n &- 1] = .max
        next[n &- 1] = Int32(truncatingIfNeeded: n)
        var alive = n
        while alive > 1 {
            // The last symbol never starts a pair (it is dead or the last living one).
            var best = Int32.max, i = 0
            while i < n &- 1 { best = Swift.min(best, key[i]); i &+= 1 }
            if best == .max { break }
            let at = Int(truncatingIfNeeded: best & 63)
            let nx = Int(next[at]), nn = Int(next[nx])
            ids[at] = merged[at]
            ends[at] = ends[nx]
            ends[nx] = -1   // dead (the first symbol never dies: merges keep the left one)
            key[nx] = .max
            next[at] = Int32(truncatingIfNeeded: nn)
            if nn < n { pair(at, nn) } else { key[at] = .max }
            if at > 0 {
                // The living symbol before `at`: its pair now ends at the merged symbol.
                var p = at &- 1
                while ends[p] < 0 { p &-= 1 }
                pair(p, at)
            }
            alive &-= 1
        }
        if alive == n { return n }
        var m = 0
        for k in 0..<n where ends[k] >= 0 {
            ids[m] = ids[k]; ends[m] = ends[k]
            if let starts { starts[m] = starts[k] }
            m &+= 1
        }
        return m
    }

    /// Symbols up to which `mergeSegment` uses the quadratic loop (cheaper than the heap on few symbols).
    static let segmentSymbolLimit = quadraticLimit

    /// BPE of one Metaspace segment `p[0..<n]` (undecorated symbols) into `sym` without the word cache or
    /// any array: initial character symbols (ASCII by table, "▁" by its known id), byte fallback, then the
    /// merge loop (quadratic up to `segmentSymbolLimit` symbols, else the heap). Returns the symbol count
    /// (ids, starts, ends relative to `p`), or -1 when the general path must take the segment: a character
    /// that is neither a token nor covered by byte fallback (unknown symbols, which may fuse).
    func mergeSegment(_ p: UnsafePointer<UInt8>, _ n: Int, _ sym: SegmentSymbols, _ memo: WordCache.Storage) -> Int {
        sym.reserve(n)
        let ids = sym.ids, starts = sym.starts, ends = sym.ends
        var c = 0, i = 0
        while i < n {
            let b = p[i]
            var len = 1, id: Int32
            if b < 0xC0 {
                id = byteIds[Int(b)]
            } else {
                len = min(UTF8Lead.length(b), n &- i)
                id = len == 3 && b == 0xE2 && p[i &+ 1] == 0x96 && p[i &+ 2] == 0x81 ? metaspaceId : lookup.find(p + i, len)
            }
            if id >= 0 {
                ids[c] = id; starts[c] = Int32(truncatingIfNeeded: i); ends[c] = Int32(truncatingIfNeeded: i &+ len)
                c &+= 1
            } else if !fallbackIds.isEmpty {
                for j in i..<(i &+ len) {
                    ids[c] = fallbackIds[Int(p[j])]; starts[c] = Int32(truncatingIfNeeded: j)
                    ends[c] = Int32(truncatingIfNeeded: j &+ 1)
                    c &+= 1
                }
            } else {
                return -1
            }
            i &+= len
        }
        if c <= Self.segmentSymbolLimit {
            // The symbols tile the segment from 0.
            let m = mergeQuadratic(ids, nil, ends, c, memo)
            for k in 1..<max(m, 1) { starts[k] = ends[k &- 1] }
            return m
        }
        let dead = sym.dead
        dead.update(repeating: false, count: c)
        mergeHeap(ids, ends, dead, c, memo)
        var m = 0
        for k in 0..<c where !dead[k] { ids[m] = ids[k]; starts[m] = starts[k]; ends[m] = ends[k]; m &+= 1 }
        return m
    }

    /// Heap over (rank, position) with a doubly linked symbol list: O(n log n) for long pieces.
    /// Long pieces: a linked symbol list and a priority queue over (rank, position).
    ///
    /// Trained merge tables rank a merge after the merges that built its parts, so the ranks
    /// popped never decrease and a radix heap (amortized O(1) per key here) replaces the binary
    /// heap. If a table breaks that order, the remaining keys move to a binary heap: results are
    /// identical either way. Repeated pairs hit a small per-thread memo instead of the hash tables.
    private func mergeLong(_ s: inout BPEScratch) {
        let n = s.count
        let memo = s.cache.storage
        var dead = [Bool](repeating: false, count: n)
        s.ids.withUnsafeMutableBufferPointer { ids in
        s.ends.withUnsafeMutableBufferPointer { ends in
        dead.withUnsafeMutableBufferPointer { d in
            mergeHeap(ids.baseAddress!, ends.baseAddress!, d.baseAddress!, n, memo)
        }}}
        s.dead = dead
        s.compact = false
    }

    /// The heap merge over raw buffers: symbols merged into their left neighbour are marked in `dead`
    /// (all false on entry); the survivors keep their start, take the merged id and end.
    func mergeHeap(_ ids: UnsafeMutablePointer<Int32>, _ ends: UnsafeMutablePointer<Int32>,
                   _ dead: UnsafeMutablePointer<Bool>, _ n: Int, _ memo: WordCache.Storage) {
        memo.reserveLinks(n)
        let prev = memo.prev, next = memo.next
        for i in 0..<n { prev[i] = Int32(i) &- 1; next[i] = i &+ 1 < n ? Int32(i &+ 1) : -1 }
        var queue = MonotoneQueue(buffer: memo.heap, capacity: memo.heapCapacity)
        @inline(__always) func value(_ a: Int32, _ b: Int32) -> UInt64 { memoPairValue(a, b, memo) }
        for i in 0..<(n &- 1) {
            let v = value(ids[i], ids[i &+ 1])
            if v != .max { queue.push((v & 0xFFFF_FFFF_0000_0000) | UInt64(i)) }
        }
        while let top = queue.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            if dead[pos] { continue }
            let nx = Int(next[pos])
            if nx < 0 { continue }
            let v = value(ids[pos], ids[nx])
            if v == .max || (v & 0xFFFF_FFFF_0000_0000) != (top & 0xFFFF_FFFF_0000_0000) { continue }
            ids[pos] = Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
            ends[pos] = ends[nx]
            dead[nx] = true
            let nn = next[nx]
            next[pos] = nn
            if nn >= 0 { prev[Int(nn)] = Int32(pos) }
            let pv = prev[pos]
            if pv >= 0 {
                let w = value(ids[Int(pv)], ids[pos])
                if w != .max { queue.push((w & 0xFFFF_FFFF_0000_0000) | UInt64(pv)) }
            }
            if nn >= 0 {
                let w = value(ids[pos], ids[Int(nn)])
                if w != .max { queue.push((w & 0xFFFF_FFFF_0000_0000) | UInt64(pos)) }
            }
        }
        // Written back only when the heap grew: the storage object is a small block, which may share a
        // cache line with data other threads use.
        if queue.capacityNow != memo.heapCapacity {
            memo.heapCapacity = queue.capacityNow
            memo.heap = queue.release()
        } else {
            _ = queue.release()
        }
    }
}

/// A min-priority queue of packed (rank, position) keys: a 4-ary heap in one raw buffer
/// (no copy-on-write checks on the hot path).
struct MonotoneQueue: ~Copyable {
    private var a: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    private var n = 0
    private var owned = true

    /// Adopts a reusable buffer (grown if needed); hand it back with `release()`.
    init(buffer: UnsafeMutablePointer<UInt64>, capacity: Int) {
        a = buffer; self.capacity = capacity
    }
    var capacityNow: Int { capacity }
    /// Gives the buffer back to its owner (it is not freed).
    consuming func release() -> UnsafeMutablePointer<UInt64> {
        owned = false
        return a
    }
    deinit { if owned { a.deallocate() } }

    mutating func push(_ x: UInt64) {
        if n == capacity {
            let bigger = CacheLines.allocate(UInt64.self, count: capacity &* 2)
            bigger.update(from: a, count: n); a.deallocate(); a = bigger; capacity &*= 2
        }
        var i = n
        n &+= 1
        while i > 0 {
            let p = (i &- 1) &>> 2
            let v = a[p]
            if v <= x { break }
            a[i] = v; i = p
        }
        a[i] = x
    }

    mutating func pop() -> UInt64? {
        if n == 0 { return nil }
        let top = a[0]
        n &-= 1
        if n == 0 { return top }
        let x = a[n]
        var i = 0
        while true {
            let c = (i &<< 2) &+ 1
            if c >= n { break }
            var m = c, mv = a[c]
            let end = Swift.min(c &+ 4, n)
            var j = c &+ 1
            while j < end { let v = a[j]; if v < mv { mv = v; m = j }; j &+= 1 }
            if mv >= x { break }
            a[i] = mv; i = m
        }
        a[i] = x
        return top
    }
}

enum MergeRule: @unchecked Sendable {
    /// An explicit merge list (HF): (left, right) → (rank, merged).
    case pairs(PairTable)
    /// The same for models whose ids and ranks fit 16 bits, in a table a quarter the size.
    case smallPairs(SmallPairTable)
    /// tiktoken / SentencePiece: merge when the concatenation is a token; rank by token (optionally remapped).
    case concatenation([Int32]?)
}

/// Reusable buffers for `BPEModel.tokenize` (one per thread).
/// Not Sendable: each thread owns its own (its buffers are reused in place).
public struct BPEScratch {
    var ids: [Int32] = []
    var starts: [Int32] = []
    var ends: [Int32] = []
    var dead: [Bool] = []
    var count = 0
    var compact = true
    var pendingUnk = false
    var pendingUnkId: Int32 = 0
    var pendingUnkStart: Int32 = 0
    var pendingUnkEnd: Int32 = 0
    var cache = WordCache()
    /// Whether callers want byte spans (`offsets`); the ids-only paths skip them.
    var withOffsets = true
    /// This thread's use of the backtracking encoder of the model last used.
    var backtracking: BacktrackState?

    public init() {}

    @inline(__always) mutating func reset() {
        ids.removeAll(keepingCapacity: true); starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true); count = 0; compact = true; pendingUnk = false
    }
    @inline(__always) mutating func push(_ id: Int32, _ s: Int32, _ e: Int32) {
        ids.append(id); starts.append(s); ends.append(e); count &+= 1
    }
    @inline(__always) mutating func flushUnk() {
        if pendingUnk { pendingUnk = false; push(pendingUnkId, pendingUnkStart, pendingUnkEnd) }
    }
    @inline(__always) func alive(_ k: Int) -> Bool { compact || !dead[k] }
}

/// Raw symbol buffers for `BPEModel.mergeSegment` (one per thread, grown on demand).
final class SegmentSymbols {
    @exclusivity(unchecked) private(set) var capacity = 0
    @exclusivity(unchecked) private(set) var ids = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    @exclusivity(unchecked) private(set) var starts = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    @exclusivity(unchecked) private(set) var ends = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    @exclusivity(unchecked) private(set) var dead = UnsafeMutablePointer<Bool>.allocate(capacity: 0)

    init() { reserve(256) }
    deinit { ids.deallocate(); starts.deallocate(); ends.deallocate(); dead.deallocate() }

    /// Room for `n` symbols.
    func reserve(_ n: Int) {
        if n <= capacity { return }
        ids.deallocate(); starts.deallocate(); ends.deallocate(); dead.deallocate()
        capacity = max(n, capacity &* 2)
        ids = .allocate(capacity: capacity); starts = .allocate(capacity: capacity); ends = .allocate(capacity: capacity)
        dead = .allocate(capacity: capacity)
    }
}

/// Per thread: the backtracking encoder of one model once this thread has seen it built.
struct BacktrackState {
    let model: BPEModel
    var encoder: BacktrackingBPE? = nil
    /// The model has no encoder (its bytes are not all tokens).
    var none = false
}

/// Binary min-heap of packed UInt64 keys.
struct MinHeap {
    var a: [UInt64]
    init(capacity: Int) { a = []; a.reserveCapacity(capacity) }
    mutating func push(_ x: UInt64) {
        a.append(x)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if a[p] <= x { break }
            a[i] = a[p]; i = p
        }
        a[i] = x
    }
    mutating func pop() -> UInt64? {
        guard let last = a.popLast() else { return nil }
        if a.isEmpty { return last }
        let top = a[0]
        var i = 0
        let n = a.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && a[l + 1] < a[l] { c = l + 1 }
            if a[c] >= last { break }
            a[i] = a[c]; i = c
        }
        a[i] = last
        return top
    }
}

enum UTF8Lead {
    @inline(__always) static func length(_ b: UInt8) -> Int {
        b < 0xC0 ? 1 : (b < 0xE0 ? 2 : (b < 0xF0 ? 3 : 4))
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

extension BPEModel {
    /// The bytes the model matches for `id` (raw bytes for byte-level models).
    public func modelKey(_ id: Int32) -> [UInt8]? {
        guard let spelled = vocabulary.token(id) else { return nil }
        if !byteLevel { return spelled }
        return spelled.withUnsafeBufferPointer { GlossaFormats.ByteLevelAlphabet.gpt2.decode(utf8: $0) }
    }
}

/// A direct-mapped cache of short pre-tokens → (ids, spans), per thread. Text repeats words
/// constantly, so most pre-tokens skip BPE entirely.
struct WordCache {
    /// Slots (log2) of a full cache and of the small one a state starts with (see `Storage.noteStore`).
    static let slotBits = 14
    static let smallSlotBits = 7
    static let maxKey = 32
    static let maxOut = 16
    /// Pair-value memo: scripts without spaces (CJK) and long pieces meet many distinct pairs.
    static let pairBits = 15
    static let smallPairBits = 8
    /// This thread's buffers, on cache lines of their own (`CacheLines`). They start small and take their
    /// full sizes once the cache has stored twice as many pieces as its small size holds: every state has
    /// one, and at full size a fresh state allocated 2.6 MB and filled 0.5 MB of it (twice, with `bind`),
    /// ≈ 10 µs of a stateless `encode` of a short sentence.
    final class Storage {
        /// The buffers that take the cache's size, in one block (`CacheBlock`), with the masks they index by.
        struct Sized {
            let block: UnsafeMutableRawPointer
            let keys: UnsafeMutablePointer<UInt8>
            let keyLen: UnsafeMutablePointer<UInt8>
            let outCount: UnsafeMutablePointer<UInt8>
            let outIds: UnsafeMutablePointer<Int32>
            /// (start, end) pairs relative to the word.
            let outSpans: UnsafeMutablePointer<UInt8>
            /// Direct-mapped memo of pair values (entries of key, value): key and value side by side, so that a
            /// cold slot costs one cache miss, not two.
            let pairs: UnsafeMutablePointer<UInt64>
            /// Slots − 1 of the word cache; 64 − log2 of the pair memo's entries.
            let slotMask: Int
            let pairShift: UInt64
            let full: Bool

            /// Empty buffers of a full or a small cache.
            init(full: Bool) {
                let (k, q) = full ? (WordCache.slotBits, WordCache.pairBits) : (WordCache.smallSlotBits, WordCache.smallPairBits)
                let slots = 1 << k, pairSlots = 2 << q
                var l = CacheBlock()
                let at = (l.add(UInt8.self, slots * WordCache.maxKey), l.add(UInt8.self, slots), l.add(UInt8.self, slots),
                          l.add(Int32.self, slots * WordCache.maxOut), l.add(UInt8.self, slots * WordCache.maxOut * 2),
                          l.add(UInt64.self, pairSlots))
                block = l.allocate()
                keys = CacheBlock.buffer(block, at.0, slots * WordCache.maxKey)
                keyLen = CacheBlock.buffer(block, at.1, slots)
                outCount = CacheBlock.buffer(block, at.2, slots)
                outIds = CacheBlock.buffer(block, at.3, slots * WordCache.maxOut)
                outSpans = CacheBlock.buffer(block, at.4, slots * WordCache.maxOut * 2)
                pairs = CacheBlock.buffer(block, at.5, pairSlots)
                slotMask = slots - 1
                pairShift = UInt64(64 - q)
                self.full = full
                clear()
            }
            /// Empties both caches.
            func clear() {
                keyLen.update(repeating: 0, count: slotMask &+ 1)
                pairs.update(repeating: .max, count: 2 &<< (64 &- Int(pairShift)))
            }
        }
        @exclusivity(unchecked) private(set) var sized: Sized
        var pairs: UnsafeMutablePointer<UInt64> { sized.pairs }
        var pairShift: UInt64 { sized.pairShift }
        var full: Bool { sized.full }
        /// Pieces stored while small.
        @exclusivity(unchecked) private var stores = 0
        /// `mergeQuadratic`'s pair keys, merged ids and links (`BPEModel.quadraticLimit` each).
        let quadratic = CacheLines.allocate(Int32.self, count: 3 * BPEModel.quadraticLimit)
        /// Reusable buffers for long pieces: symbol links and the heap.
        var prev = CacheLines.allocate(Int32.self, count: 256)
        var next = CacheLines.allocate(Int32.self, count: 256)
        var linkCapacity = 256
        var heap = CacheLines.allocate(UInt64.self, count: 1024)
        var heapCapacity = 1024
        func reserveLinks(_ n: Int) {
            guard n > linkCapacity else { return }
            prev.deallocate(); next.deallocate()
            linkCapacity = max(n, linkCapacity &* 2)
            prev = CacheLines.allocate(Int32.self, count: linkCapacity); next = CacheLines.allocate(Int32.self, count: linkCapacity)
        }
        init(full: Bool = false) { sized = Sized(full: full) }
        /// Empties both caches.
        func clear() { sized.clear() }
        /// Counts a stored piece; past twice the small size's slots, the buffers take their full sizes (empty).
        @inline(__always) func noteStore() {
            if sized.full { return }
            stores &+= 1
            if stores > 2 &* (sized.slotMask &+ 1) { grow() }
        }
        @inline(never) private func grow() {
            sized.block.deallocate()
            sized = Sized(full: true)
        }
        deinit {
            sized.block.deallocate()
            quadratic.deallocate()
            prev.deallocate(); next.deallocate(); heap.deallocate()
        }
    }
    let storage = Storage()
    private var owner: ObjectIdentifier?
    private var keys: UnsafeMutablePointer<UInt8> { storage.sized.keys }
    private var keyLen: UnsafeMutablePointer<UInt8> { storage.sized.keyLen }
    private var outCount: UnsafeMutablePointer<UInt8> { storage.sized.outCount }
    private var outIds: UnsafeMutablePointer<Int32> { storage.sized.outIds }
    private var outSpans: UnsafeMutablePointer<UInt8> { storage.sized.outSpans }

    mutating func bind(to model: BPEModel) {
        let id = ObjectIdentifier(model)
        if owner != id {
            // A new storage is empty already.
            if owner != nil { storage.clear() }
            owner = id
        }
    }

    @inline(__always) func slot(_ h: UInt64) -> Int {
        Int(truncatingIfNeeded: h &>> 17) & storage.sized.slotMask
    }

    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64, base: Int32, ids: inout [Int32], offsets: inout [ByteSpan],
                withOffsets: Bool) -> Bool {
        let s = slot(hash)
        if Int(keyLen[s]) != n || memcmp(keys + s &* Self.maxKey, p, n) != 0 { return false }
        let c = Int(outCount[s])
        let idp = outIds + s &* Self.maxOut, sp = outSpans + s &* Self.maxOut &* 2
        for k in 0..<c { ids.append(idp[k]) }
        if withOffsets {
            for k in 0..<c { offsets.append(ByteSpan(start: base &+ Int32(sp[2 &* k]), end: base &+ Int32(sp[2 &* k &+ 1]))) }
        }
        return true
    }

    /// Stores the piece's ids (`ids[mark...]`) with the spans of the live symbols of `sym` (relative to the piece).
    @inline(__always)
    func store(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64, ids: [Int32], from mark: Int, symbols sym: borrowing BPEScratch) {
        let c = ids.count &- mark
        if c > Self.maxOut || n == 0 { return }
        storage.noteStore()
        let s = slot(hash)
        (keys + s &* Self.maxKey).update(from: p, count: n)
        keyLen[s] = UInt8(n)
        outCount[s] = UInt8(c)
        let idp = outIds + s &* Self.maxOut, sp = outSpans + s &* Self.maxOut &* 2
        for k in 0..<c { idp[k] = ids[mark &+ k] }
        var j = 0
        for k in 0..<sym.count where sym.alive(k) {
            sp[2 &* j] = UInt8(truncatingIfNeeded: sym.starts[k])
            sp[2 &* j &+ 1] = UInt8(truncatingIfNeeded: sym.ends[k])
            j &+= 1
        }
    }
}
