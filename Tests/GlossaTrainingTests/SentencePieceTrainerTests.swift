import Foundation
import GlossaTokenizers
import GlossaTraining
import XCTest

final class SentencePieceTrainerTests: XCTestCase {
    static let text = String(repeating: """
        the lower newest widest lowest, the newer wider: 12 34 1234.
        Привет мир, привет всем! Мир и мир.
        日本語のテキストと中文文本。
        über naïve café — déjà vu.

        """, count: 30)

    func train(_ text: String, vocab: Int, threads: Int = 1,
               configure: (inout SentencePieceTrainingOptions) -> Void = { _ in }) throws -> BPETrainingResult {
        var o = SentencePieceTrainingOptions(vocabSize: vocab)
        o.threads = threads
        configure(&o)
        return try SentencePieceTrainer.train(sources: [CorpusSource(name: "mem", bytes: Array(text.utf8))], options: o)
    }

    func strings(_ r: BPETrainingResult) -> [String] { r.tokens.map { String(decoding: $0, as: UTF8.self) } }

    /// `<unk> <s> </s>`, then `<0x00>`…`<0xFF>`, then characters by frequency ("▁" first), then merges; the
    /// vocabulary size counts everything.
    func testLayout() throws {
        let r = try train(Self.text, vocab: 360)
        let s = strings(r)
        XCTAssertEqual(Array(s.prefix(4)), ["<unk>", "<s>", "</s>", "<0x00>"])
        XCTAssertEqual(s[258], "<0xFF>")
        XCTAssertEqual(s[259], "▁")
        XCTAssertEqual(s.count, 360)
        XCTAssertEqual(r.tokenizer.vocabularySize, 360)
        XCTAssertEqual(Set(s).count, s.count)
        XCTAssertEqual(r.specialIds, [0, 1, 2])
        XCTAssertFalse(r.merges.isEmpty)
    }

    /// SentencePiece piece rules: "▁" only first, one script per piece, at most max_sentencepiece_length.
    func testPieceValidity() throws {
        let r = try train(Self.text, vocab: 600) { $0.maxPieceLength = 5 }
        let alphabetEnd = 259 + Int(r.statistics.alphabetSize)
        for piece in strings(r)[alphabetEnd...] {
            let chars = Array(piece.unicodeScalars)
            XCTAssertLessThanOrEqual(chars.count, 5, piece)
            XCTAssertFalse(chars.dropFirst().contains("▁"), piece)
            let body = chars.filter { $0 != "▁" }
            let hasLetter = body.contains { $0.properties.isAlphabetic }
            let hasPunctOrDigit = body.contains { $0.properties.generalCategory == .otherPunctuation
                || $0.properties.generalCategory == .decimalNumber }
            XCTAssertFalse(hasLetter && hasPunctOrDigit, "piece mixes scripts: \(piece)")
            let latin = body.contains { $0.value < 0x250 && $0.properties.isAlphabetic }
            let cyrillic = body.contains { (0x400 ..< 0x500).contains($0.value) }
            XCTAssertFalse(latin && cyrillic, piece)
        }
    }

    /// Characters below the coverage get no piece; byte fallback encodes them and decoding is lossless.
    func testCharacterCoverageAndByteFallback() throws {
        let text = String(repeating: "aaaa bbbb abab baba\n", count: 200) + "ζ\n"
        let r = try train(text, vocab: 270) { $0.characterCoverage = 0.999 }
        XCTAssertNil(r.tokenizer.id(of: "ζ"))
        let enc = try r.tokenizer.encode("ab ζ")
        let bytes = "ζ".utf8.map { String(format: "<0x%02X>", $0) }
        for b in bytes { XCTAssertTrue(enc.ids.contains(r.tokenizer.id(of: b)!), b) }
        XCTAssertEqual(r.tokenizer.decode(enc.ids), "ab ζ")
        let all = try train(text, vocab: 270) { $0.characterCoverage = 1 }
        XCTAssertNotNil(all.tokenizer.id(of: "ζ"))
        let noFallback = try train(text, vocab: 20) { $0.characterCoverage = 0.999; $0.byteFallback = false }
        XCTAssertNil(noFallback.tokenizer.id(of: "<0x41>"))
        XCTAssertEqual(try noFallback.tokenizer.encode("ζ").ids.last, 0)   // <unk>
    }

    /// NFKC and the Metaspace pipeline: what the trainer saw is what the tokenizer encodes.
    func testPipelineRoundTrip() throws {
        let r = try train(Self.text, vocab: 500)
        let json = try r.tokenizer.huggingFaceJSON()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("glossa-sp-rt-\(getpid()).json").path
        try Data(json).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try Tokenizer.load(path: path)
        XCTAssertEqual(try t.huggingFaceJSON(), json)
        for line in ["the lowest newer", "Привет мир!", "日本語のテキスト", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ"] {
            let ids = try t.encode(line).ids
            let nfkc = line.precomposedStringWithCompatibilityMapping
            XCTAssertEqual(t.decode(ids), nfkc, line)
        }
        let ids = try t.encode("the lower").ids
        XCTAssertEqual(ids.map { t.token(of: $0)! }.first?.hasPrefix("▁"), true)
    }

    /// Meta pieces in the text are never learned as normal pieces (SentencePiece escapes them).
    func testMetaPiecesEscaped() throws {
        let r = try train(String(repeating: "<s> hello </s> <0x41> <unk> [MASK]\n", count: 50), vocab: 300) {
            $0.specialTokens = ["[MASK]"]
        }
        let s = strings(r)
        XCTAssertEqual(s[3], "[MASK]")
        XCTAssertEqual(Set(s).count, s.count)
        XCTAssertFalse(s.dropFirst(260).contains { $0.contains("<s") || $0.contains("0x41") || $0.contains("MASK") })
    }

    func testThreadCountInvariance() throws {
        let big = String(repeating: Self.text, count: 8)
        let a = try train(big, vocab: 500, threads: 1)
        for threads in [2, 5] {
            var o = SentencePieceTrainingOptions(vocabSize: 500)
            o.threads = threads
            let b = try SentencePieceTrainer.train(sources: [CorpusSource(name: "mem", bytes: Array(big.utf8))], options: o)
            XCTAssertEqual(try a.tokenizer.huggingFaceJSON(), try b.tokenizer.huggingFaceJSON())
        }
    }

    func testErrors() throws {
        XCTAssertThrowsError(try train("", vocab: 300)) { XCTAssertEqual($0 as? TrainingError, .emptyCorpus) }
        XCTAssertThrowsError(try train("\n\n", vocab: 300)) { XCTAssertEqual($0 as? TrainingError, .emptyCorpus) }
        XCTAssertThrowsError(try train("abc\n", vocab: 100)) {
            guard case .invalidOption(let m)? = $0 as? TrainingError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("use at least 263"), m)
        }
        XCTAssertThrowsError(try train("abc\n", vocab: 300) { $0.characterCoverage = 0 })
        var bytes = Array("line one\nline two\nline three\n".utf8)
        bytes.insert(0xFF, at: 14)
        for threads in [1, 3] {
            var o = SentencePieceTrainingOptions(vocabSize: 300)
            o.threads = threads
            XCTAssertThrowsError(try SentencePieceTrainer.train(sources: [CorpusSource(name: "bad.txt", bytes: bytes)], options: o)) {
                XCTAssertEqual($0 as? TrainingError, .invalidUTF8(path: "bad.txt", line: 2))
            }
        }
    }
}
