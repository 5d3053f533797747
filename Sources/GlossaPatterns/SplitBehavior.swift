import GlossaUnicode

/// What happens to the delimiters (the matches) when HF splits a string
/// (`SplitDelimiterBehavior` in tokenizers/src/tokenizer/normalizer.rs).
public enum SplitBehavior: String, Sendable, CaseIterable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    /// Parses the tokenizer.json spelling (`"Removed"`, `"Isolated"`, `"MergedWithPrevious"`,
    /// `"MergedWithNext"`, `"Contiguous"`).
    public init?(json: String) {
        switch json {
        case "Removed": self = .removed
        case "Isolated": self = .isolated
        case "MergedWithPrevious": self = .mergedWithPrevious
        case "MergedWithNext": self = .mergedWithNext
        case "Contiguous": self = .contiguous
        default: return nil
        }
    }

    /// The tokenizer.json spelling.
    public var json: String {
        switch self {
        case .removed: return "Removed"
        case .isolated: return "Isolated"
        case .mergedWithPrevious: return "MergedWithPrevious"
        case .mergedWithNext: return "MergedWithNext"
        case .contiguous: return "Contiguous"
        }
    }
}

/// Turns a stream of matches over a string of `length` bytes into HF's pieces.
///
/// Mirrors `NormalizedString::split` + `Pattern::find_matches` + `Invert`: the string is cut
/// into alternating unmatched / matched segments (an empty match is a segment of its own), the
/// flags are inverted when `invert`, the behavior folds the segments, and, as in
/// `PreTokenizedString::split`, empty pieces are dropped.
public struct SplitAccumulator {
    public let length: Int
    public let behavior: SplitBehavior
    public let invert: Bool
    private var prev = 0
    private var previousMatch = false
    /// For `mergedWithNext`, the raw segments (folded from the right at the end).
    private var segments: [(Int, Int, Bool)] = []
    public private(set) var pieces: [Range<Int>] = []

    public init(length: Int, behavior: SplitBehavior, invert: Bool = false) {
        self.length = length
        self.behavior = behavior
        self.invert = invert
    }

    /// Adds the next match (in order, non-overlapping).
    public mutating func addMatch(_ start: Int, _ end: Int) {
        if prev != start { segment(prev, start, false) }
        segment(start, end, true)
        prev = end
    }

    /// Finishes and returns the pieces.
    public mutating func finish() -> [Range<Int>] {
        if length == 0 { return [] }
        if prev != length { segment(prev, length, false) }
        prev = length
        if behavior == .mergedWithNext {
            var acc: [(Int, Int)] = []
            var previous = false
            for (s, e, m) in segments.reversed() {
                if m && !previous, !acc.isEmpty {
                    acc[acc.count - 1].0 = s
                } else {
                    acc.append((s, e))
                }
                previous = m
            }
            pieces = acc.reversed().compactMap { $0.0 < $0.1 ? $0.0..<$0.1 : nil }
            segments = []
        } else {
            pieces.removeAll { $0.isEmpty }
        }
        return pieces
    }

    private mutating func segment(_ s: Int, _ e: Int, _ matched: Bool) {
        let m = matched != invert
        switch behavior {
        case .isolated:
            pieces.append(s..<e)
        case .removed:
            if !m { pieces.append(s..<e) }
        case .contiguous:
            if m == previousMatch, let last = pieces.last {
                pieces[pieces.count - 1] = last.lowerBound..<e
            } else {
                pieces.append(s..<e)
            }
            previousMatch = m
        case .mergedWithPrevious:
            if m && !previousMatch, let last = pieces.last {
                pieces[pieces.count - 1] = last.lowerBound..<e
            } else {
                pieces.append(s..<e)
            }
            previousMatch = m
        case .mergedWithNext:
            segments.append((s, e, m))
        }
    }
}

extension PatternSplitter {
    /// HF `Split` pre-tokenizer on one piece: the pieces (byte ranges of `bytes`).
    public func split(_ bytes: UnsafeBufferPointer<UInt8>, behavior: SplitBehavior,
                      invert: Bool = false) -> [Range<Int>] {
        var acc = SplitAccumulator(length: bytes.count, behavior: behavior, invert: invert)
        forEachMatch(in: bytes) { acc.addMatch($0, $1) }
        return acc.finish()
    }

    /// HF `Split` pre-tokenizer on a string: byte ranges into its UTF-8 form.
    public func split(_ text: String, behavior: SplitBehavior, invert: Bool = false) -> [Range<Int>] {
        var s = text
        return s.withUTF8 { split($0, behavior: behavior, invert: invert) }
    }
}
