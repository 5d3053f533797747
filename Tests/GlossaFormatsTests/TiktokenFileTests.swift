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

    /// The one-pass read of the usual line (`fastLine`) against the general code on generated files: tokens of
    /// every padding, corrupted characters at every position (`=`, `*`, spaces, CR, LF, digits), ranks of 0–12
    /// digits and past 2^31, CRLF and empty lines, no final LF, repeated tokens and ranks. Same file or same error.
    @Test func fastLinesReadAsTheGeneralCode() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func below(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        func read(_ text: [UInt8], fast: Bool) -> String {
            do {
                let f = try TiktokenFile(bytes: text, file: "g.tiktoken", checkDuplicateTokens: true, fastLines: fast)
                return "\(f.storage) \(f.offsets)"
            } catch { return "error \(error)" }
        }
        let noise: [UInt8] = Array("=* \r\n09+/Aa".utf8)
        for round in 0..<3000 {
            var text: [UInt8] = []
            let lines = 1 + below(6)
            for r in 0..<lines {
                let token = (0..<(1 + below(7))).map { _ in UInt8(below(below(2) == 0 ? 4 : 256)) }
                var line = Array(try! TiktokenFile(tokens: [token]).serialized().dropLast(2))   // "base64 "
                var rank = Array(String(below(8) == 0 ? r + below(3) : r).utf8)
                switch below(10) {
                case 0: rank = Array(String(repeating: "9", count: 8 + below(5)).utf8)
                case 1: rank = Array("00\(r)".utf8)
                case 2: rank = Array("2147483648".utf8)
                case 3: rank = []
                default: break
                }
                line += rank
                if below(6) == 0 { line[below(line.count)] = noise[below(noise.count)] }
                if below(12) == 0 { line.insert(noise[below(noise.count)], at: below(line.count + 1)) }
                text += line
                switch below(8) {
                case 0: text += [0x0D, 0x0A]
                case 1: text += [0x0A, 0x0A]
                case 2 where r == lines - 1: break
                default: text += [0x0A]
                }
            }
            let general = read(text, fast: false)
            #expect(read(text, fast: true) == general, "round \(round): \(String(decoding: text, as: UTF8.self))")
        }
    }

    /// Without the duplicate check every other check is made, and repeated tokens are read as they are.
    @Test func uncheckedDuplicatesStillCheckTheRest() throws {
        let f = try TiktokenFile(bytes: Array("IQ== 0\nIQ== 1\n".utf8), file: "r.tiktoken", checkDuplicateTokens: false)
        #expect(f.count == 2 && f.token(rank: 1) == [0x21])
        #expect(throws: TiktokenError.duplicateRank(file: "r.tiktoken", line: 2, rank: 0, firstLine: 1)) {
            try TiktokenFile(bytes: Array("IQ== 0\nIg== 0\n".utf8), file: "r.tiktoken", checkDuplicateTokens: false)
        }
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
