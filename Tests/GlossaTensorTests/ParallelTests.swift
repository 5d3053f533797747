import Dispatch
import Testing
@testable import GlossaTensor

// The element-wise kernels split work over the engine's threads; results must be bit-identical for any
// thread count (disjoint outputs, reductions in a size-only chunking combined in order).

/// Runs `body` with OpenBLAS (and so the element-wise kernels) set to `threads`, restoring the count. The count is
/// one setting for the process and tests run in parallel: one test at a time sets it (two at once made a test's
/// "one thread" run partly at another test's count).
func withThreads<R>(_ threads: Int, _ body: () -> R) -> R {
    withThreadSettingHeld {
        let saved = BLAS.threadCount
        BLAS.setThreadCount(threads)
        defer { BLAS.setThreadCount(saved) }
        return body()
    }
}

/// Runs `body` while no other test sets the thread count (`withThreads` waits for it).
func withThreadSettingHeld<R>(_ body: () -> R) -> R { testThreadSetting.sync(execute: body) }

private let testThreadSetting = DispatchQueue(label: "glossa.tests.thread-count")

/// Forward values and all input gradients of a chain of the parallelised ops on tensors above the thresholds.
func parallelOpsRun(gemm: Bool = true) -> [[Float]] {
    let rows = 96, d = 384, v = 1000
    let g = Graph()
    let x = g.parameter(randomTensor([rows, d], seed: 1))
    let w = g.parameter(randomTensor([d], seed: 2, scale: 0.5))
    let bias = g.parameter(randomTensor([d], seed: 3))
    let table = g.parameter(randomTensor([v, d], seed: 4))
    let ids = (0..<rows).map { Int32(($0 * 37) % 50) }   // repeated ids: embedding backward sums rows
    let e = g.embedding(table, ids: ids)
    var h = g.add(g.rmsNorm(g.add(x, e), weight: w, eps: 1e-5), bias)
    h = g.mul(h, g.layerNorm(x, weight: w, bias: bias, eps: 1e-5))
    h = g.swiglu(gate: h, up: g.silu(x))
    h = g.add(g.scale(h, 0.5), g.softmax(x))
    let q = g.reshape(h, [2, rows / 2, 4, d / 4])
    let k = g.reshape(g.tanh(x), [2, rows / 2, 4, d / 4])
    let r = g.rope(q, RoPE(headDim: d / 4, theta: 10000), positions: Array(0..<(rows / 2)))
    let a = g.attention(q: r, k: k, v: k, causal: true)
    let logits = gemm ? g.matmul(g.reshape(a, [rows, d]), table, transposeW: true) : g.reshape(a, [rows, d])
    let targets = (0..<rows).map { Int32(($0 * 7) % (gemm ? v : d)) }
    var loss = g.add(g.crossEntropy(logits, targets: targets), g.mean(h))
    if gemm {  // the fused head + loss, in blocks of 40 rows
        loss = g.add(loss, g.linearCrossEntropy(g.reshape(a, [rows, d]), table, targets: targets, ignoreIndex: -100,
                                                blockRows: 40))
    }
    g.backward(loss)
    return [g[loss].data, g[h].data] + [x, w, bias, table].map { g.grad($0)!.data }
}

/// Bit-identical without multithreaded GEMMs (`gemm: false`; attention's per-head GEMMs are single-threaded).
/// With the logits GEMM the results agree to rounding only: OpenBLAS itself may round a GEMM differently when
/// other threads call it at the same time (as the concurrently running tests do), which Glossa does not control.
@Test(arguments: [false, true]) func parallelKernelsAreThreadCountIndependent(gemm: Bool) {
    let one = withThreads(1) { parallelOpsRun(gemm: gemm) }
    for t in [2, 3] {
        let many = withThreads(t) { parallelOpsRun(gemm: gemm) }
        for (i, (a, b)) in zip(one, many).enumerated() {
            let diff = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0, scale = a.map { abs($0) }.max() ?? 0
            if gemm {
                #expect(a.count == b.count && worst <= 1e-5 * scale, "output \(i) at \(t) threads: max |Δ| \(worst) of \(scale)")
            } else {
                #expect(a.count == b.count && diff == 0, "output \(i): \(diff) of \(a.count) values differ at \(t) threads")
            }
        }
    }
}

@Test func optimizerStepIsThreadCountIndependent() {
    func run() -> [[Float]] {
        var ps = ParameterSet()
        ps.append("a", randomTensor([300, 257], seed: 5))
        ps.append("n", randomTensor([257], seed: 6), group: 1)
        var grads: Gradients = [randomTensor([300, 257], seed: 7, scale: 3), randomTensor([257], seed: 8)]
        GradientOps.accumulate(&grads, [randomTensor([300, 257], seed: 9), nil])
        let norm = GradientOps.clip(&grads, maxNorm: 1)
        var opt = AdamW(weightDecay: 0.1)
        for _ in 0..<2 { opt.update(&ps, grads: grads, lr: 1e-2) }
        return [[norm]] + ps.tensors.map(\.data)
    }
    let one = withThreads(1) { run() }
    let two = withThreads(2) { run() }
    for (a, b) in zip(one, two) { #expect(a.map(\.bitPattern) == b.map(\.bitPattern)) }
}

@Test func parallelRangesCoverEachIndexOnce() {
    for t in [1, 2, 5] {
        withThreads(t) {
            for n in [0, 1, 7, 100, 10_001] {
                var hits = [Int](repeating: 0, count: n)
                hits.withUnsafeMutableBufferPointer { p in
                    Parallel.forRanges(n, grain: 16) { r in for i in r { p[i] += 1 } }
                }
                #expect(hits.allSatisfy { $0 == 1 })
                var seen = [Int](repeating: 0, count: n)
                seen.withUnsafeMutableBufferPointer { p in Parallel.forEach(n) { i in p[i] += 1 } }
                #expect(seen.allSatisfy { $0 == 1 })
            }
        }
    }
}

