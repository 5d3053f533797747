import GlossaUnicode

/// Added tokens are matched as whole strings before the model runs (HF `AddedVocabulary`):
/// one leftmost-longest matcher for tokens with `normalized: false` (run on the raw input) and one
/// for `normalized: true` tokens (run on each normalized piece).
public struct AddedVocabulary: Sendable {
    public let tokens: [AddedToken]
    let byId: [Int32: Int]
    let byContent: [[UInt8]: Int]
    let raw: LiteralMatcher
    let normalized: LiteralMatcher
    /// Ids of tokens flagged `special` (skipped by `decode(skipSpecialTokens:)`).
    public let specialIds: Set<Int32>

    /// - Parameter normalize: maps a `normalized: true` token's content through the tokenizer's normalizer.
    /// - Parameter unmatched: ids never matched in text (SentencePiece control pieces).
    public init(_ tokens: [AddedToken], unmatched: Set<Int32> = [], normalize: ([UInt8]) -> [UInt8] = { $0 }) {
        self.tokens = tokens
        var byId: [Int32: Int] = [:], byContent: [[UInt8]: Int] = [:]
        var rawPatterns: [([UInt8], Int)] = [], normPatterns: [([UInt8], Int)] = []
        var specials = Set<Int32>()
        // HF matches special tokens first in its pattern list, then the others; leftmost-longest
        // makes order irrelevant except for identical contents, where the first wins.
        let order = tokens.indices.filter { tokens[$0].special } + tokens.indices.filter { !tokens[$0].special }
        for i in order {
            let t = tokens[i]
            byId[t.id] = i
            let bytes = Array(t.content.utf8)
            if byContent[bytes] == nil { byContent[bytes] = i }
            if t.special { specials.insert(t.id) }
            if bytes.isEmpty || unmatched.contains(t.id) { continue }
            if t.normalized { normPatterns.append((normalize(bytes), i)) } else { rawPatterns.append((bytes, i)) }
        }
        self.byId = byId; self.byContent = byContent; specialIds = specials
        raw = LiteralMatcher(rawPatterns); normalized = LiteralMatcher(normPatterns)
    }

    public var isEmpty: Bool { tokens.isEmpty }
    public var hasNormalizedTokens: Bool { !normalized.isEmpty }
    public func token(id: Int32) -> AddedToken? { byId[id].map { tokens[$0] } }
    public func id(of content: [UInt8]) -> Int32? { byContent[content].map { tokens[$0].id } }

    /// A piece of input: either plain text to tokenize, or an added token's id.
    public struct Split: Sendable, Equatable {
        public var start: Int
        public var end: Int
        /// The added token's id, or nil for text.
        public var id: Int32?
    }

    /// HF `find_matches`: splits `text` into text and added-token pieces covering all of it.
    func findMatches(_ text: UnsafeBufferPointer<UInt8>, normalizedSet: Bool, into out: inout [Split]) {
        let m = normalizedSet ? normalized : raw
        let n = text.count
        if m.isEmpty || n == 0 { out.append(Split(start: 0, end: n, id: nil)); return }
        let classes = CharacterClasses.shared
        var startOffset = 0
        var pos = 0
        while let (ms, me, which) = m.nextMatch(text, from: pos) {
            pos = me
            let t = tokens[which]
            var start = ms, stop = me
            if t.singleWord {
                let startSpace = start == 0 || !Self.endsWithWord(text, start, classes)
                let stopSpace = stop == n || !Self.startsWithWord(text, stop, classes)
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip {
                var s = start
                while s > 0 {
                    let b = Self.scalarBefore(text, s)
                    if !classes.isWhiteSpace(b.0) { break }
                    s = b.1
                }
                start = max(s, startOffset)
            }
            if t.rstrip {
                var e = stop
                while e < n {
                    let (cp, len) = UTF8Scan.decode(text.baseAddress!, e)
                    if !classes.isWhiteSpace(cp) { break }
                    e &+= len
                }
                stop = e
            }
            if startOffset < start { out.append(Split(start: startOffset, end: start, id: nil)) }
            out.append(Split(start: start, end: stop, id: t.id))
            startOffset = stop
            pos = max(pos, stop)
        }
        if startOffset != n { out.append(Split(start: startOffset, end: n, id: nil)) }
    }

    static func scalarBefore(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        var s = i - 1
        while s > 0 && t[s] & 0xC0 == 0x80 { s -= 1 }
        return (UTF8Scan.decode(t.baseAddress!, s).0, s)
    }

    /// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
    static func isWordChar(_ cp: UInt32, _ c: CharacterClasses) -> Bool {
        if cp == 0x200C || cp == 0x200D { return true }
        if c.isAlphabetic(cp) || c.isMark(cp) { return true }
        let cat = c.category(cp)
        return cat == .decimalDigitNumber || cat == .connectorPunctuation
    }
    static func endsWithWord(_ t: UnsafeBufferPointer<UInt8>, _ i: Int, _ c: CharacterClasses) -> Bool {
        isWordChar(scalarBefore(t, i).0, c)
    }
    static func startsWithWord(_ t: UnsafeBufferPointer<UInt8>, _ i: Int, _ c: CharacterClasses) -> Bool {
        isWordChar(UTF8Scan.decode(t.baseAddress!, i).0, c)
    }
}

/// Leftmost-longest matching of literal byte strings (added tokens): a trie whose edges (node << 8 | byte → child)
/// live in one flat open-addressing table, and a scan that passes eight bytes at a time over text in which none of
/// the patterns' first bytes occurs, when they are four or fewer ("<" and "[" for most tokenizers). A byte-at-a-time
/// scan with a `Dictionary` probe (SipHash) at every "[" or "<" took ≈ 9 instructions a byte of English, a tenth of
/// Mistral's ids path.
struct LiteralMatcher: Sendable {
    /// Edge key (node << 8 | byte) << 32 | child, or `empty`; nodes below 2^23.
    private let edges: [UInt64]
    private let edgeShift: UInt64
    private static let empty = UInt64.max
    /// Per node: the payload of the pattern that ends there, or -1.
    private let terminal: [Int32]
    private let first: [Bool]
    /// Each first byte broadcast to all eight bytes of a word (four words, repeated to fill), or empty when more
    /// than four bytes start patterns; `distinct`: how many of the words the scan tests (1, 2 or 4).
    private let starters: [UInt64]
    private let distinct: Int
    let isEmpty: Bool

    init(_ patterns: [([UInt8], Int)]) {
        var children: [Int32: Int32] = [:]
        var terminal: [Int32] = [-1]
        var first = [Bool](repeating: false, count: 256)
        for (bytes, payload) in patterns where !bytes.isEmpty {
            first[Int(bytes[0])] = true
            var node: Int32 = 0
            for b in bytes {
                let key = node << 8 | Int32(b)
                if let c = children[key] { node = c } else {
                    let c = Int32(terminal.count)
                    terminal.append(-1)
                    children[key] = c
                    node = c
                }
            }
            if terminal[Int(node)] < 0 { terminal[Int(node)] = Int32(payload) }
        }
        var cap = 16
        while cap < 2 &* children.count { cap &<<= 1 }
        var edges = [UInt64](repeating: Self.empty, count: cap)
        let shift = UInt64(64 &- cap.trailingZeroBitCount)
        for (key, child) in children {
            var s = Self.slot(UInt64(UInt32(bitPattern: key)), shift)
            while edges[s] != Self.empty { s = (s &+ 1) & (cap &- 1) }
            edges[s] = UInt64(UInt32(bitPattern: key)) &<< 32 | UInt64(UInt32(bitPattern: child))
        }
        self.edges = edges; edgeShift = shift
        self.terminal = terminal; self.first = first
        let bytes = (0..<256).filter { first[$0] }
        isEmpty = bytes.isEmpty
        starters = bytes.count <= 4 && !bytes.isEmpty ? (0..<4).map { UInt64(bytes[$0 % bytes.count]) &* SWAR.ones } : []
        distinct = bytes.count <= 2 ? bytes.count : 4
    }

    @inline(__always) private static func slot(_ key: UInt64, _ shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> shift)
    }

    /// The child of `node` by `byte`, or nil.
    @inline(__always) private func child(_ node: Int32, _ byte: UInt8) -> Int32? {
        let key = UInt64(UInt32(bitPattern: node)) &<< 8 | UInt64(byte)
        var s = Self.slot(key, edgeShift)
        while true {
            let x = edges[s]
            if x == Self.empty { return nil }
            if x &>> 32 == key { return Int32(truncatingIfNeeded: x & 0xFFFF_FFFF) }
            s = (s &+ 1) & (edges.count &- 1)
        }
    }

    /// The leftmost match at or after `from`, longest among those starting there.
    func nextMatch(_ t: UnsafeBufferPointer<UInt8>, from: Int) -> (Int, Int, Int)? {
        var i = from
        let n = t.count
        guard let base = t.baseAddress else { return nil }
        let scan = starters.count == 4
        let (s0, s1, s2, s3) = scan ? (starters[0], starters[1], starters[2], starters[3]) : (0, 0, 0, 0)
        let distinct = self.distinct
        while i < n {
            if scan {
                // To the next byte that starts a pattern (exact: the lowest marked byte of each word is).
                while i &+ 8 <= n {
                    let w = SWAR.load(base + i)
                    var m = SWAR.zeroBytes(w ^ s0)
                    if distinct > 1 { m |= SWAR.zeroBytes(w ^ s1) }
                    if distinct > 2 { m |= SWAR.zeroBytes(w ^ s2) | SWAR.zeroBytes(w ^ s3) }
                    if m != 0 { i &+= m.trailingZeroBitCount &>> 3; break }
                    i &+= 8
                }
                if i >= n { break }
            }
            if first[Int(base[i])] {
                var node: Int32 = 0
                var best = -1, bestPayload = -1
                var j = i
                while j < n, let c = child(node, base[j]) {
                    node = c
                    j &+= 1
                    if terminal[Int(node)] >= 0 { best = j; bestPayload = Int(terminal[Int(node)]) }
                }
                if best >= 0 { return (i, best, bestPayload) }
            }
            i &+= 1
        }
        return nil
    }
}
