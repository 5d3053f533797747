import CPrefetch
import Dispatch
import GlossaPatterns

/// Ids-only encoding (`encodeIds`, `count`) of BPE tokenizers whose whole pre-tokenizer is one
/// hand-scanned regex (rank files, Llama-3 style `tokenizer.json`): the scanner, a per-thread memo of
/// short pieces and the output in one loop that writes into a raw buffer. Profiles of the general path
/// showed most of its time per piece in hashing, the vocabulary probe, the word cache's `memcmp` and
/// `Array.append`; a memo hit here is two loads, a multiply and a compare. Whatever the memo misses goes
/// through `BPEModel.tokenize`, so the ids are the general path's (`IdsPathTests` compare the two). Once
/// the model's backtracking encoder is built, long pieces that miss go to it directly, and long non-Latin
/// pieces are first cut where no token spans (`BacktrackingBPE.partEnd`): CJK runs become short parts.
struct IdsPath: Sendable {
    let model: BPEModel
    let splitter: PatternSplitter
    /// Built once (on an idle core after loading, or by the first encode), shared by all threads.
    let wholeTokens = LazyWholeTokens()

    /// Starts building the whole-token table on an idle core; encodes before it is ready go without it.
    func prepareInBackground() {
        let (tokens, model) = (wholeTokens, model)
        DispatchQueue.global().async { _ = tokens.get(model) }
    }

    /// The path for a range-path tokenizer with a BPE model and a single known-pattern split, or nil.
    static func select(rangePath: Bool, preTokenizer: PreTokenizerPipeline, model: TokenModel,
                       addedVocabulary: AddedVocabulary) -> IdsPath? {
        guard rangePath, !addedVocabulary.hasNormalizedTokens, case .bpe(let m) = model,
              preTokenizer.steps.count == 1 else { return nil }
        switch preTokenizer.steps[0] {
        case .pattern(let p, .isolated, false), .byteLevel(false, let p?):
            guard let k = p.known, k != .whitespace else { return nil }
            return IdsPath(model: m, splitter: p)
        default:
            return nil
        }
    }

    /// Encodes `text[start..<end]` (no added tokens inside) into `out` from `k0`; returns the new end.
    /// `out` must hold `k0 + (end - start) + PieceMemo.slack` ids (a token covers at least one byte).
    func encode(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, out: UnsafeMutablePointer<Int32>,
                at k0: Int, state: inout EncoderState) -> Int {
        let base = text.baseAddress!
        let memo = PieceMemo.prepared(state.pieceMemo, for: model, bytes: end &- start)
        state.pieceMemo = memo
        if !memo.wholeChecked {
            let (w, ready) = wholeTokens.get(model)
            if ready {
                memo.whole = w
                memo.wholeChecked = true
                // A model that takes a token as itself (tiktoken) accepts every hit unverified: no bits to copy.
                if let w, !model.options.ignoreMerges { memo.allocateVerified(w) }
            }
        }
        let slots = memo.slots, masks = memo.masks, setShift = memo.setShift
        /// The memo set (two slots, one cache line) of a piece with hash `h`.
        @inline(__always) func memoSet(_ h: UInt64) -> UnsafeMutablePointer<UInt64> { slots + PieceMemo.set(h, shift: setShift) &* 4 }
        let whole = memo.whole, verified = memo.verified
        let probe = whole?.probe
        // The whole-token table's filter (a bit per token's hash, 128 KiB): a piece whose bit is clear is no
        // token, and skips the probe of the 4–8 MB table, a cache miss for a piece seen first (a third of the
        // short pieces of `multi_nonlatin_mix` are no token, most of them new words; a seventh of English).
        let tokenFilter = whole?.filter
        // A model that takes a piece that is a token as that token (tiktoken) needs no check of hits, and
        // when the table holds every such token a miss there is a piece to merge.
        let trusted = model.options.ignoreMerges
        let lookupFirst = trusted && !(whole?.complete ?? false)
        // Constants only (`let`): a captured `var` read in the out-of-line `shortPiece` costs a runtime
        // exclusivity check per call.
        let byRank: Bool
        if case .concatenation(nil) = model.rule, whole?.complete == true, memo.byteIds != nil { byRank = true } else { byRank = false }
        state.bpe.cache.bind(to: model)
        let pairMemo = state.bpe.cache.storage
        // The backtracking encoder if built (by any thread), fetched once a call and used unretained (the model
        // holds it): fetched for every long piece, it was retained and released each time, two atomic operations
        // that perf put at ≈ 3.5 % of `multi_nonlatin_mix`'s time with o200k. Built during this call, it serves
        // `direct` at once and the cutting of long pieces from the next call on (only speed depends on cutting).
        let built = model.builtBacktracker(&state.bpe).map { Unmanaged.passUnretained($0) }
        let byteIds = memo.byteIds
        // Pieces of 1 or 2 bytes (three in ten of English pieces) are looked up in `bytePairs` by their bytes,
        // without a key, hash, prefetch or probe, where a token is final (rank files). 0: none are.
        let smallMax = trusted && whole != nil ? 2 : 0
        let small = whole?.bytePairs
        // Whole 16-byte loads are safe while they end inside the text.
        let loadLimit = text.count &- 16
        // The output position lives in memory of its own: as a variable captured by the out-of-line
        // `longPiece` it was boxed, and every access there paid a runtime exclusivity check. It is this
        // thread's cache line (`PieceMemo.hot`), not a small allocation of its own: written for every piece,
        // such a block could share a line with data other threads read for every piece.
        let kp = memo.hot
        kp.pointee = k0
        // Marks a whole-token id that is the piece's encoding (ids are below 2^24; -1 is no token).
        let accepted = 1 << 30
        @inline(__always) func isAccepted(_ f: Int) -> Bool { f & (accepted | Int.min) == accepted }

        /// The model's ids for the piece, written to `o`; returns their count. Like the helpers below it
        /// leaves the output position (`kp`) to the caller.
        @inline(__always) func general(_ p: UnsafePointer<UInt8>, _ n: Int, _ o: UnsafeMutablePointer<Int32>) -> Int {
            state.pieceIds.removeAll(keepingCapacity: true)
            model.tokenize(p, n, base: 0, ids: &state.pieceIds, offsets: &state.offsets, scratch: &state.bpe)
            let c = state.pieceIds.count
            state.pieceIds.withUnsafeBufferPointer { o.update(from: $0.baseAddress!, count: c) }
            return c
        }

        /// `general` for a piece of at most 16 bytes: the merge loop on raw buffers when the model's
        /// symbols are its bytes (what `mergePiece` then does, minus the word cache, arrays and spans).
        /// Out of line (a miss, a few percent of pieces): inlined, the scanning loop grew until the scanner's
        /// `end(at:)` was no longer inlined into it.
        @inline(never) func shortPiece(_ p: UnsafePointer<UInt8>, _ n: Int, _ w0: UInt64, _ w1: UInt64,
                                          _ o: UnsafeMutablePointer<Int32>) -> Int {
            guard let byteIds else { return general(p, n, o) }
            if byRank {
                // A model that takes a piece that is a token as that token returned on a hit in the complete
                // table (`short`): this piece is none.
                return whole!.mergeByRank(w0, w1, n, byteIds: byteIds, ids: o, bounds: memo.symEnds, ranks: memo.symRanks,
                                          notToken: trusted)
            }
            if lookupFirst {
                let id = model.wholeTokenId(p, n)
                if id >= 0 { o[0] = id; return 1 }
            }
            let ids = memo.symIds
            let c = model.mergeBytes(p, n, byteIds: byteIds, ids: ids, ends: memo.symEnds, memo: pairMemo)
            o.update(from: ids, count: c)
            return c
        }

        /// Non-Latin misses of 9–16 bytes of rank files (Cyrillic, Arabic, Indic words, CJK parts of three or
        /// more characters) go to the backtracking encoder once it is built: fewer instructions, D1 misses and
        /// mispredicted branches than `mergeByRank` (callgrind, o200k, Chinese: 198 → 182 M instructions a
        /// repetition; `multi_nonlatin_mix` 110 → 95 M). Out of line and not in `shortPiece`: there it made
        /// `mergeByRank` a call for every English miss.
        @inline(never) func byEncoder(_ p: UnsafePointer<UInt8>, _ n: Int, _ o: UnsafeMutablePointer<Int32>) -> Int? {
            direct(p, n, o)
        }

        /// The piece's bytes as two masked words (the memo's and the whole-token table's key) and their hash.
        @inline(__always) func key(_ s: Int, _ n: Int) -> (UInt64, UInt64, UInt64) {
            let p = base + s
            var w0: UInt64, w1: UInt64
            if s <= loadLimit {
                w0 = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
                w1 = UnsafeRawPointer(p + 8).loadUnaligned(as: UInt64.self)
            } else {
                (w0, w1) = PieceMemo.loadTail(p, n)
            }
            // Keep the piece's own bytes only.
            w0 &= masks[2 &* n]; w1 &= masks[2 &* n &+ 1]
            return (w0, w1, PieceMemo.hash(w0, w1))
        }

        @inline(__always) func short(_ s: Int, _ n: Int) {
            let (w0, w1, h) = key(s, n)
            shortKeyed(s, n, w0, w1, h)
        }

        /// The whole-token id of a short piece's key and whether it may be used as the piece's encoding
        /// (`accepted` set), or -1.
        @inline(__always) func wholeId(_ n: Int, _ w0: UInt64, _ w1: UInt64, _ h: UInt64) -> Int {
            guard let probe else { return -1 }
            let wid = probe.find(w0, w1, n, hash: h)
            if wid >= 0 && (trusted || verified[wid &>> 6] & (1 &<< UInt64(wid & 63)) != 0) { return wid | accepted }
            return wid
        }

        @inline(__always) func shortKeyed(_ s: Int, _ n: Int, _ w0: UInt64, _ w1: UInt64, _ h: UInt64) {
            shortFound(s, n, w0, w1, h, wholeId(n, w0, w1, h))
        }

        /// A short piece's ids once its whole-token probe (`wholeId`) is known: the token, or `shortMissed`.
        @inline(__always) func shortFound(_ s: Int, _ n: Int, _ w0: UInt64, _ w1: UInt64, _ h: UInt64, _ wid: Int) {
            if isAccepted(wid) {
                out[kp.pointee] = Int32(truncatingIfNeeded: wid & ~accepted)
                kp.pointee &+= 1
            } else {
                shortMissed(s, n, w0, w1, h, wid)
            }
        }

        /// A short piece that is not an accepted whole token (`wid`: its whole-token id to verify, or -1): from
        /// the memo, else merged and remembered.
        @inline(__always) func shortMissed(_ s: Int, _ n: Int, _ w0: UInt64, _ w1: UInt64, _ h: UInt64, _ wid: Int) {
            let p = base + s
            // Two ways in one cache line: the way that holds the piece, if either does.
            let set = memoSet(h)
            let hit1 = set[4] == w0 && set[5] == w1 && set[6] & 0xFF == UInt64(n)
            if set[0] == w0 && set[1] == w1 && set[2] & 0xFF == UInt64(n) || hit1 {
                // Up to four ids stored; all are written (the buffer has slack), `count` kept.
                let slot = hit1 ? set + 4 : set
                let meta = slot[2], rest = slot[3]
                let k = kp.pointee
                out[k] = Int32(truncatingIfNeeded: meta &>> 16 & 0xFF_FFFF)
                out[k &+ 1] = Int32(truncatingIfNeeded: meta &>> 40)
                out[k &+ 2] = Int32(truncatingIfNeeded: rest)
                out[k &+ 3] = Int32(truncatingIfNeeded: rest &>> 32)
                kp.pointee = k &+ Int(truncatingIfNeeded: (meta &>> 8) & 0xFF)
                if hit1 {
                    // The piece found second moves first (the next new piece evicts the other).
                    let (a0, a1, a2, a3) = (set[0], set[1], set[2], set[3])
                    set[0] = w0; set[1] = w1; set[2] = meta; set[3] = rest
                    set[4] = a0; set[5] = a1; set[6] = a2; set[7] = a3
                }
                return
            }
            let c = n > 8 && byRank && (p[0] | p[1]) & 0x80 != 0 ? byEncoder(p, n, out + kp.pointee) ?? shortPiece(p, n, w0, w1, out + kp.pointee)
                : shortPiece(p, n, w0, w1, out + kp.pointee)
            kp.pointee &+= c
            // Short non-Latin misses (Cyrillic, Greek, Arabic words) count towards building the backtracking
            // encoder as they did when they went through `tokenize` (the long branch passes them on).
            if n > 8 && (p[0] | p[1]) & 0x80 != 0 { memo.servedLong &+= n }
            let ids = out + (kp.pointee &- c)
            if c == 1 && wid >= 0 && Int(ids[0]) == wid {
                // The token is its own encoding: whole-table hits for it count from now on (for a model that
                // checks them; `verified` has no bits otherwise).
                if !trusted { verified[wid &>> 6] |= 1 &<< UInt64(wid & 63) }
            } else if c >= 1 && c <= 4 {
                let id0 = UInt32(bitPattern: ids[0]), id1 = c > 1 ? UInt32(bitPattern: ids[1]) : 0
                let id2 = c > 2 ? UInt32(bitPattern: ids[2]) : 0, id3 = c > 3 ? UInt32(bitPattern: ids[3]) : 0
                // The first two ids take 24 bits each (the whole-token table's limit too).
                guard (id0 | id1) < 1 << 24 else { return }
                // The older piece moves to the second way, the new one takes the first.
                set.advanced(by: 4).update(from: set, count: 4)
                set[0] = w0; set[1] = w1
                set[2] = UInt64(n) | UInt64(c) &<< 8 | UInt64(id0) &<< 16 | UInt64(id1) &<< 40
                set[3] = UInt64(id2) | UInt64(id3) &<< 32
            }
        }

        /// `hash`: the piece's `hashBytes` when the scan computed it (see `PieceMemo.hashedLongMax`).
        func long(_ s: Int, _ n: Int, hash: UInt64? = nil) {
            let p = base + s
            if n <= PieceMemo.longMaxKey {
                // Long pieces (whitespace runs, rules of dashes, identifiers) repeat too, and the merge loop
                // is at its most expensive on them.
                let h = hash ?? hashBytes(p, n)
                let e = memo.longSlots + memo.longSlot(h) &* 4
                let key = e[1]
                if e[0] == h && Int(truncatingIfNeeded: key & 0xFFFF_FFFF) == n
                    && memcmp(memo.longKeys + Int(truncatingIfNeeded: key &>> 32), p, n) == 0 {
                    let c = Int(truncatingIfNeeded: e[2] & 0xFFFF_FFFF)
                    (out + kp.pointee).update(from: memo.longIds + Int(truncatingIfNeeded: e[2] &>> 32), count: c)
                    kp.pointee &+= c
                    // Only non-Latin runs (a non-ASCII byte among the first two): the encoder pays off on
                    // long CJK pieces; building it for English whitespace and ASCII-art repeats cost CPU time.
                    if (p[0] | p[1]) & 0x80 != 0 { memo.servedLong &+= n }
                    return
                }
                if memo.servedLong > 0 && built == nil && state.bpe.backtracking?.encoder == nil {
                    // The merge loop would have paid for these repeats: they count towards building the
                    // backtracking encoder as they did before the memo (long CJK runs need it early).
                    model.noteMemoized(memo.servedLong)
                    memo.servedLong = 0
                }
                let c = direct(p, n, out + kp.pointee) ?? general(p, n, out + kp.pointee)
                memo.storeLong(e, hash: h, p, n, ids: out + kp.pointee, count: c)
                kp.pointee &+= c
            } else {
                kp.pointee &+= direct(p, n, out + kp.pointee) ?? general(p, n, out + kp.pointee)
            }
        }

        /// The ids of a piece of 17…64 bytes that the built encoder declined (`BacktrackingBPE.declines`), from the
        /// merge loop on raw buffers (`WholeTokenTable.mergeByRank`) for rank files, where `general` took ≈ 8 µs
        /// (Llama 3's words in which a token that its merges form out of rank order occurs); else nil. A piece
        /// that is a token is that token.
        @inline(never) func declinedLong(_ p: UnsafePointer<UInt8>, _ n: Int, _ o: UnsafeMutablePointer<Int32>) -> Int? {
            guard n > 16 && n <= WholeTokenTable.longMergeMax && byRank && trusted, let byteIds, let whole else { return nil }
            let id = model.wholeTokenId(p, n)
            if id >= 0 { o[0] = id; return 1 }
            return whole.mergeByRank(p, n, byteIds: byteIds, ids: o, bounds: memo.symEnds, ranks: memo.symRanks, notToken: true,
                                     longRank: { q, len in let r = model.wholeTokenId(q, len); return r < 0 ? .max : r })
        }

        /// The backtracking encoder's ids for a long piece written straight to `o` once it is built
        /// (`tokenize` would give the same through the word cache, span arrays and copies), or nil.
        @inline(__always) func direct(_ p: UnsafePointer<UInt8>, _ n: Int, _ o: UnsafeMutablePointer<Int32>) -> Int? {
            let c: Int
            if let built {
                c = built._withUnsafeGuaranteedRef { $0.encodeIds(p, n, o) }
            } else {
                guard let bt = model.builtBacktracker(&state.bpe) else { return nil }
                c = bt.encodeIds(p, n, o)
            }
            return c < 0 ? declinedLong(p, n, o) : c
        }

        /// A piece of more than 16 bytes. Out of line, so that `short` stays inlined in the scanning loop
        /// (inlined here as well, the loop's function grew past inlining and paid runtime exclusivity
        /// checks on the captured state for every piece).
        @inline(never) func longPiece(_ s: Int, _ n: Int, hash: UInt64?) {
            let p = base + s
            if (p[0] | p[1]) & 0x80 != 0, let built, memo.tryCut(p[0] >= 0x80 ? p[0] : p[1]) {
                built._withUnsafeGuaranteedRef { cut(s, n, $0) }
            } else {
                long(s, n, hash: hash)
            }
        }

        /// The merge loop's ids for `q[0..<m]` without the whole-token shortcut, written to `o`.
        @inline(never) func mergeLoop(_ q: UnsafePointer<UInt8>, _ m: Int, _ o: UnsafeMutablePointer<Int32>) -> Int {
            state.bpe.reset()
            model.mergePiece(q, m, &state.bpe)
            var c = 0
            for k in 0..<state.bpe.count where state.bpe.alive(k) { o[c] = state.bpe.ids[k]; c &+= 1 }
            return c
        }

        /// A long non-Latin piece cut into parts (`longPiece`), with the built encoder `bt`.
        @inline(__always) func cut(_ s: Int, _ n: Int, _ bt: BacktrackingBPE) {
            let p = base + s
            // Non-Latin runs (CJK above all) are cut where no token spans and the parts, mostly short and
            // repeated, go through the memos (exact: see `partEnd`).
            var a = 0, carry: UInt64 = 0, parts = 0
            while a < n {
                if trusted, let whole, carry &>> 32 == 3 && a &+ 10 <= n {
                    // Runs of 3-byte characters (CJK, kana): parts of one or two characters that are tokens
                    // take their ids from `char3` and `charPairs`, deciding the same cuts as `partEnd`
                    // (`carry` is the character at `a`, read by it) without its general character loop, and
                    // without a probe of the 4–8 MB whole-token table for two-character parts.
                    let c1 = UInt32(truncatingIfNeeded: carry)
                    let w2 = UnsafeRawPointer(p + (a &+ 3)).loadUnaligned(as: UInt32.self)
                    if w2 & 0xC0C0F0 == 0x8080E0 {
                        let c2 = w2 & 0xFF_FFFF
                        if bt.cuttable(c1, 3, c2, 3) {
                            let id = whole.char3[Int(truncatingIfNeeded: WholeTokenTable.char3Bits(c1))]
                            if id >= 0 && !bt.isAvoidedToken(p + a, 3) {
                                out[kp.pointee] = id
                                kp.pointee &+= 1
                                a &+= 3; carry = 3 &<< 32 | UInt64(c2); parts &+= 1
                                continue
                            }
                        } else {
                            let w3 = UnsafeRawPointer(p + (a &+ 6)).loadUnaligned(as: UInt32.self)
                            let c3 = w3 & 0xFF_FFFF
                            if w3 & 0xC0C0F0 == 0x8080E0 && bt.cuttable(c2, 3, c3, 3) {
                                let id = whole.charPair(c1, c2)
                                if id >= 0 && !bt.isAvoidedToken(p + a, 6) {
                                    out[kp.pointee] = id
                                    kp.pointee &+= 1
                                    a &+= 6; carry = 3 &<< 32 | UInt64(c3); parts &+= 1
                                    continue
                                }
                            }
                        }
                    }
                }
                let b = bt.partEnd(p, a, n, carry: &carry)
                if bt.isAvoidedToken(p + a, b &- a) {
                    if b &- a == n {
                        // The piece itself is the token (tiktoken takes it as it is).
                        long(s, n)
                        return
                    }
                    // Llama 3 (e.g. "ている" in Japanese): a part that is a token BPE never builds. Its
                    // ids are the merge loop's on its bytes, as for any part, but not through `short`,
                    // whose whole-token probe would give the token. The piece uncut instead went to
                    // the heap merge whole (the encoder declines it): ≈ 5 % of Llama 3's time on
                    // `multi_nonlatin_mix`, for 300 Japanese pieces a repetition.
                    kp.pointee &+= mergeLoop(p + a, b &- a, out + kp.pointee)
                } else if b &- a == 3 && trusted, let whole, let k = WholeTokenTable.char3Index(UInt64(p[a]) | UInt64(p[a &+ 1]) &<< 8 | UInt64(p[a &+ 2]) &<< 16),
                   whole.char3[k] >= 0 {
                    // One CJK character that is a token (most parts): its id, without hash or probe.
                    out[kp.pointee] = whole.char3[k]
                    kp.pointee &+= 1
                } else if b &- a == 2 && trusted, let whole,
                          case let id = whole.bytePairs[Int(p[a]) | Int(p[a &+ 1]) &<< 8], id != .max {
                    // One 2-byte character that is a token (Cyrillic, Arabic parts for cl100k): `bytePairs`.
                    out[kp.pointee] = id
                    kp.pointee &+= 1
                } else if b &- a <= 16 { short(s &+ a, b &- a) } else { long(s &+ a, b &- a) }
                a = b; parts &+= 1
            }
            memo.noteCut(p[0] >= 0x80 ? p[0] : p[1], bytes: n, parts: parts)
        }

        // Matches chain from `start` with no gaps (the pattern is not `.whitespace`), as `forEachRange` cuts them.
        let scanner = splitter.pieceScanner(UnsafeBufferPointer(rebasing: text[start..<end]))!
        var i = 0
        let n = end &- start
        let batch = memo.batch, found = memo.found, probes = memo.probes
        // Three passes over runs of up to `PieceMemo.batchSize` pieces: scan them, look up those of 1–2 bytes
        // (`smallMax`), key the other short ones and start the load of each key's whole-token slot; probe the
        // keyed ones (the slots have arrived) and start the load of the memo set of each piece that is no
        // accepted token; write the ids. In one pass every piece waited for its
        // probe of the 4–8 MB table (perf: a quarter of all samples on that load) and a miss then for its memo
        // slot; here the loads of a whole run are in flight together (o200k, English: +20 % while the other
        // core was busy, a few % on a quiet machine; runs of 8 or 16 pieces gained less). Runs of 64: +1.7 to
        // +2.1 % against 32 once pieces of 1–2 bytes skipped the probes (quiet machine, o200k), 128 −1 %.
        // The cl100k family and o200k take their piece ends from 64-byte blocks (`blockBounds`): the starts claimed
        // below a block's limit in `pending` (bits from `blockBase`), then one piece by `end(at:)` when the block
        // stopped at a byte it leaves to it, then the next block. A block that claims less than four starts
        // (non-Latin text: a block for every piece cost CJK and Cyrillic 3–15 %) makes the next `skip` pieces go
        // to `end(at:)`, twice as many after each such block in a row (`backoff`, up to 64).
        let blocks = scanner.hasBlockBounds
        var pending: UInt64 = 0, blockBase = 0, skip = 0, backoff = 1
        while i < n {
            let first = i
            var c = 0, np = 0
            while c < PieceMemo.batchSize && i < n {
                if pending == 0 {
                    if skip > 0 {
                        skip &-= 1
                    } else if blocks && i &+ 64 <= n {
                        let (bounds, limit) = scanner.blockBounds(at: i)
                        pending = bounds; blockBase = i
                        let b2 = bounds & (bounds &- 1), b3 = b2 & (b2 &- 1)
                        if b3 & (b3 &- 1) != 0 {
                            backoff = 1; skip = limit < 64 ? 1 : 0
                        } else {
                            skip = backoff; backoff = Swift.min(backoff &* 2, 64)
                        }
                    }
                }
                let e: Int
                if pending != 0 {
                    e = blockBase &+ pending.trailingZeroBitCount
                    pending &= pending &- 1
                } else {
                    e = scanner.end(at: i)
                }
                let m = e &- i
                let b = batch + 4 &* c
                b[0] = UInt64(truncatingIfNeeded: e)
                if m <= smallMax {
                    let p = base + (start &+ i)
                    let v = small.unsafelyUnwrapped[WholeTokenTable.smallIndex(UInt64(p[0]) | UInt64(p[m &- 1]) &<< 8, m)]
                    found[c] = v == .max ? -1 : v | Int32(truncatingIfNeeded: accepted)
                } else if m <= 16 {
                    let (w0, w1, h) = key(start &+ i, m)
                    b[1] = w0; b[2] = w1; b[3] = h
                    if let tokenFilter, tokenFilter[WholeTokenTable.filterWord(h)] & WholeTokenTable.filterBit(h) == 0 {
                        // No token: the memo set is what the piece needs next.
                        found[c] = -1
                        glossa_prefetch(memoSet(h))
                    } else {
                        probe?.prefetch(n: m, hash: h)
                        probes[np] = UInt8(truncatingIfNeeded: c)
                        np &+= 1
                    }
                } else {
                    found[c] = -1
                    b[1] = 0
                    if m <= PieceMemo.hashedLongMax {
                        // The long memo's slot, loaded while the run is scanned: on first sights of words over
                        // 16 bytes (Cyrillic, Arabic) perf put ≈ 4 % of all time on that load when `long` made it.
                        let h = hashBytes(base + (start &+ i), m)
                        b[1] = 1; b[3] = h
                        glossa_prefetch(memo.longSlots + memo.longSlot(h) &* 4)
                    }
                }
                c &+= 1
                i = e
            }
            // Probes of the pieces keyed above (their slots loaded by now); the memo slot of a piece that is no
            // accepted token is loaded next.
            var q = 0
            while q < np {
                let j = Int(probes[q])
                let b = batch + 4 &* j
                let s = j == 0 ? first : Int(truncatingIfNeeded: b[-4])
                let f = wholeId(Int(truncatingIfNeeded: b[0]) &- s, b[1], b[2], b[3])
                if !isAccepted(f) { glossa_prefetch(memoSet(b[3])) }
                found[j] = Int32(truncatingIfNeeded: f)
                q &+= 1
            }
            // The output position in a register while whole tokens are written, in `kp` around the other
            // paths: through memory, each piece's load waited for the previous piece's store.
            var s = first, j = 0
            var k = kp.pointee
            while j < c {
                let b = batch + 4 &* j
                let e = Int(truncatingIfNeeded: b[0])
                let f = Int(found[j])
                if e &- s <= 16 && isAccepted(f) {
                    out[k] = Int32(truncatingIfNeeded: f & ~accepted)
                    k &+= 1
                } else {
                    kp.pointee = k
                    if e &- s <= smallMax {
                        // A pair of bytes that is no token: keyed now.
                        short(start &+ s, e &- s)
                    } else if e &- s <= 16 {
                        shortMissed(start &+ s, e &- s, b[1], b[2], b[3], f)
                    } else {
                        longPiece(start &+ s, e &- s, hash: b[1] != 0 ? b[3] : nil)
                    }
                    k = kp.pointee
                }
                s = e
                j &+= 1
            }
            kp.pointee = k
        }
        return kp.pointee
    }
}

/// Per thread: short pieces (≤ 16 bytes) → their ids (≤ 4), in sets of two slots (one cache line; the newer
/// piece first). A slot is four words: the piece's bytes as two little-endian words (zero-padded),
/// (length | count << 8 | id0 << 16 | id1 << 40), (id2 | id3 << 32). Empty slots have length 0, which no
/// piece has. Direct-mapped, evictions were 21 % of the 25 MB English file's misses (each a merge of
/// ≈ 1,000 instructions), and pieces of four tokens 6 %.
final class PieceMemo: SizedCache {
    /// Slots (log2) of the short memo in a full memo and in a small one (`SizedCache`).
    static let bits = 15
    static let smallBits = 7
    /// Ids written past the end of a piece's own (see `IdsPath.encode`).
    static let slack = 4
    let owner: BPEModel
    let full: Bool
    var bytesSeen = 0
    let slots: UnsafeMutablePointer<UInt64>
    /// 64 − log2 of the slots (`set`).
    let setShift: UInt64

    /// Pieces of 17…`longMaxKey` bytes, direct-mapped by `hashBytes`: four words per slot, (hash,
    /// key offset << 32 | length, ids offset << 32 | count, unused); keys and ids live in two bump arenas,
    /// and the long memo starts over when either is full. Length 0 marks an empty slot.
    static let longBits = 12
    static let longMaxKey = 1024
    static let longKeyBytes = 1 << 20
    static let longIdCount = 1 << 18
    /// The long memo's slots (log2) and arenas in a small memo.
    static let smallLongBits = 5
    static let smallLongKeyBytes = 1 << 12
    static let smallLongIdCount = 1 << 10
    let longBits: Int
    let longKeyCapacity: Int
    let longIdCapacity: Int
    /// Long pieces up to this length have their hash computed and their slot loaded by the scan (`IdsPath.encode`):
    /// words of two-byte scripts; longer pieces are mostly CJK runs, which are cut into parts instead.
    static let hashedLongMax = 64
    let longSlots: UnsafeMutablePointer<UInt64>
    let longKeys: UnsafeMutablePointer<UInt8>
    let longIds: UnsafeMutablePointer<Int32>
    var longKeyUsed = 0
    var longIdsUsed = 0
    /// Bytes of long non-Latin pieces served from the memo since the model last heard of them. Kept in
    /// memory of its own: a stored property paid a runtime exclusivity check on every update.
    var servedLong: Int {
        get { hot[1] }
        set { hot[1] = newValue }
    }
    /// One cache line of this thread's: `IdsPath.encode`'s output position at 0, `servedLong` at 1.
    let hot: UnsafeMutablePointer<Int>
    /// Pieces scanned ahead of their probes (`IdsPath.encode`): four words each, (end, w0, w1, hash).
    static let batchSize = 64
    let batch: UnsafeMutablePointer<UInt64>
    /// The whole-token probe of each: the id found (with bit 30 set when it is the piece's encoding), or -1.
    let found: UnsafeMutablePointer<Int32>
    /// The indices in the run of the pieces keyed for a probe.
    let probes: UnsafeMutablePointer<UInt8>

    /// `makeMasks()`'s values.
    let masks: UnsafeMutablePointer<UInt64>
    /// The one allocation that holds the buffers above and below (`CacheBlock`).
    private let block: UnsafeMutableRawPointer

    /// For n in 0...16, the masks that keep the first n bytes of a piece's two words, at 2n and 2n + 1
    /// (memo keys, whole-token keys and the substrings `mergeByRank` probes). The caller deallocates.
    static func makeMasks() -> UnsafeMutablePointer<UInt64> {
        let masks = CacheLines.allocate(UInt64.self, count: 34)
        fillMasks(masks)
        return masks
    }

    private static func fillMasks(_ masks: UnsafeMutablePointer<UInt64>) {
        for n in 0...16 { (masks[2 * n], masks[2 * n + 1]) = firstBytesMasks(n) }
    }

    /// The model's whole-token table (nil when it has none), fetched on first use.
    var whole: WholeTokenTable?
    var wholeChecked = false
    /// One bit per token id: this thread found the token to be its own encoding (see `WholeTokenTable`).
    var verified = CacheLines.allocate(UInt64.self, count: 1)
    /// The id of each byte when the model's initial symbols are its bytes and every byte has one (then
    /// `mergePiece` is `mergeQuadratic` over these for short pieces); else nil.
    let byteIds: UnsafeMutablePointer<Int32>?
    /// Symbols of one piece being merged (short pieces; `symEnds` and `symRanks` also the declined long
    /// ones of `WholeTokenTable.longMergeMax` bytes at most).
    let symIds: UnsafeMutablePointer<Int32>
    let symEnds: UnsafeMutablePointer<Int32>
    let symRanks: UnsafeMutablePointer<Int32>

    /// This thread's verified bits, starting from the table's `selfEncoded` when it has them.
    func allocateVerified(_ table: WholeTokenTable) {
        verified.deallocate()
        let words = (table.idLimit &+ 63) &>> 6
        verified = CacheLines.allocate(UInt64.self, count: words)
        if let known = table.selfEncoded { verified.initialize(from: known, count: words) } else { verified.initialize(repeating: 0, count: words) }
    }

    /// Whether the model's initial symbols are its bytes and every byte has an id (`byteIds`).
    static func mergesBytes(_ model: BPEModel) -> Bool {
        model.byteLevel && model.plainSymbols && model.byteIds.count == 256 && !model.byteIds.contains(where: { $0 < 0 })
    }

    /// Per lead byte of long non-Latin pieces: bytes cut, parts made, pieces passed over. Cutting
    /// (`BacktrackingBPE.partEnd`) pays when the parts are short enough for the short memo (CJK); in
    /// Cyrillic, Arabic or Devanagari words tokens span nearly every boundary (o200k: 1 % cut), and the
    /// scan is wasted. Only speed depends on it: every way of cutting gives the same ids.
    let cutStats: UnsafeMutablePointer<UInt32>

    /// Whether to cut a long piece whose first non-ASCII byte is `lead`: while there is little to go by,
    /// while parts average 16 bytes or less, and every 32nd piece otherwise (the text may change).
    @inline(__always) func tryCut(_ lead: UInt8) -> Bool {
        let st = cutStats + Int(lead) &* 3
        if st[0] < 4096 || st[1] &* 16 >= st[0] { return true }
        st[2] &+= 1
        return st[2] & 31 == 0
    }

    @inline(__always) func noteCut(_ lead: UInt8, bytes: Int, parts: Int) {
        let st = cutStats + Int(lead) &* 3
        st[0] &+= UInt32(truncatingIfNeeded: bytes); st[1] &+= UInt32(truncatingIfNeeded: parts)
        // Halved now and then: recent text weighs most, and the counts never wrap.
        if st[0] >= 1 << 20 { st[0] &>>= 1; st[1] &>>= 1 }
    }

    init(owner: BPEModel, full: Bool) {
        self.owner = owner
        self.full = full
        let bits = full ? Self.bits : Self.smallBits
        setShift = UInt64(64 &- bits)
        longBits = full ? Self.longBits : Self.smallLongBits
        longKeyCapacity = full ? Self.longKeyBytes : Self.smallLongKeyBytes
        longIdCapacity = full ? Self.longIdCount : Self.smallLongIdCount
        var layout = CacheBlock()
        let at = (cutStats: layout.add(UInt32.self, 3 * 256), slots: layout.add(UInt64.self, 4 << bits),
                  longSlots: layout.add(UInt64.self, 4 << longBits), longKeys: layout.add(UInt8.self, longKeyCapacity),
                  longIds: layout.add(Int32.self, longIdCapacity), hot: layout.add(Int.self, 8),
                  batch: layout.add(UInt64.self, 4 * Self.batchSize), found: layout.add(Int32.self, Self.batchSize),
                  probes: layout.add(UInt8.self, Self.batchSize), masks: layout.add(UInt64.self, 34),
                  symIds: layout.add(Int32.self, 16), symEnds: layout.add(Int32.self, WholeTokenTable.longMergeMax &+ 1),
                  symRanks: layout.add(Int32.self, WholeTokenTable.longMergeMax), byteIds: layout.add(Int32.self, 256))
        block = layout.allocate()
        cutStats = CacheBlock.buffer(block, at.cutStats, 3 * 256, zeroed: true)
        slots = CacheBlock.buffer(block, at.slots, 4 << bits, zeroed: true)
        longSlots = CacheBlock.buffer(block, at.longSlots, 4 << longBits, zeroed: true)
        longKeys = CacheBlock.buffer(block, at.longKeys, longKeyCapacity)
        longIds = CacheBlock.buffer(block, at.longIds, longIdCapacity)
        hot = CacheBlock.buffer(block, at.hot, 8, zeroed: true)
        batch = CacheBlock.buffer(block, at.batch, 4 * Self.batchSize)
        found = CacheBlock.buffer(block, at.found, Self.batchSize)
        probes = CacheBlock.buffer(block, at.probes, Self.batchSize)
        masks = CacheBlock.buffer(block, at.masks, 34)
        Self.fillMasks(masks)
        symIds = CacheBlock.buffer(block, at.symIds, 16)
        symEnds = CacheBlock.buffer(block, at.symEnds, WholeTokenTable.longMergeMax &+ 1)
        symRanks = CacheBlock.buffer(block, at.symRanks, WholeTokenTable.longMergeMax)
        verified.initialize(to: 0)
        if Self.mergesBytes(owner) {
            let b: UnsafeMutablePointer<Int32> = CacheBlock.buffer(block, at.byteIds, 256)
            b.initialize(from: owner.byteIds, count: 256)
            byteIds = b
        } else {
            byteIds = nil
        }
    }
    deinit {
        block.deallocate()
        verified.deallocate()
    }

    @inline(__always) func longSlot(_ h: UInt64) -> Int {
        Int(truncatingIfNeeded: h &>> (64 &- UInt64(longBits)))
    }

    /// Records `p[0..<n]` → `ids[0..<count]` in the long slot `e`.
    func storeLong(_ e: UnsafeMutablePointer<UInt64>, hash: UInt64, _ p: UnsafePointer<UInt8>, _ n: Int,
                   ids: UnsafePointer<Int32>, count: Int) {
        if longKeyUsed &+ n > longKeyCapacity || longIdsUsed &+ count > longIdCapacity {
            longSlots.update(repeating: 0, count: 4 << longBits)
            longKeyUsed = 0; longIdsUsed = 0
        }
        (longKeys + longKeyUsed).update(from: p, count: n)
        (longIds + longIdsUsed).update(from: ids, count: count)
        e[0] = hash
        e[1] = UInt64(longKeyUsed) &<< 32 | UInt64(n)
        e[2] = UInt64(longIdsUsed) &<< 32 | UInt64(count)
        longKeyUsed &+= n; longIdsUsed &+= count
    }

    /// Hash of a short piece's masked words: its top bits index the memo and the whole-token table.
    @inline(__always) static func hash(_ w0: UInt64, _ w1: UInt64) -> UInt64 {
        let h = (w0 &* 0x9E37_79B9_7F4A_7C15) ^ (w1 &* 0xC2B2_AE3D_27D4_EB4F)
        return h ^ (h &>> 32)
    }

    /// The first slot of the set of a piece with hash `h` in a memo whose `setShift` is `shift`.
    @inline(__always) static func set(_ h: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: h &>> shift) & ~1
    }

    /// The words of `p[0..<n]` (n ≤ 16) read byte by byte: near the end of the text.
    static func loadTail(_ p: UnsafePointer<UInt8>, _ n: Int) -> (UInt64, UInt64) {
        var w0: UInt64 = 0, w1: UInt64 = 0
        var i = 0
        while i < n {
            if i < 8 { w0 |= UInt64(p[i]) &<< UInt64(8 &* i) } else { w1 |= UInt64(p[i]) &<< UInt64(8 &* (i &- 8)) }
            i &+= 1
        }
        return (w0, w1)
    }
}

/// The raw id buffer of the ids-only path (grown, never shrunk), on cache lines of its own.
final class IdsBuffer {
    var ids = CacheLines.allocate(Int32.self, count: 1024)
    var capacity = 1024
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        ids.deallocate()
        capacity = Swift.max(n, capacity &* 2)
        ids = CacheLines.allocate(Int32.self, count: capacity)
    }
    deinit { ids.deallocate() }
}
