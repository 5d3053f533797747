import Foundation
import GlossaTokenizers
import GlossaTraining
import Testing
import XCTest

final class BPETrainerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared").standardized

    func train(_ text: String, vocab: Int, specials: [String] = [], threads: Int = 1,
               configure: (inout BPETrainingOptions) -> Void = { _ in }) throws -> BPETrainingResult {
        var o = BPETrainingOptions(vocabSize: vocab)
        o.specialTokens = specials
        o.threads = threads
        configure(&o)
        return try BPETrainer.train(sources: [CorpusSource(name: "mem", bytes: Array(text.utf8))], options: o)
    }

    func mergeStrings(_ r: BPETrainingResult) -> [String] {
        r.merges.map { String(decoding: r.tokens[Int($0.0)], as: UTF8.self) + " " + String(decoding: r.tokens[Int($0.1)], as: UTF8.self) }
    }

    /// HF golden: first 2,000 lines of shared/corpora/en/heldout.txt, vocab 500 (Fixtures/make_golden.py).
    func testGoldenMergesAgainstHF() throws {
        let corpus = Self.shared.appendingPathComponent("corpora/en/heldout.txt")
        guard let data = FileManager.default.contents(atPath: corpus.path) else {
            throw XCTSkip("\(corpus.path) not available")
        }
        var lines = 0, end = 0
        for (i, b) in data.enumerated() where b == 0x0A {
            lines += 1
            if lines == 2000 { end = i + 1; break }
        }
        let sample = Array(data.prefix(end))
        var o = BPETrainingOptions(vocabSize: 500)
        o.specialTokens = ["<|endoftext|>"]
        o.threads = 2
        let r = try BPETrainer.train(sources: [CorpusSource(name: "heldout-2000", bytes: sample)], options: o)
        let golden = try String(contentsOf: Self.fixtures.appendingPathComponent("hf_en_heldout2000_v500.merges.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        XCTAssertEqual(golden.count, 243)
        let mine = mergeStrings(r)
        let first = zip(golden, mine).enumerated().first { $0.element.0 != $0.element.1 }
        XCTAssertNil(first, "first differing merge: \(String(describing: first))")
        XCTAssertEqual(mine.count, golden.count)
        XCTAssertEqual(r.tokenizer.vocabularySize, 500)
        XCTAssertEqual(r.tokenizer.id(of: "<|endoftext|>"), 0)
        XCTAssertEqual(r.tokenizer.token(of: 1), "!")
    }

    /// Ids: specials first, then the 256 byte characters by code point (GPT-2's ids 0–255 shifted), then merges.
    func testIdAssignment() throws {
        let r = try train("hello hello hello world\n", vocab: 262, specials: ["<s>", "</s>"])
        XCTAssertEqual(r.tokens[0], Array("<s>".utf8))
        XCTAssertEqual(r.tokens[1], Array("</s>".utf8))
        XCTAssertEqual(String(decoding: r.tokens[2], as: UTF8.self), "!")
        XCTAssertEqual(String(decoding: r.tokens[2 + 93], as: UTF8.self), "~")
        XCTAssertEqual(String(decoding: r.tokens[2 + 188], as: UTF8.self), "Ā")
        XCTAssertEqual(r.tokens.count, 262)
        // "hello" ×2 with a space prefix, ×1 without; "world" with a space: (l, l) and (Ġ, h)… the top pair
        // is counted over overlapping windows; (h,e), (e,l), (l,l), (l,o) tie at 3 and the smallest ids win.
        XCTAssertEqual(mergeStrings(r).first, "e l")
    }

    /// Deterministic for any thread count, byte for byte.
    func testThreadCountInvariance() throws {
        var text = ""
        var x: UInt64 = 12345
        for _ in 0 ..< 3000 {
            var line = ""
            for _ in 0 ..< 12 {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                let len = Int(x >> 60) % 6 + 1
                line += String((0 ..< len).map { i in Character(Unicode.Scalar(UInt8(97 + Int((x >> UInt64(8 + 4 * i)) % 7)))) }) + " "
            }
            text += line + "\n"
        }
        let a = try train(text, vocab: 600, threads: 1).tokenizer.huggingFaceJSON()
        let b = try train(text, vocab: 600, threads: 3).tokenizer.huggingFaceJSON()
        let c = try train(text, vocab: 600, threads: 7).tokenizer.huggingFaceJSON()
        XCTAssertEqual(a, b)
        XCTAssertEqual(a, c)
    }

    /// A naive re-implementation (recount every pair each step; tokenizers.md §4 and §9.4) agrees on a small corpus.
    func testMatchesNaiveReference() throws {
        let text = "the cat sat on the mat\nthe rat ate the mat\naaaa aaa bbb abab\n" + String(repeating: "banana bandana\n", count: 3)
        let r = try train(text, vocab: 256 + 30)
        // Naive: words = GPT-2 pieces of each line (here: words with their leading space, and "\n").
        var counts: [[UInt8]: Int] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            var first = true
            for w in line.split(separator: " ") {
                let piece = (first ? "" : " ") + w
                counts[Array(piece.utf8), default: 0] += 1
                first = false
            }
            counts[[0x0A], default: 0] += 1
        }
        let alphabet = (0 ..< 256).map { UInt8($0) }
        let order = alphabet.sorted { byteChar($0) < byteChar($1) }
        var id: [UInt8: Int] = [:]
        for (i, b) in order.enumerated() { id[b] = i }
        var tokens = order.map { [$0] }
        var words = counts.map { (w: $0.key.map { id[$0]! }, c: $0.value) }
        var naive: [String] = []
        while tokens.count < 256 + 30 {
            var pc: [[Int]: Int] = [:]
            for (w, c) in words { if w.count > 1 { for k in 1 ..< w.count { pc[[w[k - 1], w[k]], default: 0] += c } } }
            guard let best = pc.max(by: { $0.value != $1.value ? $0.value < $1.value : ($0.key[0], $0.key[1]) > ($1.key[0], $1.key[1]) }) else { break }
            let merged = tokens[best.key[0]] + tokens[best.key[1]]
            let nid = tokens.firstIndex(of: merged) ?? tokens.count
            if nid == tokens.count { tokens.append(merged) }
            naive.append(render(tokens[best.key[0]]) + " " + render(tokens[best.key[1]]))
            for i in words.indices {
                var w = words[i].w, k = 0
                while k < w.count - 1 {
                    if w[k] == best.key[0] && w[k + 1] == best.key[1] { w.replaceSubrange(k ... k + 1, with: [nid]) }
                    k += 1
                }
                words[i].w = w
            }
        }
        XCTAssertEqual(mergeStrings(r), naive)
    }

    func byteChar(_ b: UInt8) -> UInt32 {
        let selfMapped = (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b)
        if selfMapped { return UInt32(b) }
        var n: UInt32 = 0
        for x in 0 ..< Int(b) {
            let y = UInt8(x)
            if !((0x21 ... 0x7E).contains(y) || (0xA1 ... 0xAC).contains(y) || (0xAE ... 0xFF).contains(y)) { n += 1 }
        }
        return 256 + n
    }

    func render(_ bytes: [UInt8]) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar(byteChar($0))! }))
    }

    func testMinFrequencyAndMaxTokenLength() throws {
        let text = String(repeating: "abcdefgh abcdefgh xy\n", count: 5)
        let r = try train(text, vocab: 400) { $0.minFrequency = 6 }
        // Only pairs seen ≥ 6 times: inside "abcdefgh" (10×) and " a" etc., never "xy" (5×).
        XCTAssertFalse(mergeStrings(r).contains("x y"))
        let m = try train(text, vocab: 400) { $0.maxTokenLength = 3 }
        for t in m.tokens.dropFirst(256) {
            XCTAssertLessThanOrEqual(String(decoding: t, as: UTF8.self).unicodeScalars.count, 3)
        }
    }

    func testJSONLAndGzipAndFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glossa-train-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = "one two three two one\nfour five four\n"
        let txt = dir.appendingPathComponent("a.txt")
        try Data(text.utf8).write(to: txt)
        var o = BPETrainingOptions(vocabSize: 270)
        o.threads = 2
        let plain = try BPETrainer.train(sources: [CorpusSource(path: txt.path)], options: o)

        // gzip (made with the system gzip when available): identical result.
        let gz = dir.appendingPathComponent("a.txt.gz")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-k", "-f", txt.path]
        if (try? p.run()) != nil {
            p.waitUntilExit()
            let zipped = try BPETrainer.train(sources: [CorpusSource(path: gz.path)], options: o)
            XCTAssertEqual(try zipped.tokenizer.huggingFaceJSON(), try plain.tokenizer.huggingFaceJSON())
        }

        // JSONL: one sequence per record (here the same lines as separate records).
        let jsonl = dir.appendingPathComponent("a.jsonl")
        try Data(#"{"text": "one two three two one\n", "id": 1}"# .utf8 + [0x0A] + #"{"id": 2, "text": "four five four\n"}"#.utf8 + [0x0A]).write(to: jsonl)
        let fromJSONL = try BPETrainer.train(sources: [CorpusSource(path: jsonl.path)], options: o)
        XCTAssertEqual(try fromJSONL.tokenizer.huggingFaceJSON(), try plain.tokenizer.huggingFaceJSON())

        // Several files = their concatenation (line by line).
        let b = dir.appendingPathComponent("b.txt")
        try Data("six seven\n".utf8).write(to: b)
        let both = try BPETrainer.train(sources: [CorpusSource(path: txt.path), CorpusSource(path: b.path)], options: o)
        let concat = try BPETrainer.train(sources: [CorpusSource(name: "c", bytes: Array((text + "six seven\n").utf8))], options: o)
        XCTAssertEqual(try both.tokenizer.huggingFaceJSON(), try concat.tokenizer.huggingFaceJSON())

        // Errors.
        XCTAssertThrowsError(try BPETrainer.train(sources: [CorpusSource(path: dir.appendingPathComponent("missing.txt").path)], options: o)) {
            guard case TrainingError.unreadable = $0 else { return XCTFail("\($0)") }
        }
        let bad = dir.appendingPathComponent("bad.jsonl")
        try Data("{\"text\": \"ok\"}\n{\"txt\": \"no field\"}\n".utf8).write(to: bad)
        XCTAssertThrowsError(try BPETrainer.train(sources: [CorpusSource(path: bad.path)], options: o)) {
            XCTAssertEqual($0 as? TrainingError, .invalidJSON(path: bad.path, line: 2, reason: "no \"text\" field"))
        }
    }

    func testErrors() throws {
        XCTAssertThrowsError(try train("", vocab: 300)) { XCTAssertEqual($0 as? TrainingError, .emptyCorpus) }
        XCTAssertThrowsError(try train("abc\n", vocab: 100, specials: ["<s>"])) {
            XCTAssertEqual($0 as? TrainingError, .vocabularyTooSmall(requested: 100, minimum: 257))
        }
        var bytes = Array("line one\nline two\nline three\n".utf8)
        bytes.insert(0xFF, at: 14)   // inside "line two"
        var o = BPETrainingOptions(vocabSize: 300)
        for threads in [1, 2, 5] {
            o.threads = threads
            XCTAssertThrowsError(try BPETrainer.train(sources: [CorpusSource(name: "bad.txt", bytes: bytes)], options: o)) {
                XCTAssertEqual($0 as? TrainingError, .invalidUTF8(path: "bad.txt", line: 2))
            }
        }
    }

    /// The written tokenizer.json loads back and encodes with the learned merges.
    func testRoundTripThroughHFJSON() throws {
        let r = try train(String(repeating: "low lower lowest newer wider\n", count: 20), vocab: 280, specials: ["<|endoftext|>"])
        let json = try r.tokenizer.huggingFaceJSON()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("glossa-train-rt-\(getpid()).json").path
        try Data(json).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try Tokenizer.load(path: path)
        XCTAssertEqual(try t.huggingFaceJSON(), json)
        let ids = try t.encode("lowest<|endoftext|>").ids
        XCTAssertEqual(ids.last, 0)
        XCTAssertEqual(t.decode(ids), "lowest<|endoftext|>")
        let tk = try r.tiktoken()
        XCTAssertEqual(tk.specialRanks.first?.0, "<|endoftext|>")
        XCTAssertEqual(tk.specialRanks.first?.1, r.tokens.count - 1)
        XCTAssertFalse(tk.file.isEmpty)
    }
}

@Test func samplingIsReproducibleAndShrinksTheCorpus() throws {
    // A fixed content hash picks the lines: the same sample for any thread count.
    let path = NSTemporaryDirectory() + "glossa-sample-\(ProcessInfo.processInfo.processIdentifier).txt"
    let lines = (0..<4000).map { "line \($0) with words number \($0 % 97) and \($0 % 13)\n" }.joined()
    #expect(FileManager.default.createFile(atPath: path, contents: Data(lines.utf8)))
    defer { try? FileManager.default.removeItem(atPath: path) }
    var o = BPETrainingOptions(vocabSize: 300)
    o.sampleFraction = 0.25
    o.threads = 1
    let one = try BPETrainer.countPreTokens(sources: [CorpusSource(path: path)], options: o)
    o.threads = 3
    let three = try BPETrainer.countPreTokens(sources: [CorpusSource(path: path)], options: o)
    o.sampleFraction = 1
    let all = try BPETrainer.countPreTokens(sources: [CorpusSource(path: path)], options: o)
    #expect(one.sequences == three.sequences)
    #expect(one.sequences > 800 && one.sequences < 1200)
    #expect(all.sequences == 4000)
    #expect(try BPETrainer.train(counts: one, options: { var x = o; x.sampleFraction = 0.25; return x }()).merges.map { "\($0)" }
            == BPETrainer.train(counts: three, options: o).merges.map { "\($0)" })
}
