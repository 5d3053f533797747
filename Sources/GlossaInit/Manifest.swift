import Foundation
import GlossaFormats
import GlossaTokenizers

/// Errors of the initializer pipeline: one readable line each, naming the file or field at fault.
public struct InitError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

extension InitError {
    init(_ e: ExtensionManifestError) { self.init(e.description) }
}

/// The manifest (GlossaFormats' `ExtensionManifest`) read and written with the initializers' error type.
extension ExtensionManifest {
    public static func load(path: String) throws(InitError) -> ExtensionManifest {
        do { return try read(path: path) } catch { throw InitError(error) }
    }

    public func save(path: String) throws(InitError) {
        do { try write(path: path) } catch { throw InitError(error) }
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
