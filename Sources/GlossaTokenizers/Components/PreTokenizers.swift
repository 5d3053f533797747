import GlossaUnicode
import GlossaPatterns

/// A compiled pre-tokenizer: a flat list of steps (Sequence flattened), each splitting every
/// current piece. Steps that only split work on byte ranges of the input (the fast path);
/// Metaspace and ByteLevel's prefix space rewrite text and need `NormalizedText`.
struct PreTokenizerPipeline: Sendable {
    enum Step: Sendable {
        case pattern(PatternSplitter, SplitBehavior, invert: Bool)
        case literal([UInt8], SplitBehavior, invert: Bool)
        case whitespace
        case whitespaceSplit
        case bert
        case punctuation(SplitBehavior)
        case digits(individual: Bool)
        case charDelimiter(Unicode.Scalar)
        case byteLevel(addPrefixSpace: Bool, regex: PatternSplitter?)
        case metaspace(replacement: String, scheme: PrependScheme, split: Bool)
    }
    let steps: [Step]
    /// True when every step only splits (no text rewriting).
    let isPureSplitter: Bool
    /// Whether the model should see raw bytes (a ByteLevel step is present).
    let isByteLevel: Bool

    init(_ config: PreTokenizerConfig?) throws(TokenizerError) {
        var steps: [Step] = []
        var byteLevel = false
        if let config { try Self.compile(config, into: &steps, byteLevel: &byteLevel) }
        // ByteLevel without regex or prefix space only maps bytes to the alphabet, which the
        // byte-level model does implicitly: drop it.
        steps.removeAll { if case .byteLevel(false, nil) = $0 { return true }; return false }
        self.steps = steps
        isByteLevel = byteLevel
        isPureSplitter = steps.allSatisfy {
            switch $0 {
            case .metaspace: return false
            case .byteLevel(let prefix, _): return !prefix
            default: return true
            }
        }
    }

    static func compile(_ c: PreTokenizerConfig, into steps: inout [Step], byteLevel: inout Bool) throws(TokenizerError) {
        switch c {
        case let .byteLevel(prefix, _, useRegex):
            byteLevel = true
            steps.append(.byteLevel(addPrefixSpace: prefix, regex: useRegex ? PatternSplitter(.gpt2) : nil))
        case let .split(.regex(r), behavior, invert):
            do { steps.append(.pattern(try PatternSplitter(regex: r), behavior, invert: invert)) } catch {
                throw .malformed(file: nil, field: "pre_tokenizer.pattern.Regex", reason: error.description)
            }
        case let .split(.string(s), behavior, invert): steps.append(.literal(Array(s.utf8), behavior, invert: invert))
        case .whitespace: steps.append(.whitespace)
        case .whitespaceSplit: steps.append(.whitespaceSplit)
        case .bert: steps.append(.bert)
        case .punctuation(let b): steps.append(.punctuation(b))
        case .digits(let d): steps.append(.digits(individual: d))
        case .charDelimiterSplit(let s):
            guard s.unicodeScalars.count == 1, let u = s.unicodeScalars.first else {
                throw .malformed(file: nil, field: "pre_tokenizer.delimiter", reason: "must be one character, got \"\(s)\"")
            }
            steps.append(.charDelimiter(u))
        case let .metaspace(rep, scheme, split):
            guard rep.unicodeScalars.count == 1 else {
                throw .malformed(file: nil, field: "pre_tokenizer.replacement", reason: "must be one character, got \"\(rep)\"")
            }
            steps.append(.metaspace(replacement: rep, scheme: scheme, split: split))
        case .sequence(let list): for p in list { try compile(p, into: &steps, byteLevel: &byteLevel) }
        }
    }

    /// The pieces one splitting step makes of `b` (byte ranges of `b`, empty pieces dropped).
    func ranges(_ step: Step, _ b: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        switch step {
        case let .pattern(p, behavior, invert): return p.split(b, behavior: behavior, invert: invert)
        case let .literal(lit, behavior, invert):
            var acc = SplitAccumulator(length: b.count, behavior: behavior, invert: invert)
            Self.forEachLiteral(lit, in: b) { acc.addMatch($0, $1) }
            return acc.finish()
        case .whitespace: return CharSplitters.whitespace(b)
        case .whitespaceSplit: return CharSplitters.whitespaceSplit(b)
        case .bert: return CharSplitters.bert(b)
        case .punctuation(let behavior): return CharSplitters.punctuation(b, behavior: behavior)
        case .digits(let d): return CharSplitters.digits(b, individualDigits: d)
        case .charDelimiter(let c): return CharSplitters.charDelimiter(b, delimiter: c)
        case .byteLevel(_, let re):
            guard let re else { return b.isEmpty ? [] : [0..<b.count] }
            return re.split(b, behavior: .isolated)
        case .metaspace: preconditionFailure("Metaspace rewrites text; handled in apply(_:)")
        }
    }

    /// Non-overlapping occurrences of a literal, left to right (HF `Pattern for &str`).
    static func forEachLiteral(_ lit: [UInt8], in b: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        let m = lit.count, n = b.count
        if m == 0 || m > n { return }
        var i = 0
        while i &+ m <= n {
            var j = 0
            while j < m && b[i &+ j] == lit[j] { j &+= 1 }
            if j == m { body(i, i &+ m); i &+= m } else { i &+= 1 }
        }
    }

    /// Fast path over `text[start..<end]`: calls `body` with absolute (start, end) of each pre-token.
    func forEachRange(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                      _ body: (Int, Int) -> Void) {
        if steps.isEmpty { body(start, end); return }
        let piece = UnsafeBufferPointer(rebasing: text[start..<end])
        if steps.count == 1 {
            switch steps[0] {
            case .pattern(let p, .isolated, false), .byteLevel(false, let p?):
                // The common byte-level case: every match and every gap between matches is a piece.
                var prev = 0
                p.forEachMatch(in: piece) { s, e in
                    if prev < s { body(start &+ prev, start &+ s) }
                    if s < e { body(start &+ s, start &+ e) }
                    prev = e
                }
                if prev < piece.count { body(start &+ prev, end) }
                return
            default:
                for r in ranges(steps[0], piece) { body(start &+ r.lowerBound, start &+ r.upperBound) }
                return
            }
        }
        var current = [start..<end]
        for step in steps {
            var next = [Range<Int>]()
            for r in current {
                for s in ranges(step, UnsafeBufferPointer(rebasing: text[r])) {
                    next.append((r.lowerBound &+ s.lowerBound)..<(r.lowerBound &+ s.upperBound))
                }
            }
            current = next
        }
        for r in current { body(r.lowerBound, r.upperBound) }
    }

    /// General path: splits a normalized piece into normalized pre-tokens.
    func apply(_ t: NormalizedText) -> [NormalizedText] {
        var pieces = [t]
        for step in steps {
            var next = [NormalizedText]()
            for p in pieces {
                switch step {
                case let .byteLevel(prefix, re):
                    var q = p
                    if prefix && q.normalized.first != 0x20 { q.prepend(" ") }
                    if let re { Self.slice(q, q.normalized.withUnsafeBufferPointer { re.split($0, behavior: .isolated) }, into: &next) }
                    else if !q.isEmpty { next.append(q) }
                case let .metaspace(rep, scheme, split):
                    var q = p
                    q.replace(" ", with: rep)
                    let repBytes = Array(rep.utf8)
                    let starts = q.normalized.starts(with: repBytes)
                    switch scheme {
                    case .always: if !starts { q.prepend(rep) }
                    case .first: if !starts && q.originalShift == 0 { q.prepend(rep) }
                    case .never: break
                    }
                    if split {
                        let r = q.normalized.withUnsafeBufferPointer { b in
                            var acc = SplitAccumulator(length: b.count, behavior: .mergedWithNext)
                            Self.forEachLiteral(repBytes, in: b) { acc.addMatch($0, $1) }
                            return acc.finish()
                        }
                        Self.slice(q, r, into: &next)
                    } else if !q.isEmpty {
                        next.append(q)
                    }
                default:
                    let r = p.normalized.withUnsafeBufferPointer { ranges(step, $0) }
                    Self.slice(p, r, into: &next)
                }
            }
            pieces = next
        }
        return pieces.filter { !$0.isEmpty }
    }

    static func slice(_ t: NormalizedText, _ ranges: [Range<Int>], into out: inout [NormalizedText]) {
        for r in ranges where !r.isEmpty {
            if let s = t.slice(normalizedRange: r) { out.append(s) }
        }
    }
}
