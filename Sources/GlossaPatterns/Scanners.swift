import GlossaUnicode

/// Hand-written UTF-8 scanners reproducing the leftmost-first (backtracking) semantics of the
/// known pre-tokenization regexes. Each `*End(at:)` returns the end of the match that the regex
/// finds starting exactly at `i`; for these patterns every position starts a match, so the
/// drivers simply chain them (except `whitespace`, which skips whitespace between matches).
@usableFromInline
struct Scanner {
    @usableFromInline let p: UnsafePointer<UInt8>
    @usableFromInline let n: Int
    @usableFromInline let ascii: UnsafeMutablePointer<UInt8>
    @usableFromInline let tables: ScanTables

    @inlinable
    init(_ p: UnsafePointer<UInt8>, _ n: Int, _ tables: ScanTables) {
        self.p = p; self.n = n; self.tables = tables; self.ascii = tables.ascii
    }

    /// `cls` of the non-ASCII character whose lead byte `b` is at `i`: 2-byte characters and U+0800...U+0FFF
    /// (Indic scripts) from `low`, U+4E00...U+9FFF from their first two bytes, the rest decoded.
    @inlinable @inline(__always)
    func nonASCII(_ i: Int, _ b: UInt8) -> (UInt8, Int) {
        let low = ascii + 128
        let b1 = p[i &+ 1]
        if b < 0xE0 { return (low[Int(b & 0x1F) &<< 6 | Int(b1 & 0x3F)], 2) }
        let cjk = low + ScanTables.cjkAt
        if ScanTables.cjkFirstTwo(b, b1, base: UnsafeRawPointer(cjk + 2).loadUnaligned(as: UInt16.self)) { return (cjk[0], 3) }
        if b == 0xE0 { return (low[Int(b1 & 0x3F) &<< 6 | Int(p[i &+ 2] & 0x3F)], 3) }
        let (cp, len) = UTF8Scan.decode(p, i)
        return (tables.classOf(cp), len)
    }

    /// Class bits and byte length of the character at `i` (< n).
    @inlinable @inline(__always)
    func cls(_ i: Int) -> (UInt8, Int) {
        let b = p[i]
        if b < 0x80 { return (ascii[Int(b)], 1) }
        return nonASCII(i, b)
    }

    /// End of the maximal run, from `i`, of characters with any of `bits`.
    @inlinable @inline(__always)
    func run(_ i: Int, _ bits: UInt8) -> Int {
        var j = i
        while j < n {
            let b = p[j]
            if b < 0x80 {
                if ascii[Int(b)] & bits == 0 { break }
                j &+= 1
            } else {
                let (c, len) = nonASCII(j, b)
                if c & bits == 0 { break }
                j &+= len
            }
        }
        return j
    }

    /// End of the maximal run, from `i`, of characters with none of `bits`.
    @inlinable @inline(__always)
    func runNot(_ i: Int, _ bits: UInt8) -> Int {
        var j = i
        while j < n {
            let b = p[j]
            if b < 0x80 {
                if ascii[Int(b)] & bits != 0 { break }
                j &+= 1
            } else {
                let (cp, len) = UTF8Scan.decode(p, j)
                if tables.classOf(cp) & bits != 0 { break }
                j &+= len
            }
        }
        return j
    }

    /// End of a run of `\r`/`\n` bytes from `i` (with `/` too when `slash`).
    @inlinable @inline(__always)
    func runNewlines(_ i: Int, slash: Bool) -> Int {
        var j = i
        while j < n {
            let b = p[j]
            if b == 0x0A || b == 0x0D || (slash && b == 0x2F) { j &+= 1 } else { break }
        }
        return j
    }

    /// Case-sensitive GPT-2 contractions `'s|'t|'re|'ve|'m|'ll|'d` at `i`; returns the end or -1.
    @inlinable @inline(__always)
    func contractionCS(_ i: Int) -> Int {
        guard p[i] == 0x27, i &+ 1 < n else { return -1 }
        let c1 = p[i &+ 1]
        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i &+ 2 }  // s t m d
        guard i &+ 2 < n else { return -1 }
        let c2 = p[i &+ 2]
        if (c1 == 0x72 || c1 == 0x76) && c2 == 0x65 { return i &+ 3 }  // re ve
        if c1 == 0x6C && c2 == 0x6C { return i &+ 3 }  // ll
        return -1
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`; returns the end or -1. Under simple case folding
    /// (Oniguruma, fancy-regex/regex, ICU alike) the only non-ASCII character folding to one of
    /// these letters is U+017F LATIN SMALL LETTER LONG S (to `s`).
    @inlinable @inline(__always)
    func contractionCI(_ i: Int) -> Int {
        guard i < n, p[i] == 0x27, i &+ 1 < n else { return -1 }
        // `| 0x20` folds exactly the ASCII upper-case letter onto its lower case here.
        let c1 = p[i &+ 1] | 0x20
        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i &+ 2 }  // s t m d
        if p[i &+ 1] == 0xC5 && i &+ 2 < n && p[i &+ 2] == 0xBF { return i &+ 3 }  // ſ
        guard i &+ 2 < n else { return -1 }
        let c2 = p[i &+ 2] | 0x20
        if (c1 == 0x72 || c1 == 0x76) && c2 == 0x65 { return i &+ 3 }  // re ve
        if c1 == 0x6C && c2 == 0x6C { return i &+ 3 }  // ll
        return -1
    }

    /// The whitespace alternatives at `i` (a `\s` character):
    /// `\s*[\r\n]+` (when `newlines`), then `\s+(?!\S)`, then `\s+`; with `possessiveEnd`,
    /// tiktoken's `\s++$` first.
    @inlinable @inline(__always)
    func whitespaceEnd(_ i: Int, newlines: Bool, possessiveEnd: Bool) -> Int {
        var j = i
        var lastStart = i
        var afterNewline = -1
        var count = 0
        while j < n {
            let b = p[j]
            if b < 0x80 {
                if ascii[Int(b)] & SC.space == 0 { break }
                lastStart = j
                j &+= 1
                if b == 0x0A || b == 0x0D { afterNewline = j }
            } else {
                let (cp, len) = UTF8Scan.decode(p, j)
                if tables.classOf(cp) & SC.space == 0 { break }
                lastStart = j
                j &+= len
            }
            count &+= 1
        }
        if possessiveEnd && j == n { return n }
        if newlines && afterNewline >= 0 { return afterNewline }
        if j == n || count < 2 { return j }
        return lastStart
    }

    // MARK: GPT-2

    @inlinable
    func gpt2End(_ i: Int) -> Int {
        let e = contractionCS(i)
        if e >= 0 { return e }
        var (c, len) = cls(i)
        var j = i
        if p[i] == 0x20 && i &+ 1 < n {
            let (c2, l2) = cls(i &+ 1)
            if c2 & SC.space == 0 { c = c2; len = l2; j = i &+ 1 }
        }
        if c & SC.letter != 0 { return run(j &+ len, SC.letter) }
        if c & SC.number != 0 { return run(j &+ len, SC.number) }
        if c & SC.space == 0 { return runNot(j &+ len, SC.letter | SC.number | SC.space) }
        return whitespaceEnd(i, newlines: false, possessiveEnd: false)
    }

    // MARK: cl100k, Qwen

    @inlinable
    func cl100kEnd(_ i: Int, maxDigits: Int, possessiveEnd: Bool) -> Int {
        let e = contractionCI(i)
        if e >= 0 { return e }
        let (c, len) = cls(i)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c & SC.letter != 0 { return run(i &+ len, SC.letter) }
        let prefixOK = c & (SC.crlf | SC.number) == 0
        var c2: UInt8 = 0, l2 = 0
        if i &+ len < n { (c2, l2) = cls(i &+ len) }
        if prefixOK && c2 & SC.letter != 0 { return run(i &+ len &+ l2, SC.letter) }
        // \p{N}{1,3}
        if c & SC.number != 0 {
            var j = i &+ len
            var k = 1
            while k < maxDigits && j < n {
                let (c3, l3) = cls(j)
                if c3 & SC.number == 0 { break }
                j &+= l3; k &+= 1
            }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        let other = SC.letter | SC.number | SC.space
        if p[i] == 0x20 && l2 > 0 && c2 & other == 0 {
            return runNewlines(runNot(i &+ 1 &+ l2, other), slash: false)
        }
        if c & other == 0 { return runNewlines(runNot(i &+ len, other), slash: false) }
        return whitespaceEnd(i, newlines: true, possessiveEnd: possessiveEnd)
    }

    // MARK: o200k

    /// `[U]*[W]+(?i:contraction)?` at `j`; -1 if it fails.
    @inlinable @inline(__always)
    func o200kCaseRun1(_ j: Int) -> Int {
        var u = j
        var lastLowerEnd = -1
        while u < n {
            let (c, l) = cls(u)
            if c & SC.upper == 0 { break }
            u &+= l
            if c & SC.lower != 0 { lastLowerEnd = u }
        }
        var e: Int
        if u < n && cls(u).0 & SC.lower != 0 {
            e = run(u, SC.lower)
        } else if lastLowerEnd >= 0 {
            e = lastLowerEnd
        } else {
            return -1
        }
        let ce = contractionCI(e)
        if ce >= 0 { e = ce }
        return e
    }

    /// `[U]+[W]*(?i:contraction)?` at `j`; -1 if it fails.
    @inlinable @inline(__always)
    func o200kCaseRun2(_ j: Int) -> Int {
        guard j < n else { return -1 }
        let (c, l) = cls(j)
        if c & SC.upper == 0 { return -1 }
        var e = run(run(j &+ l, SC.upper), SC.lower)
        let ce = contractionCI(e)
        if ce >= 0 { e = ce }
        return e
    }

    @inlinable
    func o200kEnd(_ i: Int) -> Int {
        let (c, len) = cls(i)
        let prefixOK = c & (SC.crlf | SC.number | SC.letter) == 0
        let caseBits = SC.upper | SC.lower
        if prefixOK && i &+ len < n {
            let e = o200kCaseRun1(i &+ len)
            if e >= 0 { return e }
        }
        if c & caseBits != 0 {
            let e = o200kCaseRun1(i)
            if e >= 0 { return e }
        }
        if prefixOK && i &+ len < n {
            let e = o200kCaseRun2(i &+ len)
            if e >= 0 { return e }
        }
        if c & caseBits != 0 {
            let e = o200kCaseRun2(i)
            if e >= 0 { return e }
        }
        if c & SC.number != 0 {
            var j = i &+ len
            var k = 1
            while k < 3 && j < n {
                let (c3, l3) = cls(j)
                if c3 & SC.number == 0 { break }
                j &+= l3; k &+= 1
            }
            return j
        }
        let other = SC.letter | SC.number | SC.space
        if p[i] == 0x20 && i &+ 1 < n && cls(i &+ 1).0 & other == 0 {
            let (_, l2) = cls(i &+ 1)
            return runNewlines(runNot(i &+ 1 &+ l2, other), slash: true)
        }
        if c & other == 0 { return runNewlines(runNot(i &+ len, other), slash: true) }
        return whitespaceEnd(i, newlines: true, possessiveEnd: false)
    }

    // MARK: Whitespace (\w+|[^\w\s]+)

    /// Oniguruma's `\w` outside brackets also holds these Latin-1 superscripts and fractions.
    @inlinable @inline(__always)
    static func isLatin1WordExtra(_ cp: UInt32) -> Bool {
        cp == 0xB2 || cp == 0xB3 || cp == 0xB9 || (cp >= 0xBC && cp <= 0xBE)
    }

    /// Next match of `\w+|[^\w\s]+` at or after `i`: (start, end), or start == -1 when none is
    /// left. `oniguruma`: `\w` as Oniguruma has it (HF `Split` regexes); otherwise as the Rust
    /// `regex` crate has it (HF's `Whitespace` pre-tokenizer).
    @inlinable
    func wordNext(_ i: Int, oniguruma: Bool) -> (Int, Int) {
        var s = i
        while s < n {
            let (c, len) = cls(s)
            var isWord = c & SC.word != 0
            if !isWord && len > 1 {
                let cp = UTF8Scan.decode(p, s).0
                isWord = oniguruma ? Scanner.isLatin1WordExtra(cp) : (cp == 0x200C || cp == 0x200D)
            }
            if isWord { return (s, wordRun(s &+ len, oniguruma: oniguruma)) }
            if c & SC.space == 0 { return (s, otherRun(s &+ len, oniguruma: oniguruma)) }
            s &+= len
        }
        return (-1, -1)
    }

    /// `\w+` continued from `i`.
    @inlinable
    func wordRun(_ i: Int, oniguruma: Bool) -> Int {
        var j = i
        while j < n {
            let b = p[j]
            if b < 0x80 {
                if ascii[Int(b)] & SC.word == 0 { break }
                j &+= 1
            } else {
                let (cp, len) = UTF8Scan.decode(p, j)
                if tables.classOf(cp) & SC.word == 0 {
                    let extra = oniguruma ? Scanner.isLatin1WordExtra(cp) : (cp == 0x200C || cp == 0x200D)
                    if !extra { break }
                }
                j &+= len
            }
        }
        return j
    }

    /// `[^\w\s]+` continued from `i` (Oniguruma's bracketed `\w` lacks the Latin-1 extras).
    @inlinable
    func otherRun(_ i: Int, oniguruma: Bool) -> Int {
        var j = i
        while j < n {
            let b = p[j]
            if b < 0x80 {
                if ascii[Int(b)] & (SC.word | SC.space) != 0 { break }
                j &+= 1
            } else {
                let (cp, len) = UTF8Scan.decode(p, j)
                if tables.classOf(cp) & (SC.word | SC.space) != 0 { break }
                if !oniguruma && (cp == 0x200C || cp == 0x200D) { break }
                j &+= len
            }
        }
        return j
    }
}
