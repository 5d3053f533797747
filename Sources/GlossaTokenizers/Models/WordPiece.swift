/// WordPiece (BERT): greedy longest-match-first within each pre-token.
public final class WordPieceModel: Sendable {
    public let vocabulary: Vocabulary
    public let unkToken: String
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    let unkId: Int32
    let prefix: [UInt8]
    /// Longest token in bytes: candidates longer than this cannot match, so the greedy search starts there.
    let maxTokenBytes: Int

    public init(vocabulary: Vocabulary, unkToken: String, continuingSubwordPrefix: String,
                maxInputCharsPerWord: Int) throws(TokenizerError) {
        self.vocabulary = vocabulary
        self.unkToken = unkToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        guard let u = vocabulary.id(of: unkToken) else {
            throw .malformed(file: nil, field: "model.unk_token", reason: "unk token \(unkToken) is not in the vocabulary")
        }
        unkId = u
        prefix = Array(continuingSubwordPrefix.utf8)
        var longest = 0
        let lengths = vocabulary.index.buffer.lengths
        for e in 0..<vocabulary.index.entryCount { longest = max(longest, Int(lengths[e])) }
        maxTokenBytes = longest
    }

    public func tokenize(_ p: UnsafePointer<UInt8>, _ n: Int, base: Int32,
                         ids: inout [Int32], offsets: inout [ByteSpan], key: inout [UInt8]) {
        if n == 0 { return }
        var chars = 0
        var i = 0
        while i < n { if p[i] & 0xC0 != 0x80 { chars &+= 1 }; i &+= 1 }
        if chars > maxInputCharsPerWord {
            ids.append(unkId); offsets.append(ByteSpan(start: base, end: base &+ Int32(n))); return
        }
        let mark = ids.count
        let pre = prefix.count
        let longest = maxTokenBytes
        // The continuation key is the prefix followed by the candidate, which is at most `longest` bytes.
        if key.count < pre &+ longest { key = [UInt8](repeating: 0, count: pre &+ longest) }
        key.withUnsafeMutableBufferPointer { kb in
            let k = kb.baseAddress!
            for j in 0..<pre { k[j] = prefix[j] }
            var start = 0
            while start < n {
                var end = min(n, start &+ (start > 0 ? longest &- pre : longest))
                // A candidate must end on a character boundary.
                while end < n && end > start && p[end] & 0xC0 == 0x80 { end -= 1 }
                var found: Int32 = -1
                while start < end {
                    let id: Int32
                    if start > 0 {
                        (k + pre).update(from: p + start, count: end &- start)
                        id = vocabulary.index.find(k, pre &+ end &- start)
                    } else {
                        id = vocabulary.index.find(p + start, end &- start)
                    }
                    if id >= 0 { found = id; break }
                    // Step back one character (the last scalar of the candidate).
                    end -= 1
                    while end > start && p[end] & 0xC0 == 0x80 { end -= 1 }
                }
                if found < 0 {
                    ids.removeSubrange(mark...)
                    offsets.removeSubrange(mark...)
                    ids.append(unkId); offsets.append(ByteSpan(start: base, end: base &+ Int32(n)))
                    return
                }
                ids.append(found); offsets.append(ByteSpan(start: base &+ Int32(start), end: base &+ Int32(end)))
                start = end
            }
        }
    }
}
