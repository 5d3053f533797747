import Foundation
import GlossaTensor

// CW2V, constrained word2vec (Mundra et al., CoNLL 2024, arXiv 2407.05841; spec §6): every new row is a learned
// convex combination of frozen old rows, `e_t = softmax(a_t)ᵀ E_s[C_t]`, trained with skip-gram negative sampling
// on a corpus tokenized with the extended tokenizer. Untied models train a second set of logits over the head's rows
// (`A_W` for `embed_tokens`, `A_V` for `lm_head`); tied models share one.
//
// CPU variant (spec §6 "cheap CPU variant"): the support `C_t` of each new token is a sparse candidate set of
// `support` old rows (default 64) instead of all |V_s| with low-rank logits: the token's FVT pieces, then (with
// token vectors) its nearest old tokens in the aux space, then the old rows nearest (cosine, in that matrix) to
// the FVT row. Logits are full-rank per candidate and trained with sparse Adam on mini-batches of corpus text.
// Rows are inside the convex hull of the old rows by construction (softmax weights over old rows only).

/// Where the logits start.
public enum CW2VStart: String, Sendable, CaseIterable {
    /// 90% of the mass on the FVT pieces (by multiplicity), the rest spread over the other candidates.
    case fvt
    /// Equal logits (the reference code's U(0,1) start is close to uniform over all old rows).
    case uniform
}

public struct CW2VOptions: Sendable {
    public var epochs = 3
    public var window = 5
    public var negatives = 5
    /// Adam step size on the logits, decayed linearly to zero over training.
    public var learningRate: Float = 0.05
    /// Candidate old rows per new token.
    public var support = 64
    /// Sub-sampling threshold `t` (keep probability `sqrt(t/f) + t/f`).
    public var subsample = 1e-4
    /// Corpus tokens per mini-batch (one Adam step per touched token per batch).
    public var batchTokens = 8192
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var seed: UInt64 = 1234
    public var start: CW2VStart = .fvt
    /// Called with a one-line status after each mini-batch (the CLI prints it on a terminal).
    public var progress: (@Sendable (String) -> Void)? = nil
    public init() {}
}

/// What CW2V trains on: the matrices (rows by id), the corpus as ids, and which ids are new (trainable) or old
/// (frozen; candidates and contexts). Ids that are neither (special tokens) are dropped from the corpus.
public struct CW2VInputs: Sendable {
    public var input: Tensor
    /// The untied head; nil when tied.
    public var output: Tensor?
    public var sequences: [[Int32]]
    /// Vocabulary id of new token `i` (the order of `PlanInputs`).
    public var newIds: [Int]
    public var oldRows: [Int]
    public init(input: Tensor, output: Tensor?, sequences: [[Int32]], newIds: [Int], oldRows: [Int]) {
        self.input = input; self.output = output; self.sequences = sequences; self.newIds = newIds; self.oldRows = oldRows
    }
}

public enum CW2V {
    /// Shards per mini-batch: fixed (not the thread count) so results depend only on the seed.
    static let shards = 8

    public static func plan(_ inputs: PlanInputs, _ c: CW2VInputs, options o: CW2VOptions) throws(InitError) -> InitPlan {
        let n = inputs.count
        guard c.newIds.count == n else { throw InitError("cw2v: \(c.newIds.count) new ids for \(n) tokens") }
        guard !c.oldRows.isEmpty else { throw InitError("cw2v: no old rows to combine") }
        let d = c.input.shape[1]
        if let h = c.output, h.shape[1] != d { throw InitError("cw2v: the head has dimension \(h.shape[1]), the embedding \(d)") }
        let vocab = max(c.input.shape[0], c.output?.shape[0] ?? 0, (c.newIds.max() ?? 0) &+ 1)
        for id in c.oldRows where id >= c.input.shape[0] || id >= (c.output?.shape[0] ?? Int.max) {
            throw InitError("cw2v: old row \(id) is beyond the matrix")
        }
        if n == 0 { return InitPlan(input: []) }
        let m = min(max(1, o.support), c.oldRows.count)
        let tables = c.output == nil ? [c.input] : [c.input, c.output!]
        var notes: [String] = []

        // Candidates and starting logits per table.
        var cands: [[Int32]] = [], logits: [[Float]] = []
        for x in tables {
            let (cd, lg) = candidates(inputs, matrix: x, oldRows: c.oldRows, support: m, start: o.start, threads: o.threads)
            cands.append(cd); logits.append(lg)
        }
        // Corpus roles: ≥ 0 new index, -1 old (frozen), -2 dropped.
        var role = [Int32](repeating: -2, count: vocab)
        for r in c.oldRows { role[r] = -1 }
        for (i, id) in c.newIds.enumerated() { role[id] = Int32(i) }
        var seqs: [[Int32]] = []
        var counts = [Int](repeating: 0, count: vocab)
        var total = 0
        for s in c.sequences {
            let f = s.filter { $0 >= 0 && Int($0) < vocab && role[Int($0)] != -2 }
            if f.count < 2 { continue }
            for t in f { counts[Int(t)] &+= 1 }
            total &+= f.count
            seqs.append(f)
        }
        let seen = c.newIds.reduce(0) { $0 + (counts[$1] > 0 ? 1 : 0) }
        notes.append("cw2v: \(total) corpus tokens, \(seen) of \(n) new tokens occur (the others keep their starting weights); support \(m), \(tables.count == 1 ? "tied" : "untied: A_W and A_V")")
        if total == 0 || o.epochs <= 0 {
            return finish(cands, logits, m: m, n: n, notes: notes + ["cw2v: no training (empty corpus or 0 epochs)"])
        }
        // Unigram^0.75 negatives over every usable id in the corpus; sub-sampling keep probabilities.
        var cum = [Double](), cumIds = [Int32]()
        var z = 0.0
        for id in 0..<vocab where counts[id] > 0 { z += pow(Double(counts[id]), 0.75); cum.append(z); cumIds.append(Int32(id)) }
        let tableSize = 1 << 20
        var negTable = [Int32](repeating: 0, count: tableSize)
        var ci = 0
        for k in 0..<tableSize {
            let u = (Double(k) + 0.5) / Double(tableSize) * z
            while ci < cum.count &- 1 && cum[ci] < u { ci &+= 1 }
            negTable[k] = cumIds[ci]
        }
        var keepProb = [Float](repeating: 1, count: vocab)
        for id in 0..<vocab where counts[id] > 0 {
            let f = Double(counts[id]) / Double(total)
            keepProb[id] = Float(min(1, (o.subsample / f).squareRoot() + o.subsample / f))
        }
        // Mini-batches: consecutive sentences with ≥ batchTokens tokens.
        var batches: [Range<Int>] = []
        var b0 = 0, acc = 0
        for (i, s) in seqs.enumerated() {
            acc &+= s.count
            if acc >= o.batchTokens { batches.append(b0..<(i &+ 1)); b0 = i &+ 1; acc = 0 }
        }
        if b0 < seqs.count { batches.append(b0..<seqs.count) }

        let steps = o.epochs &* batches.count
        let (finalLogits, epochLoss, seconds) = pinned(tables) { tabs -> ([[Float]], [Double], Double) in
            let trainer = Trainer(tabs: tabs, cands: cands, logits: logits, m: m, n: n, d: d, role: role, negTable: negTable,
                                  keepProb: keepProb, options: o)
            let t0 = Date()
            var lastReport = Date.distantPast
            var epochLoss: [Double] = []
            for epoch in 0..<o.epochs {
                var lossSum = 0.0, lossCount = 0.0
                for (bi, br) in batches.enumerated() {
                    let step = epoch &* batches.count &+ bi
                    let lr = o.learningRate * max(1e-4, 1 - Float(step) / Float(steps))
                    let (ls, lc) = trainer.batch(seqs, br, lr: lr, salt: UInt64(epoch) &* 1_000_003 &+ UInt64(bi))
                    lossSum += ls; lossCount += lc
                    if let p = o.progress, Date().timeIntervalSince(lastReport) >= 0.5 || step == steps &- 1 {
                        lastReport = Date()
                        p(String(format: "cw2v: epoch %d/%d, batch %d/%d, loss %.4f, %.0f s", epoch &+ 1, o.epochs, bi &+ 1,
                                 batches.count, lossSum / max(lossCount, 1), Date().timeIntervalSince(t0)))
                    }
                }
                epochLoss.append(lossSum / max(lossCount, 1))
            }
            return (trainer.logits, epochLoss, Date().timeIntervalSince(t0))
        }
        notes.append("cw2v: SGNS loss per (centre, target) term by epoch: " + epochLoss.map { String(format: "%.4f", $0) }.joined(separator: " → ")
                     + String(format: " (%d batches/epoch, %.1f s)", batches.count, seconds))
        return finish(cands, finalLogits, m: m, n: n, notes: notes)
    }

    /// Softmax weights → combinations (input from table 0, output from the last table).
    static func finish(_ cands: [[Int32]], _ logits: [[Float]], m: Int, n: Int, notes: [String]) -> InitPlan {
        func recipes(_ t: Int) -> [RowRecipe] {
            (0..<n).map { i in
                var w = [Float](repeating: 0, count: m)
                softmax(logits[t], at: i &* m, count: m, into: &w)
                return .combine(Combination(ids: (0..<m).map { Int(cands[t][i &* m &+ $0]) }, weights: w))
            }
        }
        let inp = recipes(0)
        return InitPlan(input: inp, output: cands.count > 1 ? recipes(1) : inp, notes: notes)
    }

    @inline(__always)
    static func softmax(_ a: UnsafePointer<Float>, _ m: Int, _ w: UnsafeMutablePointer<Float>) {
        var mx = -Float.infinity
        for j in 0..<m { mx = max(mx, a[j]) }
        var s: Float = 0
        for j in 0..<m { let e = exp(a[j] - mx); w[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<m { w[j] *= inv }
    }

    static func softmax(_ a: [Float], at off: Int, count m: Int, into w: inout [Float]) {
        a.withUnsafeBufferPointer { pa in w.withUnsafeMutableBufferPointer { pw in softmax(pa.baseAddress! + off, m, pw.baseAddress!) } }
    }

    /// Candidate rows (`n × m`, old ids) and starting logits for one matrix.
    static func candidates(_ inputs: PlanInputs, matrix x: Tensor, oldRows: [Int], support m: Int, start: CW2VStart,
                           threads: Int) -> ([Int32], [Float]) {
        let n = inputs.count, d = x.shape[1]
        let oldSet = Set(oldRows)
        var lists = [[Int]](repeating: [], count: n)
        var seedWeights = [[Int: Float]](repeating: [:], count: n)
        // 1. FVT pieces (by multiplicity).
        for i in 0..<n {
            var mult: [Int: Int] = [:]
            for p in inputs.decompositions[i] where oldSet.contains(p) {
                if mult[p] == nil { if lists[i].count >= m { continue }; lists[i].append(p) }
                mult[p, default: 0] &+= 1
            }
            let tot = Float(mult.values.reduce(0, +))
            for (p, k) in mult { seedWeights[i][p] = Float(k) / tot }
        }
        // 2. Nearest old tokens in the aux space (half of the remaining slots).
        if let q = inputs.queryAux, let a = inputs.anchorAux, q.dim == a.dim {
            let anchors = (0..<a.count).filter { a.present[$0] && oldSet.contains(inputs.anchorIds[$0]) }
            let queries = (0..<n).filter { q.present[$0] }
            if !anchors.isEmpty && !queries.isEmpty {
                let kAux = max(1, m / 2)
                let near = nearest(queries: gatherUnit(q.data, rows: queries, d: q.dim), keys: gatherUnit(a.data, rows: anchors, d: a.dim),
                                   d: q.dim, k: min(kAux, anchors.count), threads: threads)
                for (qi, i) in queries.enumerated() {
                    let room = max(0, (m &- lists[i].count) / 2)
                    var added: [Int] = []
                    for j in near[qi] where added.count < room {
                        let id = inputs.anchorIds[anchors[j]]
                        if !lists[i].contains(id) { lists[i].append(id); added.append(id) }
                    }
                    if seedWeights[i].isEmpty { for id in added { seedWeights[i][id] = 1 / Float(added.count) } }
                }
            }
        }
        // 3. Fill with the old rows nearest to the seed row (FVT row, else aux seed, else the mean of the old rows).
        var seedRows = [Float](repeating: 0, count: n &* d)
        var mean = [Float](repeating: 0, count: d)
        x.data.withUnsafeBufferPointer { px in
            for r in oldRows { FloatKernels.axpy(1 / Float(oldRows.count), px.baseAddress! + r &* d, &mean, d) }
            seedRows.withUnsafeMutableBufferPointer { ps in
                for i in 0..<n {
                    let dst = ps.baseAddress! + i &* d
                    if seedWeights[i].isEmpty { for j in 0..<d { dst[j] = mean[j] }; continue }
                    for (id, w) in seedWeights[i] { FloatKernels.axpy(w, px.baseAddress! + id &* d, dst, d) }
                }
            }
        }
        let need = (0..<n).filter { lists[$0].count < m }
        if !need.isEmpty {
            let keys = gatherUnit(x.data, rows: oldRows, d: d)
            let near = nearest(queries: gatherUnit(seedRows, rows: need, d: d), keys: keys, d: d, k: min(m, oldRows.count), threads: threads)
            for (qi, i) in need.enumerated() {
                var have = Set(lists[i])
                for j in near[qi] where lists[i].count < m {
                    let id = oldRows[j]
                    if have.insert(id).inserted { lists[i].append(id) }
                }
                // Only when the matrix has fewer distinct directions than m (tiny tests): any unused old rows.
                var r = 0
                while lists[i].count < m && r < oldRows.count {
                    if have.insert(oldRows[r]).inserted { lists[i].append(oldRows[r]) }
                    r &+= 1
                }
            }
        }
        var cand = [Int32](repeating: 0, count: n &* m)
        var logit = [Float](repeating: 0, count: n &* m)
        for i in 0..<n {
            let sw = seedWeights[i]
            let seedMass: Float = sw.isEmpty || start == .uniform ? 0 : (sw.count < m ? 0.9 : 1)
            let rest = (1 - seedMass) / Float(max(1, m &- sw.count))
            for (k, id) in lists[i].enumerated() {
                cand[i &* m &+ k] = Int32(id)
                if start == .fvt && !sw.isEmpty { logit[i &* m &+ k] = log(max(sw[id].map { $0 * seedMass } ?? rest, 1e-30)) }
            }
        }
        return (cand, logit)
    }

    /// Rows of a row-major matrix scaled to unit length (zero rows stay zero).
    static func gatherUnit(_ data: [Float], rows: [Int], d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows.count &* d)
        data.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { po in
            for (i, r) in rows.enumerated() {
                let src = p.baseAddress! + r &* d, dst = po.baseAddress! + i &* d
                let s = FloatKernels.dot(src, src, d)
                let inv: Float = s > 0 ? 1 / s.squareRoot() : 0
                for j in 0..<d { dst[j] = src[j] * inv }
            }
        } }
        return out
    }

    /// For each query row, the indices of the `k` keys with the largest inner product, most similar first.
    /// Blocked BLAS for the scores, partial selection per row.
    static func nearest(queries: [Float], keys: [Float], d: Int, k: Int, threads: Int) -> [[Int]] {
        let nq = queries.count / max(d, 1), nk = keys.count / max(d, 1)
        var out = [[Int]](repeating: [], count: nq)
        guard k > 0, nk > 0 else { return out }
        let batch = max(16, min(512, (1 << 24) / max(nk, 1)))
        var sims = [Float](repeating: 0, count: batch &* nk)
        var b0 = 0
        while b0 < nq {
            let nb = min(batch, nq &- b0)
            queries.withUnsafeBufferPointer { pq in keys.withUnsafeBufferPointer { pk in sims.withUnsafeMutableBufferPointer { ps in
                BLAS.gemm(transB: true, m: nb, n: nk, k: d, a: pq.baseAddress! + b0 &* d, lda: d, b: pk.baseAddress!, ldb: d,
                          c: ps.baseAddress!, ldc: nk)
            } } }
            let res = UnsafeMutablePointer<[Int]>.allocate(capacity: nb)
            res.initialize(repeating: [], count: nb)
            nonisolated(unsafe) let resP = res
            sims.withUnsafeBufferPointer { ps in
                nonisolated(unsafe) let base = ps.baseAddress!
                let workers = max(1, min(threads, nb))
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var scratch = [Float](repeating: 0, count: nk)
                    var r = w
                    while r < nb {
                        let row = base + r &* nk
                        for j in 0..<nk { scratch[j] = row[j] }
                        let thr = scratch.withUnsafeMutableBufferPointer { OMPSolver.kthLargest($0, min(k, nk) &- 1) }
                        var top: [Int] = []
                        for j in 0..<nk where row[j] > thr { top.append(j) }
                        for j in 0..<nk where top.count < k && row[j] == thr { top.append(j) }
                        top.sort { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
                        resP[r] = top
                        r &+= workers
                    }
                }
            }
            for r in 0..<nb { out[b0 &+ r] = resP[r] }
            res.deinitialize(count: nb); res.deallocate()
            b0 &+= nb
        }
        return out
    }

    /// Pins the matrices' storage for the duration of `body`.
    static func pinned<R>(_ ts: [Tensor], _ body: ([UnsafePointer<Float>]) -> R) -> R {
        if ts.count == 1 { return ts[0].data.withUnsafeBufferPointer { body([$0.baseAddress!]) } }
        return ts[0].data.withUnsafeBufferPointer { a in ts[1].data.withUnsafeBufferPointer { b in body([a.baseAddress!, b.baseAddress!]) } }
    }

    /// One slice's gradient accumulators: a slot per touched (table, token), allocated on first touch.
    struct Shard {
        var slot: [Int32]          // table·n + token → slot, or -1
        var touched: [Int32] = []  // table·n + token, in order of first touch
        var buf: [Float] = []      // slots × d
        var loss = 0.0, count = 0.0

        @inline(__always)
        mutating func add(_ key: Int, _ alpha: Float, _ x: UnsafePointer<Float>, d: Int) {
            var s = Int(slot[key])
            if s < 0 {
                s = touched.count
                slot[key] = Int32(s)
                touched.append(Int32(key))
                buf.append(contentsOf: repeatElement(0, count: d))
            }
            buf.withUnsafeMutableBufferPointer { FloatKernels.axpy(alpha, x, $0.baseAddress! + s &* d, d) }
        }
    }

    /// Mini-batch SGNS with sparse Adam on the candidate logits. Within a batch the rows are frozen; each of
    /// `shards` slices of the batch accumulates row gradients with its own seeded generator, the slices are
    /// summed in order, then each touched token takes one Adam step and its row is recomputed. The result depends
    /// on the seed, not on the thread count. `tabs` (the old matrices) must stay pinned while the trainer lives.
    final class Trainer {
        let tabs: [UnsafePointer<Float>]
        let nt: Int, m: Int, n: Int, d: Int, tied: Bool
        let cands: [[Int32]]
        var logits: [[Float]]
        let adamM: [UnsafeMutablePointer<Float>], adamV: [UnsafeMutablePointer<Float>]
        let adamT: [UnsafeMutablePointer<Int32>]
        /// Current rows of the new tokens per table (`n × d`) and their accumulated gradients (zero when untouched).
        let rows: [UnsafeMutablePointer<Float>], grad: [UnsafeMutablePointer<Float>]
        var touchedMark: [Bool]
        var shardState: [Shard]
        let role: [Int32], negTable: [Int32], keepProb: [Float]
        let o: CW2VOptions

        init(tabs: [UnsafePointer<Float>], cands: [[Int32]], logits: [[Float]], m: Int, n: Int, d: Int, role: [Int32],
             negTable: [Int32], keepProb: [Float], options: CW2VOptions) {
            self.tabs = tabs; self.nt = tabs.count; self.cands = cands; self.logits = logits; self.m = m; self.n = n; self.d = d
            self.tied = tabs.count == 1; self.role = role; self.negTable = negTable; self.keepProb = keepProb; self.o = options
            func zeros<T: Numeric>(_ c: Int, _: T.Type) -> UnsafeMutablePointer<T> {
                let p = UnsafeMutablePointer<T>.allocate(capacity: max(c, 1)); p.initialize(repeating: 0, count: max(c, 1)); return p
            }
            adamM = (0..<tabs.count).map { _ in zeros(n &* m, Float.self) }
            adamV = (0..<tabs.count).map { _ in zeros(n &* m, Float.self) }
            adamT = (0..<tabs.count).map { _ in zeros(n, Int32.self) }
            rows = (0..<tabs.count).map { _ in zeros(n &* d, Float.self) }
            grad = (0..<tabs.count).map { _ in zeros(n &* d, Float.self) }
            touchedMark = [Bool](repeating: false, count: tabs.count &* n)
            shardState = [Shard](repeating: Shard(slot: [Int32](repeating: -1, count: tabs.count &* n)), count: CW2V.shards)
            var w = [Float](repeating: 0, count: m)
            for t in 0..<nt {
                for i in 0..<n {
                    CW2V.softmax(logits[t], at: i &* m, count: m, into: &w)
                    for k in 0..<m { FloatKernels.axpy(w[k], tabs[t] + Int(cands[t][i &* m &+ k]) &* d, rows[t] + i &* d, d) }
                }
            }
        }

        deinit {
            for p in adamM + adamV + rows + grad { p.deallocate() }
            for p in adamT { p.deallocate() }
        }

        /// One mini-batch; returns the summed loss and the number of loss terms.
        func batch(_ seqs: [[Int32]], _ range: Range<Int>, lr: Float, salt: UInt64) -> (Double, Double) {
            let d = self.d, n = self.n, nShards = CW2V.shards
            // Split the batch into contiguous slices of about equal token counts.
            var tokens = 0
            for s in range { tokens &+= seqs[s].count }
            var bounds = [range.lowerBound]
            var acc = 0, next = 1
            for s in range {
                acc &+= seqs[s].count
                while next < nShards && acc &* nShards >= tokens &* next { bounds.append(s &+ 1); next &+= 1 }
            }
            while bounds.count <= nShards { bounds.append(range.upperBound) }
            let workers = max(1, min(o.threads, nShards))
            let tied = self.tied, window = max(1, o.window), negatives = max(0, o.negatives), seed = o.seed
            let role = self.role, negTable = self.negTable, keepProb = self.keepProb
            nonisolated(unsafe) let tabs = self.tabs
            nonisolated(unsafe) let cur: [UnsafePointer<Float>] = rows.map { UnsafePointer($0) }
            shardState.withUnsafeMutableBufferPointer { sp in
                nonisolated(unsafe) let shardsP = sp.baseAddress!
                let bounds = bounds
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var sh = w
                    while sh < nShards {
                        CW2V.runShard(&shardsP[sh], seqs: seqs, range: bounds[sh]..<bounds[sh &+ 1], tabs: tabs, cur: cur, n: n,
                                      d: d, tied: tied, window: window, negatives: negatives, role: role, negTable: negTable,
                                      keepProb: keepProb, seed: seed ^ (salt &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(sh) &* 0xBF58_476D_1CE4_E5B9))
                        sh &+= workers
                    }
                }
            }
            // Reduce in shard order.
            var loss = 0.0, count = 0.0
            var touched = [[Int32]](repeating: [], count: nt)
            for s in 0..<nShards {
                loss += shardState[s].loss; count += shardState[s].count
                shardState[s].loss = 0; shardState[s].count = 0
                shardState[s].buf.withUnsafeBufferPointer { pb in
                    for (slot, key) in shardState[s].touched.enumerated() {
                        let t = Int(key) / n, tok = Int(key) % n
                        FloatKernels.axpy(1, pb.baseAddress! + slot &* d, grad[t] + tok &* d, d)
                        if !touchedMark[Int(key)] { touchedMark[Int(key)] = true; touched[t].append(Int32(tok)) }
                    }
                }
                for key in shardState[s].touched { shardState[s].slot[Int(key)] = -1 }
                shardState[s].touched.removeAll(keepingCapacity: true)
                shardState[s].buf.removeAll(keepingCapacity: true)
            }
            for t in 0..<nt {
                for tok in touched[t] { touchedMark[t &* n &+ Int(tok)] = false }
                adamStep(table: t, tokens: touched[t], lr: lr, workers: workers)
            }
            return (loss, count)
        }

        /// One Adam step (ascent on the log-likelihood) per touched token, then its row is recomputed.
        func adamStep(table t: Int, tokens: [Int32], lr: Float, workers: Int) {
            let m = self.m, d = self.d
            let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
            nonisolated(unsafe) let x = tabs[t], mm = adamM[t], vv = adamV[t], tt = adamT[t], rr = rows[t], gg = grad[t]
            let cand = cands[t]
            logits[t].withUnsafeMutableBufferPointer { pl in
                nonisolated(unsafe) let lg = pl.baseAddress!
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var wts = [Float](repeating: 0, count: m)
                    wts.withUnsafeMutableBufferPointer { pw in
                        let wp = pw.baseAddress!
                        var k = w
                        while k < tokens.count {
                            let i = Int(tokens[k])
                            let g = gg + i &* d, row = rr + i &* d, a = lg + i &* m
                            CW2V.softmax(a, m, wp)
                            // ∂/∂a_j of G·Σ_k w_k x_k = w_j (x_j·G − e·G).
                            let eg = FloatKernels.dot(row, g, d)
                            tt[i] &+= 1
                            let step = Float(tt[i])
                            let c1 = 1 - pow(b1, step), c2 = 1 - pow(b2, step)
                            for j in 0..<m {
                                let xj = x + Int(cand[i &* m &+ j]) &* d
                                let gj = wp[j] * (FloatKernels.dot(xj, g, d) - eg)
                                let o = i &* m &+ j
                                mm[o] = b1 * mm[o] + (1 - b1) * gj
                                vv[o] = b2 * vv[o] + (1 - b2) * gj * gj
                                a[j] += lr * (mm[o] / c1) / ((vv[o] / c2).squareRoot() + eps)
                            }
                            CW2V.softmax(a, m, wp)
                            for j in 0..<d { row[j] = 0; g[j] = 0 }
                            for j in 0..<m { FloatKernels.axpy(wp[j], x + Int(cand[i &* m &+ j]) &* d, row, d) }
                            k &+= workers
                        }
                    }
                }
            }
        }
    }

    /// SGNS gradients of one slice: centre rows from table 0 (`E` or the current new input rows), target rows
    /// from the output table (the same when tied). Frozen (old) rows get no gradient.
    static func runShard(_ st: inout Shard, seqs: [[Int32]], range: Range<Int>, tabs: [UnsafePointer<Float>],
                         cur: [UnsafePointer<Float>], n: Int, d: Int, tied: Bool, window: Int, negatives: Int, role: [Int32],
                         negTable: [Int32], keepProb: [Float], seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        let outT = tied ? 0 : 1
        var sent = [Int32]()
        var ge = [Float](repeating: 0, count: d)
        var loss = 0.0, count = 0.0
        ge.withUnsafeMutableBufferPointer { pge in
            let gep = pge.baseAddress!
            for s in range {
                sent.removeAll(keepingCapacity: true)
                for w in seqs[s] where rng.nextFloat() < keepProb[Int(w)] { sent.append(w) }
                if sent.count < 2 { continue }
                for pos in 0..<sent.count {
                    let center = Int(sent[pos])
                    let cNew = Int(role[center])
                    let ein = cNew >= 0 ? cur[0] + cNew &* d : tabs[0] + center &* d
                    let b = 1 &+ rng.nextInt(window)
                    let lo = max(0, pos &- b), hi = min(sent.count &- 1, pos &+ b)
                    for cpos in lo...hi where cpos != pos {
                        let ctx = sent[cpos]
                        var anyGrad = false
                        if cNew >= 0 { gep.update(repeating: 0, count: d) }
                        for k in 0...negatives {
                            let target: Int, label: Float
                            if k == 0 { target = Int(ctx); label = 1 } else {
                                let t = negTable[rng.nextInt(negTable.count)]
                                if t == ctx { continue }
                                target = Int(t); label = 0
                            }
                            let tNew = Int(role[target])
                            if cNew < 0 && tNew < 0 { continue }   // both frozen: no gradient
                            let orow = tNew >= 0 ? cur[outT] + tNew &* d : tabs[outT] + target &* d
                            let sc = FloatKernels.dot(ein, orow, d)
                            let x = label == 1 ? sc : -sc
                            loss += Double(x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x)))   // −log σ(x), stable
                            count += 1
                            let g = label - 1 / (1 + exp(-max(-30, min(30, sc))))
                            if cNew >= 0 { FloatKernels.axpy(g, orow, gep, d); anyGrad = true }
                            if tNew >= 0 { st.add((tied ? 0 : n) &+ tNew, g, ein, d: d) }
                        }
                        if anyGrad { st.add(cNew, 1, UnsafePointer(gep), d: d) }
                    }
                }
            }
        }
        st.loss += loss; st.count += count
    }
}
