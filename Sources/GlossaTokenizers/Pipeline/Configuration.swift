// The tokenizer pipeline as plain data, mirroring the component types of Hugging Face
// `tokenizer.json`. Reading and writing that file maps JSON <-> these values one to one,
// so a loaded file round-trips; behaviour lives in the types that consume them.

import GlossaPatterns

/// `{"String": s}` or `{"Regex": r}` in tokenizer.json.
public enum Pattern: Sendable, Equatable, Hashable {
    case string(String)
    case regex(String)
}

/// How a split pattern's matches are kept (HF `SplitDelimiterBehavior`).
public typealias SplitBehavior = GlossaPatterns.SplitBehavior

public enum PrependScheme: String, Sendable, Equatable, Hashable {
    case first, never, always
}

public indirect enum NormalizerConfig: Sendable, Equatable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case strip(left: Bool, right: Bool)
    case stripAccents
    case replace(pattern: Pattern, content: String)
    case prepend(String)
    case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool?, lowercase: Bool)
    case nmt
    /// SentencePiece's compiled character map (raw bytes of `precompiled_charsmap`).
    case precompiled([UInt8])
    case byteLevel
    case sequence([NormalizerConfig])
}

public indirect enum PreTokenizerConfig: Sendable, Equatable {
    case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool)
    case split(pattern: Pattern, behavior: SplitBehavior, invert: Bool)
    case whitespace
    case whitespaceSplit
    case bert
    case metaspace(replacement: String, prependScheme: PrependScheme, split: Bool)
    case punctuation(behavior: SplitBehavior)
    case digits(individualDigits: Bool)
    case charDelimiterSplit(String)
    case sequence([PreTokenizerConfig])
}

/// One item of a TemplateProcessing template.
public enum TemplatePiece: Sendable, Equatable {
    case sequence(id: TemplateSequence, typeId: UInt32)
    case specialToken(id: String, typeId: UInt32)
}
public enum TemplateSequence: String, Sendable, Equatable { case a = "A", b = "B" }

/// A special token named in a template: one name may expand to several ids.
public struct TemplateSpecialToken: Sendable, Equatable {
    public var id: String
    public var ids: [Int32]
    public var tokens: [String]
    public init(id: String, ids: [Int32], tokens: [String]) { self.id = id; self.ids = ids; self.tokens = tokens }
}

public indirect enum PostProcessorConfig: Sendable, Equatable {
    case template(single: [TemplatePiece], pair: [TemplatePiece], specialTokens: [TemplateSpecialToken])
    case bert(sep: (String, Int32), cls: (String, Int32))
    case roberta(sep: (String, Int32), cls: (String, Int32), trimOffsets: Bool, addPrefixSpace: Bool)
    case byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool)
    case sequence([PostProcessorConfig])

    public static func == (l: Self, r: Self) -> Bool {
        switch (l, r) {
        case let (.template(a, b, c), .template(d, e, f)): return a == d && b == e && c == f
        case let (.bert(a, b), .bert(c, d)): return a == c && b == d
        case let (.roberta(a, b, c, d), .roberta(e, f, g, h)): return a == e && b == f && c == g && d == h
        case let (.byteLevel(a, b, c), .byteLevel(d, e, f)): return a == d && b == e && c == f
        case let (.sequence(a), .sequence(b)): return a == b
        default: return false
        }
    }
}

public indirect enum DecoderConfig: Sendable, Equatable {
    case byteLevel
    case metaspace(replacement: String, prependScheme: PrependScheme, split: Bool)
    case wordPiece(prefix: String, cleanup: Bool)
    case bpe(suffix: String)
    case byteFallback
    case fuse
    case strip(content: String, start: Int, stop: Int)
    case replace(pattern: Pattern, content: String)
    case ctc(padToken: String, wordDelimiterToken: String, cleanup: Bool)
    case sequence([DecoderConfig])
}

/// An entry of `added_tokens`.
public struct AddedToken: Sendable, Equatable, Hashable {
    public var id: Int32
    public var content: String
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var normalized: Bool
    public var special: Bool
    public init(id: Int32, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool? = nil, special: Bool = false) {
        self.id = id; self.content = content; self.singleWord = singleWord; self.lstrip = lstrip
        self.rstrip = rstrip; self.normalized = normalized ?? !special; self.special = special
    }
}

public enum TruncationStrategy: String, Sendable, Equatable { case longestFirst = "LongestFirst", onlyFirst = "OnlyFirst", onlySecond = "OnlySecond" }
public enum Direction: String, Sendable, Equatable { case left = "Left", right = "Right" }

public struct TruncationConfig: Sendable, Equatable {
    public var maxLength: Int
    public var strategy: TruncationStrategy
    public var stride: Int
    public var direction: Direction
    public init(maxLength: Int, strategy: TruncationStrategy = .longestFirst, stride: Int = 0, direction: Direction = .right) {
        self.maxLength = maxLength; self.strategy = strategy; self.stride = stride; self.direction = direction
    }
}

public enum PaddingStrategy: Sendable, Equatable { case batchLongest, fixed(Int) }

public struct PaddingConfig: Sendable, Equatable {
    public var strategy: PaddingStrategy
    public var direction: Direction
    public var padToMultipleOf: Int?
    public var padId: Int32
    public var padTypeId: UInt32
    public var padToken: String
    public init(strategy: PaddingStrategy, direction: Direction = .right, padToMultipleOf: Int? = nil,
                padId: Int32 = 0, padTypeId: UInt32 = 0, padToken: String = "[PAD]") {
        self.strategy = strategy; self.direction = direction; self.padToMultipleOf = padToMultipleOf
        self.padId = padId; self.padTypeId = padTypeId; self.padToken = padToken
    }
}
