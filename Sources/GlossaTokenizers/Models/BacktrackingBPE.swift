import CPrefetch
import CUTF8
import Glibc
/// Byte-pair encoding of rank files (tiktoken semantics: two symbols merge when their concatenation
/// is a token, ranked by id) without a merge loop: the backtracking encoder of rs-bpe
/// (github.com/github/rust-gems, crate `bpe`). It walks the piece left to right taking the longest
/// token that can follow the previous one, falling back to shorter prefixes and, rarely, backing up.
/// "Can follow" (`validPair`) replays the two tokens' merge trees against each other, so the cost per
/// token is small and independent of the piece length: long CJK pieces and adversarial runs that the
/// heap BPE takes in O(n log n), with cache misses, become near-linear.
///
/// Built from the vocabulary once the model has merged enough long pieces without it (`LazyBacktracker`);
/// immutable afterwards and shared by threads.
final class BacktrackingBPE: @unchecked Sendable {
    /// Keeps the key bytes alive (the table is the model's own, never modified).
    private let table: ByteTableBuffer
    let tokenCount: Int
    /// Per token, one 16-byte record (one cache line per token touched, where four arrays took up to
    /// four): [length, next prefix, split left, split right]. Next prefix: the longest reachable token
    /// that is a proper prefix, or -1. Split: the last merge that builds a reachable token from its own
    /// bytes; a single byte is its own split (left == right == id), an unreachable token has -1.
    private let info: UnsafeMutablePointer<Int32>
    /// (left, right) → id for those canonical merges only.
    private let pairs: PackedMerges
    /// Two bits per hashed pair of `pairs` in one word (at most four merges a word; `filterBits`): most
    /// pairs checked are not merges, and this rejects them without a probe of the multi-MB table. One
    /// bit let ~6 % of them through, each a cache miss in that table (a fifth of the encoder's time on
    /// random letters with o200k); two let ~1.4 %. The words are in regions by the two bytes around the
    /// merge's boundary (`filterRegion`): every pair that one check probes spans the same boundary of the
    /// text, so text in one script probes only its own script's regions (o200k: 36 KB between Cyrillic
    /// characters, 277 KB between a–z) where one table over all merges spread its probes over 512 KB.
    private let pairFilter: UnsafeMutablePointer<UInt64>
    /// Per boundary (the left token's last byte << 8 | the right token's first byte): its region of
    /// `pairFilter` as first word << 5 | log2 of its words; 0 (word 0, always zero) where no merge of the
    /// filter spans it (merges of two bytes are in `pairs.low`).
    private let filterRegion: UnsafeMutablePointer<UInt32>
    /// The token of each byte.
    private let rootChild: UnsafeMutablePointer<Int32>
    /// Trie of all tokens as a double array laid out depth first: the child of the node in cell c by
    /// byte b is in cell base(c) + b when that cell's check is c. A cell is one word, check (22 bits)
    /// << 42 | base (22 bits) << 20 | the token that ends there (20 bits, `noToken` if none): a step of
    /// the walk is one load, and its token needs none (a separate token array was one more dependent
    /// load per walk). Siblings share cache lines, where a hash table of edges missed the cache on nearly
    /// every step (58 % of the encoder's time on random letters), and each node's children come right
    /// after the subtrees of its earlier siblings, so a walk deep into one word's tokens stays in nearby
    /// lines (see `doubleArray`).
    private let cells: UnsafeMutablePointer<UInt64>
    /// Per two-byte prefix (b0 << 8 | b1): its cell's word with the check replaced by the cell itself
    /// (`noCell`, base 0 and `noToken` if no token starts so), so that a walk reads the third byte's
    /// cell right after it: two dependent loads to the third byte, where the prefix's own cell made three.
    private let rootPair: UnsafeMutablePointer<UInt64>
    static let noToken: UInt64 = 0xF_FFFF
    static let noCell = 0x3F_FFFF
    @inline(__always) static func check(_ x: UInt64) -> Int { Int(truncatingIfNeeded: x &>> 42) }
    @inline(__always) static func base(_ x: UInt64) -> Int { Int(truncatingIfNeeded: x &>> 20) & noCell }
    /// The token of a cell word, or -1.
    @inline(__always) static func token(_ x: UInt64) -> Int32 {
        x & noToken == noToken ? -1 : Int32(truncatingIfNeeded: x & noToken)
    }
    /// Only when some tokens are unreachable (see `init`): bits of their two-byte prefixes (65536) and of
    /// their ids.
    private let avoidPrefix: UnsafeMutablePointer<UInt64>?
    private let avoidToken: UnsafeMutablePointer<UInt64>?
    /// The length of the shortest unreachable token (Llama 3: 4, so no CJK character is one).
    private let avoidShortest: Int
    /// Only when some unreachable tokens are formed by the merge loop (the scanned ones): bits of their
    /// two-byte prefixes, for `containsAvoided`.
    private let scanPrefix: UnsafeMutablePointer<UInt64>?
    /// When every scanned token has four bytes or more (Llama 3's shortest has four): a bit per hashed
    /// `gramLength` bytes at offsets 0 and 1 of those longer than that (`gramBit`, 65536 bits), and of three
    /// bytes at offsets 0 and 1 of the others (`tripleBit`; nil when there are none); else nil.
    private let avoidGrams: UnsafeMutablePointer<UInt64>?
    private let avoidTriples: UnsafeMutablePointer<UInt64>?
    /// With `avoidGrams`, on machines with SSSE3: the nibble tables of the scanned tokens' first three bytes
    /// (`glossa_triple_candidates64`, 8 buckets of neighbouring triples), which pick the positions that the
    /// gram test then sees; else nil (the gram test at every other position).
    private let scanNibbles: UnsafeMutablePointer<UInt8>?
    static let gramLength = 6
    /// Unreachable tokens that the merge loop never forms (the skipped ones): their cells hold no token, so
    /// walks pass over them; a bit per such cell (for `isAvoidedToken`), a bit per hashed key (`keyBit`: the
    /// first `keyMax` bytes, or all of a shorter token) and per length (all below 64 bytes), so that a piece
    /// that is one is declined (tiktoken takes it as it is).
    private let skippedCells: UnsafeMutablePointer<UInt64>?
    private let skippedKeys: UnsafeMutablePointer<UInt64>?
    private let skippedLengths: UInt64
    static let keyMax = 8
    /// Character pairs that some token spans (`partEnd`): a bit per hashed (c1, c2) for tokens that
    /// hold both characters whole; for tokens that hold only a byte of either, a bit per hashed key
    /// (`spanPartialBits` bits) behind a bit per (last byte of c1, lead byte of c2) that gates the probes
    /// (`spanPartialGate` words on): a few hundred such tokens, so CJK boundaries rarely pass the gate.
    private let spanFull: UnsafeMutablePointer<UInt64>
    private let spanFullShift: UInt64
    private let spanPartial: UnsafeMutablePointer<UInt64>
    private static let spanPartialBits = 15
    private static let spanPartialGate = 1 << (spanPartialBits - 6)
    /// Every id below 256 is a single byte (rank files): a pair check that reaches two of them and finds
    /// no merge between them is over (`validPair`), where the merge trees would be climbed once more.
    private let lowAreBytes: Bool

    /// nil unless every byte is a token and `lookup` holds id i at entry i (what rank files give).
    init?(lookup: ByteTable, byteIds: [Int32]) {
        guard byteIds.count == 256, !byteIds.contains(where: { $0 < 0 }) else { return nil }
        let buf = lookup.buffer
        let n = lookup.entryCount
        table = buf
        tokenCount = n
        // Only entries that the lookup finds as themselves are tokens (holes and repeated keys are not);
        // a rank file indexes every entry, which spares the hash lookups.
        let allIndexed = lookup.count == n
        var indexed = [Bool](repeating: false, count: n)
        for t in 0..<n {
            let len = Int(buf.lengths[t])
            guard len > 0, buf.values[t] == Int32(t) else { continue }
            if !allIndexed {
                let p = UnsafePointer(buf.arena + Int(buf.starts[t]))
                guard buf.lookupEntry(p, len, hash: hashBytes(p, len)) == t else { continue }
            }
            indexed[t] = true
        }
        for b in 0..<256 where !indexed[Int(byteIds[b])] || buf.lengths[Int(byteIds[b])] != 1 { return nil }
        (spanFull, spanFullShift, spanPartial) = Self.spanTables(buf, indexed)
        // Packed merges and trie cells hold an id in 20 bits (cells: below `noToken`).
        guard n < 1 << 20 else { return nil }

        // Trie over all tokens (prefix chains need the unreachable ones too, as in rs-bpe).
        guard let trie = Self.doubleArray(buf, indexed) else { return nil }
        rootChild = .allocate(capacity: 256)
        rootChild.initialize(from: trie.rootChild, count: 256)
        // Longest token (any) that is a proper prefix of each token.
        let prefixAll = trie.prefixAll
        // [length, next prefix, split left, split right] per token. This table, the trie's and the pair
        // table are read at random and live on huge pages (`hugeAllocate`): on 4 KiB pages, random letters
        // took ≈ 1.25× as long with o200k (page walks, nested in a VM).
        info = hugeAllocate(Int32.self, n &* 4)
        for t in 0..<n {
            info[4 &* t] = indexed[t] ? buf.lengths[t] : 0
            info[4 &* t &+ 1] = -1; info[4 &* t &+ 2] = -1; info[4 &* t &+ 3] = -1
        }
        // Reverse-engineer each token's last merge in rank order (rs-bpe's `from_dictionary`): the
        // longest prefix token whose remainder is a token, both of lower rank, that BPE keeps apart.
        let pt = PackedMerges(capacity: n)
        var lowAreBytes = true
        for t in 0..<min(n, 256) where !indexed[t] || buf.lengths[t] != 1 { lowAreBytes = false }
        self.lowAreBytes = lowAreBytes
        // While building, a filter of all merges so far in one region of 2^16 words (512 KB): the pair checks
        // below probe the multi-MB table only for pairs that pass it (the build's checks, each a cache miss in
        // that table, took longer than the trie).
        let buildFilter = UnsafeMutablePointer<UInt64>.allocate(capacity: 1 << 16)
        buildFilter.initialize(repeating: 0, count: 1 << 16)
        defer { buildFilter.deallocate() }
        let buildRegion: UInt32 = 16
        var reachable = [Bool](repeating: false, count: n)
        let firstRight = Self.rightParts(buf, lookup.view, prefixAll, indexed)
        for t in 0..<n where indexed[t] {
            let p = buf.arena + Int(buf.starts[t])
            let len = Int(buf.lengths[t])
            if len == 1 {
                info[4 &* t &+ 2] = Int32(t); info[4 &* t &+ 3] = Int32(t); reachable[t] = true
                continue
            }
            var left = prefixAll[t]
            while left >= 0 {
                if Int(left) < t && reachable[Int(left)] {
                    let ll = Int(buf.lengths[Int(left)])
                    let right = left == prefixAll[t] ? firstRight[t] : lookup.find(p + ll, len &- ll)
                    if right >= 0 && Int(right) < t && reachable[Int(right)]
                        && Self.validPair(left, right, pt, buildFilter, buildRegion, info, lowAreBytes) {
                        info[4 &* t &+ 2] = left; info[4 &* t &+ 3] = right; reachable[t] = true
                        pt.insert(left, right, merged: Int32(t))
                        let h = PackedMerges.hash(left, right)
                        buildFilter[Self.filterWord(h, buildRegion)] |= Self.filterBits(h)
                        break
                    }
                }
                left = prefixAll[Int(left)]
            }
        }
        pairs = pt
        let records = info
        let filtered = (0..<n).filter { Self.inFilter($0, records, buf) }
        var perBoundary = [Int](repeating: 0, count: 65536)
        for t in filtered { perBoundary[Self.boundary(t, records, buf)] &+= 1 }
        filterRegion = .allocate(capacity: 65536)
        var words = 1
        for k in 0..<65536 {
            let m = perBoundary[k]
            if m == 0 { filterRegion[k] = 0; continue }
            // At most four merges a word; fewer than 2^20 merges keep the offsets within 27 bits.
            var lg = 0
            while 4 &<< lg < m { lg &+= 1 }
            filterRegion[k] = UInt32(words) &<< 5 | UInt32(lg)
            words &+= 1 &<< lg
        }
        pairFilter = hugeAllocate(UInt64.self, words)
        pairFilter.initialize(repeating: 0, count: words)
        for t in filtered {
            let h = PackedMerges.hash(records[4 &* t &+ 2], records[4 &* t &+ 3])
            pairFilter[Self.filterWord(h, filterRegion[Self.boundary(t, records, buf)])] |= Self.filterBits(h)
        }
        cells = trie.cells
        let cellCount = trie.count
        rootPair = hugeAllocate(UInt64.self, 65536)
        for b0 in 0..<256 {
            // Root children are cells 1 + b (the root, cell 0, has base 1).
            let c1 = 1 &+ b0
            let base = Self.base(cells[c1])
            for b1 in 0..<256 {
                let c = base &+ b1
                rootPair[b0 &<< 8 | b1] = Self.check(cells[c]) == c1
                    ? UInt64(c) &<< 42 | cells[c] & (1 &<< 42 &- 1)
                    : UInt64(Self.noCell) &<< 42 | Self.noToken
            }
        }
        for t in 0..<n where indexed[t] {
            var q = prefixAll[t]
            while q >= 0 && !reachable[Int(q)] { q = prefixAll[Int(q)] }
            info[4 &* t &+ 1] = q
        }
        // A token that BPE cannot build from its own bytes by merges in rank order means the ranks are
        // not those of one BPE training run (Llama 3 appended 28k tokens to cl100k's, ~700 of them
        // unreachable): merges then need not come in rank order, which the pair check assumes. The
        // reachable tokens alone are such a run, and BPE of a piece in which no unreachable token
        // occurs never forms one (every symbol is a substring of the piece), so its merges are those
        // of that run. cl100k and o200k have none.
        // Most unreachable tokens (Llama 3: 588 of 695) are never formed by the merge loop from their own
        // bytes, and then in no piece either: until a merge crosses the token's span, the symbols inside it
        // evolve as they do alone, and after one no symbol starts or ends at that edge. Removing such a token
        // changes no step of the merge loop (it is never the lowest-ranked pair), so BPE of any piece is that
        // of the vocabulary without them: the walks skip their cells, and pieces that hold one are served.
        // The others (formed, by merges out of rank order: " ради") make the encoder decline the pieces in
        // which one occurs (`containsAvoided`), as all unreachable tokens did before.
        var scanned: [Int] = [], skipped: [Int] = []
        for t in 0..<n where indexed[t] && !reachable[t] {
            if Self.mergesToOne(buf.arena + Int(buf.starts[t]), Int(buf.lengths[t]), lookup) { scanned.append(t) } else { skipped.append(t) }
        }
        // The whole-piece test below holds lengths below 64 only; beyond, all are scanned for.
        if skipped.contains(where: { buf.lengths[$0] >= 64 }) { scanned += skipped; skipped = [] }
        if scanned.isEmpty && skipped.isEmpty {
            avoidPrefix = nil; avoidToken = nil; avoidShortest = .max; scanPrefix = nil; avoidGrams = nil; avoidTriples = nil
            scanNibbles = nil
            skippedCells = nil; skippedKeys = nil; skippedLengths = 0
            return
        }
        func bits(_ count: Int) -> UnsafeMutablePointer<UInt64> {
            let b = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
            b.initialize(repeating: 0, count: count)
            return b
        }
        @inline(__always) func set(_ b: UnsafeMutablePointer<UInt64>, _ k: Int) { b[k &>> 6] |= 1 &<< UInt64(k & 63) }
        let prefixes = bits(1024), flags = bits((n &+ 63) &>> 6)
        for t in scanned + skipped {
            // Single bytes are always reachable, so every unreachable token has two bytes at least.
            let p = buf.arena + Int(buf.starts[t])
            set(prefixes, Int(p[0]) &<< 8 | Int(p[1]))
            set(flags, t)
        }
        avoidPrefix = prefixes; avoidToken = flags
        avoidShortest = (scanned + skipped).map { Int(buf.lengths[$0]) }.min()!
        if scanned.isEmpty {
            scanPrefix = nil; avoidGrams = nil; avoidTriples = nil; scanNibbles = nil
        } else {
            let lengths = scanned.map { Int(buf.lengths[$0]) }
            let shortest = lengths.min()!
            let scan = bits(1024)
            let grams: UnsafeMutablePointer<UInt64>? = shortest >= 4 ? bits(1024) : nil
            let triples: UnsafeMutablePointer<UInt64>? = shortest >= 4 && shortest <= Self.gramLength ? bits(1024) : nil
            for t in scanned {
                let p = buf.arena + Int(buf.starts[t]), len = Int(buf.lengths[t])
                set(scan, Int(p[0]) &<< 8 | Int(p[1]))
                if let grams, len > Self.gramLength {
                    let w = Self.bytes(p, Self.gramLength &+ 1)
                    set(grams, Self.gramBit(w)); set(grams, Self.gramBit(w &>> 8))
                } else if let triples {
                    let w = UInt64(UnsafeRawPointer(p).loadUnaligned(as: UInt32.self))
                    set(triples, Self.tripleBit(w)); set(triples, Self.tripleBit(w &>> 8))
                }
            }
            scanPrefix = scan; avoidGrams = grams; avoidTriples = triples
            scanNibbles = grams != nil && glossa_triples_supported() != 0
                ? Self.nibbleTables(scanned.map { Array(UnsafeBufferPointer(start: buf.arena + Int(buf.starts[$0]), count: 3)) })
                : nil
        }
        if skipped.isEmpty {
            skippedCells = nil; skippedKeys = nil; skippedLengths = 0
        } else {
            let cellBits = bits((cellCount &+ 63) &>> 6), keys = bits(1024)
            var lengths: UInt64 = 0
            for t in skipped {
                let p = buf.arena + Int(buf.starts[t]), len = Int(buf.lengths[t])
                let cell = Self.cell(p, len, rootPair, cells)
                precondition(cell != Self.noCell && Int(Self.token(cells[cell])) == t, "trie cell of token \(t)")
                cells[cell] |= Self.noToken
                set(cellBits, cell)
                let k = min(len, Self.keyMax)
                set(keys, Self.keyBit(Self.bytes(p, k), k))
                lengths |= 1 &<< UInt64(len)
            }
            skippedCells = cellBits; skippedKeys = keys; skippedLengths = lengths
        }
    }

    /// Whether the merge loop (tiktoken's: the lowest-ranked adjacent pair whose bytes are a token, leftmost
    /// first) turns the `n` bytes at `p` into one symbol. Ranks are ids here.
    private static func mergesToOne(_ p: UnsafePointer<UInt8>, _ n: Int, _ lookup: ByteTable) -> Bool {
        // Symbol starts (and n), and the rank of each adjacent pair (Int32.max: no token); a merge looks up
        // only the two pairs it changes.
        var starts = Array(0...n)
        func rank(_ i: Int) -> Int32 {
            let id = lookup.find(p + starts[i], starts[i &+ 2] &- starts[i])
            return id >= 0 ? id : .max
        }
        var ranks = (0..<(n &- 1)).map(rank)
        while let best = ranks.min(), best != .max {
            let at = ranks.firstIndex(of: best)!
            starts.remove(at: at &+ 1)
            ranks.remove(at: at)
            if at > 0 { ranks[at &- 1] = rank(at &- 1) }
            if at < ranks.count { ranks[at] = rank(at) }
        }
        return starts.count == 2
    }

    deinit {
        free(info); free(pairFilter); filterRegion.deallocate(); free(pairs.slots); pairs.low.deallocate()
        rootChild.deallocate(); free(rootPair); free(cells)
        avoidPrefix?.deallocate(); avoidToken?.deallocate(); scanPrefix?.deallocate(); avoidGrams?.deallocate(); avoidTriples?.deallocate()
        scanNibbles?.deallocate()
        skippedCells?.deallocate(); skippedKeys?.deallocate(); spanFull.deallocate(); spanPartial.deallocate()
    }

    /// Bytes of the UTF-8 character that starts with `b`: 1 for ASCII, 2...4 for a lead byte (F8...FF
    /// count as 4), 0 for a continuation byte. Structural only (overlong forms, surrogates and F8...FF
    /// count as characters): the tables and `partEnd` read bytes the same way, which is all exactness needs.
    @inline(__always) static func charLength(_ b: UInt8) -> Int {
        Int(truncatingIfNeeded: (0x4322_0000_1111_1111 as UInt64) &>> UInt64((b &>> 4) &<< 2)) & 0xF
    }

    /// The character `p[0..<len]` as a little-endian word, or nil when its continuation bytes are not.
    @inline(__always) static func packChar(_ p: UnsafePointer<UInt8>, _ len: Int) -> UInt32? {
        var c = UInt32(p[0])
        var k = 1
        while k < len {
            if p[k] & 0xC0 != 0x80 { return nil }
            c |= UInt32(p[k]) &<< UInt32(8 &* k)
            k &+= 1
        }
        return c
    }

    @inline(__always) private static func spanFullKey(_ c1: UInt32, _ c2: UInt32) -> UInt64 {
        (UInt64(c1) &<< 32 | UInt64(c2)) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Keys of the small table: `kind` 1 when only the last byte of the left character is in the token
    /// (c1 is that byte), 2 when only the lead byte of the right one is (c2 is that byte), 3 for both.
    @inline(__always) private static func spanPartialBit(_ kind: UInt64, _ c1: UInt32, _ c2: UInt32) -> Int {
        let h = (kind &<< 60 ^ UInt64(c1) &<< 32 ^ UInt64(c2)) &* 0xC2B2_AE3D_27D4_EB4F
        return Int(truncatingIfNeeded: h &>> UInt64(64 &- spanPartialBits))
    }

    /// The tables of `partEnd`: every place inside a token where a character starts (not a
    /// continuation byte), with the characters on both sides as far as the token holds them; pairs of
    /// ASCII characters are left out (parts are cut only next to a non-ASCII character).
    private static func spanTables(_ buf: ByteTableBuffer, _ indexed: [Bool])
        -> (UnsafeMutablePointer<UInt64>, UInt64, UnsafeMutablePointer<UInt64>) {
        // Keys of whole pairs (hashes) and of partial ones (bit | gate bit << 32), in raw buffers that
        // double: `Array.append` took a third of this loop.
        var fullCap = 1 << 14, partialCap = 1 << 10, fullCount = 0, partialCount = 0
        var full = UnsafeMutablePointer<UInt64>.allocate(capacity: fullCap)
        var partial = UnsafeMutablePointer<UInt64>.allocate(capacity: partialCap)
        defer { full.deallocate(); partial.deallocate() }
        func grow(_ p: inout UnsafeMutablePointer<UInt64>, _ cap: inout Int) {
            let q = UnsafeMutablePointer<UInt64>.allocate(capacity: cap &* 2)
            q.moveInitialize(from: p, count: cap)
            p.deallocate(); p = q; cap &*= 2
        }
        for t in 0..<indexed.count where indexed[t] {
            let q = UnsafePointer(buf.arena + Int(buf.starts[t]))
            let len = Int(buf.lengths[t])
            // Most tokens are ASCII: nothing to record, and a cheap test.
            var any: UInt8 = 0
            for k in 0..<len { any |= q[k] }
            if any < 0x80 { continue }
            var j = 1
            while j < len {
                defer { j &+= 1 }
                let l2 = charLength(q[j])
                if l2 == 0 { continue }
                var a = j &- 1
                while a >= 0 && q[a] & 0xC0 == 0x80 { a &-= 1 }
                // A left character that the token does not hold whole ends in q[j - 1]; an invalid one
                // (wrong number of continuation bytes) matches no character of a piece.
                var c1 = UInt32(q[j &- 1]), leftWhole = false
                if a >= 0 {
                    guard charLength(q[a]) == j &- a, let c = packChar(q + a, j &- a) else { continue }
                    c1 = c; leftWhole = true
                }
                let avail = min(l2, len &- j)
                guard let c2whole = packChar(q + j, avail) else { continue }
                let rightWhole = avail == l2
                let c2 = rightWhole ? c2whole : UInt32(q[j])
                if leftWhole && rightWhole {
                    if c1 >= 0x80 || c2 >= 0x80 {
                        if fullCount == fullCap { grow(&full, &fullCap) }
                        full[fullCount] = spanFullKey(c1, c2); fullCount &+= 1
                    }
                } else {
                    if partialCount == partialCap { grow(&partial, &partialCap) }
                    let g = (leftWhole ? c1 &>> UInt32(8 &* (j &- a &- 1)) : c1) & 0xFF
                    partial[partialCount] = UInt64(spanPartialBit(leftWhole ? 2 : rightWhole ? 1 : 3, c1, c2))
                        | UInt64(g &<< 8 | c2 & 0xFF) &<< 32
                    partialCount &+= 1
                }
            }
        }
        // 32 bits per distinct pair (3 % false "spans"), counted as the bits set in a table of 16 per pair
        // met: o200k's Arabic and Indic tokens repeat their pairs nine times over (128 KB, not 512 KB).
        func table(_ bits: Int) -> (UnsafeMutablePointer<UInt64>, UInt64) {
            let shift = UInt64(64 &- bits.trailingZeroBitCount)
            let f = UnsafeMutablePointer<UInt64>.allocate(capacity: bits &>> 6)
            f.initialize(repeating: 0, count: bits &>> 6)
            for k in 0..<fullCount {
                let b = Int(truncatingIfNeeded: full[k] &>> shift)
                f[b &>> 6] |= 1 &<< UInt64(b & 63)
            }
            return (f, shift)
        }
        var bits = 1 << 16
        while bits < fullCount &* 16 { bits &<<= 1 }
        var (f, shift) = table(bits)
        var distinct = 0
        for w in 0..<(bits &>> 6) { distinct &+= f[w].nonzeroBitCount }
        var fewer = 1 << 16
        while fewer < distinct &* 32 { fewer &<<= 1 }
        if fewer < bits { f.deallocate(); (f, shift) = table(fewer) }
        let words = spanPartialGate &+ 1024
        let pt = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        pt.initialize(repeating: 0, count: words)
        for k in 0..<partialCount {
            let b = Int(truncatingIfNeeded: partial[k] & 0xFFFF_FFFF), g = Int(truncatingIfNeeded: partial[k] &>> 32)
            pt[b &>> 6] |= 1 &<< UInt64(b & 63)
            pt[spanPartialGate &+ g &>> 6] |= 1 &<< UInt64(g & 63)
        }
        return (f, shift, pt)
    }

    /// Whether no token can span the boundary between the characters c1 (l1 bytes) and c2 (l2 bytes).
    @inline(__always) func cuttable(_ c1: UInt32, _ l1: Int, _ c2: UInt32, _ l2: Int) -> Bool {
        if c1 | c2 < 0x80 { return false }
        let b = Int(truncatingIfNeeded: Self.spanFullKey(c1, c2) &>> spanFullShift)
        if spanFull[b &>> 6] & (1 &<< UInt64(b & 63)) != 0 { return false }
        @inline(__always) func partial(_ kind: UInt64, _ x: UInt32, _ y: UInt32) -> Bool {
            let b = Self.spanPartialBit(kind, x, y)
            return spanPartial[b &>> 6] & (1 &<< UInt64(b & 63)) != 0
        }
        let last = c1 &>> UInt32(8 &* (l1 &- 1)), lead = c2 & 0xFF
        let g = Int(truncatingIfNeeded: last &<< 8 | lead)
        if spanPartial[Self.spanPartialGate &+ g &>> 6] & (1 &<< UInt64(g & 63)) == 0 { return true }
        if l1 > 1 && partial(1, last, c2) { return false }
        if l2 > 1 && partial(2, c1, lead) { return false }
        if l1 > 1 && l2 > 1 && partial(3, last, lead) { return false }
        return true
    }

    /// Whether `p[0..<n]` is a token that the encoder avoids (unreachable, see `init`). A part that is
    /// one must not be encoded alone: its own whole-token shortcut would give it, where the piece's merges
    /// need not form it; callers then encode the piece uncut. Parts equal to other tokens are safe (a
    /// reachable token is what merging its own bytes gives), and so are parts in which an avoided
    /// token merely occurs (the encoder skips it, or declines the part and the merge loop runs).
    @inline(__always) func isAvoidedToken(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard let avoidPrefix, let avoidToken, n >= avoidShortest else { return false }
        let k = Int(p[0]) &<< 8 | Int(p[1])
        if avoidPrefix[k &>> 6] & (1 &<< UInt64(k & 63)) == 0 { return false }
        let cell = Self.cell(p, n, rootPair, cells)
        guard cell != Self.noCell else { return false }
        if let skippedCells, skippedCells[cell &>> 6] & (1 &<< UInt64(cell & 63)) != 0 { return true }
        let t = Int(Self.token(cells[cell]))
        return t >= 0 && avoidToken[t &>> 6] & (1 &<< UInt64(t & 63)) != 0
    }

    /// The trie cell of `p[0..<n]` (n ≥ 2), or `noCell` where no token starts with those bytes.
    @inline(__always)
    private static func cell(_ p: UnsafePointer<UInt8>, _ n: Int, _ rootPair: UnsafeMutablePointer<UInt64>,
                             _ cells: UnsafeMutablePointer<UInt64>) -> Int {
        var cell = check(rootPair[Int(p[0]) &<< 8 | Int(p[1])])
        var j = 2
        while cell != noCell && j < n { cell = child(cells, cell, p[j]); j &+= 1 }
        return cell
    }

    /// Whether the encoder must leave `p[0..<n]` to the merge loop: a formed unreachable token occurs in it,
    /// or it is a skipped one (whose walks would split it).
    @inline(__always) func declines(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if let scanPrefix, let avoidToken, containsAvoided(p, n, scanPrefix, avoidToken) { return true }
        if let skippedKeys, n < 64, skippedLengths &>> UInt64(n) & 1 != 0 {
            let k = min(n, Self.keyMax)
            let b = Self.keyBit(n >= 8 ? UnsafeRawPointer(p).loadUnaligned(as: UInt64.self) : Self.bytes(p, k), k)
            if skippedKeys[b &>> 6] & (1 &<< UInt64(b & 63)) != 0 { return isAvoidedToken(p, n) }
        }
        return false
    }

    /// The end of the part of `p[0..<n]` that starts at `start` (0 or the end of the previous part):
    /// parts that BPE encodes independently. BPE merges two adjacent symbols only into a token, so no
    /// symbol ever spans a position that no token spans in the piece: the encoding of the piece is the
    /// encodings of the parts between such positions, concatenated (each part sees the same merges in the
    /// same order). A part ends between two whole characters (one of them non-ASCII) that no token
    /// holds on both sides of the boundary as far as the tables tell (they err towards "spans"). Long
    /// CJK runs become parts of a character or a few, which repeat and hit the short-piece memo.
    /// A part for which `isAvoidedToken` holds must not be encoded alone. `carry` (0 at the start of a piece) passes the character that
    /// starts the next part on to the next call, which does not read it again.
    @inline(__always)
    func partEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int, carry: inout UInt64) -> Int {
        var i = start
        // The character that ends at i (length in the high word; 0: none, as after an invalid byte).
        var prev = UInt32(truncatingIfNeeded: carry), prevLen = Int(truncatingIfNeeded: carry &>> 32)
        i &+= prevLen
        while i < n {
            let l = Self.charLength(p[i])
            var c: UInt32
            if i &+ 4 <= n {
                // One load; the continuation bytes are those of a 10xxxxxx mask.
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt32.self)
                let keep = UInt32(truncatingIfNeeded: (UInt64(1) &<< UInt64(8 &* l)) &- 1)
                c = w & keep
                if l == 0 || c & (0xC0C0_C000 & keep) != 0x8080_8000 & keep { prevLen = 0; i &+= 1; continue }
            } else {
                guard l > 0, i &+ l <= n, let x = Self.packChar(p + i, l) else { prevLen = 0; i &+= 1; continue }
                c = x
            }
            if prevLen > 0 && cuttable(prev, prevLen, c, l) {
                carry = UInt64(l) &<< 32 | UInt64(c)
                return i
            }
            prev = c; prevLen = l
            i &+= l
        }
        return n
    }

    /// The first `k` bytes at `p` (k ≤ 8) as a little-endian word, higher bytes zero: keys near a piece's end.
    @inline(__always) static func bytes(_ p: UnsafePointer<UInt8>, _ k: Int) -> UInt64 {
        var w: UInt64 = 0
        for j in 0..<k { w |= UInt64(p[j]) &<< UInt64(8 &* j) }
        return w
    }

    /// The bit of `key` in a 65536-bit filter (multiply-shift), which the three below share.
    @inline(__always) static func filterBit(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> 48)
    }

    /// The bit of `gramLength` bytes (the low bytes of `w`) in `avoidGrams`.
    @inline(__always) static func gramBit(_ w: UInt64) -> Int { filterBit(w & UInt64.max &>> UInt64(64 &- 8 &* gramLength)) }

    /// The bit of three bytes (the low 24 bits of `w`) in `avoidTriples`.
    @inline(__always) static func tripleBit(_ w: UInt64) -> Int { filterBit(w & 0xFF_FFFF) }

    /// The bit of a key of `k` bytes (`w` holds them, higher bytes zero) in `skippedKeys`.
    @inline(__always) static func keyBit(_ w: UInt64, _ k: Int) -> Int { filterBit(w &+ UInt64(k)) }

    /// The tables of `glossa_triple_candidates64` for strings starting with `triples` (three bytes each): the
    /// distinct triples in byte order, cut into 8 buckets of neighbours (which share their first bytes, so
    /// that the nibbles of different triples mix little), each bucket's nibbles at each offset.
    static func nibbleTables(_ triples: [[UInt8]]) -> UnsafeMutablePointer<UInt8> {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 96)
        t.initialize(repeating: 0, count: 96)
        let distinct = Set(triples).sorted { $0.lexicographicallyPrecedes($1) }
        for (k, triple) in distinct.enumerated() {
            let bucket = UInt8(1) << UInt8(k &* 8 / max(distinct.count, 1))
            for j in 0..<3 {
                t[32 &* j &+ Int(triple[j] & 15)] |= bucket
                t[32 &* j &+ 16 &+ Int(triple[j] >> 4)] |= bucket
            }
        }
        return t
    }

    /// Whether an unreachable token that the merge loop forms (see `init`) occurs in `p[0..<n]`:
    /// a bit per two-byte prefix of such tokens, then a trie walk from the few positions that have one.
    /// With `avoidGrams`, only every other position is tested, two from each eight-byte load: a token of
    /// more than `gramLength` bytes that starts at x or x − 1 holds the `gramLength` bytes at x (x even) at
    /// its offset 0 or 1, and a shorter one (four bytes or more) the three bytes at x, so where those bytes
    /// are in no such token neither position starts one; where they are, both take the test above. A byte
    /// at a time, the scan was 17 instructions a byte (Llama 3 on a 1 MiB run of random letters: ≈ 7 % of
    /// the time). Three bytes alone passed one even position of Russian words in seven (" п" starts a dozen
    /// such tokens), and the byte-at-a-time tail of short pieces walked at most positions: with six bytes
    /// and a padded last load, the scan fell from ≈ 12 % to ≈ 6 % of Llama 3's time on Russian text.
    private func containsAvoided(_ p: UnsafePointer<UInt8>, _ n: Int,
                                 _ prefixes: UnsafeMutablePointer<UInt64>, _ flags: UnsafeMutablePointer<UInt64>) -> Bool {
        @inline(__always) func startsOne(_ i: Int) -> Bool {
            let k = Int(p[i]) &<< 8 | Int(p[i &+ 1])
            guard prefixes[k &>> 6] & (1 &<< UInt64(k & 63)) != 0 else { return false }
            var cell = Self.check(rootPair[k])
            var j = i &+ 2
            while cell != Self.noCell {
                let t = Int(Self.token(cells[cell]))
                if t >= 0 && flags[t &>> 6] & (1 &<< UInt64(t & 63)) != 0 { return true }
                if j == n { break }
                cell = Self.child(cells, cell, p[j])
                j &+= 1
            }
            return false
        }
        var i = 0
        @inline(__always) func hit(_ table: UnsafeMutablePointer<UInt64>, _ b: Int, _ j: Int) -> UInt64 {
            (table[b &>> 6] &>> UInt64(b & 63) & 1) &<< UInt64(j)
        }
        if let grams = avoidGrams, let nibbles = scanNibbles {
            // Long pieces: candidates 64 positions at a time, then the gram test at the candidate itself (offset
            // 0 of a token starting there) and the walk; the rest (short pieces: most calls) as below, where the
            // tables' loads and a padded copy of the last window cost more than they spared.
            while i &+ 66 <= n {
                var c = glossa_triple_candidates64(p + i, nibbles)
                while c != 0 {
                    let x = i &+ c.trailingZeroBitCount
                    let w = x &+ 8 <= n ? UnsafeRawPointer(p + x).loadUnaligned(as: UInt64.self) : Self.bytes(p + x, n &- x)
                    if hit(grams, Self.gramBit(w), 0) | (avoidTriples.map { hit($0, Self.tripleBit(w), 0) } ?? 0) != 0 && startsOne(x) {
                        return true
                    }
                    c &= c &- 1
                }
                i &+= 64
            }
        }
        if let grams = avoidGrams {
            // Every even x with x + 2 < n, two per eight-byte load; the last load has zeros past the end (a
            // token that would need those bytes does not fit, so what they hash to only costs a walk). In a
            // piece of eight bytes or more, the last load is the eight bytes that end the piece, shifted down
            // (the encoder's pieces: a byte loop there was two of every short piece's four loads).
            while i &+ 2 < n {
                let w = i &+ 8 <= n ? UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                    : n >= 8 ? UnsafeRawPointer(p + (n &- 8)).loadUnaligned(as: UInt64.self) &>> UInt64(8 &* (i &+ 8 &- n))
                    : Self.bytes(p + i, n &- i)
                var hits = hit(grams, Self.gramBit(w), 0) | hit(grams, Self.gramBit(w &>> 16), 2)
                if let triples = avoidTriples {
                    hits |= hit(triples, Self.tripleBit(w), 0) | hit(triples, Self.tripleBit(w &>> 16), 2)
                }
                while hits != 0 {
                    let x = i &+ hits.trailingZeroBitCount
                    if (x &+ 1 < n && startsOne(x)) || (x > 0 && startsOne(x &- 1)) { return true }
                    hits &= hits &- 1
                }
                i &+= 4
            }
            return false
        }
        while i &+ 1 < n {
            if startsOne(i) { return true }
            i &+= 1
        }
        return false
    }

    /// The child cell of `cell` by `byte` in the double array, or `noCell`.
    @inline(__always)
    private static func child(_ cells: UnsafeMutablePointer<UInt64>, _ cell: Int, _ byte: UInt8) -> Int {
        let c = base(cells[cell]) &+ Int(byte)
        return check(cells[c]) == cell ? c : noCell
    }

    /// Per token, the id of its bytes after its longest prefix token (the first split `init` tries), or -1
    /// when they are no token; looked up a batch at a time, the table slots of a batch fetched together, where
    /// lookups one after another waited for each slot in turn.
    private static func rightParts(_ buf: ByteTableBuffer, _ view: ByteTableView, _ prefixAll: [Int32],
                                   _ indexed: [Bool]) -> [Int32] {
        let n = indexed.count, batch = 32
        var right = [Int32](repeating: -1, count: n)
        var hashes = [UInt64](repeating: 0, count: batch)
        @inline(__always) func rest(_ t: Int) -> (UnsafePointer<UInt8>, Int)? {
            let l = prefixAll[t]
            guard indexed[t], l >= 0 else { return nil }
            let ll = Int(buf.lengths[Int(l)])
            return (UnsafePointer(buf.arena + (Int(buf.starts[t]) &+ ll)), Int(buf.lengths[t]) &- ll)
        }
        var t0 = 0
        while t0 < n {
            let t1 = min(n, t0 &+ batch)
            for t in t0..<t1 {
                guard let (p, m) = rest(t) else { continue }
                let h = hashBytes(p, m)
                hashes[t &- t0] = h
                glossa_prefetch(view.slots + (Int(truncatingIfNeeded: h) & view.mask))
            }
            for t in t0..<t1 {
                guard let (p, m) = rest(t) else { continue }
                let e = view.lookupEntry(p, m, hash: hashes[t &- t0])
                right[t] = e < 0 ? -1 : view.values[e]
            }
            t0 = t1
        }
        return right
    }

    /// The indexed tokens in byte order (a token before those it is a prefix of): by their first eight bytes
    /// (big-endian, zero-padded: where two such keys differ, the tokens differ first at that byte, or the shorter
    /// one ended there) with a radix sort, then runs of equal keys by all their bytes. A comparison sort of
    /// the keys took as long as the rest of the trie's build.
    private static func byteOrder(_ buf: ByteTableBuffer, _ indexed: [Bool]) -> [Int32] {
        let arena = buf.arena, starts = buf.starts, lengths = buf.lengths
        let m = indexed.reduce(0) { $0 &+ ($1 ? 1 : 0) }
        var ids = [Int32](repeating: 0, count: m)
        ids.withUnsafeMutableBufferPointer { idsBuf in
            var keys = UnsafeMutablePointer<UInt64>.allocate(capacity: m), keys2 = UnsafeMutablePointer<UInt64>.allocate(capacity: m)
            var ids1 = idsBuf.baseAddress!, ids2 = UnsafeMutablePointer<Int32>.allocate(capacity: m)
            let spare = ids2
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 8 &* 256)
            counts.initialize(repeating: 0, count: 8 &* 256)
            defer { keys.deallocate(); keys2.deallocate(); spare.deallocate(); counts.deallocate() }
            var i = 0
            for t in 0..<indexed.count where indexed[t] {
                let p = arena + Int(starts[t]), len = Int(lengths[t])
                var k: UInt64 = 0
                for j in 0..<min(len, 8) { k |= UInt64(p[j]) &<< UInt64(56 &- 8 &* j) }
                for d in 0..<8 { counts[d &<< 8 | Int(truncatingIfNeeded: k &>> UInt64(8 &* d)) & 0xFF] &+= 1 }
                keys[i] = k; ids1[i] = Int32(t); i &+= 1
            }
            // Least significant byte first, each pass stable; a byte that all keys share needs none.
            var passes = 0
            for d in 0..<8 {
                let c = counts + d &<< 8
                var sum = 0, shared = false
                for b in 0..<256 { let x = c[b]; shared = shared || x == m; c[b] = sum; sum &+= x }
                if shared { continue }
                let shift = UInt64(8 &* d)
                for j in 0..<m {
                    let b = Int(truncatingIfNeeded: keys[j] &>> shift) & 0xFF
                    let to = c[b]
                    keys2[to] = keys[j]; ids2[to] = ids1[j]
                    c[b] = to &+ 1
                }
                swap(&keys, &keys2); swap(&ids1, &ids2)
                passes &+= 1
            }
            if passes & 1 == 1 { idsBuf.baseAddress!.update(from: ids1, count: m) }
            let out = idsBuf.baseAddress!
            i = 0
            while i < m {
                var j = i &+ 1
                while j < m && keys[j] == keys[i] { j &+= 1 }
                if j &- i > 1 {
                    var run = UnsafeMutableBufferPointer(start: out + i, count: j &- i)
                    run.sort { x, y in
                        let la = Int(lengths[Int(x)]), lb = Int(lengths[Int(y)])
                        let c = memcmp(UnsafeRawPointer(arena + Int(starts[Int(x)])), UnsafeRawPointer(arena + Int(starts[Int(y)])),
                                       Swift.min(la, lb))
                        return c != 0 ? c < 0 : la < lb
                    }
                }
                i = j
            }
        }
        return ids
    }

    /// The trie of the indexed tokens as a double array (see `cells`; nil when its cells do not fit their 22
    /// bits), with each token's longest proper prefix token (`prefixAll`, -1 for none) and the token of each
    /// byte. Built from the tokens in byte order, where a node is a run of tokens that share its bytes and
    /// its children are the runs that the next byte cuts it into: no hash table of edges (that build probed
    /// a 16 MB table at random for every byte of every token, 53 ms of o200k's 164, and spent 33 ms more
    /// regrouping it here).
    /// Laid out depth first: the cells of one path are placed close together, where breadth first put each
    /// depth a whole level of the trie away from the last: a walk deep into Cyrillic or Arabic tokens missed
    /// the cache at nearly every step (o200k, `multi_nonlatin_mix`, callgrind: 219k → 156k D1 misses a
    /// repetition at the walk's load, with as many cells).
    /// Placement is first fit, but a node with several children tries only a few free cells before it
    /// goes past the last used cell (the holes it leaves are filled by single-child nodes, most of a
    /// trie): the build stays linear.
    private static func doubleArray(_ buf: ByteTableBuffer, _ indexed: [Bool])
        -> (cells: UnsafeMutablePointer<UInt64>, count: Int, prefixAll: [Int32], rootChild: [Int32])? {
        let n = indexed.count
        let arena = buf.arena, starts = buf.starts, lengths = buf.lengths
        let order = byteOrder(buf, indexed)
        let count = order.count
        // Their bytes copied in that order (`at`: where each starts): the walk reads a byte of every token at every
        // depth, which through `starts` went to a random line of the arena each time.
        let at = UnsafeMutablePointer<Int>.allocate(capacity: count &+ 1)
        at[0] = 0
        var maxLen = 0
        for i in 0..<count {
            let len = Int(lengths[Int(order[i])])
            at[i &+ 1] = at[i] &+ len
            maxLen = max(maxLen, len)
        }
        let sorted = UnsafeMutablePointer<UInt8>.allocate(capacity: at[count] &+ 1)
        for i in 0..<count { (sorted + at[i]).update(from: arena + Int(starts[Int(order[i])]), count: at[i &+ 1] &- at[i]) }
        // Nodes still to lay out, along one path (at most 255 siblings a level): tokens order[lo..<hi] share the
        // node's `depth` bytes; its cell; the longest token on the path above it.
        struct Node { var lo: Int32, hi: Int32, depth: Int32, cell: Int32, above: Int32 }
        let stack = UnsafeMutablePointer<Node>.allocate(capacity: (maxLen &+ 2) &* 256)
        // The children of the node at hand: their bytes (ascending) and where their runs start.
        let kidByte = UnsafeMutablePointer<Int>.allocate(capacity: 256), kidLo = UnsafeMutablePointer<Int>.allocate(capacity: 257)
        let free = UInt64.max
        var capacity = count &+ 1024
        var cells = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        cells.initialize(repeating: free, count: capacity)
        defer { at.deallocate(); sorted.deallocate(); stack.deallocate(); kidByte.deallocate(); kidLo.deallocate(); cells.deallocate() }
        let checkMask: UInt64 = ~(1 &<< 42 &- 1)
        var prefixAll = [Int32](repeating: -1, count: n)
        var rootChild = [Int32](repeating: -1, count: 256)
        stack[0] = Node(lo: 0, hi: Int32(count), depth: 0, cell: 0, above: -1)
        var depthOfStack = 1
        cells[0] = UInt64(noCell &- 1) &<< 42 | noToken // the root: no cell is its parent
        var firstFree = 1, frontier = 1
        while depthOfStack > 0 {
            depthOfStack &-= 1
            let v = stack[depthOfStack]
            var lo = Int(v.lo)
            let hi = Int(v.hi), d = Int(v.depth), vc = Int(v.cell)
            var above = v.above
            var token = noToken
            // A token that is the node's bytes sorts first in its run.
            if d > 0 && at[lo &+ 1] &- at[lo] == d {
                let t = order[lo]
                token = UInt64(t); prefixAll[Int(t)] = above; above = t
                lo &+= 1
            }
            var kids = 0
            var i = lo
            while i < hi {
                let b = Int(sorted[at[i] &+ d])
                kidByte[kids] = b; kidLo[kids] = i
                i &+= 1
                while i < hi && Int(sorted[at[i] &+ d]) == b { i &+= 1 }
                kids &+= 1
            }
            kidLo[kids] = hi
            var base = 0
            if kids > 0 {
                let minByte = kidByte[0]
                var f = firstFree, tries = 0
                while true {
                    if tries >= 16 && f < frontier { f = frontier }
                    if f &+ 512 > capacity {
                        guard capacity < noCell &- 1 else { return nil }
                        let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity &+ capacity / 2)
                        grown.update(from: cells, count: capacity)
                        (grown + capacity).initialize(repeating: free, count: capacity / 2)
                        cells.deallocate()
                        cells = grown; capacity &+= capacity / 2
                    }
                    if cells[f] != free { f &+= 1; tries &+= 1; continue }
                    base = f &- minByte
                    if base >= 1 {
                        var fits = true
                        for k in 0..<kids where cells[base &+ kidByte[k]] != free { fits = false; break }
                        if fits { break }
                    }
                    f &+= 1; tries &+= 1
                }
                for k in 0..<kids {
                    let c = base &+ kidByte[k]
                    frontier = max(frontier, c &+ 1)
                    cells[c] = UInt64(vc) &<< 42 | noToken
                }
                // Popped first to last: the first child's subtree is laid out right after these cells.
                for k in stride(from: kids &- 1, through: 0, by: -1) {
                    stack[depthOfStack] = Node(lo: Int32(kidLo[k]), hi: Int32(kidLo[k &+ 1]), depth: Int32(d &+ 1),
                                               cell: Int32(base &+ kidByte[k]), above: above)
                    depthOfStack &+= 1
                }
                while cells[firstFree] != free { firstFree &+= 1 }
            }
            cells[vc] = cells[vc] & checkMask | UInt64(base) &<< 20 | token
            if d == 1 { rootChild[vc &- 1] = Int32(truncatingIfNeeded: token) }
        }
        // Cell indices and bases below `noCell - 1` (the root's check and free cells' are above); the root's
        // children are cells 1 + b (`rootPair`).
        guard capacity < noCell &- 1, base(cells[0]) == 1 else { return nil }
        // On huge pages, like the other tables the walks read at random (`init`): one copy out of the working buffer.
        let laid = hugeAllocate(UInt64.self, capacity)
        laid.initialize(from: cells, count: capacity)
        return (laid, capacity, prefixAll, rootChild)
    }

    /// Whether token t's merge is one that pair checks look up in `pairs` and the filter: a reachable
    /// token (its split set) of two bytes or more whose parts are not both below 256 (those are `pairs.low`'s).
    private static func inFilter(_ t: Int, _ info: UnsafeMutablePointer<Int32>, _ buf: ByteTableBuffer) -> Bool {
        buf.lengths[t] > 1 && info[4 &* t &+ 2] >= 0 && UInt32(bitPattern: info[4 &* t &+ 2] | info[4 &* t &+ 3]) >= 256
    }

    /// The boundary of token t's merge (see `filterRegion`): the last byte of its left part << 8 | the
    /// first byte of its right part.
    private static func boundary(_ t: Int, _ info: UnsafeMutablePointer<Int32>, _ buf: ByteTableBuffer) -> Int {
        let p = buf.arena + Int(buf.starts[t]), l = Int(buf.lengths[Int(info[4 &* t &+ 2])])
        return Int(p[l &- 1]) &<< 8 | Int(p[l])
    }

    /// Tests: the merges of the filter whose two bits are not both set in their boundary's region (none
    /// when the regions are laid out right: a miss there would accept a pair that BPE merges), and
    /// whether word 0, which boundaries that no merge of the filter spans share, is still all zero.
    func filterCheck() -> (missing: Int, sharedWordZero: Bool) {
        var missing = 0
        for t in 0..<tokenCount where Self.inFilter(t, info, table) {
            let h = PackedMerges.hash(info[4 &* t &+ 2], info[4 &* t &+ 3])
            let bits = Self.filterBits(h)
            if pairFilter[Self.filterWord(h, filterRegion[Self.boundary(t, info, table)])] & bits != bits { missing &+= 1 }
        }
        return (missing, pairFilter[0] == 0)
    }

    /// The two bits of a pair with hash `h` in its filter word: the hash's top 12 bits.
    @inline(__always) static func filterBits(_ h: UInt64) -> UInt64 {
        1 &<< (h &>> 58) | 1 &<< (h &>> 52 & 63)
    }

    /// The filter word of a pair with hash `h` in the region `r` of its boundary (`filterRegion`): from
    /// the hash bits above 32, below the filter bits' 52 and up (a region has at most 2^18 words).
    @inline(__always) static func filterWord(_ h: UInt64, _ r: UInt32) -> Int {
        Int(truncatingIfNeeded: r &>> 5) &+ Int(truncatingIfNeeded: h &>> 32) & (1 &<< Int(truncatingIfNeeded: r & 31) &- 1)
    }

    /// Whether BPE of the bytes of `a` followed by `b` ends as exactly [a, b]: undo the later of
    /// the two last merges at a time and check that no merge across the boundary would come first.
    /// `filter` rejects most pairs that are not merges before the table probe, in `region`, that of the
    /// boundary between a and b (a word of ones while building); `lowAreBytes` as the property says.
    /// `noMerge`: a and b are known not to merge (no token is their bytes), so the first pair is not
    /// looked up. `aLongest`: no token that starts where `a` does is longer than `a`, so no pair (a, part
    /// of b) merges either, and none of them is looked up: the walk takes the longest token first, so
    /// this holds for most checks, and it spares a pair-filter load for every step down b's tree before a's.
    @inline(__always)
    private static func validPair(_ a0: Int32, _ b0: Int32, _ pairs: PackedMerges,
                                  _ filter: UnsafePointer<UInt64>, _ region: UInt32,
                                  _ info: UnsafeMutablePointer<Int32>, _ lowAreBytes: Bool,
                                  _ noMerge: Bool = false, aLongest: Bool = false) -> Bool {
        var a = a0, b = b0
        var limit = Int32.max
        var skip = noMerge
        if aLongest {
            // The same steps as below without lookups, until a's tree is undone once (a loop of its
            // own: a flag in the loop below cost more instructions than the lookups it spared).
            while true {
                if a > b {
                    let a2 = info[4 &* Int(a) &+ 3]
                    if a2 != a { limit = a; a = a2; break }
                    let b2 = info[4 &* Int(b) &+ 2]
                    if b2 == b { return true }
                    b = b2
                } else {
                    let b2 = info[4 &* Int(b) &+ 2]
                    if b2 == b {
                        let a2 = info[4 &* Int(a) &+ 3]
                        if a2 == a { return true }
                        limit = a; a = a2; break
                    }
                    b = b2
                }
            }
            skip = false
        }
        while true {
            if UInt32(bitPattern: a | b) < 256 {
                // Pairs of ids below 256 (the bytes, for rank files): one load from a small table.
                if !skip && pairs.low[Int(a) &<< 8 | Int(b)] < limit { return false }
                // Two single bytes: both merge trees are undone, nothing is left to check.
                if lowAreBytes { return true }
            } else if !skip {
                // One multiply serves the filter bit and the table slot.
                let h = PackedMerges.hash(a, b)
                let bits = filterBits(h)
                if filter[filterWord(h, region)] & bits == bits {
                    if pairs.merged(a, b, hash: h) < limit { return false }
                }
            }
            if a > b {
                limit = a
                let a2 = info[4 &* Int(a) &+ 3]
                if a2 == a {
                    limit = b &+ 1
                    let b2 = info[4 &* Int(b) &+ 2]
                    if b2 == b { return true }
                    b = b2
                } else {
                    a = a2
                }
            } else {
                limit = b &+ 1
                let b2 = info[4 &* Int(b) &+ 2]
                if b2 == b {
                    limit = a
                    let a2 = info[4 &* Int(a) &+ 3]
                    if a2 == a { return true }
                    a = a2
                } else {
                    b = b2
                }
            }
            skip = false
        }
    }

    /// The longest reachable token at `p[i..<n]` (i < n; single bytes always are) and its length, which
    /// the walk's depth gives without a load of the token's record.
    @inline(__always)
    private func longestMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (Int32, Int) {
        if i &+ 1 == n { return (rootChild[Int(p[i])], 1) }
        if i &+ 2 == n {
            return twoBytes(p, i, rootPair[Int(p[i]) &<< 8 | Int(p[i &+ 1])])
        }
        return longestMatch(p, i, n, walkStart(p, i))
    }

    /// The longest token among the first two bytes at `i`, from their `rootPair` word `r`.
    @inline(__always)
    private func twoBytes(_ p: UnsafePointer<UInt8>, _ i: Int, _ r: UInt64) -> (Int32, Int) {
        r & Self.noToken != Self.noToken ? (Int32(truncatingIfNeeded: r & Self.noToken), 2) : (rootChild[Int(p[i])], 1)
    }

    /// The first two loads of the walk at `i` (i + 2 < n): the two-byte prefix's `rootPair` word and
    /// the cell of the third byte (base 0 and a check that cannot match where no token starts with the
    /// two bytes). `run` issues them before a pair check whose success would start a walk at `i`, so
    /// that their cache misses overlap the check's instead of following it.
    @inline(__always)
    private func walkStart(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt64, UInt64) {
        let r = rootPair[Int(p[i]) &<< 8 | Int(p[i &+ 1])]
        return (r, cells[Self.base(r) &+ Int(p[i &+ 2])])
    }

    /// `longestMatch` for i + 2 < n, from the loads of `walkStart(p, i)`.
    @inline(__always)
    private func longestMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ start: (UInt64, UInt64)) -> (Int32, Int) {
        let (r, y0) = start
        var cell = Self.check(r)
        // The deepest token below two bytes, read from the cells on the way.
        var c = Self.base(r) &+ Int(p[i &+ 2])
        var y = y0
        var best = Self.noToken, bestEnd = 0
        var j = i &+ 2
        while Self.check(y) == cell {
            cell = c
            j &+= 1
            if y & Self.noToken != Self.noToken {
                best = y & Self.noToken; bestEnd = j
                // The pair check reads the token's record first (and the records of the shorter tokens on
                // this path as it climbs): their loads start here, while the walk goes deeper. Records were
                // two fifths of the encoder's last-level misses on `multi_nonlatin_mix` (callgrind, 4 MiB).
                glossa_prefetch(info + 4 &* Int(truncatingIfNeeded: best))
            }
            if j == n { break }
            c = Self.base(y) &+ Int(p[j])
            y = cells[c]
        }
        return best != Self.noToken ? (Int32(truncatingIfNeeded: best), bestEnd &- i) : twoBytes(p, i, r)
    }

    /// Encodes `p[0..<n]` into `s` (ids and spans, in order). Returns false, leaving `s` empty, when an
    /// unreachable token occurs in the piece or no encoding was found (which the theory rules out); the
    /// caller then runs the merge loop.
    func encode(_ p: UnsafePointer<UInt8>, _ n: Int, into s: inout BPEScratch) -> Bool {
        if declines(p, n) { return false }
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { stackBuf in
            let stack = stackBuf.baseAddress!
            let count = run(p, n, stack)
            guard count >= 0 else { return false }
            // In bulk: three appends per token (each checks the array's uniqueness and capacity) took
            // a fifth of the instructions on random letters.
            s.ids.append(contentsOf: UnsafeBufferPointer(start: stack, count: count))
            let first = s.starts.count
            s.starts.append(contentsOf: repeatElement(0, count: count))
            s.ends.append(contentsOf: repeatElement(0, count: count))
            s.starts.withUnsafeMutableBufferPointer { starts in
                s.ends.withUnsafeMutableBufferPointer { ends in
                    var at: Int32 = 0
                    for k in 0..<count {
                        let e = at &+ info[4 &* Int(stack[k])]
                        starts[first &+ k] = at; ends[first &+ k] = e
                        at = e
                    }
                }
            }
            s.count &+= count
            return true
        }
    }

    /// The ids of `p[0..<n]` written to `out` (room for n), without spans: their count, or -1 where
    /// `encode` declines. The ids-only path's long pieces: no arrays, no copies.
    func encodeIds(_ p: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<Int32>) -> Int {
        if declines(p, n) { return -1 }
        return run(p, n, out)
    }

    /// The backtracking walk: ids into `stack` (room for n); their count, or -1 if no encoding was found.
    @inline(__always)
    private func run(_ p: UnsafePointer<UInt8>, _ n: Int, _ stack: UnsafeMutablePointer<Int32>) -> Int {
        // The tables as locals: read from `self` inside the loop, they were loaded again at every pair check.
        let info = self.info, pairs = self.pairs, filter = UnsafePointer(pairFilter), filterRegion = self.filterRegion
        let lowAreBytes = self.lowAreBytes
        // One inlined copy of the check (two, one per branch, doubled the loop's code). No memo of pair
        // checks: on random letters one probe in a hundred hit it, on mixed scripts one in six, and its
        // 512 KB of probes and stores cost more than the hits saved.
        @inline(__always) func valid(_ a: Int32, _ b: Int32, at x: Int, noMerge: Bool, aLongest: Bool) -> Bool {
            Self.validPair(a, b, pairs, filter, filterRegion[Int(p[x &- 1]) &<< 8 | Int(p[x])], info, lowAreBytes, noMerge, aLongest: aLongest)
        }
        let words = (n &+ 1 &+ 63) &>> 6
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { bitsBuf in
            // bit k set: position k may still end a token of the encoding.
            let bits = bitsBuf.baseAddress!
            bits.initialize(repeating: .max, count: words)
            // `lastLen`: the length of the token on top of the stack (0 when empty).
            // `lastMax`: the longest token that starts where the top of the stack does (Int.max when not
            // known, after backing up); `nextMax`, the same where `next` starts. No token is longer, so a
            // pair of tokens longer together is no merge, and its check skips that lookup: the first pair
            // checked after a longest match (most checks) is one, and took a filter load.
            var count = 0, pos = 0, lastLen = 0, lastMax = 0
            var (next, nextLen) = longestMatch(p, 0, n)
            var nextMax = nextLen
            while next >= 0 {
                var token = next, len = nextLen
                let here = nextMax
                let last: Int32 = count > 0 ? stack[count &- 1] : -1
                while true {
                    let end = pos &+ len
                    if bits[end &>> 6] & (1 &<< UInt64(end & 63)) != 0 {
                        if last < 0 {
                            stack[count] = token; count &+= 1; pos = end; lastLen = len; lastMax = here
                            if pos < n { (next, nextLen) = longestMatch(p, pos, n) } else { next = -1 }
                            nextMax = nextLen
                            break
                        }
                        // The next walk's first loads go before the check (seven in ten pass): the trie's
                        // cache misses were a sixth of the time on random letters (o200k).
                        let ahead = end &+ 2 < n
                        let start = ahead ? walkStart(p, end) : (0, 0)
                        if valid(last, token, at: pos, noMerge: lastLen &+ len > lastMax, aLongest: lastLen == lastMax) {
                            stack[count] = token; count &+= 1; pos = end; lastLen = len; lastMax = here
                            if ahead { (next, nextLen) = longestMatch(p, pos, n, start) }
                            else if pos < n { (next, nextLen) = longestMatch(p, pos, n) } else { next = -1 }
                            nextMax = nextLen
                            break
                        }
                    }
                    let shorter = info[4 &* Int(token) &+ 1]
                    if shorter >= 0 { token = shorter; len = Int(info[4 &* Int(shorter)]); continue }
                    // No token fits here after `last`: position `pos` is a dead end; retry `last` shorter.
                    bits[pos &>> 6] &= ~(1 &<< UInt64(pos & 63))
                    next = last; nextLen = lastLen; nextMax = lastMax
                    if count > 0 {
                        count &-= 1; pos &-= lastLen
                        lastLen = count > 0 ? Int(info[4 &* Int(stack[count &- 1])]) : 0
                        lastMax = .max
                    }
                    break
                }
            }
            return pos == n ? count : -1
        }
    }
}

/// Builds a model's `BacktrackingBPE` at most once, for all threads, once the model has merged enough
/// long-piece bytes without it (its tables take tens of milliseconds, which text without many long
/// pieces should not pay, at load or later). Threads that arrive while another builds it go on merging.
final class LazyBacktracker: @unchecked Sendable {
    private let lock = Lock()
    private var merged = 0
    private let once = BuildOnce<BacktrackingBPE>()

    /// Counts `merged` more bytes merged without the encoder and builds it with `make` when the total
    /// reaches `budget`. Returns the encoder (nil until built, or when there is none) and whether that
    /// answer is final.
    func note(merged bytes: Int, budget: Int, _ make: () -> BacktrackingBPE?) -> (BacktrackingBPE?, built: Bool) {
        lock.lock()
        merged &+= bytes
        let reached = merged >= budget
        lock.unlock()
        let (e, ready) = reached ? once.get(make) : once.peek()
        return (e, ready)
    }

    /// The encoder if built, without counting.
    func peek() -> BacktrackingBPE? { once.peek().value }
}

/// Canonical merges (left, right) → merged id in 8-byte slots (left << 40 | right << 20 | merged, ids
/// below 2^20): half the bytes of `PairTable`'s 16, so twice as much of it stays in cache. At most half
/// full; inserted only while building, then read by all threads.
struct PackedMerges: @unchecked Sendable {
    let slots: UnsafeMutablePointer<UInt64>
    /// Merges of two ids below 256 are not in `slots` but here, at left << 8 | right (Int32.max where
    /// none): the byte pairs that pair checks of short tokens end on (nine in ten of the merges that
    /// random letters probe) take one load from a 26×26 block that stays in L1, not a filter bit and
    /// a probe of the multi-MB table.
    let low: UnsafeMutablePointer<Int32>
    private let mask: Int
    private let shift: UInt64

    init(capacity n: Int) {
        var cap = 1024
        while cap < 2 &* n { cap &<<= 1 }
        slots = hugeAllocate(UInt64.self, cap)
        slots.initialize(repeating: .max, count: cap)
        low = .allocate(capacity: 65536)
        low.initialize(repeating: .max, count: 65536)
        mask = cap &- 1
        shift = UInt64(64 &- cap.trailingZeroBitCount)
    }

    @inline(__always) private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) &<< 40 | UInt64(UInt32(bitPattern: b)) &<< 20
    }

    /// Hash of a pair; its top bits give the table slot and the encoder's filter bit.
    @inline(__always) static func hash(_ a: Int32, _ b: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: a)) &<< 32 | UInt64(UInt32(bitPattern: b))) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Inserts unless the pair is present (the first, lowest-ranked merge wins).
    func insert(_ a: Int32, _ b: Int32, merged: Int32) {
        if UInt32(bitPattern: a | b) < 256 {
            let i = Int(a) &<< 8 | Int(b)
            if low[i] == .max { low[i] = merged }
            return
        }
        let k = Self.key(a, b)
        var s = Int(truncatingIfNeeded: Self.hash(a, b) &>> shift)
        while slots[s] != .max {
            if slots[s] & ~0xF_FFFF == k { return }
            s = (s &+ 1) & mask
        }
        slots[s] = k | UInt64(UInt32(bitPattern: merged))
    }

    /// The id that (a, b) merges into, or Int32.max when it is not a canonical merge; `h` is `hash(a, b)`;
    /// a or b is 256 or more (pairs below are in `low`).
    @inline(__always) func merged(_ a: Int32, _ b: Int32, hash h: UInt64) -> Int32 {
        let k = Self.key(a, b)
        var s = Int(truncatingIfNeeded: h &>> shift)
        while true {
            let x = slots[s]
            if x & ~0xF_FFFF == k { return Int32(truncatingIfNeeded: x & 0xF_FFFF) }
            if x == .max { return .max }
            s = (s &+ 1) & mask
        }
    }
}
