import Testing
@testable import GlossaTokenizers

/// A tiny byte-level BPE: merges "a b" -> "ab", "ab c" -> "abc", "Ġ a" -> "Ġa".
let tinyByteLevel = """
{"version":"1.0","added_tokens":[{"id":9,"content":"<eos>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
 "normalizer":null,
 "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
 "post_processor":null,"decoder":{"type":"ByteLevel"},
 "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,
  "fuse_unk":false,"byte_fallback":false,"ignore_merges":false,
  "vocab":{"a":0,"b":1,"c":2,"Ġ":3,"ab":4,"abc":5,"Ġa":6,"bc":7,"x":8},
  "merges":["a b","ab c",["Ġ","a"]]}}
"""

@Test func byteLevelMergesFollowRankOrder() throws {
    let t = try tokenizer(json: tinyByteLevel)
    let e = try t.encode("abc abc")
    // " abc": (a b) rank 0 beats (Ġ a) rank 2, then (ab c) rank 1: Ġ + abc.
    #expect(e.ids == [5, 3, 5])
    #expect(e.offsets == [ByteSpan(0, 3), ByteSpan(3, 4), ByteSpan(4, 7)])
    #expect(e.tokens == ["abc", "Ġ", "abc"])
    #expect(try t.encode(" ax").ids == [6, 8])
    #expect(t.decode(e.ids) == "abc abc")
}

@Test func bcIsNotMergedWithoutAMergeRule() throws {
    // "bc" is in the vocabulary but no merge builds it: HF never produces it from text.
    let t = try tokenizer(json: tinyByteLevel)
    #expect(try t.encode("bc").ids == [1, 2])
}

@Test func ignoreMergesEmitsWholeTokens() throws {
    let t = try tokenizer(json: tinyByteLevel.replacingOccurrences(of: "\"ignore_merges\":false", with: "\"ignore_merges\":true"))
    #expect(try t.encode("bc").ids == [7])
}

@Test func addedTokensAreMatchedBeforeTheModel() throws {
    let t = try tokenizer(json: tinyByteLevel)
    let e = try t.encode("ab<eos>c")
    #expect(e.ids == [4, 9, 2])
    #expect(e.offsets == [ByteSpan(0, 2), ByteSpan(2, 7), ByteSpan(7, 8)])
    #expect(t.decode(e.ids) == "ab<eos>c")
    #expect(t.decode(e.ids, skipSpecialTokens: true) == "abc")
    // As text, "<eos>" is bytes the tiny vocabulary lacks (no unk): they are dropped, as in HF.
    #expect(try t.encode("ab<eos>c", options: .init(specialTokens: .text)).ids == [4, 2])
    #expect(throws: TokenizerError.self) { try t.encode("ab<eos>c", options: .init(specialTokens: .disallowed)) }
}

@Test func invalidUTF8IsRejectedWithItsOffset() throws {
    let t = try tokenizer(json: tinyByteLevel)
    #expect(throws: TokenizerError.invalidUTF8(source: nil, byteOffset: 2)) { try t.encode(bytes: [0x61, 0x62, 0xFF, 0x63]) }
    #expect(try t.encode(bytes: []).ids == [])
}

@Test func addedTokenOptionsFollowHF() throws {
    // lstrip/rstrip absorb whitespace; single_word rejects matches inside words (HF added_vocabulary.rs tests).
    let json = """
    {"version":"1.0","added_tokens":[
      {"id":100,"content":"<mask>","single_word":true,"lstrip":true,"rstrip":true,"normalized":false,"special":false}],
     "normalizer":null,"pre_tokenizer":{"type":"WhitespaceSplit"},"post_processor":null,"decoder":null,
     "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
      "vocab":{"[UNK]":0,"hi":1,"there":2,"a":3}}}
    """
    let t = try tokenizer(json: json)
    let e = try t.encode("hi <mask> there\ta<mask>")
    #expect(e.ids == [1, 100, 2, 0])
    #expect(e.offsets == [ByteSpan(0, 2), ByteSpan(2, 10), ByteSpan(10, 15), ByteSpan(16, 23)])
}

@Test func wordPieceGreedyLongestMatch() throws {
    let json = """
    {"version":"1.0","added_tokens":[],"normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"BertPreTokenizer"},
     "post_processor":null,"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
     "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":12,
      "vocab":{"[UNK]":0,"un":1,"##aff":2,"##able":3,"!":4,"##a":5}}}
    """
    let t = try tokenizer(json: json)
    let e = try t.encode("Unaffable! unaffablexxxx")
    #expect(e.ids == [1, 2, 3, 4, 0])   // the second word exceeds max_input_chars_per_word
    #expect(e.offsets == [ByteSpan(0, 2), ByteSpan(2, 5), ByteSpan(5, 9), ByteSpan(9, 10), ByteSpan(11, 24)])
    #expect(t.decode(e.ids) == "unaffable! [UNK]")
}

@Test func byteFallbackAndFusedUnknowns() throws {
    var vocab = "\"<unk>\":0,\"▁\":1,\"a\":2,\"▁a\":3"
    for b in 0..<256 { vocab += ",\"<0x" + String(b, radix: 16, uppercase: true).leftPadded(2) + ">\":\(4 + b)" }
    let json = """
    {"version":"1.0","added_tokens":[],"normalizer":null,
     "pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},
     "post_processor":null,
     "decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
     "model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,
      "fuse_unk":true,"byte_fallback":true,"ignore_merges":false,"vocab":{\(vocab)},"merges":["▁ a"]}}
    """
    let t = try tokenizer(json: json)
    let e = try t.encode("a é")
    // "▁a" merged; "▁" kept; "é" falls back to its two UTF-8 bytes.
    #expect(e.ids == [3, 1, 4 + 0xC3, 4 + 0xA9])
    #expect(t.decode(e.ids) == "a é")
    let noFallback = try tokenizer(json: json.replacingOccurrences(of: "\"byte_fallback\":true", with: "\"byte_fallback\":false"))
    #expect(try noFallback.encode("aéé").ids == [3, 0])   // consecutive unknowns fuse into one <unk>
}

@Test func unsupportedComponentsAreNamed() throws {
    let bad = tinyByteLevel.replacingOccurrences(of: "{\"type\":\"ByteLevel\"}", with: "{\"type\":\"Frobnicate\"}")
    do { _ = try tokenizer(json: bad); Issue.record("expected an error") } catch let e as TokenizerError {
        #expect(e.description.contains("unsupported decoder type \"Frobnicate\""))
        #expect(e.description.contains("inline.json"))
    }
    let unigram = "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}"
    do { _ = try tokenizer(json: unigram); Issue.record("expected an error") } catch let e as TokenizerError {
        #expect(e.description.contains("Unigram"))
    }
}

@Test func malformedFilesNameTheField() throws {
    do { _ = try tokenizer(json: "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}"); Issue.record("expected an error") }
    catch let e as TokenizerError { #expect(e.description.contains("model.merges[0]")); #expect(e.description.contains("\"b\"")) }
    do { _ = try tokenizer(json: "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[") ; Issue.record("expected an error") }
    catch let e as TokenizerError { #expect(e.description.contains("inline.json")) }
}

@Test func batchEncodingMatchesSingleEncoding() throws {
    let t = try tokenizer(json: tinyByteLevel)
    let texts = (0..<200).map { i in Array(String(repeating: "abc ab ", count: i % 7).utf8) }
    let batch = try t.encodeBatch(texts, threads: 2)
    for (i, text) in texts.enumerated() { #expect(batch[i] == (try t.encode(bytes: text))) }
}

@Test func batchEncodingReportsTheFirstFailingDocument() throws {
    let t = try tokenizer(json: tinyByteLevel)
    // Documents 37 and 150 hold a special token that the policy disallows; the rest encode.
    var texts = (0..<200).map { i in Array(String(repeating: "abc ab ", count: i % 7 + 1).utf8) }
    texts[37] = Array("ab<eos>c".utf8); texts[150] = Array("<eos>".utf8)
    for threads in [1, 2, 4] {
        #expect(throws: TokenizerError.self) { try t.encodeIdsBatch(texts, specialTokens: .disallowed, threads: threads) }
    }
    texts[37] = Array("abc".utf8); texts[150] = Array("ab".utf8)
    let ids = try t.encodeIdsBatch(texts, specialTokens: .disallowed, threads: 2)
    #expect(ids.count == texts.count)
    for (i, text) in texts.enumerated() { #expect(ids[i] == (try t.encode(bytes: text)).ids) }
}
