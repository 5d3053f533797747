import GlossaUnicode

/// Per-character class bits used by the hand-written scanners.
@usableFromInline
enum SC {
    /// `\p{L}`
    @usableFromInline static let letter: UInt8 = 1 << 0
    /// `\p{N}`
    @usableFromInline static let number: UInt8 = 1 << 1
    /// `\s` (White_Space)
    @usableFromInline static let space: UInt8 = 1 << 2
    /// `\r` or `\n`
    @usableFromInline static let crlf: UInt8 = 1 << 3
    /// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`
    @usableFromInline static let upper: UInt8 = 1 << 4
    /// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`
    @usableFromInline static let lower: UInt8 = 1 << 5
    /// `\p{M}`
    @usableFromInline static let mark: UInt8 = 1 << 6
    /// The common core of `\w`: Alphabetic, M, Nd, Pc. Oniguruma's `\w` outside brackets adds
    /// U+00B2, U+00B3, U+00B9, U+00BC..U+00BE (but not inside `[...]`); Rust regex's `\w` adds
    /// the join controls U+200C, U+200D (both measured against HF tokenizers 0.23.3).
    @usableFromInline static let word: UInt8 = 1 << 7
}

/// Class tables: 128 ASCII entries and 32 general-category entries; `classOf` combines them
/// with the White_Space and Alphabetic bits of `CharacterClasses`.
@usableFromInline
struct ScanTables: @unchecked Sendable {
    @usableFromInline let ascii: UnsafeMutablePointer<UInt8>
    @usableFromInline let byCategory: UnsafeMutablePointer<UInt8>
    @usableFromInline let chars: CharacterClasses
    /// Per byte, whether it is the one-character prefix of a letter piece that `PieceScanner` takes inline:
    /// bit 0 (o200k) an ASCII byte that is no letter, digit, CR or LF; bit 1 (the cl100k family) the same
    /// but "'", which may start a contraction there.
    @usableFromInline let prefix: UnsafeMutablePointer<UInt8>

    @usableFromInline static let shared = ScanTables()

    private init() {
        chars = CharacterClasses.shared
        byCategory = .allocate(capacity: 32)
        byCategory.initialize(repeating: 0, count: 32)
        for c in 0..<32 {
            guard let gc = GeneralCategory(rawValue: UInt8(c)) else { continue }
            var v: UInt8 = 0
            switch gc {
            case .uppercaseLetter, .titlecaseLetter: v = SC.letter | SC.upper
            case .lowercaseLetter: v = SC.letter | SC.lower
            case .modifierLetter, .otherLetter: v = SC.letter | SC.upper | SC.lower
            case .nonSpacingMark, .enclosingMark, .combiningSpacingMark: v = SC.mark | SC.upper | SC.lower | SC.word
            case .decimalDigitNumber: v = SC.number | SC.word
            case .letterNumber, .otherNumber: v = SC.number
            case .connectorPunctuation: v = SC.word
            default: v = 0
            }
            byCategory[c] = v
        }
        ascii = .allocate(capacity: 128)
        let cc = chars
        let cat = byCategory
        for b in 0..<128 {
            var v = Self.compute(UInt32(b), cc, cat)
            if b == 0x0A || b == 0x0D { v |= SC.crlf }
            ascii[b] = v
        }
        prefix = .allocate(capacity: 256)
        prefix.initialize(repeating: 0, count: 256)
        for b in 0..<128 where ascii[b] & (SC.letter | SC.number | SC.crlf) == 0 {
            prefix[b] = b == 0x27 ? 1 : 3
        }
    }

    @usableFromInline @inline(__always)
    static func compute(_ cp: UInt32, _ cc: CharacterClasses, _ cat: UnsafeMutablePointer<UInt8>) -> UInt8 {
        let raw = cc.raw(cp)
        var v = cat[Int(raw & 0x1F)]
        if raw & CharacterClasses.whiteSpaceBit != 0 { v |= SC.space }
        if raw & CharacterClasses.alphabeticBit != 0 { v |= SC.word }
        return v
    }

    /// Class bits of a non-ASCII scalar.
    @inlinable @inline(__always)
    func classOf(_ cp: UInt32) -> UInt8 { Self.compute(cp, chars, byCategory) }
}
