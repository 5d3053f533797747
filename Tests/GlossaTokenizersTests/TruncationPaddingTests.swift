// Expected values come from the real Hugging Face `tokenizers` 0.23.3 with
// W = Tokenizer.from_file('/work/shared/tokenizers/all-MiniLM-L6-v2-wordpiece/tokenizer.json')
// (padding and truncation switched off first unless stated); the Python call is next to each value.
import Testing
@testable import GlossaTokenizers

/// A model output: (id, token, start, end) per token.
private func raw(_ t: [(Int32, String, Int, Int)], typeId: UInt32 = 0) -> Encoding {
    Encoding(ids: t.map(\.0), typeIds: Array(repeating: typeId, count: t.count), tokens: t.map(\.1),
             offsets: t.map { ByteSpan($0.2, $0.3) }, specialTokensMask: Array(repeating: 0, count: t.count),
             attentionMask: Array(repeating: 1, count: t.count), sequenceIds: Array(repeating: 0, count: t.count))
}

private let hello = raw([(7592, "hello", 0, 5)])
private let helloWorldThisIs = raw([(7592, "hello", 0, 5), (2088, "world", 6, 11), (2023, "this", 12, 16), (2003, "is", 17, 19)])
private let hiThere = (raw([(7632, "hi", 0, 2)]), raw([(2045, "there", 0, 5)], typeId: 1))
/// 'a b c ...' (ids 1037...) as the WordPiece model gives it.
private func letterEncoding(_ n: Int) -> Encoding {
    var t = [(Int32, String, Int, Int)]()
    for i in 0..<n {
        let letter = String(UnicodeScalar(UInt8(97 + i)))
        t.append((Int32(1037 + i), letter, 2 * i, 2 * i + 1))
    }
    return raw(t)
}
private let letters = letterEncoding(7)

private let bertTemplate = PostProcessorConfig.template(
    single: [.specialToken(id: "[CLS]", typeId: 0), .sequence(id: .a, typeId: 0), .specialToken(id: "[SEP]", typeId: 0)],
    pair: [.specialToken(id: "[CLS]", typeId: 0), .sequence(id: .a, typeId: 0), .specialToken(id: "[SEP]", typeId: 0),
           .sequence(id: .b, typeId: 1), .specialToken(id: "[SEP]", typeId: 1)],
    specialTokens: [TemplateSpecialToken(id: "[CLS]", ids: [101], tokens: ["[CLS]"]),
                    TemplateSpecialToken(id: "[SEP]", ids: [102], tokens: ["[SEP]"])])

@Suite struct TruncationPaddingTests {
    // W.enable_padding(pad_to_multiple_of=4, direction='left'); W.encode_batch(['hello', 'hello world this is'])
    @Test func batchPaddingToMultipleLeft() throws {
        let processor = try PostProcessor(bertTemplate)
        let padding = PaddingConfig(strategy: .batchLongest, direction: .left, padToMultipleOf: 4)
        var batch = try [hello, helloWorldThisIs].map { (e: Encoding) throws(TokenizerError) -> Encoding in
            try postProcess(e, nil, processor: processor, truncation: nil, padding: padding, addSpecialTokens: true)
        }
        #expect(batch[0].count == 4) // padded to a multiple of 4 on its own first
        padBatch(&batch, padding: padding)
        #expect(batch[0].ids == [0, 0, 0, 0, 0, 101, 7592, 102])
        #expect(batch[0].tokens == ["[PAD]", "[PAD]", "[PAD]", "[PAD]", "[PAD]", "[CLS]", "hello", "[SEP]"])
        #expect(batch[0].sequenceIds == [nil, nil, nil, nil, nil, nil, 0, nil])
        #expect(batch[0].attentionMask == [0, 0, 0, 0, 0, 1, 1, 1])
        #expect(batch[0].specialTokensMask == [1, 1, 1, 1, 1, 1, 0, 1])
        #expect(batch[0].offsets == [.zero, .zero, .zero, .zero, .zero, .zero, ByteSpan(0, 5), .zero])
        #expect(batch[1].ids == [0, 0, 101, 7592, 2088, 2023, 2003, 102])
        #expect(batch[1].sequenceIds == [nil, nil, nil, 0, 0, 0, 0, nil])
        #expect(batch[1].typeIds == [0, 0, 0, 0, 0, 0, 0, 0])
    }

    // W.post_processor = None; W.enable_padding(); W.encode_batch(['hello', 'hello world this is', ('hi', 'there')])
    @Test func batchPaddingWithoutProcessor() throws {
        let padding = PaddingConfig(strategy: .batchLongest)
        var batch = try [(hello, nil), (helloWorldThisIs, nil), (hiThere.0, hiThere.1)].map {
            (p: (Encoding, Encoding?)) throws(TokenizerError) -> Encoding in
            try postProcess(p.0, p.1, processor: nil, truncation: nil, padding: padding, addSpecialTokens: true)
        }
        padBatch(&batch, padding: padding, hasPostProcessor: false)
        #expect(batch[0].ids == [7592, 0, 0, 0])
        #expect(batch[0].sequenceIds == [0, 0, 0, 0]) // no sequence ranges: pads report sequence 0
        #expect(batch[0].attentionMask == [1, 0, 0, 0])
        #expect(batch[0].specialTokensMask == [0, 1, 1, 1])
        #expect(batch[1].ids == [7592, 2088, 2023, 2003])
        #expect(batch[2].ids == [7632, 2045, 0, 0])
        #expect(batch[2].typeIds == [0, 1, 0, 0])
        #expect(batch[2].sequenceIds == [0, 1, nil, nil])
        #expect(batch[2].offsets == [ByteSpan(0, 2), ByteSpan(0, 5), .zero, .zero])
    }

    // W.enable_truncation(3, stride=1, direction='left'); W.post_processor = None; e = W.encode('a b c d e f')
    // -> [1040, 1041, 1042], overflowing [1038, 1039, 1040] (2,3),(4,5),(6,7) and [1037, 1038] (0,1),(2,3)
    @Test func truncateLeftWithStride() throws {
        var e = letterEncoding(6)
        try truncate(&e, maxLength: 3, stride: 1, direction: .left)
        #expect(e.ids == [1040, 1041, 1042])
        #expect(e.overflowing.map { (o: Encoding) in o.ids } == [[1038, 1039, 1040], [1037, 1038]])
        #expect(e.overflowing.map { (o: Encoding) in o.offsets } == [[ByteSpan(2, 3), ByteSpan(4, 5), ByteSpan(6, 7)], [ByteSpan(0, 1), ByteSpan(2, 3)]])
    }

    // W.enable_truncation(3, stride=0); W.post_processor = None; e = W.encode('a b c d e f g')
    // -> [1037, 1038, 1039], overflowing [1040, 1041, 1042] and [1043] (12,13)
    @Test func truncateRightNoStride() throws {
        var e = letters
        try truncate(&e, maxLength: 3, stride: 0, direction: .right)
        #expect(e.ids == [1037, 1038, 1039])
        #expect(e.overflowing.map { (o: Encoding) in o.ids } == [[1040, 1041, 1042], [1043]])
        #expect(e.overflowing[1].offsets == [ByteSpan(12, 13)])
        #expect(e.sequenceIds == [0, 0, 0])
    }

    @Test func truncateIsANoOpWhenShortEnough() throws {
        let processed = try postProcess(hello, nil, processor: PostProcessor(bertTemplate), truncation: nil, padding: nil,
                                        addSpecialTokens: true)
        var e = processed
        try truncate(&e, maxLength: 10, stride: 0, direction: .right)
        #expect(e == processed)
    }

    // HF panics: "`stride` must be strictly less than `max_len=1` ..." (W.enable_truncation(3, stride=1) then
    // W.encode('hello world this is', 'a long sentence here') with the BERT template).
    @Test func strideNotBelowLengthThrows() {
        var e = letters
        #expect(throws: TokenizerError.self) { try truncate(&e, maxLength: 2, stride: 2, direction: .right) }
        #expect(throws: TokenizerError.self) {
            _ = try postProcess(helloWorldThisIs, raw([(1037, "a", 0, 1), (2146, "long", 2, 6), (6251, "sentence", 7, 15), (2182, "here", 16, 20)], typeId: 1),
                                processor: PostProcessor(bertTemplate), truncation: TruncationConfig(maxLength: 6, stride: 1),
                                padding: nil, addSpecialTokens: true)
        }
    }

    // W.enable_truncation(2, strategy='only_first'); W.post_processor = None; W.encode('hi', 'there') -> error
    // "Truncation error: Sequence to truncate too short to respect the provided max_length"; 'only_second'
    // without a pair -> "Truncation error: Second sequence not provided".
    @Test func onlyFirstTooShortThrows() {
        #expect(throws: TokenizerError.self) {
            _ = try postProcess(hiThere.0, raw([(2045, "there", 0, 5), (2045, "there", 6, 11)], typeId: 1), processor: nil,
                                truncation: TruncationConfig(maxLength: 2, strategy: .onlyFirst), padding: nil, addSpecialTokens: true)
        }
        #expect(throws: TokenizerError.self) {
            _ = try postProcess(helloWorldThisIs, nil, processor: nil,
                                truncation: TruncationConfig(maxLength: 2, strategy: .onlySecond), padding: nil, addSpecialTokens: true)
        }
    }

    @Test func padLeavesLongerEncodingsAlone() {
        var e = helloWorldThisIs
        pad(&e, to: 2, padId: 0, padTypeId: 0, padToken: "[PAD]", direction: .right)
        #expect(e.ids == helloWorldThisIs.ids)
        pad(&e, to: 6, padId: 9, padTypeId: 3, padToken: "<p>", direction: .right)
        #expect(e.ids == [7592, 2088, 2023, 2003, 9, 9])
        #expect(e.typeIds == [0, 0, 0, 0, 3, 3])
        #expect(e.tokens.suffix(2) == ["<p>", "<p>"])
        #expect(e.sequenceIds == [0, 0, 0, 0, nil, nil])
    }
}
