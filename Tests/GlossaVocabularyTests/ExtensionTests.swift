import Foundation
import GlossaTokenizers
import GlossaTraining
import XCTest
import GlossaVocabulary
import GlossaFormats

/// Paths into ../shared (the read-only corpora and tokenizers next to the project).
enum Shared {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared").path
    static func path(_ p: String) -> String { root + "/" + p }
    static func lines(_ p: String, _ n: Int) throws -> [[UInt8]] {
        Array(try TextLines.read(path(p)).prefix(n))
    }
}

final class ExtensionTests: XCTestCase {
    /// Checks the invariants every extension must keep.
    func assertAppendOnly(_ r: ExtensionResult, file: StaticString = #filePath, line: UInt = #line) throws {
        guard case .bpe(let ext) = r.tokenizer.model else { return XCTFail("not BPE", file: file, line: line) }
        let base = r.base
        // Base ids unchanged.
        for i in 0..<base.tokens.count where !base.holes.contains(i) {
            XCTAssertEqual(ext.vocabulary.token(Int32(i)), base.tokens[i], "id \(i) changed", file: file, line: line)
        }
        // Base merges unchanged and first; new merges after them.
        XCTAssertEqual(ext.merges.count, base.merges.count + r.newMerges.count, file: file, line: line)
        for (k, m) in base.merges.enumerated() where ext.merges[k] != (m.0, m.1) {
            return XCTFail("merge #\(k) changed", file: file, line: line)
        }
        for (k, m) in r.newMerges.enumerated() {
            XCTAssertTrue(ext.merges[base.merges.count + k] == (m.0, m.1), file: file, line: line)
            XCTAssertGreaterThanOrEqual(Int(m.2), base.firstNewId, file: file, line: line)
        }
        // New ids contiguous from the first free id.
        let ids = r.manifest.tokens.map(\.id)
        XCTAssertEqual(ids, Array(base.firstNewId..<(base.firstNewId + ids.count)), file: file, line: line)
        // Every new token is reachable: its own bytes, as one pre-token, encode to it.
        var scratch = BPEScratch()
        for t in r.manifest.tokens {
            let key = ext.modelKey(Int32(t.id))!
            var out: [Int32] = [], offs: [ByteSpan] = []
            key.withUnsafeBufferPointer { ext.tokenize($0.baseAddress!, $0.count, base: 0, ids: &out, offsets: &offs, scratch: &scratch) }
            XCTAssertEqual(out, [Int32(t.id)], "token \(t.id) \(t.surface) is not reachable", file: file, line: line)
            // The manifest's base decomposition spells the same bytes.
            let spelled = t.baseIds.flatMap { id -> [UInt8] in
                if let b = base.fallbackIds.firstIndex(of: Int32(id)) { return [UInt8(b)] }
                return base.model.modelKey(Int32(id)) ?? []
            }
            XCTAssertEqual(spelled, key, "base_ids of \(t.id)", file: file, line: line)
        }
    }

    func testGPT2ContinueRussian() throws {
        let base = try ExtensionBase.load(path: Shared.path("tokenizers/gpt2/encoder.json"))
        XCTAssertEqual(base.kind, .byteLevel)
        XCTAssertEqual(base.format, .gpt2Files)
        XCTAssertEqual(base.firstNewId, 50257)
        XCTAssertEqual(base.merges.count, 50000)
        let corpus = try Shared.lines("corpora/ru/train.txt", 3000)
        var o = ExtensionOptions(add: 400)
        o.protectLines = try Shared.lines("corpora/en/heldout.txt", 300)
        let r = try VocabularyExtender.extend(base: base, corpus: corpus, options: o)
        XCTAssertEqual(r.manifest.tokens.count, 400)
        try assertAppendOnly(r)
        // Whole-text reachability through the full pipeline for tokens that are complete characters.
        var state = EncoderState()
        var checked = 0
        for t in r.manifest.tokens where String(validating: t.bytes, as: UTF8.self) != nil {
            let ids = try r.tokenizer.encodeIds(bytes: t.bytes, specialTokens: .text, state: &state)
            XCTAssertEqual(ids, [Int32(t.id)], "surface \(t.surface)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 300)
        // Fewer tokens on held-out Russian; English only reported.
        let held = try Shared.lines("corpora/ru/heldout.txt", 300)
        let before = try VocabularyExtender.compare(base: base.tokenizer, extended: r.tokenizer, lines: held)
        XCTAssertLessThan(Double(before.extendedTokens), 0.8 * Double(before.baseTokens))
        XCTAssertNotNil(r.protect)

        // The written tokenizer.json reloads with identical ids.
        let dir = NSTemporaryDirectory() + "glossa-ext-test-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ExtensionOutput.write(try ExtensionOutput.files(r), directory: dir)
        let hf = try Tokenizer.load(path: dir + "/tokenizer.json")
        var s1 = EncoderState(), s2 = EncoderState()
        for l in held {
            let a = try r.tokenizer.encodeIds(bytes: l, specialTokens: .text, state: &s1)
            XCTAssertEqual(try hf.encodeIds(bytes: l, specialTokens: .text, state: &s2), a)
        }
        XCTAssertEqual(ExtensionManifest.baseVocabSize(path: dir + "/extension.json"), 50257)
        let stats = try AnalyzedTokenizer.load(path: dir).measure(held)
        XCTAssertGreaterThan(stats.newTokens, 0)
    }

    /// From an alphabet-only base, resuming BPE is plain BPE training: the merges must be HF BpeTrainer's
    /// (GlossaTraining reproduces those decision for decision), in the same order.
    func testContinueFromAlphabetEqualsTraining() throws {
        let lines = try Shared.lines("corpora/en/heldout.txt", 2000)
        var text: [UInt8] = []
        for l in lines { text += l; text.append(0x0A) }
        let alphabetOnly = try BPETrainer.train(sources: [CorpusSource(name: "en", bytes: text)], options: BPETrainingOptions(vocabSize: 256))
        let full = try BPETrainer.train(sources: [CorpusSource(name: "en", bytes: text)], options: BPETrainingOptions(vocabSize: 256 + 300))
        let base = try ExtensionBase.fromHuggingFace(alphabetOnly.tokenizer, path: "alphabet")
        XCTAssertEqual(base.merges.count, 0)
        var o = ExtensionOptions(add: 300)
        o.minFrequency = 0
        let r = try VocabularyExtender.extend(base: base, corpus: lines, options: o)
        XCTAssertEqual(r.statistics.skippedUnreachable, 0)
        let want = full.merges.map { full.tokens[Int($0.0)] + [0x20] + full.tokens[Int($0.1)] }
        guard case .bpe(let m) = r.tokenizer.model else { return XCTFail() }
        let got = m.merges.map { (m.vocabulary.token($0.0) ?? []) + [0x20] + (m.vocabulary.token($0.1) ?? []) }
        // Lines are fed without their newline here and with it to the trainer: only pairs next to "\n" could
        // differ, and on this text none does.
        let same = zip(want, got).prefix { $0 == $1 }.count
        print("continue from the alphabet: first \(same) of \(want.count) merges identical to the trainer's")
        XCTAssertEqual(same, want.count, "first difference at merge \(same)")
    }

    func testProtectForbid() throws {
        let base = try ExtensionBase.load(path: Shared.path("tokenizers/gpt2/encoder.json"))
        let corpus = try Shared.lines("corpora/de/train.txt", 3000)
        var o = ExtensionOptions(add: 300)
        // Protecting part of the target text itself: the most frequent pairs are then refused.
        o.protectLines = Array(corpus.prefix(300)) + (try Shared.lines("corpora/en/heldout.txt", 300))
        let reported = try VocabularyExtender.extend(base: base, corpus: corpus, options: o)
        XCTAssertGreaterThan(reported.protect!.changedLines, 100)
        o.protect = .forbid
        let r = try VocabularyExtender.extend(base: base, corpus: corpus, options: o)
        try assertAppendOnly(r)
        XCTAssertEqual(r.protect?.changedLines, 0)
        XCTAssertGreaterThan(r.statistics.skippedProtected, 0)
    }

    func testMergeMethod() throws {
        let base = try ExtensionBase.load(path: Shared.path("tokenizers/gpt2/encoder.json"))
        var o = ExtensionOptions(add: 200)
        o.method = .merge
        let r = try VocabularyExtender.extend(base: base, corpus: try Shared.lines("corpora/ru/train.txt", 2000), options: o)
        XCTAssertEqual(r.manifest.tokens.count, 200)
        try assertAppendOnly(r)
    }

    func testSentencePieceStyleMistralKorean() throws {
        let base = try ExtensionBase.load(path: Shared.path("tokenizers/mistral-7b-v0.3/tokenizer.json"))
        XCTAssertEqual(base.kind, .sentencePiece)
        XCTAssertEqual(base.fallbackIds.count, 256)
        let r = try VocabularyExtender.extend(base: base, corpus: try Shared.lines("corpora/ko/train.txt", 3000),
                                              options: ExtensionOptions(add: 300))
        XCTAssertEqual(r.manifest.tokens.count, 300)
        XCTAssertGreaterThan(r.statistics.newCharacters, 0)
        // Mistral splits digits (no multi-character token holds one): the extension keeps them apart.
        XCTAssertFalse(r.manifest.tokens.contains { t in t.bytes.contains { $0 >= 0x30 && $0 <= 0x39 } })
        try assertAppendOnly(r)
        let held = try Shared.lines("corpora/ko/heldout.txt", 200)
        let c = try VocabularyExtender.compare(base: base.tokenizer, extended: r.tokenizer, lines: held)
        XCTAssertLessThan(c.extendedTokens, c.baseTokens)
        // tokenizer.json round trip.
        let json = try r.tokenizer.huggingFaceJSON()
        let path = NSTemporaryDirectory() + "glossa-ext-sp-\(getpid()).json"
        defer { unlink(path) }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(json)))
        let back = try Tokenizer.load(path: path)
        var s1 = EncoderState(), s2 = EncoderState()
        for l in held {
            XCTAssertEqual(try back.encodeIds(bytes: l, specialTokens: .text, state: &s1),
                           try r.tokenizer.encodeIds(bytes: l, specialTokens: .text, state: &s2))
        }
    }

    /// Llama-3's specials sit past its model vocabulary (128000…128256): new ids follow them, and the written
    /// vocab holds the specials at their ids (HF would otherwise give them `vocab.len()` on load).
    func testLlama3AddedTokensKeepTheirIds() throws {
        let base = try ExtensionBase.load(path: Shared.path("tokenizers/llama3.2/tokenizer.json"))
        XCTAssertEqual(base.tokens.count, 128000)
        XCTAssertEqual(base.firstNewId, 128257)
        let r = try VocabularyExtender.extend(base: base, corpus: try Shared.lines("corpora/ko/train.txt", 1500),
                                              options: ExtensionOptions(add: 100))
        try assertAppendOnly(r)
        XCTAssertEqual(r.manifest.tokens.first?.id, 128257)
        guard case .bpe(let m) = r.tokenizer.model else { return XCTFail() }
        XCTAssertEqual(m.vocabulary.id(of: "<|begin_of_text|>"), 128000)
        XCTAssertEqual(m.vocabulary.id(of: "<|eot_id|>"), 128009)
        let path = NSTemporaryDirectory() + "glossa-ext-l3-\(getpid()).json"
        defer { unlink(path) }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(try r.tokenizer.huggingFaceJSON())))
        let back = try Tokenizer.load(path: path)
        XCTAssertEqual(back.id(of: "<|begin_of_text|>"), 128000)
        var st = EncoderState()
        let ids = try back.encodeIds(bytes: Array("<|begin_of_text|>안녕하세요".utf8), specialTokens: .allowed, state: &st)
        XCTAssertEqual(ids.first, 128000)
    }

    func testErrors() throws {
        // Unextendable types name themselves.
        XCTAssertThrowsError(try ExtensionBase.load(path: Shared.path("tokenizers/all-MiniLM-L6-v2-wordpiece/tokenizer.json"))) { e in
            XCTAssertTrue("\(e)".contains("WordPiece"), "\(e)")
        }
        XCTAssertThrowsError(try ExtensionBase.load(path: Shared.path("tokenizers/cl100k_base/cl100k_base.tiktoken"))) { e in
            XCTAssertTrue("\(e)".contains("tiktoken"), "\(e)")
        }
        XCTAssertThrowsError(try ExtensionBase.load(path: Shared.path("tokenizers/llama2-sentencepiece/tokenizer.model"))) { e in
            XCTAssertTrue("\(e)".contains("SentencePiece"), "\(e)")
        }
        let base = try ExtensionBase.load(path: Shared.path("tokenizers/gpt2/encoder.json"))
        let tiny: [[UInt8]] = [Array("Привет, мир. Привет!".utf8)]
        var o = ExtensionOptions(add: 5)
        o.minFrequency = 1000
        XCTAssertThrowsError(try VocabularyExtender.extend(base: base, corpus: tiny, options: o)) { e in
            guard case VocabularyError.nothingToAdd = e else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("--min-frequency"))
        }
        o = ExtensionOptions(add: 10_000)
        XCTAssertThrowsError(try VocabularyExtender.extend(base: base, corpus: tiny, options: o)) { e in
            guard case let VocabularyError.tooFew(req, avail, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(req, 10_000)
            XCTAssertGreaterThan(avail, 0)
            XCTAssertTrue("\(e)".contains("more than this corpus supports"))
        }
        // No partial output: a failing write leaves no file behind.
        let dir = NSTemporaryDirectory() + "glossa-ext-fail-\(getpid())"
        XCTAssertTrue(FileManager.default.createFile(atPath: dir, contents: Data()))   // a file where a directory is expected
        defer { unlink(dir) }
        XCTAssertThrowsError(try ExtensionOutput.write([("tokenizer.json", [1])], directory: dir))
    }
}

final class AnalyticsTests: XCTestCase {
    func testWordCount() {
        XCTAssertEqual(WordCount.count(Array("Hello, big  world".utf8)).0, 3)
        XCTAssertEqual(WordCount.count(Array("東京は大きい".utf8)).0, 6)   // Han and kana: one word per character
        XCTAssertEqual(WordCount.count(Array("서울 특별시".utf8)).0, 2)
        XCTAssertEqual(WordCount.count(Array("añb".utf8)).1, 3)
    }

    func testMeasureAndParity() throws {
        let gpt2 = try AnalyzedTokenizer.load(path: Shared.path("tokenizers/gpt2/encoder.json"), label: "gpt2")
        let mistral = try AnalyzedTokenizer.load(path: Shared.path("tokenizers/mistral-7b-v0.3/tokenizer.json"), label: "mistral")
        let dir = Shared.path("corpora/parallel/ntrex128")
        let en = Array(try TextLines.read(dir + "/eng-US.txt").prefix(100))
        let ru = Array(try TextLines.read(dir + "/rus.txt").prefix(100))
        let rows = try StatisticsReport.run(tokenizers: [gpt2, mistral], texts: [("eng-US", en), ("rus", ru)], reference: "eng-US")
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows[0].parity, 1)
        XCTAssertGreaterThan(rows[1].parity!, 2)              // GPT-2 spends far more on Russian
        XCTAssertGreaterThan(rows[1].statistics.fallbackRate, 0.3) // byte pieces of Cyrillic letters
        XCTAssertEqual(rows[2].statistics.fallbackTokens, 0)
        XCTAssertEqual(rows[0].statistics.lineTokens.reduce(0, +), rows[0].statistics.tokens)
        let table = StatisticsReport.table(rows)
        XCTAssertTrue(table.contains("parity"))
        let svg = BarChart.from(rows, metric: .parity).svg()
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertEqual(svg.components(separatedBy: "<title>").count - 1, 4)
        XCTAssertTrue(StatisticsReport.pivot(rows, metric: .tokensPerWord).contains("| rus |"))
    }
}
