import GlossaPatterns
import GlossaJSON
import GlossaFormats

/// A printable description of a tokenizer (`glossa inspect`).
public struct TokenizerSummary: Sendable {
    public var source: String
    public var model: String
    public var vocabularySize: Int
    public var modelVocabularySize: Int
    public var merges: Int
    public var pipeline: [String]
    public var specialTokens: [(String, Int32)]
    public var addedTokens: Int
}

extension Tokenizer {
    public var summary: TokenizerSummary {
        var pipeline: [String] = []
        if let n = normalizerConfig { pipeline.append("normalizer: \(Self.describe(n))") }
        if let p = preTokenizerConfig { pipeline.append("pre-tokenizer: \(Self.describe(p))") }
        switch model {
        case .bpe(let m):
            var opts: [String] = []
            if m.byteLevel { opts.append("byte-level") }
            if m.options.ignoreMerges { opts.append("ignore_merges") }
            if m.options.byteFallback { opts.append("byte_fallback") }
            if let u = m.options.unkToken { opts.append("unk=\(u)") }
            if m.options.fuseUnk { opts.append("fuse_unk") }
            pipeline.append("model: BPE" + (opts.isEmpty ? "" : " (" + opts.joined(separator: ", ") + ")"))
        case .wordPiece(let m): pipeline.append("model: WordPiece (unk=\(m.unkToken), prefix=\(m.continuingSubwordPrefix))")
        }
        if let p = postProcessorConfig { pipeline.append("post-processor: \(Self.describe(p))") }
        if let d = decoderConfig { pipeline.append("decoder: \(Self.describe(d))") }
        if let t = truncation { pipeline.append("truncation: max_length \(t.maxLength)") }
        if let p = padding { pipeline.append("padding: \(p.strategy)") }
        let sourceName: String
        switch source {
        case .huggingFace: sourceName = "Hugging Face tokenizer.json"
        case .tiktoken(let e): sourceName = "tiktoken rank file (\(e))"
        case .gpt2Files: sourceName = "GPT-2 encoder.json + vocab.bpe"
        case .sentencePiece: sourceName = "SentencePiece model (BPE)"
        }
        var mergeCount = 0
        var modelName = "WordPiece"
        if case .bpe(let m) = model {
            modelName = "BPE"
            let merges = m.merges
            mergeCount = merges.isEmpty ? (try? canonicalMerges().count) ?? 0 : merges.count
        }
        return TokenizerSummary(source: sourceName, model: modelName, vocabularySize: vocabularySize,
                                modelVocabularySize: model.vocabulary.count - model.vocabulary.holeCount,
                                merges: mergeCount, pipeline: pipeline,
                                specialTokens: addedVocabulary.tokens.filter { $0.special }.map { ($0.content, $0.id) },
                                addedTokens: addedVocabulary.tokens.count)
    }

    static func describe(_ c: NormalizerConfig) -> String {
        switch c {
        case .sequence(let l): return "Sequence[" + l.map(describe).joined(separator: ", ") + "]"
        default: return "\(c)"
        }
    }
    static func describe(_ c: PreTokenizerConfig) -> String {
        switch c {
        case .sequence(let l): return "Sequence[" + l.map(describe).joined(separator: ", ") + "]"
        case let .split(.regex(r), b, inv): return "Split(regex \(KnownPatternName.of(r)), \(b.json)\(inv ? ", inverted" : ""))"
        default: return "\(c)"
        }
    }
    static func describe(_ c: PostProcessorConfig) -> String {
        switch c {
        case .sequence(let l): return "Sequence[" + l.map(describe).joined(separator: ", ") + "]"
        case let .template(single, _, _):
            return "Template(" + single.map { p in
                switch p { case .sequence(let id, _): return "$" + id.rawValue; case .specialToken(let id, _): return id }
            }.joined(separator: " ") + ")"
        default: return "\(c)"
        }
    }
    static func describe(_ c: DecoderConfig) -> String {
        switch c {
        case .sequence(let l): return "Sequence[" + l.map(describe).joined(separator: ", ") + "]"
        default: return "\(c)"
        }
    }

    /// Merges as (left id, right id) in rank order; recovered from ranks or pieces for formats that store none.
    public func canonicalMerges() throws(TokenizerError) -> [(Int32, Int32)] {
        guard case .bpe(let m) = model else { return [] }
        switch source {
        case .tiktoken, .gpt2Files:
            let tokens = (0..<m.vocabulary.count).map { m.modelKey(Int32($0)) ?? [] }
            let file: TiktokenFile
            do { file = try TiktokenFile(tokens: tokens) } catch { throw .malformed(file: nil, field: "ranks", reason: error.description) }
            // Every two-way split, in rank order: with ignore_merges this reproduces tiktoken exactly
            // (Llama-3's ranks do not all split into exactly two lower-ranked parts).
            return MergeRecovery.allSplitMerges(file).map { ($0.left, $0.right) }
        case .sentencePiece:
            let pieces = m.vocabulary.tokens.map { String(decoding: $0, as: UTF8.self) }
            return MergeRecovery.sentencePieceMerges(pieces: pieces, scores: pieceScores, order: .byScore).compactMap { pair in
                guard let l = m.vocabulary.id(of: pair.left), let r = m.vocabulary.id(of: pair.right) else { return nil }
                return (l, r)
            }
        case .huggingFace:
            return m.merges
        }
    }

    /// Hugging Face `tokenizer.json` bytes (pretty-printed, merges as pairs unless `legacyMerges`).
    public func huggingFaceJSON(legacyMerges: Bool = false) throws(TokenizerError) -> [UInt8] {
        var w = JSONWriter(pretty: true)
        w.beginObject()
        w.key("version"); w.string("1.0")
        w.key("truncation")
        if let t = truncation {
            w.beginObject()
            w.key("direction"); w.string(t.direction.rawValue)
            w.key("max_length"); w.int(t.maxLength)
            w.key("strategy"); w.string(t.strategy.rawValue)
            w.key("stride"); w.int(t.stride)
            w.endObject()
        } else { w.null() }
        w.key("padding")
        if let p = padding {
            w.beginObject()
            w.key("strategy")
            switch p.strategy {
            case .batchLongest: w.string("BatchLongest")
            case .fixed(let n): w.beginObject(); w.key("Fixed"); w.int(n); w.endObject()
            }
            w.key("direction"); w.string(p.direction.rawValue)
            w.key("pad_to_multiple_of"); if let m = p.padToMultipleOf { w.int(m) } else { w.null() }
            w.key("pad_id"); w.int(Int(p.padId))
            w.key("pad_type_id"); w.int(Int(p.padTypeId))
            w.key("pad_token"); w.string(p.padToken)
            w.endObject()
        } else { w.null() }
        w.key("added_tokens"); w.beginArray()
        for t in addedVocabulary.tokens.sorted(by: { $0.id < $1.id }) {
            w.beginObject()
            w.key("id"); w.int(Int(t.id))
            w.key("content"); w.string(t.content)
            w.key("single_word"); w.bool(t.singleWord)
            w.key("lstrip"); w.bool(t.lstrip)
            w.key("rstrip"); w.bool(t.rstrip)
            w.key("normalized"); w.bool(t.normalized)
            w.key("special"); w.bool(t.special)
            w.endObject()
        }
        w.endArray()
        w.key("normalizer"); if let n = normalizerConfig { Self.write(n, &w) } else { w.null() }
        w.key("pre_tokenizer"); if let p = preTokenizerConfig { Self.write(p, &w) } else { w.null() }
        w.key("post_processor"); if let p = postProcessorConfig { Self.write(p, &w) } else { w.null() }
        w.key("decoder"); if let d = decoderConfig { Self.write(d, &w) } else { w.null() }
        w.key("model")
        switch model {
        case .bpe(let m):
            let merges = try canonicalMerges()
            w.beginObject()
            w.key("type"); w.string("BPE")
            w.key("dropout"); w.null()
            w.key("unk_token"); if let u = m.options.unkToken { w.string(u) } else { w.null() }
            w.key("continuing_subword_prefix"); if let u = m.options.continuingSubwordPrefix { w.string(u) } else { w.null() }
            w.key("end_of_word_suffix"); if let u = m.options.endOfWordSuffix { w.string(u) } else { w.null() }
            w.key("fuse_unk"); w.bool(m.options.fuseUnk)
            w.key("byte_fallback"); w.bool(m.options.byteFallback)
            w.key("ignore_merges"); w.bool(m.options.ignoreMerges)
            Self.writeVocab(m.vocabulary, &w)
            w.key("merges"); w.beginArray()
            if legacyMerges {
                for (a, b) in merges {
                    let l = m.vocabulary.token(a) ?? [], r = m.vocabulary.token(b) ?? []
                    if l.contains(0x20) || r.contains(0x20) {
                        throw .invalidArgument("legacy \"a b\" merges cannot express tokens containing a space (\(String(decoding: l + r, as: UTF8.self)))")
                    }
                    w.string(bytes: l + [0x20] + r)
                }
            } else {
                for (a, b) in merges {
                    w.beginArray(); w.string(bytes: m.vocabulary.token(a) ?? []); w.string(bytes: m.vocabulary.token(b) ?? []); w.endArray()
                }
            }
            w.endArray()
            w.endObject()
        case .wordPiece(let m):
            w.beginObject()
            w.key("type"); w.string("WordPiece")
            w.key("unk_token"); w.string(m.unkToken)
            w.key("continuing_subword_prefix"); w.string(m.continuingSubwordPrefix)
            w.key("max_input_chars_per_word"); w.int(m.maxInputCharsPerWord)
            Self.writeVocab(m.vocabulary, &w)
            w.endObject()
        }
        w.endObject()
        return w.bytes + [0x0A]
    }

    static func writeVocab(_ v: Vocabulary, _ w: inout JSONWriter) {
        w.key("vocab"); w.beginObject()
        for (i, t) in v.tokens.enumerated() where v.id(of: t) == Int32(i) {
            w.key(bytes: t); w.int(i)
        }
        w.endObject()
    }

    static func writePattern(_ p: Pattern, _ w: inout JSONWriter) {
        w.beginObject()
        switch p {
        case .string(let s): w.key("String"); w.string(s)
        case .regex(let r): w.key("Regex"); w.string(r)
        }
        w.endObject()
    }

    static func write(_ c: NormalizerConfig, _ w: inout JSONWriter) {
        w.beginObject()
        switch c {
        case .nfc: w.key("type"); w.string("NFC")
        case .nfd: w.key("type"); w.string("NFD")
        case .nfkc: w.key("type"); w.string("NFKC")
        case .nfkd: w.key("type"); w.string("NFKD")
        case .lowercase: w.key("type"); w.string("Lowercase")
        case let .strip(l, r): w.key("type"); w.string("Strip"); w.key("strip_left"); w.bool(l); w.key("strip_right"); w.bool(r)
        case .stripAccents: w.key("type"); w.string("StripAccents")
        case let .replace(p, c): w.key("type"); w.string("Replace"); w.key("pattern"); writePattern(p, &w); w.key("content"); w.string(c)
        case .prepend(let s): w.key("type"); w.string("Prepend"); w.key("prepend"); w.string(s)
        case let .bert(ct, cc, sa, lc):
            w.key("type"); w.string("BertNormalizer"); w.key("clean_text"); w.bool(ct); w.key("handle_chinese_chars"); w.bool(cc)
            w.key("strip_accents"); if let sa { w.bool(sa) } else { w.null() }
            w.key("lowercase"); w.bool(lc)
        case .nmt: w.key("type"); w.string("Nmt")
        case .precompiled(let m): w.key("type"); w.string("Precompiled"); w.key("precompiled_charsmap"); w.string(Base64.encode(m))
        case .byteLevel: w.key("type"); w.string("ByteLevel")
        case .sequence(let l):
            w.key("type"); w.string("Sequence"); w.key("normalizers"); w.beginArray(); for n in l { write(n, &w) }; w.endArray()
        }
        w.endObject()
    }

    static func write(_ c: PreTokenizerConfig, _ w: inout JSONWriter) {
        w.beginObject()
        switch c {
        case let .byteLevel(a, t, u):
            w.key("type"); w.string("ByteLevel"); w.key("add_prefix_space"); w.bool(a); w.key("trim_offsets"); w.bool(t); w.key("use_regex"); w.bool(u)
        case let .split(p, b, inv):
            var pattern = p
            if case .regex(let r) = p, let known = KnownPattern(regex: r) { pattern = .regex(known.onigurumaSpelling) }
            w.key("type"); w.string("Split"); w.key("pattern"); writePattern(pattern, &w); w.key("behavior"); w.string(b.json); w.key("invert"); w.bool(inv)
        case .whitespace: w.key("type"); w.string("Whitespace")
        case .whitespaceSplit: w.key("type"); w.string("WhitespaceSplit")
        case .bert: w.key("type"); w.string("BertPreTokenizer")
        case let .metaspace(r, s, sp):
            w.key("type"); w.string("Metaspace"); w.key("replacement"); w.string(r); w.key("prepend_scheme"); w.string(s.rawValue); w.key("split"); w.bool(sp)
        case .punctuation(let b): w.key("type"); w.string("Punctuation"); w.key("behavior"); w.string(b.json)
        case .digits(let d): w.key("type"); w.string("Digits"); w.key("individual_digits"); w.bool(d)
        case .charDelimiterSplit(let d): w.key("type"); w.string("CharDelimiterSplit"); w.key("delimiter"); w.string(d)
        case .sequence(let l):
            w.key("type"); w.string("Sequence"); w.key("pretokenizers"); w.beginArray(); for p in l { write(p, &w) }; w.endArray()
        }
        w.endObject()
    }

    static func writeTemplate(_ t: [TemplatePiece], _ w: inout JSONWriter) {
        w.beginArray()
        for p in t {
            w.beginObject()
            switch p {
            case let .sequence(id, tid): w.key("Sequence"); w.beginObject(); w.key("id"); w.string(id.rawValue); w.key("type_id"); w.int(Int(tid)); w.endObject()
            case let .specialToken(id, tid): w.key("SpecialToken"); w.beginObject(); w.key("id"); w.string(id); w.key("type_id"); w.int(Int(tid)); w.endObject()
            }
            w.endObject()
        }
        w.endArray()
    }

    static func write(_ c: PostProcessorConfig, _ w: inout JSONWriter) {
        func pair(_ p: (String, Int32)) { w.beginArray(); w.string(p.0); w.int(Int(p.1)); w.endArray() }
        w.beginObject()
        switch c {
        case let .template(single, pairT, specials):
            w.key("type"); w.string("TemplateProcessing")
            w.key("single"); writeTemplate(single, &w)
            w.key("pair"); writeTemplate(pairT, &w)
            w.key("special_tokens"); w.beginObject()
            for s in specials {
                w.key(s.id); w.beginObject()
                w.key("id"); w.string(s.id)
                w.key("ids"); w.beginArray(); for i in s.ids { w.int(Int(i)) }; w.endArray()
                w.key("tokens"); w.beginArray(); for t in s.tokens { w.string(t) }; w.endArray()
                w.endObject()
            }
            w.endObject()
        case let .bert(sep, cls):
            w.key("type"); w.string("BertProcessing"); w.key("sep"); pair(sep); w.key("cls"); pair(cls)
        case let .roberta(sep, cls, trim, prefix):
            w.key("type"); w.string("RobertaProcessing"); w.key("sep"); pair(sep); w.key("cls"); pair(cls)
            w.key("trim_offsets"); w.bool(trim); w.key("add_prefix_space"); w.bool(prefix)
        case let .byteLevel(a, t, u):
            w.key("type"); w.string("ByteLevel"); w.key("add_prefix_space"); w.bool(a); w.key("trim_offsets"); w.bool(t); w.key("use_regex"); w.bool(u)
        case .sequence(let l):
            w.key("type"); w.string("Sequence"); w.key("processors"); w.beginArray(); for p in l { write(p, &w) }; w.endArray()
        }
        w.endObject()
    }

    static func write(_ c: DecoderConfig, _ w: inout JSONWriter) {
        w.beginObject()
        switch c {
        case .byteLevel:
            w.key("type"); w.string("ByteLevel"); w.key("add_prefix_space"); w.bool(true); w.key("trim_offsets"); w.bool(true); w.key("use_regex"); w.bool(true)
        case let .metaspace(r, s, sp):
            w.key("type"); w.string("Metaspace"); w.key("replacement"); w.string(r); w.key("prepend_scheme"); w.string(s.rawValue); w.key("split"); w.bool(sp)
        case let .wordPiece(p, c): w.key("type"); w.string("WordPiece"); w.key("prefix"); w.string(p); w.key("cleanup"); w.bool(c)
        case .bpe(let s): w.key("type"); w.string("BPEDecoder"); w.key("suffix"); w.string(s)
        case .byteFallback: w.key("type"); w.string("ByteFallback")
        case .fuse: w.key("type"); w.string("Fuse")
        case let .strip(c, a, b): w.key("type"); w.string("Strip"); w.key("content"); w.string(c); w.key("start"); w.int(a); w.key("stop"); w.int(b)
        case let .replace(p, c): w.key("type"); w.string("Replace"); w.key("pattern"); writePattern(p, &w); w.key("content"); w.string(c)
        case let .ctc(p, d, c):
            w.key("type"); w.string("CTC"); w.key("pad_token"); w.string(p); w.key("word_delimiter_token"); w.string(d); w.key("cleanup"); w.bool(c)
        case .sequence(let l):
            w.key("type"); w.string("Sequence"); w.key("decoders"); w.beginArray(); for d in l { write(d, &w) }; w.endArray()
        }
        w.endObject()
    }

    /// A tiktoken rank file (`base64 rank` lines) for a byte-level BPE tokenizer whose ranks equal its ids
    /// and whose merges follow rank order.
    public func tiktokenRanks() throws(TokenizerError) -> [UInt8] {
        guard case .bpe(let m) = model, m.byteLevel else {
            throw .unsupported(file: nil, component: "tiktoken output", detail: "only byte-level BPE tokenizers have a tiktoken form")
        }
        var tokens: [[UInt8]] = []
        for id in 0..<m.vocabulary.count {
            guard let k = m.modelKey(Int32(id)) else {
                throw .unsupported(file: nil, component: "tiktoken output", detail: "id \(id) has no byte sequence (holes in the vocabulary)")
            }
            tokens.append(k)
        }
        if case .huggingFace = source {
            // tiktoken merges by rank of the concatenation; an HF file converts only if its merge order agrees.
            for (rank, (a, b)) in m.merges.enumerated() {
                guard let ka = m.modelKey(a), let kb = m.modelKey(b), let merged = m.lookup.find(ka + kb) else { continue }
                if merged < a || merged < b {
                    throw .unsupported(file: nil, component: "tiktoken output",
                                       detail: "merge #\(rank) produces id \(merged) below its parts; ranks would not equal merge order")
                }
            }
        }
        let file: TiktokenFile
        do { file = try TiktokenFile(tokens: tokens) } catch { throw .malformed(file: nil, field: "ranks", reason: error.description) }
        return file.serialized()
    }
}

enum KnownPatternName {
    static func of(_ r: String) -> String {
        if let k = GlossaPatterns.KnownPattern(regex: r) { return k.rawValue }
        return r.count > 40 ? String(r.prefix(40)) + "…" : r
    }
}
