// Post-processors, mirroring Hugging Face `tokenizers` 0.23 (`processors/*.rs` and the
// ByteLevel post-processor in `pre_tokenizers/byte_level.rs`).
//
// HF tracks which tokens belong to which input through `sequence_ranges` (a map from sequence
// index to a token range) and derives `sequence_ids` from it only when asked. Several visible
// quirks (pad tokens reported as sequence 0 without a post-processor, overflowing pieces of
// pairs without a post-processor) follow from that representation, so the work here is done on
// `RangedEncoding`, which carries the ranges, and converted to `Encoding` at the end.

/// An `Encoding` with HF's `sequence_ranges` (sequence index -> token range).
struct RangedEncoding: Sendable {
    var ids: [Int32] = []
    var typeIds: [UInt32] = []
    var tokens: [String] = []
    var offsets: [ByteSpan] = []
    var specialTokensMask: [UInt8] = []
    var attentionMask: [UInt8] = []
    var ranges: [Int: Range<Int>] = [:]
    var overflowing: [RangedEncoding] = []

    var count: Int { ids.count }

    init() {}

    /// From a model output: HF's fresh encodings have no sequence ranges.
    init(_ e: Encoding) {
        ids = e.ids; typeIds = e.typeIds; tokens = e.tokens; offsets = e.offsets
        specialTokensMask = e.specialTokensMask; attentionMask = e.attentionMask
        overflowing = e.overflowing.map(RangedEncoding.init)
    }

    /// Rebuilds ranges from explicit sequence ids (for encodings that already went through
    /// post-processing). `unranged`: the encoding is known to carry no ranges.
    init(processed e: Encoding, unranged: Bool) {
        self.init(e)
        overflowing = e.overflowing.map { RangedEncoding(processed: $0, unranged: unranged) }
        if unranged { return }
        var r = [Int: Range<Int>]()
        for (i, s) in e.sequenceIds.enumerated() {
            guard let s else { continue }
            let k = Int(s)
            if let old = r[k] { r[k] = min(old.lowerBound, i)..<max(old.upperBound, i + 1) } else { r[k] = i..<(i + 1) }
        }
        ranges = r
    }

    /// Specials added by a processor: offsets (0, 0), mask 1, attention 1, no ranges.
    static func special(ids: [Int32], tokens: [String], typeId: UInt32) -> RangedEncoding {
        var e = RangedEncoding()
        e.ids = ids; e.tokens = tokens
        e.typeIds = Array(repeating: typeId, count: ids.count)
        e.offsets = Array(repeating: .zero, count: ids.count)
        e.specialTokensMask = Array(repeating: 1, count: ids.count)
        e.attentionMask = Array(repeating: 1, count: ids.count)
        return e
    }

    mutating func setSequenceId(_ id: Int) { ranges[id] = 0..<count }

    /// HF `get_sequence_ids`: sequence `k` for `k in 0..<n_sequences` takes its range, or the
    /// whole encoding when that key is missing.
    func sequenceIds() -> [Int8?] {
        var out = [Int8?](repeating: nil, count: count)
        let n = ranges.isEmpty ? 1 : ranges.count
        for k in 0..<n {
            let r = ranges[k] ?? 0..<count
            for i in r where i < count { out[i] = Int8(truncatingIfNeeded: k) }
        }
        return out
    }

    func toEncoding(sources: [[UInt8]]) -> Encoding {
        Encoding(ids: ids, typeIds: typeIds, tokens: tokens, offsets: offsets,
                 specialTokensMask: specialTokensMask, attentionMask: attentionMask,
                 sequenceIds: sequenceIds(), overflowing: overflowing.map { $0.toEncoding(sources: sources) },
                 sources: sources)
    }

    /// HF `Encoding::merge_with` (growing_offsets = false), overflowing cross product included.
    mutating func merge(with pair: RangedEncoding) {
        var overflowings = [RangedEncoding]()
        for selfO in overflowing {
            var n = selfO
            n.merge(with: pair)
            overflowings.append(n)
            for otherO in pair.overflowing {
                var m = selfO
                m.merge(with: otherO)
                overflowings.append(m)
            }
        }
        for otherO in pair.overflowing {
            var n = self
            n.merge(with: otherO)
            overflowings.append(n)
        }
        let base = count
        for (k, r) in pair.ranges { ranges[k] = (base + r.lowerBound)..<(base + r.upperBound) }
        ids += pair.ids; typeIds += pair.typeIds; tokens += pair.tokens; offsets += pair.offsets
        specialTokensMask += pair.specialTokensMask; attentionMask += pair.attentionMask
        overflowing = overflowings
    }

    static func merged(_ list: [RangedEncoding]) -> RangedEncoding {
        var e = RangedEncoding()
        for x in list { e.merge(with: x) }
        return e
    }
}

public struct PostProcessor: Sendable {
    indirect enum Kind: Sendable {
        case template(single: [TemplatePiece], pair: [TemplatePiece], special: [String: TemplateSpecialToken])
        case bert(sep: (String, Int32), cls: (String, Int32))
        case roberta(sep: (String, Int32), cls: (String, Int32), trimOffsets: Bool, addPrefixSpace: Bool)
        case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool)
        case sequence([Kind])
    }

    let kind: Kind

    /// Builds a processor. Throws `malformed` where HF refuses the configuration (a template
    /// naming a special token that is not defined, a pair template without both sequences,
    /// a special token whose ids and tokens differ in length) and `unsupported` for a
    /// `Sequence` in which a TemplateProcessing step would receive other than one or two
    /// encodings (HF panics there).
    public init(_ config: PostProcessorConfig) throws(TokenizerError) {
        kind = try Self.build(config)
        for isPair in [false, true] {
            for add in [false, true] {
                _ = try Self.validateFlow(kind, count: isPair ? 2 : 1, addSpecialTokens: add)
            }
        }
    }

    static func build(_ config: PostProcessorConfig) throws(TokenizerError) -> Kind {
        switch config {
        case let .template(single, pair, specialTokens):
            var map = [String: TemplateSpecialToken]()
            for t in specialTokens {
                guard t.ids.count == t.tokens.count else {
                    throw .malformed(file: nil, field: "post_processor.special_tokens.\(t.id)",
                                     reason: "SpecialToken: ids and tokens must be of the same length")
                }
                map[t.id] = t
            }
            var hasA = false, hasB = false
            for p in pair { if case let .sequence(id, _) = p { if id == .a { hasA = true } else { hasB = true } } }
            guard hasA && hasB else {
                throw .malformed(file: nil, field: "post_processor.pair", reason: "Template for `pair` must use both sequences")
            }
            var missing = [String]()
            for p in single + pair {
                if case let .specialToken(id, _) = p, map[id] == nil, !missing.contains(id) { missing.append(id) }
            }
            guard missing.isEmpty else {
                throw .malformed(file: nil, field: "post_processor.special_tokens",
                                 reason: "Missing SpecialToken(s) with id(s) `\(missing.joined(separator: ", "))`")
            }
            return .template(single: single, pair: pair, special: map)
        case let .bert(sep, cls): return .bert(sep: sep, cls: cls)
        case let .roberta(sep, cls, trim, prefix): return .roberta(sep: sep, cls: cls, trimOffsets: trim, addPrefixSpace: prefix)
        case let .byteLevel(prefix, trim, _): return .byteLevel(addPrefixSpace: prefix, trimOffsets: trim)
        case let .sequence(list):
            var out = [Kind]()
            for c in list { out.append(try build(c)) }
            return .sequence(out)
        }
    }

    /// How many encodings come out of `process_encodings` for `count` in; throws where HF would panic.
    static func validateFlow(_ kind: Kind, count: Int, addSpecialTokens: Bool) throws(TokenizerError) -> Int {
        switch kind {
        case let .template(single, pair, _):
            let template: [TemplatePiece]
            switch count {
            case 1: template = single
            case 2: template = pair
            default:
                throw .unsupported(file: nil, component: "post_processor",
                                   detail: "TemplateProcessing after a step that yields \(count) encodings")
            }
            return template.filter { if case .sequence = $0 { return true } else { return addSpecialTokens } }.count
        case .bert, .roberta, .byteLevel: return count
        case let .sequence(list):
            var c = count
            for k in list { c = try validateFlow(k, count: c, addSpecialTokens: addSpecialTokens) }
            return c
        }
    }

    /// Tokens the processor adds (HF `added_tokens`), used to shorten the truncation length.
    public func addedTokenCount(isPair: Bool) -> Int { Self.added(kind, isPair) }

    static func added(_ kind: Kind, _ isPair: Bool) -> Int {
        switch kind {
        case let .template(single, pair, special):
            return (isPair ? pair : single).reduce(0) { n, p in
                if case let .specialToken(id, _) = p { return n + (special[id]?.ids.count ?? 0) }
                return n
            }
        case .bert: return isPair ? 3 : 2
        case .roberta: return isPair ? 4 : 2
        case .byteLevel: return 0
        case let .sequence(list): return list.reduce(0) { $0 + added($1, isPair) }
        }
    }

    /// HF `PostProcessor::process`: mark sequence ids, run the processor, merge.
    /// Overflowing encodings (from truncation) are processed too. `sources` of the result are
    /// `a.sources + b.sources`.
    public func process(_ a: Encoding, _ b: Encoding?, addSpecialTokens: Bool) -> Encoding {
        let sources = a.sources + (b?.sources ?? [])
        let r = processRanged(RangedEncoding(a), b.map(RangedEncoding.init), addSpecialTokens: addSpecialTokens)
        return r.toEncoding(sources: sources)
    }

    func processRanged(_ a: RangedEncoding, _ b: RangedEncoding?, addSpecialTokens: Bool) -> RangedEncoding {
        var list = [a]
        if let b { list.append(b) }
        for i in list.indices {
            list[i].setSequenceId(i)
            for j in list[i].overflowing.indices { list[i].overflowing[j].setSequenceId(i) }
            list[i].typeIds = Array(repeating: UInt32(i), count: list[i].count)
        }
        list = Self.processEncodings(kind, list, addSpecialTokens: addSpecialTokens)
        return RangedEncoding.merged(list)
    }

    static func processEncodings(_ kind: Kind, _ input: [RangedEncoding], addSpecialTokens: Bool) -> [RangedEncoding] {
        var encodings = input
        switch kind {
        case let .sequence(list):
            for k in list { encodings = processEncodings(k, encodings, addSpecialTokens: addSpecialTokens) }
            return encodings

        case let .byteLevel(addPrefixSpace, trimOffsets):
            if trimOffsets {
                for i in encodings.indices {
                    trimByteLevelOffsets(&encodings[i], addPrefixSpace: addPrefixSpace)
                    for j in encodings[i].overflowing.indices {
                        trimByteLevelOffsets(&encodings[i].overflowing[j], addPrefixSpace: addPrefixSpace)
                    }
                }
            }
            for i in encodings.indices { encodings[i].setSequenceId(i) }
            return encodings

        case let .template(single, pair, special):
            let template: [TemplatePiece]
            switch encodings.count {
            case 1: template = single
            case 2: template = pair
            default: return encodings // rejected in init
            }
            var out = [RangedEncoding]()
            for piece in template {
                switch piece {
                case let .sequence(id, typeId):
                    let i = id == .a ? 0 : 1
                    guard i < encodings.count else { continue }
                    encodings[i].typeIds = Array(repeating: typeId, count: encodings[i].count)
                    encodings[i].setSequenceId(i)
                    out.append(encodings[i])
                case let .specialToken(id, typeId):
                    guard addSpecialTokens, let tok = special[id] else { continue }
                    out.append(.special(ids: tok.ids, tokens: tok.tokens, typeId: typeId))
                }
            }
            return out

        case let .bert(sep, cls):
            guard addSpecialTokens else { return encodings }
            return encodings.enumerated().map { i, e in
                func wrap(_ e: RangedEncoding) -> RangedEncoding {
                    var n = RangedEncoding()
                    if i == 0 {
                        n.ids = [cls.1] + e.ids + [sep.1]
                        n.typeIds = [0] + e.typeIds + [0]
                        n.tokens = [cls.0] + e.tokens + [sep.0]
                        n.offsets = [.zero] + e.offsets + [.zero]
                        n.specialTokensMask = [1] + Array(repeating: 0, count: e.count) + [1]
                        n.ranges = [0: 1..<(e.count + 1)]
                    } else {
                        n.ids = e.ids + [sep.1]
                        n.typeIds = e.typeIds + [1]
                        n.tokens = e.tokens + [sep.0]
                        n.offsets = e.offsets + [.zero]
                        n.specialTokensMask = Array(repeating: 0, count: e.count) + [1]
                        n.ranges = [1: 0..<e.count]
                    }
                    n.attentionMask = Array(repeating: 1, count: n.ids.count)
                    return n
                }
                var n = wrap(e)
                n.overflowing = e.overflowing.map(wrap)
                return n
            }

        case let .roberta(sep, cls, trimOffsets, addPrefixSpace):
            if trimOffsets {
                for i in encodings.indices {
                    trimByteLevelOffsets(&encodings[i], addPrefixSpace: addPrefixSpace)
                    for j in encodings[i].overflowing.indices {
                        trimByteLevelOffsets(&encodings[i].overflowing[j], addPrefixSpace: addPrefixSpace)
                    }
                }
            }
            // "Roberta is weird, and every encoding is type_id=0" (overflowing pieces keep theirs).
            for i in encodings.indices { encodings[i].typeIds = Array(repeating: 0, count: encodings[i].count) }
            guard addSpecialTokens else { return encodings }
            return encodings.enumerated().map { i, e in
                func wrap(_ e: RangedEncoding) -> RangedEncoding {
                    var n = RangedEncoding()
                    let head = i == 0 ? cls : sep
                    n.ids = [head.1] + e.ids + [sep.1]
                    // All zeros, overflowing pieces included (unlike the add_special_tokens=false path).
                    n.typeIds = Array(repeating: 0, count: e.count + 2)
                    n.tokens = [head.0] + e.tokens + [sep.0]
                    n.offsets = [.zero] + e.offsets + [.zero]
                    n.specialTokensMask = [1] + Array(repeating: 0, count: e.count) + [1]
                    n.attentionMask = Array(repeating: 1, count: n.ids.count)
                    n.ranges = [i == 0 ? 0 : 1: 1..<(e.count + 1)]
                    return n
                }
                var n = wrap(e)
                n.overflowing = e.overflowing.map(wrap)
                return n
            }
        }
    }

    /// HF `byte_level::process_offsets` on byte offsets: leading/trailing `Ġ` or whitespace
    /// characters of each token are cut from its offsets (each `Ġ` stands for one space byte,
    /// a literal whitespace character for its own UTF-8 length). With `addPrefixSpace`, a single
    /// leading space on the first token (index 0 or offset 0) is kept.
    static func trimByteLevelOffsets(_ e: inout RangedEncoding, addPrefixSpace: Bool) {
        for i in e.tokens.indices where i < e.offsets.count {
            let scalars = Array(e.tokens[i].unicodeScalars)
            func isSpace(_ c: Unicode.Scalar) -> Bool { c == Unicode.Scalar(0x120)! || c.properties.isWhitespace }
            func width(_ c: Unicode.Scalar) -> Int32 { c == Unicode.Scalar(0x120)! ? 1 : Int32(UTF8.width(c)) }
            var leadCount = 0, leadBytes: Int32 = 0
            for c in scalars { if isSpace(c) { leadCount += 1; leadBytes += width(c) } else { break } }
            var trailCount = 0, trailBytes: Int32 = 0
            for c in scalars.reversed() { if isSpace(c) { trailCount += 1; trailBytes += width(c) } else { break } }
            guard leadCount > 0 || trailCount > 0 else { continue }
            var o = e.offsets[i]
            if leadCount > 0 {
                let isFirst = i == 0 || o.start == 0
                if isFirst && addPrefixSpace && leadCount == 1 { leadBytes = 0 }
                o.start = min(o.start + leadBytes, o.end)
            }
            if trailCount > 0 && o.end >= trailBytes {
                o.end = max(o.end - trailBytes, o.start)
            }
            e.offsets[i] = o
        }
    }
}
