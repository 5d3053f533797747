import Testing
import GlossaPatterns
import GlossaUnicode
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Golden splits from HF tokenizers 0.23.3 and tiktoken 0.14 (see make_fixtures.py).
struct GoldenCase {
    let kind: String
    let input: [UInt8]
    let expected: [Range<Int>]
}

func loadGolden() throws -> [GoldenCase] {
    // No Foundation here: it carries its own ICU, which clashes with CICU in one test binary.
    let here = String(#filePath)
    let dir = here[..<(here.lastIndex(of: "/") ?? here.startIndex)]
    let path = String(dir) + "/Fixtures/splits.tsv"
    guard let f = fopen(path, "rb") else { throw FixtureError(path: path) }
    defer { fclose(f) }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let got = fread(&chunk, 1, chunk.count, f)
        if got <= 0 { break }
        data.append(contentsOf: chunk[0..<got])
    }
    let text = String(decoding: data, as: UTF8.self)
    var out: [GoldenCase] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard f.count == 3 else { continue }
        var bytes: [UInt8] = []
        let hex = Array(f[1].utf8)
        var k = 0
        while k + 1 < hex.count {
            bytes.append(UInt8(String(decoding: hex[k...k + 1], as: UTF8.self), radix: 16)!)
            k += 2
        }
        let ranges: [Range<Int>] = f[2].split(separator: ",").map { r in
            let ab = r.split(separator: ":")
            return Int(ab[0])!..<Int(ab[1])!
        }
        out.append(GoldenCase(kind: String(f[0]), input: bytes, expected: ranges))
    }
    return out
}

struct FixtureError: Error { let path: String }

func behaviorFromPython(_ s: Substring) -> SplitBehavior {
    switch s {
    case "removed": return .removed
    case "isolated": return .isolated
    case "merged_with_previous": return .mergedWithPrevious
    case "merged_with_next": return .mergedWithNext
    default: return .contiguous
    }
}

@Test func goldenSplitsMatchReferenceEngines() throws {
    let cases = try loadGolden()
    #expect(cases.count > 4000)
    let splitters: [String: PatternSplitter] = [
        "hf:gpt2": PatternSplitter(.gpt2), "hf:cl100k": PatternSplitter(.cl100k),
        "hf:o200k": PatternSplitter(.o200k), "hf:qwen": PatternSplitter(.qwen),
        "hf:whitespace": PatternSplitter(.whitespace),
        "tiktoken:gpt2Possessive": try PatternSplitter(regex: KnownPattern.gpt2.aliases[0]),
        "tiktoken:cl100kPossessive": PatternSplitter(.cl100kPossessive),
        "tiktoken:o200k": PatternSplitter(.o200k),
    ]
    let wsRegex = PatternSplitter(.whitespace)
    let dash = try PatternSplitter(regex: "-")
    let spaces = try PatternSplitter(regex: #"\s+"#)
    var failures = 0
    var checked = 0
    for c in cases {
        let got: [Range<Int>] = c.input.withUnsafeBufferPointer { buf in
            if let sp = splitters[c.kind] { return sp.matches(in: buf) }
            let parts = c.kind.split(separator: ":")
            switch parts[0] {
            case "split":
                let sp = parts[1] == "ws" ? wsRegex : (parts[1] == "dash" ? dash : spaces)
                return sp.split(buf, behavior: behaviorFromPython(parts[2]), invert: parts[3] == "1")
            case "punctuation": return CharSplitters.punctuation(buf, behavior: behaviorFromPython(parts[1]))
            case "whitespaceSplit": return CharSplitters.whitespaceSplit(buf)
            case "whitespacePre": return CharSplitters.whitespace(buf)
            case "bert": return CharSplitters.bert(buf)
            case "digits": return CharSplitters.digits(buf, individualDigits: parts[1] == "1")
            case "charDelimiter": return CharSplitters.charDelimiter(buf, delimiter: Unicode.Scalar(String(parts[1]))!)
            default:
                Issue.record("unknown fixture case \(c.kind)")
                return []
            }
        }
        checked += 1
        if got != c.expected {
            failures += 1
            if failures <= 10 {
                let s = escaped(String(decoding: c.input, as: UTF8.self))
                Issue.record("\(c.kind) on \"\(s)\"\n got      \(got)\n expected \(c.expected)")
            }
        }
    }
    #expect(failures == 0, "\(failures) of \(checked) golden cases differ")
}

@Test func hfSplitBehaviorExamples() throws {
    // tokenizers/src/pre_tokenizers/split.rs `basic` (invert = true on the Whitespace regex).
    let sp = try PatternSplitter(regex: #"\w+|[^\w\s]+"#)
    let s = "How are you doing?"
    #expect(sp.split(s, behavior: .removed, invert: true) == [0..<3, 4..<7, 8..<11, 12..<17, 17..<18])
    #expect(sp.split(s, behavior: .isolated, invert: true)
            == [0..<3, 3..<4, 4..<7, 7..<8, 8..<11, 11..<12, 12..<17, 17..<18])
    #expect(sp.split(s, behavior: .mergedWithPrevious, invert: true) == [0..<4, 4..<8, 8..<12, 12..<17, 17..<18])
    #expect(sp.split(s, behavior: .mergedWithNext, invert: true) == [0..<3, 3..<7, 7..<11, 11..<17, 17..<18])
    #expect(sp.split(s, behavior: .contiguous, invert: true) == [0..<3, 3..<4, 4..<7, 7..<8, 8..<11, 11..<12, 12..<18])
    // normalizer.rs doc: splitting "the-final--countdown" on '-'.
    let dash = try PatternSplitter(regex: "-")
    let t = "the-final--countdown"
    #expect(dash.split(t, behavior: .removed) == [0..<3, 4..<9, 11..<20])
    #expect(dash.split(t, behavior: .isolated) == [0..<3, 3..<4, 4..<9, 9..<10, 10..<11, 11..<20])
    #expect(dash.split(t, behavior: .mergedWithPrevious) == [0..<4, 4..<10, 10..<11, 11..<20])
    #expect(dash.split(t, behavior: .mergedWithNext) == [0..<3, 3..<9, 9..<10, 10..<20])
    #expect(dash.split(t, behavior: .contiguous) == [0..<3, 3..<4, 4..<9, 9..<11, 11..<20])
    #expect(SplitBehavior(json: "MergedWithNext") == .mergedWithNext)
    #expect(SplitBehavior.contiguous.json == "Contiguous")
}

@Test func possessiveCl100kDiffersOnlyAtTheEnd() {
    let classic = PatternSplitter(.cl100k), possessive = PatternSplitter(.cl100kPossessive)
    #expect(classic.matches(in: "a\n  ") == [0..<1, 1..<2, 2..<4])
    #expect(possessive.matches(in: "a\n  ") == [0..<1, 1..<4])
    #expect(classic.matches(in: "a\n  b") == possessive.matches(in: "a\n  b"))
}

@Test func hfPunctuationUsesItsOwnOldTables() {
    #expect(CharSplitters.isPunctuation(0x21) && CharSplitters.isPunctuation(0x24) && !CharSplitters.isPunctuation(0x41))
    #expect(CharSplitters.isPunctuation(0xA1) && CharSplitters.isPunctuation(0x3002))
    #expect(CharSplitters.isPunctuation(0x166D))   // So since Unicode 10, still punctuation in HF
    #expect(!CharSplitters.isPunctuation(0x061D))  // Po since Unicode 14.0, unknown to HF
    #expect(!CharSplitters.isPunctuation(0x2E43))
    let r = CharSplitters.hfPunctuationRanges
    #expect(zip(r, r.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound })
}
