import Testing
import GlossaUnicode

/// Per character of the normalized text: (character, original start, original end). Also checks that all
/// bytes of a character share one alignment (an invariant HF keeps).
func charAlignments(_ n: NormalizedText) -> [(String, Int, Int)] {
    var out: [(String, Int, Int)] = []
    var i = 0
    let b = n.normalized
    while i < b.count {
        let len = UTF8Scan.sequenceLength(b[i])
        let r = n.alignment(at: i)
        for k in i..<(i + len) { #expect(n.alignment(at: k) == r) }
        out.append((String(decoding: b[i..<(i + len)], as: UTF8.self), r.lowerBound, r.upperBound))
        i += len
    }
    return out
}

func expectAligned(_ n: NormalizedText, _ expected: [(String, Int, Int)],
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let got = charAlignments(n)
    #expect(got.count == expected.count, "\(got)", sourceLocation: sourceLocation)
    for (g, e) in zip(got, expected) {
        #expect(g.0 == e.0 && g.1 == e.1 && g.2 == e.2, "got \(g), want \(e)", sourceLocation: sourceLocation)
    }
}

// Expected values: HF tokenizers 0.23.3 via /tmp/hfalign.py, i.e.
//   p = PreTokenizedString(text); p.normalize(lambda n: NORMALIZER.normalize(n))
//   p.split(lambda i, n: n.split(Regex(r"[\s\S]"), "isolated")); p.get_splits("original", "byte")
// which lists every normalized character with its original byte range.
@Suite struct NormalizationAlignmentTests {
    @Test func nfcComposesOntoFirstCharacter() {  // NFC(), 'e\u0301lé'
        var n = NormalizedText("e\u{301}l\u{e9}")
        n.nfc()
        expectAligned(n, [("é", 0, 1), ("l", 3, 4), ("é", 4, 6)])
    }
    @Test func nfdInsertedMarksShareAlignment() {  // NFD(), 'élé'
        var n = NormalizedText("\u{e9}l\u{e9}")
        n.nfd()
        expectAligned(n, [("e", 0, 2), ("\u{301}", 0, 2), ("l", 2, 3), ("e", 3, 5), ("\u{301}", 3, 5)])
        #expect(n.alignmentStarts == [0, 0, 0, 2, 3, 3, 3])
    }
    @Test func nfkcLigature() {  // NFKC(), 'aﬁb'
        var n = NormalizedText("a\u{fb01}b")
        n.nfkc()
        expectAligned(n, [("a", 0, 1), ("f", 1, 4), ("i", 1, 4), ("b", 4, 5)])
    }
    @Test func nfkdLigatureAndAccent() {  // NFKD(), 'ﬁé'
        var n = NormalizedText("\u{fb01}\u{e9}")
        n.nfkd()
        expectAligned(n, [("f", 0, 3), ("i", 0, 3), ("e", 3, 5), ("\u{301}", 3, 5)])
    }
    @Test func hangul() {  // NFC(), '\u1100\u1161\u11a8\uac00'; NFD(), '\uac01'
        var n = NormalizedText("\u{1100}\u{1161}\u{11a8}\u{ac00}")
        n.nfc()
        expectAligned(n, [("\u{ac01}", 0, 3), ("\u{ac00}", 9, 12)])
        var d = NormalizedText("\u{ac01}")
        d.nfd()
        expectAligned(d, [("\u{1100}", 0, 3), ("\u{1161}", 0, 3), ("\u{11a8}", 0, 3)])
    }
    @Test func reorderingAndBlockedComposition() {  // NFC(), 'e\u0316\u0301x\u1e0b\u0323'; NFD(), 'a\u0301\u0316'
        var n = NormalizedText("e\u{316}\u{301}x\u{1e0b}\u{323}")
        n.nfc()
        expectAligned(n, [("\u{e9}", 0, 1), ("\u{316}", 3, 5), ("x", 5, 6), ("\u{1e0d}", 6, 9), ("\u{307}", 9, 11)])
        var d = NormalizedText("a\u{301}\u{316}")
        d.nfd()
        expectAligned(d, [("a", 0, 1), ("\u{316}", 1, 3), ("\u{301}", 3, 5)])
    }
    @Test func alreadyNormalizedIsUntouched() {
        var n = NormalizedText("plain ascii")
        let before = n
        n.nfkc(); n.nfd()
        #expect(n == before)
    }
}

@Suite struct CaseMappingTests {
    @Test func lowercaseFullMapping() {  // Lowercase(), 'AİΣB'
        var n = NormalizedText("A\u{130}\u{3a3}B")
        n.lowercase()
        expectAligned(n, [("a", 0, 1), ("i", 1, 3), ("\u{307}", 1, 3), ("\u{3c3}", 3, 5), ("b", 5, 6)])
    }
    @Test func uppercaseSharpS() {  // n = NormalizedString('straße'); n.uppercase() -> 'STRASSE'
        var n = NormalizedText("stra\u{df}e")
        n.uppercase()
        #expect(n.normalizedString == "STRASSE")
        expectAligned(n, [("S", 0, 1), ("T", 1, 2), ("R", 2, 3), ("A", 3, 4), ("S", 4, 6), ("S", 4, 6), ("E", 6, 7)])
    }
    @Test func icuFullMappingsAgreeWithTable() {
        // The lowercase fast path (simple mapping except U+0130) equals ICU's full root-locale mapping.
        var buf = [UInt32](repeating: 0, count: 4)
        for cp in UInt32(0x80)..<0x30000 where !(0xD800..<0xE000).contains(cp) {
            let full = CaseMapping.icuFullMapping(cp, upper: false)
            let k = buf.withUnsafeMutableBufferPointer { CaseMapping.lowercase(cp, into: $0.baseAddress!) }
            if full != [cp] { #expect(Array(buf[0..<k]) == full, "U+\(String(cp, radix: 16))") }
        }
    }
}

@Suite struct HFNormalizerTests {
    @Test func bertNormalizer() {  // BertNormalizer(), ' Hé中\x00\tx\xadYÿ'
        var n = NormalizedText(" H\u{e9}\u{4e2d}\u{0}\tx\u{ad}Y\u{ff}")
        n.bertNormalize()
        expectAligned(n, [(" ", 0, 1), ("h", 1, 2), ("e", 2, 4), (" ", 4, 7), ("\u{4e2d}", 4, 7), (" ", 4, 7),
                          (" ", 8, 9), ("x", 9, 10), ("y", 12, 13), ("y", 13, 15)])
    }
    @Test func stripAccentsMultiple() {  // StripAccents(), 'e\u0304\u0304o' (also HF's unit test)
        var n = NormalizedText("e\u{304}\u{304}o")
        n.stripAccents()
        expectAligned(n, [("e", 0, 1), ("o", 5, 6)])
    }
    @Test func nmt() {  // Nmt(), 'a\x01b\u200bc'
        var n = NormalizedText("a\u{1}b\u{200b}c")
        n.nmt()
        expectAligned(n, [("a", 0, 1), ("b", 2, 3), (" ", 3, 6), ("c", 6, 7)])
    }
    @Test func sequence() {  // Sequence([NFKD(), StripAccents(), Lowercase()]), 'École Ａ'
        var n = NormalizedText("\u{c9}cole \u{ff21}")
        n.nfkd(); n.stripAccents(); n.lowercase()
        expectAligned(n, [("e", 0, 2), ("c", 2, 3), ("o", 3, 4), ("l", 4, 5), ("e", 5, 6), (" ", 6, 7), ("a", 7, 10)])
    }
    @Test func prepend() {  // Prepend('▁'), 'hi there'
        var n = NormalizedText("hi there")
        n.prepend("\u{2581}")
        expectAligned(n, [("\u{2581}", 0, 1), ("h", 0, 1), ("i", 1, 2), (" ", 2, 3), ("t", 3, 4), ("h", 4, 5),
                          ("e", 5, 6), ("r", 6, 7), ("e", 7, 8)])
    }
    @Test func appendSharesLastAlignment() {  // HF normalizer.rs unit test `append`
        var n = NormalizedText("Hey")
        n.append(" there")
        #expect(n.normalizedString == "Hey there")
        #expect(n.alignments.map { $0.0 } == [0, 1, 2, 2, 2, 2, 2, 2, 2])
        #expect(n.originalRange(forNormalized: 3..<9) == 2..<3)
    }
    @Test func replaceGrow() {  // Replace(' ', '▁▁'), ' a  b '
        var n = NormalizedText(" a  b ")
        n.replace(" ", with: "\u{2581}\u{2581}")
        expectAligned(n, [("\u{2581}", 0, 1), ("\u{2581}", 0, 1), ("a", 1, 2), ("\u{2581}", 2, 3), ("\u{2581}", 2, 3),
                          ("\u{2581}", 3, 4), ("\u{2581}", 3, 4), ("b", 4, 5), ("\u{2581}", 5, 6), ("\u{2581}", 5, 6)])
    }
    @Test func replaceShrink() {  // Replace('aa', ''), 'xaaay'
        var n = NormalizedText("xaaay")
        n.replace("aa", with: "")
        expectAligned(n, [("x", 0, 1), ("a", 3, 4), ("y", 4, 5)])
        var m = NormalizedText("aaaab")  // HF unit test: overlapping pattern
        m.replace("aaa", with: "b")
        #expect(m.normalizedString == "bab")
    }
    @Test func replaceWithMatcher() {  // HF unit test: regex \s+ -> '_'
        var n = NormalizedText(" Hello   friend ")
        n.replace(matching: { _ in [0..<1, 6..<9, 15..<16] }, with: "_")
        #expect(n.normalizedString == "_Hello_friend_")
        // Replace(Regex(r'\s+'), '_'): inserted content takes the alignment of the match's last byte.
        #expect(n.originalRange(forNormalized: 6..<7) == 8..<9)
    }
    @Test func strip() {  // Strip(), ' \u3000ab c\n '
        var n = NormalizedText(" \u{3000}ab c\n ")
        n.strip()
        expectAligned(n, [("a", 4, 5), ("b", 5, 6), (" ", 6, 7), ("c", 7, 8)])
        var all = NormalizedText("  \n")
        all.strip()
        #expect(all.isEmpty)
        var l = NormalizedText("  x  ")
        l.strip(left: true, right: false)
        #expect(l.normalizedString == "x  ")
    }
    @Test func filterAndTransformRange() {  // HF normalizer.rs unit tests remove_chars, transform_range_single_bytes
        var n = NormalizedText("\u{e9}l\u{e9}gant")
        n.filter { $0 != 0x6E }
        #expect(n.normalizedString == "\u{e9}l\u{e9}gat")
        #expect(n.alignments.map { $0.0 } == [0, 0, 2, 3, 3, 5, 6, 8])
        var t = NormalizedText("Hello friend")
        t.transformRange(0..<4, [(0x59, 0)], initialOffset: 3)
        #expect(t.normalizedString == "Yo friend")
        #expect(t.alignments.map { $0.0 } == [3, 4, 5, 6, 7, 8, 9, 10, 11])
        var c = NormalizedText("abc")
        #expect(c.clear() == 3)
        #expect(c.isEmpty && c.original.count == 3)
    }
    @Test func chineseCharsAddedAlignment() {  // HF unit test added_characters_alignment ('野口 No')
        var n = NormalizedText("\u{91ce}\u{53e3} No")
        n.bertHandleChineseChars()
        #expect(n.normalizedString == " \u{91ce}  \u{53e3}  No")
        #expect(n.alignments.map { $0.0 } == [0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 6, 7, 8])
    }
}

@Suite struct NormalizedTextOffsetTests {
    @Test func sliceAfterNFKC() {  // HF unit test `slice`
        var s = NormalizedText("\u{1d53e}\u{1d560}\u{1d560}\u{1d555} \u{1d55e}\u{1d560}\u{1d563}\u{1d55f}\u{1d55a}\u{1d55f}\u{1d558}")
        s.nfkc()
        let o = s.slice(originalRange: 0..<4)!
        #expect(o.normalizedString == "G" && o.originalString == "\u{1d53e}")
        let n = s.slice(normalizedRange: 0..<4)!
        #expect(n.normalizedString == "Good" && n.originalString == "\u{1d53e}\u{1d560}\u{1d560}\u{1d555}")
        #expect(s.slice(normalizedRange: 1..<2) != nil)
        #expect(s.slice(originalRange: 1..<4) == nil)  // not a character boundary
    }
    @Test func sliceKeepsWholeInputOffsets() {  // HF unit test `slice` (strip part) plus originalShift
        var s = NormalizedText("   Good Morning!   ")
        s.strip()
        let all = s.slice(normalizedRange: 0..<s.count)!
        #expect(all.originalRange(forNormalized: 0..<4) == 0..<4)
        #expect(all.originalShift == 3)
        let morning = s.slice(normalizedRange: 5..<12)!
        #expect(morning.normalizedString == "Morning" && morning.originalShift == 8)
        let ning = morning.slice(normalizedRange: 3..<7)!
        #expect(ning.absoluteOriginalRange(forNormalized: 0..<4) == 11..<15)
        let mid = s.slice(originalRange: 4..<15)!
        #expect(mid.originalString == "ood Morning")
    }
    @Test func convertOffsets() {  // HF unit test range_conversion
        var n = NormalizedText("    __Hello__   ")
        n.filter { !CharacterClasses.shared.isWhiteSpace($0) }
        n.lowercase()
        #expect(n.normalizedRange(forOriginal: 6..<11) == 2..<7)
        #expect(n.normalizedRange(forOriginal: 0..<0) == 0..<0)
        #expect(n.normalizedRange(forOriginal: 3..<3) == 3..<3)
        #expect(n.normalizedRange(forOriginal: 15..<16) == 9..<9)
        #expect(n.normalizedRange(forOriginal: 16..<16) == 16..<16)
        #expect(n.originalRange(forNormalized: 2..<7) == 6..<11)
        #expect(n.originalRange(forNormalized: 3..<3) == 3..<3)
        #expect(n.originalRange(forNormalized: 9..<10) == nil)
    }
    @Test func splitBehaviors() {  // HF unit test `split` on 'The-final--countdown' with '-'
        let s = NormalizedText("The-final--countdown")
        let dashes = [3..<4, 9..<10, 10..<11]
        func run(_ b: NormalizedText.SplitBehavior) -> [String] {
            s.split(matches: dashes, behavior: b).map(\.normalizedString)
        }
        #expect(run(.removed) == ["The", "final", "countdown"])
        #expect(run(.isolated) == ["The", "-", "final", "-", "-", "countdown"])
        #expect(run(.mergedWithPrevious) == ["The-", "final-", "-", "countdown"])
        #expect(run(.mergedWithNext) == ["The", "-final", "-", "-countdown"])
        #expect(run(.contiguous) == ["The", "-", "final", "--", "countdown"])
        let parts = s.split(matches: dashes, behavior: .removed)
        #expect(parts.map(\.originalShift) == [0, 4, 11])
    }
}
