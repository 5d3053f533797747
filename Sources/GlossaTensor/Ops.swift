#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Differentiable ops. Shapes are row-major; "rows" means all leading dimensions flattened.

extension Graph {
    // MARK: shape

    /// Same data, new shape (element counts must agree).
    public func reshape(_ x: Var, _ shape: [Int]) -> Var {
        let t = values[x.id]
        precondition(shape.reduce(1, *) == t.count, "reshape \(t.shape) → \(shape)")
        return record(Tensor(shape: shape, data: t.data), [x]) { g, dy in g.accumulate(x, dy) }
    }

    // MARK: elementwise

    /// `a + b`; `b` has the shape of `a` or of a suffix of it (broadcast over the leading dimensions).
    public func add(_ a: Var, _ b: Var) -> Var {
        let ta = values[a.id], tb = values[b.id]
        let n = ta.count, m = tb.count
        precondition(m > 0 && n % m == 0 && Array(ta.shape.suffix(tb.rank)) == tb.shape,
                     "add: cannot broadcast \(tb.shape) to \(ta.shape)")
        let rows = n / m
        let out = withRead(ta.data) { pa in withRead(tb.data) { pb in
            makeArray(n) { o in
                Parallel.forRanges(rows, grain: Grain.rows(m, Grain.memory)) { rr in
                    for r in rr {
                        let base = r &* m
                        Kernels.add(pa + base, pb, o + base, m)
                    }
                }
            }
        } }
        return record(Tensor(shape: ta.shape, data: out), [a, b]) { g, dy in
            if g.needs(b) {
                if m == n { g.accumulate(b, dy) } else {
                    // Column sums over the broadcast rows (fixed chunking: deterministic).
                    g.accumulate(b, withRead(dy) { d in
                        Parallel.reduceRows(rows, width: m, grain: Grain.rows(m, Grain.memory)) { rr, acc in
                            for r in rr { Kernels.addInPlace(acc, d + r &* m, m) }
                        }
                    })
                }
            }
            g.accumulate(a, dy)
        }
    }

    /// `a − b`, same shapes.
    public func sub(_ a: Var, _ b: Var) -> Var { add(a, scale(b, -1)) }

    /// Elementwise `a · b`; `b` may broadcast as in `add`.
    public func mul(_ a: Var, _ b: Var) -> Var {
        let ta = values[a.id], tb = values[b.id]
        let n = ta.count, m = tb.count
        precondition(m > 0 && n % m == 0 && Array(ta.shape.suffix(tb.rank)) == tb.shape,
                     "mul: cannot broadcast \(tb.shape) to \(ta.shape)")
        let rows = n / m
        let out = withRead(ta.data) { pa in withRead(tb.data) { pb in
            makeArray(n) { o in
                Parallel.forRanges(rows, grain: Grain.rows(m, Grain.memory)) { rr in
                    for r in rr { let base = r &* m; for j in 0..<m { o[base &+ j] = pa[base &+ j] * pb[j] } }
                }
            }
        } }
        return record(Tensor(shape: ta.shape, data: out), [a, b]) { g, dy in
            let ta = g.values[a.id].data, tb = g.values[b.id].data
            if g.needs(a) {
                g.accumulate(a, withRead(dy) { d in withRead(tb) { pb in makeArray(n) { o in
                    Parallel.forRanges(rows, grain: Grain.rows(m, Grain.memory)) { rr in
                        for r in rr { let base = r &* m; for j in 0..<m { o[base &+ j] = d[base &+ j] * pb[j] } }
                    }
                } } })
            }
            if g.needs(b) {
                g.accumulate(b, withRead(dy) { d in withRead(ta) { pa in
                    Parallel.reduceRows(rows, width: m, grain: Grain.rows(m, Grain.memory)) { rr, acc in
                        for r in rr { let base = r &* m; for j in 0..<m { acc[j] += d[base &+ j] * pa[base &+ j] } }
                    }
                } })
            }
        }
    }

    /// `s · x`.
    public func scale(_ x: Var, _ s: Float) -> Var {
        let t = values[x.id]
        let out = withRead(t.data) { p in makeArray(t.count) { o in Kernels.scale(p, o, t.count, s) } }
        return record(Tensor(shape: t.shape, data: out), [x]) { g, dy in
            g.accumulate(x, withRead(dy) { d in makeArray(dy.count) { o in Kernels.scale(d, o, dy.count, s) } })
        }
    }

    /// Sum of all elements (a scalar).
    public func sum(_ x: Var) -> Var {
        let t = values[x.id]
        let s = withRead(t.data) { p in
            Parallel.sum(t.count, grain: Grain.memory) { r in var a = 0.0; for i in r { a += Double(p[i]) }; return a }
        }
        return record(Tensor(scalar: Float(s)), [x]) { g, dy in
            g.accumulate(x, [Float](repeating: dy[0], count: g.values[x.id].count))
        }
    }

    /// Mean of all elements (a scalar).
    public func mean(_ x: Var) -> Var { scale(sum(x), 1 / Float(max(1, values[x.id].count))) }

    /// Applies `f` elementwise with derivative `df(x, y)`.
    func unary(_ x: Var, _ f: (Float) -> Float, _ df: @escaping (Float, Float) -> Float) -> Var {
        let t = values[x.id]
        let out = withRead(t.data) { p in makeArray(t.count) { o in
            Parallel.forRanges(t.count, grain: Grain.compute) { r in for i in r { o[i] = f(p[i]) } }
        } }
        return record(Tensor(shape: t.shape, data: out), [x]) { g, dy in
            let xs = g.values[x.id].data
            let n = dy.count
            // The output value is recomputed from x where df needs it; passing it avoids a second forward.
            let ys = out
            g.accumulate(x, withRead(dy) { d in withRead(xs) { px in withRead(ys) { py in makeArray(n) { o in
                Parallel.forRanges(n, grain: Grain.compute) { r in for i in r { o[i] = d[i] * df(px[i], py[i]) } }
            } } } })
        }
    }

    /// SiLU (swish): `x · σ(x)`.
    public func silu(_ x: Var) -> Var {
        unary(x, { v in v / (1 + expf(-v)) }, { v, _ in
            let s = 1 / (1 + expf(-v)); return s * (1 + v * (1 - s))
        })
    }

    public func relu(_ x: Var) -> Var { unary(x, { max($0, 0) }, { v, _ in v > 0 ? 1 : 0 }) }

    public func tanh(_ x: Var) -> Var { unary(x, { tanhf($0) }, { _, y in 1 - y * y }) }

    public func exp(_ x: Var) -> Var { unary(x, { expf($0) }, { _, y in y }) }

    /// GELU; `approximate` selects the tanh form (GPT-2's "gelu_new"), otherwise the exact erf form.
    public func gelu(_ x: Var, approximate: Bool = false) -> Var {
        if approximate {
            let c: Float = 0.797_884_56  // sqrt(2/π)
            return unary(x, { v in 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v))) }, { v, _ in
                let u = c * (v + 0.044715 * v * v * v)
                let th = tanhf(u)
                return 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * c * (1 + 3 * 0.044715 * v * v)
            })
        }
        return unary(x, { v in 0.5 * v * (1 + erff(v * 0.707_106_78)) }, { v, _ in
            0.5 * (1 + erff(v * 0.707_106_78)) + v * 0.398_942_28 * expf(-0.5 * v * v)
        })
    }

    /// SwiGLU: `silu(gate) · up` (same shapes).
    public func swiglu(gate: Var, up: Var) -> Var {
        let tg = values[gate.id], tu = values[up.id]
        precondition(tg.shape == tu.shape)
        let n = tg.count
        let out = withRead(tg.data) { pg in withRead(tu.data) { pu in makeArray(n) { o in
            Parallel.forRanges(n, grain: Grain.compute) { r in
                var i = r.lowerBound
                let end = r.upperBound
                let one = F8(repeating: 1)
                while i &+ 8 <= end {
                    let v = load8(pg + i)
                    store8(o + i, v / (one + Kernels.exp8(-v)) * load8(pu + i))
                    i &+= 8
                }
                while i < end { let v = pg[i]; o[i] = v / (1 + Kernels.exp1(-v)) * pu[i]; i &+= 1 }
            }
        } } }
        return record(Tensor(shape: tg.shape, data: out), [gate, up]) { g, dy in
            let gd = g.values[gate.id].data, ud = g.values[up.id].data
            var dg = [Float](), du = [Float]()
            withRead(dy) { d in withRead(gd) { pg in withRead(ud) { pu in
                dg = makeArray(n) { og in du = makeArray(n) { ou in Parallel.forRanges(n, grain: Grain.compute) { r in
                    var i = r.lowerBound
                    let n = r.upperBound
                    let one = F8(repeating: 1)
                    while i &+ 8 <= n {
                        let v = load8(pg + i), dd = load8(d + i)
                        let s = one / (one + Kernels.exp8(-v))
                        store8(ou + i, dd * v * s)
                        store8(og + i, dd * load8(pu + i) * s * (one + v * (one - s)))
                        i &+= 8
                    }
                    while i < n {
                        let v = pg[i]
                        let s = 1 / (1 + Kernels.exp1(-v))
                        ou[i] = d[i] * v * s
                        og[i] = d[i] * pu[i] * s * (1 + v * (1 - s))
                        i &+= 1
                    }
                } } }
            } } }
            g.accumulate(gate, dg)
            g.accumulate(up, du)
        }
    }

    /// Inverted dropout with keep probability `1 − p` (identity when not training or p = 0).
    public func dropout(_ x: Var, p: Float) -> Var {
        if !isTraining || p <= 0 { return x }
        let t = values[x.id]
        let keep = 1 - p
        var mask = [Float](repeating: 0, count: t.count)
        for i in 0..<t.count { mask[i] = rng.nextFloat() < keep ? 1 / keep : 0 }
        let out = withRead(t.data) { px in withRead(mask) { pm in makeArray(t.count) { o in
            for i in 0..<t.count { o[i] = px[i] * pm[i] } } } }
        return record(Tensor(shape: t.shape, data: out), [x]) { g, dy in
            g.accumulate(x, withRead(dy) { d in withRead(mask) { pm in makeArray(dy.count) { o in
                for i in 0..<dy.count { o[i] = d[i] * pm[i] } } } })
        }
    }

    // MARK: matmul

    /// `x · w` (w: `[K, N]`) or, with `transposeW`, `x · wᵀ` (w: `[N, K]`, PyTorch Linear layout).
    /// `x` is `[..., K]`; the result is `[..., N]`.
    public func matmul(_ x: Var, _ w: Var, transposeW: Bool = false) -> Var {
        let tx = values[x.id], tw = values[w.id]
        precondition(tw.rank == 2, "matmul: right operand must be 2-D")
        let k = tx.lastDim, m = tx.rows
        let n = transposeW ? tw.shape[0] : tw.shape[1]
        precondition((transposeW ? tw.shape[1] : tw.shape[0]) == k, "matmul: \(tx.shape) · \(tw.shape)\(transposeW ? "ᵀ" : "")")
        let out = withRead(tx.data) { px in withRead(tw.data) { pw in makeArray(m * n) { o in
            BLAS.gemm(transB: transposeW, m: m, n: n, k: k, a: px, lda: k, b: pw, ldb: transposeW ? k : n, c: o, ldc: n)
        } } }
        var shape = tx.shape
        if shape.isEmpty { shape = [n] } else { shape[shape.count - 1] = n }
        return record(Tensor(shape: shape, data: out), [x, w]) { g, dy in
            let xd = g.values[x.id].data, wd = g.values[w.id].data
            if g.needs(x) {
                g.accumulate(x, withRead(dy) { d in withRead(wd) { pw in makeArray(m * k) { o in
                    // dX = dY · op(W)ᵀ
                    BLAS.gemm(transB: !transposeW, m: m, n: k, k: n, a: d, lda: n, b: pw, ldb: transposeW ? k : n,
                              c: o, ldc: k)
                } } })
            }
            if g.needs(w) {
                g.accumulate(w, withRead(dy) { d in withRead(xd) { px in makeArray(k * n) { o in
                    if transposeW {  // dW (N×K) = dYᵀ · X
                        BLAS.gemm(transA: true, m: n, n: k, k: m, a: d, lda: n, b: px, ldb: k, c: o, ldc: k)
                    } else {         // dW (K×N) = Xᵀ · dY
                        BLAS.gemm(transA: true, m: k, n: n, k: m, a: px, lda: k, b: d, ldb: n, c: o, ldc: n)
                    }
                } } })
            }
        }
    }

    /// PyTorch `Linear`: `x · wᵀ (+ bias)`, w `[out, in]`.
    public func linear(_ x: Var, _ w: Var, bias: Var? = nil) -> Var {
        let y = matmul(x, w, transposeW: true)
        if let bias { return add(y, bias) }
        return y
    }

    // MARK: embedding

    /// Rows of `table` (`[V, D]`) for `ids`; the result is `idsShape + [D]`. Ids outside 0..<V trap.
    public func embedding(_ table: Var, ids: [Int32], idsShape: [Int]? = nil) -> Var {
        let tt = values[table.id]
        precondition(tt.rank == 2)
        let v = tt.shape[0], d = tt.shape[1], n = ids.count
        for id in ids { precondition(id >= 0 && Int(id) < v, "embedding: id \(id) outside 0..<\(v)") }
        let out = withRead(tt.data) { pt in makeArray(n * d) { o in
            Parallel.forRanges(n, grain: Grain.rows(d, Grain.memory)) { r in
                for i in r { (o + i &* d).update(from: pt + Int(ids[i]) &* d, count: d) }
            }
        } }
        return record(Tensor(shape: (idsShape ?? [n]) + [d], data: out), [table]) { g, dy in
            // Each worker owns a band of table rows and scans all ids in order, so a repeated id sums its
            // rows in the same order for any thread count.
            g.accumulate(table, withRead(dy) { dd in makeArray(v * d) { o in ids.withUnsafeBufferPointer { pid in
                Parallel.forRanges(v, grain: Grain.rows(d, Grain.memory)) { band in
                    (o + band.lowerBound &* d).update(repeating: 0, count: band.count &* d)
                    for i in 0..<n {
                        let id = Int(pid[i])
                        if band.contains(id) { Kernels.addInPlace(o + id &* d, dd + i &* d, d) }
                    }
                }
            } } })
        }
    }

    // MARK: normalization

    /// RMSNorm over the last dimension: `w · x / sqrt(mean(x²) + eps)` (the Llama/HF form).
    public func rmsNorm(_ x: Var, weight: Var, eps: Float) -> Var {
        let tx = values[x.id], tw = values[weight.id]
        let d = tx.lastDim, rows = tx.rows
        precondition(tw.count == d)
        var inv = [Float](repeating: 0, count: rows)
        let out = withRead(tx.data) { px in withRead(tw.data) { pw in makeArray(rows * d) { o in
            inv.withUnsafeMutableBufferPointer { pinv in
                Parallel.forRanges(rows, grain: Grain.rows(d)) { rr in
                    for r in rr {
                        let xr = px + r &* d, orow = o + r &* d
                        let ss = Kernels.dot(xr, xr, d)
                        let s = 1 / (ss / Float(d) + eps).squareRoot()
                        pinv[r] = s
                        for j in 0..<d { orow[j] = pw[j] * (xr[j] * s) }
                    }
                }
            }
        } } }
        return record(Tensor(shape: tx.shape, data: out), [x, weight]) { g, dy in
            let xd = g.values[x.id].data, wd = g.values[weight.id].data
            var dx = makeArray(rows * d) { _ in }   // every row is written below
            var dw = [Float]()
            withRead(dy) { pd in withRead(xd) { px in withRead(wd) { pw in withRead(inv) { pi in
                dx.withUnsafeMutableBufferPointer { ox in dw = Parallel.reduceRows(rows, width: d, grain: Grain.rows(d)) { rr, owp in
                    for r in rr {
                        let xr = px + r &* d, dr = pd + r &* d
                        let s = pi[r]
                        var acc = F8(repeating: 0)
                        let sv = F8(repeating: s)
                        var j = 0
                        while j &+ 8 <= d {
                            let dd = load8(dr + j), xx = load8(xr + j)
                            acc += dd * load8(pw + j) * xx
                            store8(owp + j, load8(owp + j) + dd * xx * sv)
                            j &+= 8
                        }
                        var dot = acc.sum()
                        while j < d { dot += dr[j] * pw[j] * xr[j]; owp[j] += dr[j] * xr[j] * s; j &+= 1 }
                        let c = dot * s * s * s / Float(d)
                        let base = r &* d
                        for j in 0..<d { ox[base &+ j] = dr[j] * pw[j] * s - xr[j] * c }
                    }
                } }
            } } } }
            g.accumulate(x, dx)
            g.accumulate(weight, dw)
        }
    }

    /// LayerNorm over the last dimension with affine weight and bias.
    public func layerNorm(_ x: Var, weight: Var, bias: Var, eps: Float) -> Var {
        let tx = values[x.id], tw = values[weight.id], tb = values[bias.id]
        let d = tx.lastDim, rows = tx.rows
        precondition(tw.count == d && tb.count == d)
        var inv = [Float](repeating: 0, count: rows)
        var xhat = [Float](repeating: 0, count: rows * d)
        let out = withRead(tx.data) { px in withRead(tw.data) { pw in withRead(tb.data) { pb in makeArray(rows * d) { o in
            xhat.withUnsafeMutableBufferPointer { xh in inv.withUnsafeMutableBufferPointer { inv in
              Parallel.forRanges(rows, grain: Grain.rows(d)) { rr in
                for r in rr {
                    let xr = px + r &* d, base = r &* d
                    var mu: Float = 0
                    for j in 0..<d { mu += xr[j] }
                    mu /= Float(d)
                    var v: Float = 0
                    for j in 0..<d { let c = xr[j] - mu; v += c * c }
                    let s = 1 / (v / Float(d) + eps).squareRoot()
                    inv[r] = s
                    for j in 0..<d {
                        let h = (xr[j] - mu) * s
                        xh[base &+ j] = h
                        o[base &+ j] = h * pw[j] + pb[j]
                    }
                }
              }
            } }
        } } } }
        return record(Tensor(shape: tx.shape, data: out), [x, weight, bias]) { g, dy in
            let wd = g.values[weight.id].data
            var dx = [Float](repeating: 0, count: rows * d)
            var dwb = [Float]()  // dw and db side by side: one deterministic row reduction
            withRead(dy) { pd in withRead(xhat) { ph in withRead(wd) { pw in
                dx.withUnsafeMutableBufferPointer { ox in
                    dwb = Parallel.reduceRows(rows, width: 2 * d, grain: Grain.rows(d)) { rr, ow in
                        let ob = ow + d
                        for r in rr {
                            let base = r &* d
                            var m1: Float = 0, m2: Float = 0
                            for j in 0..<d {
                                let gd = pd[base &+ j], h = ph[base &+ j]
                                ow[j] += gd * h
                                ob[j] += gd
                                let gh = gd * pw[j]
                                m1 += gh
                                m2 += gh * h
                            }
                            m1 /= Float(d); m2 /= Float(d)
                            let s = inv[r]
                            for j in 0..<d {
                                ox[base &+ j] = s * (pd[base &+ j] * pw[j] - m1 - ph[base &+ j] * m2)
                            }
                        }
                    }
                }
            } } }
            g.accumulate(x, dx)
            g.accumulate(weight, Array(dwb[0..<d]))
            g.accumulate(bias, Array(dwb[d...]))
        }
    }

    // MARK: softmax / losses

    /// Softmax over the last dimension.
    public func softmax(_ x: Var) -> Var {
        let tx = values[x.id]
        let d = tx.lastDim, rows = tx.rows
        let out = withRead(tx.data) { px in makeArray(rows * d) { o in
            Parallel.forRanges(rows, grain: Grain.rows(d)) { rr in
                for r in rr { Kernels.softmaxRow(px + r &* d, o + r &* d, d) }
            }
        } }
        return record(Tensor(shape: tx.shape, data: out), [x]) { g, dy in
            g.accumulate(x, withRead(dy) { pd in withRead(out) { py in makeArray(rows * d) { o in
                Parallel.forRanges(rows, grain: Grain.rows(d)) { rr in
                    for r in rr {
                        let b = r &* d
                        var dot: Float = 0
                        for j in 0..<d { dot += pd[b &+ j] * py[b &+ j] }
                        for j in 0..<d { o[b &+ j] = py[b &+ j] * (pd[b &+ j] - dot) }
                    }
                }
            } } })
        }
    }

    /// Mean cross-entropy of `logits` (`[..., V]`) against `targets` (one per row); rows whose target is
    /// `ignoreIndex` do not count. The result is a scalar (0 when every row is ignored).
    public func crossEntropy(_ logits: Var, targets: [Int32], ignoreIndex: Int32 = -100) -> Var {
        let tl = values[logits.id]
        let v = tl.lastDim, rows = tl.rows
        precondition(targets.count == rows, "crossEntropy: \(rows) rows, \(targets.count) targets")
        var counted = 0
        for t in targets where t != ignoreIndex {
            precondition(t >= 0 && Int(t) < v, "crossEntropy: target \(t) outside 0..<\(v)")
            counted += 1
        }
        let wantGrad = requiresGrad[logits.id]
        // Per-row losses, summed in row order afterwards (the same total for any thread count).
        var rowLoss = [Double](repeating: 0, count: rows)
        // With a gradient wanted, the forward pass keeps softmax(logits) and the backward pass turns it into
        // the gradient in place (one exp per logit in all).
        let probs = ArrayBox(wantGrad ? makeArray(rows * v) { _ in } : [])
        withRead(tl.data) { pl in targets.withUnsafeBufferPointer { tg in rowLoss.withUnsafeMutableBufferPointer { lossp in
            if wantGrad {
                probs.array.withUnsafeMutableBufferPointer { pp in
                    let po = pp.baseAddress!
                    Parallel.forRanges(rows, grain: Grain.rows(v)) { rr in
                        for r in rr {
                            let row = pl + r &* v, orow = po + r &* v
                            if tg[r] == ignoreIndex { orow.update(repeating: 0, count: v); continue }
                            let m = Kernels.maxValue(row, v)
                            let sum = Kernels.expShiftSum(row, orow, v, shift: m)
                            lossp[r] = Double(m + logf(sum) - row[Int(tg[r])])
                            Kernels.scaleInPlace(orow, v, 1 / sum)
                        }
                    }
                }
            } else {
                Parallel.forRanges(rows, grain: Grain.rows(v)) { rr in
                    for r in rr where tg[r] != ignoreIndex {
                        let row = pl + r &* v
                        lossp[r] = Double(Kernels.logSumExp(row, v) - row[Int(tg[r])])
                    }
                }
            }
        } } }
        var total: Double = 0
        for l in rowLoss { total += l }
        let denom = Float(max(counted, 1))
        return record(Tensor(scalar: Float(total / Double(max(counted, 1)))), [logits]) { g, dy in
            let scale = dy[0] / denom
            var grad = probs.array
            probs.array = []
            grad.withUnsafeMutableBufferPointer { pg in targets.withUnsafeBufferPointer { tg in
                let po = pg.baseAddress!
                Parallel.forRanges(rows, grain: Grain.rows(v, Grain.memory)) { rr in
                    for r in rr where tg[r] != ignoreIndex {
                        let orow = po + r &* v
                        Kernels.scaleInPlace(orow, v, scale)
                        orow[Int(tg[r])] -= scale
                    }
                }
            } }
            g.accumulate(logits, grad)
        }
    }
}

extension Graph {
    /// Mean cross-entropy of `linear(x, w)` (`w` `[V, D]`, PyTorch Linear layout) against `targets`, without
    /// materializing the `[rows, V]` logits: blocks of rows go through logits → softmax → gradient → the two
    /// gradient GEMMs while the block is still in cache. The full logits of a training batch (67 MB for 2048
    /// rows × 8k vocab, more for real vocabularies) would otherwise be written, read three times and
    /// page-faulted fresh each step. The gradients are computed in the forward pass for an upstream gradient
    /// of 1 and scaled by the actual one in backward. Blocks depend on the sizes only, so results do not
    /// depend on the thread count.
    public func linearCrossEntropy(_ x: Var, _ w: Var, targets: [Int32], ignoreIndex: Int32 = -100) -> Var {
        linearCrossEntropy(x, w, targets: targets, ignoreIndex: ignoreIndex,
                           blockRows: max(64, (1 << 21) / max(values[w.id].shape[0], 1)))
    }

    /// `blockRows` rows of logits at a time (tests use small blocks).
    func linearCrossEntropy(_ x: Var, _ w: Var, targets: [Int32], ignoreIndex: Int32, blockRows: Int) -> Var {
        let tx = values[x.id], tw = values[w.id]
        precondition(tw.rank == 2, "linearCrossEntropy: weight must be [V, D]")
        let d = tx.lastDim, rows = tx.rows, v = tw.shape[0]
        precondition(tw.shape[1] == d, "linearCrossEntropy: \(tx.shape) · \(tw.shape)ᵀ")
        precondition(targets.count == rows, "linearCrossEntropy: \(rows) rows, \(targets.count) targets")
        var counted = 0
        for t in targets where t != ignoreIndex {
            precondition(t >= 0 && Int(t) < v, "linearCrossEntropy: target \(t) outside 0..<\(v)")
            counted += 1
        }
        let needX = requiresGrad[x.id], needW = requiresGrad[w.id], wantGrad = needX || needW
        let inv = 1 / Float(max(counted, 1))
        let block = max(1, min(rows, blockRows))
        var rowLoss = [Double](repeating: 0, count: rows)
        // All three are written by GEMMs with beta 0 before they are read (dW by the first block).
        var dx = needX ? makeArray(rows * d) { _ in } : []
        var dw = !needW ? [] : rows > 0 ? makeArray(v * d) { _ in } : [Float](repeating: 0, count: v * d)
        var logits = makeArray(block * v) { _ in }
        withRead(tx.data) { px in withRead(tw.data) { pw in targets.withUnsafeBufferPointer { tg in
            rowLoss.withUnsafeMutableBufferPointer { lossp in logits.withUnsafeMutableBufferPointer { lb in
                dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in
                    let pl = lb.baseAddress!
                    var r0 = 0
                    while r0 < rows {
                        let n = min(block, rows - r0)
                        BLAS.gemm(transB: true, m: n, n: v, k: d, a: px + r0 &* d, lda: d, b: pw, ldb: d, c: pl, ldc: v)
                        Parallel.forRanges(n, grain: Grain.rows(v)) { rr in
                            for i in rr {
                                let row = pl + i &* v, t = tg[r0 &+ i]
                                if t == ignoreIndex {
                                    if wantGrad { row.update(repeating: 0, count: v) }
                                    continue
                                }
                                if !wantGrad {
                                    lossp[r0 &+ i] = Double(Kernels.logSumExp(row, v) - row[Int(t)])
                                    continue
                                }
                                let m = Kernels.maxValue(row, v)
                                let target = row[Int(t)]
                                let sum = Kernels.expShiftSum(row, row, v, shift: m)
                                lossp[r0 &+ i] = Double(m + logf(sum) - target)
                                // d loss / d logits = (softmax − onehot) / counted
                                Kernels.scaleInPlace(row, v, inv / sum)
                                row[Int(t)] -= inv
                            }
                        }
                        if needX {  // dX block = dLogits · W
                            BLAS.gemm(m: n, n: d, k: v, a: pl, lda: v, b: pw, ldb: d, c: pdx.baseAddress! + r0 &* d, ldc: d)
                        }
                        if needW {  // dW += dLogitsᵀ · X block
                            BLAS.gemm(transA: true, m: v, n: d, k: n, a: pl, lda: v, b: px + r0 &* d, ldb: d,
                                      beta: r0 == 0 ? 0 : 1, c: pdw.baseAddress!, ldc: d)
                        }
                        r0 += n
                    }
                } }
            } }
        } } }
        var total: Double = 0
        for l in rowLoss { total += l }
        let gx = ArrayBox(dx), gw = ArrayBox(dw)
        return record(Tensor(scalar: Float(total / Double(max(counted, 1)))), [x, w]) { g, dy in
            let s = dy[0]
            for (input, box) in [(x, gx), (w, gw)] where g.needs(input) {
                var a = box.array
                box.array = []
                if s != 1 { a.withUnsafeMutableBufferPointer { Kernels.scaleInPlace($0.baseAddress!, $0.count, s) } }
                g.accumulate(input, a)
            }
        }
    }
}

/// A mutable array shared between an op's forward pass and its backward closure (moved out, not copied).
final class ArrayBox: @unchecked Sendable {
    var array: [Float]
    init(_ a: [Float]) { array = a }
}

/// Scalar kernels shared by graph ops and inference paths.
public enum Kernels {
    @inline(__always)
    public static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = maxValue(x, n)
        if m == -Float.infinity {  // fully masked row: defined as zeros
            y.update(repeating: 0, count: n); return
        }
        let s = expShiftSum(x, y, n, shift: m)
        scaleInPlace(y, n, 1 / s)
    }

    @inline(__always)
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = maxValue(x, n)
        if m == -Float.infinity { return m }
        return m + logf(expShiftSumOnly(x, n, shift: m))
    }
}
