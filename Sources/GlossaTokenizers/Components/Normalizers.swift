import GlossaUnicode
import GlossaPatterns

/// A compiled normalizer: the configuration's steps over `NormalizedText`, which keeps
/// every byte aligned to the input so offsets survive normalization.
struct TextNormalizer: Sendable {
    enum Step: Sendable {
        case form(NormalizationForm)
        case lowercase
        case strip(Bool, Bool)
        case stripAccents
        case replaceLiteral(String, String)
        case replaceRegex(PatternSplitter, String)
        case prepend(String)
        case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool?, lowercase: Bool)
        case nmt
    }
    let steps: [Step]

    init(_ config: NormalizerConfig) throws(TokenizerError) {
        var steps: [Step] = []
        try Self.compile(config, into: &steps)
        self.steps = steps
    }

    static func compile(_ c: NormalizerConfig, into steps: inout [Step]) throws(TokenizerError) {
        switch c {
        case .nfc: steps.append(.form(.nfc))
        case .nfd: steps.append(.form(.nfd))
        case .nfkc: steps.append(.form(.nfkc))
        case .nfkd: steps.append(.form(.nfkd))
        case .lowercase: steps.append(.lowercase)
        case let .strip(l, r): steps.append(.strip(l, r))
        case .stripAccents: steps.append(.stripAccents)
        case let .replace(.string(s), content): steps.append(.replaceLiteral(s, content))
        case let .replace(.regex(r), content):
            do { steps.append(.replaceRegex(try PatternSplitter(regex: r), content)) } catch {
                throw .malformed(file: nil, field: "normalizer.pattern.Regex", reason: error.description)
            }
        case .prepend(let s): steps.append(.prepend(s))
        case let .bert(a, b, c, d): steps.append(.bert(cleanText: a, handleChineseChars: b, stripAccents: c, lowercase: d))
        case .nmt: steps.append(.nmt)
        case .precompiled(let map):
            if !map.isEmpty {
                throw .unsupported(file: nil, component: "normalizer Precompiled",
                                   detail: "a non-empty SentencePiece precompiled_charsmap (\(map.count) bytes) is not implemented")
            }
        case .byteLevel:
            break   // The byte-level model consumes raw bytes; the alphabet mapping is implicit.
        case .sequence(let list): for n in list { try compile(n, into: &steps) }
        }
    }

    func normalize(_ t: inout NormalizedText) throws(TokenizerError) {
        for s in steps {
            switch s {
            case .form(let f): t.normalize(f)
            case .lowercase: t.lowercase()
            case let .strip(l, r): t.strip(left: l, right: r)
            case .stripAccents: t.stripAccents()
            case let .replaceLiteral(p, c): t.replace(p, with: c)
            case let .replaceRegex(re, c): t.replace(matching: { re.matches(in: $0) }, with: c)
            case .prepend(let p): if !t.isEmpty { t.prepend(p) }
            case let .bert(a, b, c, d): t.bertNormalize(cleanText: a, handleChineseChars: b, stripAccents: c, lowercase: d)
            case .nmt: t.nmt()
            }
        }
    }
}
