/// Glossa's equivalent of Hugging Face `tokenizers`' `NormalizedString`: the original UTF-8 bytes, the
/// normalized UTF-8 bytes, and for every normalized byte the original byte range it came from.
///
/// All alignment rules follow HF's `normalizer.rs` (`transform_range`, `convert_offsets`, `slice`, …)
/// so that offsets reported by the pipeline are byte-identical to HF's.
///
/// Offsets in `alignmentStarts` / `alignmentEnds` are relative to `original`; `originalShift` is the
/// offset of `original` inside the whole input. Texts are limited to `Int32.max` bytes.
public struct NormalizedText: Sendable, Equatable {
    /// The original bytes (never modified by normalization).
    public private(set) var original: [UInt8]
    /// The normalized bytes (valid UTF-8).
    public internal(set) var normalized: [UInt8]
    /// For each normalized byte, the start of its original byte range (relative to `original`).
    public internal(set) var alignmentStarts: [Int32]
    /// For each normalized byte, the end of its original byte range (relative to `original`).
    public internal(set) var alignmentEnds: [Int32]
    /// Offset of `original` within the full input text.
    public private(set) var originalShift: Int

    /// A text with identity alignments. `bytes` must be valid UTF-8.
    public init<C: Collection>(_ bytes: C, originalShift: Int = 0) where C.Element == UInt8 {
        let o = Array(bytes)
        precondition(o.count < Int(Int32.max), "NormalizedText: text too long")
        original = o
        normalized = o
        self.originalShift = originalShift
        let n = o.count
        var starts = [Int32](repeating: 0, count: n)
        var ends = [Int32](repeating: 0, count: n)
        o.withUnsafeBufferPointer { p in
            starts.withUnsafeMutableBufferPointer { s in
                ends.withUnsafeMutableBufferPointer { e in
                    var i = 0
                    while i < n {
                        let len = UTF8Scan.sequenceLength(p[i])
                        let a = Int32(truncatingIfNeeded: i), b = Int32(truncatingIfNeeded: Swift.min(i &+ len, n))
                        var k = i
                        while k < i &+ len && k < n { s[k] = a; e[k] = b; k &+= 1 }
                        i &+= len
                    }
                }
            }
        }
        alignmentStarts = starts
        alignmentEnds = ends
    }

    /// A text with identity alignments over the UTF-8 of `string`.
    public init(_ string: String, originalShift: Int = 0) {
        self.init(Array(string.utf8), originalShift: originalShift)
    }

    /// Builds a text from explicit parts (for tests and deserialisation); the caller guarantees consistency.
    public init(original: [UInt8], normalized: [UInt8], alignmentStarts: [Int32], alignmentEnds: [Int32],
                originalShift: Int) {
        precondition(normalized.count == alignmentStarts.count && normalized.count == alignmentEnds.count)
        self.original = original
        self.normalized = normalized
        self.alignmentStarts = alignmentStarts
        self.alignmentEnds = alignmentEnds
        self.originalShift = originalShift
    }

    /// Normalized length in bytes.
    @inlinable public var count: Int { normalized.count }
    @inlinable public var isEmpty: Bool { normalized.isEmpty }
    public var normalizedString: String { String(decoding: normalized, as: UTF8.self) }
    public var originalString: String { String(decoding: original, as: UTF8.self) }

    /// The original range of the normalized byte `i` (relative to `original`).
    @inlinable public func alignment(at i: Int) -> Range<Int> {
        Int(alignmentStarts[i])..<Int(alignmentEnds[i])
    }
    /// The per-byte alignments as (start, end) pairs, relative to `original` (HF `alignments`).
    public var alignments: [(Int, Int)] {
        (0..<normalized.count).map { (Int(alignmentStarts[$0]), Int(alignmentEnds[$0])) }
    }
    /// `(originalShift, originalShift + original.count)` (HF `offsets_original`).
    public var originalOffsets: Range<Int> { originalShift..<(originalShift + original.count) }

    public static func == (a: NormalizedText, b: NormalizedText) -> Bool {
        a.originalShift == b.originalShift && a.original == b.original && a.normalized == b.normalized
            && a.alignmentStarts == b.alignmentStarts && a.alignmentEnds == b.alignmentEnds
    }
}

// MARK: - Transformation engine (HF `transform_range`)

extension NormalizedText {
    /// Writes the replacement of a normalized range, character by character, with HF's change semantics.
    /// `emit(c, change: 0)` replaces the next old character, `change: +1` inserts a new character (it
    /// shares the alignment of the byte before the cursor), `change: -N` replaces the next old character
    /// and removes the N characters after it. `skip(n)` removes the next n old characters.
    public struct Rewriter {
        @usableFromInline let src: [UInt8]
        @usableFromInline let srcStarts: [Int32]
        @usableFromInline let srcEnds: [Int32]
        /// Byte position in the old normalized text (HF `offset`).
        @usableFromInline var cursor: Int
        @usableFromInline let rangeEnd: Int
        @usableFromInline var out: [UInt8]
        @usableFromInline var outStarts: [Int32]
        @usableFromInline var outEnds: [Int32]

        @usableFromInline init(src: [UInt8], starts: [Int32], ends: [Int32], range: Range<Int>, extra: Int) {
            self.src = src; srcStarts = starts; srcEnds = ends
            cursor = range.lowerBound; rangeEnd = range.upperBound
            let cap = src.count &+ extra
            out = []; out.reserveCapacity(cap)
            outStarts = []; outStarts.reserveCapacity(cap)
            outEnds = []; outEnds.reserveCapacity(cap)
            if range.lowerBound > 0 {
                out.append(contentsOf: src[0..<range.lowerBound])
                outStarts.append(contentsOf: starts[0..<range.lowerBound])
                outEnds.append(contentsOf: ends[0..<range.lowerBound])
            }
        }

        /// Removes the next `n` old characters of the range.
        @inlinable public mutating func skip(_ n: Int) {
            var k = n
            while k > 0 && cursor < rangeEnd {
                cursor &+= UTF8Scan.sequenceLength(src[cursor])
                k &-= 1
            }
            if cursor > rangeEnd { cursor = rangeEnd }
        }

        /// Emits one character of the new text (see the type's documentation for `change`).
        @inlinable public mutating func emit(_ scalar: UInt32, change: Int) {
            let a: Int32, b: Int32
            if change > 0 {
                if cursor < 1 { a = 0; b = 0 } else { a = srcStarts[cursor &- 1]; b = srcEnds[cursor &- 1] }
            } else if cursor < src.count {
                a = srcStarts[cursor]; b = srcEnds[cursor]
                if cursor < rangeEnd { cursor &+= UTF8Scan.sequenceLength(src[cursor]) }
                if change < 0 { skip(-change) }
            } else {
                // HF would index out of bounds here (replacing past the end); treat as an insertion.
                if cursor < 1 { a = 0; b = 0 } else { a = srcStarts[cursor &- 1]; b = srcEnds[cursor &- 1] }
            }
            put(scalar, a, b)
        }

        /// Copies the next old character unchanged (same as `emit(sameScalar, change: 0)`).
        @inlinable public mutating func keep() {
            guard cursor < rangeEnd else { return }
            let len = UTF8Scan.sequenceLength(src[cursor])
            let a = srcStarts[cursor], b = srcEnds[cursor]
            var k = 0
            while k < len { out.append(src[cursor &+ k]); outStarts.append(a); outEnds.append(b); k &+= 1 }
            cursor &+= len
        }

        @inlinable mutating func put(_ cp: UInt32, _ a: Int32, _ b: Int32) {
            if cp < 0x80 {
                out.append(UInt8(truncatingIfNeeded: cp)); outStarts.append(a); outEnds.append(b)
                return
            }
            let before = out.count
            UTF8Scan.append(cp, to: &out)
            var k = out.count &- before
            while k > 0 { outStarts.append(a); outEnds.append(b); k &-= 1 }
        }

        /// The number of old characters left in the range.
        public var remainingOldBytes: Int { rangeEnd &- cursor }
    }

    /// HF `transform_range` over the normalized byte range `range` (on character boundaries), streaming:
    /// `initialOffset` old characters at the start of the range are removed first, then `body` emits the
    /// replacement. Old characters of the range that `body` does not consume are dropped.
    public mutating func transformRange(_ range: Range<Int>, initialOffset: Int = 0, extraCapacity: Int = 16,
                                        _ body: (inout Rewriter) throws -> Void) rethrows {
        precondition(range.lowerBound >= 0 && range.upperBound <= normalized.count)
        var w = Rewriter(src: normalized, starts: alignmentStarts, ends: alignmentEnds, range: range,
                         extra: extraCapacity)
        w.skip(initialOffset)
        try body(&w)
        if range.upperBound < normalized.count {
            w.out.append(contentsOf: normalized[range.upperBound...])
            w.outStarts.append(contentsOf: alignmentStarts[range.upperBound...])
            w.outEnds.append(contentsOf: alignmentEnds[range.upperBound...])
        }
        normalized = w.out
        alignmentStarts = w.outStarts
        alignmentEnds = w.outEnds
    }

    /// HF `transform`: replaces the whole normalized text.
    public mutating func transform(initialOffset: Int = 0, extraCapacity: Int = 16,
                                   _ body: (inout Rewriter) throws -> Void) rethrows {
        try transformRange(0..<normalized.count, initialOffset: initialOffset, extraCapacity: extraCapacity, body)
    }

    /// HF `transform` with an explicit list of (scalar, change) pairs.
    public mutating func transform<S: Sequence>(_ items: S, initialOffset: Int = 0)
    where S.Element == (UInt32, Int) {
        transform(initialOffset: initialOffset) { w in
            for (c, ch) in items { w.emit(c, change: ch) }
        }
    }

    /// HF `transform_range` with an explicit list of (scalar, change) pairs.
    public mutating func transformRange<S: Sequence>(_ range: Range<Int>, _ items: S, initialOffset: Int = 0)
    where S.Element == (UInt32, Int) {
        transformRange(range, initialOffset: initialOffset) { w in
            for (c, ch) in items { w.emit(c, change: ch) }
        }
    }

    /// Calls `body` with each scalar of the normalized text.
    @inlinable public func forEachScalar(_ body: (UInt32) throws -> Void) rethrows {
        try normalized.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            var i = 0
            let n = p.count
            while i < n {
                let (c, len) = UTF8Scan.decode(base, i)
                try body(c)
                i &+= len
            }
        }
    }

    @usableFromInline var isASCII: Bool {
        normalized.withUnsafeBufferPointer { p in
            var acc: UInt8 = 0
            for b in p { acc |= b }
            return acc < 0x80
        }
    }
}

// MARK: - Character-wise operations (HF filter / map / strip / prepend / append / clear)

extension NormalizedText {
    /// HF `filter`: keeps the scalars for which `keep` is true. Removed characters are attributed to the
    /// kept character before them (or dropped from the start).
    public mutating func filter(_ keep: (UInt32) throws -> Bool) rethrows {
        var anyRemoved = false
        try forEachScalar { if !anyRemoved, try !keep($0) { anyRemoved = true } }
        if !anyRemoved { return }
        let src = normalized
        try src.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            let n = p.count
            try transform { w in
                var i = 0
                while i < n {
                    let (c, len) = UTF8Scan.decode(base, i)
                    if try keep(c) { w.keep() } else { w.skip(1) }
                    i &+= len
                }
            }
        }
    }

    /// HF `map`: replaces every scalar by `f(scalar)` (change 0).
    public mutating func map(_ f: (UInt32) throws -> UInt32) rethrows {
        if normalized.isEmpty { return }
        let src = normalized
        try src.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            let n = p.count
            try transform { w in
                var i = 0
                while i < n {
                    let (c, len) = UTF8Scan.decode(base, i)
                    let m = try f(c)
                    if m == c { w.keep() } else { w.emit(m, change: 0) }
                    i &+= len
                }
            }
        }
    }

    /// HF `lstrip` / `rstrip` / `strip`: removes leading and/or trailing `White_Space` characters.
    public mutating func strip(left: Bool = true, right: Bool = true) {
        let cls = CharacterClasses.shared
        let n = normalized.count
        var lead = 0, leadBytes = 0
        var trail = 0, trailStart = n
        normalized.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            if left {
                var i = 0
                while i < n {
                    let (c, len) = UTF8Scan.decode(base, i)
                    if !cls.isWhiteSpace(c) { break }
                    lead &+= 1; i &+= len
                }
                leadBytes = i
            }
            if right {
                var j = n
                while j > leadBytes {
                    var s = j &- 1
                    while s > 0 && base[s] & 0xC0 == 0x80 { s &-= 1 }
                    let (c, _) = UTF8Scan.decode(base, s)
                    if !cls.isWhiteSpace(c) { break }
                    trail &+= 1; j = s
                }
                trailStart = j
            }
        }
        if lead == 0 && trail == 0 { return }
        if leadBytes >= trailStart {
            transform(initialOffset: lead) { _ in }
            return
        }
        transform(initialOffset: lead) { w in
            while w.cursor < trailStart { w.keep() }
        }
    }

    /// HF `prepend`: the new characters and the first character share the first character's alignment.
    public mutating func prepend(_ s: String) {
        guard !normalized.isEmpty else { return }
        let firstLen = UTF8Scan.sequenceLength(normalized[0])
        let first = normalized.withUnsafeBufferPointer { UTF8Scan.decode($0.baseAddress!, 0).0 }
        transformRange(0..<firstLen, extraCapacity: s.utf8.count) { w in
            var isFirst = true
            for u in s.unicodeScalars {
                w.emit(u.value, change: isFirst ? 0 : 1)
                isFirst = false
            }
            w.emit(first, change: 1)
        }
    }

    /// HF `append`: the new characters share the last character's alignment.
    public mutating func append(_ s: String) {
        guard !normalized.isEmpty else { return }
        var b = normalized.count &- 1
        while b > 0 && normalized[b] & 0xC0 == 0x80 { b &-= 1 }
        let last = normalized.withUnsafeBufferPointer { UTF8Scan.decode($0.baseAddress!, b).0 }
        transformRange(b..<normalized.count, extraCapacity: s.utf8.count) { w in
            w.emit(last, change: 0)
            for u in s.unicodeScalars { w.emit(u.value, change: 1) }
        }
    }

    /// HF `clear`: removes the whole normalized text; returns the number of removed bytes.
    @discardableResult
    public mutating func clear() -> Int {
        let n = normalized.count
        transform(initialOffset: n) { _ in }
        return n
    }
}

// MARK: - Replace (HF `replace`)

extension NormalizedText {
    /// HF `replace` with a literal pattern: non-overlapping occurrences, left to right. An empty pattern
    /// matches nothing.
    public mutating func replace(_ pattern: String, with content: String) {
        let pat = Array(pattern.utf8)
        if pat.isEmpty || pat.count > normalized.count { return }
        let ranges = NormalizedText.literalMatches(pat, in: normalized)
        if ranges.isEmpty { return }
        replace(ranges: ranges, with: content)
    }

    /// HF `replace` with a regex (or any) pattern: `matcher` returns the matches over the normalized
    /// bytes, sorted and non-overlapping, on character boundaries (empty matches allowed).
    public mutating func replace(matching matcher: (UnsafeBufferPointer<UInt8>) throws -> [Range<Int>],
                                 with content: String) rethrows {
        let ranges = try normalized.withUnsafeBufferPointer { try matcher($0) }
        if ranges.isEmpty { return }
        replace(ranges: ranges, with: content)
    }

    /// Replaces each match with `content` in one pass, reproducing HF's per-match `transform_range`
    /// (match characters removed via `initial_offset`, content characters inserted with change +1, so
    /// they take the alignment of the match's last byte, or of the byte before an empty match).
    public mutating func replace(ranges: [Range<Int>], with content: String) {
        let cont = Array(content.unicodeScalars)
        let src = normalized, ss = alignmentStarts, se = alignmentEnds
        var out: [UInt8] = [], os: [Int32] = [], oe: [Int32] = []
        let cap = src.count &+ ranges.count &* content.utf8.count
        out.reserveCapacity(cap); os.reserveCapacity(cap); oe.reserveCapacity(cap)
        var pos = 0
        for r in ranges {
            precondition(r.lowerBound >= pos && r.upperBound <= src.count, "replace: bad match ranges")
            if r.lowerBound > pos {
                out.append(contentsOf: src[pos..<r.lowerBound])
                os.append(contentsOf: ss[pos..<r.lowerBound])
                oe.append(contentsOf: se[pos..<r.lowerBound])
            }
            if !cont.isEmpty {
                let a: Int32, b: Int32
                if !r.isEmpty { a = ss[r.upperBound &- 1]; b = se[r.upperBound &- 1] }
                else if let la = os.last, let lb = oe.last { a = la; b = lb }
                else { a = 0; b = 0 }
                for u in cont {
                    let before = out.count
                    UTF8Scan.append(u.value, to: &out)
                    for _ in before..<out.count { os.append(a); oe.append(b) }
                }
            }
            pos = r.upperBound
        }
        if pos < src.count {
            out.append(contentsOf: src[pos...]); os.append(contentsOf: ss[pos...]); oe.append(contentsOf: se[pos...])
        }
        normalized = out; alignmentStarts = os; alignmentEnds = oe
    }

    /// Non-overlapping occurrences of `pat` in `text`, left to right.
    static func literalMatches(_ pat: [UInt8], in text: [UInt8]) -> [Range<Int>] {
        var res: [Range<Int>] = []
        let m = pat.count, n = text.count
        if m == 0 || m > n { return res }
        text.withUnsafeBufferPointer { t in
            pat.withUnsafeBufferPointer { p in
                let first = p[0]
                var i = 0
                while i &+ m <= n {
                    if t[i] == first {
                        var k = 1
                        while k < m && t[i &+ k] == p[k] { k &+= 1 }
                        if k == m { res.append(i..<(i &+ m)); i &+= m; continue }
                    }
                    i &+= 1
                }
            }
        }
        return res
    }
}

// MARK: - Offsets, slicing and splitting (HF `convert_offsets`, `slice`, `split`)

extension NormalizedText {
    /// HF `convert_offsets(Range::Normalized(range))`: the original range (relative to `original`) covered
    /// by a normalized byte range. An empty range is returned unchanged (HF quirk); nil when out of bounds
    /// or reversed.
    public func originalRange(forNormalized range: Range<Int>) -> Range<Int>? {
        if range.isEmpty { return range }
        if range.lowerBound < 0 || range.upperBound > normalized.count { return nil }
        return Int(alignmentStarts[range.lowerBound])..<Int(alignmentEnds[range.upperBound &- 1])
    }

    /// HF `convert_offsets(Range::Original(range))`: the normalized range for an original byte range
    /// (relative to `original`).
    public func normalizedRange(forOriginal range: Range<Int>) -> Range<Int>? {
        if range.isEmpty { return range }
        if original.isEmpty && range == 0..<0 { return 0..<normalized.count }
        var start: Int? = nil, end: Int? = nil
        let n = normalized.count
        var i = 0
        while i < n {
            let a = Int(alignmentStarts[i]), b = Int(alignmentEnds[i])
            if range.upperBound < b { break }
            if start == nil && range.lowerBound <= a && a != b { start = i }
            end = i &+ 1
            i &+= 1
        }
        switch (start, end) {
        case let (s?, nil): return s..<s
        case let (nil, e?): return e..<e
        case let (s?, e?): return s..<e
        default: return nil
        }
    }

    /// HF `slice(Range::Normalized(range))`: a sub-text whose offsets stay relative to the whole input
    /// (through `originalShift`). Returns nil when the range is not on character boundaries or out of bounds.
    public func slice(normalizedRange r: Range<Int>) -> NormalizedText? {
        guard r.lowerBound >= 0, r.upperBound <= normalized.count,
              isCharBoundary(normalized, r.lowerBound), isCharBoundary(normalized, r.upperBound),
              let o = originalRange(forNormalized: r) else { return nil }
        let shift = o.lowerBound
        let origBytes: [UInt8]
        if o.lowerBound <= o.upperBound && o.upperBound <= original.count
            && isCharBoundary(original, o.lowerBound) && isCharBoundary(original, o.upperBound) {
            origBytes = Array(original[o])
        } else {
            origBytes = []
        }
        var s = [Int32](), e = [Int32]()
        s.reserveCapacity(r.count); e.reserveCapacity(r.count)
        let d = Int32(truncatingIfNeeded: shift)
        for i in r {
            // HF subtracts with usize arithmetic; non-monotonic alignments (reordered marks) would underflow
            // there. Clamp at 0 instead.
            s.append(Swift.max(0, alignmentStarts[i] &- d)); e.append(Swift.max(0, alignmentEnds[i] &- d))
        }
        return NormalizedText(original: origBytes, normalized: Array(normalized[r]), alignmentStarts: s,
                              alignmentEnds: e, originalShift: originalShift &+ shift)
    }

    /// HF `slice(Range::Original(range))`.
    public func slice(originalRange r: Range<Int>) -> NormalizedText? {
        guard r.lowerBound >= 0, r.upperBound <= original.count,
              isCharBoundary(original, r.lowerBound), isCharBoundary(original, r.upperBound),
              let nr = normalizedRange(forOriginal: r) else { return nil }
        let shift = r.lowerBound
        guard nr.lowerBound >= 0, nr.upperBound <= normalized.count, nr.lowerBound <= nr.upperBound else { return nil }
        let normBytes = isCharBoundary(normalized, nr.lowerBound) && isCharBoundary(normalized, nr.upperBound)
            ? Array(normalized[nr]) : []
        var s = [Int32](), e = [Int32]()
        let d = Int32(truncatingIfNeeded: shift)
        for i in nr { s.append(Swift.max(0, alignmentStarts[i] &- d)); e.append(Swift.max(0, alignmentEnds[i] &- d)) }
        return NormalizedText(original: Array(original[r]), normalized: normBytes, alignmentStarts: s,
                              alignmentEnds: e, originalShift: originalShift &+ shift)
    }

    /// Original byte range of a normalized range in whole-input coordinates (adds `originalShift`).
    public func absoluteOriginalRange(forNormalized range: Range<Int>) -> Range<Int>? {
        guard let r = originalRange(forNormalized: range) else { return nil }
        return (r.lowerBound &+ originalShift)..<(r.upperBound &+ originalShift)
    }

    @inline(__always) func isCharBoundary(_ b: [UInt8], _ i: Int) -> Bool {
        i == 0 || i == b.count || (i > 0 && i < b.count && b[i] & 0xC0 != 0x80)
    }

    /// HF `SplitDelimiterBehavior`.
    public enum SplitBehavior: Sendable, Equatable {
        case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous
    }

    /// HF `find_matches`: turns sorted, non-overlapping match ranges into contiguous
    /// (range, isMatch) pieces covering the whole normalized text.
    public func matchPieces(_ matches: [Range<Int>]) -> [(Range<Int>, Bool)] {
        let n = normalized.count
        if n == 0 { return [(0..<0, false)] }
        var res: [(Range<Int>, Bool)] = []
        res.reserveCapacity(matches.count &* 2 &+ 1)
        var prev = 0
        for m in matches {
            if prev != m.lowerBound { res.append((prev..<m.lowerBound, false)) }
            res.append((m, true))
            prev = m.upperBound
        }
        if prev != n { res.append((prev..<n, false)) }
        return res
    }

    /// HF `split(pattern, behavior)`: `matches` are the pattern's matches over the normalized bytes (sorted,
    /// non-overlapping, on character boundaries); `invert` flips match / non-match (HF `Invert`).
    public func split(matches: [Range<Int>], behavior: SplitBehavior, invert: Bool = false) -> [NormalizedText] {
        var pieces = matchPieces(matches)
        if invert { for i in pieces.indices { pieces[i].1.toggle() } }
        var splits: [(Range<Int>, Bool)] = []   // (range, remove)
        splits.reserveCapacity(pieces.count)
        switch behavior {
        case .isolated:
            for p in pieces { splits.append((p.0, false)) }
        case .removed:
            splits = pieces
        case .contiguous:
            var prevMatch = false
            for (r, m) in pieces {
                if m == prevMatch, let last = splits.last {
                    splits[splits.count - 1].0 = last.0.lowerBound..<r.upperBound
                } else {
                    splits.append((r, false))
                }
                prevMatch = m
            }
        case .mergedWithPrevious:
            var prevMatch = false
            for (r, m) in pieces {
                if m && !prevMatch, let last = splits.last {
                    splits[splits.count - 1].0 = last.0.lowerBound..<r.upperBound
                } else {
                    splits.append((r, false))
                }
                prevMatch = m
            }
        case .mergedWithNext:
            var prevMatch = false
            for (r, m) in pieces.reversed() {
                if m && !prevMatch, let last = splits.last {
                    splits[splits.count - 1].0 = r.lowerBound..<last.0.upperBound
                } else {
                    splits.append((r, false))
                }
                prevMatch = m
            }
            splits.reverse()
        }
        var out: [NormalizedText] = []
        out.reserveCapacity(splits.count)
        for (r, remove) in splits where !remove {
            guard let s = slice(normalizedRange: r) else { preconditionFailure("NormalizedText: bad split") }
            out.append(s)
        }
        return out
    }
}
