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

    @usableFromInline static let shared = ScanTables()

    /// Whether every code point of U+4E00...U+9FFF (CJK Unified Ideographs, most characters of Chinese and
    /// Japanese text) has the class `cjkClass` in `classOf` (checked here once, so the shortcut follows the
    /// tables' Unicode version): the scanners then classify such a character from its first two bytes
    /// (`cjkFirstTwo`) instead of decoding it and walking the two-stage table.
    @usableFromInline let cjkUniform: Bool
    @usableFromInline let cjkClass: UInt8

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
        let first = Self.compute(0x4E00, cc, cat)
        var uniform = true
        for cp in UInt32(0x4E00)...0x9FFF where Self.compute(cp, cc, cat) != first { uniform = false; break }
        cjkUniform = uniform
        cjkClass = first
    }

    /// Whether the character whose first two UTF-8 bytes are `b0`, `b1` (a valid sequence) lies in
    /// U+4E00...U+9FFF: E4 B8 ... E9 BF as a big-endian 16-bit value.
    @inlinable @inline(__always)
    static func cjkFirstTwo(_ b0: UInt8, _ b1: UInt8) -> Bool {
        (UInt16(b0) &<< 8 | UInt16(b1)) &- 0xE4B8 <= 0xE9BF - 0xE4B8
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
