// Pre-tokens of a corpus, exactly as the base tokenizer's pipeline cuts them, counted by their
// model-domain bytes; then each distinct pre-token as its sequence of base ids.

import Dispatch
import Foundation
import GlossaTokenizers
import GlossaTraining

/// Distinct pre-tokens (model-domain bytes) with counts.
public struct CorpusWords: Sendable {
    public var words: WordCounter
    public var lines: Int
    public var bytes: Int
}

/// Reads text files and splits them into lines (without the newline; empty lines dropped).
public enum TextLines {
    public static func read(_ path: String) throws(VocabularyError) -> [[UInt8]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: "cannot read file")
        }
        return split(Array(data))
    }

    /// Lines of `bytes`, in order, keeping empty ones out only when `dropEmpty`.
    public static func split(_ bytes: [UInt8], dropEmpty: Bool = true) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var s = 0
        let n = bytes.count
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i <= n {
                if i == n || b[i] == 0x0A {
                    var e = i
                    if e > s && b[e - 1] == 0x0D { e -= 1 }
                    if e > s || !dropEmpty { out.append(Array(b[s..<e])) }
                    s = i + 1
                    if i == n { break }
                }
                i += 1
            }
        }
        if !dropEmpty, let last = out.last, last.isEmpty, bytes.last == 0x0A { out.removeLast() }
        return out
    }
}

/// Cuts text into the base's pre-tokens.
struct PreTokenSplitter: Sendable {
    let kind: ExtensionBaseKind
    let prepend: Bool
    /// Byte-level: the base's own pre-tokenizer in front of a WordPiece model that knows no word, so each
    /// pre-token comes back as one [UNK] spanning it (exact boundaries from the real pipeline).
    let probe: Tokenizer?

    init(base: ExtensionBase) throws(VocabularyError) {
        kind = base.kind
        prepend = base.prependMetaspace
        if base.kind == .byteLevel {
            do {
                let wp = try WordPieceModel(vocabulary: Vocabulary(tokens: [Array("[UNK]".utf8)]), unkToken: "[UNK]",
                                            continuingSubwordPrefix: "##", maxInputCharsPerWord: 0)
                probe = try Tokenizer(model: .wordPiece(wp), preTokenizer: base.tokenizer.preTokenizerConfig)
            } catch { throw .unextendable(kind: "byte-level BPE", reason: "its pre-tokenizer cannot be used: \(error)") }
        } else {
            probe = nil
        }
    }

    static let meta: [UInt8] = [0xE2, 0x96, 0x81]

    /// Calls `body` with each pre-token of `line` (model-domain bytes).
    func forEach(_ line: [UInt8], state: inout EncoderState, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if line.isEmpty { return }
        if let probe {
            let opts = EncodeOptions(addSpecialTokens: false, specialTokens: .text, withTokens: false)
            guard let enc = try? probe.encode(bytes: line, options: opts, state: &state) else { return }
            line.withUnsafeBufferPointer { b in
                for o in enc.offsets where o.end > o.start {
                    body(UnsafeBufferPointer(rebasing: b[Int(o.start)..<Int(o.end)]))
                }
            }
            return
        }
        // SentencePiece style: spaces become "▁", one "▁" in front, cut before every "▁"-run.
        var s: [UInt8] = []
        s.reserveCapacity(line.count + 8)
        if prepend && !(line.count >= 3 && line[0] == 0xE2 && line[1] == 0x96 && line[2] == 0x81) && line[0] != 0x20 {
            s.append(contentsOf: Self.meta)
        }
        for c in line { if c == 0x20 { s.append(contentsOf: Self.meta) } else { s.append(c) } }
        s.withUnsafeBufferPointer { b in
            let n = b.count
            var start = 0
            var i = 1
            while i + 2 < n {
                if b[i] == 0xE2 && b[i + 1] == 0x96 && b[i + 2] == 0x81
                    && !(i >= 3 && b[i - 3] == 0xE2 && b[i - 2] == 0x96 && b[i - 1] == 0x81) {
                    body(UnsafeBufferPointer(rebasing: b[start..<i]))
                    start = i
                    i += 3
                } else {
                    i += 1
                }
            }
            if start < n { body(UnsafeBufferPointer(rebasing: b[start..<n])) }
        }
    }

    /// Counts the pre-tokens of `lines` on `threads` workers.
    func count(_ lines: [[UInt8]], threads: Int) -> WordCounter {
        let t = max(1, min(threads, lines.count / 64 + 1))
        let boxes = (0..<t).map { _ in CounterBox() }
        DispatchQueue.concurrentPerform(iterations: t) { k in
            var c = WordCounter(capacity: 1 << 14)
            var st = EncoderState()
            var i = k
            while i < lines.count {
                forEach(lines[i], state: &st) { piece in
                    if let p = piece.baseAddress, piece.count > 0 { c.add(p, piece.count) }
                }
                i += t
            }
            boxes[k].counter = c
        }
        var total = boxes[0].counter
        for b in boxes.dropFirst() { total.merge(b.counter) }
        return total
    }
}

final class CounterBox: @unchecked Sendable {
    var counter = WordCounter(capacity: 0)
}

extension WordCounter {
    /// Calls `body` with each key and its count.
    func forEachKey(_ body: (UnsafeBufferPointer<UInt8>, UInt64) -> Void) {
        arena.withUnsafeBufferPointer { ar in
            for i in 0..<count {
                let s = starts[i], n = Int(lengths[i])
                body(UnsafeBufferPointer(rebasing: ar[s..<(s + n)]), counts[i])
            }
        }
    }
}
