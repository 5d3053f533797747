import Foundation
import GlossaJSON
import GlossaTensor
import GlossaTokenizers

/// Word vectors that can be asked for the vector of a string: a `.vec` table (in-vocabulary strings only) or a
/// subword model (any string, from its character n-grams).
public enum VectorSource: Sendable {
    case table(WordVectors, [String: Int])
    case subword(SubwordVectors)

    /// Reads a `.glft` subword model (recognized by its header) or a fastText `.vec` text file.
    public static func load(path: String) throws(InitError) -> VectorSource {
        let bytes: [UInt8]
        do { bytes = try BinaryFile.read(path) } catch { throw InitError("\(path): \(error)") }
        if SubwordVectors.isModelFile(bytes) { return .subword(try SubwordVectors.parse(bytes, name: path)) }
        let v = try WordVectors.read(path: path)
        return .table(v, v.index())
    }

    public var dim: Int {
        switch self { case .table(let v, _): return v.dim; case .subword(let m): return m.dim }
    }
    public var isSubword: Bool { if case .subword = self { return true }; return false }

    /// The vector of `s`, or nil (not in the table; no n-gram; all zeros).
    public func vector(for s: String) -> [Float]? {
        switch self {
        case .table(let v, let idx):
            guard let r = idx[s] else { return nil }
            let row = Array(v.row(r))
            return row.contains { $0 != 0 } ? row : nil
        case .subword(let m): return m.vector(for: s)
        }
    }
}

/// WECHSEL (Minixhofer, Paischer & Rekabsaz 2022, §3 of the spec) with word-level vectors: every old token gets the
/// (aligned) source-language vector of its text, every new token the target-language vector of its text; the
/// init-embeddings planner then takes the top-k softmax(cos/τ) over the old tokens.
public enum Wechsel {
    /// The string fastText is asked for: the reference's `decode(t).strip()`. The token's canonical surface is used
    /// (boundary marker removed: `Ġdog` and `▁dog` → `dog`, WordPiece `##ing` → `ing`, where a one-token HF decode
    /// would keep the `##`), then surrounding whitespace is trimmed. Special tokens get nil (they are copied by role).
    public static func text(of s: TokenSurface) -> String? {
        guard s.kind != .special else { return nil }
        let t = String(decoding: s.bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    public struct Coverage: Sendable {
        public var oldTokens = 0, oldWithVector = 0, newTokens = 0, newWithVector = 0
        public var description: String {
            "wechsel: \(oldWithVector) of \(oldTokens) old tokens and \(newWithVector) of \(newTokens) new tokens have a word vector"
        }
    }

    /// Aux vectors for ids `0..<(sourceTexts.count + targetTexts.count)`: old ids from `source` (which must already be
    /// aligned to the target space), new ids from `target`. Fails on a dimension mismatch and when no old token or
    /// no new token gets a vector (nothing to transfer from / to).
    public static func auxVectors(sourceTexts: [String?], targetTexts: [String?], source: VectorSource, target: VectorSource,
                                  names: (source: String, target: String)) throws(InitError) -> (AuxVectors, Coverage) {
        guard source.dim == target.dim else {
            throw InitError("\(names.source) has dimension \(source.dim), \(names.target) has \(target.dim); WECHSEL needs both in one aligned space (glossa vectors align)")
        }
        let d = source.dim, base = sourceTexts.count, n = base &+ targetTexts.count
        var a = AuxVectors(dim: d, count: n)
        var cov = Coverage()
        let texts = sourceTexts + targetTexts
        // Lookups are independent; subword lookups hash every n-gram, so spread them over the cores.
        let chunk = 2048
        let chunks = (n &+ chunk &- 1) / chunk
        a.data.withUnsafeMutableBufferPointer { pd in a.present.withUnsafeMutableBufferPointer { pp in
            nonisolated(unsafe) let data = pd.baseAddress!
            nonisolated(unsafe) let present = pp.baseAddress!
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for id in (c &* chunk)..<min(n, (c &+ 1) &* chunk) {
                    guard let s = texts[id], let v = (id < base ? source : target).vector(for: s) else { continue }
                    present[id] = true
                    for j in 0..<d { data[id &* d &+ j] = v[j] }
                }
            }
        } }
        for id in 0..<n {
            if id < base { if sourceTexts[id] != nil { cov.oldTokens &+= 1; if a.present[id] { cov.oldWithVector &+= 1 } } }
            else { if targetTexts[id &- base] != nil { cov.newTokens &+= 1; if a.present[id] { cov.newWithVector &+= 1 } } }
        }
        guard cov.oldWithVector > 0 else {
            throw InitError("\(names.source): none of the \(cov.oldTokens) old tokens' texts has a vector (no overlap with the model's vocabulary)")
        }
        guard cov.newWithVector > 0 else {
            throw InitError("\(names.target): none of the \(cov.newTokens) new tokens' texts has a vector (no overlap with the new tokens)")
        }
        return (a, cov)
    }

    /// The same for tokenizers: old ids `0..<base` decoded with the base tokenizer, new ids with the extended one.
    public static func auxVectors(baseTokenizer: Tokenizer, extendedTokenizer: Tokenizer, base: Int, source: VectorSource,
                                  target: VectorSource, names: (source: String, target: String)) throws(InitError) -> (AuxVectors, Coverage) {
        let bs = VocabularySurfaces(tokenizer: baseTokenizer), es = VocabularySurfaces(tokenizer: extendedTokenizer)
        let ext = extendedTokenizer.vocabularySize
        let src = (0..<min(base, bs.count)).map { text(of: bs[$0]) } + [String?](repeating: nil, count: max(0, base &- bs.count))
        let tgt = (base..<ext).map { text(of: es[$0]) }
        return try auxVectors(sourceTexts: src, targetTexts: tgt, source: source, target: target, names: names)
    }
}
