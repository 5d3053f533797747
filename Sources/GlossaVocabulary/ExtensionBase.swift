// The base tokenizer of an extension, taken apart into what append-only BPE needs: spellings by id,
// model-domain keys, the merges as (left, right, merged) in rank order, and the pipeline to write back.

import Foundation
import GlossaFormats
import GlossaJSON
import GlossaTokenizers

/// Errors of extension and analytics: one readable line each.
public enum VocabularyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The base cannot be extended; `kind` names its type, `reason` says why and what to do.
    case unextendable(kind: String, reason: String)
    case unreadable(path: String, reason: String)
    /// No pair of the target corpus reaches the minimum frequency.
    case nothingToAdd(minFrequency: UInt64, detail: String)
    /// Fewer than the requested tokens could be added.
    case tooFew(requested: Int, available: Int, minFrequency: UInt64, detail: String)
    case invalidOption(String)
    case output(String)

    public var description: String {
        switch self {
        case let .unextendable(k, r): return "cannot extend a \(k) tokenizer: \(r)"
        case let .unreadable(p, r): return "\(p): \(r)"
        case let .nothingToAdd(f, d):
            return "nothing new to add: no pair of the target corpus occurs at least \(f) times\(d.isEmpty ? "" : " (\(d))"); lower --min-frequency or give more text"
        case let .tooFew(n, a, f, d):
            return "--add \(n) is more than this corpus supports: only \(a) new tokens reach --min-frequency \(f)\(d.isEmpty ? "" : " (\(d))"); use --add \(a) or less, lower --min-frequency, or give more text"
        case let .invalidOption(s): return s
        case let .output(s): return s
        }
    }
}

/// Which flavour of BPE the base is.
public enum ExtensionBaseKind: String, Sendable {
    /// GPT-2 / Llama-3 / SmolLM2: symbols are raw bytes in the GPT-2 alphabet.
    case byteLevel = "byte-level BPE"
    /// Llama-2 / Mistral `tokenizer.json`: symbols are characters, "▁" for spaces, byte fallback.
    case sentencePiece = "SentencePiece-style BPE"
}

/// The file format the base came in (and the extension is written in).
public enum ExtensionBaseFormat: Sendable, Equatable {
    case huggingFace
    /// GPT-2 `encoder.json` + `vocab.bpe`.
    case gpt2Files
}

public struct ExtensionBase: Sendable {
    public let path: String
    public let kind: ExtensionBaseKind
    public let format: ExtensionBaseFormat
    /// The base as Glossa loads it (HF merge semantics).
    public let tokenizer: Tokenizer
    public let model: BPEModel
    /// Spellings by id (holes empty), model vocabulary only.
    public let tokens: [[UInt8]]
    /// Ids that are holes in the model vocabulary (added tokens beyond it, e.g. Llama-3 specials).
    public let holes: Set<Int>
    /// Model-domain bytes by id: raw bytes (byte-level) or UTF-8 of the piece; nil for holes and
    /// tokens that never take part in merges (byte-fallback pieces, unk, control tokens).
    public let keys: [[UInt8]?]
    /// Merges in rank order as (left, right, merged).
    public let merges: [(Int32, Int32, Int32)]
    /// First id available for new tokens: past the model vocabulary and every added token.
    public let firstNewId: Int
    /// Ids that never merge: byte-fallback pieces, unk, special/added tokens.
    public let frozen: Set<Int32>
    /// Byte-fallback ids by byte value (SentencePiece-style), or empty.
    public let fallbackIds: [Int32]
    /// Pre-tokenization for SentencePiece-style bases: whether "▁" is prepended to a line.
    public let prependMetaspace: Bool

    /// Loads a base: a tokenizer.json (file or directory), or GPT-2's encoder.json + vocab.bpe.
    public static func load(path: String) throws(VocabularyError) -> ExtensionBase {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .unreadable(path: path, reason: "no such file or directory")
        }
        var file = path
        if isDir.boolValue {
            let fm = FileManager.default
            if fm.fileExists(atPath: path + "/tokenizer.json") { file = path + "/tokenizer.json" }
            else if fm.fileExists(atPath: path + "/encoder.json") { file = path + "/encoder.json" }
            else {
                let found = (try? fm.contentsOfDirectory(atPath: path))?.sorted() ?? []
                if let f = found.first(where: { $0.hasSuffix(".tiktoken") || $0.hasSuffix(".model") }) { file = path + "/" + f }
                else { throw .unreadable(path: path, reason: "no tokenizer.json or encoder.json + vocab.bpe in this directory") }
            }
        }
        let name = (file as NSString).lastPathComponent
        if name.hasSuffix(".tiktoken") {
            throw .unextendable(kind: "tiktoken rank file", reason: "tiktoken merges any two tokens whose concatenation is ranked, so new merges cannot be appended without changing how existing text may split; convert it first (glossa convert -t \(file) --to hf -o base.json) and extend the tokenizer.json")
        }
        if name.hasSuffix(".model") {
            throw .unextendable(kind: "SentencePiece .model", reason: "writing SentencePiece protobufs is not implemented; extend the model's tokenizer.json (HF) form instead")
        }
        if name == "encoder.json" || name == "vocab.bpe" {
            let dir = (file as NSString).deletingLastPathComponent
            return try loadGPT2(encoder: (dir.isEmpty ? "." : dir) + "/encoder.json", vocab: (dir.isEmpty ? "." : dir) + "/vocab.bpe", path: path)
        }
        let tok: Tokenizer
        do { tok = try Tokenizer.load(path: file) } catch { throw .unreadable(path: file, reason: error.description) }
        return try fromHuggingFace(tok, path: file)
    }

    static func loadGPT2(encoder: String, vocab: String, path: String) throws(VocabularyError) -> ExtensionBase {
        let files: GPT2Files
        do { files = try GPT2Files(encoderJSONPath: encoder, vocabBPEPath: vocab) } catch {
            throw .unreadable(path: path, reason: error.description)
        }
        let count = (files.encoder.map(\.id).max() ?? -1) + 1
        var tokens = [[UInt8]](repeating: [], count: count)
        var present = Set<Int>()
        for (t, id) in files.encoder { tokens[id] = Array(t.utf8); present.insert(id) }
        let holes = Set(0..<count).subtracting(present)
        let vocab = Vocabulary(tokens: tokens, holes: holes)
        let alphabet = ByteLevelAlphabet.gpt2
        let specials = Set(files.specialTokens.map(\.id))
        let keys: [[UInt8]?] = tokens.enumerated().map { i, t in
            holes.contains(i) || specials.contains(i) ? nil : t.withUnsafeBufferPointer { alphabet.decode(utf8: $0) }
        }
        var merges: [(Int32, Int32, Int32)] = []
        merges.reserveCapacity(files.merges.count)
        for (k, m) in files.merges.enumerated() {
            guard let l = vocab.id(of: m.left), let r = vocab.id(of: m.right), let c = vocab.id(of: m.left + m.right) else {
                throw .unreadable(path: path, reason: "vocab.bpe merge #\(k) (\(m.left) \(m.right)) names a token missing from encoder.json")
            }
            merges.append((l, r, c))
        }
        let added = files.specialTokens.map { AddedToken(id: Int32($0.id), content: $0.token, normalized: false, special: true) }
        let model: BPEModel
        let tok: Tokenizer
        do {
            model = try BPEModel(vocabulary: vocab, modelKeys: keys, byteLevel: true, merges: merges, options: .init())
            tok = try Tokenizer(model: .bpe(model), preTokenizer: .byteLevel(addPrefixSpace: false, trimOffsets: true, useRegex: true),
                                decoder: .byteLevel, addedTokens: added)
        } catch { throw .unreadable(path: path, reason: error.description) }
        return ExtensionBase(path: path, kind: .byteLevel, format: .gpt2Files, tokenizer: tok, model: model, tokens: tokens,
                             holes: holes, keys: keys, merges: merges, firstNewId: tok.vocabularySize,
                             frozen: Set(specials.map { Int32($0) }), fallbackIds: [], prependMetaspace: false)
    }

    /// Classifies a loaded tokenizer.json.
    public static func fromHuggingFace(_ tok: Tokenizer, path: String) throws(VocabularyError) -> ExtensionBase {
        guard case .bpe(let m) = tok.model else {
            throw .unextendable(kind: "WordPiece", reason: "only BPE tokenizers can be extended by appending merges")
        }
        switch tok.source {
        case .tiktoken:
            throw .unextendable(kind: "tiktoken rank file", reason: "convert it to tokenizer.json first (glossa convert --to hf)")
        case .sentencePiece:
            throw .unextendable(kind: "SentencePiece .model", reason: "extend the tokenizer.json form instead")
        case .gpt2Files, .huggingFace: break
        }
        if m.options.continuingSubwordPrefix != nil || m.options.endOfWordSuffix != nil {
            throw .unextendable(kind: "BPE with continuing_subword_prefix / end_of_word_suffix",
                                reason: "word-internal markers change how merges apply; only plain byte-level and SentencePiece-style BPE are supported")
        }
        let vocab = m.vocabulary
        let n = vocab.count
        var tokens = [[UInt8]](repeating: [], count: n)
        var holes = Set<Int>()
        for i in 0..<n {
            if vocab.contains(Int32(i)) { tokens[i] = vocab.token(Int32(i)) ?? [] } else { holes.insert(i) }
        }
        var frozen = Set<Int32>(tok.addedVocabulary.tokens.map(\.id))
        let kind: ExtensionBaseKind
        var keys = [[UInt8]?](repeating: nil, count: n)
        var fallback: [Int32] = []
        var prepend = false
        if m.byteLevel {
            kind = .byteLevel
            if tok.normalizerConfig != nil {
                throw .unextendable(kind: "byte-level BPE with a normalizer",
                                    reason: "pre-tokens are collected on raw text; a normalizer before the byte-level step is not supported")
            }
            for i in 0..<n where !holes.contains(i) && !frozen.contains(Int32(i)) { keys[i] = m.modelKey(Int32(i)) }
        } else {
            // SentencePiece-style: Metaspace pre-tokenizer or Prepend/Replace normalizers, no split.
            let meta = Self.metaspaceSetup(tok)
            guard let meta else {
                throw .unextendable(kind: "character-level BPE",
                                    reason: "a non-byte-level BPE is supported only in the SentencePiece style (Metaspace \"▁\" pre-tokenizer, or Prepend+Replace normalizers, without splitting)")
            }
            kind = .sentencePiece
            prepend = meta
            if m.options.byteFallback {
                for b in 0..<256 {
                    let name = "<0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) + ">"
                    if let id = vocab.id(of: name) { fallback.append(id) }
                }
                if fallback.count != 256 { fallback = [] }
            }
            for id in fallback { frozen.insert(id) }
            if let u = m.options.unkToken, let id = vocab.id(of: u) { frozen.insert(id) }
            for i in 0..<n where !holes.contains(i) && !frozen.contains(Int32(i)) { keys[i] = tokens[i] }
        }
        // Merges with their result ids (from the pair list HF keeps; rank = position).
        var merges: [(Int32, Int32, Int32)] = []
        let pairs: [(Int32, Int32)]
        do { pairs = try tok.canonicalMerges() } catch { throw .unreadable(path: path, reason: error.description) }
        merges.reserveCapacity(pairs.count)
        for (k, (a, b)) in pairs.enumerated() {
            guard let ta = vocab.token(a), let tb = vocab.token(b), let c = vocab.id(of: ta + tb) else {
                throw .unreadable(path: path, reason: "merge #\(k) (\(a), \(b)) does not produce a token of the vocabulary")
            }
            merges.append((a, b, c))
        }
        return ExtensionBase(path: path, kind: kind, format: .huggingFace, tokenizer: tok, model: m, tokens: tokens,
                             holes: holes, keys: keys, merges: merges, firstNewId: tok.vocabularySize, frozen: frozen,
                             fallbackIds: fallback, prependMetaspace: prepend)
    }

    /// nil when the pipeline is not SentencePiece-style; otherwise whether a "▁" is prepended to each text.
    static func metaspaceSetup(_ tok: Tokenizer) -> Bool? {
        if let p = tok.preTokenizerConfig {
            if case let .metaspace(rep, scheme, split) = p, rep == "\u{2581}", !split {
                return scheme != .never
            }
            return nil
        }
        guard let n = tok.normalizerConfig else { return nil }
        var list: [NormalizerConfig] = []
        if case .sequence(let l) = n { list = l } else { list = [n] }
        var replaces = false, prepends = false
        for c in list {
            switch c {
            case .prepend(let s) where s == "\u{2581}": prepends = true
            case .replace(.string(" "), let content) where content == "\u{2581}": replaces = true
            case .nfc, .nfkc, .strip, .replace: break
            default: return nil
            }
        }
        return replaces ? prepends : nil
    }
}
