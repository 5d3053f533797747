// The merge loop of HF `BpeTrainer::do_train` (tokenizers 0.23), reproduced decision for decision:
//
// * pair counts over every adjacent window of every word (overlaps count), weighted by the word count;
// * a max-heap of (count, pair) entries, each carrying the set of words it was created for
//   (`Merge.pos`): count descending, then (left id, right id) ascending;
// * a popped entry whose count differs from the pair's current count is re-pushed with the current
//   count (lazy refresh); the loop stops at the vocabulary size, an empty heap, or a count below
//   `max(1, min_frequency)`;
// * a merge is applied only to the words of the popped entry, left to right and non-overlapping;
//   neighbour pairs change by ∓ the word count; new pairs (only those that stay under
//   `max_token_length` characters) are collected per pair with the words where they appeared, and
//   pushed as new entries with the pair's total count;
// * like HF, the merged pair's own count is not reset, and a merge whose string already exists reuses
//   that id (the same pair can then be merged again later; HF keeps the last rank of a repeated pair).
//
// Everything is on integer ids; counts are 64-bit (HF uses i32 for pair counts).

/// Open-addressing map from a packed pair to a dense pair index.
struct PairIndex {
    private var keys: [UInt64]
    private var values: [Int32]
    private var mask: Int
    private(set) var count = 0
    static let empty = UInt64.max

    init(capacity: Int) {
        var size = 1024
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always) static func slot(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    /// The index of `k`, or `next` after inserting it (`inserted` tells which).
    @inline(__always)
    mutating func findOrInsert(_ k: UInt64, next: Int32) -> (Int32, inserted: Bool) {
        var s = Self.slot(k, mask)
        let r: (Int32, Bool) = keys.withUnsafeMutableBufferPointer { ks in
            while true {
                let v = ks[s]
                if v == k { return (values[s], false) }
                if v == Self.empty {
                    ks[s] = k
                    return (-1, true)
                }
                s = (s &+ 1) & mask
            }
        }
        if !r.1 { return (r.0, false) }
        values[s] = next
        count &+= 1
        if count &* 2 > keys.count { grow() }
        return (next, true)
    }

    private mutating func grow() {
        let size = keys.count * 2
        var nk = [UInt64](repeating: Self.empty, count: size)
        var nv = [Int32](repeating: -1, count: size)
        let m = size - 1
        for i in 0 ..< keys.count where keys[i] != Self.empty {
            var s = Self.slot(keys[i], m)
            while nk[s] != Self.empty { s = (s &+ 1) & m }
            nk[s] = keys[i]
            nv[s] = values[i]
        }
        keys = nk
        values = nv
        mask = m
    }
}

/// A heap entry: HF's `Merge { pair, count, pos }` with `pos` a list in the pool.
struct MergeEntry {
    var count: UInt64
    var pair: UInt64
    var pairIndex: Int32
    var list: Int32

    /// HF's `Ord`: count, then the smaller pair first.
    @inline(__always) func before(_ o: MergeEntry) -> Bool {
        count != o.count ? count > o.count : pair < o.pair
    }
}

/// A binary max-heap by `MergeEntry.before`.
struct MergeHeap {
    private(set) var items: [MergeEntry] = []
    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ e: MergeEntry) {
        items.append(e)
        var i = items.count - 1
        items.withUnsafeMutableBufferPointer { h in
            while i > 0 {
                let parent = (i &- 1) >> 1
                if !e.before(h[parent]) { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    mutating func pop() -> MergeEntry? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        let top = items[0]
        let n = items.count
        items.withUnsafeMutableBufferPointer { h in
            var i = 0
            while true {
                let l = 2 &* i &+ 1
                if l >= n { break }
                let r = l &+ 1
                let c = r < n && h[r].before(h[l]) ? r : l
                if !h[c].before(last) { break }
                h[i] = h[c]
                i = c
            }
            h[i] = last
        }
        return top
    }
}

/// Inputs of the merge loop: words as symbol-id sequences with counts, and the initial vocabulary.
struct MergeProblem {
    /// Symbols of all words, concatenated.
    var symbols: [Int32]
    /// Start of each word in `symbols`.
    var wordStart: [Int]
    /// Current length of each word (shrinks as merges apply).
    var wordLength: [Int32]
    var wordCount: [UInt64]
    /// Token spellings (HF's `id_to_word`, as UTF-8), specials and alphabet first.
    var tokens: [[UInt8]]
    /// Length of each token in characters (HF `Symbol.len` sums: 1 per initial character).
    var tokenChars: [Int]
}

struct MergeSettings {
    var vocabSize: Int
    var minFrequency: UInt64
    var maxTokenLength: Int?
}

struct MergeOutcome {
    /// (left, right, merged) in creation order, before HF's de-duplication.
    var merges: [(Int32, Int32, Int32)]
    var tokens: [[UInt8]]
    var distinctPairs = 0
    var initialListEntries = 0
    var finalPoolEntries = 0
    var peakHeap = 0
}

struct MergeLearner {
    // Pairs: dense index ← packed (left, right).
    var index = PairIndex(capacity: 1 << 16)
    var pairKey: [UInt64] = []
    var pairCount: [Int64] = []
    var stepStamp: [Int32] = []
    var stepSlotOf: [Int32] = []
    // Word lists (HF `Merge.pos`), in one pool; list i is pool[listStart[i] ..< listStart[i] + listLen[i]].
    var listStart: [Int] = []
    var listLen: [Int32] = []
    var pool: [Int32] = []
    /// Pool entries of lists that no heap entry refers to any more.
    var deadPool = 0
    var heap = MergeHeap()
    // Changes of the current step, grouped by pair.
    var step: Int32 = 0
    var slotPair: [Int32] = []
    var slotLast: [Int32] = []
    var slotSize: [Int32] = []
    var occSlot: [Int32] = []
    var occWord: [Int32] = []
    var tokenChars: [Int] = []
    var peakHeap = 0
    var peakPool = 0

    @inline(__always) static func key(_ l: Int32, _ r: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
    }

    @inline(__always) mutating func pairIndex(_ key: UInt64) -> Int {
        let (pi, inserted) = index.findOrInsert(key, next: Int32(truncatingIfNeeded: pairKey.count))
        if inserted {
            pairKey.append(key); pairCount.append(0); stepStamp.append(-1); stepSlotOf.append(0)
        }
        return Int(pi)
    }

    /// One neighbour change of a merge in word `w` (count `c`): HF's `(pair, ±1)` applied at once.
    @inline(__always) mutating func change(_ l: Int32, _ r: Int32, _ delta: Int64, _ w: Int32, _ c: Int64) {
        let p = pairIndex(Self.key(l, r))
        pairCount[p] &+= delta &* c
        if delta > 0 {
            let slot: Int
            if stepStamp[p] == step {
                slot = Int(stepSlotOf[p])
            } else {
                stepStamp[p] = step
                slot = slotPair.count
                stepSlotOf[p] = Int32(truncatingIfNeeded: slot)
                slotPair.append(Int32(truncatingIfNeeded: p)); slotLast.append(-1); slotSize.append(0)
            }
            if slotLast[slot] != w {
                slotLast[slot] = w
                slotSize[slot] &+= 1
                occSlot.append(Int32(truncatingIfNeeded: slot))
                occWord.append(w)
            }
        }
    }

    /// Rewrites the pool with only the lists that heap entries still refer to.
    mutating func compactPool() {
        var fresh = [Int32]()
        fresh.reserveCapacity(pool.count &- deadPool &+ (pool.count >> 3))
        for e in heap.items {
            let l = Int(e.list)
            let s = listStart[l], n = Int(listLen[l])
            listStart[l] = fresh.count
            fresh.append(contentsOf: pool[s ..< s &+ n])
        }
        pool = fresh
        deadPool = 0
    }

    static func run(_ problem: inout MergeProblem, _ settings: MergeSettings,
                    progress: ((TrainingProgress) -> Void)?) -> MergeOutcome {
        var learner = MergeLearner()
        return learner.learn(&problem, settings, progress: progress)
    }

    mutating func learn(_ problem: inout MergeProblem, _ settings: MergeSettings,
                        progress: ((TrainingProgress) -> Void)?) -> MergeOutcome {
        var tokens = problem.tokens
        tokenChars = problem.tokenChars
        var tokenIds: [[UInt8]: Int32] = [:]
        tokenIds.reserveCapacity(max(settings.vocabSize, tokens.count) * 2)
        for (i, t) in tokens.enumerated() where tokenIds[t] == nil { tokenIds[t] = Int32(i) }
        let maxLength = settings.maxTokenLength ?? Int.max
        let nWords = problem.wordCount.count

        // 1. Pair counts and, per pair, the words containing it (HF `count_pairs`).
        var lastWord: [Int32] = []
        var initialLen: [Int32] = []
        for w in 0 ..< nWords {
            let s = problem.wordStart[w], n = Int(problem.wordLength[w])
            let c = Int64(bitPattern: problem.wordCount[w])
            let w32 = Int32(truncatingIfNeeded: w)
            var k = 1
            while k < n {
                let p = pairIndex(Self.key(problem.symbols[s &+ k &- 1], problem.symbols[s &+ k]))
                if p == lastWord.count { lastWord.append(-1); initialLen.append(0) }
                pairCount[p] &+= c
                if lastWord[p] != w32 { lastWord[p] = w32; initialLen[p] &+= 1 }
                k &+= 1
            }
        }
        let nPairs = pairKey.count
        var fill = [Int](repeating: 0, count: nPairs)
        var total = 0
        for p in 0 ..< nPairs { fill[p] = total; total &+= Int(initialLen[p]) }
        listStart = fill
        listLen = initialLen
        initialLen = []
        pool = [Int32](repeating: 0, count: total)
        for p in 0 ..< nPairs { lastWord[p] = -1 }
        for w in 0 ..< nWords {
            let s = problem.wordStart[w], n = Int(problem.wordLength[w])
            let w32 = Int32(truncatingIfNeeded: w)
            var k = 1
            while k < n {
                let p = pairIndex(Self.key(problem.symbols[s &+ k &- 1], problem.symbols[s &+ k]))
                if lastWord[p] != w32 {
                    lastWord[p] = w32
                    pool[fill[p]] = w32
                    fill[p] &+= 1
                }
                k &+= 1
            }
        }
        lastWord = []
        fill = []
        for p in 0 ..< nPairs {
            if pairCount[p] > 0 {
                heap.push(MergeEntry(count: UInt64(pairCount[p]), pair: pairKey[p], pairIndex: Int32(p), list: Int32(p)))
            } else {
                deadPool &+= Int(listLen[p])
            }
        }
        peakPool = pool.count

        var merges: [(Int32, Int32, Int32)] = []
        let target = max(0, settings.vocabSize - tokens.count)
        merges.reserveCapacity(target)

        while tokenIds.count < settings.vocabSize {
            peakHeap = max(peakHeap, heap.items.count)
            guard var top = heap.pop() else { break }
            let current = UInt64(bitPattern: pairCount[Int(top.pairIndex)])
            if top.count != current {
                top.count = current
                heap.push(top)
                continue
            }
            if top.count < 1 || settings.minFrequency > top.count { break }

            let a = Int32(truncatingIfNeeded: top.pair >> 32), b = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let merged = tokens[Int(a)] + tokens[Int(b)]
            let newId: Int32
            if let existing = tokenIds[merged] {
                newId = existing
            } else {
                newId = Int32(tokens.count)
                tokens.append(merged)
                tokenChars.append(tokenChars[Int(a)] &+ tokenChars[Int(b)])
                tokenIds[merged] = newId
            }
            merges.append((a, b, newId))
            let newChars = tokenChars[Int(newId)]

            // 2. Apply to the entry's words, left to right, non-overlapping (HF `Word::merge`).
            slotPair.removeAll(keepingCapacity: true)
            slotLast.removeAll(keepingCapacity: true)
            slotSize.removeAll(keepingCapacity: true)
            occSlot.removeAll(keepingCapacity: true)
            occWord.removeAll(keepingCapacity: true)
            let list = Int(top.list)
            let lStart = listStart[list], lCount = Int(listLen[list])
            for j in 0 ..< lCount {
                let w = pool[lStart &+ j]
                let wi = Int(w)
                let start = problem.wordStart[wi]
                let n = Int(problem.wordLength[wi])
                if n < 2 { continue }
                let c = Int64(bitPattern: problem.wordCount[wi])
                var r = 0, out = 0
                while r < n {
                    let sr = problem.symbols[start &+ r]
                    if sr == a && r &+ 1 < n && problem.symbols[start &+ r &+ 1] == b {
                        if out > 0 {
                            let prev = problem.symbols[start &+ out &- 1]
                            change(prev, a, -1, w, c)
                            if tokenChars[Int(prev)] &+ newChars < maxLength { change(prev, newId, 1, w, c) }
                        }
                        if r &+ 2 < n {
                            let next = problem.symbols[start &+ r &+ 2]
                            change(b, next, -1, w, c)
                            if tokenChars[Int(next)] &+ newChars < maxLength { change(newId, next, 1, w, c) }
                        }
                        problem.symbols[start &+ out] = newId
                        out &+= 1
                        r &+= 2
                    } else {
                        if out != r { problem.symbols[start &+ out] = sr }
                        out &+= 1
                        r &+= 1
                    }
                }
                problem.wordLength[wi] = Int32(truncatingIfNeeded: out)
            }
            deadPool &+= lCount

            // 3. New entries: one per pair that gained occurrences (and still counts > 0), with those words.
            if !slotPair.isEmpty {
                var needed = 0
                for s in 0 ..< slotPair.count where pairCount[Int(slotPair[s])] > 0 { needed &+= Int(slotSize[s]) }
                if pool.count &+ needed > pool.capacity && deadPool > pool.count / 3 { compactPool() }
                var fillAt = [Int](repeating: -1, count: slotPair.count)
                var base = pool.count
                for s in 0 ..< slotPair.count {
                    let p = Int(slotPair[s])
                    let cnt = pairCount[p]
                    guard cnt > 0 else { continue }
                    fillAt[s] = base
                    heap.push(MergeEntry(count: UInt64(cnt), pair: pairKey[p], pairIndex: Int32(p),
                                         list: Int32(truncatingIfNeeded: listStart.count)))
                    listStart.append(base)
                    listLen.append(slotSize[s])
                    base &+= Int(slotSize[s])
                }
                pool.append(contentsOf: repeatElement(0, count: base &- pool.count))
                for k in 0 ..< occSlot.count {
                    let s = Int(occSlot[k])
                    let at = fillAt[s]
                    if at >= 0 {
                        pool[at] = occWord[k]
                        fillAt[s] = at &+ 1
                    }
                }
                peakPool = max(peakPool, pool.count)
            }
            step &+= 1
            if let progress, merges.count % 1000 == 0 { progress(.merging(done: merges.count, target: target)) }
        }
        progress?(.merging(done: merges.count, target: target))
        return MergeOutcome(merges: merges, tokens: tokens, distinctPairs: pairKey.count, initialListEntries: total,
                            finalPoolEntries: peakPool, peakHeap: peakHeap)
    }

    /// HF stores merges in a map pair → (rank, id) built in order, so a pair merged twice keeps its last rank.
    static func deduplicated(_ merges: [(Int32, Int32, Int32)]) -> [(Int32, Int32, Int32)] {
        var seen = Set<UInt64>()
        var out: [(Int32, Int32, Int32)] = []
        out.reserveCapacity(merges.count)
        for m in merges.reversed() {
            let key = UInt64(UInt32(bitPattern: m.0)) << 32 | UInt64(UInt32(bitPattern: m.1))
            if seen.insert(key).inserted { out.append(m) }
        }
        return out.reversed()
    }
}
