#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding frequencies (HF "rotate_half" convention: dims j and j + d/2 form a pair).
public struct RoPE: Sendable {
    public let headDim: Int
    public let invFreq: [Float]

    /// `theta` is the base; `llama3` applies Llama-3.1 frequency scaling.
    public init(headDim: Int, theta: Float, llama3: Llama3Scaling? = nil) {
        precondition(headDim % 2 == 0)
        self.headDim = headDim
        var f = (0..<(headDim / 2)).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
        if let s = llama3 {
            let lowWavelen = Float(s.originalMaxPositions) / s.lowFreqFactor
            let highWavelen = Float(s.originalMaxPositions) / s.highFreqFactor
            f = f.map { freq in
                let wavelen = 2 * Float.pi / freq
                if wavelen < highWavelen { return freq }
                if wavelen > lowWavelen { return freq / s.factor }
                let smooth = (Float(s.originalMaxPositions) / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
                return (1 - smooth) * freq / s.factor + smooth * freq
            }
        }
        invFreq = f
    }

    public struct Llama3Scaling: Sendable, Equatable {
        public var factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int
        public init(factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int) {
            self.factor = factor; self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor; self.originalMaxPositions = originalMaxPositions
        }
    }

    /// cos and sin for `positions`, `[positions.count, headDim/2]` each. A model computes them once per
    /// forward pass and shares them between the layers and between queries and keys.
    public struct Tables: Sendable {
        public let headDim: Int, positions: Int
        public let cos: [Float], sin: [Float]
    }

    public func tables(positions: [Int]) -> Tables {
        let h = headDim / 2
        var c = [Float](repeating: 0, count: positions.count * h), s = c
        for (i, p) in positions.enumerated() {
            for j in 0..<h {
                let a = Float(p) * invFreq[j]   // float32 product, as HF computes it
                c[i * h + j] = cosf(a); s[i * h + j] = sinf(a)
            }
        }
        return Tables(headDim: headDim, positions: positions.count, cos: c, sin: s)
    }
}

extension Graph {
    /// Applies rotary embeddings to `x` `[B, T, H, d]` at `positions` (length T).
    public func rope(_ x: Var, _ rope: RoPE, positions: [Int]) -> Var {
        self.rope(x, rope.tables(positions: positions))
    }

    /// Applies rotary embeddings with precomputed tables (`tables.positions` = T).
    public func rope(_ x: Var, _ tables: RoPE.Tables) -> Var {
        let tx = values[x.id]
        precondition(tx.rank == 4 && tx.shape[3] == tables.headDim && tx.shape[1] == tables.positions)
        let cs = tables.cos, sn = tables.sin
        let b = tx.shape[0], t = tx.shape[1], heads = tx.shape[2], d = tx.shape[3], half = d / 2
        func apply(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, sign: Float) {
            cs.withUnsafeBufferPointer { pc in sn.withUnsafeBufferPointer { ps in
                // One (batch, position) row of all heads per iteration; rows are independent.
                Parallel.forRanges(b &* t, grain: Grain.rows(heads &* d, Grain.memory)) { rows in
                    for row in rows {
                        let tab = (row % t) &* half
                        for h in 0..<heads {
                            let off = (row &* heads &+ h) &* d
                            for j in 0..<half {
                                let x1 = src[off &+ j], x2 = src[off &+ j &+ half]
                                let c = pc[tab &+ j], s = ps[tab &+ j] * sign
                                dst[off &+ j] = x1 * c - x2 * s
                                dst[off &+ j &+ half] = x2 * c + x1 * s
                            }
                        }
                    }
                }
            } }
        }
        let out = withRead(tx.data) { px in makeArray(tx.count) { o in apply(px, o, sign: 1) } }
        return record(Tensor(shape: tx.shape, data: out), [x]) { g, dy in
            // The rotation is orthogonal: the gradient is the inverse rotation.
            g.accumulate(x, withRead(dy) { pd in makeArray(dy.count) { o in apply(pd, o, sign: -1) } })
        }
    }

    /// Scaled dot-product attention with grouped-query heads.
    ///
    /// - q: `[B, T, H, d]`; k, v: `[B, S, Hkv, d]` with H a multiple of Hkv (query head h uses kv head
    ///   h / (H/Hkv)).
    /// - causal: query i (at absolute position `queryOffset + i`) sees keys 0...queryOffset+i.
    /// - bias: an optional additive term on the scaled scores, shaped `[T, S]`, `[H, T, S]` or
    ///   `[B, H, T, S]` (use −∞ entries as a mask); it receives a gradient if it requires one.
    /// - Returns `[B, T, H, d]`.
    public func attention(q: Var, k: Var, v: Var, causal: Bool, queryOffset: Int = 0, bias: Var? = nil,
                          scale: Float? = nil) -> Var {
        let tq = values[q.id], tk = values[k.id], tv = values[v.id]
        precondition(tq.rank == 4 && tk.rank == 4 && tv.rank == 4 && tk.shape == tv.shape)
        let b = tq.shape[0], t = tq.shape[1], h = tq.shape[2], d = tq.shape[3]
        let s = tk.shape[1], hkv = tk.shape[2]
        precondition(tk.shape[0] == b && tk.shape[3] == d && hkv > 0 && h % hkv == 0, "attention: q \(tq.shape), k \(tk.shape)")
        let group = h / hkv
        let sc = scale ?? 1 / Float(d).squareRoot()
        var biasMode = 0  // 0 none, 1 [T,S], 2 [H,T,S], 3 [B,H,T,S]
        if let bias {
            let bs = values[bias.id].shape
            if bs == [t, s] { biasMode = 1 } else if bs == [h, t, s] { biasMode = 2 } else if bs == [b, h, t, s] { biasMode = 3 } else {
                preconditionFailure("attention: bias shape \(bs) does not fit [B=\(b), H=\(h), T=\(t), S=\(s)]")
            }
        }
        let biasData = bias.map { values[$0.id].data } ?? []
        @inline(__always) func biasOffset(_ bi: Int, _ hi: Int) -> Int {
            switch biasMode {
            case 1: return 0
            case 2: return hi &* t &* s
            default: return (bi &* h &+ hi) &* t &* s
            }
        }
        let ldq = h * d, ldk = hkv * d
        // Probabilities [B, H, T, S], kept for the backward pass (every entry is written by the score GEMM).
        var probs = makeArray(b * h * t * s) { _ in }
        // Heads run in parallel, each with single-threaded GEMMs (small GEMMs scale better this way than
        // with OpenBLAS threads inside each one). Each (batch, head) writes its own probabilities and output
        // columns, so the result does not depend on the thread count.
        let workers = Parallel.threads
        let parallelHeads = workers > 1 && b &* h > 1 && b &* h &* t &* s &* d >= 1 << 18
        let out = withRead(tq.data) { pq in withRead(tk.data) { pk in withRead(tv.data) { pv in withRead(biasData) { pb in
            makeArray(b * t * h * d) { o in
                probs.withUnsafeMutableBufferPointer { pp in BLAS.singleThreaded(when: parallelHeads) {
                    Parallel.forEach(b &* h, workers: parallelHeads ? workers : 1) { task in
                        let bi = task / h, hi = task % h
                        let kh = hi / group
                        let qb = pq + (bi &* t &* ldq &+ hi &* d)
                        let kb = pk + (bi &* s &* ldk &+ kh &* d)
                        let vb = pv + (bi &* s &* ldk &+ kh &* d)
                        let p = pp.baseAddress! + (bi &* h &+ hi) &* t &* s
                        BLAS.gemm(transB: true, m: t, n: s, k: d, alpha: sc, a: qb, lda: ldq, b: kb, ldb: ldk,
                                  c: p, ldc: s)
                        let bo = biasOffset(bi, hi)
                        for i in 0..<t {
                            let row = p + i &* s
                            if biasMode != 0 { let br = pb + (bo &+ i &* s); for j in 0..<s { row[j] += br[j] } }
                            // Causal: keys past the query's position get probability 0 directly (no exp for them).
                            let valid = causal ? Swift.min(s, Swift.max(0, queryOffset &+ i &+ 1)) : s
                            if valid < s { (row + valid).update(repeating: 0, count: s &- valid) }
                            if valid > 0 { Kernels.softmaxRow(row, row, valid) }
                        }
                        BLAS.gemm(m: t, n: d, k: s, a: p, lda: s, b: vb, ldb: ldk, c: o + (bi &* t &* ldq &+ hi &* d), ldc: ldq)
                    }
                } }
            }
        } } } }
        let inputs = [q, k, v] + (bias.map { [$0] } ?? [])
        return record(Tensor(shape: [b, t, h, d], data: out), inputs) { g, dy in
            let qd = g.values[q.id].data, kd = g.values[k.id].data, vd = g.values[v.id].data
            var dq = makeArray(qd.count) { _ in }   // written by the dQ GEMM (beta 0)
            var dk = [Float](repeating: 0, count: kd.count)
            var dv = [Float](repeating: 0, count: vd.count)
            let wantBias = bias.map { g.needs($0) } ?? false
            var dbias = [Float](repeating: 0, count: wantBias ? biasData.count : 0)
            // One task per (batch, KV head): it owns dK/dV of that head and dQ of its query heads, processed
            // in order. A bias shared across batches or heads is accumulated by one thread, in order.
            let workers = Parallel.threads
            let parallelHeads = workers > 1 && b &* hkv > 1 && (!wantBias || biasMode == 3)
                && b &* h &* t &* s &* d >= 1 << 18
            withRead(dy) { pdy in withRead(qd) { pq in withRead(kd) { pk in withRead(vd) { pv in withRead(probs) { pp in
                dq.withUnsafeMutableBufferPointer { odq in dk.withUnsafeMutableBufferPointer { odk in
                    dv.withUnsafeMutableBufferPointer { odv in
                        dbias.withUnsafeMutableBufferPointer { odb in BLAS.singleThreaded(when: parallelHeads) {
                            Parallel.forEach(b &* hkv, workers: parallelHeads ? workers : 1) { task in
                                let dsp = UnsafeMutablePointer<Float>.allocate(capacity: t &* s)
                                defer { dsp.deallocate() }
                                let bi = task / hkv, kvh = task % hkv
                                for hi in (kvh &* group)..<((kvh &+ 1) &* group) {
                                    let kh = hi / group
                                    let qoff = bi &* t &* ldq &+ hi &* d
                                    let koff = bi &* s &* ldk &+ kh &* d
                                    let p = pp + (bi &* h &+ hi) &* t &* s
                                    // dV += Pᵀ dO
                                    BLAS.gemm(transA: true, m: s, n: d, k: t, a: p, lda: s, b: pdy + qoff, ldb: ldq,
                                              beta: 1, c: odv.baseAddress! + koff, ldc: ldk)
                                    // dP = dO Vᵀ
                                    BLAS.gemm(transB: true, m: t, n: s, k: d, a: pdy + qoff, lda: ldq, b: pv + koff,
                                              ldb: ldk, c: dsp, ldc: s)
                                    // dS = P ⊙ (dP − rowsum(dP ⊙ P))   (gradient wrt the scaled+biased scores)
                                    for i in 0..<t {
                                        let valid = causal ? Swift.min(s, Swift.max(0, queryOffset &+ i &+ 1)) : s
                                        if valid < s { (dsp + (i &* s &+ valid)).update(repeating: 0, count: s &- valid) }
                                        Kernels.softmaxBackwardRow(p + i &* s, dsp + i &* s, valid)
                                    }
                                    if wantBias {
                                        let bo = biasOffset(bi, hi)
                                        for j in 0..<(t &* s) { odb[bo &+ j] += dsp[j] }
                                    }
                                    // dQ = sc · dS K ; dK += sc · dSᵀ Q
                                    BLAS.gemm(m: t, n: d, k: s, alpha: sc, a: dsp, lda: s, b: pk + koff, ldb: ldk,
                                              beta: 0, c: odq.baseAddress! + qoff, ldc: ldq)
                                    BLAS.gemm(transA: true, m: s, n: d, k: t, alpha: sc, a: dsp, lda: s, b: pq + qoff,
                                              ldb: ldq, beta: 1, c: odk.baseAddress! + koff, ldc: ldk)
                                }
                            }
                        } }
                    }
                } }
            } } } } }
            g.accumulate(q, dq)
            g.accumulate(k, dk)
            g.accumulate(v, dv)
            if wantBias, let bias { g.accumulate(bias, dbias) }
        }
    }
}
