import GlossaFormats
// Decoders: token strings -> text, mirroring Hugging Face `tokenizers` 0.23
// (`decoders/*.rs`, the ByteLevel/Metaspace decoders in `pre_tokenizers/` and the Replace
// decoder in `normalizers/replace.rs`). Each step maps a list of token strings to a new
// list (`decodeChain`); `decode` runs the chain and concatenates the result.

/// Finds the matches of a compiled regular expression in a string, as UTF-8 byte ranges,
/// non-overlapping and left to right (what `Regex.find_iter` gives in HF).
public typealias RegexMatchFinder = @Sendable (_ text: String) -> [Range<Int>]

/// Compiles a `{"Regex": ...}` pattern (Oniguruma syntax in HF) into a match finder.
/// Throws `TokenizerError.unsupported` for patterns it cannot handle.
public typealias RegexCompiler = @Sendable (_ pattern: String) throws(TokenizerError) -> RegexMatchFinder

public struct TokenDecoder: Sendable {
    indirect enum Step: Sendable {
        case byteLevel
        case metaspace(replacement: Unicode.Scalar, dropInFirst: Bool)
        case wordPiece(prefix: String, cleanup: Bool)
        case bpe(suffix: String)
        case byteFallback
        case fuse
        case strip(content: Unicode.Scalar, start: Int, stop: Int)
        case replace(finder: RegexMatchFinder, content: String)
        case ctc(padToken: String, wordDelimiterToken: String, cleanup: Bool)
        case sequence([Step])
    }

    let step: Step

    /// Builds a decoder. A `Replace` decoder with a `{"Regex": ...}` pattern needs `regexCompiler`;
    /// without one it throws `TokenizerError.unsupported`.
    public init(_ config: DecoderConfig, regexCompiler: RegexCompiler? = nil) throws(TokenizerError) {
        step = try Self.build(config, regexCompiler)
    }

    static func build(_ config: DecoderConfig, _ compiler: RegexCompiler?) throws(TokenizerError) -> Step {
        switch config {
        case .byteLevel: return .byteLevel
        case let .metaspace(replacement, scheme, _):
            let r = try singleScalar(replacement, field: "replacement", component: "Metaspace decoder")
            return .metaspace(replacement: r, dropInFirst: scheme != .never)
        case let .wordPiece(prefix, cleanup): return .wordPiece(prefix: prefix, cleanup: cleanup)
        case let .bpe(suffix): return .bpe(suffix: suffix)
        case .byteFallback: return .byteFallback
        case .fuse: return .fuse
        case let .strip(content, start, stop):
            let c = try singleScalar(content, field: "content", component: "Strip decoder")
            guard start >= 0, stop >= 0 else {
                throw .malformed(file: nil, field: "decoder.start/stop", reason: "Strip decoder counts must not be negative")
            }
            return .strip(content: c, start: start, stop: stop)
        case let .replace(pattern, content):
            switch pattern {
            case let .string(s):
                return .replace(finder: literalMatchFinder(s), content: content)
            case let .regex(r):
                guard let compiler else {
                    throw .unsupported(file: nil, component: "Replace decoder",
                                       detail: "Regex pattern \(r) needs a regex compiler (pass regexCompiler:)")
                }
                return .replace(finder: try compiler(r), content: content)
            }
        case let .ctc(pad, delim, cleanup): return .ctc(padToken: pad, wordDelimiterToken: delim, cleanup: cleanup)
        case let .sequence(list):
            var steps = [Step]()
            for c in list { steps.append(try build(c, compiler)) }
            return .sequence(steps)
        }
    }

    /// HF stores these fields as a Rust `char`: exactly one Unicode scalar.
    static func singleScalar(_ s: String, field: String, component: String) throws(TokenizerError) -> Unicode.Scalar {
        var it = s.unicodeScalars.makeIterator()
        guard let c = it.next(), it.next() == nil else {
            throw .malformed(file: nil, field: field, reason: "\(component) \(field) must be a single character, got \"\(s)\"")
        }
        return c
    }

    /// Runs every step; the result is the list HF's `decode_chain` returns.
    public func decodeChain(_ tokens: [String]) -> [String] {
        Self.run(step, tokens)
    }

    /// `decode_chain` then concatenation (HF `Decoder::decode`).
    public func decode(_ tokens: [String]) -> String {
        decodeChain(tokens).joined()
    }

    static func run(_ step: Step, _ tokens: [String]) -> [String] {
        switch step {
        case .byteLevel:
            return [byteLevelDecode(tokens)]
        case let .metaspace(replacement, dropInFirst):
            return tokens.enumerated().map { i, token in
                var out = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c == replacement {
                        if !(i == 0 && dropInFirst) { out.append(" ") }
                    } else {
                        out.append(c)
                    }
                }
                return String(out)
            }
        case let .wordPiece(prefix, cleanup):
            return tokens.enumerated().map { i, token in
                var t = token
                if i != 0 {
                    if t.utf8.starts(with: prefix.utf8) {
                        t = String(decoding: t.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                    } else {
                        t = " " + t
                    }
                }
                return cleanup ? wordPieceCleanup(t) : t
            }
        case let .bpe(suffix):
            let last = tokens.count - 1
            return tokens.enumerated().map { i, token in
                replaceAll(token, suffix, with: i == last ? "" : " ")
            }
        case .byteFallback:
            return byteFallback(tokens)
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { strip($0, content, start, stop) }
        case let .replace(finder, content):
            return tokens.map { token in
                let bytes = Array(token.utf8)
                var out = [UInt8]()
                out.reserveCapacity(bytes.count)
                var pos = 0
                for m in finder(token) {
                    out.append(contentsOf: bytes[pos..<m.lowerBound])
                    out.append(contentsOf: content.utf8)
                    pos = m.upperBound
                }
                out.append(contentsOf: bytes[pos...])
                return String(decoding: out, as: UTF8.self)
            }
        case let .ctc(pad, delim, cleanup):
            var out = [String]()
            var previous: String?
            for token in tokens {
                // `dedup`: consecutive equal tokens collapse before anything else.
                if let previous, previous == token { continue }
                previous = token
                var t = replaceAll(token, pad, with: "")
                if cleanup { t = replaceAll(wordPieceCleanup(t), delim, with: " ") }
                if !t.isEmpty { out.append(t) }
            }
            return out
        case let .sequence(steps):
            var t = tokens
            for s in steps { t = run(s, t) }
            return t
        }
    }

    // MARK: ByteLevel

    static func byteLevelDecode(_ tokens: [String]) -> String {
        var bytes = [UInt8]()
        for token in tokens { appendByteLevel(token, to: &bytes) }
        return RustUTF8.decode(bytes)
    }

    /// A byte-level token's raw bytes; HF keeps a token with a character outside the alphabet
    /// as its own UTF-8.
    static func appendByteLevel(_ token: String, to bytes: inout [UInt8]) {
        var t = token
        let raw = t.withUTF8 { ByteLevelAlphabet.gpt2.decode(utf8: $0) }
        if let raw { bytes.append(contentsOf: raw) } else { bytes.append(contentsOf: token.utf8) }
    }

    // MARK: ByteFallback

    /// `<0xXX>` as HF parses it: six bytes, `<0x` … `>`, two chars read by `u8::from_str_radix(_, 16)`
    /// (which also accepts a leading `+`).
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
        if u[3] == 0x2B { return hex(u[4]) }
        guard let h = hex(u[3]), let l = hex(u[4]) else { return nil }
        return h << 4 | l
    }

    static func byteFallback(_ tokens: [String]) -> [String] {
        var out = [String]()
        var run = [UInt8]()
        func flush() {
            guard !run.isEmpty else { return }
            if let s = RustUTF8.strict(run) {
                out.append(s)
            } else {
                for _ in run { out.append("\u{FFFD}") }
            }
            run.removeAll(keepingCapacity: true)
        }
        for token in tokens {
            if let b = fallbackByte(token) {
                run.append(b)
            } else {
                flush()
                out.append(token)
            }
        }
        flush()
        return out
    }

    // MARK: Strip

    static func strip(_ token: String, _ content: Unicode.Scalar, _ start: Int, _ stop: Int) -> String {
        let chars = Array(token.unicodeScalars)
        var startCut = 0
        for i in 0..<min(start, chars.count) {
            if chars[i] == content { startCut = i + 1 } else { break }
        }
        var stopCut = chars.count
        for i in 0..<min(stop, chars.count) {
            let index = chars.count - i - 1
            if chars[index] == content { stopCut = index } else { break }
        }
        // HF panics (slice start > end) when both ends strip the same characters; we return "".
        if stopCut < startCut { return "" }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: chars[startCut..<stopCut])
        return String(v)
    }

    // MARK: Text helpers

    /// HF `wordpiece::cleanup`, applied in this order.
    static func wordPieceCleanup(_ s: String) -> String {
        var t = s
        for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                       (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            t = replaceAll(t, a, with: b)
        }
        return t
    }

    /// Rust `str::replace`: non-overlapping, left to right; an empty pattern matches at every
    /// character boundary (including both ends).
    static func replaceAll(_ s: String, _ pattern: String, with replacement: String) -> String {
        let bytes = Array(s.utf8)
        let ranges = literalMatches(bytes, Array(pattern.utf8))
        if ranges.isEmpty { return s }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var pos = 0
        for r in ranges {
            out.append(contentsOf: bytes[pos..<r.lowerBound])
            out.append(contentsOf: replacement.utf8)
            pos = r.upperBound
        }
        out.append(contentsOf: bytes[pos...])
        return String(decoding: out, as: UTF8.self)
    }

    static func literalMatches(_ hay: [UInt8], _ needle: [UInt8]) -> [Range<Int>] {
        var out = [Range<Int>]()
        if needle.isEmpty {
            for i in 0...hay.count where i == hay.count || hay[i] & 0xC0 != 0x80 { out.append(i..<i) }
            return out
        }
        guard hay.count >= needle.count else { return out }
        var i = 0
        let first = needle[0]
        while i + needle.count <= hay.count {
            if hay[i] == first, hay[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(i..<(i + needle.count))
                i += needle.count
            } else {
                i += 1
            }
        }
        return out
    }

    static func literalMatchFinder(_ pattern: String) -> RegexMatchFinder {
        let needle = Array(pattern.utf8)
        return { text in literalMatches(Array(text.utf8), needle) }
    }
}

/// UTF-8 decoding with Rust's semantics.
enum RustUTF8 {
    /// Length of the valid sequence starting at `i`, or the length of the maximal invalid prefix
    /// as a negative number (Rust `Utf8Chunks`: one U+FFFD per such prefix). `complete` is false
    /// when the prefix is invalid only because the input ended.
    static func scan(_ b: [UInt8], _ i: Int) -> (length: Int, valid: Bool, truncated: Bool) {
        let c = b[i]
        if c < 0x80 { return (1, true, false) }
        let width: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: width = 2
        case 0xE0: width = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: width = 3
        case 0xED: width = 3; hi = 0x9F
        case 0xF0: width = 4; lo = 0x90
        case 0xF1...0xF3: width = 4
        case 0xF4: width = 4; hi = 0x8F
        default: return (1, false, false)
        }
        var k = 1
        while k < width {
            if i + k >= b.count { return (k, false, true) }
            let x = b[i + k]
            let ok = k == 1 ? (x >= lo && x <= hi) : (x & 0xC0 == 0x80)
            if !ok { return (k, false, false) }
            k += 1
        }
        return (width, true, false)
    }

    /// Rust `String::from_utf8_lossy`.
    static func decode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let r = scan(bytes, i)
            if r.valid {
                out.append(contentsOf: bytes[i..<(i + r.length)])
            } else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            }
            i += r.length
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Rust `String::from_utf8`: nil unless every byte is part of a valid sequence.
    static func strict(_ bytes: [UInt8]) -> String? {
        var i = 0
        while i < bytes.count {
            let r = scan(bytes, i)
            if !r.valid { return nil }
            i += r.length
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
