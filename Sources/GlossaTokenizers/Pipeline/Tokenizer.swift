import GlossaUnicode

/// The model at the heart of a tokenizer.
public enum TokenModel: Sendable {
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)

    public var vocabulary: Vocabulary {
        switch self {
        case .bpe(let m): return m.vocabulary
        case .wordPiece(let m): return m.vocabulary
        }
    }
}

/// What to do with special tokens that appear literally in the input text.
public enum SpecialTokenPolicy: String, Sendable, CaseIterable {
    /// Match them and emit their ids (HF's behaviour; tiktoken `allowed_special="all"`).
    case allowed
    /// Throw when a special token appears (tiktoken's default).
    case disallowed
    /// Encode them as ordinary text (tiktoken `encode_ordinary`; HF `split_special_tokens`).
    case text
}

public struct EncodeOptions: Sendable {
    /// Apply the post-processor's template (BOS/CLS/SEP...).
    public var addSpecialTokens: Bool
    public var specialTokens: SpecialTokenPolicy
    /// Fill `Encoding.tokens` (costs one string per token).
    public var withTokens: Bool
    public init(addSpecialTokens: Bool = true, specialTokens: SpecialTokenPolicy = .allowed, withTokens: Bool = true) {
        self.addSpecialTokens = addSpecialTokens; self.specialTokens = specialTokens; self.withTokens = withTokens
    }
}

/// Where a tokenizer came from and which reference it must agree with.
public enum TokenizerSource: Sendable, Equatable {
    case huggingFace
    case tiktoken(encoding: String)
    case gpt2Files
    /// SentencePiece `.model`: encodes exactly like the `sentencepiece` library.
    case sentencePiece
}

/// A complete tokenizer: added tokens → normalizer → pre-tokenizer → model → post-processor,
/// and the decoder for the way back. Immutable and safe to share across threads.
public final class Tokenizer: Sendable {
    public let source: TokenizerSource
    public let normalizerConfig: NormalizerConfig?
    public let preTokenizerConfig: PreTokenizerConfig?
    public let postProcessorConfig: PostProcessorConfig?
    public let decoderConfig: DecoderConfig?
    public let truncation: TruncationConfig?
    public let padding: PaddingConfig?
    public let model: TokenModel
    public let addedVocabulary: AddedVocabulary
    /// The tiktoken pattern string, when this tokenizer came from (or can be written as) a rank file.
    public let pattern: String?
    /// SentencePiece piece scores (for deriving a merge list when writing tokenizer.json).
    public let pieceScores: [Float]?

    let normalizer: TextNormalizer?
    let preTokenizer: PreTokenizerPipeline
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?
    /// Pre-tokens are ranges of the input: no normalizer, no text-rewriting pre-tokenizer.
    let rangePath: Bool
    /// The model consumes raw bytes (its spans may split characters).
    let byteLevelModel: Bool
    /// A byte-level implementation of this normalizer + pre-tokenizer + model combination, if any.
    let fastPath: FastPath?
    /// The fused ids-only loop for `encodeIds`/`count`, when the pipeline allows it.
    let idsPath: IdsPath?

    public init(model: TokenModel, normalizer: NormalizerConfig? = nil, preTokenizer: PreTokenizerConfig? = nil,
                postProcessor: PostProcessorConfig? = nil, decoder: DecoderConfig? = nil,
                addedTokens: [AddedToken] = [], truncation: TruncationConfig? = nil, padding: PaddingConfig? = nil,
                source: TokenizerSource = .huggingFace, pattern: String? = nil,
                unmatchedAddedIds: Set<Int32> = [], pieceScores: [Float]? = nil) throws(TokenizerError) {
        self.pieceScores = pieceScores
        self.model = model
        self.source = source
        self.normalizerConfig = normalizer
        self.preTokenizerConfig = preTokenizer
        self.postProcessorConfig = postProcessor
        self.decoderConfig = decoder
        self.truncation = truncation
        self.padding = padding
        self.pattern = pattern
        let norm = try normalizer.map { c throws(TokenizerError) in try TextNormalizer(c) }
        self.normalizer = norm
        self.preTokenizer = try PreTokenizerPipeline(preTokenizer)
        self.postProcessor = try postProcessor.map { c throws(TokenizerError) in try PostProcessor(c) }
        self.decoder = try decoder.map { c throws(TokenizerError) in try TokenDecoder(c) }
        self.addedVocabulary = AddedVocabulary(addedTokens, unmatched: unmatchedAddedIds) { bytes in
            guard let norm else { return bytes }
            var t = NormalizedText(bytes)
            try? norm.normalize(&t)
            return t.normalized
        }
        rangePath = normalizer == nil && self.preTokenizer.isPureSplitter
        if case .bpe(let m) = model { byteLevelModel = m.byteLevel } else { byteLevelModel = false }
        fastPath = rangePath ? nil : FastPath.select(normalizer: normalizer, preTokenizer: preTokenizer, model: model,
                                                     addedVocabulary: addedVocabulary)
        idsPath = IdsPath.select(rangePath: rangePath, preTokenizer: self.preTokenizer, model: model,
                                 addedVocabulary: addedVocabulary)
        if Self.processorCount > 1 { idsPath?.prepareInBackground() }
    }

    // MARK: Vocabulary

    /// Model vocabulary plus added tokens beyond it.
    public var vocabularySize: Int {
        var n = model.vocabulary.count
        for t in addedVocabulary.tokens where Int(t.id) >= n { n = Int(t.id) + 1 }
        return n
    }

    public func id(of token: String) -> Int32? {
        addedVocabulary.id(of: Array(token.utf8)) ?? model.vocabulary.id(of: token)
    }

    /// The token's spelling (added tokens first, as HF does).
    public func token(of id: Int32) -> String? {
        if let t = addedVocabulary.token(id: id) { return t.content }
        return model.vocabulary.string(id)
    }

    // MARK: Encoding

    public func encode(_ text: String, options: EncodeOptions = EncodeOptions()) throws(TokenizerError) -> Encoding {
        try encode(bytes: Array(text.utf8), options: options)
    }

    /// Encodes validated-or-not UTF-8 bytes; invalid UTF-8 is rejected with its byte offset.
    public func encode(bytes: [UInt8], options: EncodeOptions = EncodeOptions()) throws(TokenizerError) -> Encoding {
        var state = EncoderState()
        return try encode(bytes: bytes, options: options, state: &state)
    }

    public func encode(bytes: [UInt8], options: EncodeOptions, state: inout EncoderState) throws(TokenizerError) -> Encoding {
        var enc = try encodeSequence(bytes, options: options, state: &state)
        enc.sources = [bytes]
        let postProcessing = postProcessor != nil || truncation != nil || padding != nil
        // Post-processing keeps token strings aligned with ids, so it needs them filled.
        if options.withTokens || postProcessing { fillTokens(&enc, bytes) }
        if !postProcessing { return enc }
        var out = try postProcess(enc, nil, processor: postProcessor, truncation: truncation, padding: padding,
                                  addSpecialTokens: options.addSpecialTokens)
        if !options.withTokens { out.tokens = [] }
        return out
    }

    /// Token counting with a state of its own: a call on a short text costs microseconds (the state's caches
    /// start small); a caller with many texts keeps one `EncoderState` per thread for the caches to pay.
    public func count(bytes: [UInt8], specialTokens: SpecialTokenPolicy = .allowed) throws(TokenizerError) -> Int {
        var state = EncoderState()
        return try count(bytes: bytes, specialTokens: specialTokens, state: &state)
    }

    /// Token counting without building an `Encoding` (no offsets, no post-processing).
    public func count(bytes: [UInt8], specialTokens: SpecialTokenPolicy = .allowed, state: inout EncoderState) throws(TokenizerError) -> Int {
        if let idsPath { return try runIds(bytes, idsPath, policy: specialTokens, state: &state) }
        state.ids.removeAll(keepingCapacity: true)
        state.offsets.removeAll(keepingCapacity: true)
        state.bpe.withOffsets = false
        try run(bytes, policy: specialTokens, state: &state)
        return state.ids.count
    }

    /// Whether `encodeIds` gives the ids `encode(options:)` would: nothing is added, cut or padded after
    /// the model (no template applied, no truncation, no padding), so callers that want ids alone can take
    /// the ids-only path.
    public func idsOnlyMatch(_ options: EncodeOptions) -> Bool {
        (!options.addSpecialTokens || postProcessor == nil) && truncation == nil && padding == nil
    }

    /// Ids only (no offsets, no post-processing) with a state of its own, as `count(bytes:specialTokens:)`.
    public func encodeIds(bytes: [UInt8], specialTokens: SpecialTokenPolicy = .allowed) throws(TokenizerError) -> [Int32] {
        var state = EncoderState()
        return try encodeIds(bytes: bytes, specialTokens: specialTokens, state: &state)
    }

    /// Ids only, for the bulk paths (no offsets kept, no post-processing).
    public func encodeIds(bytes: [UInt8], specialTokens: SpecialTokenPolicy = .allowed, state: inout EncoderState) throws(TokenizerError) -> [Int32] {
        if let idsPath { return idsOut(try runIds(bytes, idsPath, policy: specialTokens, state: &state), state) }
        state.ids.removeAll(keepingCapacity: true)
        state.offsets.removeAll(keepingCapacity: true)
        state.bpe.withOffsets = false
        try run(bytes, policy: specialTokens, state: &state)
        return state.ids
    }

    func encodeSequence(_ bytes: [UInt8], options: EncodeOptions, state: inout EncoderState) throws(TokenizerError) -> Encoding {
        state.ids.removeAll(keepingCapacity: true)
        state.offsets.removeAll(keepingCapacity: true)
        state.bpe.withOffsets = true
        try run(bytes, policy: options.specialTokens, state: &state)
        let n = state.ids.count
        return Encoding(ids: state.ids, typeIds: [UInt32](repeating: 0, count: n), tokens: [],
                        offsets: state.offsets, specialTokensMask: [UInt8](repeating: 0, count: n),
                        attentionMask: [UInt8](repeating: 1, count: n), sequenceIds: [Int8?](repeating: 0, count: n))
    }

    func fillTokens(_ enc: inout Encoding, _ bytes: [UInt8]) {
        var toks = [String]()
        toks.reserveCapacity(enc.ids.count)
        for (i, id) in enc.ids.enumerated() {
            if addedVocabulary.token(id: id) != nil {
                let o = enc.offsets[i]
                toks.append(String(decoding: bytes[Int(o.start)..<Int(o.end)], as: UTF8.self))
            } else {
                toks.append(model.vocabulary.string(id) ?? "")
            }
        }
        enc.tokens = toks
    }

    /// The pipeline proper: appends ids and absolute byte offsets to `state`. With `state.bpe.withOffsets`
    /// false (the ids-only callers), the offsets left in `state` are meaningless (the BPE model records no
    /// spans and the fast paths skip mapping them back to the input); `useFastPath: false` forces the general
    /// path (the reference the fast paths are tested against).
    func run(_ bytes: [UInt8], policy: SpecialTokenPolicy, useFastPath: Bool = true,
             state: inout EncoderState) throws(TokenizerError) {
        try bytes.withUnsafeBufferPointer { (text: UnsafeBufferPointer<UInt8>) throws(TokenizerError) in
            for sp in try splits(text, policy: policy) {
                if let id = sp.id {
                    state.ids.append(id); state.offsets.append(ByteSpan(sp.start, sp.end)); continue
                }
                if sp.start == sp.end { continue }
                if useFastPath, let fastPath {
                    switch fastPath {
                    case .metaspace(let path):
                        // The segment cache stores the model's spans for every later caller, so the model
                        // records them even for ids-only calls; only mapping them back is skipped.
                        let wanted = state.bpe.withOffsets
                        state.bpe.withOffsets = true
                        encodeMetaspace(path, text, sp.start, sp.end, offsets: wanted, state: &state)
                        state.bpe.withOffsets = wanted
                    case .bert(let path): try encodeBert(path, text, sp.start, sp.end, policy: policy, state: &state)
                    }
                } else if rangePath {
                    try encodeRange(text, sp.start, sp.end, policy: policy, state: &state)
                } else {
                    var nt = NormalizedText(UnsafeBufferPointer(rebasing: text[sp.start..<sp.end]), originalShift: sp.start)
                    if let normalizer { try normalizer.normalize(&nt) }
                    try encodeNormalized(nt, policy: policy, state: &state)
                }
            }
        }
    }

    /// Validates the input and cuts it at the added tokens that `policy` lets through.
    func splits(_ text: UnsafeBufferPointer<UInt8>, policy: SpecialTokenPolicy) throws(TokenizerError) -> [AddedVocabulary.Split] {
        if let bad = UTF8Scan.firstInvalidOffset(text) { throw .invalidUTF8(source: nil, byteOffset: bad) }
        var splits = [AddedVocabulary.Split]()
        if addedVocabulary.isEmpty || policy == .text && addedVocabulary.specialIds.count == addedVocabulary.tokens.count {
            splits.append(.init(start: 0, end: text.count, id: nil))
        } else {
            addedVocabulary.findMatches(text, normalizedSet: false, into: &splits)
            if policy != .allowed { try applyPolicy(policy, &splits, text) }
        }
        return splits
    }

    /// The first `count` ids of `state.idsOut` (what `runIds` wrote).
    @inline(__always) func idsOut(_ count: Int, _ state: EncoderState) -> [Int32] {
        Array(UnsafeBufferPointer(start: state.idsOut.ids, count: count))
    }

    /// `run` for ids only through `path`: the ids land in `state.idsOut`; returns their count.
    func runIds(_ bytes: [UInt8], _ path: IdsPath, policy: SpecialTokenPolicy,
                state: inout EncoderState) throws(TokenizerError) -> Int {
        state.bpe.withOffsets = false
        state.offsets.removeAll(keepingCapacity: true)
        return try bytes.withUnsafeBufferPointer { (text: UnsafeBufferPointer<UInt8>) throws(TokenizerError) -> Int in
            let splits = try splits(text, policy: policy)
            // At most one id per byte (added tokens included), plus the slack the loop writes past its end.
            state.idsOut.reserve(text.count &+ PieceMemo.slack)
            let out = state.idsOut.ids
            var k = 0
            for sp in splits {
                if let id = sp.id { out[k] = id; k &+= 1 }
                else if sp.start < sp.end { k = path.encode(text, sp.start, sp.end, out: out, at: k, state: &state) }
            }
            return k
        }
    }

    /// Re-joins special-token splits into text when specials are encoded as text, or throws when disallowed.
    func applyPolicy(_ policy: SpecialTokenPolicy, _ splits: inout [AddedVocabulary.Split],
                     _ text: UnsafeBufferPointer<UInt8>) throws(TokenizerError) {
        var out = [AddedVocabulary.Split]()
        for sp in splits {
            if let id = sp.id, addedVocabulary.specialIds.contains(id) {
                if policy == .disallowed {
                    throw .disallowedSpecialToken(token: addedVocabulary.token(id: id)?.content ?? "\(id)", byteOffset: sp.start)
                }
                if let last = out.last, last.id == nil { out[out.count - 1].end = sp.end }
                else { out.append(.init(start: sp.start, end: sp.end, id: nil)) }
            } else if sp.id == nil, let last = out.last, last.id == nil {
                out[out.count - 1].end = sp.end
            } else {
                out.append(sp)
            }
        }
        splits = out
    }

    /// Fast path: the text between added tokens is split into ranges and handed to the model directly.
    func encodeRange(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, policy: SpecialTokenPolicy,
                     state: inout EncoderState) throws(TokenizerError) {
        if addedVocabulary.hasNormalizedTokens {
            var subs = [AddedVocabulary.Split]()
            addedVocabulary.findMatches(UnsafeBufferPointer(rebasing: text[start..<end]), normalizedSet: true, into: &subs)
            if policy != .allowed { try applyPolicy(policy, &subs, UnsafeBufferPointer(rebasing: text[start..<end])) }
            for s in subs {
                if let id = s.id { state.ids.append(id); state.offsets.append(ByteSpan(start + s.start, start + s.end)) }
                else if s.start < s.end { encodePieces(text, start + s.start, start + s.end, state: &state) }
            }
        } else {
            encodePieces(text, start, end, state: &state)
        }
    }

    func encodePieces(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, state: inout EncoderState) {
        let base = text.baseAddress!
        // Ids-only callers (the BPE model then records no spans) need no widening either.
        let widen = byteLevelModel && state.bpe.withOffsets
        preTokenizer.forEachRange(text, start, end) { s, e in
            let mark = state.offsets.count
            tokenizeModel(base + s, e - s, base: Int32(s), state: &state)
            if widen { Self.widenToCharacters(&state.offsets, from: mark, base, s, e) }
        }
    }

    /// Byte-level tokens can split a character; HF reports the whole character (each byte-level
    /// symbol is aligned to the character it came from), so spans widen to character boundaries.
    @inline(__always)
    static func widenToCharacters(_ offsets: inout [ByteSpan], from mark: Int, _ p: UnsafePointer<UInt8>, _ lo: Int, _ hi: Int) {
        var k = mark
        while k < offsets.count {
            var a = Int(offsets[k].start), b = Int(offsets[k].end)
            if a < hi && p[a] & 0xC0 == 0x80 || b < hi && p[b] & 0xC0 == 0x80 {
                while a > lo && p[a] & 0xC0 == 0x80 { a -= 1 }
                while b < hi && p[b] & 0xC0 == 0x80 { b += 1 }
                offsets[k] = ByteSpan(a, b)
            }
            k &+= 1
        }
    }

    @inline(__always)
    func tokenizeModel(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int32, state: inout EncoderState) {
        switch model {
        case .bpe(let m): m.tokenize(p, n, base: base, ids: &state.ids, offsets: &state.offsets, scratch: &state.bpe)
        case .wordPiece(let m): m.tokenize(p, n, base: base, ids: &state.ids, offsets: &state.offsets, key: &state.key)
        }
    }

    /// General path: pieces carry alignments back to the input.
    func encodeNormalized(_ nt: NormalizedText, policy: SpecialTokenPolicy, state: inout EncoderState) throws(TokenizerError) {
        var texts = [NormalizedText]()
        if addedVocabulary.hasNormalizedTokens {
            var subs = [AddedVocabulary.Split]()
            nt.normalized.withUnsafeBufferPointer { addedVocabulary.findMatches($0, normalizedSet: true, into: &subs) }
            if policy != .allowed { try nt.normalized.withUnsafeBufferPointer { (b) throws(TokenizerError) in try applyPolicy(policy, &subs, b) } }
            for s in subs {
                guard let piece = nt.slice(normalizedRange: s.start..<s.end) else { continue }
                if let id = s.id {
                    let r = nt.absoluteOriginalRange(forNormalized: s.start..<s.end) ?? 0..<0
                    flushPieces(&texts, state: &state)
                    state.ids.append(id); state.offsets.append(ByteSpan(r.lowerBound, r.upperBound))
                } else if !piece.isEmpty {
                    texts.append(piece)
                }
            }
        } else {
            texts.append(nt)
        }
        flushPieces(&texts, state: &state)
    }

    func flushPieces(_ texts: inout [NormalizedText], state: inout EncoderState) {
        for t in texts {
            for piece in preTokenizer.apply(t) {
                let mark = state.offsets.count
                piece.normalized.withUnsafeBufferPointer { b in
                    tokenizeModel(b.baseAddress!, b.count, base: 0, state: &state)
                }
                for k in mark..<state.offsets.count {
                    let o = state.offsets[k]
                    let r = piece.absoluteOriginalRange(forNormalized: Int(o.start)..<Int(o.end)) ?? 0..<0
                    state.offsets[k] = ByteSpan(r.lowerBound, r.upperBound)
                }
            }
        }
        texts.removeAll(keepingCapacity: true)
    }

    // MARK: Decoding

    /// HF `decode`: ids → tokens (special tokens optionally skipped; unknown ids dropped) → decoder.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var toks = [String]()
        toks.reserveCapacity(ids.count)
        for id in ids {
            if let t = addedVocabulary.token(id: id) {
                if skipSpecialTokens && t.special { continue }
                toks.append(t.content)
            } else if let s = model.vocabulary.string(id) {
                toks.append(s)
            }
        }
        guard let decoder else { return toks.joined(separator: " ") }
        return decoder.decode(toks)
    }
}

/// Per-thread reusable buffers for encoding (not Sendable: one per thread).
public struct EncoderState {
    var ids: [Int32] = []
    var offsets: [ByteSpan] = []
    var bpe = BPEScratch()
    var key: [UInt8] = []
    /// Created on first use by the fast paths.
    var wordPieceCache: WordPieceCache?
    var segmentCache: SegmentCache?
    /// The ids-only path's memo, output buffer and per-piece ids.
    var pieceMemo: PieceMemo?
    var idsOut = IdsBuffer()
    var pieceIds: [Int32] = []
    public init() {}
}
