import Testing
import GlossaJSON
import GlossaFormats

@Suite struct GPT2FilesTests {
    @Test func alphabet() throws {
        let a = ByteLevelAlphabet.gpt2
        #expect(a.scalar(for: 0x20) == "Ġ")
        #expect(a.scalar(for: 0x0A) == "Ċ")
        #expect(a.scalar(for: 0x41) == "A")
        #expect(a.scalar(for: 0xAD).value == 0x143)
        #expect(a.byteToScalar.count == 256 && Set(a.byteToScalar).count == 256)
        #expect(a.byte(for: "Ġ") == 0x20)
        #expect(a.byte(for: " ") == nil)
        #expect(a.rankOrder.prefix(3) == [0x21, 0x22, 0x23])
        #expect(a.rankOrder[188] == 0x00 && a.rankOrder[255] == 0xAD)
        for b in 0...255 { #expect(a.byte(for: a.scalar(for: UInt8(b))) == UInt8(b)) }
        #expect(try a.decode("ĠhelloĊ") == Array(" hello\n".utf8))
        #expect(a.encode(Array(" héllo".utf8)) == "ĠhÃ©llo")
        #expect(throws: ByteLevelError.notInAlphabet(token: "a b", scalar: 0x20, position: 1)) { try a.decode("a b") }
        #expect(throws: ByteLevelError.self) { try a.decode("Ā€") }
        #expect(Array("ĠÃ©".utf8).withUnsafeBufferPointer { a.decode(utf8: $0) } == [0x20, 0xC3, 0xA9])
        #expect(Array("中".utf8).withUnsafeBufferPointer { a.decode(utf8: $0) } == nil)
    }

    @Test func realGPT2Files() throws {
        let g = try GPT2Files(encoderJSONPath: tokenizerPath("gpt2/encoder.json"), vocabBPEPath: tokenizerPath("gpt2/vocab.bpe"))
        #expect(g.merges.count == 50_000)
        #expect(g.encoder.count == 50_257)
        #expect(g.ranks.count == 50_256)
        #expect(g.specialTokens.count == 1)
        #expect(g.specialTokens.first?.token == "<|endoftext|>" && g.specialTokens.first?.id == 50_256)
        #expect(g.merges[0].left == "Ġ" && g.merges[0].right == "t")
        #expect(g.ranks.token(rank: 256) == Array(" t".utf8))
        #expect(g.ranks.token(rank: 0) == [0x21])
        #expect(g.ranks.token(rank: 188) == [0x00])
        // GPT-2's ranks recover its own merges exactly.
        let recovered = try MergeRecovery.byteLevelMerges(MergeRecovery.mergesFromRanks(g.ranks), ranks: g.ranks)
        #expect(recovered.count == 50_000)
        var same = 0
        for (x, y) in zip(recovered, g.merges) where x.left == y.left && x.right == y.right { same &+= 1 }
        #expect(same == 50_000)
    }

    private func load(_ encoder: String, _ bpe: String) -> GPT2FilesError? {
        do {
            _ = try GPT2Files(encoderJSON: Array(encoder.utf8), vocabBPE: Array(bpe.utf8), encoderFile: "e.json", vocabFile: "v.bpe")
            return nil
        } catch { return error }
    }

    /// A complete 256-byte alphabet encoder plus extras.
    private func encoder(extra: [(String, JSONNode)]) -> String {
        var w = JSONWriter()
        w.beginObject()
        let a = ByteLevelAlphabet.gpt2
        for (i, b) in a.rankOrder.enumerated() { w.key(String(a.scalar(for: b))); w.int(i) }
        for (k, v) in extra { w.key(k); w.write(v) }
        w.endObject()
        return w.string
    }

    @Test func smallFilesAndErrors() {
        let good = encoder(extra: [("Ġt", .int(256)), ("<|endoftext|>", .int(257))])
        #expect(load(good, "#version: 0.2\nĠ t\n") == nil)
        #expect(load(good, "Ġ t\n") == .missingVersionHeader(file: "v.bpe"))
        #expect(load(good, "#version: 0.2\nĠt\n") == .malformedMerge(file: "v.bpe", line: 2, text: "Ġt"))
        if case .mergeNotByteLevel(file: "v.bpe", line: 2, _)? = load(good, "#version: 0.2\nĠ 中\n") {} else {
            Issue.record("expected mergeNotByteLevel")
        }
        #expect(load(good, "#version: 0.2\nĠ t\nĠ t\n") == .duplicateMergeResult(file: "v.bpe", line: 3, token: "Ġt"))
        let wrongID = encoder(extra: [("Ġt", .int(300))])
        #expect(load(wrongID, "#version: 0.2\nĠ t\n") == .encoderMismatch(file: "e.json", token: "Ġt", encoderID: 300, expectedRank: 256))
        let missing = encoder(extra: [])
        #expect(load(missing, "#version: 0.2\nĠ t\n") == .encoderMissingToken(file: "e.json", token: "Ġt", rank: 256))
        let notInt = encoder(extra: [("Ġt", .string("x"))])
        #expect(load(notInt, "#version: 0.2\nĠ t\n") == .badEncoderEntry(file: "e.json", token: "Ġt", reason: "id is not an integer"))
        if case .json(.syntax(.trailingCharacters, _))? = load(good + "x", "#version: 0.2\nĠ t\n") {} else {
            Issue.record("expected a JSON syntax error")
        }
    }
}

