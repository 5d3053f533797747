import Foundation
import GlossaJSON
import GlossaTokenizers

/// Errors of the initializer pipeline: one readable line each, naming the file or field at fault.
public struct InitError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The extension manifest: which ids were appended to a base vocabulary, their bytes, and their decomposition
/// under the base tokenizer. Format (Docs/formats.md, "Extension manifest"):
///
///     {"base_vocab_size": 49152,
///      "tokens": [{"id": 49152, "bytes_b64": "INC/0YDQuNCy", "surface": "ĠÐ¿ÑĢÐ¸Ð²", "base_ids": [2189, 4581]}, ...]}
public struct ExtensionManifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Id in the extended vocabulary (≥ `baseVocabSize`).
        public var id: Int
        /// The raw bytes the token stands for (byte-level: the decoded bytes, leading space included).
        public var bytes: [UInt8]
        /// The token's spelling in the extended vocabulary (informational).
        public var surface: String
        /// The base tokenizer's encoding of `bytes` (no special tokens added).
        public var baseIds: [Int]
        public init(id: Int, bytes: [UInt8], surface: String, baseIds: [Int]) {
            self.id = id; self.bytes = bytes; self.surface = surface; self.baseIds = baseIds
        }
    }

    public var baseVocabSize: Int
    public var tokens: [Entry]

    public init(baseVocabSize: Int, tokens: [Entry]) {
        self.baseVocabSize = baseVocabSize
        self.tokens = tokens
    }

    /// Size of the extended vocabulary: one past the largest new id (at least the base size).
    public var extendedVocabSize: Int { max(baseVocabSize, (tokens.map(\.id).max() ?? -1) &+ 1) }

    // MARK: JSON

    public static func read(path: String) throws(InitError) -> ExtensionManifest {
        let doc: JSONDocument
        do { doc = try JSONDocument(contentsOfFile: path) } catch { throw InitError("\(path): \(error)") }
        return try parse(doc.root, file: path)
    }

    public static func parse(json: String) throws(InitError) -> ExtensionManifest {
        let doc: JSONDocument
        do { doc = try JSONDocument(string: json) } catch { throw InitError("manifest: \(error)") }
        return try parse(doc.root, file: "manifest")
    }

    static func parse(_ root: JSONValue, file: String) throws(InitError) -> ExtensionManifest {
        do {
            let base = try root.require("base_vocab_size").requireInt()
            guard base > 0 else { throw InitError("\(file): base_vocab_size must be positive, got \(base)") }
            var out: [Entry] = []
            var seen = Set<Int>()
            for (k, t) in try root.require("tokens").requireArray().enumerated() {
                let id = try t.require("id").requireInt()
                guard id >= base else {
                    throw InitError("\(file): tokens[\(k)].id = \(id) is below base_vocab_size \(base)")
                }
                guard seen.insert(id).inserted else { throw InitError("\(file): tokens[\(k)].id = \(id) appears twice") }
                let b64 = try t.require("bytes_b64").requireString()
                guard let data = Data(base64Encoded: b64) else {
                    throw InitError("\(file): tokens[\(k)].bytes_b64 is not valid base64")
                }
                let surface = try t.optional("surface")?.requireString() ?? ""
                var ids: [Int] = []
                for v in try t.require("base_ids").requireArray() {
                    let i = try v.requireInt()
                    guard i >= 0 && i < base else {
                        throw InitError("\(file): tokens[\(k)].base_ids holds \(i), outside the base vocabulary (0..<\(base))")
                    }
                    ids.append(i)
                }
                out.append(Entry(id: id, bytes: Array(data), surface: surface, baseIds: ids))
            }
            return ExtensionManifest(baseVocabSize: base, tokens: out)
        } catch let e as InitError {
            throw e
        } catch {
            throw InitError("\(file): \(error)")
        }
    }

    public func jsonBytes() -> [UInt8] {
        var w = JSONWriter(pretty: false, reservingCapacity: 64 &* tokens.count &+ 64)
        w.beginObject()
        w.key("base_vocab_size"); w.int(baseVocabSize)
        w.key("tokens"); w.beginArray()
        for t in tokens {
            w.beginObject()
            w.key("id"); w.int(t.id)
            w.key("bytes_b64"); w.string(Data(t.bytes).base64EncodedString())
            w.key("surface"); w.string(t.surface)
            w.key("base_ids"); w.beginArray(); for i in t.baseIds { w.int(i) }; w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes + [0x0A]
    }

    public func write(path: String) throws(InitError) {
        do { try BinaryFile.write(jsonBytes(), to: path) } catch { throw InitError("\(path): \(error)") }
    }

    // MARK: building from two tokenizers

    /// The manifest of `extended` over `base`: new ids are the extended ids ≥ the base vocabulary size; each one's
    /// bytes are decomposed with the base tokenizer (word boundaries kept, see `SubwordDecomposer`).
    /// Throws when the extended vocabulary does not agree with the base one on the shared ids.
    public static func build(base: Tokenizer, extended: Tokenizer) throws(InitError) -> ExtensionManifest {
        let baseSize = base.vocabularySize
        let extSize = extended.vocabularySize
        guard extSize >= baseSize else {
            throw InitError("the extended tokenizer has \(extSize) ids, fewer than the base tokenizer's \(baseSize)")
        }
        // The shared range must be the same vocabulary (sampled densely: every id).
        var mismatches = 0
        var firstMismatch = -1
        for i in 0..<baseSize where base.token(of: Int32(i)) != extended.token(of: Int32(i)) {
            mismatches &+= 1
            if firstMismatch < 0 { firstMismatch = i }
        }
        if mismatches > 0 {
            throw InitError("the extended tokenizer is not an extension of the base: \(mismatches) of the first \(baseSize) ids differ (first: id \(firstMismatch), \(base.token(of: Int32(firstMismatch)) ?? "-") vs \(extended.token(of: Int32(firstMismatch)) ?? "-"))")
        }
        let extSurf = VocabularySurfaces(tokenizer: extended)
        let dec = TokenizerDecomposer(tokenizer: base, style: extSurf.style)
        // Byte-level pieces may be partial UTF-8 (which an encoder rejects): replay the base merges on the bytes.
        let replay = RestrictedDecomposer(tokenizer: base, style: extSurf.style)
        let useReplay = extSurf.style == .byteLevel && replay.isSupported
        var entries: [Entry] = []
        for id in baseSize..<extSize {
            let s = extSurf[id]
            let raw = s.fvtText(style: extSurf.style)
            let pieces = s.kind == .special ? [] : useReplay ? replay.decompose(s, excluded: []) : dec.decompose(s)
            entries.append(Entry(id: id, bytes: s.kind == .special ? s.bytes : raw,
                                 surface: extended.token(of: Int32(id)) ?? "", baseIds: pieces))
        }
        return ExtensionManifest(baseVocabSize: baseSize, tokens: entries)
    }
}

/// Splits a token surface into pieces of an "old" vocabulary (FVT decomposition).
public protocol SubwordDecomposer: Sendable {
    func decompose(_ s: TokenSurface) -> [Int]
}

/// Decomposition by encoding with a full tokenizer, keeping word boundaries (spec §2):
/// byte-level encodes `" "+word` for word-initial tokens; SentencePiece continuation pieces use LEP's sentinel
/// trick (encode `家`+piece, drop the sentinel's ids); WordPiece continuations use greedy `##` longest match.
public struct TokenizerDecomposer: SubwordDecomposer {
    public let tokenizer: Tokenizer
    public let style: VocabularyStyle
    let sentinelIds: [Int32]

    public init(tokenizer: Tokenizer, style: VocabularyStyle) {
        self.tokenizer = tokenizer
        self.style = style
        let opts = EncodeOptions(addSpecialTokens: false, specialTokens: .text, withTokens: false)
        sentinelIds = (try? tokenizer.encode(bytes: Array("家".utf8), options: opts).ids) ?? []
    }

    public func decompose(_ s: TokenSurface) -> [Int] {
        let opts = EncodeOptions(addSpecialTokens: false, specialTokens: .text, withTokens: false)
        func enc(_ b: [UInt8]) -> [Int] {
            guard let e = try? tokenizer.encode(bytes: b, options: opts) else { return [] }
            return e.ids.map(Int.init)
        }
        switch style {
        case .byteLevel, .plain:
            return enc(s.fvtText(style: style))
        case .sentencePiece:
            if s.wordInitial { return enc(s.bytes) }
            let withSentinel = enc(Array("家".utf8) + s.bytes)
            let sentinel = sentinelIds.map(Int.init)
            if !sentinel.isEmpty && withSentinel.starts(with: sentinel) { return Array(withSentinel.dropFirst(sentinel.count)) }
            return enc(s.bytes)
        case .wordPiece:
            if s.wordInitial { return enc(s.bytes) }
            return WordPieceGreedy.split(s.bytes, continuation: true, vocabulary: tokenizer.model.vocabulary, excluded: [])
        }
    }
}

/// Greedy longest-match WordPiece over a vocabulary, optionally ignoring some ids.
enum WordPieceGreedy {
    static func split(_ bytes: [UInt8], continuation: Bool, vocabulary: Vocabulary, excluded: Set<Int>) -> [Int] {
        var out: [Int] = []
        var start = 0
        var first = !continuation
        while start < bytes.count {
            var end = bytes.count
            var found = -1
            while end > start {
                // Only cut at UTF-8 scalar boundaries.
                if end < bytes.count && bytes[end] & 0xC0 == 0x80 { end &-= 1; continue }
                let piece = (first ? [] : Array("##".utf8)) + bytes[start..<end]
                if let id = vocabulary.id(of: piece), !excluded.contains(Int(id)) { found = Int(id); break }
                end &-= 1
            }
            if found < 0 { return [] }
            out.append(found)
            start = end
            first = false
        }
        return out
    }
}
