import GlossaUnicode

/// Finds the matches of a pre-tokenization regex over UTF-8 bytes.
///
/// Known patterns (`KnownPattern`) run on hand-written scanners with the exact leftmost-first
/// semantics of Oniguruma (HF tokenizers) and fancy-regex (tiktoken); any other pattern is
/// translated from Oniguruma syntax where ICU differs (`\w`, `\W`, `\h`, `\H`; `^`, `$` and
/// `.` use only `\n` as line terminator and `^`/`$` match at lines, as in Oniguruma's Ruby
/// syntax) and searched with `ICURegex`.
public struct PatternSplitter: Sendable {
    /// The pattern as given.
    public let pattern: String
    /// The recognized known pattern, or nil when ICU runs the search.
    public let known: KnownPattern?
    /// The ICU fallback (nil for known patterns).
    public let icu: ICURegex?

    /// Compiles `regex` (Oniguruma syntax, as in tokenizer.json `Split` patterns).
    public init(regex: String) throws(ICURegexError) {
        pattern = regex
        if let k = KnownPattern(regex: regex) {
            known = k
            icu = nil
        } else {
            known = nil
            icu = try ICURegex(Self.icuPattern(fromOniguruma: regex), options: [.multiline, .unixLines])
        }
    }

    /// A splitter for a known pattern (never fails).
    public init(_ known: KnownPattern) {
        pattern = known.regex
        self.known = known
        icu = nil
    }

    /// Calls `body(start, end)` for each match, in order, as byte offsets into `bytes`
    /// (valid UTF-8). Matches never overlap; bytes between matches are unmatched.
    @inlinable
    public func forEachMatch(in bytes: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        guard let known else {
            icu!.forEachMatch(in: bytes, body)
            return
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let s = Scanner(base, bytes.count, ScanTables.shared)
        let n = bytes.count
        var i = 0
        switch known {
        case .gpt2:
            while i < n { let e = s.gpt2End(i); body(i, e); i = e }
        case .cl100k:
            while i < n { let e = s.cl100kEnd(i, maxDigits: 3, possessiveEnd: false); body(i, e); i = e }
        case .cl100kPossessive:
            while i < n { let e = s.cl100kEnd(i, maxDigits: 3, possessiveEnd: true); body(i, e); i = e }
        case .qwen:
            while i < n { let e = s.cl100kEnd(i, maxDigits: 1, possessiveEnd: false); body(i, e); i = e }
        case .o200k:
            while i < n { let e = s.o200kEnd(i); body(i, e); i = e }
        case .whitespace:
            while i < n {
                let (st, e) = s.wordNext(i, oniguruma: true)
                if st < 0 { break }
                body(st, e); i = e
            }
        }
    }

    /// A scanner for loops that want one match at a time (nil for ICU patterns and for `.whitespace`,
    /// which leaves gaps between matches).
    @inlinable
    public func pieceScanner(_ bytes: UnsafeBufferPointer<UInt8>) -> PieceScanner? {
        guard let known, known != .whitespace, let base = bytes.baseAddress else { return nil }
        return PieceScanner(Scanner(base, bytes.count, ScanTables.shared), known)
    }

    /// All matches as byte ranges.
    public func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(bytes.count / 4 + 1)
        forEachMatch(in: bytes) { out.append($0..<$1) }
        return out
    }

    /// All matches in `text`, as byte ranges into its UTF-8 form.
    public func matches(in text: String) -> [Range<Int>] {
        var s = text
        return s.withUTF8 { matches(in: $0) }
    }

    /// Rewrites the Oniguruma escapes whose meaning differs in ICU.
    public static func icuPattern(fromOniguruma pattern: String) -> String {
        // Oniguruma's \w: outside brackets with the Latin-1 superscripts and fractions, inside without.
        let wordCore = #"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}"#
        let word = wordCore + #"\u00B2\u00B3\u00B9\u00BC-\u00BE"#
        let hex = "0-9A-Fa-f"
        var out = ""
        var depth = 0
        var it = pattern.unicodeScalars.makeIterator()
        while let c = it.next() {
            if c == "\\" {
                guard let d = it.next() else { out.unicodeScalars.append(c); break }
                let inClass = depth > 0
                switch d {
                case "w": out += inClass ? wordCore : "[\(word)]"
                case "W": out += inClass ? "[^\(wordCore)]" : "[^\(word)]"
                case "h": out += inClass ? hex : "[\(hex)]"
                case "H": out += "[^\(hex)]"
                default:
                    out.unicodeScalars.append(c)
                    out.unicodeScalars.append(d)
                }
                continue
            }
            if c == "[" { depth += 1 } else if c == "]" && depth > 0 { depth -= 1 }
            out.unicodeScalars.append(c)
        }
        return out
    }
}

/// The end of the match at each position for the known patterns in which every position starts a match
/// (all but `.whitespace`): chaining `end(at:)` from 0 yields `forEachMatch`'s matches.
public struct PieceScanner {
    @usableFromInline let scanner: Scanner
    @usableFromInline let known: KnownPattern

    @inlinable init(_ scanner: Scanner, _ known: KnownPattern) { self.scanner = scanner; self.known = known }

    /// Whether `b` is an ASCII letter (A–Z, a–z: the only ASCII `\p{L}`).
    @inlinable @inline(__always)
    static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }

    /// `j` moved past the ASCII letters (`fold`: A–Z and a–z, else a–z) among the 8 bytes from `j` when
    /// they lie before `n`, else `j`: most words of prose end inside that one word, and a byte loop after
    /// it stops at once (it took 7 instructions a letter). One word and no loop, so that `end(at:)` stays
    /// small enough to be inlined into the caller's loop.
    @inlinable @inline(__always)
    static func letterWord(_ p: UnsafePointer<UInt8>, _ j: Int, _ n: Int, fold: Bool) -> Int {
        guard j &+ 8 <= n else { return j }
        let w = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
        // Per byte (7 bits, so no carries cross bytes): bit 7 of x + 0x1F is x ≥ 0x61, of x + 0x05 is
        // x ≥ 0x7B; bytes ≥ 0x80 (`w`'s bit 7) are never letters. Bit 7 set: not a letter. No such
        // byte: 64 trailing zeros, 8 bytes.
        let x = (fold ? w | 0x2020_2020_2020_2020 : w) & 0x7F7F_7F7F_7F7F_7F7F
        let stop = (~(x &+ 0x1F1F_1F1F_1F1F_1F1F) | (x &+ 0x0505_0505_0505_0505) | w) & 0x8080_8080_8080_8080
        return j &+ stop.trailingZeroBitCount &>> 3
    }

    /// The end of the ASCII letters from `j` (`fold` as in `letterWord`) after a first word of letters, or near
    /// the buffer's end: a word at a time, then bytes where less than a word is left. After the first word
    /// the run went on a byte at a time (on a 1 MiB run of random letters, ≈ 7 M instructions a pass, 4 % of
    /// all). Out of line, in place of that byte loop, so that `end(at:)` stays small enough to be inlined.
    @inlinable @inline(never)
    static func letterRun(_ p: UnsafePointer<UInt8>, _ j: Int, _ n: Int, fold: Bool) -> Int {
        var j = j
        while j &+ 8 <= n {
            let e = letterWord(p, j, n, fold: fold)
            if e != j &+ 8 { return e }
            j = e
        }
        while j < n && (fold ? isASCIILetter(p[j]) : p[j] &- 0x61 < 26) { j &+= 1 }
        return j
    }

    /// The end of the match starting at `i` (< the buffer's count).
    @inlinable @inline(__always)
    public func end(at i: Int) -> Int {
        // Most pieces of Latin-script text are an optional space or other one-byte prefix and ASCII letters.
        // In the GPT-2 and cl100k-family patterns that is a ` ?\p{L}+` or `[^\r\n\p{L}\p{N}]?\p{L}+` match
        // (the contractions need a leading "'", which is left to `asciiEnd`), ending at the first byte that
        // is not a letter: when that byte is ASCII the match is decided here, without the general scanner's
        // class lookups and call. Prefixes other than a space (punctuation, tabs before a word: one piece in
        // ten of English prose) went out to `asciiEnd` before.
        if known != .o200k && known != .whitespace {
            let p = scanner.p, n = scanner.n
            let first = known == .gpt2 ? (p[i] == 0x20 ? i &+ 1 : i) : i &+ Int(scanner.tables.prefix[Int(p[i])] &>> 1)
            var j = Self.letterWord(p, first, n, fold: true)
            if j == first &+ 8 || first &+ 8 > n { j = Self.letterRun(p, j, n, fold: true) }
            if j > first && (j == n || p[j] < 0x80) { return j }
        } else if known == .o200k {
            // o200k: an optional one-byte prefix, then upper-case letters and lower-case letters (either run may
            // be empty, not both); decided here when the next byte is ASCII and not the "'" of a contraction.
            let p = scanner.p, n = scanner.n
            var j = i &+ Int(scanner.tables.prefix[Int(p[i])] & 1)
            let first = j
            while j < n && p[j] &- 0x41 < 26 { j &+= 1 }
            let lower = j
            j = Self.letterWord(p, j, n, fold: false)
            if j == lower &+ 8 || lower &+ 8 > n { j = Self.letterRun(p, j, n, fold: false) }
            if j > first && (j == n || p[j] < 0x80 && p[j] != 0x27) { return j }
        }
        // The rest (kept out of line: inlined whole, this grew too big for the caller's loop to inline).
        return known == .gpt2 || known == .whitespace ? general(at: i) : Self.asciiEnd(scanner.p, scanner.n, scanner.ascii, known, at: i)
    }

    /// `end(at:)` for the cl100k family and o200k, deciding the pieces that ASCII alone settles: letters with
    /// a one-character prefix, 1–3 digits, punctuation runs and a space or newline before other text. Any
    /// case that a non-ASCII character could change, and whitespace runs, go to the general scanner.
    /// Static, on the scanner's bytes, count and class table alone: as a method it copied the whole
    /// scanner (7 words) onto its stack at every call.
    @inlinable
    static func asciiEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ ascii: UnsafeMutablePointer<UInt8>, _ known: KnownPattern,
                         at i: Int) -> Int {
        let b = p[i]
        // A letter of a 2-byte script starts a piece without a prefix (a mark could be o200k's prefix, which
        // `scriptLetters` leaves to the general scanner when it matters).
        if b >= 0x80 { return scriptLetters(p, n, ascii, known, at: i, letters: i, from: i, lower: false) }
        // "'" may start a contraction (cl100k) or prefix letters: the general scanner sorts it out.
        if b == 0x27 { return generalEnd(p, n, known, at: i) }
        let cb = ascii[Int(b)]
        // `[^\r\n\p{L}\p{N}]?` then letters (cl100k: `\p{L}+`; o200k: upper-case then lower-case runs, not both
        // empty, decided when the next byte is ASCII and not the "'" of a contraction).
        let first = cb & (SC.letter | SC.number | SC.crlf) == 0 ? i &+ 1 : i
        var j = first
        if known == .o200k {
            while j < n && p[j] &- 0x41 < 26 { j &+= 1 }
            let uppers = j
            while j < n && p[j] &- 0x61 < 26 { j &+= 1 }
            if j > first {
                if j == n || p[j] < 0x80 && p[j] != 0x27 { return j }
                // Letters with diacritics ("café", "Straße") go on in the same runs; a "'" goes on to the general scanner.
                return scriptLetters(p, n, ascii, known, at: i, letters: first, from: j, lower: j > uppers)
            }
        } else {
            while j < n && isASCIILetter(p[j]) { j &+= 1 }
            if j > first {
                if j == n || p[j] < 0x80 { return j }
                return scriptLetters(p, n, ascii, known, at: i, letters: first, from: j, lower: false)
            }
        }
        // No ASCII letter there: a non-ASCII character might be a letter.
        if first < n && p[first] >= 0x80 { return scriptLetters(p, n, ascii, known, at: i, letters: first, from: first, lower: false) }
        if cb & SC.number != 0 {
            // `\p{N}{1,3}` (Qwen: one): a non-ASCII digit could continue a shorter run.
            let maxDigits = known == .qwen ? 1 : 3
            var c = 1
            j = i &+ 1
            while c < maxDigits && j < n && p[j] &- 0x30 < 10 { j &+= 1; c &+= 1 }
            return c == maxDigits || j == n || p[j] < 0x80 ? j : generalEnd(p, n, known, at: i)
        }
        let other = SC.letter | SC.number | SC.space
        if b == 0x20 || b == 0x0A {
            guard i &+ 1 < n, p[i &+ 1] < 0x80 else { return generalEnd(p, n, known, at: i) }
            let c1 = ascii[Int(p[i &+ 1])]
            // Before a non-space, a newline is `\s*[\r\n]` and a space before a digit is `\s`; a space before
            // punctuation starts ` ?[^\s\p{L}\p{N}]+` (below). Letters were taken above; before another
            // space only the whitespace alternatives are left.
            if b == 0x0A { return c1 & SC.space == 0 ? i &+ 1 : whitespaceEnd(p, n, known, at: i) }
            if c1 & SC.number != 0 { return i &+ 1 }
            if c1 & SC.space != 0 { return whitespaceEnd(p, n, known, at: i) }
            if c1 & other != 0 { return generalEnd(p, n, known, at: i) }
        } else if cb & other != 0 {
            // Letters and digits were taken above: a tab, `\r`, `\v` or `\f` (no letters follow).
            return cb & SC.space != 0 ? whitespaceEnd(p, n, known, at: i) : generalEnd(p, n, known, at: i)
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (o200k: `[\r\n/]*`), ASCII punctuation from `b` or the byte after a space.
        j = b == 0x20 ? i &+ 2 : i &+ 1
        while j < n && p[j] < 0x80 && ascii[Int(p[j])] & other == 0 { j &+= 1 }
        if j < n && p[j] >= 0x80 { return generalEnd(p, n, known, at: i) }
        let slash = known == .o200k
        while j < n {
            let c = p[j]
            if c == 0x0A || c == 0x0D || (slash && c == 0x2F) { j &+= 1 } else { break }
        }
        return j
    }

    /// The end of the piece at `i` whose letters start at `letters` (after a prefix that the caller has settled)
    /// and go on from `first` (after the ASCII letters the caller has read) in 2-byte scripts (Latin-1 to
    /// Arabic) and U+0800…U+0FFF (the first Indic scripts), one class load a character; the general scanner's
    /// answer where it must decide: no letter, a run into other characters, and for o200k a "'" after
    /// it (contractions), a run without a lower-case letter, or an upper-case letter after a lower-case one
    /// (the regex backtracks there). ASCII letters go on in the run (words with diacritics). `lower`:
    /// o200k's lower-case run has begun. Before, such a piece went to the general scanner from its start.
    @inlinable @inline(never)
    static func scriptLetters(_ p: UnsafePointer<UInt8>, _ n: Int, _ ascii: UnsafeMutablePointer<UInt8>,
                              _ known: KnownPattern, at i: Int, letters: Int, from first: Int, lower: Bool) -> Int {
        let low = ascii + 128
        let o200k = known == .o200k
        var lower = lower
        var j = first
        while j < n {
            let b = p[j]
            let c: UInt8, len: Int
            if b < 0x80 {
                if !isASCIILetter(b) { break }
                c = b >= 0x61 ? SC.letter | SC.lower : SC.letter | SC.upper; len = 1
            } else if b &- 0xC2 < 0x1E {
                c = low[Int(b & 0x1F) &<< 6 | Int(p[j &+ 1] & 0x3F)]; len = 2
            } else if b == 0xE0 {
                c = low[Int(p[j &+ 1] & 0x3F) &<< 6 | Int(p[j &+ 2] & 0x3F)]; len = 3
            } else {
                return generalEnd(p, n, known, at: i)
            }
            if o200k {
                if c & SC.lower != 0 { lower = true } else if c & SC.upper == 0 { break } else if lower { return generalEnd(p, n, known, at: i) }
            } else if c & SC.letter == 0 {
                break
            }
            j &+= len
        }
        if j == letters || o200k && (!lower || j < n && p[j] == 0x27) { return generalEnd(p, n, known, at: i) }
        return j
    }

    /// `general(at:)` from the scanner's bytes (`asciiEnd`'s rare exits, out of line).
    @inlinable @inline(never)
    static func generalEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ known: KnownPattern, at i: Int) -> Int {
        PieceScanner(Scanner(p, n, ScanTables.shared), known).general(at: i)
    }

    /// `whitespaceEnd(at:)` from the scanner's bytes.
    @inlinable @inline(__always)
    static func whitespaceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ known: KnownPattern, at i: Int) -> Int {
        PieceScanner(Scanner(p, n, ScanTables.shared), known).whitespaceEnd(at: i)
    }

    /// The whitespace alternatives at `i`, where no earlier alternative matches (indentation and blank lines:
    /// the general scanner tried every letter alternative first, at ≈ 170 instructions a piece).
    @inlinable @inline(__always)
    func whitespaceEnd(at i: Int) -> Int {
        scanner.whitespaceEnd(i, newlines: true, possessiveEnd: known == .cl100kPossessive)
    }

    /// `end(at:)` by the general scanner alone.
    @inlinable @inline(__always)
    public func general(at i: Int) -> Int {
        switch known {
        case .gpt2: return scanner.gpt2End(i)
        case .cl100k: return scanner.cl100kEnd(i, maxDigits: 3, possessiveEnd: false)
        case .cl100kPossessive: return scanner.cl100kEnd(i, maxDigits: 3, possessiveEnd: true)
        case .qwen: return scanner.cl100kEnd(i, maxDigits: 1, possessiveEnd: false)
        case .o200k: return scanner.o200kEnd(i)
        case .whitespace: return scanner.wordNext(i, oniguruma: true).1
        }
    }
}
