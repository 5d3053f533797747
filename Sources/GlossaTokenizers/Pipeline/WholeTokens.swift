import CPrefetch
import Glibc

/// Every token of at most 16 bytes, keyed like `PieceMemo` (the piece's bytes as two masked little-endian
/// words), shared read-only by all threads: most pieces of prose (a word with its leading space) are one
/// token, and finding them here needs neither a per-thread memo slot (each thread's memo warmed on its own
/// and, at 32 bytes a slot, missed the cache) nor a merge on first sight.
///
/// Models that take a piece that is a token as that token (rank files, `ignoreMerges`) use a hit as it is.
/// Otherwise a token's bytes need not encode to the token itself (Llama 3 appended tokens that BPE never
/// builds), so a hit counts only once this thread has checked it: `PieceMemo.verified` holds one bit per
/// token, set when the merge loop gave exactly that token for its bytes. Until then, and for tokens that
/// fail, the piece takes the memo path.
///
/// Two linear-probing tables, at most half full. Tokens of up to 12 bytes (nearly all) take 16-byte slots:
/// word 0 the first 8 bytes, word 1 bytes 8–11 | length << 32 | id << 40. Tokens of 13–16 bytes take
/// 32-byte slots: both words, then length | id << 32. A word 1 (short) or word 2 (long) of 0 is empty.
final class WholeTokenTable: @unchecked Sendable {
    /// The two tables' pointers, shifts and masks (`find`, `prefetch`) by value: a caller's loop copies them
    /// once (`IdsPath.encode`), where the class's fields were reloaded through the object for every piece.
    let probe: WholeTokenProbe
    var short: UnsafeMutablePointer<UInt64> { probe.short }
    var shortMask: Int { probe.shortMask }
    var long: UnsafeMutablePointer<UInt64> { probe.long }
    var longMask: Int { probe.longMask }
    /// Whether every token of at most 16 bytes is here (none left out for sharing its id with another).
    let complete: Bool
    /// Bit words per thread (`PieceMemo.verified`): one bit per id below `idLimit`.
    let idLimit: Int
    /// `PieceMemo.makeMasks()`: keys and the substrings `mergeByRank` probes are cut to length with them.
    let masks = PieceMemo.makeMasks()
    /// The id of each two-byte token at `b0 | b1 << 8`, else `Int32.max`: the ranks of a piece's initial byte
    /// pairs in `mergeByRank` are one load each instead of a hash and a probe (256 KiB). Then the id of each
    /// one-byte token at `1 << 16 | b0` (`smallIndex`).
    let bytePairs: UnsafeMutablePointer<Int32>
    /// One bit per hash (`PieceMemo.hash`, low `filterBits` bits) of every token here (128 KiB): most of
    /// `mergeByRank`'s probes after a merge are for substrings that are no token, and a probe of the
    /// 4–8 MB tables is a cache miss (perf put two thirds of the miss path's time on that one load).
    let filter: UnsafeMutablePointer<UInt64>
    static let filterBits = 20
    /// One bit per id: the token's bytes alone merge to that token (the check `IdsPath` makes before it
    /// uses a hit of a model that merges whole tokens too, Llama 3's `tokenizer.json`), found here for every
    /// token on the building core so that threads start with it instead of each merging every token it
    /// meets once. nil for models that take a token as it is (hits are final) or whose symbols are not bytes.
    let selfEncoded: UnsafeMutablePointer<UInt64>?
    /// The id of each token that is one 3-byte UTF-8 character, at `char3Index` of its bytes, else -1
    /// (256 KiB): most parts of cut CJK runs are one such character, and one load here replaces the hash
    /// and the probe of the 4–8 MB table (`IdsPath`, rank files only: there a token is final).
    let char3: UnsafeMutablePointer<Int32>
    /// Tokens that are two 3-byte characters (o200k: 6,374, Llama 3: 3,267), keyed by their two `char3Index`es
    /// (first << 16 | second), linear probing in 8-byte slots (key << 32 | 1 << 31 | id; 0 is empty): the
    /// two-character parts of cut CJK runs look here (128 KiB for o200k) instead of in the 4–8 MB table,
    /// where their probe missed the cache (`IdsPath`, rank files only).
    let charPairs: UnsafeMutablePointer<UInt64>
    let charPairMask: Int

    /// nil when ids do not fit the slots (2^24 and up).
    init?(_ model: BPEModel) {
        let table = model.lookup
        let buf = table.buffer
        let n = table.entryCount
        // Rank files hold id e at entry e and index every entry: each key once, each id once, no checks.
        var maxId: Int32 = -1
        var identity = true
        var shortCount = 0, longCount = 0
        for e in 0..<n {
            let v = buf.values[e], len = buf.lengths[e]
            maxId = max(maxId, v)
            identity = identity && v == Int32(truncatingIfNeeded: e)
            if len >= 1 && len <= 12 { shortCount &+= 1 } else if len >= 13 && len <= 16 { longCount &+= 1 }
        }
        guard maxId < 1 << 24 else { return nil }
        idLimit = Int(maxId) &+ 1
        var keep: [Bool] = []
        var dropped = false
        if !(identity && table.count == n) {
            // One key per id (the verified bit is per id) and each key once: the entry the lookup finds.
            keep = [Bool](repeating: false, count: n)
            var seen = [Bool](repeating: false, count: idLimit)
            for e in 0..<n {
                let len = Int(buf.lengths[e]), id = buf.values[e]
                guard len >= 1, len <= 16 else { continue }
                let p = UnsafePointer(buf.arena + Int(buf.starts[e]))
                guard buf.lookupEntry(p, len, hash: hashBytes(p, len)) == e else { continue }
                guard id >= 0, !seen[Int(id)] else { dropped = true; continue }
                seen[Int(id)] = true
                keep[e] = true
            }
        }
        complete = !dropped
        func capacity(_ c: Int) -> Int { var cap = 64; while cap < 2 &* c { cap &<<= 1 }; return cap }
        let sc = capacity(shortCount), lc = capacity(longCount)
        let shortShift = UInt64(64 &- sc.trailingZeroBitCount), longShift = UInt64(64 &- lc.trailingZeroBitCount)
        let short = Self.allocateHuge(words: 2 &* sc), long = Self.allocateHuge(words: 4 &* lc)
        probe = WholeTokenProbe(short: short, shortShift: shortShift, shortMask: sc &- 1,
                                long: long, longShift: longShift, longMask: lc &- 1)
        let shortMask = sc &- 1, longMask = lc &- 1
        bytePairs = .allocate(capacity: 1 << 16 | 256); bytePairs.initialize(repeating: .max, count: 1 << 16 | 256)
        char3 = .allocate(capacity: 1 << 16); char3.initialize(repeating: -1, count: 1 << 16)
        filter = .allocate(capacity: 1 << (Self.filterBits &- 6)); filter.initialize(repeating: 0, count: 1 << (Self.filterBits &- 6))
        // Which tokens their own bytes merge to (`selfEncoded`): the merge `IdsPath` runs on a short miss.
        var selfBits: UnsafeMutablePointer<UInt64>? = nil, byteIds: UnsafeMutablePointer<Int32>? = nil
        var pairMemo: WordCache.Storage? = nil
        var twoChars: [(key: UInt32, id: Int32)] = []
        let symIds = UnsafeMutablePointer<Int32>.allocate(capacity: 16), symEnds = UnsafeMutablePointer<Int32>.allocate(capacity: 16)
        defer { symIds.deallocate(); symEnds.deallocate(); byteIds?.deallocate() }
        if !model.options.ignoreMerges && PieceMemo.mergesBytes(model) {
            let words = (idLimit &+ 63) &>> 6
            selfBits = .allocate(capacity: words)
            selfBits!.initialize(repeating: 0, count: words)
            byteIds = .allocate(capacity: 256)
            byteIds!.initialize(from: model.byteIds, count: 256)
            pairMemo = WordCache.Storage(full: true)
        }
        let arenaEnd = table.arenaCount
        for e in 0..<n {
            let len = Int(buf.lengths[e])
            guard len >= 1, len <= 16, keep.isEmpty || keep[e] else { continue }
            let id = UInt64(UInt32(bitPattern: buf.values[e]))
            let start = Int(buf.starts[e])
            var w0: UInt64, w1: UInt64
            if start &+ 16 <= arenaEnd {
                let raw = UnsafeRawPointer(buf.arena + start)
                w0 = raw.loadUnaligned(as: UInt64.self) & masks[2 &* len]
                w1 = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & masks[2 &* len &+ 1]
            } else {
                (w0, w1) = PieceMemo.loadTail(buf.arena + start, len)
            }
            if len <= 2 { bytePairs[Self.smallIndex(w0, len)] = Int32(truncatingIfNeeded: id) }
            if len == 3, let k = Self.char3Index(w0) { char3[k] = Int32(truncatingIfNeeded: id) }
            if len == 6, let k1 = Self.char3Index(w0), let k2 = Self.char3Index(w0 &>> 24) {
                twoChars.append((UInt32(k1 &<< 16 | k2), Int32(truncatingIfNeeded: id)))
            }
            let h = PieceMemo.hash(w0, w1)
            filter[Self.filterWord(h)] |= Self.filterBit(h)
            if len <= 12 {
                var s = Int(truncatingIfNeeded: h &>> shortShift)
                while short[2 &* s &+ 1] != 0 { s = (s &+ 1) & shortMask }
                short[2 &* s] = w0; short[2 &* s &+ 1] = w1 | UInt64(len) &<< 32 | id &<< 40
            } else {
                var s = Int(truncatingIfNeeded: h &>> longShift)
                while long[4 &* s &+ 2] != 0 { s = (s &+ 1) & longMask }
                long[4 &* s] = w0; long[4 &* s &+ 1] = w1; long[4 &* s &+ 2] = UInt64(len) | id &<< 32
            }
            if let selfBits, let byteIds, let pairMemo,
               model.mergeBytes(buf.arena + start, len, byteIds: byteIds, ids: symIds, ends: symEnds, memo: pairMemo) == 1,
               symIds[0] == Int32(truncatingIfNeeded: id) {
                selfBits[Int(id) &>> 6] |= 1 &<< (id & 63)
            }
        }
        selfEncoded = selfBits
        var pairCap = 64
        while pairCap < 2 &* twoChars.count { pairCap &<<= 1 }
        charPairMask = pairCap &- 1
        charPairs = .allocate(capacity: pairCap)
        charPairs.initialize(repeating: 0, count: pairCap)
        for (key, id) in twoChars {
            var s = Self.charPairSlot(key, charPairMask)
            while charPairs[s] != 0 { s = (s &+ 1) & charPairMask }
            charPairs[s] = UInt64(key) &<< 32 | 1 &<< 31 | UInt64(UInt32(bitPattern: id))
        }
    }

    /// Where `bytePairs` holds the token of 1 or 2 bytes (`n`) whose word is `w` (the bytes after them are
    /// ignored).
    @inline(__always) static func smallIndex(_ w: UInt64, _ n: Int) -> Int {
        let x = Int(truncatingIfNeeded: w & 0xFFFF)
        return n == 2 ? x : 1 << 16 | x & 0xFF
    }

    @inline(__always) static func charPairSlot(_ key: UInt32, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) &>> 40) & mask
    }

    /// The id of the token that is the 3-byte characters `c1` then `c2` (each its bytes in the low 24 bits
    /// of a little-endian word, a lead E0–EF and two continuation bytes), or -1.
    @inline(__always) func charPair(_ c1: UInt32, _ c2: UInt32) -> Int32 {
        let key = UInt32(truncatingIfNeeded: Self.char3Bits(c1) &<< 16 | Self.char3Bits(c2))
        var s = Self.charPairSlot(key, charPairMask)
        while true {
            let x = charPairs[s]
            if x &>> 32 == UInt64(key) && x != 0 { return Int32(truncatingIfNeeded: x & 0x7FFF_FFFF) }
            if x == 0 { return -1 }
            s = (s &+ 1) & charPairMask
        }
    }

    deinit {
        free(short); free(long); masks.deallocate(); bytePairs.deallocate(); filter.deallocate(); selfEncoded?.deallocate()
        char3.deallocate(); charPairs.deallocate()
    }

    /// For three bytes (the low 24 bits of `w`) that are a lead E0–EF and two continuation bytes, the 16 bits
    /// they are free to vary in (one index per such byte string, so the table is exact even for overlong or
    /// surrogate forms); else nil.
    @inline(__always) static func char3Index(_ w: UInt64) -> Int? {
        guard w & 0xC0C0F0 == 0x8080E0 else { return nil }
        return Int(truncatingIfNeeded: char3Bits(UInt32(truncatingIfNeeded: w)))
    }

    /// `char3Index` of a character already known to be a lead E0–EF and two continuation bytes.
    @inline(__always) static func char3Bits(_ c: UInt32) -> UInt32 {
        (c & 0x0F) &<< 12 | (c &>> 8 & 0x3F) &<< 6 | (c &>> 16 & 0x3F)
    }

    /// `words` zeroed words on transparent huge pages (`hugeAllocate`): nearly every piece probes these
    /// 4–8 MB at random, and with 4 KiB pages each probe also walked the page tables (a VM makes that walk
    /// dearer still). Freed with `free`.
    static func allocateHuge(words: Int) -> UnsafeMutablePointer<UInt64> {
        let p = hugeAllocate(UInt64.self, words)
        p.initialize(repeating: 0, count: words)
        return p
    }

    @inline(__always) static func filterWord(_ h: UInt64) -> Int {
        Int(truncatingIfNeeded: h &>> 6) & ((1 << (filterBits &- 6)) &- 1)
    }

    @inline(__always) static func filterBit(_ h: UInt64) -> UInt64 { 1 &<< (h & 63) }

    /// `WholeTokenProbe.find`.
    @inline(__always)
    func find(_ w0: UInt64, _ w1: UInt64, _ n: Int, hash h: UInt64) -> Int { probe.find(w0, w1, n, hash: h) }

    /// `WholeTokenProbe.prefetchShort`.
    @inline(__always) func prefetchShort(_ h: UInt64) { probe.prefetchShort(h) }

    /// Bytes held (both tables).
    var footprint: Int {
        (shortMask &+ 1) &* 16 &+ (longMask &+ 1) &* 32 &+ 4 &* (1 << 16 | 256) &+ 4 << 16 &+ 1 << (Self.filterBits &- 3) &+ (charPairMask &+ 1) &* 8
    }
}

/// `WholeTokenTable`'s two linear-probing tables (see there), by value.
struct WholeTokenProbe: @unchecked Sendable {
    let short: UnsafeMutablePointer<UInt64>
    let shortShift: UInt64
    let shortMask: Int
    let long: UnsafeMutablePointer<UInt64>
    let longShift: UInt64
    let longMask: Int

    /// Starts loading the slot where `find` will begin for a key of `n` bytes with hash `h`.
    @inline(__always) func prefetch(n: Int, hash h: UInt64) {
        if n <= 12 {
            prefetchShort(h)
        } else {
            glossa_prefetch(long + 4 &* Int(truncatingIfNeeded: h &>> longShift))
        }
    }

    /// The id of the token whose bytes are the piece's (`w0`, `w1` masked to its `n` bytes, `h` their
    /// `PieceMemo.hash`), or -1.
    @inline(__always)
    func find(_ w0: UInt64, _ w1: UInt64, _ n: Int, hash h: UInt64) -> Int {
        if n <= 12 {
            let key1 = w1 | UInt64(truncatingIfNeeded: n) &<< 32
            var s = Int(truncatingIfNeeded: h &>> shortShift)
            while true {
                let k1 = short[2 &* s &+ 1]
                if k1 & 0xFF_FFFF_FFFF == key1 && short[2 &* s] == w0 { return Int(truncatingIfNeeded: k1 &>> 40) }
                if k1 == 0 { return -1 }
                s = (s &+ 1) & shortMask
            }
        }
        var s = Int(truncatingIfNeeded: h &>> longShift)
        while true {
            let e = long + 4 &* s
            let m = e[2]
            if m & 0xFF == UInt64(truncatingIfNeeded: n) && e[0] == w0 && e[1] == w1 {
                return Int(truncatingIfNeeded: m &>> 32)
            }
            if m == 0 { return -1 }
            s = (s &+ 1) & longMask
        }
    }

    /// A cache prefetch of the slot where `find` starts for a key of at most 12 bytes with hash `h`.
    @inline(__always) func prefetchShort(_ h: UInt64) {
        glossa_prefetch(short + 2 &* Int(truncatingIfNeeded: h &>> shortShift))
    }
}

/// Builds a model's `WholeTokenTable` once: on another core right after loading (`IdsPath.prepareInBackground`)
/// or on the first ids-only encode, whichever comes first; never on the loading thread. Encodes that come
/// while another thread builds it go on without it (the table only saves work; the ids are the same).
final class LazyWholeTokens: Sendable {
    private let once = BuildOnce<WholeTokenTable>()

    /// The table (building it here when nobody has started), and whether that answer is final: `ready`
    /// is false while another thread builds it.
    func get(_ model: BPEModel) -> (table: WholeTokenTable?, ready: Bool) {
        let (t, ready) = once.get { WholeTokenTable(model) }
        return (t, ready)
    }

    /// The table once built (waiting for another thread's build): for tests.
    func waitForTable(_ model: BPEModel) -> WholeTokenTable? {
        while true {
            let (t, ready) = get(model)
            if ready { return t }
            usleep(100)
        }
    }

    /// Tests: behave as if another thread were still building the table.
    func holdAsBuilding() { once.holdAsBuilding() }
}

extension WholeTokenTable {
    /// The merge loop of rank files (two symbols merge when their concatenation is a token, lowest id first,
    /// leftmost on ties: `BPEModel.mergeQuadratic` under `.concatenation(nil)`) for a piece of 1…16 bytes
    /// whose bytes are the masked words (`w0`, `w1`), when this table is `complete`. Two adjacent symbols
    /// concatenate to a substring of the piece, so a pair's rank is one probe here for that substring,
    /// shifted out of the piece's words: no byte copies and no hash of arena bytes, where the general
    /// pair lookup costs a copy, a byte hash and a `memcmp`. Writes the ids to `ids`; returns their count.
    /// `notToken` says the caller knows the piece is no token (it missed this table): then two symbols left
    /// are the result, without the probe of their pair, the whole piece (most English misses end as two).
    @inline(__always)
    func mergeByRank(_ w0: UInt64, _ w1: UInt64, _ n: Int, byteIds: UnsafePointer<Int32>, ids: UnsafeMutablePointer<Int32>,
                     bounds: UnsafeMutablePointer<Int32>, ranks: UnsafeMutablePointer<Int32>, notToken: Bool = false) -> Int {
        let v = UInt128(w1) &<< 64 | UInt128(w0)
        @inline(__always) func words(_ i: Int) -> (UInt64, UInt64) {
            let x = v &>> UInt128(truncatingIfNeeded: 8 &* i)
            return (UInt64(truncatingIfNeeded: x), UInt64(truncatingIfNeeded: x &>> 64))
        }
        prefetchSubstrings(n, words: words)
        // The bytes shifted out of the two words by constant shifts; each pair's rank from `bytePairs`.
        var x = w0, y = w1
        var b = Int(truncatingIfNeeded: x & 0xFF)
        ids[0] = byteIds[b]
        bounds[0] = 0
        var i = 1
        while i < n {
            x = x &>> 8 | y &<< 56; y &>>= 8
            let c = Int(truncatingIfNeeded: x & 0xFF)
            ids[i] = byteIds[c]
            bounds[i] = Int32(truncatingIfNeeded: i)
            ranks[i &- 1] = bytePairs[b | c &<< 8]
            b = c
            i &+= 1
        }
        bounds[n] = Int32(truncatingIfNeeded: n)
        return mergeLoop(n, words: words, longRank: { _, _ in .max }, ids: ids, bounds: bounds, ranks: ranks, notToken: notToken)
    }

    /// `mergeByRank` for a piece of 17…`longMergeMax` bytes at `p` (pieces the backtracking encoder declines:
    /// Llama 3's words in which a token that its merges form out of rank order occurs). Substrings of up to 16
    /// bytes are probed here from a zero-padded copy; longer ones (rare merges) through `longRank`, the
    /// model's own lookup. Where the general path's heap and byte-table lookups took ≈ 8 µs a piece.
    func mergeByRank(_ p: UnsafePointer<UInt8>, _ n: Int, byteIds: UnsafePointer<Int32>, ids: UnsafeMutablePointer<Int32>,
                     bounds: UnsafeMutablePointer<Int32>, ranks: UnsafeMutablePointer<Int32>, notToken: Bool,
                     longRank: (UnsafePointer<UInt8>, Int) -> Int32) -> Int {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.longMergeMax &+ 16) { copy in
            let q = copy.baseAddress!
            q.initialize(from: p, count: n)
            (q + n).initialize(repeating: 0, count: Self.longMergeMax &+ 16 &- n)
            @inline(__always) func words(_ i: Int) -> (UInt64, UInt64) {
                (UnsafeRawPointer(q + i).loadUnaligned(as: UInt64.self), UnsafeRawPointer(q + (i &+ 8)).loadUnaligned(as: UInt64.self))
            }
            prefetchSubstrings(n, words: words)
            var b = Int(q[0])
            ids[0] = byteIds[b]
            bounds[0] = 0
            for i in 1..<n {
                let c = Int(q[i])
                ids[i] = byteIds[c]
                bounds[i] = Int32(truncatingIfNeeded: i)
                ranks[i &- 1] = bytePairs[b | c &<< 8]
                b = c
            }
            bounds[n] = Int32(truncatingIfNeeded: n)
            return mergeLoop(n, words: words, longRank: { i, len in longRank(p + i, len) }, ids: ids, bounds: bounds, ranks: ranks,
                             notToken: notToken)
        }
    }

    /// The longest piece the second `mergeByRank` takes.
    static let longMergeMax = 64

    /// Both `mergeByRank`s, before their symbols are set up: the table slot of every substring of 3–8 bytes
    /// (`words(i)`: the 16 bytes from i, masked here to the substring) is fetched now (without the filter: its load and
    /// branch cost more than the fetches of non-tokens): the probes after each merge then find it in the cache,
    /// where each waited on the previous merge's probe. Longer substrings are probed late and seldom, and
    /// fetching them all cost more than it saved (perf, o200k, English).
    @inline(__always)
    private func prefetchSubstrings(_ n: Int, words: (Int) -> (UInt64, UInt64)) {
        guard n >= 4 else { return }
        let masks = self.masks
        var i = 0
        while i &+ 3 <= n {
            let (lo0, hi0) = words(i)
            var len = 3
            while i &+ len <= n && len <= 8 {
                prefetchShort(PieceMemo.hash(lo0 & masks[2 &* len], hi0 & masks[2 &* len &+ 1]))
                len &+= 1
            }
            i &+= 1
        }
    }

    /// Both `mergeByRank`s' merges once the `n` symbols (bytes) and their pairs' ranks are set up: `words` as
    /// above, `longRank` the rank of a substring longer than 16 bytes.
    @inline(__always)
    private func mergeLoop(_ n: Int, words: (Int) -> (UInt64, UInt64), longRank: (Int, Int) -> Int32,
                           ids: UnsafeMutablePointer<Int32>, bounds: UnsafeMutablePointer<Int32>, ranks: UnsafeMutablePointer<Int32>,
                           notToken: Bool) -> Int {
        let masks = self.masks
        @inline(__always) func rank(_ i: Int32, _ j: Int32) -> Int32 {
            let len = Int(truncatingIfNeeded: j &- i)
            if len > 16 { return longRank(Int(i), len) }
            let (w0, w1) = words(Int(i))
            let lo = w0 & masks[2 &* len], hi = w1 & masks[2 &* len &+ 1]
            let h = PieceMemo.hash(lo, hi)
            if filter[Self.filterWord(h)] & Self.filterBit(h) == 0 { return .max }
            let id = find(lo, hi, len, hash: h)
            return id < 0 ? .max : Int32(truncatingIfNeeded: id)
        }
        var m = n
        if m < 2 || m == 2 && notToken { return m }
        while true {
            var best = Int32.max, at = -1
            var i = 0
            while i < m &- 1 {
                if ranks[i] < best { best = ranks[i]; at = i }
                i &+= 1
            }
            if at < 0 { break }
            ids[at] = best
            var j = at &+ 1
            while j < m &- 1 { ids[j] = ids[j &+ 1]; j &+= 1 }
            j = at &+ 1
            while j < m { bounds[j] = bounds[j &+ 1]; j &+= 1 }
            j = at &+ 1
            while j < m &- 2 { ranks[j] = ranks[j &+ 1]; j &+= 1 }
            m &-= 1
            if m == 2 && notToken { break }
            if at < m &- 1 { ranks[at] = rank(bounds[at], bounds[at &+ 2]) }
            if at > 0 { ranks[at &- 1] = rank(bounds[at &- 1], bounds[at &+ 1]) }
        }
        return m
    }
}

/// Room for `count` values (uninitialized), freed with `free`. From 1 MiB on: 2 MiB-aligned, rounded up to
/// whole 2 MiB pages and marked for transparent huge pages, for tables probed at random, where 4 KiB pages
/// add a page walk to many probes (a VM's nested walk at that). Without huge pages it is plain memory.
func hugeAllocate<T>(_: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
    let huge = 1 << 21
    var bytes = max(count &* MemoryLayout<T>.stride, 1)
    let large = bytes >= 1 << 20
    if large { bytes = (bytes &+ huge &- 1) & ~(huge &- 1) }
    var raw: UnsafeMutableRawPointer?
    guard posix_memalign(&raw, large ? huge : 64, bytes) == 0, let raw else { fatalError("out of memory (\(bytes) bytes)") }
    if large { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
    return raw.bindMemory(to: T.self, capacity: count)
}
