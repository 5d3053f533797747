internal import CUTF8

extension PieceScanner {
    /// Whether `blockBounds(at:)` serves this scanner's pattern (the cl100k family and o200k).
    @inlinable public var hasBlockBounds: Bool { known != .gpt2 && known != .whitespace }

    /// The piece starts among the 64 bytes from `i` (a piece start, `i + 64 <= n`; the cl100k family and o200k), found
    /// for the whole block at once: bit k of `bounds` (0 < k < `limit`) is set exactly when a piece starts at
    /// `i + k`; from `limit` on nothing is claimed (a byte that `end(at:)` must decide: non-ASCII, "'", CR and
    /// other control bytes, or a whitespace run reaching one of them or the block's end). The ids loop takes
    /// piece ends from the mask with `trailingZeroBitCount`: one piece at a time, every piece waited for the
    /// scanner's chain and its class branches (a sixth of the loop's time was mispredicts).
    ///
    /// The rules, on ASCII, from the pattern `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+` matched leftmost-first from `i` (the pattern has no
    /// look-behind, so bytes before `i` do not matter); "punctuation" is any other printable byte but "'":
    /// - a letter starts a piece after a digit or newline, and after punctuation that is itself preceded by a
    ///   space or punctuation (that punctuation is in a ` ?[^\s…]++` run; elsewhere it starts a piece and
    ///   prefixes the letters); after a letter, space or tab it does not (the last space or tab of a run always
    ///   starts a piece);
    /// - digits start a piece after a non-digit and then every third digit of the run;
    /// - punctuation starts a piece after a letter, digit, newline or tab, not after punctuation or a space;
    /// - a whitespace run starts a piece, except newlines right after punctuation (`[\r\n]*` takes them); inside
    ///   a run, one piece runs to the run's last newline (`\s*[\r\n]`), the rest (spaces and tabs) is split
    ///   before its last byte when longer than one (`\s+(?!\S)`).
    ///
    /// o200k (`…[\p{Lu}…]*[\p{Ll}…]+('s…)?|…[\p{Lu}…]+[\p{Ll}…]*('s…)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|…`)
    /// splits the same way on ASCII but for two rules: letters are upper-case then lower-case runs, so an
    /// upper-case letter after a lower-case one starts a piece; and the newlines a punctuation run takes may
    /// be followed by "/" that it takes too, so a "/" after a newline is left to `end(at:)`.
    public func blockBounds(at i: Int) -> (bounds: UInt64, limit: Int) {
        known == .o200k ? bounds(at: i, cased: true) : bounds(at: i, cased: false)
    }

    @inline(__always)
    func bounds(at i: Int, cased: Bool) -> (bounds: UInt64, limit: Int) {
        let c = glossa_classify64(scanner.p + i, cased ? 1 : 0)
        let letter = c.letter, digit = c.digit, space = c.space, tab = c.tab, nl = c.newline
        let ws = space | tab | nl
        let punct = ~(letter | digit | ws | c.hard)
        // Backwards through whitespace runs: an LF at or after the byte in its run (`lfAhead`); a run that
        // ends at a hard byte or the block's end (`hard`). Forwards through newlines: those taken by a
        // punctuation run (`taken`). Doubling steps (Kogge–Stone), as runs may span the block.
        var lfAhead = nl, hard = c.hard | (ws & (1 &<< 63)) | (c.slash & (nl &<< 1)), pw = ws
        var taken = nl & (punct &<< 1), pn = nl
        var s: UInt64 = 1
        while s < 64 {
            lfAhead |= pw & (lfAhead &>> s)
            hard |= pw & (hard &>> s)
            pw &= pw &>> s
            taken |= pn & (taken &<< s)
            pn &= pn &<< s
            s &<<= 1
        }
        let letterP = letter &<< 1, digitP = digit &<< 1, punctP = punct &<< 1, nlP = nl &<< 1, tabP = tab &<< 1
        let wsP = ws &<< 1, takenP = taken &<< 1
        var b = letter & (digitP | nlP | (punctP & ((space | punct) &<< 2)))
        b |= punct & (letterP | digitP | nlP | tabP)
        if cased { b |= c.upper & ((letter & ~c.upper) &<< 1) }
        let digitStart = digit & ~digitP
        b |= digitStart
        if known == .qwen {
            b |= digit
        } else {
            // Every third digit from the run's start: rare beyond one step.
            let four = digit & digitP & (digit &<< 2) & (digit &<< 3)
            var g = (digitStart &<< 3) & four
            while g != 0 { b |= g; g = (g &<< 3) & four }
        }
        b |= ws & ~wsP & ~(punctP & nl)                       // a run's start
        b |= ws & takenP & ~nl                                // after the newlines a punctuation run took
        b |= ws & nlP & ~takenP & ~lfAhead                    // after the run's last newline
        b |= ws & ((space | tab) &<< 1) & ~lfAhead & ~(ws &>> 1)  // the last of two or more spaces or tabs
        let limit = hard.trailingZeroBitCount
        let below: UInt64 = limit == 64 ? .max : (1 &<< UInt64(limit)) &- 1
        return (b & below & ~1, limit)
    }
}
