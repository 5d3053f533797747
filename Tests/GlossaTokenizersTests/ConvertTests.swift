import Foundation
import Testing
@testable import GlossaTokenizers

/// `glossa convert`: the written file must encode exactly like its source.
@Suite struct ConvertTests {
    static let samples: [String] = {
        var s = ["Hello, world! It's 2024 — naïve café, 日本語のテキスト, Привет мир.",
                 "  leading spaces\n\n\ttabs and\r\nCRLF  ", "x" + String(repeating: "ab", count: 200), "🤗👨‍👩‍👧 emoji", ""]
        // Real text: the first 200 lines of three corpora.
        for lang in ["en", "ru", "zh"] {
            if let text = try? String(contentsOfFile: TestPaths.shared + "/corpora/\(lang)/heldout.txt", encoding: .utf8) {
                s.append(text.split(separator: "\n").prefix(200).joined(separator: "\n"))
            }
        }
        return s
    }()

    func roundTrip(_ source: Tokenizer, _ bytes: [UInt8], _ name: String) throws -> Tokenizer {
        let path = TestPaths.tempFile(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Tokenizer.load(path: path, encoding: source.pattern == nil ? nil : nameOf(source))
    }

    func nameOf(_ t: Tokenizer) -> String? {
        if case .tiktoken(let e) = t.source { return e }
        if case .gpt2Files = t.source { return "gpt2" }
        return nil
    }

    func expectSameIds(_ a: Tokenizer, _ b: Tokenizer, policy: SpecialTokenPolicy = .text) throws {
        var sa = EncoderState(), sb = EncoderState()
        for text in Self.samples {
            let x = try a.encodeIds(bytes: Array(text.utf8), specialTokens: policy, state: &sa)
            let y = try b.encodeIds(bytes: Array(text.utf8), specialTokens: policy, state: &sb)
            #expect(x == y, "ids differ on \(text.prefix(40))")
        }
    }

    @Test func tiktokenToHuggingFace() throws {
        let src = try Tokenizer.load(path: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"))
        let hf = try roundTrip(src, try src.huggingFaceJSON(), "cl100k.json")
        try expectSameIds(src, hf)
        #expect(hf.id(of: "<|endoftext|>") == 100257)
    }

    @Test func sentencePieceToHuggingFace() throws {
        let src = try Tokenizer.load(path: TestPaths.tokenizer("llama2-sentencepiece/tokenizer.model"))
        let hf = try roundTrip(src, try src.huggingFaceJSON(), "llama2.json")
        try expectSameIds(src, hf)
    }

    @Test func gpt2ToTiktokenAndBack() throws {
        let src = try Tokenizer.load(path: TestPaths.tokenizer("gpt2/encoder.json"))
        let ranks = try src.tiktokenRanks()
        let path = TestPaths.tempFile("gpt2.tiktoken")
        try Data(ranks).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let back = try Tokenizer.load(path: path, encoding: "gpt2")
        try expectSameIds(src, back)
    }

    @Test func huggingFaceRoundTripIsStable() throws {
        for file in ["llama3.2/tokenizer.json", "mistral-7b-v0.3/tokenizer.json", "all-MiniLM-L6-v2-wordpiece/tokenizer.json"] {
            let src = try Tokenizer.load(path: TestPaths.tokenizer(file))
            let once = try src.huggingFaceJSON()
            let again = try roundTrip(src, once, "rt.json")
            #expect(try again.huggingFaceJSON() == once, "\(file) does not round-trip")
            try expectSameIds(src, again, policy: .allowed)
        }
    }
}
