/// Character predicates of HF `tokenizers`' normalizers (bert.rs, strip.rs, unicode.rs) and the
/// corresponding `NormalizedText` operations.
public enum HFCharacters {
    /// bert.rs `is_whitespace`: `\t`, `\n`, `\r` or Rust `char::is_whitespace` (White_Space).
    @inlinable public static func isBertWhitespace(_ c: UInt32) -> Bool {
        if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { return true }
        if c < 0x80 { return false }
        return CharacterClasses.shared.isWhiteSpace(c)
    }

    /// bert.rs `is_control`: not `\t\n\r`, and `unicode_categories`' `is_other()` in the version HF uses
    /// (Cc, Cf and Co of Unicode 8; unassigned code points are not included).
    @inlinable public static func isBertControl(_ c: UInt32) -> Bool {
        if c < 0x80 { return c < 0x20 ? !(c == 0x09 || c == 0x0A || c == 0x0D) : c == 0x7F }
        return HFUnicodeTables.inRanges(HFUnicodeTables.controlRanges, c)
    }

    /// bert.rs `is_chinese_char`.
    @inlinable public static func isChineseChar(_ c: UInt32) -> Bool {
        switch c {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// `unicode_categories`' `is_mark_nonspacing` (Mn, Unicode 8) as used by bert.rs strip accents.
    @inlinable public static func isNonspacingMark(_ c: UInt32) -> Bool {
        c >= 0x300 && HFUnicodeTables.inRanges(HFUnicodeTables.nonspacingMarkRanges, c)
    }

    /// `unicode_normalization_alignments::char::is_combining_mark` (Mn, Mc, Me, Unicode 9) as used by HF
    /// `StripAccents`.
    @inlinable public static func isCombiningMark(_ c: UInt32) -> Bool {
        c >= 0x300 && HFUnicodeTables.inRanges(HFUnicodeTables.combiningMarkRanges, c)
    }

    /// unicode.rs `Nmt`: the ASCII / C1 control characters it removes.
    @inlinable public static func isNmtRemoved(_ c: UInt32) -> Bool {
        switch c {
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: return true
        default: return false
        }
    }

    /// unicode.rs `Nmt`: characters it maps to a space.
    @inlinable public static func isNmtSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD: return true
        default: return false
        }
    }
}

extension NormalizedText {
    /// BertNormalizer `clean_text`: removes U+0000, U+FFFD and control characters, then maps whitespace
    /// to U+0020.
    public mutating func bertCleanText() {
        filter { c in !(c == 0 || c == 0xFFFD || HFCharacters.isBertControl(c)) }
        map { c in HFCharacters.isBertWhitespace(c) ? 0x20 : c }
    }

    /// BertNormalizer `handle_chinese_chars`: surrounds each CJK ideograph with spaces; as in tokenizers
    /// 0.23 the emitted sequence is (' ', 0), (c, +1), (' ', +1), so all three share the ideograph's alignment.
    public mutating func bertHandleChineseChars() {
        var any = false
        forEachScalar { if !any && HFCharacters.isChineseChar($0) { any = true } }
        if !any { return }
        let src = normalized
        src.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            let n = p.count
            transform(extraCapacity: n / 2 &+ 16) { w in
                var i = 0
                while i < n {
                    let (c, len) = UTF8Scan.decode(base, i)
                    i &+= len
                    if HFCharacters.isChineseChar(c) {
                        w.emit(0x20, change: 0)
                        w.emit(c, change: 1)
                        w.emit(0x20, change: 1)
                    } else {
                        w.keep()
                    }
                }
            }
        }
    }

    /// BertNormalizer `strip_accents`: NFD, then removes nonspacing marks (Mn).
    public mutating func bertStripAccents() {
        nfd()
        filter { !HFCharacters.isNonspacingMark($0) }
    }

    /// The whole BertNormalizer (`stripAccents` nil means: follow `lowercase`, as HF does).
    public mutating func bertNormalize(cleanText: Bool = true, handleChineseChars: Bool = true,
                                       stripAccents: Bool? = nil, lowercase: Bool = true) {
        if cleanText { bertCleanText() }
        if handleChineseChars { bertHandleChineseChars() }
        if stripAccents ?? lowercase { bertStripAccents() }
        if lowercase { self.lowercase() }
    }

    /// HF `StripAccents` normalizer: removes combining marks (Mn, Mc, Me); no decomposition.
    public mutating func stripAccents() {
        filter { !HFCharacters.isCombiningMark($0) }
    }

    /// HF `Nmt` normalizer.
    public mutating func nmt() {
        filter { !HFCharacters.isNmtRemoved($0) }
        map { HFCharacters.isNmtSpace($0) ? 0x20 : $0 }
    }
}
