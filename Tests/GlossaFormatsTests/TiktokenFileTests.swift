import Testing
import GlossaJSON
import GlossaFormats

@Suite struct TiktokenFileTests {
    @Test(arguments: [
        ("cl100k_base/cl100k_base.tiktoken", 100_256),
        ("o200k_base/o200k_base.tiktoken", 199_998),
        ("llama3.2/tokenizer.model", 128_000),
        ("qwen-tiktoken/qwen.tiktoken", 151_643),
    ])
    func realFilesParseAndRoundTrip(path: String, count: Int) throws {
        let source = try BinaryFile.read(tokenizerPath(path))
        let file = try TiktokenFile(bytes: source, file: path)
        #expect(file.count == count)
        #expect(file.serialized() == source)   // byte-identical to dump_tiktoken_bpe output
    }

    @Test func qwen3RanksParse() throws {
        let path = tokenizerPath("qwen-tiktoken/qwen3_6.tiktoken")
        let source = try BinaryFile.read(path)
        let file = try TiktokenFile(bytes: source, file: path)
        #expect(file.count > 151_643)
        #expect(file.serialized() == source)
    }

    @Test func cl100kContentAndLookup() throws {
        let file = try TiktokenFile(contentsOfFile: tokenizerPath("cl100k_base/cl100k_base.tiktoken"))
        #expect(file.token(rank: 0) == [0x21])          // "!"
        #expect(file.token(rank: 220) == [0x20])        // " "
        #expect(file.token(rank: 256) == [0x20, 0x20])
        let table = file.makeRankTable()
        #expect(table.rank(of: Array(" the".utf8)) == 279)
        #expect(table.rank(of: Array("hello".utf8)) == 15339)
        #expect(table.rank(of: Array("zzzzzzzzzzqq".utf8)) == nil)
        #expect(file.ranks[5].rank == 5 && file.ranks[5].bytes == [0x26])
    }

    @Test func emptyLinesSkippedAndOrderNormalized() throws {
        let text = "IQ== 1\n\nIg== 0\r\nIw== 2\n"
        let f = try TiktokenFile(bytes: Array(text.utf8))
        #expect(f.count == 3)
        #expect(f.token(rank: 0) == [0x22] && f.token(rank: 1) == [0x21] && f.token(rank: 2) == [0x23])
        #expect(String(decoding: f.serialized(), as: UTF8.self) == "Ig== 0\nIQ== 1\nIw== 2\n")
    }

    private func error(_ text: String) -> TiktokenError? {
        do { _ = try TiktokenFile(bytes: Array(text.utf8), file: "r.tiktoken"); return nil } catch { return error }
    }

    @Test func malformedFiles() {
        #expect(error("IQ== 0\nI*== 1\n") == .invalidBase64(file: "r.tiktoken", line: 2, column: 2))
        #expect(error("IQ== 0\nIQ= 1\n") == .invalidBase64(file: "r.tiktoken", line: 2, column: 4))
        #expect(error("IR== 0\n") == .invalidBase64(file: "r.tiktoken", line: 1, column: 2))   // non-zero padding bits
        #expect(error("IQ== 0\nIg==\n") == .missingRank(file: "r.tiktoken", line: 2))
        #expect(error("IQ== 0\nIg== \n") == .missingRank(file: "r.tiktoken", line: 2))
        #expect(error("IQ== 0\nIg== x1\n") == .invalidRank(file: "r.tiktoken", line: 2, text: "x1"))
        #expect(error("IQ== 0\nIg== 1 7\n") == .extraField(file: "r.tiktoken", line: 2))
        #expect(error("IQ== 0\n\nIQ== 1\n") == .duplicateToken(file: "r.tiktoken", line: 3, firstLine: 1))
        #expect(error("IQ== 1\nIg== 0\nIw== 1\n") == .duplicateRank(file: "r.tiktoken", line: 3, rank: 1, firstLine: 1))
        #expect(error("IQ== 0\nIg== 2\nIw== 3\n") == .nonContiguousRanks(file: "r.tiktoken", missing: 1, count: 3))
        #expect(error("IQ== 0\nIg== 1\nIw== 2\n") == nil)
        #expect(error("IQ== 0\nIg== 2\n")?.description == "r.tiktoken: ranks are not contiguous: rank 1 is missing (2 tokens, expected ranks 0..<2)")
        #expect(throws: TiktokenError.self) { try TiktokenFile(contentsOfFile: "/nonexistent.tiktoken") }
        #expect(throws: TiktokenError.duplicateTokenInList(rank: 2, firstRank: 0)) { try TiktokenFile(tokens: [[1], [2], [1]]) }
    }

    @Test func base64AllLengths() throws {
        // Tokens of length 0...7 with every padding case; written, then read back.
        var tokens: [[UInt8]] = []
        for n in 1...7 { tokens.append((0..<n).map { UInt8(($0 &* 37 &+ n &* 11) & 0xFF) }) }
        let f = try TiktokenFile(tokens: tokens)
        let again = try TiktokenFile(bytes: f.serialized())
        #expect(again == f)
        #expect(String(decoding: f.serialized(), as: UTF8.self).hasPrefix("Cw== 0\n"))
    }
}
