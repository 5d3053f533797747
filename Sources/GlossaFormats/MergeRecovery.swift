/// Errors recovering BPE merges.
public enum MergeRecoveryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A single byte has no rank, so tokens containing it cannot be split.
    case missingSingleByte(UInt8)
    /// BPE restricted to lower ranks does not split the token of `rank` into exactly two parts.
    case notTwoParts(rank: Int, token: [UInt8], parts: Int)
    /// The token list contains an empty token.
    case emptyToken(rank: Int)

    public var description: String {
        switch self {
        case let .missingSingleByte(b): return "ranks have no entry for the single byte 0x\(String(b, radix: 16, uppercase: true))"
        case let .notTwoParts(rank, token, parts):
            let hex = token.map { String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            return "token of rank \(rank) (bytes \(hex)) splits into \(parts) parts under lower ranks, not 2"
        case let .emptyToken(rank): return "rank \(rank) is an empty token"
        }
    }
}

/// One merge recovered from ranks: tokens `left` + `right` (by rank) form the token of rank `result`.
public struct RankMerge: Sendable, Equatable, Hashable {
    public var left: Int32
    public var right: Int32
    public var result: Int32
    public init(left: Int32, right: Int32, result: Int32) {
        self.left = left
        self.right = right
        self.result = result
    }
}

/// How `sentencePieceMerges` orders the merges (transformers' `generate_merges`).
public enum SentencePieceMergeOrder: Sendable, Equatable {
    /// transformers ≥ 4.45 / 5.x `SentencePieceExtractor.extract`: `generate_merges(vocab)` —
    /// ascending (id of the merged piece, len(left), len(right)), stable.
    case byID
    /// Older `SentencePieceExtractor.extract(vocab_scores=...)`: descending score only, stable (Python
    /// `sorted(..., key=score, reverse=True)` keeps equal keys in order). The order of the merges in the shipped
    /// Mistral v0.3 `tokenizer.json`.
    case byScore
    /// `generate_merges(vocab, vocab_scores)` (transformers 4.4x): descending (score, len(left), len(right)), stable.
    case byScoreThenLength
}

/// Recovering merge lists for formats that store none.
public enum MergeRecovery {
    /// HF merges from tiktoken ranks: every multi-byte token, in rank order, is split by BPE restricted to ranks
    /// below its own; the result must be exactly two parts (`left`, `right`). Matches `hf_from_ranks` in
    /// tokenizers.md §9.2. O(len²) hash lookups per token, no allocation per token.
    public static func mergesFromRanks(_ ranks: TiktokenFile) throws(MergeRecoveryError) -> [RankMerge] {
        let table = ranks.makeRankTable()
        let count = ranks.count
        var merges = [RankMerge]()
        merges.reserveCapacity(max(0, count &- 256))
        var failure: MergeRecoveryError?
        ranks.storage.withUnsafeBufferPointer { sbuf in
            ranks.offsets.withUnsafeBufferPointer { obuf in
                let storage = sbuf.baseAddress ?? UnsafePointer(bitPattern: 1)!
                let offsets = obuf.baseAddress!
                // Single-byte ranks.
                var byteRank = [Int32](repeating: -1, count: 256)
                for r in 0..<count where offsets[r &+ 1] &- offsets[r] == 1 { byteRank[Int(storage[Int(offsets[r])])] = Int32(r) }
                // Work arrays: part boundaries (starts), part ranks, and pair ranks; reused for every token.
                var starts = [Int](repeating: 0, count: 64)
                var partRank = [Int32](repeating: 0, count: 64)
                var pairRank = [Int32](repeating: 0, count: 64)
                for r in 0..<count {
                    let a = Int(offsets[r]), b = Int(offsets[r &+ 1])
                    let len = b &- a
                    if len == 0 { failure = .emptyToken(rank: r); return }
                    if len == 1 { continue }
                    if starts.count <= len {
                        starts = [Int](repeating: 0, count: len &* 2)
                        partRank = [Int32](repeating: 0, count: len &* 2)
                        pairRank = [Int32](repeating: 0, count: len &* 2)
                    }
                    let tok = storage + a
                    let limit = Int32(r)
                    var parts = len
                    for k in 0..<len {
                        let br = byteRank[Int(tok[k])]
                        if br < 0 { failure = .missingSingleByte(tok[k]); return }
                        starts[k] = k
                        partRank[k] = br
                    }
                    starts[len] = len
                    @inline(__always) func pairRankAt(_ k: Int) -> Int32 {
                        // rank of parts k and k+1 joined, if below the limit; else Int32.max
                        let s = starts[k], e = starts[k &+ 2]
                        let f = table.find(tok + s, e &- s, storage: storage, offsets: offsets)
                        return (f >= 0 && f < limit) ? f : Int32.max
                    }
                    for k in 0..<(parts &- 1) { pairRank[k] = pairRankAt(k) }
                    while parts > 1 {
                        var best = Int32.max
                        var bi = -1
                        for k in 0..<(parts &- 1) where pairRank[k] < best { best = pairRank[k]; bi = k }
                        if bi < 0 { break }
                        // Merge parts bi and bi+1.
                        partRank[bi] = best
                        var k = bi &+ 1
                        while k < parts &- 1 {
                            starts[k] = starts[k &+ 1]
                            partRank[k] = partRank[k &+ 1]
                            pairRank[k] = pairRank[k &+ 1]
                            k &+= 1
                        }
                        starts[parts &- 1] = starts[parts]
                        parts &-= 1
                        if bi > 0 { pairRank[bi &- 1] = pairRankAt(bi &- 1) }
                        if bi < parts &- 1 { pairRank[bi] = pairRankAt(bi) }
                    }
                    if parts != 2 {
                        failure = .notTwoParts(rank: r, token: Array(UnsafeBufferPointer(start: tok, count: len)), parts: parts)
                        return
                    }
                    merges.append(RankMerge(left: partRank[0], right: partRank[1], result: Int32(r)))
                }
            }
        }
        if let f = failure { throw f }
        return merges
    }

    /// Every split of every multi-byte token into two tokens that both have ranks, like transformers'
    /// `TikTokenConverter.extract_vocab_merges_from_model`: tokens in rank order, within a token sorted by
    /// (rank(left), rank(right)). This is how the shipped Llama-3 `tokenizer.json` merges were made; it never
    /// fails, but gives more merges than `mergesFromRanks` (use it when the strict two-part split does not hold,
    /// as for some Llama-3 ranks).
    public static func allSplitMerges(_ ranks: TiktokenFile) -> [RankMerge] {
        let table = ranks.makeRankTable()
        var merges = [RankMerge]()
        merges.reserveCapacity(ranks.count &* 2)
        ranks.storage.withUnsafeBufferPointer { sbuf in
            ranks.offsets.withUnsafeBufferPointer { obuf in
                let storage = sbuf.baseAddress ?? UnsafePointer(bitPattern: 1)!
                let offsets = obuf.baseAddress!
                var local: [RankMerge] = []
                for r in 0..<ranks.count {
                    let a = Int(offsets[r]), b = Int(offsets[r &+ 1])
                    if b &- a < 2 { continue }
                    local.removeAll(keepingCapacity: true)
                    let tok = storage + a
                    for cut in 1..<(b &- a) {
                        let l = table.find(tok, cut, storage: storage, offsets: offsets)
                        if l < 0 { continue }
                        let rr = table.find(tok + cut, b &- a &- cut, storage: storage, offsets: offsets)
                        if rr < 0 { continue }
                        local.append(RankMerge(left: l, right: rr, result: Int32(r)))
                    }
                    local.sort { ($0.left, $0.right) < ($1.left, $1.right) }
                    merges.append(contentsOf: local)
                }
            }
        }
        return merges
    }

    /// The recovered merges as byte pairs.
    public static func mergeBytes(_ merges: [RankMerge], ranks: TiktokenFile) -> [(left: [UInt8], right: [UInt8])] {
        merges.map { (ranks.token(rank: Int($0.left)), ranks.token(rank: Int($0.right))) }
    }

    /// The recovered merges as HF byte-level strings (`Ġ`-style), ready for a `tokenizer.json`.
    public static func byteLevelMerges(_ merges: [RankMerge], ranks: TiktokenFile,
                                       alphabet: ByteLevelAlphabet = .gpt2) -> [(left: String, right: String)] {
        merges.map { (alphabet.encode(ranks[Int($0.left)]), alphabet.encode(ranks[Int($0.right)])) }
    }

    /// Merges derived from SentencePiece pieces like transformers' `generate_merges`: for every piece (in id order)
    /// every split point (between Unicode scalars) whose left and right parts are both pieces gives a merge;
    /// within a piece the candidates are sorted by (id(left), id(right)); then all are sorted by `order`
    /// (stable). All piece types take part, as in transformers. Duplicate pieces: the last id wins, as in a
    /// Python dict, and the piece is visited once at its first position.
    public static func sentencePieceMerges(pieces: [String], scores: [Float]? = nil,
                                           order: SentencePieceMergeOrder = .byScore) -> [(left: String, right: String)] {
        var idOf = [[UInt8]: Int](minimumCapacity: pieces.count)
        var firstOrder: [Int] = []
        var keys: [[UInt8]] = []
        keys.reserveCapacity(pieces.count)
        for (i, p) in pieces.enumerated() {
            let k = Array(p.utf8)
            keys.append(k)
            if idOf.updateValue(i, forKey: k) == nil { firstOrder.append(i) }
        }
        struct Candidate { var left: Int; var right: Int; var key: Double; var lenL: Int; var lenR: Int }
        var all: [Candidate] = []
        all.reserveCapacity(pieces.count * 2)
        var local: [Candidate] = []
        for i in firstOrder {
            let merge = keys[i]
            let id = idOf[merge]!
            let key: Double = order == .byID ? Double(id) : Double(scores?[id] ?? 0)
            local.removeAll(keepingCapacity: true)
            // Scalar boundaries.
            var bounds: [Int] = []
            for (k, c) in merge.enumerated() where k > 0 && c & 0xC0 != 0x80 { bounds.append(k) }
            let totalScalars = bounds.count &+ 1
            for (n, cut) in bounds.enumerated() {
                guard let l = idOf[Array(merge[..<cut])], let r = idOf[Array(merge[cut...])] else { continue }
                local.append(Candidate(left: l, right: r, key: key, lenL: n &+ 1, lenR: totalScalars &- n &- 1))
            }
            local.sort { ($0.left, $0.right) < ($1.left, $1.right) }
            all.append(contentsOf: local)
        }
        // Stable sort by (key, lenL, lenR), ascending or descending.
        let indexed = all.enumerated().map { ($0.offset, $0.element) }
        let sorted: [(Int, Candidate)]
        switch order {
        case .byID:
            sorted = indexed.sorted { a, b in
                let ka = (a.1.key, a.1.lenL, a.1.lenR), kb = (b.1.key, b.1.lenL, b.1.lenR)
                return ka != kb ? ka < kb : a.0 < b.0
            }
        case .byScore:
            sorted = indexed.sorted { a, b in a.1.key != b.1.key ? a.1.key > b.1.key : a.0 < b.0 }
        case .byScoreThenLength:
            sorted = indexed.sorted { a, b in
                let ka = (a.1.key, a.1.lenL, a.1.lenR), kb = (b.1.key, b.1.lenL, b.1.lenR)
                return ka != kb ? ka > kb : a.0 < b.0
            }
        }
        return sorted.map { (pieces[$0.1.left], pieces[$0.1.right]) }
    }

    /// `sentencePieceMerges` for a parsed model (pieces and scores from the file).
    public static func sentencePieceMerges(_ model: SentencePieceModelFile,
                                           order: SentencePieceMergeOrder = .byScore) -> [(left: String, right: String)] {
        sentencePieceMerges(pieces: model.pieces.map(\.piece), scores: model.pieces.map(\.score), order: order)
    }
}
