// Tokenizer analytics: fertility (tokens per word), bytes and characters per token, parity against
// English on parallel text, byte-fallback / UNK rate, vocabulary use, and new-token use for extensions.

import Foundation
import GlossaFormats
import GlossaJSON
import GlossaTokenizers

/// Measurements of one tokenizer on one text.
public struct TextStatistics: Sendable, Equatable {
    public var lines = 0
    /// Whitespace-separated words; in Han, Hiragana and Katakana runs every character counts as a word.
    public var words = 0
    public var bytes = 0
    /// Unicode scalars.
    public var characters = 0
    public var tokens = 0
    /// Byte-fallback pieces (`<0xNN>`), unk, or (byte-level) tokens that are not whole UTF-8 characters.
    public var fallbackTokens = 0
    public var distinctIds = 0
    /// Tokens with ids at or past the base vocabulary of an extension.
    public var newTokens = 0
    public var distinctNewIds = 0
    /// Per-line token counts (for cross-checks).
    public var lineTokens: [Int] = []

    public var tokensPerWord: Double { words == 0 ? 0 : Double(tokens) / Double(words) }
    public var bytesPerToken: Double { tokens == 0 ? 0 : Double(bytes) / Double(tokens) }
    public var charactersPerToken: Double { tokens == 0 ? 0 : Double(characters) / Double(tokens) }
    public var fallbackRate: Double { tokens == 0 ? 0 : Double(fallbackTokens) / Double(tokens) }
    public var newTokenRate: Double { tokens == 0 ? 0 : Double(newTokens) / Double(tokens) }
}

/// A tokenizer under analysis.
public struct AnalyzedTokenizer: Sendable {
    public var label: String
    public var tokenizer: Tokenizer
    /// First new id of an extended tokenizer (from its extension manifest), or nil.
    public var baseVocabSize: Int?
    /// Per id: whether it is a fallback piece (see `TextStatistics.fallbackTokens`).
    let fallback: [Bool]

    public init(label: String, tokenizer: Tokenizer, baseVocabSize: Int? = nil) {
        self.label = label
        self.tokenizer = tokenizer
        self.baseVocabSize = baseVocabSize
        fallback = Self.fallbackTable(tokenizer)
    }

    public var vocabularySize: Int { tokenizer.vocabularySize }
    public var newVocabularySize: Int { baseVocabSize.map { max(0, vocabularySize - $0) } ?? 0 }

    /// Loads a tokenizer; a directory with an extension manifest is read as an extended tokenizer.
    public static func load(path: String, label: String? = nil, encoding: String? = nil) throws(VocabularyError) -> AnalyzedTokenizer {
        let t: Tokenizer
        do { t = try Tokenizer.load(path: path, encoding: encoding) } catch { throw .unreadable(path: path, reason: error.description) }
        var base: Int?
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            let dir = isDir.boolValue ? path : (path as NSString).deletingLastPathComponent
            base = ExtensionManifest.baseVocabSize(path: (dir.isEmpty ? "." : dir) + "/" + ExtensionOutput.manifestName)
        }
        let name = label ?? Self.defaultLabel(path)
        return AnalyzedTokenizer(label: name, tokenizer: t, baseVocabSize: base)
    }

    static func defaultLabel(_ path: String) -> String {
        let ns = path as NSString
        let last = ns.lastPathComponent
        if ["tokenizer.json", "encoder.json", "tokenizer.model", "vocab.bpe"].contains(last) {
            return (ns.deletingLastPathComponent as NSString).lastPathComponent
        }
        for suffix in [".tiktoken", ".json", ".model"] where last.hasSuffix(suffix) { return String(last.dropLast(suffix.count)) }
        return last
    }

    static func fallbackTable(_ t: Tokenizer) -> [Bool] {
        let n = t.vocabularySize
        var out = [Bool](repeating: false, count: n)
        guard case .bpe(let m) = t.model else {
            if case .wordPiece(let w) = t.model, let u = w.vocabulary.id(of: w.unkToken) { out[Int(u)] = true }
            return out
        }
        if let u = m.options.unkToken, let id = m.vocabulary.id(of: u) { out[Int(id)] = true }
        for i in 0..<m.vocabulary.count where m.vocabulary.contains(Int32(i)) {
            if m.byteLevel {
                if t.addedVocabulary.token(id: Int32(i)) != nil { continue }
                if let k = m.modelKey(Int32(i)), !UTF8Check.isComplete(k) { out[i] = true }
            } else if m.options.byteFallback, let s = m.vocabulary.token(Int32(i)), s.count == 6, s[0] == 0x3C, s[1] == 0x30, s[2] == 0x78, s[5] == 0x3E {
                out[i] = true
            }
        }
        return out
    }

    /// Measures `lines` (each encoded alone, no special tokens added).
    public func measure(_ lines: [[UInt8]], threads: Int? = nil) throws(VocabularyError) -> TextStatistics {
        var s = TextStatistics()
        let encoded: [[Int32]]
        do { encoded = try tokenizer.encodeIdsBatch(lines, specialTokens: .text, threads: threads) } catch {
            throw .invalidOption("\(label): \(error)")
        }
        var seen = [Bool](repeating: false, count: vocabularySize)
        let firstNew = baseVocabSize ?? Int.max
        s.lineTokens.reserveCapacity(lines.count)
        for (k, line) in lines.enumerated() {
            let ids = encoded[k]
            s.lines += 1
            s.bytes += line.count
            let (w, c) = WordCount.count(line)
            s.words += w
            s.characters += c
            s.tokens += ids.count
            s.lineTokens.append(ids.count)
            for id in ids {
                let i = Int(id)
                if i < fallback.count && fallback[i] { s.fallbackTokens += 1 }
                if i >= firstNew { s.newTokens += 1 }
                if i < seen.count && !seen[i] {
                    seen[i] = true
                    s.distinctIds += 1
                    if i >= firstNew { s.distinctNewIds += 1 }
                }
            }
        }
        return s
    }
}

enum UTF8Check {
    /// Whether `k` is a sequence of complete, valid UTF-8 characters.
    static func isComplete(_ k: [UInt8]) -> Bool {
        var i = 0
        while i < k.count {
            let b = k[i]
            let len: Int
            if b < 0x80 { len = 1 } else if b >= 0xC2 && b < 0xE0 { len = 2 } else if b >= 0xE0 && b < 0xF0 { len = 3 }
            else if b >= 0xF0 && b < 0xF5 { len = 4 } else { return false }
            if i + len > k.count { return false }
            for j in 1..<len where k[i + j] & 0xC0 != 0x80 { return false }
            i += len
        }
        return true
    }
}

/// Word and character counts of a line.
public enum WordCount {
    /// Han (incl. extensions and compatibility ideographs), Hiragana, Katakana: one word per character.
    @inline(__always) static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x3134F).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x3040...0x30FF).contains(v) || (0x31F0...0x31FF).contains(v)
            || (0xFF66...0xFF9F).contains(v)
    }

    /// (words, characters) of UTF-8 `line`.
    public static func count(_ line: [UInt8]) -> (Int, Int) {
        var words = 0, chars = 0
        var inWord = false
        for sc in String(decoding: line, as: UTF8.self).unicodeScalars {
            chars += 1
            let v = sc.value
            if sc.properties.isWhitespace {
                inWord = false
            } else if isCJK(v) {
                words += 1
                inWord = false
            } else if !inWord {
                words += 1
                inWord = true
            }
        }
        return (words, chars)
    }
}

/// One row of a report: a text (language) measured by one tokenizer.
public struct StatisticsRow: Sendable {
    public var text: String
    public var tokenizer: String
    public var statistics: TextStatistics
    /// Tokens here / tokens of the English reference for the same lines (parallel text only).
    public var parity: Double?
    public var vocabularySize: Int
    public var newVocabularySize: Int
    public var vocabularyUsed: Double { vocabularySize == 0 ? 0 : Double(statistics.distinctIds) / Double(vocabularySize) }
}

public enum StatisticsReport {
    /// Measures every text with every tokenizer. `reference` names the English text for parity.
    public static func run(tokenizers: [AnalyzedTokenizer], texts: [(name: String, lines: [[UInt8]])], reference: String?,
                           progress: ((String) -> Void)? = nil) throws(VocabularyError) -> [StatisticsRow] {
        var rows: [StatisticsRow] = []
        for t in tokenizers {
            var refTokens: Int?
            if let reference, let ref = texts.first(where: { $0.name == reference }) {
                refTokens = try t.measure(ref.lines).tokens
            }
            for text in texts {
                progress?("\(t.label): \(text.name)")
                let s = try t.measure(text.lines)
                let parity = refTokens.flatMap { $0 > 0 ? Double(s.tokens) / Double($0) : nil }
                rows.append(StatisticsRow(text: text.name, tokenizer: t.label, statistics: s, parity: parity,
                                          vocabularySize: t.vocabularySize, newVocabularySize: t.newVocabularySize))
            }
        }
        return rows
    }

    static func f(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }

    /// A plain-text table, one line per (text, tokenizer).
    public static func table(_ rows: [StatisticsRow]) -> String {
        let hasParity = rows.contains { $0.parity != nil }
        let hasNew = rows.contains { $0.newVocabularySize > 0 }
        var header = ["text", "tokenizer", "lines", "words", "tokens", "tok/word", "bytes/tok", "chars/tok"]
        if hasParity { header.append("parity") }
        header += ["fallback%", "vocab used%"]
        if hasNew { header += ["new tok%", "new used"] }
        var body: [[String]] = []
        for r in rows {
            let s = r.statistics
            var c = [r.text, r.tokenizer, "\(s.lines)", "\(s.words)", "\(s.tokens)", f(s.tokensPerWord), f(s.bytesPerToken), f(s.charactersPerToken)]
            if hasParity { c.append(r.parity.map { f($0) } ?? "-") }
            c += [f(100 * s.fallbackRate, 1), f(100 * r.vocabularyUsed, 1)]
            if hasNew { c += r.newVocabularySize > 0 ? [f(100 * s.newTokenRate, 1), "\(s.distinctNewIds)/\(r.newVocabularySize)"] : ["-", "-"] }
            body.append(c)
        }
        var width = header.map(\.count)
        for c in body { for (i, x) in c.enumerated() { width[i] = max(width[i], x.count) } }
        func line(_ c: [String]) -> String {
            c.enumerated().map { i, x in
                i < 2 ? x.padding(toLength: width[i], withPad: " ", startingAt: 0)
                      : String(repeating: " ", count: width[i] - x.count) + x
            }.joined(separator: "  ")
        }
        var out = line(header) + "\n"
        for c in body { out += line(c) + "\n" }
        return out
    }

    /// A Markdown table: texts down, tokenizers across, one metric.
    public static func pivot(_ rows: [StatisticsRow], metric: ChartMetric) -> String {
        var texts: [String] = []
        var toks: [String] = []
        var value: [String: Double] = [:]
        for r in rows {
            if !texts.contains(r.text) { texts.append(r.text) }
            if !toks.contains(r.tokenizer) { toks.append(r.tokenizer) }
            value[r.text + "\u{0}" + r.tokenizer] = metric.value(r)
        }
        var out = "| \(metric.title) | " + toks.joined(separator: " | ") + " |\n|---|" + String(repeating: "---:|", count: toks.count) + "\n"
        for t in texts {
            out += "| \(t) | " + toks.map { k in value[t + "\u{0}" + k].map { f($0) } ?? "-" }.joined(separator: " | ") + " |\n"
        }
        return out
    }

    public static func json(_ rows: [StatisticsRow]) -> [UInt8] {
        var w = JSONWriter(pretty: false)
        w.beginObject()
        w.key("word_rule"); w.string("whitespace-separated words; every Han, Hiragana and Katakana character counts as one word")
        w.key("rows"); w.beginArray()
        for r in rows {
            let s = r.statistics
            w.beginObject()
            w.key("text"); w.string(r.text)
            w.key("tokenizer"); w.string(r.tokenizer)
            w.key("lines"); w.int(s.lines)
            w.key("words"); w.int(s.words)
            w.key("bytes"); w.int(s.bytes)
            w.key("characters"); w.int(s.characters)
            w.key("tokens"); w.int(s.tokens)
            w.key("tokens_per_word"); w.double(s.tokensPerWord)
            w.key("bytes_per_token"); w.double(s.bytesPerToken)
            w.key("characters_per_token"); w.double(s.charactersPerToken)
            w.key("parity"); if let p = r.parity { w.double(p) } else { w.null() }
            w.key("fallback_tokens"); w.int(s.fallbackTokens)
            w.key("fallback_rate"); w.double(s.fallbackRate)
            w.key("distinct_ids"); w.int(s.distinctIds)
            w.key("vocabulary_size"); w.int(r.vocabularySize)
            w.key("vocabulary_used"); w.double(r.vocabularyUsed)
            w.key("new_vocabulary_size"); w.int(r.newVocabularySize)
            w.key("new_tokens"); w.int(s.newTokens)
            w.key("new_token_rate"); w.double(s.newTokenRate)
            w.key("distinct_new_ids"); w.int(s.distinctNewIds)
            w.key("line_tokens"); w.beginArray(); for n in s.lineTokens { w.int(n) }; w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes + [0x0A]
    }
}


/// What a chart or pivot shows.
public enum ChartMetric: String, Sendable, CaseIterable {
    case parity
    case tokensPerWord = "tokens-per-word"
    case bytesPerToken = "bytes-per-token"
    case fallback

    public var title: String {
        switch self {
        case .parity: return "parity vs English (tokens / English tokens)"
        case .tokensPerWord: return "tokens per word"
        case .bytesPerToken: return "bytes per token"
        case .fallback: return "byte-fallback / partial-character tokens (%)"
        }
    }

    public func value(_ r: StatisticsRow) -> Double? {
        switch self {
        case .parity: return r.parity
        case .tokensPerWord: return r.statistics.tokensPerWord
        case .bytesPerToken: return r.statistics.bytesPerToken
        case .fallback: return 100 * r.statistics.fallbackRate
        }
    }
}
