// Expected chunks come from the real Hugging Face `tokenizers` 0.23.3:
//   M = Tokenizer.from_file('/work/shared/tokenizers/mistral-7b-v0.3/tokenizer.json')
//   L = Tokenizer.from_file('/work/shared/tokenizers/llama3.2/tokenizer.json')
//   s = DecodeStream(skip_special_tokens=...); [s.step(T, i) for i in T.encode(text).ids]
// The decode closures below rebuild each tokenizer's decode for the ids involved (id -> token,
// optional skipping of the special id, then the file's decoder).
import Testing
@testable import GlossaTokenizers

private let mistralVocab: [Int32: String] = [1: "<s>", 23325: "▁Hello", 29473: "▁", 31987: "叫", 2294: "▁world",
                                             1011: "<0xF0>", 930: "<0x9F>", 935: "<0xA4>", 922: "<0x97>", 4382: "▁ok"]
private let mistralIds: [Int32] = [1, 23325, 29473, 31987, 2294, 29473, 1011, 930, 935, 922, 4382] // M.encode('Hello 叫 world 🤗 ok')
private let llamaVocab: [Int32: String] = [128000: "<|begin_of_text|>", 13347: "Hi", 27951: "Ġåı", 104: "«", 9468: "ðŁ",
                                           97: "¤", 245: "Ĺ", 1070: "Ġthere"]
private let llamaIds: [Int32] = [128000, 13347, 27951, 104, 9468, 97, 245, 1070] // L.encode('Hi 叫🤗 there')

private func decodeFunction(_ vocab: [Int32: String], special: Int32, decoder: DecoderConfig) throws -> StreamingDecoder.Decode {
    let d = try TokenDecoder(decoder)
    return { ids, skip in d.decode(ids.compactMap { skip && $0 == special ? nil : vocab[$0] }) }
}
private let mistralDecoder = DecoderConfig.sequence([.replace(pattern: .string("▁"), content: " "), .byteFallback, .fuse,
                                                     .strip(content: " ", start: 1, stop: 0)])

private func run(_ s: inout StreamingDecoder, _ ids: [Int32]) throws -> [String?] {
    var out = [String?]()
    for i in ids { out.append(try s.step(i)) }
    return out
}

@Suite struct StreamingDecoderTests {
    @Test func mistralByteFallback() throws {
        let f = try decodeFunction(mistralVocab, special: 1, decoder: mistralDecoder)
        var s = StreamingDecoder(skipSpecialTokens: false, decode: f)
        // ['<s>', ' Hello', ' ', '叫', ' world', ' ', None, None, None, '🤗', ' ok']
        #expect(try run(&s, mistralIds) == ["<s>", " Hello", " ", "叫", " world", " ", nil, nil, nil, "🤗", " ok"])
        var t = StreamingDecoder(skipSpecialTokens: true, decode: f)
        // DecodeStream(skip_special_tokens=True): [None, 'Hello', ' ', '叫', ' world', ' ', None, None, None, '🤗', ' ok']
        #expect(try run(&t, mistralIds) == [nil, "Hello", " ", "叫", " world", " ", nil, nil, nil, "🤗", " ok"])
    }

    @Test func mistralPrefillAndLists() throws {
        let f = try decodeFunction(mistralVocab, special: 1, decoder: mistralDecoder)
        // DecodeStream(ids=ids[:3]) then steps: ['叫', ' world', ' ', None, None, None, '🤗', ' ok']
        var s = StreamingDecoder(ids: Array(mistralIds.prefix(3)), skipSpecialTokens: false, decode: f)
        #expect(try run(&s, Array(mistralIds.dropFirst(3))) == ["叫", " world", " ", nil, nil, nil, "🤗", " ok"])
        // s.step(M, ids[i:i+2]) for each pair: ['<s> Hello', ' 叫', ' world ', None, '🤗', ' ok']
        var t = StreamingDecoder(skipSpecialTokens: false, decode: f)
        var out = [String?]()
        for i in stride(from: 0, to: mistralIds.count, by: 2) { out.append(try t.step(Array(mistralIds[i..<min(i + 2, mistralIds.count)]))) }
        #expect(out == ["<s> Hello", " 叫", " world ", nil, "🤗", " ok"])
    }

    @Test func llamaByteLevel() throws {
        let f = try decodeFunction(llamaVocab, special: 128000, decoder: .byteLevel)
        var s = StreamingDecoder(skipSpecialTokens: false, decode: f)
        // ['<|begin_of_text|>', 'Hi', None, ' 叫', None, None, '🤗', ' there']
        #expect(try run(&s, llamaIds) == ["<|begin_of_text|>", "Hi", nil, " 叫", nil, nil, "🤗", " there"])
        // DecodeStream(ids=ids[:3]): ['<|begin_of_text|>Hi 叫', None, None, '🤗', ' there'] (the prefill ends mid-character)
        var p = StreamingDecoder(ids: Array(llamaIds.prefix(3)), skipSpecialTokens: false, decode: f)
        #expect(try run(&p, Array(llamaIds.dropFirst(3))) == ["<|begin_of_text|>Hi 叫", nil, nil, "🤗", " there"])
        // Closure without a flag.
        let d = try TokenDecoder(.byteLevel)
        var q = StreamingDecoder { ids in d.decode(ids.compactMap { llamaVocab[$0] }) }
        // s.step(L, ids[i:i+2]) for each pair: ['<|begin_of_text|>Hi', ' 叫', None, '🤗 there']
        var out = [String?]()
        for i in stride(from: 0, to: llamaIds.count, by: 2) { out.append(try q.step(Array(llamaIds[i..<(i + 2)]))) }
        #expect(out == ["<|begin_of_text|>Hi", " 叫", nil, "🤗 there"])
    }

    @Test func invalidPrefixThrows() {
        // A decode whose output for more ids does not extend the previous one.
        var s = StreamingDecoder { ids in ids.count == 1 ? "abc" : "xyzw" }
        #expect(try! s.step(1) == "abc")
        #expect(throws: TokenizerError.self) { try s.step(2) }
    }

    @Test func byteStream() {
        var b = ByteStreamDecoder()
        // '🤗' = F0 9F A4 97 split over tokens, then an invalid byte.
        #expect(b.step(Array("Hi ".utf8) + [0xF0]) == "Hi ")
        #expect(b.step([0x9F, 0xA4]) == nil)
        #expect(b.step([0x97, 0x20]) == "🤗 ")
        // C3 then 'a': C3 can no longer complete -> one U+FFFD (as bytes(b'\xc3a').decode('utf-8','replace') == '\ufffda')
        #expect(b.step([0xC3]) == nil)
        #expect(b.step([0x61]) == "\u{FFFD}a")
        #expect(b.step([0xE5, 0x8F]) == nil)
        #expect(b.finish() == "\u{FFFD}")
        #expect(b.finish() == nil)
        // GPT-2 alphabet tokens (Llama-3.2 'Hi 叫🤗 there' without the BOS).
        var c = ByteStreamDecoder()
        let chunks = ["Hi", "Ġåı", "«", "ðŁ", "¤", "Ĺ", "Ġthere"].map { c.step(byteLevelToken: $0) }
        #expect(chunks == ["Hi", " ", "叫", nil, nil, "🤗", " there"])
    }
}
