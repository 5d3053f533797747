import Testing
import GlossaJSON
import GlossaFormats

@Suite struct SentencePieceModelFileTests {
    @Test func llama2Model() throws {
        let m = try SentencePieceModelFile(contentsOfFile: tokenizerPath("llama2-sentencepiece/tokenizer.model"))
        #expect(m.pieces.count == 32_000)
        let c = m.countByType()
        #expect(c[.normal] == 31_741 && c[.byte] == 256 && c[.control] == 2 && c[.unknown] == 1)
        let t = try #require(m.trainerSpec)
        #expect(t.modelType == .bpe && t.byteFallback && t.vocabSize == 32_000)
        #expect(t.unkID == 0 && t.bosID == 1 && t.eosID == 2 && t.padID == -1)
        #expect(t.splitDigits && t.allowWhitespaceOnlyPieces && t.maxSentencepieceLength == 16)
        #expect(t.unkPiece == "<unk>" && t.bosPiece == "<s>" && t.eosPiece == "</s>")
        let n = try #require(m.normalizerSpec)
        #expect(n.name == "identity" && n.precompiledCharsmap.isEmpty)
        #expect(n.addDummyPrefix && !n.removeExtraWhitespaces && n.escapeWhitespaces)
        #expect(m.pieces[0].piece == "<unk>" && m.pieces[0].type == .unknown)
        #expect(m.pieces[3].piece == "<0x00>" && m.pieces[3].type == .byte)
        #expect(m.pieces[258].piece == "<0xFF>")
        #expect(m.pieces[259].piece == "▁▁" && m.pieces[259].score == -1e9)
        #expect(m.pieces[260].piece == "▁t" && m.pieces[260].score == -1)
        #expect(m.pieces[261].piece == "er" && m.pieces[261].score == -2)
        #expect(m.pieces[31_999].piece == "给" && m.pieces[31_999].score == -31_740)
    }

    @Test func mistralModel() throws {
        let m = try SentencePieceModelFile(contentsOfFile: tokenizerPath("mistral-7b-v0.3/tokenizer.model.v3"))
        #expect(m.pieces.count == 32_768)
        let c = m.countByType()
        #expect(c[.normal] == 31_741 && c[.control] == 770 && c[.byte] == 256 && c[.unknown] == 1)
        #expect(m.trainerSpec?.modelType == .bpe && m.trainerSpec?.byteFallback == true)
        #expect(m.normalizerSpec?.removeExtraWhitespaces == false)
        #expect(m.pieces[3].piece == "[INST]" && m.pieces[3].type == .control)
        #expect(m.pieces[32_767].piece == "梦" && m.pieces[32_767].score == -31_740)
    }

    @Test(arguments: ["llama2-sentencepiece/tokenizer.model", "mistral-7b-v0.3/tokenizer.model.v3"])
    func writeReadRoundTrip(path: String) throws {
        let m = try SentencePieceModelFile(contentsOfFile: tokenizerPath(path))
        let bytes = m.serialized()
        let again = try SentencePieceModelFile(bytes: bytes)
        #expect(again == m)
        #expect(again.serialized() == bytes)
        #expect(!(m.trainerSpec?.unknownFields.isEmpty ?? true))   // input, model_prefix, ... kept raw
    }

    @Test func truncatedFilesFailWithFieldAndOffset() throws {
        let bytes = try BinaryFile.read(tokenizerPath("llama2-sentencepiece/tokenizer.model"))
        // Cut inside the first piece's string.
        do {
            _ = try SentencePieceModelFile(bytes: Array(bytes[0..<5]), file: "cut.model")
            Issue.record("accepted a truncated model")
        } catch {
            guard case let .truncated(file, field, offset) = error else { Issue.record("\(error)"); return }
            #expect(file == "cut.model")
            #expect(field == "pieces[0]")
            #expect(offset == 1)
            #expect(error.description == "cut.model: truncated at byte 1 while reading pieces[0]")
        }
        // Every cut point inside the file fails cleanly (no crash), except cuts at a top-level field boundary.
        var failures = 0
        for cut in stride(from: 1, to: bytes.count, by: 997) {
            do { _ = try SentencePieceModelFile(bytes: Array(bytes[0..<cut])) } catch { failures &+= 1 }
        }
        #expect(failures > 400)
        // A truncated float inside a piece.
        var w: [UInt8] = [0x0A, 0x06, 0x0A, 0x01, 0x61, 0x15, 0x00, 0x00]
        do { _ = try SentencePieceModelFile(bytes: w) } catch {
            #expect(error == .truncated(file: "<model>", field: "pieces[0].score", offset: 6))
        }
        // Wrong wire type for a known field.
        w = [0x0A, 0x03, 0x08, 0x01, 0x00]
        do { _ = try SentencePieceModelFile(bytes: w) } catch {
            #expect(error == .invalidWireType(file: "<model>", field: "pieces[0].piece", wireType: 0, offset: 3))
        }
        // Bad enum value.
        w = [0x0A, 0x02, 0x18, 0x09]
        #expect(throws: SentencePieceModelError.invalidEnumValue(file: "<model>", field: "pieces[0].type", value: 9, offset: 3)) {
            try SentencePieceModelFile(bytes: w)
        }
        // Invalid UTF-8 in a piece.
        w = [0x0A, 0x03, 0x0A, 0x01, 0xFF]
        #expect(throws: SentencePieceModelError.invalidUTF8(file: "<model>", field: "pieces[0].piece", offset: 4)) {
            try SentencePieceModelFile(bytes: w)
        }
        // Unterminated group.
        w = [0x9B, 0x06, 0x08, 0x01]
        #expect(throws: SentencePieceModelError.self) { try SentencePieceModelFile(bytes: w) }
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkippedAndKept() throws {
        var piece: [UInt8] = [0x0A, 0x02, 0x68, 0x69]                  // piece "hi"
        piece += [0x15, 0x00, 0x00, 0x80, 0xBF]                        // score -1
        piece += [0x38, 0x96, 0x01]                                    // field 7 varint 150
        piece += [0x41, 1, 2, 3, 4, 5, 6, 7, 8]                        // field 8 fixed64
        piece += [0x4D, 1, 2, 3, 4]                                    // field 9 fixed32
        piece += [0x53, 0x08, 0x01, 0x12, 0x01, 0x78, 0x54]            // field 10 group {varint, bytes} end-group
        piece += [0x18, 0x03]                                          // type CONTROL
        var model: [UInt8] = [0x0A, UInt8(piece.count)] + piece
        model += [0xA2, 0x06, 0x03, 0x61, 0x62, 0x63]                  // top-level field 100, bytes "abc"
        model += [0x1A, 0x04, 0x0A, 0x02, 0x6E, 0x6D]                  // normalizer_spec { name: "nm" }
        let m = try SentencePieceModelFile(bytes: model)
        #expect(m.pieces.count == 1)
        #expect(m.pieces[0].piece == "hi" && m.pieces[0].score == -1 && m.pieces[0].type == .control)
        #expect(m.pieces[0].unknownFields.count == 3 + 9 + 5 + 7)
        #expect(m.unknownFields == [0xA2, 0x06, 0x03, 0x61, 0x62, 0x63])
        #expect(m.normalizerSpec?.name == "nm" && m.normalizerSpec?.addDummyPrefix == true)
        #expect(m.trainerSpec == nil)
        let again = try SentencePieceModelFile(bytes: m.serialized())
        #expect(again == m)
    }

    @Test func builtModelWritesAndReads() throws {
        var m = SentencePieceModelFile()
        m.pieces = [.init(piece: "<unk>", score: 0, type: .unknown), .init(piece: "▁a", score: -1), .init(piece: "<0x0A>", score: 0, type: .byte)]
        var t = SentencePieceModelFile.TrainerSpec()
        t.modelType = .bpe
        t.vocabSize = 3
        t.padID = -1
        t.bosID = -1
        t.controlSymbols = ["<ctl>"]
        m.trainerSpec = t
        m.normalizerSpec = .init()
        let back = try SentencePieceModelFile(bytes: m.serialized())
        #expect(back == m)
        #expect(back.trainerSpec?.bosID == -1)
    }
}
