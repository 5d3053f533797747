import CPrefetch
import Dispatch
import GlossaJSON
import GlossaFormats

/// Reads Hugging Face `tokenizer.json` into a `Tokenizer`.
enum HuggingFaceReader {
    /// - Parameter scanModel: scan `model.vocab` and `model.merges` from the bytes (`HFModelScan`); false reads
    ///   everything through the general parser (the reference the scan is tested against).
    /// - Parameter earlyMerges: see `HFModelScan.init`.
    static func read(bytes: [UInt8], file: String?, scanModel: Bool = true, earlyMerges: Bool? = nil) throws(TokenizerError) -> Tokenizer {
        try read(bytes: FileBytes(bytes), file: file, scanModel: scanModel, earlyMerges: earlyMerges)
    }

    /// As `read(bytes:file:scanModel:earlyMerges:)` for a mapped file (`BinaryFile.map`).
    static func read(bytes: FileBytes, file: String?, scanModel: Bool = true, earlyMerges: Bool? = nil) throws(TokenizerError) -> Tokenizer {
        do {
            let scan = scanModel ? HFModelScan(document: bytes, earlyMerges: earlyMerges) : nil
            let doc = try JSONDocument(bytes: bytes, file: file, intercept: scan?.intercept)
            return try read(doc.root, file: file, scan: scan)
        } catch let e as JSONError {
            throw .malformed(file: nil, field: "", reason: e.description)
        } catch let e as TokenizerError {
            throw e.withFile(file)
        } catch {
            throw .malformed(file: file, field: "", reason: "\(error)")
        }
    }

    /// - Parameter scan: what scanned `model.vocab` and `model.merges` while `root` was parsed, if anything did.
    static func read(_ root: JSONValue, file: String?, scan: HFModelScan? = nil) throws -> Tokenizer {
        let normalizer = try root.optional("normalizer").map { try readNormalizer($0) }
        let pre = try root.optional("pre_tokenizer").map { try readPreTokenizer($0) }
        // Built on an idle core while the model is read (merge resolution has both cores, but the lookup and
        // this fill in the gaps), for the pre-tokenizers whose scanners use them.
        if usesClassTables(pre) { Tokenizer.warmClassTables() }
        let post = try root.optional("post_processor").map { try readPostProcessor($0) }
        let decoder = try root.optional("decoder").map { try readDecoder($0) }
        let added = try (root.optional("added_tokens")?.requireArray() ?? []).map { v in
            AddedToken(id: Int32(try v.require("id").requireInt()), content: try v.require("content").requireString(),
                       singleWord: try v.optional("single_word")?.requireBool() ?? false,
                       lstrip: try v.optional("lstrip")?.requireBool() ?? false,
                       rstrip: try v.optional("rstrip")?.requireBool() ?? false,
                       normalized: try v.optional("normalized")?.requireBool(),
                       special: try v.optional("special")?.requireBool() ?? false)
        }
        let truncation = try root.optional("truncation").map { t in
            TruncationConfig(maxLength: try t.require("max_length").requireInt(),
                             strategy: try enumValue(t.optional("strategy"), TruncationStrategy.self) ?? .longestFirst,
                             stride: try t.optional("stride")?.requireInt() ?? 0,
                             direction: try enumValue(t.optional("direction"), Direction.self) ?? .right)
        }
        let padding = try root.optional("padding").map { p -> PaddingConfig in
            var strategy = PaddingStrategy.batchLongest
            if let s = try p.optional("strategy") {
                if s.isString { strategy = .batchLongest }
                else if let f = try s.optional("Fixed") { strategy = .fixed(try f.requireInt()) }
                else { throw TokenizerError.unsupported(file: nil, component: "padding strategy", detail: s.path) }
            }
            return PaddingConfig(strategy: strategy, direction: try enumValue(p.optional("direction"), Direction.self) ?? .right,
                                 padToMultipleOf: try p.optional("pad_to_multiple_of")?.requireInt(),
                                 padId: Int32(try p.optional("pad_id")?.requireInt() ?? 0),
                                 padTypeId: UInt32(try p.optional("pad_type_id")?.requireInt() ?? 0),
                                 padToken: try p.optional("pad_token")?.requireString() ?? "[PAD]")
        }
        let byteLevel = Self.usesByteLevel(pre) || Self.usesByteLevel(normalizer)
        let model = try readModel(try root.require("model"), byteLevel: byteLevel, scan: scan)
        return try Tokenizer(model: model, normalizer: normalizer, preTokenizer: pre, postProcessor: post,
                             decoder: decoder, addedTokens: added, truncation: truncation, padding: padding,
                             source: .huggingFace)
    }

    static func enumValue<E: RawRepresentable>(_ v: JSONValue?, _ t: E.Type) throws -> E? where E.RawValue == String {
        guard let v else { return nil }
        let s = try v.requireString()
        guard let e = E(rawValue: s) else {
            throw TokenizerError.malformed(file: nil, field: v.path, reason: "unknown value \"\(s)\"")
        }
        return e
    }

    static func type(_ v: JSONValue) throws -> String { try v.require("type").requireString() }

    static func unsupported(_ what: String, _ v: JSONValue, _ t: String) -> TokenizerError {
        .unsupported(file: nil, component: "\(what) type \"\(t)\"", detail: "at \(v.path)")
    }

    static func pattern(_ v: JSONValue) throws -> Pattern {
        if let s = try v.optional("String") { return .string(try s.requireString()) }
        if let r = try v.optional("Regex") { return .regex(try r.requireString()) }
        throw TokenizerError.malformed(file: nil, field: v.path, reason: "pattern must be {\"String\": ...} or {\"Regex\": ...}")
    }

    static func behavior(_ v: JSONValue?) throws -> SplitBehavior {
        guard let v else { return .isolated }
        let s = try v.requireString()
        guard let b = SplitBehavior(json: s) else {
            throw TokenizerError.malformed(file: nil, field: v.path, reason: "unknown split behavior \"\(s)\"")
        }
        return b
    }

    static func prependScheme(_ v: JSONValue) throws -> PrependScheme {
        if let s = try v.optional("prepend_scheme") {
            let str = try s.requireString()
            guard let p = PrependScheme(rawValue: str) else {
                throw TokenizerError.malformed(file: nil, field: s.path, reason: "unknown prepend_scheme \"\(str)\"")
            }
            return p
        }
        // Files older than prepend_scheme carry add_prefix_space.
        return (try v.optional("add_prefix_space")?.requireBool() ?? true) ? .always : .never
    }

    static func readNormalizer(_ v: JSONValue) throws -> NormalizerConfig {
        let t = try type(v)
        switch t {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Strip": return .strip(left: try v.optional("strip_left")?.requireBool() ?? true,
                                    right: try v.optional("strip_right")?.requireBool() ?? true)
        case "StripAccents": return .stripAccents
        case "Replace": return .replace(pattern: try pattern(v.require("pattern")), content: try v.require("content").requireString())
        case "Prepend": return .prepend(try v.require("prepend").requireString())
        case "BertNormalizer":
            let sa = try v.optional("strip_accents")
            return .bert(cleanText: try v.optional("clean_text")?.requireBool() ?? true,
                         handleChineseChars: try v.optional("handle_chinese_chars")?.requireBool() ?? true,
                         stripAccents: try (sa == nil || sa!.isNull) ? nil : sa!.requireBool(),
                         lowercase: try v.optional("lowercase")?.requireBool() ?? true)
        case "Nmt": return .nmt
        case "Precompiled":
            let s = try v.optional("precompiled_charsmap")
            let b64 = try (s == nil || s!.isNull) ? "" : s!.requireString()
            guard let raw = Base64.decode(Array(b64.utf8)) else {
                throw TokenizerError.malformed(file: nil, field: v.path + ".precompiled_charsmap", reason: "invalid base64")
            }
            return .precompiled(raw)
        case "ByteLevel": return .byteLevel
        case "Sequence": return .sequence(try v.require("normalizers").requireArray().map(readNormalizer))
        default: throw unsupported("normalizer", v, t)
        }
    }

    static func readPreTokenizer(_ v: JSONValue) throws -> PreTokenizerConfig {
        let t = try type(v)
        switch t {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try v.optional("add_prefix_space")?.requireBool() ?? true,
                              trimOffsets: try v.optional("trim_offsets")?.requireBool() ?? true,
                              useRegex: try v.optional("use_regex")?.requireBool() ?? true)
        case "Split":
            return .split(pattern: try pattern(v.require("pattern")), behavior: try behavior(v.optional("behavior")),
                          invert: try v.optional("invert")?.requireBool() ?? false)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "BertPreTokenizer": return .bert
        case "Metaspace":
            return .metaspace(replacement: try v.optional("replacement")?.requireString() ?? "\u{2581}",
                              prependScheme: try prependScheme(v), split: try v.optional("split")?.requireBool() ?? true)
        case "Punctuation": return .punctuation(behavior: try behavior(v.optional("behavior")))
        case "Digits": return .digits(individualDigits: try v.optional("individual_digits")?.requireBool() ?? false)
        case "CharDelimiterSplit": return .charDelimiterSplit(try v.require("delimiter").requireString())
        case "Sequence": return .sequence(try v.require("pretokenizers").requireArray().map(readPreTokenizer))
        default: throw unsupported("pre_tokenizer", v, t)
        }
    }

    static func tokenIdPair(_ v: JSONValue) throws -> (String, Int32) {
        let a = try v.requireArray()
        guard a.count == 2 else { throw TokenizerError.malformed(file: nil, field: v.path, reason: "expected [token, id]") }
        return (try a[0].requireString(), Int32(try a[1].requireInt()))
    }

    static func template(_ v: JSONValue) throws -> [TemplatePiece] {
        try v.requireArray().map { item in
            if let s = try item.optional("Sequence") {
                let id = try s.require("id").requireString()
                guard let seq = TemplateSequence(rawValue: id) else {
                    throw TokenizerError.malformed(file: nil, field: s.path, reason: "sequence id must be A or B")
                }
                return .sequence(id: seq, typeId: UInt32(try s.optional("type_id")?.requireInt() ?? 0))
            }
            if let s = try item.optional("SpecialToken") {
                return .specialToken(id: try s.require("id").requireString(), typeId: UInt32(try s.optional("type_id")?.requireInt() ?? 0))
            }
            throw TokenizerError.malformed(file: nil, field: item.path, reason: "template item must be Sequence or SpecialToken")
        }
    }

    static func readPostProcessor(_ v: JSONValue) throws -> PostProcessorConfig {
        let t = try type(v)
        switch t {
        case "TemplateProcessing":
            var specials: [TemplateSpecialToken] = []
            if let st = try v.optional("special_tokens") {
                for e in try st.requireObjectEntries() {
                    specials.append(TemplateSpecialToken(
                        id: try e.value.require("id").requireString(),
                        ids: try e.value.require("ids").requireArray().map { Int32(try $0.requireInt()) },
                        tokens: try e.value.require("tokens").requireArray().map { try $0.requireString() }))
                }
            }
            return .template(single: try template(v.require("single")), pair: try template(v.require("pair")), specialTokens: specials)
        case "BertProcessing":
            return .bert(sep: try tokenIdPair(v.require("sep")), cls: try tokenIdPair(v.require("cls")))
        case "RobertaProcessing":
            return .roberta(sep: try tokenIdPair(v.require("sep")), cls: try tokenIdPair(v.require("cls")),
                            trimOffsets: try v.optional("trim_offsets")?.requireBool() ?? true,
                            addPrefixSpace: try v.optional("add_prefix_space")?.requireBool() ?? true)
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try v.optional("add_prefix_space")?.requireBool() ?? true,
                              trimOffsets: try v.optional("trim_offsets")?.requireBool() ?? true,
                              useRegex: try v.optional("use_regex")?.requireBool() ?? true)
        case "Sequence": return .sequence(try v.require("processors").requireArray().map(readPostProcessor))
        default: throw unsupported("post_processor", v, t)
        }
    }

    static func readDecoder(_ v: JSONValue) throws -> DecoderConfig {
        let t = try type(v)
        switch t {
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            return .metaspace(replacement: try v.optional("replacement")?.requireString() ?? "\u{2581}",
                              prependScheme: try prependScheme(v), split: try v.optional("split")?.requireBool() ?? true)
        case "WordPiece": return .wordPiece(prefix: try v.optional("prefix")?.requireString() ?? "##",
                                            cleanup: try v.optional("cleanup")?.requireBool() ?? true)
        case "BPEDecoder": return .bpe(suffix: try v.optional("suffix")?.requireString() ?? "</w>")
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip": return .strip(content: try v.require("content").requireString(),
                                    start: try v.optional("start")?.requireInt() ?? 0, stop: try v.optional("stop")?.requireInt() ?? 0)
        case "Replace": return .replace(pattern: try pattern(v.require("pattern")), content: try v.require("content").requireString())
        case "CTC": return .ctc(padToken: try v.optional("pad_token")?.requireString() ?? "<pad>",
                               wordDelimiterToken: try v.optional("word_delimiter_token")?.requireString() ?? "|",
                               cleanup: try v.optional("cleanup")?.requireBool() ?? true)
        case "Sequence": return .sequence(try v.require("decoders").requireArray().map(readDecoder))
        default: throw unsupported("decoder", v, t)
        }
    }

    /// Whether encoding may use `CharacterClasses` (every pre-tokenizer but Metaspace).
    static func usesClassTables(_ c: PreTokenizerConfig?) -> Bool {
        switch c {
        case nil, .metaspace?: return false
        case .sequence(let l)?: return l.contains { usesClassTables($0) }
        default: return true
        }
    }

    static func usesByteLevel(_ c: PreTokenizerConfig?) -> Bool {
        switch c {
        case .byteLevel?: return true
        case .sequence(let l)?: return l.contains { usesByteLevel($0) }
        default: return false
        }
    }
    static func usesByteLevel(_ c: NormalizerConfig?) -> Bool {
        switch c {
        case .byteLevel?: return true
        case .sequence(let l)?: return l.contains { usesByteLevel($0) }
        default: return false
        }
    }

    /// Reads `{token: id}` into a table whose entry i is id i (missing ids become holes).
    static func readVocab(_ v: JSONValue, scan: HFModelScan? = nil) throws -> ByteTable {
        if v.isElided, let tables = scan?.tables(at: v.byteRange.lowerBound) { return try tables.vocabularyTable() }
        guard v.isObject else { throw TokenizerError.malformed(file: nil, field: v.path, reason: "vocab must be an object") }
        // Keys in file order with their ids; files list ids in order, so usually no reordering is needed.
        var arena = [UInt8]()
        var spans: [HFModelScan.VocabEntry] = []
        spans.reserveCapacity(v.count)
        var failure: Error?
        var maxId = -1
        var ordered = true
        v.forEachEntry { key, value in
            if failure != nil { return }
            guard let id = value.int, id >= 0, id < Int(Int32.max) else {
                failure = TokenizerError.malformed(file: nil, field: value.path, reason: "vocabulary id must be a non-negative integer")
                return
            }
            if id != spans.count { ordered = false }
            spans.append(.init(start: Int32(arena.count), len: Int32(key.count), id: Int32(id)))
            arena.append(contentsOf: key)
            if id > maxId { maxId = id }
        }
        if let failure { throw failure }
        return try arena.withUnsafeBufferPointer { a in try spans.withUnsafeBufferPointer { spans in
            try vocabTable(spans, ordered: ordered, maxId: maxId, SplitBytes(first: a, second: .init(start: nil, count: 0)), field: v.path)
        } }
    }

    /// The vocabulary table from (key span, id) entries in file order.
    static func vocabTable(_ entries: UnsafeBufferPointer<HFModelScan.VocabEntry>, ordered: Bool, maxId: Int, _ bytes: SplitBytes,
                           field: String) throws -> ByteTable {
        // Tables are indexed by id: a far id (a typo, or a corrupted file) would size them in gigabytes.
        if maxId >= 4 &* entries.count &+ 65_536 {
            throw TokenizerError.malformed(file: nil, field: field,
                                           reason: "vocabulary ids are too sparse: id \(maxId) among \(entries.count) tokens")
        }
        let arenaBytes = entries.reduce(0) { $0 &+ Int($1.len) }
        if ordered {
            // Ids 0, 1, 2, … (as files list them): no holes and no repeated ids, so the only error is a repeated
            // token, and the first one in id order is the one found when slots are filled in entry order.
            var table = ByteTable(capacity: maxId + 1, arenaBytes: arenaBytes)
            let repeated = table.fill { table in
                for sp in entries { table.appendPending(bytes.slice(Int(sp.start), Int(sp.start &+ sp.len)), value: sp.id) }
                return table.indexPending(from: 0, stopAtRepeat: true)
            }
            if let e = repeated {
                let key = bytes.slice(Int(entries[e].start), Int(entries[e].start &+ entries[e].len))
                throw TokenizerError.malformed(file: nil, field: field,
                                               reason: "token \"\(String(decoding: key, as: UTF8.self))\" appears twice")
            }
            return table
        }
        var spans = Array(entries)
        spans.sort { $0.id < $1.id }
        var table = ByteTable(capacity: maxId + 1, arenaBytes: arenaBytes)
        try table.fill { table in
            var next: Int32 = 0
            for sp in spans {
                if sp.id < next {
                    throw TokenizerError.malformed(file: nil, field: field, reason: "id \(sp.id) is assigned to two tokens")
                }
                while next < sp.id { table.append(UnsafeBufferPointer(start: nil, count: 0), value: next, indexed: false); next += 1 }
                let key = bytes.slice(Int(sp.start), Int(sp.start + sp.len))
                if !table.append(key, value: sp.id) {
                    throw TokenizerError.malformed(file: nil, field: field,
                                                   reason: "token \"\(String(decoding: key, as: UTF8.self))\" appears twice")
                }
                next += 1
            }
        }
        return table
    }

    /// Resolves merges in either form to (left, right, merged) ids without copying strings. Large lists are split
    /// into blocks resolved in parallel over raw bytes (the document's and the vocabulary's: no reference
    /// counting in the loop, which would serialize the threads on one shared object); `alongside` runs as one
    /// more concurrent task. Merges the general reader does not see as plain strings (escapes) are resolved
    /// afterwards on this thread. A bad merge is reported for the first one in file order, whatever the thread
    /// count.
    static func readMerges(_ mv: JSONValue, vocab: Vocabulary, prefixLen: Int, scan: HFModelScan? = nil,
                           alongside: (@Sendable () -> Void)? = nil) throws -> [(Int32, Int32, Int32)] {
        // Byte spans (start << 32 | end): "left right" in `lefts` (with `rights` = -2, or empty for all), or the
        // pair form ["left", "right"] in `lefts` and `rights`; -1 for the merges left to the general reader.
        let lefts: PageList<Int64>, rights: PageList<Int64>, items: [JSONValue]?
        if mv.isElided, let scan, let sm = scan.merges, sm.offset == mv.byteRange.lowerBound {
            (lefts, rights, items) = (sm.lefts, sm.rights, nil)
        } else {
            guard let all = mv.array else { throw TokenizerError.malformed(file: nil, field: mv.path, reason: "merges must be an array") }
            @inline(__always) func pack(_ r: Range<Int>) -> Int64 { Int64(r.lowerBound) << 32 | Int64(r.upperBound) }
            var l = PageList<Int64>.Builder(capacity: all.count), r = PageList<Int64>.Builder(capacity: all.count)
            for m in all {
                if let s = m.plainStringRange {
                    l.append(pack(s)); r.append(-2)
                } else if m.isArray, m.count == 2, let x = m[0]?.plainStringRange, let y = m[1]?.plainStringRange {
                    l.append(pack(x)); r.append(pack(y))
                } else {
                    l.append(-1); r.append(-2)
                }
            }
            (lefts, rights, items) = (PageList(builder: l), PageList(builder: r), all)
        }
        let n = lefts.count
        let blocks = n < 16_384 ? 1 : min(8, 2 * Tokenizer.processorCount)
        // Filled in place and returned (a copy of a buffer was 3 MB more fresh memory); entries are all set
        // unless a merge fails, and then this is not returned.
        var result = [(Int32, Int32, Int32)](unsafeUninitializedCapacity: n) { buf, count in
            adviseHugePages(buf.baseAddress, bytes: n &* MemoryLayout<(Int32, Int32, Int32)>.stride)
            count = n
        }
        let failures = UnsafeMutableBufferPointer<(index: Int, outcome: MergeOutcome)?>.allocate(capacity: blocks)
        defer { failures.deallocate() }
        failures.initialize(repeating: nil)
        let resolver = MergeResolver(vocab.index, prefixLen: prefixLen)
        // Short lists have few lookups to save and a table small enough to stay in cache.
        let index = n >= 16_384 ? MergeResolver.PartIndex(resolver) : nil
        let pairForm = !rights.isEmpty
        result.withUnsafeMutableBufferPointer { out in mv.withDocumentBytes { doc in
            (scan?.mergesSide ?? []).withUnsafeBufferPointer { side in
                let bytes = SplitBytes(first: doc, second: side)
                let shared = UncheckedBox((out, failures))
                let resolveBlock = { @Sendable (b: Int) in
                    let (out, failures) = shared.value
                    let key = UnsafeMutablePointer<UInt8>.allocate(capacity: MergeResolver.capacity)
                    defer { key.deallocate() }
                    var guess = -1
                    let first = n * b / blocks, end = n * (b + 1) / blocks
                    // Merges are looked at `ahead` places before they are resolved: their parts' slots are
                    // prefetched, and the space of "left right" is found then and kept here until it is used.
                    // Not for small vocabularies (Mistral's 32k), whose tables stay in L2 anyway.
                    let ahead = index == nil || resolver.entries < 65_536 ? 0 : 8
                    if let index, ahead > 0, !pairForm, prefixLen == 0 {
                        if let f = lefts.withUnsafeBufferPointer({ resolver.resolveSpaced($0, first, end, bytes, index, key, out) }) {
                            failures[b] = f
                        }
                        return
                    }
                    var spaces = (0, 0, 0, 0, 0, 0, 0, 0)
                    withUnsafeMutableBytes(of: &spaces) { raw in
                        let spaces = raw.baseAddress!.assumingMemoryBound(to: Int.self)
                        @inline(__always) func look(_ j: Int) -> Int {
                            let sp = lefts[j], rp = pairForm ? rights[j] : -2
                            if sp < 0 { return -1 }
                            let s = bytes.slice(sp)
                            let at = rp == -2 ? MergeResolver.space(s) : -1
                            if let index { resolver.prefetch(s, at: at, rp == -2 ? nil : bytes.slice(rp), index) }
                            return at
                        }
                        for j in first..<min(first &+ ahead, end) { spaces[j & 7] = look(j) }
                        for i in first..<end {
                            let sp = lefts[i], rp = pairForm ? rights[i] : -2
                            let at = ahead == 0 || rp != -2 ? -1 : spaces[i & 7]
                            if i &+ ahead < end && ahead > 0 { spaces[i & 7] = look(i &+ ahead) }
                            if sp < 0 { continue }
                            let outcome = rp != -2 ? resolver.resolve(bytes.slice(sp), bytes.slice(rp), key, &guess, index)
                                : ahead == 0 ? resolver.split(bytes.slice(sp), key, &guess, index)
                                : resolver.split(bytes.slice(sp), at: at, key, &guess, index)
                            guard case let .merge(l, r, mm) = outcome else { failures[b] = (i, outcome); return }
                            out[i] = (l, r, mm)
                        }
                    }
                }
                if blocks == 1 && alongside == nil {
                    resolveBlock(0)
                } else {
                    DispatchQueue.concurrentPerform(iterations: blocks + (alongside == nil ? 0 : 1)) { t in
                        if t == blocks { alongside?() } else { resolveBlock(t) }
                    }
                }
                guard let items else { return }
                // The rest (escaped strings), stopping before the first failure found.
                let firstFailure = failures.compactMap { $0?.index }.min() ?? n
                let key = UnsafeMutablePointer<UInt8>.allocate(capacity: MergeResolver.capacity)
                defer { key.deallocate() }
                var guess = -1
                for i in 0..<firstFailure where lefts[i] < 0 {
                    let m = items[i]
                    var outcome: MergeOutcome = .malformed
                    if m.isString {
                        outcome = m.withStringBytes { s in resolver.split(s, key, &guess, nil) } ?? .malformed
                    } else if m.isArray, m.count == 2, let x = m[0], let y = m[1], x.isString, y.isString {
                        outcome = x.withStringBytes { a in y.withStringBytes { b in resolver.resolve(a, b, key, &guess, nil) } ?? .malformed } ?? .malformed
                    }
                    guard case let .merge(l, r, mm) = outcome else { failures[0] = (i, outcome); break }
                    out[i] = (l, r, mm)
                }
            }
        } }
        if let (i, outcome) = failures.compactMap({ $0 }).min(by: { $0.index < $1.index }) {
            let path = items?[i].path ?? "\(mv.path)[\(i)]"
            switch outcome {
            case .missing(let t):
                throw TokenizerError.malformed(file: nil, field: path, reason: "merge token \"\(t)\" is not in the vocabulary")
            case .missingMerged(let t):
                throw TokenizerError.malformed(file: nil, field: path, reason: "merged token \"\(t)\" is not in the vocabulary")
            default:
                throw TokenizerError.malformed(file: nil, field: path, reason: "merge must be \"left right\" or [left, right]")
            }
        }
        return result
    }

    enum MergeOutcome { case merge(Int32, Int32, Int32), malformed, missing(String), missingMerged(String) }

    /// Looks merge parts up in a vocabulary's raw storage (no reference counting: shared by the threads).
    struct MergeResolver: Sendable {
        let table: ByteTableView
        let entries: Int
        /// Every non-empty spelling can be looked up (no repeated keys), so the entry holding the merged bytes
        /// is the one a lookup would find.
        let predict: Bool
        let empty: Int32
        let prefixLen: Int
        /// Size of the key scratch buffer: longer merged tokens are rejected.
        static let capacity = 1 << 16

        init(_ vocab: ByteTable, prefixLen: Int) {
            table = vocab.view; entries = vocab.entryCount; predict = vocab.nonEmptyKeysAllIndexed
            empty = vocab.find([]) ?? -1
            self.prefixLen = prefixLen
        }

        /// Resolves the "left right" merges `first..<end` (spans in `lefts`, -1 for those left to the general
        /// reader) into `out`, for a vocabulary with a `PartIndex` and no continuing-subword prefix; the first
        /// failure, or nil. Each merge is looked at eight places ahead: its space found, its parts' words and
        /// index slots computed once and their slots prefetched, all kept in a ring until the merge is
        /// resolved (the general loop computed the span, words and slots twice: ≈ 420 instructions a merge,
        /// and resolution was instruction-bound). Anything unusual (no single space, a missing part, a merged
        /// token off the predicted entries) goes through `split`, which gives the same result or error.
        func resolveSpaced(_ lefts: UnsafeBufferPointer<Int64>, _ first: Int, _ end: Int, _ bytes: SplitBytes, _ index: PartIndex,
                           _ key: UnsafeMutablePointer<UInt8>,
                           _ out: UnsafeMutableBufferPointer<(Int32, Int32, Int32)>) -> (index: Int, outcome: MergeOutcome)? {
            let ahead = 8
            // Per ring entry: start pointer, byte count, space offset (-1: none, or left to the general
            // reader), left word, left slot (-1: not a 1–8 byte part), right word, right slot.
            let ring = UnsafeMutablePointer<Int>.allocate(capacity: 8 &* ahead)
            defer { ring.deallocate() }
            let n1 = bytes.first.count
            let doc = bytes.first.baseAddress, side = bytes.second.baseAddress
            let mask = index.mask
            var guess = -1
            @inline(__always) func look(_ j: Int) {
                let r = ring + 8 &* (j & (ahead &- 1))
                /// A 1–8 byte part: its word and slot into `r[field]` and the next, the slot prefetched.
                @inline(__always) func part(_ w: UInt64, _ length: Int, _ field: Int) {
                    let sl = PartIndex.slot(w, length, mask)
                    r[field] = Int(truncatingIfNeeded: w); r[field &+ 1] = sl
                    glossa_prefetch(index.slots + 2 &* sl)
                }
                let packed = lefts[j]
                r[2] = -1
                if packed < 0 { return }
                let start = Int(truncatingIfNeeded: packed &>> 32), stop = Int(truncatingIfNeeded: packed & 0xFFFF_FFFF)
                guard let p = start < n1 ? doc.map({ $0 + start }) : side.map({ $0 + (start &- n1) }) else { return }
                let count = stop &- start
                r[0] = Int(bitPattern: p); r[1] = count
                // A string of 1–8 bytes (most merges) as one word, loaded to end at its last byte (a string ends
                // 8 or more bytes into its buffer: the document's, after `"merges"`, or else checked): the space
                // and both parts' words come from it.
                if UInt(bitPattern: count &- 1) < 8 && (start < n1 ? stop : stop &- n1) >= 8 {
                    let v = UnsafeRawPointer(p + (count &- 8)).loadUnaligned(as: UInt64.self) &>> UInt64(8 &* (8 &- count))
                    let at = Self.space(word: v)
                    r[2] = at
                    if at < 0 { return }
                    let lb = count &- at &- 1
                    if at > 0 { part(v & ((1 &<< UInt64(8 &* at)) &- 1), at, 3) } else { r[4] = -1 }
                    if lb > 0 { part(v &>> UInt64(8 &* (at &+ 1)), lb, 5) } else { r[6] = -1 }
                    return
                }
                let at = Self.space(UnsafeBufferPointer(start: p, count: count))
                r[2] = at
                if at < 0 { return }
                let lb = count &- at &- 1
                if Self.short(at) { part(PartIndex.word(p, at), at, 3) } else {
                    r[4] = -1
                    if at > 8 { table.prefetch(p, at) }
                }
                if Self.short(lb) { part(PartIndex.word(p + (at &+ 1), lb), lb, 5) } else {
                    r[6] = -1
                    if lb > 8 { table.prefetch(p + (at &+ 1), lb) }
                }
            }
            // One call site for `look`, so that it is inlined: merge k is looked at, merge k - ahead resolved.
            // The ring entry of merge i is read before merge i + ahead takes its place.
            for k in first..<(end &+ ahead) {
                let i = k &- ahead
                let r = ring + 8 &* (k & (ahead &- 1))
                let (pointer, count, at, wa, sa, wb, sb) = i < first ? (0, 0, -1, 0, -1, 0, -1) : (r[0], r[1], r[2], r[3], r[4], r[5], r[6])
                if k < end { look(k) }
                if i < first { continue }
                let packed = lefts[i]
                if packed < 0 { continue }
                if at >= 0, let p = UnsafePointer<UInt8>(bitPattern: pointer) {
                    let la = at, lb = count &- at &- 1
                    let a = UnsafeBufferPointer(start: p, count: la), b = UnsafeBufferPointer(start: p + (at &+ 1), count: lb)
                    let ia = sa >= 0 ? index.find(word: UInt64(truncatingIfNeeded: wa), la, slot: sa) : find(a, index)
                    let ib = sb >= 0 ? index.find(word: UInt64(truncatingIfNeeded: wb), lb, slot: sb) : find(b, index)
                    if ia >= 0 && ib >= 0 && predict && guess >= 0 {
                        // The next entry first: merge lists that follow the ids make one new token a merge.
                        let g = guess &+ 1 < entries && entry(guess &+ 1, is: a, b) ? guess &+ 1
                            : entry(guess, is: a, b) ? guess : -1
                        if g >= 0 {
                            guess = g
                            out[i] = (ia, ib, table.values[g])
                            continue
                        }
                    }
                }
                let outcome = split(bytes.slice(packed), at: at, key, &guess, index)
                guard case let .merge(l, r, mm) = outcome else { return (i, outcome) }
                out[i] = (l, r, mm)
            }
            return nil
        }

        /// "left right" (exactly one space) → ids.
        @inline(__always)
        func split(_ s: UnsafeBufferPointer<UInt8>, _ key: UnsafeMutablePointer<UInt8>, _ guess: inout Int,
                   _ index: PartIndex?) -> MergeOutcome {
            split(s, at: Self.space(s), key, &guess, index)
        }

        /// `split` with the string's `space(_:)` already found.
        @inline(__always)
        func split(_ s: UnsafeBufferPointer<UInt8>, at sp: Int, _ key: UnsafeMutablePointer<UInt8>, _ guess: inout Int,
                   _ index: PartIndex?) -> MergeOutcome {
            guard sp >= 0, let p = s.baseAddress else { return .malformed }
            return resolve(UnsafeBufferPointer(start: p, count: sp), UnsafeBufferPointer(start: p + sp + 1, count: s.count &- sp &- 1),
                           key, &guess, index)
        }

        /// The offset of the one space in `s`, or -1 when there is none or more than one.
        @inline(__always)
        static func space(_ s: UnsafeBufferPointer<UInt8>) -> Int {
            guard let p = s.baseAddress else { return -1 }
            var sp = -1, i = 0
            /// Takes the space bits of the bytes from `i` on: false at a second space.
            @inline(__always) func take(_ spaces: UInt64) -> Bool {
                if spaces == 0 { return true }
                if sp >= 0 || spaces & (spaces &- 1) != 0 { return false }
                sp = i &+ spaces.trailingZeroBitCount &>> 3
                return true
            }
            // Eight bytes at a time: the high bit of each byte that is a space (exact per byte: no carries between
            // bytes), then the rest by one load (strings under 8 bytes one byte at a time).
            while i &+ 8 <= s.count {
                if !take(Self.spaceBits(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))) { return -1 }
                i &+= 8
            }
            if i < s.count && s.count >= 8 {
                // The last 1–7 bytes by one load that ends at the last byte, the bytes already seen shifted out.
                let r = s.count &- i
                return take(Self.spaceBits(UnsafeRawPointer(p + (s.count &- 8)).loadUnaligned(as: UInt64.self) &>> UInt64(8 &* (8 &- r)))) ? sp : -1
            }
            while i < s.count {
                if p[i] == 0x20 {
                    if sp >= 0 { return -1 }
                    sp = i
                }
                i &+= 1
            }
            return sp
        }

        /// The high bit of each byte of `v` that is a space (exact per byte: no carries between bytes).
        @inline(__always)
        static func spaceBits(_ v: UInt64) -> UInt64 {
            let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, y = v ^ 0x2020_2020_2020_2020
            return ~(((y & lows) &+ lows) | y) & ~lows
        }

        /// `space(_:)` of a string of at most 8 bytes given as a little-endian word, zero-padded.
        @inline(__always)
        static func space(word v: UInt64) -> Int {
            let bits = spaceBits(v)
            return bits == 0 || bits & (bits &- 1) != 0 ? -1 : bits.trailingZeroBitCount &>> 3
        }

        /// The id of a merge part, or -1; parts of 1–8 bytes through `index` when there is one.
        @inline(__always)
        func find(_ s: UnsafeBufferPointer<UInt8>, _ index: PartIndex?) -> Int32 {
            guard let p = s.baseAddress, s.count > 0 else { return empty }
            guard let index, s.count <= 8 else { return table.find(p, s.count) }
            return index.find(p, s.count)
        }

        /// Prefetches where a merge's parts ("left right" split at `sp`, or `left` and `right`) will be looked up,
        /// some merges before it is resolved: the index slot of a part of 1–8 bytes, the table slot of a longer
        /// one. A resolution that waited for each lookup's cache miss in turn was most of the load's time.
        @inline(__always)
        func prefetch(_ s: UnsafeBufferPointer<UInt8>, at sp: Int, _ right: UnsafeBufferPointer<UInt8>?, _ index: PartIndex) {
            @inline(__always) func part(_ p: UnsafePointer<UInt8>, _ n: Int) {
                if Self.short(n) { index.prefetch(p, n) } else if n > 8 { table.prefetch(p, n) }
            }
            guard let p = s.baseAddress else { return }
            if let right {
                if let q = right.baseAddress { part(q, right.count) }
                part(p, s.count)
            } else if sp >= 0 {
                part(p, sp)
                part(p + (sp &+ 1), s.count &- sp &- 1)
            }
        }

        /// 1 ≤ n ≤ 8: a part `PartIndex` holds.
        @inline(__always)
        static func short(_ n: Int) -> Bool { UInt(bitPattern: n &- 1) < 8 }

        /// Every key of 1–8 bytes of a vocabulary whose non-empty keys are all findable (`predict`) → id, in one
        /// 16-byte slot each (Llama 3: 520k of its 560k merge parts): one cache miss per part, which can be
        /// prefetched, where the table takes three dependent ones (slot, entry, key bytes). Its memory goes with it.
        final class PartIndex: @unchecked Sendable {
            /// (key bytes, zero-padded) at 2·s, (length << 32 | id) at 2·s + 1; length 0 marks an empty slot.
            let slots: UnsafeMutablePointer<UInt64>
            let mask: Int

            /// nil unless the resolver's vocabulary has every non-empty key findable (its short entries are then
            /// exactly its short keys, each once).
            init?(_ r: MergeResolver) {
                guard r.predict else { return nil }
                let t = r.table
                var short = 0
                for e in 0..<r.entries where MergeResolver.short(Int(t.lengths[e])) { short &+= 1 }
                var cap = 16
                while cap &* 2 < short &* 3 { cap <<= 1 }
                mask = cap &- 1
                slots = PageMemory.allocate(UInt64.self, count: 2 &* cap)
                @inline(__always) func home(_ e: Int) -> Int {
                    let n = Int(t.lengths[e])
                    return MergeResolver.short(n) ? Self.slot(Self.word(t.arena + Int(t.starts[e]), n), n, mask) : -1
                }
                for e in 0..<r.entries {
                    // Filled in entry order, the slot of the entry 16 on prefetched (as `indexPending`).
                    if e &+ 16 < r.entries, case let f = home(e &+ 16), f >= 0 { glossa_prefetch(slots + 2 &* f) }
                    let n = Int(t.lengths[e])
                    guard MergeResolver.short(n) else { continue }
                    let w = Self.word(t.arena + Int(t.starts[e]), n)
                    var s = Self.slot(w, n, mask)
                    while slots[2 &* s &+ 1] != 0 { s = (s &+ 1) & mask }
                    slots[2 &* s] = w
                    slots[2 &* s &+ 1] = UInt64(n) << 32 | UInt64(UInt32(bitPattern: t.values[e]))
                }
            }

            deinit { PageMemory.deallocate(slots, count: 2 &* (mask &+ 1)) }

            /// The bytes `p[0..<n]` (1 ≤ n ≤ 8) as a little-endian word, in at most three loads, without reading
            /// past `p[n - 1]`.
            @inline(__always)
            static func word(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
                let raw = UnsafeRawPointer(p)
                if n >= 4 {
                    let lo = UInt64(raw.loadUnaligned(as: UInt32.self))
                    let hi = UInt64(raw.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self))
                    return lo | hi &<< UInt64(8 &* (n &- 4))
                }
                return UInt64(p[0]) | UInt64(p[n &>> 1]) &<< UInt64(8 &* (n &>> 1)) | UInt64(p[n &- 1]) &<< UInt64(8 &* (n &- 1))
            }

            @inline(__always)
            static func slot(_ w: UInt64, _ n: Int, _ mask: Int) -> Int {
                Int(truncatingIfNeeded: ((w ^ UInt64(n)) &* 0x9E37_79B9_7F4A_7C15) &>> 40) & mask
            }

            @inline(__always)
            func prefetch(_ p: UnsafePointer<UInt8>, _ n: Int) {
                glossa_prefetch(slots + 2 &* Self.slot(Self.word(p, n), n, mask))
            }

            /// The id of the key of `n` (1–8) bytes whose `word` and home `slot` these are, or -1.
            @inline(__always)
            func find(word w: UInt64, _ n: Int, slot: Int) -> Int32 {
                let tag = UInt64(n)
                var s = slot
                while true {
                    let x = slots[2 &* s &+ 1]
                    if x == 0 { return -1 }
                    if slots[2 &* s] == w && x &>> 32 == tag { return Int32(truncatingIfNeeded: x) }
                    s = (s &+ 1) & mask
                }
            }

            /// The id of `p[0..<n]` (1 ≤ n ≤ 8), or -1.
            @inline(__always)
            func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
                let w = Self.word(p, n)
                return find(word: w, n, slot: Self.slot(w, n, mask))
            }
        }

        /// Whether the bytes of entry `e` are `a` followed by `b`.
        @inline(__always)
        func entry(_ e: Int, is a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
            if Int(table.lengths[e]) != a.count &+ b.count { return false }
            let q = table.arena + Int(table.starts[e])
            return (a.isEmpty || memcmp(q, a.baseAddress!, a.count) == 0)
                && (b.isEmpty || memcmp(q + a.count, b.baseAddress!, b.count) == 0)
        }

        /// `guess`: the entry of the previous merged token in this run, or -1.
        @inline(__always)
        func resolve(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, _ key: UnsafeMutablePointer<UInt8>,
                     _ guess: inout Int, _ index: PartIndex?) -> MergeOutcome {
            let ia = find(a, index)
            if ia < 0 { return .missing(String(decoding: a, as: UTF8.self)) }
            let ib = find(b, index)
            if ib < 0 { return .missing(String(decoding: b, as: UTF8.self)) }
            let tail = b.count >= prefixLen ? UnsafeBufferPointer(rebasing: b[prefixLen...]) : b
            let n = a.count + tail.count
            if n > Self.capacity || n == 0 { return .malformed }
            // Merge lists usually follow the merged tokens' ids (Llama-3: the same or the next id every time):
            // comparing with those two entries, which are in cache, saves hashing and a random probe.
            if predict && guess >= 0 {
                var g = guess
                while g <= guess &+ 1 && g < entries {
                    if entry(g, is: a, tail) {
                        guess = g
                        return .merge(ia, ib, table.values[g])
                    }
                    g &+= 1
                }
            }
            if let p = a.baseAddress { key.update(from: p, count: a.count) }
            if let p = tail.baseAddress { (key + a.count).update(from: p, count: tail.count) }
            let e = table.lookupEntry(key, n, hash: hashBytes(key, n))
            if e < 0 { return .missingMerged(String(decoding: UnsafeBufferPointer(start: key, count: n), as: UTF8.self)) }
            guess = e
            return .merge(ia, ib, table.values[e])
        }
    }

    static func readModel(_ v: JSONValue, byteLevel: Bool, scan: HFModelScan? = nil) throws -> TokenModel {
        let t = try v.optional("type")?.requireString() ?? (try v.optional("merges") != nil ? "BPE" : "")
        switch t {
        case "BPE":
            if let d = try v.optional("dropout"), !d.isNull, (d.double ?? 0) != 0 {
                throw TokenizerError.unsupported(file: nil, component: "BPE dropout", detail: "dropout \(d.double ?? 0) (training-time regularization) is not implemented")
            }
            let vocabValue = try v.require("vocab")
            let vocab = Vocabulary(table: try readVocab(vocabValue, scan: scan))
            let options = BPEModel.Options(
                unkToken: try nullableString(v.optional("unk_token")),
                continuingSubwordPrefix: try nullableString(v.optional("continuing_subword_prefix")),
                endOfWordSuffix: try nullableString(v.optional("end_of_word_suffix")),
                fuseUnk: try v.optional("fuse_unk")?.requireBool() ?? false,
                byteFallback: try v.optional("byte_fallback")?.requireBool() ?? false,
                ignoreMerges: try v.optional("ignore_merges")?.requireBool() ?? false)
            // Byte-level models match raw bytes: their lookup decodes each spelling from the GPT-2 alphabet.
            // It is built by the scan's background task or else while the merges are resolved.
            let background = vocabValue.isElided ? scan?.tables(at: vocabValue.byteRange.lowerBound) : nil
            let prebuilt = byteLevel && background?.buildsByteLevelLookup == true
            let byteLookup = ByteLevelLookup()
            var side: (@Sendable () -> Void)?
            if byteLevel && !prebuilt { side = { byteLookup.build(vocab) } }
            let merges = try readMerges(try v.require("merges"), vocab: vocab,
                                        prefixLen: options.continuingSubwordPrefix?.utf8.count ?? 0, scan: scan, alongside: side)
            // The pair table before waiting for the lookup, which may still be in the making on another thread.
            let pairs = PairTable(merges: merges, ranks: nil, keepLast: true)
            let lookup = (prebuilt ? background?.byteLevelLookup() : nil) ?? byteLookup.table ?? vocab.index
            return .bpe(try BPEModel(vocabulary: vocab, lookup: lookup, byteLevel: byteLevel, merges: merges,
                                     duplicateMergesKeepLast: true, options: options, rule: .pairs(pairs)))
        case "WordPiece":
            return .wordPiece(try WordPieceModel(vocabulary: Vocabulary(table: try readVocab(try v.require("vocab"), scan: scan)),
                                                 unkToken: try v.optional("unk_token")?.requireString() ?? "[UNK]",
                                                 continuingSubwordPrefix: try v.optional("continuing_subword_prefix")?.requireString() ?? "##",
                                                 maxInputCharsPerWord: try v.optional("max_input_chars_per_word")?.requireInt() ?? 100))
        default:
            throw TokenizerError.unsupported(file: nil, component: "model type \"\(t)\"",
                                             detail: "Glossa reads BPE and WordPiece models (at \(v.path))")
        }
    }

    static func nullableString(_ v: JSONValue?) throws -> String? {
        guard let v, !v.isNull else { return nil }
        return try v.requireString()
    }
}

extension GlossaFormats.ByteLevelAlphabet {
    /// Raw bytes of a byte-level token spelled in UTF-8, or nil if a character is outside the alphabet.
    func decodeToken(_ token: [UInt8]) -> [UInt8]? {
        token.withUnsafeBufferPointer { decode(utf8: $0) }
    }
}

extension TokenizerError {
    func withFile(_ file: String?) -> TokenizerError {
        switch self {
        case let .malformed(nil, field, reason): return .malformed(file: file, field: field, reason: reason)
        case let .unsupported(nil, c, d): return .unsupported(file: file, component: c, detail: d)
        default: return self
        }
    }
}

/// The raw-byte lookup of a byte-level vocabulary, filled by one task of `readMerges`.
final class ByteLevelLookup: @unchecked Sendable {
    private(set) var table: ByteTable?
    func build(_ vocab: Vocabulary) { table = Self.make(vocab) }

    /// The lookup of vocabulary entries listed in id order with unique ids and spellings (what `make(_:)` gives
    /// for the table built from them).
    static func make(_ entries: UnsafeBufferPointer<HFModelScan.VocabEntry>, _ bytes: SplitBytes) -> ByteTable {
        let alphabet = GlossaFormats.ByteLevelAlphabet.gpt2
        // Raw bytes are never longer than their spelling; they are decoded straight into the arena.
        var t = ByteTable(capacity: entries.count, arenaBytes: entries.reduce(0) { $0 &+ Int($1.len) })
        t.fill { t in
            for sp in entries {
                let spelling = bytes.slice(Int(sp.start), Int(sp.start &+ sp.len))
                _ = t.appendPending(maxBytes: spelling.count, value: sp.id) { alphabet.decode(utf8: spelling, into: $0) }
            }
            _ = t.indexPending(from: 0, stopAtRepeat: false)
        }
        return t
    }

    static func make(_ vocab: Vocabulary) -> ByteTable {
        let alphabet = GlossaFormats.ByteLevelAlphabet.gpt2
        // Raw bytes are never longer than their spelling.
        var t = ByteTable(capacity: vocab.count, arenaBytes: vocab.index.arenaCount)
        var scratch = [UInt8](repeating: 0, count: 256)
        // Holes are empty entries; when every other entry can be looked up, only empty ones need `contains`.
        let allIndexed = vocab.index.nonEmptyKeysAllIndexed
        t.fill { t in
            for id in 0..<vocab.count {
                vocab.index.withEntryBytes(id) { spelling in
                    if (spelling.isEmpty || !allIndexed) && !vocab.contains(Int32(id)) { return }
                    if scratch.count < spelling.count { scratch = [UInt8](repeating: 0, count: spelling.count) }
                    scratch.withUnsafeMutableBufferPointer { s in
                        if let n = alphabet.decode(utf8: spelling, into: s.baseAddress!) {
                            t.append(UnsafeBufferPointer(start: s.baseAddress, count: n), value: Int32(id))
                        }
                    }
                }
            }
        }
        return t
    }
}
