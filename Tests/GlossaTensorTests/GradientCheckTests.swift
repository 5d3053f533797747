import Foundation
import Testing
@testable import GlossaTensor

// Every op: analytic gradient (float32 engine) against central finite differences of a float64 reference
// implementation of the same op, through the loss L = Σ op(x) ⊙ R with a fixed random R. The forward values
// are compared with the reference too.

struct GradCase {
    var inputs: [Tensor]
    var differentiable: [Bool]
    var build: (Graph, [Var]) -> Var
    var reference: ([[Double]]) -> [Double]
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var r = RandomGenerator(seed: seed)
    return Tensor.randn(shape, std: scale, rng: &r)
}

func checkGradients(_ c: GradCase, forwardTol: Double = 1e-4, gradTol: Double = 2e-3,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    let g = Graph()
    let vars = zip(c.inputs, c.differentiable).map { $0.1 ? g.parameter($0.0) : g.constant($0.0) }
    let out = c.build(g, vars)
    let outT = g[out]
    let r = randomTensor(outT.shape, seed: 99)
    let loss = g.sum(g.mul(out, g.constant(r)))
    g.backward(loss)

    let xs = c.inputs.map { $0.data.map(Double.init) }
    let refOut = c.reference(xs)
    #expect(refOut.count == outT.count, "reference size", sourceLocation: sourceLocation)
    var fErr = 0.0, fScale = 1e-6
    for i in 0..<min(refOut.count, outT.count) {
        fErr = max(fErr, abs(refOut[i] - Double(outT.data[i]))); fScale = max(fScale, abs(refOut[i]))
    }
    #expect(fErr / max(fScale, 1) < forwardTol, "forward error \(fErr)", sourceLocation: sourceLocation)

    func lossRef(_ x: [[Double]]) -> Double {
        let o = c.reference(x)
        var s = 0.0
        for i in 0..<o.count { s += o[i] * Double(r.data[i]) }
        return s
    }
    for (k, v) in vars.enumerated() where c.differentiable[k] {
        let analytic = g.grad(v)?.data ?? [Float](repeating: 0, count: c.inputs[k].count)
        var numeric = [Double](repeating: 0, count: xs[k].count)
        let h = 1e-5
        for i in 0..<xs[k].count {
            var p = xs, m = xs
            p[k][i] += h; m[k][i] -= h
            numeric[i] = (lossRef(p) - lossRef(m)) / (2 * h)
        }
        var err = 0.0, scale = 1e-3
        for i in 0..<numeric.count {
            err = max(err, abs(Double(analytic[i]) - numeric[i])); scale = max(scale, abs(numeric[i]))
        }
        #expect(err / scale < gradTol, "input \(k): max gradient error \(err) (scale \(scale))", sourceLocation: sourceLocation)
    }
}

// MARK: float64 reference implementations

enum Ref {
    static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int, transB: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s = 0.0
            for p in 0..<k { s += a[i * k + p] * (transB ? b[j * k + p] : b[p * n + j]) }
            c[i * n + j] = s } }
        return c
    }
    static func rows(_ x: [Double], _ d: Int, _ f: (ArraySlice<Double>) -> [Double]) -> [Double] {
        var out: [Double] = []
        for r in 0..<(x.count / d) { out += f(x[(r * d)..<(r * d + d)]) }
        return out
    }
    static func softmax(_ x: ArraySlice<Double>) -> [Double] {
        let m = x.max()!
        if m == -.infinity { return x.map { _ in 0 } }
        let e = x.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
    static func silu(_ v: Double) -> Double { v / (1 + Foundation.exp(-v)) }
    /// attention with q [B,T,H,d], k/v [B,S,Hkv,d]
    static func attention(q: [Double], k: [Double], v: [Double], b: Int, t: Int, s: Int, h: Int, hkv: Int, d: Int,
                          causal: Bool, offset: Int, bias: [Double]?, biasMode: Int) -> [Double] {
        var out = [Double](repeating: 0, count: b * t * h * d)
        let group = h / hkv, sc = 1 / Double(d).squareRoot()
        for bi in 0..<b { for hi in 0..<h { let kh = hi / group
            for i in 0..<t {
                var scores = [Double](repeating: 0, count: s)
                for j in 0..<s {
                    var dot = 0.0
                    for e in 0..<d { dot += q[((bi * t + i) * h + hi) * d + e] * k[((bi * s + j) * hkv + kh) * d + e] }
                    scores[j] = dot * sc
                    if let bias {
                        let bo = biasMode == 1 ? 0 : biasMode == 2 ? hi * t * s : (bi * h + hi) * t * s
                        scores[j] += bias[bo + i * s + j]
                    }
                    if causal && j > offset + i { scores[j] = -.infinity }
                }
                let p = softmax(scores[...])
                for e in 0..<d {
                    var acc = 0.0
                    for j in 0..<s { acc += p[j] * v[((bi * s + j) * hkv + kh) * d + e] }
                    out[((bi * t + i) * h + hi) * d + e] = acc
                }
            }
        } }
        return out
    }
}

// MARK: cases

@Test func gradAddMulScaleBroadcast() {
    let a = randomTensor([3, 4], seed: 1), b = randomTensor([4], seed: 2), c = randomTensor([3, 4], seed: 3)
    checkGradients(GradCase(inputs: [a, b], differentiable: [true, true], build: { g, v in g.add(v[0], v[1]) },
                            reference: { x in (0..<12).map { x[0][$0] + x[1][$0 % 4] } }))
    checkGradients(GradCase(inputs: [a, b], differentiable: [true, true], build: { g, v in g.mul(v[0], v[1]) },
                            reference: { x in (0..<12).map { x[0][$0] * x[1][$0 % 4] } }))
    checkGradients(GradCase(inputs: [a, c], differentiable: [true, true], build: { g, v in g.sub(g.scale(v[0], 2.5), v[1]) },
                            reference: { x in (0..<12).map { 2.5 * x[0][$0] - x[1][$0] } }))
    checkGradients(GradCase(inputs: [a], differentiable: [true], build: { g, v in g.mean(g.reshape(v[0], [12])) },
                            reference: { x in [x[0].reduce(0, +) / 12] }))
}

@Test func gradUnaryActivations() {
    let a = randomTensor([2, 7], seed: 4, scale: 1.5)
    let cases: [(String, (Graph, Var) -> Var, (Double) -> Double)] = [
        ("silu", { $0.silu($1) }, Ref.silu),
        ("tanh", { $0.tanh($1) }, { Foundation.tanh($0) }),
        ("exp", { $0.exp($1) }, { Foundation.exp($0) }),
        ("gelu", { $0.gelu($1) }, { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }),
        ("gelu_tanh", { $0.gelu($1, approximate: true) },
         { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }),
        ("relu", { $0.relu($1) }, { max($0, 0) }),
    ]
    for (_, f, r) in cases {
        checkGradients(GradCase(inputs: [a], differentiable: [true], build: { g, v in f(g, v[0]) },
                                reference: { x in x[0].map(r) }))
    }
}

@Test func gradSwiGLU() {
    let a = randomTensor([3, 5], seed: 5), b = randomTensor([3, 5], seed: 6)
    checkGradients(GradCase(inputs: [a, b], differentiable: [true, true], build: { g, v in g.swiglu(gate: v[0], up: v[1]) },
                            reference: { x in (0..<15).map { Ref.silu(x[0][$0]) * x[1][$0] } }))
}

@Test func gradMatmulAndLinear() {
    let x = randomTensor([2, 3, 4], seed: 7), w = randomTensor([5, 4], seed: 8), w2 = randomTensor([4, 5], seed: 9)
    let bias = randomTensor([5], seed: 10)
    checkGradients(GradCase(inputs: [x, w, bias], differentiable: [true, true, true],
                            build: { g, v in g.linear(v[0], v[1], bias: v[2]) },
                            reference: { a in
                                let y = Ref.matmul(a[0], a[1], m: 6, k: 4, n: 5, transB: true)
                                return (0..<30).map { y[$0] + a[2][$0 % 5] } }))
    checkGradients(GradCase(inputs: [x, w2], differentiable: [true, true],
                            build: { g, v in g.matmul(v[0], v[1]) },
                            reference: { a in Ref.matmul(a[0], a[1], m: 6, k: 4, n: 5, transB: false) }))
}

@Test func gradEmbedding() {
    let table = randomTensor([6, 3], seed: 11)
    let ids: [Int32] = [2, 0, 2, 5]
    checkGradients(GradCase(inputs: [table], differentiable: [true],
                            build: { g, v in g.embedding(v[0], ids: ids, idsShape: [2, 2]) },
                            reference: { x in ids.flatMap { id in (0..<3).map { x[0][Int(id) * 3 + $0] } } }))
}

@Test func gradNorms() {
    let x = randomTensor([3, 8], seed: 12), w = randomTensor([8], seed: 13), b = randomTensor([8], seed: 14)
    checkGradients(GradCase(inputs: [x, w], differentiable: [true, true],
                            build: { g, v in g.rmsNorm(v[0], weight: v[1], eps: 1e-5) },
                            reference: { a in
                                var out: [Double] = []
                                for r in 0..<3 {
                                    let row = a[0][(r * 8)..<(r * 8 + 8)]
                                    let s = 1 / (row.map { $0 * $0 }.reduce(0, +) / 8 + 1e-5).squareRoot()
                                    out += row.enumerated().map { a[1][$0.offset] * $0.element * s }
                                }
                                return out }))
    checkGradients(GradCase(inputs: [x, w, b], differentiable: [true, true, true],
                            build: { g, v in g.layerNorm(v[0], weight: v[1], bias: v[2], eps: 1e-5) },
                            reference: { a in
                                var out: [Double] = []
                                for r in 0..<3 {
                                    let row = Array(a[0][(r * 8)..<(r * 8 + 8)])
                                    let mu = row.reduce(0, +) / 8
                                    let va = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 8
                                    out += row.enumerated().map { ($0.element - mu) / (va + 1e-5).squareRoot() * a[1][$0.offset] + a[2][$0.offset] }
                                }
                                return out }))
}

@Test func gradSoftmaxAndCrossEntropy() {
    let x = randomTensor([4, 6], seed: 15, scale: 2)
    checkGradients(GradCase(inputs: [x], differentiable: [true], build: { g, v in g.softmax(v[0]) },
                            reference: { a in Ref.rows(a[0], 6, Ref.softmax) }))
    let targets: [Int32] = [3, -100, 0, 5]
    checkGradients(GradCase(inputs: [x], differentiable: [true],
                            build: { g, v in g.crossEntropy(v[0], targets: targets) },
                            reference: { a in
                                var s = 0.0, n = 0.0
                                for r in 0..<4 where targets[r] != -100 {
                                    let row = a[0][(r * 6)..<(r * 6 + 6)]
                                    let m = row.max()!
                                    let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
                                    s += lse - a[0][r * 6 + Int(targets[r])]; n += 1
                                }
                                return [s / n] }))
}

@Test func gradRoPE() {
    let x = randomTensor([2, 3, 2, 4], seed: 16)
    let rope = RoPE(headDim: 4, theta: 100)
    let pos = [0, 5, 2]
    checkGradients(GradCase(inputs: [x], differentiable: [true], build: { g, v in g.rope(v[0], rope, positions: pos) },
                            reference: { a in
                                var out = a[0]
                                for bi in 0..<2 { for ti in 0..<3 { for h in 0..<2 { for j in 0..<2 {
                                    let o = ((bi * 3 + ti) * 2 + h) * 4
                                    let ang = Double(pos[ti]) * Double(rope.invFreq[j])
                                    let x1 = a[0][o + j], x2 = a[0][o + j + 2]
                                    out[o + j] = x1 * Foundation.cos(ang) - x2 * Foundation.sin(ang)
                                    out[o + j + 2] = x2 * Foundation.cos(ang) + x1 * Foundation.sin(ang)
                                } } } }
                                return out }))
}

@Test func gradCausalGQAAttention() {
    let (b, t, h, hkv, d) = (2, 4, 4, 2, 3)
    let q = randomTensor([b, t, h, d], seed: 17), k = randomTensor([b, t, hkv, d], seed: 18), v = randomTensor([b, t, hkv, d], seed: 19)
    checkGradients(GradCase(inputs: [q, k, v], differentiable: [true, true, true],
                            build: { g, x in g.attention(q: x[0], k: x[1], v: x[2], causal: true) },
                            reference: { a in Ref.attention(q: a[0], k: a[1], v: a[2], b: b, t: t, s: t, h: h, hkv: hkv, d: d,
                                                            causal: true, offset: 0, bias: nil, biasMode: 0) }))
}

@Test func gradCrossAttentionWithBiasAndOffset() {
    let (b, t, s, h, d) = (1, 3, 5, 2, 4)
    let q = randomTensor([b, t, h, d], seed: 20), k = randomTensor([b, s, h, d], seed: 21), v = randomTensor([b, s, h, d], seed: 22)
    let bias = randomTensor([h, t, s], seed: 23)
    // Non-causal cross-attention with a learned additive bias (gets a gradient).
    checkGradients(GradCase(inputs: [q, k, v, bias], differentiable: [true, true, true, true],
                            build: { g, x in g.attention(q: x[0], k: x[1], v: x[2], causal: false, bias: x[3]) },
                            reference: { a in Ref.attention(q: a[0], k: a[1], v: a[2], b: b, t: t, s: s, h: h, hkv: h, d: d,
                                                            causal: false, offset: 0, bias: a[3], biasMode: 2) }))
    // Causal with a query offset (the KV-cache case) and a [T,S] mask with a −∞ entry.
    var mask = Tensor(zeros: [t, s]); mask.data[1] = -.infinity
    checkGradients(GradCase(inputs: [q, k, v, mask], differentiable: [true, true, true, false],
                            build: { g, x in g.attention(q: x[0], k: x[1], v: x[2], causal: true, queryOffset: 2, bias: x[3]) },
                            reference: { a in Ref.attention(q: a[0], k: a[1], v: a[2], b: b, t: t, s: s, h: h, hkv: h, d: d,
                                                            causal: true, offset: 2, bias: a[3], biasMode: 1) }))
}

@Test func dropoutMasksAndScales() {
    let x = Tensor(repeating: 1, shape: [1000])
    let g = Graph(training: true, seed: 7)
    let v = g.parameter(x)
    let y = g.dropout(v, p: 0.25)
    g.backward(g.sum(y))
    let out = g[y].data
    let kept = out.filter { $0 != 0 }.count
    #expect(abs(kept - 750) < 60)
    #expect(out.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
    #expect(g.grad(v)!.data == out)  // d(sum)/dx = mask / keep
    let ge = Graph(training: false)
    let ve = ge.constant(x)
    #expect(ge.dropout(ve, p: 0.5) == ve)
    // Deterministic seeding.
    let g2 = Graph(training: true, seed: 7)
    #expect(g2[g2.dropout(g2.constant(x), p: 0.25)].data == out)
}

@Test func gradientAccumulatesOverFanOut() {
    let g = Graph()
    let a = g.parameter(Tensor(shape: [2], data: [1, 2]))
    let y = g.sum(g.add(g.mul(a, a), a))   // Σ a² + a → 2a + 1
    g.backward(y)
    #expect(g.grad(a)!.data == [3, 5])
}

/// The fused head + loss: gradients of x and w against finite differences, with blocks smaller than the rows
/// (the dW accumulation across blocks) and an ignored row.
@Test func gradLinearCrossEntropy() {
    let x = randomTensor([5, 4], seed: 21), w = randomTensor([7, 4], seed: 22, scale: 0.7)
    let targets: [Int32] = [3, -100, 0, 6, 2]
    for block in [2, 5] {
        checkGradients(GradCase(inputs: [x, w], differentiable: [true, true],
                                build: { g, v in g.linearCrossEntropy(v[0], v[1], targets: targets, ignoreIndex: -100,
                                                                      blockRows: block) },
                                reference: { a in
                                    var s = 0.0, n = 0.0
                                    for r in 0..<5 where targets[r] != -100 {
                                        let row = (0..<7).map { j in (0..<4).reduce(0.0) { $0 + a[0][r * 4 + $1] * a[1][j * 4 + $1] } }
                                        let m = row.max()!
                                        let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
                                        s += lse - row[Int(targets[r])]; n += 1
                                    }
                                    return [s / n] }))
    }
}

/// The fused op equals `crossEntropy(linear(x, w))` in value and gradients, for any block size, and the
/// forward-only path (no gradients wanted) gives the same loss.
@Test func linearCrossEntropyMatchesUnfused() {
    let rows = 70, d = 24, v = 300
    let x = randomTensor([rows, d], seed: 23), w = randomTensor([v, d], seed: 24, scale: 0.3)
    let targets = (0..<rows).map { $0 % 9 == 4 ? Int32(-100) : Int32(($0 * 13) % v) }
    let g0 = Graph()
    let x0 = g0.parameter(x), w0 = g0.parameter(w)
    let l0 = g0.crossEntropy(g0.linear(x0, w0), targets: targets)
    g0.backward(g0.scale(l0, 3))
    for block in [1, 16, 64, 70, 500] {
        let g = Graph()
        let x1 = g.parameter(x), w1 = g.parameter(w)
        let l1 = g.linearCrossEntropy(x1, w1, targets: targets, ignoreIndex: -100, blockRows: block)
        g.backward(g.scale(l1, 3))
        #expect(abs(g[l1][0] - g0[l0][0]) <= 1e-6 * abs(g0[l0][0]), "block \(block): loss")
        for (a, b) in [(g.grad(x1)!, g0.grad(x0)!), (g.grad(w1)!, g0.grad(w0)!)] {
            let worst = zip(a.data, b.data).map { abs($0 - $1) }.max()!, scale = b.data.map { abs($0) }.max()!
            #expect(worst <= 1e-5 * scale, "block \(block): gradient max |Δ| \(worst) of \(scale)")
        }
        let gc = Graph(training: false)
        let lc = gc.linearCrossEntropy(gc.constant(x), gc.constant(w), targets: targets, ignoreIndex: -100, blockRows: block)
        #expect(abs(gc[lc][0] - g0[l0][0]) <= 1e-6 * abs(g0[l0][0]), "block \(block): forward-only loss")
    }
}
