import Testing
@testable import GlossaTokenizers

/// `LiteralMatcher` (added tokens) against a plain search: leftmost match, longest among those starting there, the
/// first pattern for identical contents; patterns at every offset of the eight-byte words the scan reads.
@Suite struct LiteralMatcherTests {
    static func reference(_ t: [UInt8], _ patterns: [([UInt8], Int)], from: Int) -> (Int, Int, Int)? {
        var i = from
        while i < t.count {
            var best: (Int, Int, Int)?
            for (p, payload) in patterns where !p.isEmpty && i + p.count <= t.count && Array(t[i..<(i + p.count)]) == p {
                if best == nil || i + p.count > best!.1 { best = (i, i + p.count, payload) }
            }
            if let best { return best }
            i += 1
        }
        return nil
    }

    static func matches(_ m: LiteralMatcher, _ t: [UInt8]) -> [[Int]] {
        t.withUnsafeBufferPointer { buf in
            var out: [[Int]] = [], pos = 0
            while let (s, e, p) = m.nextMatch(buf, from: pos) { out.append([s, e, p]); pos = e }
            return out
        }
    }

    static func referenceMatches(_ patterns: [([UInt8], Int)], _ t: [UInt8]) -> [[Int]] {
        var out: [[Int]] = [], pos = 0
        while let (s, e, p) = reference(t, patterns, from: pos) { out.append([s, e, p]); pos = e }
        return out
    }

    // One first byte, two, four (the most the word scan takes), six (byte at a time), and three with the high bit
    // set in two ("▁", "ÿ").
    static let sets: [[String]] = [
        ["<|begin|>", "<|end|>", "<s>", "<"],
        ["<s>", "</s>", "<unk>", "[INST]", "[/INST]", "[control_1]", "[control_12]", "<s>"],
        ["<a", "[b", "{c", "(d", "<ab", "{"],
        ["<a", "[b", "{c", "(d", "#x", "@@", "a<"],
        ["\u{2581}x", "\u{2581}\u{2581}", "ÿÿ", "<|end|>"],
    ]

    @Test(arguments: 0..<5) func agreesWithAPlainSearch(_ set: Int) {
        let patterns = Self.sets[set].enumerated().map { (Array($1.utf8), $0) }
        let m = LiteralMatcher(patterns)
        var x = UInt64(set) &+ 7
        func next() -> UInt64 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return x >> 33 }
        let filler = Array("abc <[{(#@x/INST]\u{2581}ÿ\n".utf8)
        for length in 0..<48 {
            for _ in 0..<40 {
                var t = (0..<length).map { _ in filler[Int(next() % UInt64(filler.count))] }
                // A pattern at every offset modulo the scan's word.
                if length > 0 {
                    let p = patterns[Int(next() % UInt64(patterns.count))].0
                    let at = Int(next() % UInt64(length))
                    t.replaceSubrange(at..<min(length, at + p.count), with: p)
                }
                #expect(Self.matches(m, t) == Self.referenceMatches(patterns, t), "text \(t)")
            }
        }
    }
}
