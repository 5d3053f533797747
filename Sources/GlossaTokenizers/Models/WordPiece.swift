/// WordPiece (BERT): greedy longest-match-first within each pre-token.
public final class WordPieceModel: Sendable {
    public let vocabulary: Vocabulary
    public let unkToken: String
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    let unkId: Int32
    let prefix: [UInt8]

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
        var start = 0
        while start < n {
            var end = n
            var found: Int32 = -1
            while start < end {
                let id: Int32
                if start > 0 {
                    key.removeAll(keepingCapacity: true)
                    key.append(contentsOf: prefix)
                    key.append(contentsOf: UnsafeBufferPointer(start: p + start, count: end - start))
                    id = key.withUnsafeBufferPointer { vocabulary.index.find($0.baseAddress!, $0.count) }
                } else {
                    id = vocabulary.index.find(p + start, end - start)
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
