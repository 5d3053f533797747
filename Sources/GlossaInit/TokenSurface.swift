import GlossaTokenizers

/// How a vocabulary marks word boundaries (spec §0: the FOCUS/OFA heuristic).
public enum VocabularyStyle: String, Sendable, Equatable {
    /// `▁` marks word-initial pieces (SentencePiece, Metaspace).
    case sentencePiece
    /// `##` marks continuation pieces.
    case wordPiece
    /// GPT-2 byte-level alphabet: `Ġ` (a space byte) marks word-initial pieces.
    case byteLevel
    /// Anything else: spellings are taken as UTF-8 text.
    case plain
}

/// What kind of entry a token is, for the copy rules and the probe's candidate pool.
public enum TokenKind: String, Sendable, Equatable {
    case special, byte, normal
}

/// The canonical surface of one token: its raw bytes without the boundary marker, and whether it starts a word.
public struct TokenSurface: Sendable, Equatable {
    public var id: Int
    /// The bytes the token stands for, boundary marker removed (`Ġword` → `word`, `##ing` → `ing`, `▁x` → `x`).
    public var bytes: [UInt8]
    /// True when the token carries a word-initial marker (or, for WordPiece, is not a `##` piece).
    public var wordInitial: Bool
    public var kind: TokenKind

    public init(id: Int, bytes: [UInt8], wordInitial: Bool, kind: TokenKind) {
        self.id = id; self.bytes = bytes; self.wordInitial = wordInitial; self.kind = kind
    }

    /// The canonical key used for overlap matching: `▁` + bytes for word-initial tokens, bytes otherwise.
    public var canonicalKey: [UInt8] { wordInitial ? [0xE2, 0x96, 0x81] + bytes : bytes }

    /// The text to re-encode with the base tokenizer for FVT, keeping the word boundary (spec §2):
    /// a leading space for word-initial tokens of byte-level and SentencePiece vocabularies.
    public func fvtText(style: VocabularyStyle) -> [UInt8] {
        switch style {
        case .byteLevel, .sentencePiece: return wordInitial ? [0x20] + bytes : bytes
        case .wordPiece, .plain: return bytes
        }
    }

    /// Number of Unicode scalars in the bytes (invalid UTF-8 counts per byte).
    public var characterCount: Int {
        var n = 0
        for b in bytes where b & 0xC0 != 0x80 { n &+= 1 }
        return n
    }
}

/// Canonical surfaces of every id of a tokenizer.
public struct VocabularySurfaces: Sendable {
    public let style: VocabularyStyle
    public let surfaces: [TokenSurface]

    public var count: Int { surfaces.count }
    public subscript(id: Int) -> TokenSurface { surfaces[id] }

    public init(tokenizer: Tokenizer) {
        let n = tokenizer.vocabularySize
        var spell = [String?](repeating: nil, count: n)
        for i in 0..<n { spell[i] = tokenizer.token(of: Int32(i)) }
        var specials = Set<Int>()
        for t in tokenizer.addedVocabulary.tokens where t.special { specials.insert(Int(t.id)) }
        var byteLevel = false
        if case .bpe(let m) = tokenizer.model { byteLevel = m.byteLevel }
        self.init(spellings: spell, specialIds: specials, byteLevel: byteLevel)
    }

    /// - Parameters:
    ///   - spellings: the vocabulary spelling of each id (nil for holes).
    ///   - specialIds: ids of special (control) tokens.
    ///   - byteLevel: whether spellings use the GPT-2 byte-level alphabet.
    public init(spellings: [String?], specialIds: Set<Int>, byteLevel: Bool) {
        var sp = 0, wp = 0
        for s in spellings {
            guard let s else { continue }
            if s.hasPrefix("▁") { sp &+= 1 } else if s.hasPrefix("##") { wp &+= 1 }
        }
        let style: VocabularyStyle = byteLevel ? .byteLevel : sp > 100 ? .sentencePiece : wp > 100 ? .wordPiece : .plain
        self.style = style
        var out = [TokenSurface]()
        out.reserveCapacity(spellings.count)
        for (i, s) in spellings.enumerated() {
            guard let s else { out.append(TokenSurface(id: i, bytes: [], wordInitial: false, kind: .special)); continue }
            if specialIds.contains(i) {
                out.append(TokenSurface(id: i, bytes: Array(s.utf8), wordInitial: false, kind: .special)); continue
            }
            out.append(Self.surface(id: i, spelling: s, style: style))
        }
        surfaces = out
    }

    static func surface(id: Int, spelling s: String, style: VocabularyStyle) -> TokenSurface {
        // Byte-fallback tokens are kept literally (FOCUS).
        if let b = byteFallbackValue(s) { return TokenSurface(id: id, bytes: [b], wordInitial: false, kind: .byte) }
        switch style {
        case .byteLevel:
            var raw = [UInt8]()
            for u in s.unicodeScalars {
                guard let b = ByteLevel.byte(for: u) else {
                    return TokenSurface(id: id, bytes: Array(s.utf8), wordInitial: false, kind: .normal)
                }
                raw.append(b)
            }
            let initial = raw.first == 0x20 && raw.count > 1
            let body = initial ? Array(raw.dropFirst()) : raw
            let kind: TokenKind = raw.count == 1 ? .byte : .normal
            return TokenSurface(id: id, bytes: body, wordInitial: initial, kind: kind)
        case .sentencePiece:
            var bytes = Array(s.utf8)
            var initial = false
            if bytes.starts(with: [0xE2, 0x96, 0x81]) { bytes.removeFirst(3); initial = true }
            // Inner ▁ stand for spaces.
            var out = [UInt8]()
            var i = 0
            while i < bytes.count {
                if i &+ 2 < bytes.count, bytes[i] == 0xE2, bytes[i &+ 1] == 0x96, bytes[i &+ 2] == 0x81 {
                    out.append(0x20); i &+= 3
                } else { out.append(bytes[i]); i &+= 1 }
            }
            if out.isEmpty && initial { return TokenSurface(id: id, bytes: [0x20], wordInitial: false, kind: .normal) }
            return TokenSurface(id: id, bytes: out, wordInitial: initial, kind: .normal)
        case .wordPiece:
            if s.hasPrefix("##") && s.utf8.count > 2 {
                return TokenSurface(id: id, bytes: Array(s.utf8.dropFirst(2)), wordInitial: false, kind: .normal)
            }
            if s.hasPrefix("[") && s.hasSuffix("]") && s.utf8.count > 2 {
                return TokenSurface(id: id, bytes: Array(s.utf8), wordInitial: false, kind: .special)
            }
            return TokenSurface(id: id, bytes: Array(s.utf8), wordInitial: true, kind: .normal)
        case .plain:
            return TokenSurface(id: id, bytes: Array(s.utf8), wordInitial: false, kind: .normal)
        }
    }

    /// `<0xNN>` → NN.
    static func byteFallbackValue(_ s: String) -> UInt8? {
        let u = Array(s.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// Style marker spelling for a word-initial token with the given bytes, as the vocabulary would write it.
    public func spelling(bytes: [UInt8], wordInitial: Bool) -> String {
        switch style {
        case .byteLevel: return ByteLevel.encode(wordInitial ? [0x20] + bytes : bytes)
        case .sentencePiece: return (wordInitial ? "▁" : "") + String(decoding: bytes, as: UTF8.self)
        case .wordPiece: return (wordInitial ? "" : "##") + String(decoding: bytes, as: UTF8.self)
        case .plain: return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// GPT-2 `bytes_to_unicode` (the byte-level alphabet), kept local to this module.
enum ByteLevel {
    static let byteToScalar: [UInt32] = {
        var b2s = [UInt32](repeating: 0, count: 256)
        var used = [Bool](repeating: false, count: 256)
        for b in 0..<256 where (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
            b2s[b] = UInt32(b); used[b] = true
        }
        var n: UInt32 = 0
        for b in 0..<256 where !used[b] { b2s[b] = 256 &+ n; n &+= 1 }
        return b2s
    }()
    static let scalarToByte: [Int16] = {
        var s2b = [Int16](repeating: -1, count: 324)
        for b in 0..<256 { s2b[Int(byteToScalar[b])] = Int16(b) }
        return s2b
    }()
    static func byte(for u: Unicode.Scalar) -> UInt8? {
        let v = Int(u.value)
        guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
        return UInt8(scalarToByte[v])
    }
    static func encode(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }
}
