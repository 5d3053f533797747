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
    /// Kept in `ascii`'s buffer behind `low` (see there: a field of its own is copied with every scanner).
    @inlinable @inline(__always) var prefix: UnsafeMutablePointer<UInt8> { ascii + Self.prefixAt }
    @usableFromInline static let prefixAt = 128 + cjkAt + 4

    @usableFromInline static let shared = ScanTables()

    /// `classOf` of U+0000...U+0FFF (4 KiB): the 2-byte scripts (Cyrillic, Greek, Hebrew, Arabic) and the
    /// first Indic ones (Devanagari to Tibetan, lead byte E0), one load after decoding. Behind them, at
    /// `cjkAt`, the class of U+4E00...U+9FFF (CJK Unified Ideographs, most characters of Chinese and Japanese
    /// text) and the big-endian first two bytes of U+4E00 (E4 B8) when every code point there has that class
    /// (checked once, so the shortcut follows the tables' Unicode version), else FF FF (never matches): the
    /// scanners classify such a character from its first two bytes, without decoding it and walking the
    /// two-stage table. Kept behind the ASCII classes, in `ascii`'s buffer: each field of `ScanTables` and
    /// `Scanner` is copied with every scanner (a field of its own cost English text ≈ 0.3 % instructions).
    @inlinable @inline(__always) var low: UnsafeMutablePointer<UInt8> { ascii + 128 }
    @usableFromInline static let cjkAt = 0x1000

    /// Whether the U+4E00...U+9FFF shortcut is on (see `low`).
    var cjkUniform: Bool { UnsafeRawPointer(low + (Self.cjkAt + 2)).loadUnaligned(as: UInt16.self) == 0xE4B8 }

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
        ascii = .allocate(capacity: Self.prefixAt &+ 256)
        let cc = chars
        let cat = byCategory
        for b in 0..<128 {
            var v = Self.compute(UInt32(b), cc, cat)
            if b == 0x0A || b == 0x0D { v |= SC.crlf }
            ascii[b] = v
        }
        let low = ascii + 128
        for cp in 0..<0x1000 { low[cp] = Self.compute(UInt32(cp), cc, cat) }
        let first = Self.compute(0x4E00, cc, cat)
        var uniform = true
        for cp in UInt32(0x4E00)...0x9FFF where Self.compute(cp, cc, cat) != first { uniform = false; break }
        low[Self.cjkAt] = first
        low[Self.cjkAt &+ 1] = 0
        UnsafeMutableRawPointer(low + (Self.cjkAt &+ 2)).storeBytes(of: uniform ? 0xE4B8 : 0xFFFF, as: UInt16.self)
        let prefix = ascii + Self.prefixAt
        prefix.initialize(repeating: 0, count: 256)
        for b in 0..<128 where ascii[b] & (SC.letter | SC.number | SC.crlf) == 0 {
            prefix[b] = b == 0x27 ? 1 : 3
        }
    }


    /// Whether the character whose first two UTF-8 bytes are `b0`, `b1` (a valid sequence) lies in
    /// U+4E00...U+9FFF: E4 B8 ... E9 BF as a big-endian 16-bit value (`base` E4 B8; FF FF matches nothing).
    @inlinable @inline(__always)
    static func cjkFirstTwo(_ b0: UInt8, _ b1: UInt8, base: UInt16 = 0xE4B8) -> Bool {
        (UInt16(b0) &<< 8 | UInt16(b1)) &- base <= 0xE9BF - 0xE4B8
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
