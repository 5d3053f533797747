import XCTest
@testable import GlossaTokenizers

/// The Metaspace and Bert fast paths against the general `NormalizedText` path (the reference that the
/// parity suite checks against HF), on generated text full of the cases the fast paths special-case:
/// ids and byte offsets must be identical.
final class FastPathTests: XCTestCase {
    /// Deterministic generator (SplitMix64); each test owns its own.
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let pieces: [String] = [
        "the", "The", "THE", "configuration", "Hello", "world", "don't", "e.g.", "x86_64", "0x1F", "12345",
        "supercalifragilisticexpialidocious", "processor-architecture-specific", "CONFIG_X86_REROUTE_FOR_BROKEN_BOOT_IRQS",
        String(repeating: "a", count: 40), String(repeating: "ab", count: 60),
        " ", " ", " ", "  ", "    ", "        ", "\t", "\n", "\n\n", "\r\n", "\r", " \n ",
        ".", ",", "(", ")", "[", "]", "{", "}", "-", "_", "=====", "'", "\"", "/", "#", "@", "~", "`", "^", "|",
        "naïve", "café", "cafe\u{301}", "\u{301}", " \u{301}a", "Straße", "İstanbul", "ΣΊΣΥΦΟΣ", "привет", "Ünïcödé",
        "中文", "汉字测试", "日本語", "한국어", "𠀀", "𪜀", "😀", "👩\u{200D}💻",
        "\u{00A0}", "\u{3000}", "\u{2003}", "\u{0085}", "\u{2028}", "\u{200B}", "\u{FEFF}",
        "\u{0}", "\u{1}", "\u{7}", "\u{B}", "\u{C}", "\u{1F}", "\u{7F}", "\u{FFFD}", "\u{AD}",
        "▁", "▁▁", "a▁b", "▁hello", "ﬁ", "Ⅻ", "①", "ǅ",
        "[CLS]", "[SEP]", "[UNK]", "<s>", "</s>", "[INST]", "<unk>",
    ]

    static func text(_ r: inout Rng) -> String {
        var s = ""
        let n = r.below(24)
        for _ in 0..<n {
            let p = pieces[r.below(pieces.count)]
            s += r.below(5) == 0 ? p.uppercased() : p
            if r.below(3) == 0 { s += " " }
        }
        return s
    }

    /// ids and offsets of both paths, for `count` generated texts plus the fixed edge cases.
    func assertSamePaths(_ tok: Tokenizer, seed: UInt64, count: Int = 3000, extra: [String] = [],
                         file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNotNil(tok.fastPath, "the fast path was not selected", file: file, line: line)
        var r = Rng(s: seed)
        var texts = ["", " ", "  ", "\n", "a", " a", "  a", "▁", " ▁a", "▁ a", "\n\nx", "x\n", "é", "中", "\u{1}", "[CLS]", "<s>",
                     "<s> a", " <s>a", "a<s>", "a  <s>  b"]
        for _ in 0..<count { texts.append(Self.text(&r)) }
        texts += extra
        var fast = EncoderState(), general = EncoderState(), idsOnly = EncoderState()
        for t in texts {
            for policy in [SpecialTokenPolicy.allowed, .text] {
                let b = Array(t.utf8)
                fast.ids = []; fast.offsets = []; general.ids = []; general.offsets = []
                fast.bpe.withOffsets = true   // `encodeIds` below clears it, as the public entry points do
                try tok.run(b, policy: policy, useFastPath: true, state: &fast)
                try tok.run(b, policy: policy, useFastPath: false, state: &general)
                if fast.ids != general.ids || fast.offsets != general.offsets {
                    XCTFail("\(policy) \(t.debugDescription):\n fast    \(fast.ids) \(fast.offsets)\n general \(general.ids) \(general.offsets)",
                            file: file, line: line)
                    return
                }
                // The ids-only entry points (no spans recorded) on the same, reused state.
                let ids = try tok.encodeIds(bytes: b, specialTokens: policy, state: &idsOnly)
                let n = try tok.count(bytes: b, specialTokens: policy, state: &idsOnly)
                if ids != general.ids || n != general.ids.count {
                    XCTFail("ids only, \(policy) \(t.debugDescription): \(ids) (count \(n)) vs \(general.ids)", file: file, line: line)
                    return
                }
                // And on the state the spans calls use: the segment cache then holds keys of both kinds.
                let mixed = try tok.encodeIds(bytes: b, specialTokens: policy, state: &fast)
                if mixed != general.ids {
                    XCTFail("ids only after spans, \(policy) \(t.debugDescription): \(mixed) vs \(general.ids)", file: file, line: line)
                    return
                }
            }
        }
    }

    func load(_ rel: String) throws -> Tokenizer {
        let path = TestPaths.tokenizer(rel)
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) not present") }
        return try Tokenizer.load(path: path)
    }

    /// A variant of `base` with another normalizer / pre-tokenizer (same model and added tokens).
    func variant(_ base: Tokenizer, normalizer: NormalizerConfig?, preTokenizer: PreTokenizerConfig?) throws -> Tokenizer {
        try Tokenizer(model: base.model, normalizer: normalizer, preTokenizer: preTokenizer,
                      addedTokens: base.addedVocabulary.tokens)
    }

    func testMistralMetaspaceFirst() throws {
        try assertSamePaths(try load("mistral-7b-v0.3/tokenizer.json"), seed: 1)
    }

    /// Segments past the main cache's 48-byte keys (indentation runs, ASCII rules, long identifiers; the
    /// long-segment cache up to 255 bytes, nothing above), past the merge loop's 64 symbols (the model's
    /// general path), with byte fallback inside; each text twice, so the second one hits the caches.
    func testMistralLongSegments() throws {
        var r = Rng(s: 7)
        let words = ["|", "word", "x", "-", "é", "中文", "😀", "\u{1}", "▁", "kmalloc(sizeof(*new_fp),", "::", "12345"]
        var texts: [String] = []
        for _ in 0..<400 {
            var t = ""
            for _ in 0..<(1 + r.below(4)) {
                switch r.below(5) {
                case 0: t += String(repeating: " ", count: r.below(120)) + words[r.below(words.count)]
                case 1: t += "+" + String(repeating: "-", count: r.below(300)) + "+"
                case 2: t += String(repeating: ["=", "ab", "é", "中", "😀"][r.below(5)], count: 10 + r.below(100))
                case 3: t += String(repeating: "▁", count: r.below(90)) + words[r.below(words.count)]
                default: t += "\n" + String(repeating: " ", count: 40 + r.below(60)) + "}"
                }
            }
            texts += [t, t]
        }
        try assertSamePaths(try load("mistral-7b-v0.3/tokenizer.json"), seed: 3, count: 0, extra: texts)
    }

    func testMetaspaceVariants() throws {
        let m = try load("mistral-7b-v0.3/tokenizer.json")
        for (k, scheme) in [PrependScheme.always, .never, .first].enumerated() {
            for split in [false, true] {
                let t = try variant(m, normalizer: nil, preTokenizer: .metaspace(replacement: "▁", prependScheme: scheme, split: split))
                try assertSamePaths(t, seed: 10 + UInt64(k) * 2 + (split ? 1 : 0), count: 800)
            }
        }
        // Older Llama files: Prepend + Replace normalizer, no pre-tokenizer.
        let seq = try variant(m, normalizer: .sequence([.prepend("▁"), .replace(pattern: .string(" "), content: "▁")]), preTokenizer: nil)
        try assertSamePaths(seq, seed: 20, count: 800)
    }

    func testMiniLMBert() throws {
        try assertSamePaths(try load("all-MiniLM-L6-v2-wordpiece/tokenizer.json"), seed: 2)
    }

    func testBertVariants() throws {
        let m = try load("all-MiniLM-L6-v2-wordpiece/tokenizer.json")
        let cased = try variant(m, normalizer: .bert(cleanText: true, handleChineseChars: true, stripAccents: nil, lowercase: false),
                                preTokenizer: .bert)
        try assertSamePaths(cased, seed: 30, count: 800)
        let raw = try variant(m, normalizer: .bert(cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: true),
                              preTokenizer: .bert)
        try assertSamePaths(raw, seed: 31, count: 800)
    }

    /// Unusual configurations stay on the general path.
    func testSelection() throws {
        let m = try load("mistral-7b-v0.3/tokenizer.json")
        XCTAssertNil(try variant(m, normalizer: .nfkc, preTokenizer: .metaspace(replacement: "▁", prependScheme: .first, split: false)).fastPath)
        XCTAssertNil(try variant(m, normalizer: .sequence([.prepend("▁"), .replace(pattern: .string(" "), content: "_")]),
                                 preTokenizer: nil).fastPath)
        let w = try load("all-MiniLM-L6-v2-wordpiece/tokenizer.json")
        XCTAssertNil(try variant(w, normalizer: .bert(cleanText: true, handleChineseChars: true, stripAccents: nil, lowercase: true),
                                 preTokenizer: .whitespace).fastPath)
    }
}
