import Testing
@testable import GlossaPatterns
import GlossaUnicode

/// Deterministic PRNG (SplitMix64) so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random strings for differential testing: a weighted mix of ASCII words, digits, punctuation,
/// whitespace runs (incl. `\r\n`), contractions in both cases (and with U+017F), Latin-1,
/// combining marks, CJK, emoji with ZWJ/VS16, Unicode whitespace, other numbers, titlecase and
/// modifier letters, and random code points from all planes. Random code points are limited to
/// those assigned in Unicode 15.0 (ICU 72): the scanners and ICU share these tables, but the
/// reference engines (Oniguruma: Unicode 16; Rust regex: its own version) disagree on newer ones.
enum FuzzText {
    static let pieces: [String] = [
        "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll",
        "'d", "'D", "'ſ", "'", "''", "'x", "'K", "\u{2019}s", "/", "//", "\r\n", "\n\n", " \n ",
    ]
    static let special: [UInt32] = [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2007, 0x200A,
        0x200B, 0x200C, 0x200D, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF, 0x180E,
        0xB2, 0xB3, 0xB9, 0xBC, 0xBD, 0xBE, 0x2160, 0x660, 0x669, 0x1C5, 0x1C8, 0x2B0, 0x2B0, 0x17F,
        0x212A, 0x130, 0x131, 0xDF, 0x5F, 0x203F, 0x2E, 0x2D, 0x2C, 0x3002, 0xFF01, 0x1F3FB,
    ]

    static func scalar(_ rng: inout SplitMix) -> UInt32 {
        let r = Int(rng.next() % 100)
        switch r {
        case 0..<22: // ASCII letters
            let v = UInt32(rng.next() % 52)
            return v < 26 ? 0x41 + v : 0x61 + v - 26
        case 22..<28: return 0x30 + UInt32(rng.next() % 10)
        case 28..<36: // ASCII punctuation and symbols
            let punct = Array("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)
            return punct[Int(rng.next() % UInt64(punct.count))].value
        case 36..<48: return [0x20, 0x20, 0x20, 0x09, 0x0A, 0x0D][Int(rng.next() % 6)]
        case 48..<54: return 0xA0 + UInt32(rng.next() % 0x60)          // Latin-1
        case 54..<60: return 0x300 + UInt32(rng.next() % 0x70)         // combining marks
        case 60..<62: return [0x1AB0, 0x20D0, 0x20DD, 0x0903, 0x093E, 0x0BCD][Int(rng.next() % 6)]
        case 62..<67: return 0x4E00 + UInt32(rng.next() % 0x5200)      // CJK
        case 67..<71: return 0x1F600 + UInt32(rng.next() % 0x50)       // emoji
        case 71..<73: return [0x200D, 0xFE0F, 0x1F468, 0x1F469, 0x2764][Int(rng.next() % 5)]
        case 73..<80: return special[Int(rng.next() % UInt64(special.count))]
        case 80..<84: return 0x370 + UInt32(rng.next() % 0x230)        // Greek, Cyrillic, ...
        case 84..<87: return 0x600 + UInt32(rng.next() % 0x100)        // Arabic
        case 87..<89: return 0x900 + UInt32(rng.next() % 0x80)         // Devanagari
        default: // any plane
            while true {
                var cp: UInt32
                switch rng.next() % 4 {
                case 0: cp = UInt32(rng.next() % 0x10000)
                case 1: cp = 0x10000 + UInt32(rng.next() % 0x20000)
                default: cp = UInt32(rng.next() % 0x110000)
                }
                if cp >= 0xD800 && cp < 0xE000 { continue }
                if CharacterClasses.shared.category(cp) == .unassigned { continue }
                return cp
            }
        }
    }

    static func make(_ rng: inout SplitMix, maxLen: Int = 24) -> String {
        var s = String.UnicodeScalarView()
        let len = Int(rng.next() % UInt64(maxLen + 1))
        for _ in 0..<len {
            if rng.next() % 10 == 0 {
                s.append(contentsOf: pieces[Int(rng.next() % UInt64(pieces.count))].unicodeScalars)
            } else if rng.next() % 6 == 0 {
                // runs of the same class stress the greedy/backtracking parts
                let c = scalar(&rng)
                let k = 1 + Int(rng.next() % 5)
                for _ in 0..<k { s.append(Unicode.Scalar(c)!) }
            } else {
                s.append(Unicode.Scalar(scalar(&rng))!)
            }
        }
        return String(s)
    }
}

func escaped(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
}

func fuzzCount() -> Int {
    if let v = getenvInt("GLOSSA_FUZZ_N") { return v }
    return 20_000
}

func getenvInt(_ name: String) -> Int? {
    guard let p = getenv(name) else { return nil }
    return Int(String(cString: p))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Test(arguments: KnownPattern.allCases)
func scannerMatchesICU(_ known: KnownPattern) throws {
    let scanner = PatternSplitter(known)
    let icu = try ICURegex(known.icuEquivalent)
    let matcher = icu.makeMatcher()
    var rng = SplitMix(seed: 0x5EED_0000 &+ UInt64(known.regex.utf8.count))
    var failures = 0
    var totalMatches = 0
    let n = fuzzCount()
    for k in 0..<n {
        let text = FuzzText.make(&rng, maxLen: k % 10 == 0 ? 80 : 24)
        var s = text
        s.withUTF8 { buf in
            var a: [Range<Int>] = []
            scanner.forEachMatch(in: buf) { a.append($0..<$1) }
            var b: [Range<Int>] = []
            matcher.forEachMatch(in: buf) { b.append($0..<$1) }
            totalMatches += b.count
            if a != b {
                failures += 1
                if failures <= 5 {
                    Issue.record("\(known) mismatch on \"\(escaped(text))\"\n scanner \(a)\n icu     \(b)")
                }
            }
        }
    }
    #expect(failures == 0, "\(failures) of \(n) strings differ")
    #expect(totalMatches > n * 3, "the generator should produce non-trivial inputs")
}

@Test func recognizesKnownPatterns() throws {
    for k in KnownPattern.allCases {
        #expect(try PatternSplitter(regex: k.regex).known == k)
        #expect(KnownPattern(regex: k.regex) == k)
    }
    let gpt2Possessive = #"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"#
    #expect(try PatternSplitter(regex: gpt2Possessive).known == .gpt2)
    #expect(try PatternSplitter(regex: #"\d+"#).known == nil)
}

@Test func compileErrorNamesThePattern() {
    do {
        _ = try PatternSplitter(regex: "(a|b")
        Issue.record("expected a compile error")
    } catch {
        #expect(error.pattern == "(a|b")
        #expect(error.description.contains("(a|b"))
    }
}

@Test func icuFallbackByteOffsets() throws {
    let sp = try PatternSplitter(regex: #"\p{L}+"#)
    #expect(sp.known == nil)
    // é is 2 bytes, 😀 is 4 bytes (a surrogate pair in UTF-16), 中 3 bytes.
    #expect(sp.matches(in: "é😀ab 中x") == [0..<2, 6..<8, 9..<13])
    // Oniguruma-only escapes are translated: \h is a hex digit, \w has no ZWJ.
    #expect(try PatternSplitter(regex: #"\h+"#).matches(in: "xDEADbeefz") == [1..<9])
    #expect(try PatternSplitter(regex: #"\w+"#).matches(in: "a\u{200D}b²") == [0..<1, 4..<7])
    // Empty matches right after a match are skipped (onig/regex crate iteration).
    #expect(try PatternSplitter(regex: "a*").matches(in: "ab") == [0..<1, 2..<2])
    #expect(try PatternSplitter(regex: "a*").matches(in: "") == [0..<0])
    // `$` is end of line, only `\n` ends a line (Oniguruma Ruby syntax).
    #expect(try PatternSplitter(regex: "a$").matches(in: "a\na\ra\r\na\u{2028}a") == [0..<1, 11..<12])
}

/// `PieceScanner` (the ids-only encoder's one-match-at-a-time scanner, with its ASCII-word shortcut)
/// chains to exactly `forEachMatch`'s matches, and its shortcut agrees with the general scanner.
@Test(arguments: KnownPattern.allCases.filter { $0 != .whitespace })
func pieceScannerChainsLikeForEachMatch(_ known: KnownPattern) throws {
    let splitter = PatternSplitter(known)
    var rng = SplitMix(seed: 0x5CA7_0000 &+ UInt64(known.regex.utf8.count))
    var failures = 0
    let words = ["hello", " world", "Hello", " HTTP", "x", " a", "can't", " don'T", "naïve", " café", "ſ", " \u{17F}s",
                 "abc\u{301}", "a1", " a\n", "a\r\n", "  ab", "\tab", "ab.", "abc中", " 中",
                 "HTTP", " HTTP/", "HelloWorld", " ABCdef", " IT'S", "Don't", "A", " Zé", "aÉ", "ABC\u{301}",
                 // The ASCII shortcuts for prefixes, digits, punctuation, spaces and newlines, and their edges.
                 "(ab", "(AB", "(ABc", "\u{0}ab", "\tab", ".\n/", ".\n\n", " (", " (x", " 12", "1234", "12é", "1\u{663}",
                 "\u{663}1", "\n.", "\nab", "\n\u{3000}", "\n ", " '", "''", "'s", "(1", "(é", " .é", "!!", ". ", "x/\n/",
                 " \u{A0}", "-\r\n", "\"", "'(", "a'", "(\u{17F}",
                 // Whitespace runs (the ASCII shortcut's `whitespaceEnd`): indentation, blank lines, mixed runs.
                 "  ", "   x", "\t\t", "\t\tx", "\n\n", "\n \n", " \n", "\r\n\r\n", "\t \n ", " \t", "\u{B}\u{C}",
                 "\r", "\r ", "  \u{A0}", "\u{A0}\u{A0}", "\n\u{3000}x", " \u{2028}", "    \n", "  1", "\t1", "\t(",
                 "\t'", " \u{85}", "\u{C}x"]
    for k in 0..<fuzzCount() {
        var text = FuzzText.make(&rng, maxLen: k % 10 == 0 ? 80 : 24)
        if k % 2 == 0 { for _ in 0..<(rng.next() % 6) { text += words[Int(rng.next() % UInt64(words.count))] } }
        var s = text
        s.withUTF8 { buf in
            var a: [Range<Int>] = []
            splitter.forEachMatch(in: buf) { a.append($0..<$1) }
            var b: [Range<Int>] = []
            var shortcutDiffers = false
            if let sc = splitter.pieceScanner(buf) {
                var i = 0
                while i < buf.count {
                    let e = sc.end(at: i)
                    if e != sc.general(at: i) { shortcutDiffers = true }
                    b.append(i..<e); i = e
                }
            }
            if a != b || shortcutDiffers {
                failures += 1
                if failures <= 5 { Issue.record("\(known) on \"\(escaped(text))\"\n piece scanner \(b)\n forEachMatch  \(a)") }
            }
        }
    }
    #expect(failures == 0)
}

/// The word-at-a-time letter runs of `PieceScanner` (`letterWord`, and `letterRun` past the first word): runs of
/// 0–40 ASCII letters in every case mix (0–129 in every fifth text, over many words), after no prefix, a space or
/// another one-byte prefix candidate (punctuation, "'", tab, NUL, DEL, and bytes that are no prefix: newline, CR,
/// digit, non-ASCII), ending at every byte class (other letters, "'", digits, spaces, non-ASCII letters, invalid
/// UTF-8) and at every position up to the end of the buffer, so that runs cross and end at 8-byte words and at
/// `n`. The shortcut must agree with the general scanner at every position (bytes after `n` are padding, never
/// read as text).
@Test(arguments: KnownPattern.allCases.filter { $0 != .whitespace })
func pieceScannerLetterRuns(_ known: KnownPattern) throws {
    let splitter = PatternSplitter(known)
    var rng = SplitMix(seed: 0x1E77_E500 &+ UInt64(known.regex.utf8.count))
    let stops: [[UInt8]] = [[0x20], [0x27], [0x27, 0x73], [0x31], [0x2E], [0x0A], [0x5B], [0x60], [0x7B], [0x40],
                            [0xC3, 0xA9], [0xC3, 0x89], [0xE4, 0xB8, 0xAD], [0xFF], [0x80], [0xC3], [0x00]]
    let prefixes: [[UInt8]] = [[], [], [0x20], [0x20], [0x20], [0x28], [0x2E], [0x27], [0x09], [0x22], [0x2D], [0x2F],
                               [0x00], [0x7F], [0x0A], [0x0D], [0x35], [0xC3, 0xA9], [0xC2, 0xA0], [0x0B], [0x20, 0x27]]
    var failures = 0
    for k in 0..<max(300, fuzzCount() / 4) {
        var b: [UInt8] = []
        for _ in 0..<(1 + Int(rng.next() % 5)) {
            b += prefixes[Int(rng.next() % UInt64(prefixes.count))]
            let len = Int(rng.next() % (k % 5 == 0 ? 130 : 41))
            let style = rng.next() % 4  // lower, Capitalized, UPPER, mixed
            for t in 0..<len {
                let upper = style == 2 || (style == 1 && t == 0) || (style == 3 && rng.next() % 3 == 0)
                b.append((upper ? 0x41 : 0x61) + UInt8(rng.next() % 26))
            }
            b += stops[Int(rng.next() % UInt64(stops.count))]
        }
        for end in (k % 7 == 0 ? 0 : max(0, b.count - 10))...b.count {
            let text = Array(b[0..<end]) + [UInt8](repeating: 0, count: 16)
            text.withUnsafeBufferPointer { padded in
                let buf = UnsafeBufferPointer(rebasing: padded[0..<end])
                guard end > 0, let sc = splitter.pieceScanner(buf) else { return }
                var i = 0
                while i < end {
                    let e = sc.end(at: i), g = sc.general(at: i)
                    if e != g || e <= i {
                        failures += 1
                        if failures <= 5 { Issue.record("\(known) at \(i) of \(Array(b[0..<end])): shortcut \(e), general \(g)") }
                        return
                    }
                    i = e
                }
            }
        }
    }
    #expect(failures == 0)
}

/// Letters of the 2-byte scripts and of U+0800...U+0FFF (`PieceScanner.scriptLetters`): runs of upper-case,
/// lower-case and caseless letters and marks (Latin-1 and Latin Extended, Greek, Cyrillic, Hebrew, Arabic,
/// Devanagari, Thai, Tibetan), mixed with ASCII letters, after no prefix, a space, punctuation or a non-ASCII
/// prefix, ending at every kind of character (ASCII and non-ASCII punctuation and digits, "'" and contractions,
/// ſ, CJK, emoji, spaces). The piece ends must be ICU's, and `end(at:)` must agree with the general scanner
/// at every position, for every pattern with the shortcut and for the others.
@Test(arguments: KnownPattern.allCases)
func pieceScannerScriptLetterRuns(_ known: KnownPattern) throws {
    let splitter = PatternSplitter(known)
    let matcher = try ICURegex(known.icuEquivalent).makeMatcher()
    var rng = SplitMix(seed: 0x5C21_7700 &+ UInt64(known.regex.utf8.count))
    func range(_ a: UInt32, _ b: UInt32) -> [UInt32] { Array(a...b) }
    // Upper case (Lu, Lt), lower case (Ll), caseless (Lo, Lm) letters, and marks (Mn, Mc, Me).
    let upper = range(0x410, 0x42F) + range(0x400, 0x40F) + range(0x391, 0x3A9) + [0xC9, 0xC0, 0xD6, 0x132, 0x1C5, 0x460, 0x48A]
    let lower = range(0x430, 0x44F) + range(0x450, 0x45F) + range(0x3B1, 0x3C9) + [0xE9, 0xDF, 0xB5, 0x17F, 0x133, 0x390, 0x461]
    let caseless = range(0x5D0, 0x5EA) + range(0x627, 0x64A) + range(0x915, 0x939) + range(0xE01, 0xE2E)
        + [0xAA, 0xBA, 0x2B0, 0x640, 0xF40, 0x6D5]
    let marks: [UInt32] = [0x301, 0x483, 0x488, 0x64B, 0x652, 0x5B0, 0x93E, 0x94D, 0x903, 0xE31, 0x670]
    let ascii = range(0x41, 0x5A) + range(0x61, 0x7A)
    // Digits, punctuation, symbols and spaces of the same ranges, and characters beyond them.
    let others: [UInt32] = [0x20, 0x27, 0x2E, 0x2C, 0x31, 0x0A, 0x2D, 0x22, 0x28, 0xA0, 0xAB, 0xBB, 0xD7, 0xB9, 0xB2,
                            0xB7, 0xBF, 0x660, 0x669, 0x60C, 0x966, 0x964, 0xE50, 0x5BE, 0x2014, 0x3000, 0x4E2D, 0x3042,
                            0x1F600, 0x17F]
    let contractions = ["'s", "'S", "'ll", "'\u{17F}", "'t", "'"]
    var failures = 0
    for _ in 0..<max(500, fuzzCount() / 4) {
        var s = ""
        for _ in 0..<(1 + Int(rng.next() % 6)) {
            if rng.next() % 3 == 0 { s.unicodeScalars.append(Unicode.Scalar(others[Int(rng.next() % UInt64(others.count))])!) }
            let style = rng.next() % 6  // lower, Capitalized, UPPER, caseless with marks, mixed, with ASCII letters
            for t in 0..<Int(rng.next() % 12) {
                let pool: [UInt32]
                switch style {
                case 0: pool = rng.next() % 8 == 0 ? marks : lower
                case 1: pool = t == 0 ? upper : lower
                case 2: pool = rng.next() % 8 == 0 ? marks : upper
                case 3: pool = rng.next() % 3 == 0 ? marks : caseless
                case 4: pool = [upper, lower, caseless, marks][Int(rng.next() % 4)]
                default: pool = [upper, lower, ascii, ascii][Int(rng.next() % 4)]
                }
                s.unicodeScalars.append(Unicode.Scalar(pool[Int(rng.next() % UInt64(pool.count))])!)
            }
            if rng.next() % 4 == 0 { s += contractions[Int(rng.next() % UInt64(contractions.count))] }
        }
        var t = s
        t.withUTF8 { buf in
            var a: [Range<Int>] = []
            matcher.forEachMatch(in: buf) { a.append($0..<$1) }
            var b: [Range<Int>] = []
            var differs = false
            if let sc = splitter.pieceScanner(buf) {
                for i in 0..<buf.count where buf[i] & 0xC0 != 0x80 && sc.end(at: i) != sc.general(at: i) { differs = true }
                var i = 0
                while i < buf.count { let e = sc.end(at: i); b.append(i..<e); i = e }
            } else {
                splitter.forEachMatch(in: buf) { b.append($0..<$1) }
            }
            if a != b || differs {
                failures += 1
                if failures <= 5 { Issue.record("\(known) on \"\(escaped(s))\"\n pieces \(b)\n icu    \(a)") }
            }
        }
    }
    #expect(failures == 0)
}

/// The scanners classify U+4E00...U+9FFF from their first two bytes (`ScanTables.cjkFirstTwo`): texts of
/// characters at and around both ends of that range (U+4DB0...U+4E10: CJK extension A, the Yijing
/// hexagram symbols, which are not letters; U+9FF0...U+A010: the last ideographs, Yi syllables) mixed with
/// ASCII, kana, punctuation and marks are split as ICU splits them, for every known pattern.
@Test(arguments: KnownPattern.allCases)
func scannerCJKRangeEdges(_ known: KnownPattern) throws {
    #expect(ScanTables.shared.cjkUniform, "the tables' U+4E00...U+9FFF should share one class")
    let scanner = PatternSplitter(known)
    let matcher = try ICURegex(known.icuEquivalent).makeMatcher()
    var rng = SplitMix(seed: 0xC1C1_0000 &+ UInt64(known.regex.utf8.count))
    let edges = Array(UInt32(0x4DB0)...0x4E10) + Array(UInt32(0x9FF0)...0xA010)
    let others: [UInt32] = [0x20, 0x61, 0x41, 0x31, 0x2E, 0x0A, 0x27, 0x3042, 0x30FC, 0x3001, 0x301, 0x4E2D, 0xFF0C, 0x3000]
    var failures = 0
    for _ in 0..<3000 {
        var s = ""
        for _ in 0..<(1 + Int(rng.next() % 12)) {
            let pool = rng.next() % 3 == 0 ? others : edges
            s.unicodeScalars.append(Unicode.Scalar(pool[Int(rng.next() % UInt64(pool.count))])!)
        }
        var t = s
        t.withUTF8 { buf in
            var a: [Range<Int>] = []
            scanner.forEachMatch(in: buf) { a.append($0..<$1) }
            var b: [Range<Int>] = []
            matcher.forEachMatch(in: buf) { b.append($0..<$1) }
            var c: [Range<Int>] = []
            if let sc = scanner.pieceScanner(buf) {
                var i = 0
                while i < buf.count { let e = sc.end(at: i); c.append(i..<e); i = e }
            } else { c = a }
            if a != b || c != a {
                failures += 1
                if failures <= 5 { Issue.record("\(known) on \"\(escaped(s))\"\n scanner \(a)\n pieces  \(c)\n icu     \(b)") }
            }
        }
    }
    #expect(failures == 0)
    for cp in UInt32(0x4D00)...0xA0FF {
        let b = Array(String(Unicode.Scalar(cp)!).utf8)
        #expect(ScanTables.cjkFirstTwo(b[0], b[1]) == (cp >= 0x4E00 && cp <= 0x9FFF), "U+\(String(cp, radix: 16))")
    }
}

/// `Scanner.cls` (the `low` table for U+0080...U+0FFF, the first-two-bytes class of U+4E00...U+9FFF) gives
/// `classOf` and the UTF-8 length for every BMP code point and a sample of the others.
@Test func scannerClassesOfEveryBMPCharacter() {
    let tables = ScanTables.shared
    var bad = 0
    for cp in Array(UInt32(0x80)...0xD7FF) + Array(UInt32(0xE000)...0x10FFF) + [0x1F600, 0x20000, 0x10FFFF] {
        let b = Array(String(Unicode.Scalar(cp)!).utf8) + [0, 0, 0]
        b.withUnsafeBufferPointer { buf in
            let s = Scanner(buf.baseAddress!, buf.count, tables)
            let (c, len) = s.cls(0)
            if c != tables.classOf(cp) || len != b.count - 3 {
                bad += 1
                if bad <= 5 { Issue.record("U+\(String(cp, radix: 16)): \(c), \(len) vs \(tables.classOf(cp))") }
            }
            if c != 0 && s.run(0, c) != b.count - 3 { bad += 1 }
        }
    }
    #expect(bad == 0)
}

/// `PieceScanner.blockBounds` (the cl100k family's 64-byte block of piece starts) claims exactly the piece
/// starts that the chain of `general(at:)` finds, at every position below its limit, from every piece start
/// with a whole block after it; on ASCII-heavy texts (letters of both cases, runs of spaces, tabs and
/// newlines, digit runs, every printable ASCII byte, contractions, CR, other control bytes, non-ASCII letters
/// and spaces). It must also claim most positions, so that it cannot pass by claiming none.
@Test(arguments: [KnownPattern.cl100k, .cl100kPossessive, .qwen, .o200k])
func blockBoundsAgreeWithTheScanner(_ known: KnownPattern) throws {
    let splitter = PatternSplitter(known)
    var rng = SplitMix(seed: 0xB10C_0000 &+ UInt64(known.regex.utf8.count))
    var parts = ["hello", "World", "HTTP", "x", "I", "can", "don", "'s", "'T", "'ll", "'VE", "'re", "'d", "'M", "'",
                 " ", "  ", "   ", "\t", "\t\t", " \t", "\n", "\n\n", "\n  ", " \n", "\r\n", "\r", "\u{B}", "\u{C}",
                 "\u{0}", "\u{7F}", "1", "12", "123", "1234", "2026", "1234567", "é", "naïve", "中文", "\u{A0}",
                 "\u{2028}", "\u{85}", "  \n\n  ", "1 12", "1.23", "12,3456", "a1b22", "HelloWorld", "HTTPServer", "iPhone", "aB", "./\n/", "\n/", ".\n/x", "a/b", "x'S", "/", "//", ".\n", ".\n\n ", "...", " .", "(", "--", "a.b", "x(y)", "+="]
    for b in UInt8(0x21)...UInt8(0x7E) where !(b >= 0x30 && b <= 0x39) && !((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) {
        parts.append(String(UnicodeScalar(b)))
    }
    var failures = 0, claimed = 0, positions = 0
    for k in 0..<max(200, fuzzCount() / 4) {
        var text = ""
        let count = 20 + Int(rng.next() % 120)
        for _ in 0..<count {
            // Mostly prose-like: words, single spaces, punctuation; the rest from every part.
            let r = rng.next() % 10
            text += r < 4 ? ["the", "Linux", "kernel", "a", "DMA", "PCIe"][Int(rng.next() % 6)] : r < 6 ? " " : parts[Int(rng.next() % UInt64(parts.count))]
        }
        var s = text
        s.withUTF8 { buf in
            guard let sc = splitter.pieceScanner(buf), buf.count >= 64 else { return }
            var isStart = [Bool](repeating: false, count: buf.count + 1)
            var starts: [Int] = []
            var i = 0
            while i < buf.count { isStart[i] = true; starts.append(i); i = sc.general(at: i) }
            for st in starts where st + 64 <= buf.count {
                let (bounds, limit) = sc.blockBounds(at: st)
                positions += 63
                for j in 1..<64 {
                    let bit = bounds & (1 << UInt64(j)) != 0
                    if j < limit { claimed += 1 }
                    if (j < limit && bit != isStart[st + j]) || (j >= limit && bit) {
                        failures += 1
                        if failures <= 5 {
                            let w = String(decoding: UnsafeBufferPointer(rebasing: buf[st..<(st + 64)]), as: UTF8.self)
                            Issue.record("\(known) text \(k), block at \(st), byte \(j): claims \(bit), limit \(limit) in \"\(escaped(w))\"")
                        }
                        break
                    }
                }
            }
        }
    }
    #expect(failures == 0)
    #expect(claimed * 4 > positions, "claimed \(claimed) of \(positions)")
}
