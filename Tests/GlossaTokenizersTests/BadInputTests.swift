import Foundation
import Testing
@testable import GlossaTokenizers

/// Bad files give an error naming the file and the field or line; nothing is silently accepted.
@Suite struct BadInputTests {
    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = TestPaths.tempFile(name)
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
        return path
    }

    func message(_ body: () throws -> Tokenizer) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func truncatedTokenizerJSON() throws {
        let full = try Array(Data(contentsOf: URL(fileURLWithPath: TestPaths.tokenizer("llama3.2/tokenizer.json"))))
        let path = write(Array(full.prefix(100_000)), "trunc.tokenizer.json")
        let m = message { try Tokenizer.load(path: path) }
        #expect(m.hasPrefix(path + ":"))      // file:line:column (byte N) at JSON path
        #expect(m.contains("model.vocab"))
    }

    /// The merge loops pack a rank and a position into 32 bits: ranks outside 0..<2^25 are refused, not misordered.
    @Test func ranksBeyondTheMergeLoopsRangeAreRefused() throws {
        let keys: [[UInt8]?] = [[0x61], [0x62], [0x61, 0x62]]
        func model(rank: Int32) -> String {
            do {
                _ = try BPEModel(vocabulary: Vocabulary(tokens: keys.map { $0! }), modelKeys: keys, byteLevel: false,
                                 merges: [(0, 1, 2)], ranks: [rank], options: .init())
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(model(rank: Int32(BPEModel.rankLimit - 1)) == "no error")
        #expect(model(rank: Int32(BPEModel.rankLimit)).contains("model.merges"))
        #expect(model(rank: -1).contains("model.merges"))
    }

    /// Merges are resolved in parallel blocks; the error must still name the first bad merge in file order.
    @Test func firstBadMergeIsReportedWhateverTheBlock() throws {
        let full = try String(contentsOfFile: TestPaths.tokenizer("llama3.2/tokenizer.json"), encoding: .utf8)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(full.utf8)) as? [String: Any])
        var model = try #require(json["model"] as? [String: Any])
        var merges = try #require(model["merges"] as? [String])
        merges[250_000] = "\u{120} t x"              // a later block: malformed
        merges[200_000] = "\u{120}zzzqq \u{120}t"    // an earlier block: unknown token
        model["merges"] = merges
        var out = json
        out["model"] = model
        let path = write(Array(try JSONSerialization.data(withJSONObject: out)), "badmerge.tokenizer.json")
        let m = message { try Tokenizer.load(path: path) }
        #expect(m.contains("model.merges[200000]"))
        #expect(m.contains("is not in the vocabulary"))
    }

    @Test func malformedTiktokenLine() throws {
        let full = try String(contentsOfFile: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"), encoding: .utf8)
        var lines = full.split(separator: "\n", omittingEmptySubsequences: false).prefix(300).map(String.init)
        lines[41] = "!!notbase64 41"
        let path = write(Array(lines.joined(separator: "\n").utf8), "bad_cl100k_base.tiktoken")
        let m = message { try Tokenizer.load(path: path) }
        #expect(m.contains(":42:"))           // file:line:column
        #expect(m.contains(path) || m.contains("bad_cl100k_base"))
    }

    @Test func truncatedSentencePieceModel() throws {
        let full = try Array(Data(contentsOf: URL(fileURLWithPath: TestPaths.tokenizer("llama2-sentencepiece/tokenizer.model"))))
        let path = write(Array(full.prefix(5000)), "trunc.model")
        let m = message { try Tokenizer.load(path: path) }
        #expect(m.contains("truncated"))
        #expect(m.contains("pieces"))
    }

    @Test func unsupportedModelIsNamed() throws {
        let path = write(Array("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\",0.0]]}}".utf8), "unigram.json")
        let m = message { try Tokenizer.load(path: path) }
        #expect(m.contains("unsupported model type \"Unigram\""))
        #expect(m.contains(path))
    }

    @Test func rankFileWithoutKnownEncodingAsksForOne() throws {
        let full = try String(contentsOfFile: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"), encoding: .utf8)
        let path = write(Array(full.utf8.prefix(20_000)).split(separator: 0x0A).dropLast().joined(separator: [0x0A]).map { $0 } + [0x0A], "mystery.ranks")
        let m = message { try Tokenizer.load(path: path) }
        #expect(m.contains("--encoding"))
    }

    @Test func emptyAndInvalidInput() throws {
        let t = try Tokenizer.load(path: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"))
        #expect(try t.encode("").ids.isEmpty)
        #expect(t.decode([]) == "")
        #expect(throws: TokenizerError.invalidUTF8(source: nil, byteOffset: 3)) { try t.encode(bytes: Array("abc".utf8) + [0xC3]) }
    }

    @Test func longSingleLineIsLinear() throws {
        // 400 KB without a space is one pre-token; the heap BPE keeps it O(n log n) (speed is measured in the bench).
        let t = try Tokenizer.load(path: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"))
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 400_000)
        var state = EncoderState()
        let n = try t.count(bytes: line, state: &state)
        #expect(n > 0)
        #expect(t.decode(try t.encodeIds(bytes: line, state: &state)).utf8.count == line.count)
    }
}
