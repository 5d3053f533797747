import GlossaUnicode

/// HF's character-predicate pre-tokenizers as byte-range producers over one piece of valid
/// UTF-8. Offsets are relative to the buffer; empty pieces never appear.
public enum CharSplitters {
    /// HF `is_bert_punc` / `Punctuation`'s `is_punc`: ASCII punctuation
    /// (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``) or `UnicodeCategories::is_punctuation` (P*).
    /// That crate's tables are from an old Unicode version (they lack e.g. U+061D, U+2E43..,
    /// and still count U+166D as punctuation), so the non-ASCII set is HF's own, measured with
    /// tokenizers 0.23.3 over all code points (694 code points, 152 ranges).
    @inlinable
    public static func isPunctuation(_ cp: UInt32) -> Bool {
        if cp < 0x80 {
            return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40)
                || (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E)
        }
        let r = hfPunctuationRanges
        var lo = 0, hi = r.count
        while lo < hi {
            let mid = (lo &+ hi) &>> 1
            if r[mid].upperBound < cp { lo = mid &+ 1 } else { hi = mid }
        }
        return lo < r.count && r[lo].contains(cp)
    }

    /// Non-ASCII code points HF treats as punctuation (sorted, disjoint).
    public static let hfPunctuationRanges: [ClosedRange<UInt32>] = [
        0xA1...0xA1, 0xA7...0xA7, 0xAB...0xAB, 0xB6...0xB7, 0xBB...0xBB, 0xBF...0xBF, 0x37E...0x37E,
        0x387...0x387, 0x55A...0x55F, 0x589...0x58A, 0x5BE...0x5BE, 0x5C0...0x5C0, 0x5C3...0x5C3,
        0x5C6...0x5C6, 0x5F3...0x5F4, 0x609...0x60A, 0x60C...0x60D, 0x61B...0x61B, 0x61E...0x61F,
        0x66A...0x66D, 0x6D4...0x6D4, 0x700...0x70D, 0x7F7...0x7F9, 0x830...0x83E, 0x85E...0x85E,
        0x964...0x965, 0x970...0x970, 0xAF0...0xAF0, 0xDF4...0xDF4, 0xE4F...0xE4F, 0xE5A...0xE5B,
        0xF04...0xF12, 0xF14...0xF14, 0xF3A...0xF3D, 0xF85...0xF85, 0xFD0...0xFD4, 0xFD9...0xFDA,
        0x104A...0x104F, 0x10FB...0x10FB, 0x1360...0x1368, 0x1400...0x1400, 0x166D...0x166E,
        0x169B...0x169C, 0x16EB...0x16ED, 0x1735...0x1736, 0x17D4...0x17D6, 0x17D8...0x17DA,
        0x1800...0x180A, 0x1944...0x1945, 0x1A1E...0x1A1F, 0x1AA0...0x1AA6, 0x1AA8...0x1AAD,
        0x1B5A...0x1B60, 0x1BFC...0x1BFF, 0x1C3B...0x1C3F, 0x1C7E...0x1C7F, 0x1CC0...0x1CC7,
        0x1CD3...0x1CD3, 0x2010...0x2027, 0x2030...0x2043, 0x2045...0x2051, 0x2053...0x205E,
        0x207D...0x207E, 0x208D...0x208E, 0x2308...0x230B, 0x2329...0x232A, 0x2768...0x2775,
        0x27C5...0x27C6, 0x27E6...0x27EF, 0x2983...0x2998, 0x29D8...0x29DB, 0x29FC...0x29FD,
        0x2CF9...0x2CFC, 0x2CFE...0x2CFF, 0x2D70...0x2D70, 0x2E00...0x2E2E, 0x2E30...0x2E42,
        0x3001...0x3003, 0x3008...0x3011, 0x3014...0x301F, 0x3030...0x3030, 0x303D...0x303D,
        0x30A0...0x30A0, 0x30FB...0x30FB, 0xA4FE...0xA4FF, 0xA60D...0xA60F, 0xA673...0xA673,
        0xA67E...0xA67E, 0xA6F2...0xA6F7, 0xA874...0xA877, 0xA8CE...0xA8CF, 0xA8F8...0xA8FA,
        0xA8FC...0xA8FC, 0xA92E...0xA92F, 0xA95F...0xA95F, 0xA9C1...0xA9CD, 0xA9DE...0xA9DF,
        0xAA5C...0xAA5F, 0xAADE...0xAADF, 0xAAF0...0xAAF1, 0xABEB...0xABEB, 0xFD3E...0xFD3F,
        0xFE10...0xFE19, 0xFE30...0xFE52, 0xFE54...0xFE61, 0xFE63...0xFE63, 0xFE68...0xFE68,
        0xFE6A...0xFE6B, 0xFF01...0xFF03, 0xFF05...0xFF0A, 0xFF0C...0xFF0F, 0xFF1A...0xFF1B,
        0xFF1F...0xFF20, 0xFF3B...0xFF3D, 0xFF3F...0xFF3F, 0xFF5B...0xFF5B, 0xFF5D...0xFF5D,
        0xFF5F...0xFF65, 0x10100...0x10102, 0x1039F...0x1039F, 0x103D0...0x103D0, 0x1056F...0x1056F,
        0x10857...0x10857, 0x1091F...0x1091F, 0x1093F...0x1093F, 0x10A50...0x10A58, 0x10A7F...0x10A7F,
        0x10AF0...0x10AF6, 0x10B39...0x10B3F, 0x10B99...0x10B9C, 0x11047...0x1104D, 0x110BB...0x110BC,
        0x110BE...0x110C1, 0x11140...0x11143, 0x11174...0x11175, 0x111C5...0x111C9, 0x111CD...0x111CD,
        0x111DB...0x111DB, 0x111DD...0x111DF, 0x11238...0x1123D, 0x112A9...0x112A9, 0x114C6...0x114C6,
        0x115C1...0x115D7, 0x11641...0x11643, 0x1173C...0x1173E, 0x12470...0x12474, 0x16A6E...0x16A6F,
        0x16AF5...0x16AF5, 0x16B37...0x16B3B, 0x16B44...0x16B44, 0x1BC9F...0x1BC9F, 0x1DA87...0x1DA8B
    ]

    /// Rust `char::is_whitespace` (the White_Space property).
    @inlinable
    public static func isWhitespace(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) }
        return CharacterClasses.shared.isWhiteSpace(cp)
    }

    /// Rust `char::is_numeric` (general categories Nd, Nl, No).
    @inlinable
    public static func isNumeric(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return cp >= 0x30 && cp <= 0x39 }
        return CharacterClasses.shared.isNumber(cp)
    }

    /// Splits on every character satisfying `isDelimiter` (each such character is its own
    /// match, as in HF's `impl Pattern for Fn(char) -> bool`), then applies `behavior`.
    @inlinable
    public static func split(_ bytes: UnsafeBufferPointer<UInt8>, behavior: SplitBehavior,
                             invert: Bool = false, where isDelimiter: (UInt32) -> Bool) -> [Range<Int>] {
        var acc = SplitAccumulator(length: bytes.count, behavior: behavior, invert: invert)
        guard let p = bytes.baseAddress else { return acc.finish() }
        let n = bytes.count
        var i = 0
        while i < n {
            let (cp, len) = UTF8Scan.decode(p, i)
            if isDelimiter(cp) { acc.addMatch(i, i &+ len) }
            i &+= len
        }
        return acc.finish()
    }

    /// HF `WhitespaceSplit`: maximal runs of non-whitespace.
    public static func whitespaceSplit(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        guard let p = bytes.baseAddress else { return out }
        let n = bytes.count
        var i = 0
        var start = -1
        while i < n {
            let (cp, len) = UTF8Scan.decode(p, i)
            if isWhitespace(cp) {
                if start >= 0 { out.append(start..<i); start = -1 }
            } else if start < 0 {
                start = i
            }
            i &+= len
        }
        if start >= 0 { out.append(start..<n) }
        return out
    }

    /// HF `Whitespace`: the matches of `\w+|[^\w\s]+`, compiled by HF with the Rust `regex`
    /// crate (not Oniguruma), whose `\w` is Alphabetic, M, Nd, Pc and Join_Control.
    public static func whitespace(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        guard let p = bytes.baseAddress, bytes.count > 0 else { return out }
        let s = Scanner(p, bytes.count, ScanTables.shared)
        var i = 0
        while i < bytes.count {
            let (st, e) = s.wordNext(i, oniguruma: false)
            if st < 0 { break }
            out.append(st..<e)
            i = e
        }
        return out
    }

    /// HF `BertPreTokenizer`: whitespace removed, then each punctuation character isolated.
    public static func bert(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        guard let p = bytes.baseAddress else { return out }
        let n = bytes.count
        var i = 0
        var start = -1
        while i < n {
            let (cp, len) = UTF8Scan.decode(p, i)
            if isWhitespace(cp) {
                if start >= 0 { out.append(start..<i); start = -1 }
            } else if isPunctuation(cp) {
                if start >= 0 { out.append(start..<i); start = -1 }
                out.append(i..<(i &+ len))
            } else if start < 0 {
                start = i
            }
            i &+= len
        }
        if start >= 0 { out.append(start..<n) }
        return out
    }

    /// HF `Punctuation` {behavior} (default `isolated`).
    public static func punctuation(_ bytes: UnsafeBufferPointer<UInt8>,
                                   behavior: SplitBehavior = .isolated) -> [Range<Int>] {
        split(bytes, behavior: behavior, where: isPunctuation)
    }

    /// HF `Digits` {individual_digits}: `char::is_numeric` characters, isolated one by one or
    /// kept as contiguous runs.
    public static func digits(_ bytes: UnsafeBufferPointer<UInt8>, individualDigits: Bool) -> [Range<Int>] {
        split(bytes, behavior: individualDigits ? .isolated : .contiguous, where: isNumeric)
    }

    /// HF `CharDelimiterSplit` {delimiter}: the delimiter character removed.
    public static func charDelimiter(_ bytes: UnsafeBufferPointer<UInt8>, delimiter: Unicode.Scalar) -> [Range<Int>] {
        let d = delimiter.value
        return split(bytes, behavior: .removed) { $0 == d }
    }
}
