import Dispatch
import Testing
@testable import GlossaTensor

// `BLAS.gemm` cuts large products into tiles run by the `Parallel` workers. The cuts depend on the shape only;
// results must equal a float64 reference to rounding and be bit-identical for any thread count (whether a cut
// along m or n matches one uncut OpenBLAS call is the kernel's business: Haswell's, on AMD Zen, does not).

@Test func tilingDependsOnShapeOnly() {
    // Token-row GEMMs of the training benchmark: cut along m into tiles of 256 rows.
    #expect(GEMMTiling(m: 2048, n: 704, k: 256) == GEMMTiling(axis: .m, tile: 256))
    // LM-head logits block: cut the vocabulary.
    #expect(GEMMTiling(m: 256, n: 8192, k: 256) == GEMMTiling(axis: .n, tile: 512))
    // Weight gradients (k = tokens) and the LM head's dX (k = vocabulary): cut k.
    #expect(GEMMTiling(m: 704, n: 256, k: 2048) == GEMMTiling(axis: .k, tile: 256))
    #expect(GEMMTiling(m: 256, n: 256, k: 8192) == GEMMTiling(axis: .k, tile: 512))
    // Small products and products too narrow to cut stay whole.
    #expect(GEMMTiling(m: 64, n: 64, k: 64).axis == .none)
    #expect(GEMMTiling(m: 300, n: 300, k: 300).axis == .none)
    // A moderately long k (SmolLM2's down projection at 256 tokens) is cut along n (tiles repack only A), not k.
    #expect(GEMMTiling(m: 256, n: 576, k: 1536) == GEMMTiling(axis: .n, tile: 256))
    // Partial products are bounded: a huge m·n with a long k cuts k coarser, or not at all.
    let big = GEMMTiling(m: 2000, n: 1000, k: 100_000)
    #expect(big.axis == .k && ((100_000 + big.tile - 1) / big.tile - 1) * 2000 * 1000 <= GEMMTiling.maximumPartial)
}

private struct GEMMCase: CustomStringConvertible {
    let transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float
    var description: String { "\(transA ? "T" : "N")\(transB ? "T" : "N") \(m)×\(n)×\(k) α\(alpha) β\(beta)" }
}

private let gemmCases: [GEMMCase] = [
    GEMMCase(transA: false, transB: true, m: 600, n: 100, k: 150, alpha: 1, beta: 0),      // m
    GEMMCase(transA: true, transB: false, m: 530, n: 90, k: 200, alpha: 0.5, beta: 1),     // m, transposed A
    GEMMCase(transA: false, transB: false, m: 100, n: 650, k: 150, alpha: 1, beta: 0),     // n
    GEMMCase(transA: true, transB: true, m: 90, n: 530, k: 200, alpha: 1, beta: 0.25),     // n, both transposed
    GEMMCase(transA: true, transB: false, m: 150, n: 130, k: 2100, alpha: 1, beta: 0),     // k (last tile short)
    GEMMCase(transA: false, transB: true, m: 120, n: 140, k: 2300, alpha: -2, beta: 1),    // k, accumulate
    GEMMCase(transA: false, transB: false, m: 128, n: 96, k: 4100, alpha: 1, beta: 0.5),   // k
]

/// Runs a case through `BLAS.gemm` at `threads` (nil: at the count as it is; padded leading dimensions, C preset for
/// beta).
private func runGEMM(_ c: GEMMCase, threads: Int?) -> [Float] {
    let (ar, ac) = c.transA ? (c.k, c.m) : (c.m, c.k)
    let (br, bc) = c.transB ? (c.n, c.k) : (c.k, c.n)
    let lda = ac + 3, ldb = bc + 5, ldc = c.n + 7
    let a = randomTensor([ar * lda], seed: 11).data, b = randomTensor([br * ldb], seed: 12).data
    var out = randomTensor([c.m * ldc], seed: 13).data
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { pc in
        let (pa, pb, pc) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
        let run = {
            BLAS.gemm(transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                      a: pa, lda: lda, b: pb, ldb: ldb, beta: c.beta, c: pc, ldc: ldc)
        }
        if let threads { withThreads(threads, run) } else { run() }
    } } }
    // float64 reference; padding columns of C must be untouched.
    let c0 = randomTensor([c.m * ldc], seed: 13).data
    for i in 0..<c.m {
        for j in 0..<ldc {
            if j >= c.n { #expect(out[i * ldc + j] == c0[i * ldc + j], "\(c): padding overwritten"); continue }
            var s = 0.0, mag = 0.0
            for p in 0..<c.k {
                let x = Double(c.transA ? a[p * lda + i] : a[i * lda + p])
                let y = Double(c.transB ? b[j * ldb + p] : b[p * ldb + j])
                s += x * y; mag += abs(x * y)
            }
            let want = Double(c.alpha) * s + Double(c.beta) * Double(c0[i * ldc + j])
            let tol = 1e-5 * (abs(Double(c.alpha)) * mag + abs(Double(c.beta * c0[i * ldc + j]))) + 1e-6
            if abs(Double(out[i * ldc + j]) - want) > tol {
                Issue.record("\(c) at \(threads) threads: C[\(i),\(j)] = \(out[i * ldc + j]), want \(want)")
                return out
            }
        }
    }
    return out
}

@Test func tiledGEMMMatchesReferenceForAnyThreadCount() {
    for c in gemmCases {
        let tiling = GEMMTiling(m: c.m, n: c.n, k: c.k)
        #expect(tiling.axis != .none, "\(c) should be cut")
        let one = runGEMM(c, threads: 1)
        for t in [2, 3] {
            let many = runGEMM(c, threads: t)
            #expect(one.map(\.bitPattern) == many.map(\.bitPattern), "\(c): \(t) threads differ from one")
        }
    }
}

@Test func tiledGEMMIsUnmovedByAnotherThreadsCountChanges() {
    // The thread count is one setting for the process: while one thread multiplies, another keeps setting it.
    // Tiles must still run single-threaded inside OpenBLAS (`BLAS.singleThreaded` holds the setting), or their
    // rounding changes with the Haswell kernel OpenBLAS picks on AMD Zen.
    let c = gemmCases[3]
    let one = runGEMM(c, threads: 1)
    final class Runs: @unchecked Sendable { var all: [[Float]] = [] }   // written by one worker, read after
    let runs = Runs()
    let done = DispatchSemaphore(value: 0)
    // No other test sets the count meanwhile (nor sees this one's changes in its `withThreads`).
    withThreadSettingHeld {
        let saved = BLAS.threadCount
        defer { BLAS.setThreadCount(saved) }
        BLAS.setThreadCount(2)
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            if i == 0 {
                for _ in 0..<8 { runs.all.append(runGEMM(c, threads: nil)) }
                done.signal()
            } else {
                while done.wait(timeout: .now()) == .timedOut { BLAS.setThreadCount(3); BLAS.setThreadCount(2) }
            }
        }
    }
    for r in runs.all { #expect(one.map(\.bitPattern) == r.map(\.bitPattern), "\(c): tiles ran at another thread's count") }
}
