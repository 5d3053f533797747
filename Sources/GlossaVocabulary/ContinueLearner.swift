// Resuming BPE from a base tokenizer's merges.
//
// Encoding a word with the base replays the base merges in rank order, which is exactly the state BPE
// training would have reached on that word after the last base merge. From there the loop is HF
// `BpeTrainer`'s: pair counts over adjacent windows weighted by word counts, a max-heap by count then
// (left id, right id) ascending with lazy refresh, merges applied left to right without overlap.
// Every new merge gets a new id and ranks after all base merges. A candidate pair is skipped (never
// merged) when its merged bytes already name a token, when it is longer than the length cap, when it
// is forbidden by a protected corpus, or when encoding its own bytes would not yield it (unreachable):
// so every new token is reachable by encoding its surface.

import GlossaTokenizers

/// Replays base encodings plus new merges on short byte strings (reachability checks, manifests).
struct ExtensionEncoder {
    let base: ExtensionBase
    /// New merges: packed (left, right) → (rank << 32 | merged id).
    var newMerges: [UInt64: UInt64] = [:]
    var mergeCount: UInt64 = 0
    /// New single-character tokens (SentencePiece style): UTF-8 bytes → id.
    var newChars: [[UInt8]: Int32] = [:]
    var scratch = BPEScratch()

    init(base: ExtensionBase) { self.base = base }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    mutating func addMerge(_ a: Int32, _ b: Int32, _ c: Int32) {
        newMerges[Self.key(a, b)] = mergeCount << 32 | UInt64(UInt32(bitPattern: c))
        mergeCount += 1
    }

    /// Ids of the base model for one pre-token (model-domain bytes), new characters substituted.
    mutating func baseIds(_ p: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var ids: [Int32] = []
        var offs: [ByteSpan] = []
        guard let q = p.baseAddress, p.count > 0 else { return [] }
        base.model.tokenize(q, p.count, base: 0, ids: &ids, offsets: &offs, scratch: &scratch)
        if !newChars.isEmpty && !base.fallbackIds.isEmpty { ids = substituteCharacters(ids) }
        return ids
    }

    /// Replaces runs of byte-fallback ids that spell a new character by that character's id.
    func substituteCharacters(_ ids: [Int32]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(ids.count)
        var i = 0
        while i < ids.count {
            if let b0 = fallbackByte(ids[i]) {
                let len = b0 < 0x80 ? 1 : b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1
                if len > 1 && i + len <= ids.count {
                    var bytes: [UInt8] = [b0]
                    var ok = true
                    for k in 1..<len {
                        guard let b = fallbackByte(ids[i + k]) else { ok = false; break }
                        bytes.append(b)
                    }
                    if ok, let id = newChars[bytes] { out.append(id); i += len; continue }
                }
            }
            out.append(ids[i])
            i += 1
        }
        return out
    }

    @inline(__always) func fallbackByte(_ id: Int32) -> UInt8? {
        let f = base.fallbackIds
        guard !f.isEmpty, id >= f[0], id <= f[255] else { return nil }
        // Fallback ids are consecutive in every known vocabulary; otherwise search.
        if f[255] - f[0] == 255 { return UInt8(id - f[0]) }
        return f.firstIndex(of: id).map { UInt8($0) }
    }

    /// Applies the new merges (lowest rank first, leftmost on ties) to a base encoding.
    func applyNew(_ ids: inout [Int32]) {
        while ids.count > 1 {
            var best = UInt64.max, at = -1
            for i in 0..<(ids.count - 1) {
                if let v = newMerges[Self.key(ids[i], ids[i + 1])], v < best { best = v; at = i }
            }
            if at < 0 { break }
            ids[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            ids.remove(at: at + 1)
        }
    }

    /// The extended encoding of one pre-token.
    mutating func encode(_ p: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var ids = baseIds(p)
        applyNew(&ids)
        return ids
    }
}

struct LearnSettings {
    var add: Int
    var minFrequency: UInt64
    var maxTokenLength: Int?
    var forbidden: Set<UInt64>
    /// Skip the reachability check (bases with `ignore_merges`, where a token's own bytes map to it directly).
    var alwaysReachable: Bool
}

struct LearnOutcome {
    /// (left, right, merged) new merges in rank order.
    var merges: [(Int32, Int32, Int32)] = []
    /// New token ids in id order with their model-domain bytes.
    var tokens: [(id: Int32, key: [UInt8], count: UInt64)] = []
    var skippedExisting = 0
    var skippedLength = 0
    var skippedProtected = 0
    var skippedUnreachable = 0
    /// Count of the last merge learned.
    var lastCount: UInt64 = 0
}

struct HeapEntry {
    var count: Int64
    var key: UInt64
    var index: Int32
    @inline(__always) func before(_ o: HeapEntry) -> Bool { count != o.count ? count > o.count : key < o.key }
}

struct PairHeap {
    var items: [HeapEntry] = []
    mutating func push(_ e: HeapEntry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if !e.before(items[p]) { break }
            items[i] = items[p]
            i = p
        }
        items[i] = e
    }
    mutating func pop() -> HeapEntry? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        let top = items[0]
        let n = items.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            let r = l + 1
            let c = r < n && items[r].before(items[l]) ? r : l
            if !items[c].before(last) { break }
            items[i] = items[c]
            i = c
        }
        items[i] = last
        return top
    }
}

/// The merge loop over words laid out as id sequences.
struct ContinueLearner {
    var symbols: [Int32] = []
    var start: [Int] = []
    var length: [Int32] = []
    var wordCount: [Int64] = []
    /// Model-domain bytes by id (base and new); nil = never merges.
    var keys: [[UInt8]?]
    var chars: [Int32]
    var index: [[UInt8]: Int32] = [:]
    var pairIndex: [UInt64: Int32] = [:]
    var pairKey: [UInt64] = []
    var pairCount: [Int64] = []
    var pairWords: [[Int32]] = []
    var pairStamp: [Int32] = []
    var banned: [Bool] = []
    var heap = PairHeap()
    var step: Int32 = 0

    init(keys: [[UInt8]?]) {
        self.keys = keys
        chars = keys.map { k in Int32(k.map(Self.characters) ?? 0) }
        for (i, k) in keys.enumerated() { if let k, index[k] == nil { index[k] = Int32(i) } }
    }

    static func characters(_ k: [UInt8]) -> Int {
        var n = 0
        for b in k where b & 0xC0 != 0x80 { n += 1 }
        return max(n, 1)
    }

    mutating func addWord(_ ids: [Int32], count: UInt64) {
        start.append(symbols.count)
        symbols.append(contentsOf: ids)
        length.append(Int32(ids.count))
        wordCount.append(Int64(count))
    }

    @inline(__always) func mergeable(_ id: Int32) -> Bool { Int(id) < keys.count && keys[Int(id)] != nil }

    @inline(__always) mutating func pair(_ k: UInt64) -> Int {
        if let p = pairIndex[k] { return Int(p) }
        let p = pairKey.count
        pairIndex[k] = Int32(p)
        pairKey.append(k); pairCount.append(0); pairWords.append([]); pairStamp.append(-1); banned.append(false)
        return p
    }

    @inline(__always) mutating func change(_ l: Int32, _ r: Int32, _ delta: Int64, word w: Int32) {
        guard mergeable(l) && mergeable(r) else { return }
        let p = pair(ExtensionEncoder.key(l, r))
        pairCount[p] += delta
        if delta > 0 {
            if pairWords[p].last != w { pairWords[p].append(w) }
            if pairStamp[p] != step { pairStamp[p] = step; touched.append(Int32(p)) }
        }
    }
    var touched: [Int32] = []

    mutating func learn(_ s: LearnSettings, encoder: inout ExtensionEncoder, firstId: Int32) -> LearnOutcome {
        var out = LearnOutcome()
        // Initial pair counts.
        for w in 0..<wordCount.count {
            let st = start[w], n = Int(length[w])
            var k = 1
            while k < n {
                let a = symbols[st + k - 1], b = symbols[st + k]
                if mergeable(a) && mergeable(b) {
                    let p = pair(ExtensionEncoder.key(a, b))
                    pairCount[p] += wordCount[w]
                    if pairWords[p].last != Int32(w) { pairWords[p].append(Int32(w)) }
                }
                k += 1
            }
        }
        for p in 0..<pairKey.count where pairCount[p] > 0 {
            heap.push(HeapEntry(count: pairCount[p], key: pairKey[p], index: Int32(p)))
        }
        var nextId = firstId
        // Pad keys up to the first new id (holes never merge).
        while keys.count < Int(firstId) { keys.append(nil); chars.append(0) }
        let floor = Int64(max(1, s.minFrequency))
        var wordStamp = [Int32](repeating: -1, count: wordCount.count)
        while out.tokens.count < s.add {
            guard let top = heap.pop() else { break }
            let p = Int(top.index)
            if banned[p] { continue }
            if top.count != pairCount[p] {
                if pairCount[p] > 0 { heap.push(HeapEntry(count: pairCount[p], key: top.key, index: top.index)) }
                continue
            }
            if top.count < floor { break }
            let a = Int32(truncatingIfNeeded: top.key >> 32), b = Int32(truncatingIfNeeded: top.key & 0xFFFF_FFFF)
            let merged = keys[Int(a)]! + keys[Int(b)]!
            if index[merged] != nil { banned[p] = true; out.skippedExisting += 1; continue }
            if let m = s.maxTokenLength, Int(chars[Int(a)] + chars[Int(b)]) > m { banned[p] = true; out.skippedLength += 1; continue }
            if s.forbidden.contains(top.key) { banned[p] = true; out.skippedProtected += 1; continue }
            let c = nextId
            encoder.addMerge(a, b, c)
            if !s.alwaysReachable {
                let got = merged.withUnsafeBufferPointer { encoder.encode($0) }
                if got != [c] {
                    encoder.newMerges[top.key] = nil
                    encoder.mergeCount -= 1
                    banned[p] = true
                    out.skippedUnreachable += 1
                    continue
                }
            }
            nextId += 1
            keys.append(merged)
            chars.append(chars[Int(a)] + chars[Int(b)])
            index[merged] = c
            out.merges.append((a, b, c))
            out.tokens.append((c, merged, UInt64(top.count)))
            out.lastCount = UInt64(top.count)
            banned[p] = true   // merged everywhere; never again

            // Apply to the words that hold the pair.
            touched.removeAll(keepingCapacity: true)
            let list = pairWords[p]
            pairWords[p] = []
            for w32 in list {
                let w = Int(w32)
                if wordStamp[w] == step { continue }
                wordStamp[w] = step
                let st = start[w], n = Int(length[w])
                if n < 2 { continue }
                let cnt = wordCount[w]
                var r = 0, o = 0
                while r < n {
                    let sr = symbols[st + r]
                    if sr == a && r + 1 < n && symbols[st + r + 1] == b {
                        if o > 0 {
                            let prev = symbols[st + o - 1]
                            change(prev, a, -cnt, word: w32)
                            change(prev, c, cnt, word: w32)
                        }
                        if r + 2 < n {
                            let nx = symbols[st + r + 2]
                            change(b, nx, -cnt, word: w32)
                            change(c, nx, cnt, word: w32)
                        }
                        symbols[st + o] = c
                        o += 1
                        r += 2
                    } else {
                        if o != r { symbols[st + o] = sr }
                        o += 1
                        r += 1
                    }
                }
                length[w] = Int32(o)
            }
            pairCount[p] = 0
            for t in touched {
                let q = Int(t)
                if pairCount[q] > 0 && !banned[q] { heap.push(HeapEntry(count: pairCount[q], key: pairKey[q], index: t)) }
            }
            step += 1
        }
        return out
    }
}
