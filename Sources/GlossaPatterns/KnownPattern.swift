/// The pre-tokenization regexes that have hand-written scanners.
public enum KnownPattern: String, Sendable, CaseIterable {
    /// GPT-2 / r50k / p50k (also HF ByteLevel's built-in regex). The tiktoken possessive
    /// form gives identical splits and maps here too.
    case gpt2
    /// cl100k_base, classic form (HF files, Llama-3 / Llama-3.2).
    case cl100k
    /// cl100k_base as written in tiktoken 0.14 (possessive, with `\s++$`). Differs from the
    /// classic form only at the end of the input: a final whitespace run that contains `\r`/`\n`
    /// followed by more whitespace is one piece here (`"\n  "`), two in the classic form.
    case cl100kPossessive
    /// o200k_base (tiktoken 0.14).
    case o200k
    /// Qwen2: the classic cl100k form with single `\p{N}` digits.
    case qwen
    /// `\w+|[^\w\s]+` as an HF `Split` regex (Oniguruma's `\w`). HF's `Whitespace`
    /// pre-tokenizer uses the Rust regex crate instead: see `CharSplitters.whitespace`.
    case whitespace

    /// The canonical pattern string (exactly as found in tokenizer.json / tiktoken).
    public var regex: String {
        switch self {
        case .gpt2: return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .cl100k:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .cl100kPossessive:
            return #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#
        case .o200k:
            return #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .whitespace: return #"\w+|[^\w\s]+"#
        }
    }

    /// Other spellings with the same splits.
    public var aliases: [String] {
        switch self {
        case .gpt2: return [#"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"#]
        case .cl100kPossessive: return [onigurumaSpelling]
        default: return []
        }
    }

    /// The pattern as Oniguruma (HF tokenizers) must read it to split like the reference engine.
    /// In Oniguruma's Ruby syntax `{1,3}+` is not possessive but "repeat the group": `\p{N}{1,3}+`
    /// would swallow whole digit runs, so tokenizer.json files get `\p{N}{1,3}` (equivalent here, as
    /// nothing follows it in its alternative).
    public var onigurumaSpelling: String {
        switch self {
        case .cl100kPossessive:
            return #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#
        default: return regex
        }
    }

    /// Recognizes a pattern string (exact match against `regex` and `aliases`).
    public init?(regex: String) {
        for k in KnownPattern.allCases where k.regex == regex || k.aliases.contains(regex) {
            self = k
            return
        }
        return nil
    }

    /// An ICU pattern with the reference engines' semantics, for cross-checking the scanners.
    /// Only `.whitespace` differs from `regex`: ICU's `\w` adds U+200C/U+200D, and Oniguruma's
    /// `\w` holds U+00B2, U+00B3, U+00B9, U+00BC..U+00BE outside brackets but not inside.
    public var icuEquivalent: String {
        switch self {
        case .whitespace:
            let w = #"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}"#
            return "[\(w)" + #"\u00B2\u00B3\u00B9\u00BC-\u00BE]+|[^"# + w + #"\s]+"#
        default: return regex
        }
    }
}
