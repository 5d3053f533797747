import Dispatch
import GlossaUnicode
import GlossaJSON
import GlossaFormats
import GlossaPatterns

/// A tiktoken encoding: its pre-tokenization pattern and special tokens.
public struct TiktokenEncoding: Sendable, Equatable {
    public var name: String
    public var pattern: String
    /// (token, id); ids may be filled from a `tokenizer_config.json` next to the rank file.
    public var specialTokens: [(String, Int32)]

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.pattern == b.pattern && a.specialTokens.elementsEqual(b.specialTokens, by: { $0 == $1 })
    }

    public static let knownNames = ["gpt2", "r50k_base", "p50k_base", "cl100k_base", "o200k_base", "llama3", "qwen"]

    /// The encodings tiktoken (and Qwen's tokenization_qwen.py) define. `llama3` takes its 256 special
    /// tokens from `tokenizer_config.json` when one is given.
    public static func named(_ name: String, rankCount: Int, config: JSONValue? = nil) -> TiktokenEncoding? {
        switch name {
        case "gpt2", "r50k_base":
            return .init(name: name, pattern: KnownPattern.gpt2.regex, specialTokens: [("<|endoftext|>", 50256)])
        case "p50k_base":
            return .init(name: name, pattern: KnownPattern.gpt2.regex, specialTokens: [("<|endoftext|>", 50256)])
        case "cl100k_base":
            // tiktoken's own (possessive) form: it differs from the classic one at the end of the input.
            return .init(name: name, pattern: KnownPattern.cl100kPossessive.regex, specialTokens: [
                ("<|endoftext|>", 100257), ("<|fim_prefix|>", 100258), ("<|fim_middle|>", 100259),
                ("<|fim_suffix|>", 100260), ("<|endofprompt|>", 100276)])
        case "o200k_base":
            return .init(name: name, pattern: KnownPattern.o200k.regex,
                         specialTokens: [("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)])
        case "qwen":
            var specials: [(String, Int32)] = [("<|endoftext|>", 151643), ("<|im_start|>", 151644), ("<|im_end|>", 151645)]
            for i in 0..<205 { specials.append(("<|extra_\(i)|>", Int32(151646 + i))) }
            return .init(name: name, pattern: KnownPattern.qwen.regex, specialTokens: specials)
        case "llama3":
            var specials: [(String, Int32)] = []
            if let dec = config?["added_tokens_decoder"], let entries = dec.objectEntries {
                // The rank file's model has 256 specials after its ranks; Llama-3.2's config also lists
                // the Vision model's <|image|> (128256), which the text model does not have.
                for e in entries {
                    if let id = Int32(e.key), id >= rankCount, id < rankCount + 256, let c = e.value["content"]?.string {
                        specials.append((c, id))
                    }
                }
                specials.sort { $0.1 < $1.1 }
            } else {
                let base = Int32(rankCount)
                let named = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                             "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
                             "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
                for (i, n) in named.enumerated() { specials.append((n, base + Int32(i))) }
                for i in named.count..<256 { specials.append(("<|reserved_special_token_\(i - named.count + 2)|>", base + Int32(i))) }
            }
            return .init(name: name, pattern: KnownPattern.cl100k.regex, specialTokens: specials)
        default: return nil
        }
    }
}

extension Tokenizer {
    /// Loads any supported tokenizer file or directory: HF `tokenizer.json`, a tiktoken rank file,
    /// GPT-2 `encoder.json` + `vocab.bpe`, or a SentencePiece BPE `.model`.
    /// - Parameter encoding: for rank files, the tiktoken encoding (pattern + specials); inferred from the
    ///   file name when nil.
    public static func load(path: String, encoding: String? = nil) throws(TokenizerError) -> Tokenizer {
        var p = path
        if FileSystem.isDirectory(p) {
            if let f = ["tokenizer.json", "encoder.json", "tokenizer.model"].first(where: { FileSystem.exists(p + "/" + $0) }) {
                p = p + "/" + f
            } else if let f = FileSystem.list(p).first(where: { $0.hasSuffix(".tiktoken") }) {
                p = p + "/" + f
            } else {
                throw .io(path: path, reason: "directory holds no tokenizer.json, encoder.json, tokenizer.model or .tiktoken file")
            }
        }
        let bytes: FileBytes
        do { bytes = try BinaryFile.map(p) } catch { throw .io(path: p, reason: error.description) }
        let name = FileSystem.baseName(p)
        if name == "encoder.json" {
            return try fromGPT2(encoderJSON: p, vocabBPE: FileSystem.dirName(p) + "/vocab.bpe")
        }
        if name.hasSuffix(".json") || bytes.first == UInt8(ascii: "{") {
            return try HuggingFaceReader.read(bytes: bytes, file: p)
        }
        if bytes.first == 0x0A {   // protobuf field 1 (pieces), length-delimited: a SentencePiece ModelProto
            return try fromSentencePiece(bytes: bytes.bytes, file: p)
        }
        return try fromTiktoken(bytes: bytes, file: p, encoding: encoding)
    }

    /// Infers the tiktoken encoding from a rank file's name (and a sibling tokenizer_config.json).
    static func inferEncoding(_ file: String) -> String? {
        let name = FileSystem.baseName(file).lowercased()
        for known in ["cl100k_base", "o200k_base", "r50k_base", "p50k_base"] where name.contains(known) { return known }
        if name.contains("qwen") { return "qwen" }
        if name.contains("gpt2") { return "gpt2" }
        let cfg = FileSystem.dirName(file) + "/tokenizer_config.json"
        if FileSystem.exists(cfg), let b = try? BinaryFile.read(cfg),
           String(decoding: b, as: UTF8.self).contains("<|begin_of_text|>") { return "llama3" }
        return nil
    }

    /// Builds the Unicode class tables that the first encode needs on an idle core while a file loads; `shared`
    /// is built once, and a caller that gets there first waits for it.
    static func warmClassTables() {
        if processorCount > 1 { DispatchQueue.global().async { _ = CharacterClasses.shared } }
    }

    public static func fromTiktoken(bytes: [UInt8], file: String, encoding: String?) throws(TokenizerError) -> Tokenizer {
        try fromTiktoken(bytes: FileBytes(bytes), file: file, encoding: encoding)
    }

    /// As `fromTiktoken(bytes:file:encoding:)` for a mapped file (`BinaryFile.map`).
    static func fromTiktoken(bytes: FileBytes, file: String, encoding: String?) throws(TokenizerError) -> Tokenizer {
        warmClassTables()
        let ranks: TiktokenFile
        // Repeated tokens are found by the lookup table `fromRanks` builds anyway (a second table here was an
        // eighth of the load); the file is parsed again with the check only to report one, as `TiktokenFile`
        // words it, and before any error that would come after the parse.
        do { ranks = try TiktokenFile(bytes: bytes, file: file, checkDuplicateTokens: false) } catch {
            throw .malformed(file: nil, field: "", reason: error.description)
        }
        let reportRepeats = { () throws(TokenizerError) -> Void in
            do { _ = try TiktokenFile(bytes: bytes, file: file, checkDuplicateTokens: true) } catch {
                throw .malformed(file: nil, field: "", reason: "\(error)")
            }
        }
        guard let encName = encoding ?? inferEncoding(file) else {
            try reportRepeats()
            throw .invalidArgument("\(file): cannot tell which tiktoken encoding this rank file uses; pass --encoding (one of \(TiktokenEncoding.knownNames.joined(separator: ", ")))")
        }
        var config: JSONValue?
        let cfgPath = FileSystem.dirName(file) + "/tokenizer_config.json"
        if encName == "llama3", FileSystem.exists(cfgPath) { config = try? JSONDocument(contentsOfFile: cfgPath).root }
        guard let enc = TiktokenEncoding.named(encName, rankCount: ranks.count, config: config) else {
            try reportRepeats()
            throw .invalidArgument("unknown tiktoken encoding \"\(encName)\" (known: \(TiktokenEncoding.knownNames.joined(separator: ", ")))")
        }
        return try fromRanks(ranks, encoding: enc, source: .tiktoken(encoding: encName), repeats: reportRepeats)
    }

    /// A byte-level tokenizer with tiktoken semantics from tokens in rank order.
    public static func fromRanks(_ tokens: [[UInt8]], encoding: TiktokenEncoding, source: TokenizerSource) throws(TokenizerError) -> Tokenizer {
        let file: TiktokenFile
        do { file = try TiktokenFile(tokens: tokens) } catch { throw .malformed(file: nil, field: "ranks", reason: error.description) }
        return try fromRanks(file, encoding: encoding, source: source)
    }

    /// - Parameter repeats: throws the error for repeated tokens when `ranks` was read without checking for them
    ///   (the lookup table finds them); nil when it was checked.
    static func fromRanks(_ ranks: TiktokenFile, encoding: TiktokenEncoding, source: TokenizerSource,
                          repeats: (() throws(TokenizerError) -> Void)? = nil) throws(TokenizerError) -> Tokenizer {
        let alphabet = GlossaFormats.ByteLevelAlphabet.gpt2
        let n = ranks.count
        // Each byte's spelling in the GPT-2 alphabet: 1 or 2 UTF-8 bytes (the first in the low byte), and its length.
        var spell = [UInt16](repeating: 0, count: 256), spellLength = [UInt8](repeating: 0, count: 256)
        for b in 0..<256 {
            var u: [UInt8] = []
            UTF8Scan.append(alphabet.byteToScalar[b], to: &u)
            spell[b] = UInt16(u[0]) | (u.count > 1 ? UInt16(u[1]) << 8 : 0)
            spellLength[b] = UInt8(u.count)
        }
        // `!`...`~` spell themselves (checked, not assumed): eight such bytes are copied at once.
        let printableSelf = (0x21...0x7E).allSatisfy { spell[$0] == UInt16($0) && spellLength[$0] == 1 }
        // The two tables are independent: the spelled one is built on another thread meanwhile.
        let spelledTask = VocabTables(byteLevelLookup: false) { [spell, spellLength] in
            var spelled = ByteTable(capacity: n, arenaBytes: ranks.storage.count * 2)
            ranks.storage.withUnsafeBufferPointer { st in
                ranks.offsets.withUnsafeBufferPointer { off in spell.withUnsafeBufferPointer { spell in
                    spellLength.withUnsafeBufferPointer { spellLength in spelled.fill { spelled in
                        let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F, highs: UInt64 = 0x8080_8080_8080_8080
                        let base = st.baseAddress ?? UnsafePointer(bitPattern: 1)!
                        // Spelled straight into the arena (at most two bytes per byte), indexed afterwards with
                        // prefetches (`indexPending`); a repeat stays an entry that cannot be looked up, as with
                        // `append`.
                        for r in 0..<n {
                            let len = min(Int(off[r + 1]) &- Int(off[r]), 65536)
                            _ = spelled.appendPending(maxBytes: 2 &* len, value: Int32(r)) { buf in
                                let src = base + Int(off[r])
                                var i = 0, k = 0
                                while i < len {
                                    if printableSelf && i &+ 8 <= len {
                                        let x = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                                        // High bit of each byte outside 0x21...0x7E (no carries between bytes).
                                        let outside = (((x & lows) &+ 0x0101_0101_0101_0101) | x
                                                       | ~((x & lows) &+ 0x5F5F_5F5F_5F5F_5F5F)) & highs
                                        if outside == 0 {
                                            UnsafeMutableRawPointer(buf + k).storeBytes(of: x, as: UInt64.self)
                                            i &+= 8; k &+= 8
                                            continue
                                        }
                                    }
                                    let b = Int(src[i])
                                    let sp = spell[b]
                                    buf[k] = UInt8(truncatingIfNeeded: sp); buf[k &+ 1] = UInt8(truncatingIfNeeded: sp &>> 8)
                                    k &+= Int(spellLength[b]); i &+= 1
                                }
                                return k
                            }
                        }
                        _ = spelled.indexPending(from: 0, stopAtRepeat: false)
                    } }
                } }
            }
            return spelled
        }
        var lookup = ByteTable(capacity: n, arenaBytes: ranks.storage.count)
        let repeated = ranks.storage.withUnsafeBufferPointer { st in
            ranks.offsets.withUnsafeBufferPointer { off in lookup.fill { lookup in
                for r in 0..<n { lookup.appendPending(UnsafeBufferPointer(rebasing: st[Int(off[r])..<Int(off[r + 1])]), value: Int32(r)) }
                return lookup.indexPending(from: 0, stopAtRepeat: false) != nil
            } }
        }
        if repeated, let repeats { try repeats() }
        let spelled: ByteTable
        do { spelled = try spelledTask.vocabularyTable() } catch { throw .malformed(file: nil, field: "ranks", reason: "\(error)") }
        let model = try BPEModel(vocabulary: Vocabulary(table: spelled), lookup: lookup, byteLevel: true,
                                 tokenRanks: nil, options: .init(ignoreMerges: true))
        let added = encoding.specialTokens.map { AddedToken(id: $0.1, content: $0.0, normalized: false, special: true) }
        return try Tokenizer(model: .bpe(model), preTokenizer: .sequence([
                .split(pattern: .regex(encoding.pattern), behavior: .isolated, invert: false),
                .byteLevel(addPrefixSpace: false, trimOffsets: true, useRegex: false)]),
            decoder: .byteLevel, addedTokens: added, source: source, pattern: encoding.pattern)
    }

    public static func fromGPT2(encoderJSON: String, vocabBPE: String) throws(TokenizerError) -> Tokenizer {
        let files: GPT2Files
        do { files = try GPT2Files(encoderJSONPath: encoderJSON, vocabBPEPath: vocabBPE) } catch {
            throw .malformed(file: nil, field: "", reason: error.description)
        }
        let r = files.ranks
        let specials = files.specialTokens.map { ($0.token, Int32($0.id)) }
        let enc = TiktokenEncoding(name: "gpt2", pattern: KnownPattern.gpt2.regex, specialTokens: specials)
        return try fromRanks(r, encoding: enc, source: .gpt2Files)
    }

    public static func fromSentencePiece(bytes: [UInt8], file: String) throws(TokenizerError) -> Tokenizer {
        let m: SentencePieceModelFile
        do { m = try SentencePieceModelFile(bytes: bytes, file: file) } catch {
            throw .malformed(file: nil, field: "", reason: error.description)
        }
        let spec = m.trainerSpec ?? .init()
        guard spec.modelType == .bpe else {
            throw .unsupported(file: file, component: "SentencePiece model_type \(spec.modelType)",
                               detail: "only BPE models are read (Unigram is not implemented)")
        }
        let norm = m.normalizerSpec ?? .init()
        if !norm.precompiledCharsmap.isEmpty {
            throw .unsupported(file: file, component: "SentencePiece normalizer \"\(norm.name)\"",
                               detail: "a precompiled character map (\(norm.precompiledCharsmap.count) bytes) is not implemented; only identity normalization is")
        }
        if spec.treatWhitespaceAsSuffix {
            throw .unsupported(file: file, component: "SentencePiece treat_whitespace_as_suffix", detail: "not implemented")
        }
        let tokens = m.pieces.map { Array($0.piece.utf8) }
        let vocab = Vocabulary(tokens: tokens)
        var keys = [[UInt8]?](repeating: nil, count: tokens.count)
        var added: [AddedToken] = []
        // Merge priority: higher score first; equal scores share a rank (SentencePiece then takes the leftmost pair).
        let distinct = Array(Set(m.pieces.map { $0.score })).sorted(by: >)
        var scoreRank: [Float: Int32] = [:]
        for (i, s) in distinct.enumerated() { scoreRank[s] = Int32(i) }
        for (i, p) in m.pieces.enumerated() {
            switch p.type {
            case .normal: keys[i] = tokens[i]
            case .userDefined:
                keys[i] = tokens[i]
                added.append(AddedToken(id: Int32(i), content: p.piece, normalized: true, special: false))
            case .control, .unknown:
                added.append(AddedToken(id: Int32(i), content: p.piece, normalized: false, special: true))
            case .byte, .unused: break
            }
        }
        let lookup = ByteTable(keys: keys)
        let unk = m.pieces.indices.contains(Int(spec.unkID)) ? m.pieces[Int(spec.unkID)].piece : nil
        let model = try BPEModel(vocabulary: vocab, lookup: lookup, byteLevel: false,
                                 tokenRanks: m.pieces.map { scoreRank[$0.score]! },
                                 options: .init(unkToken: unk, fuseUnk: true, byteFallback: spec.byteFallback))
        var normalizers: [NormalizerConfig] = []
        if norm.removeExtraWhitespaces {
            normalizers += [.strip(left: true, right: true), .replace(pattern: .regex(" {2,}"), content: " ")]
        }
        if norm.addDummyPrefix { normalizers.append(.prepend("\u{2581}")) }
        if norm.escapeWhitespaces { normalizers.append(.replace(pattern: .string(" "), content: "\u{2581}")) }
        var decoders: [DecoderConfig] = [.replace(pattern: .string("\u{2581}"), content: " "), .byteFallback, .fuse]
        if norm.addDummyPrefix { decoders.append(.strip(content: " ", start: 1, stop: 0)) }
        return try Tokenizer(model: .bpe(model), normalizer: normalizers.isEmpty ? nil : .sequence(normalizers),
                             decoder: .sequence(decoders), addedTokens: added, source: .sentencePiece,
                             unmatchedAddedIds: Set(added.filter { $0.special }.map { $0.id }),
                             pieceScores: m.pieces.map { $0.score })
    }
}
