import Foundation
import Testing
import GlossaTensor
@testable import GlossaInit

/// The straightforward OMP the fast path replaced: full sort for the pool, per-query copies of the pool atoms,
/// scalar Double inner products. Kept here as the reference the production code must agree with.
private func referenceOMP(y: [Float], anchors: [[Float]], k: Int, pool: Int) -> (ids: [Int], beta: [Float]) {
    let dim = y.count
    let dots = anchors.map { a in zip(a, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
    var cand = Array(0..<anchors.count)
    let poolSize = min(max(pool, k), anchors.count)
    cand.sort { abs(dots[$0]) > abs(dots[$1]) }
    cand.removeLast(cand.count - poolSize)
    let atoms = cand.map { anchors[$0] }
    let yd = y.map(Double.init)
    var r = yd
    var q: [[Double]] = [], rMat: [[Double]] = [], sel: [Int] = []
    var used = Set<Int>()
    let ynorm = yd.reduce(0) { $0 + $1 * $1 }.squareRoot()
    for _ in 0..<min(k, atoms.count, dim) {
        var best = -1, bestV = 0.0
        for (j, at) in atoms.enumerated() where !used.contains(j) {
            var s = 0.0
            for t in 0..<dim { s += r[t] * Double(at[t]) }
            if abs(s) > bestV { bestV = abs(s); best = j }
        }
        if best < 0 || bestV <= 1e-12 * ynorm { break }
        used.insert(best)
        var v = atoms[best].map(Double.init)
        var col = [Double](repeating: 0, count: q.count + 1)
        for _ in 0..<2 {
            for (i, qi) in q.enumerated() {
                var s = 0.0
                for t in 0..<dim { s += qi[t] * v[t] }
                col[i] += s
                for t in 0..<dim { v[t] -= s * qi[t] }
            }
        }
        let nv = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for t in 0..<dim { v[t] /= nv }
        col[q.count] = nv
        q.append(v); rMat.append(col); sel.append(best)
        var s = 0.0
        for t in 0..<dim { s += v[t] * r[t] }
        for t in 0..<dim { r[t] -= s * v[t] }
    }
    let m = sel.count
    var beta = [Double](repeating: 0, count: m)
    for i in stride(from: m - 1, through: 0, by: -1) {
        var s = 0.0
        for t in 0..<dim { s += q[i][t] * yd[t] }
        for j in (i + 1)..<m { s -= rMat[j][i] * beta[j] }
        beta[i] = s / rMat[i][i]
    }
    return (sel.map { cand[$0] }, beta.map(Float.init))
}

@Test func fastOMPMatchesTheReferenceImplementation() throws {
    var rng = RandomGenerator(seed: 21)
    let na = 300, dim = 24, nq = 40, k = 6, pool = 50
    let anchorT = Tensor.randn([na, dim], std: 1, rng: &rng)
    let queryT = Tensor.randn([nq, dim], std: 1, rng: &rng)
    let anchors = AuxVectors(dim: dim, data: anchorT.data, present: [Bool](repeating: true, count: na))
    let queries = AuxVectors(dim: dim, data: queryT.data, present: [Bool](repeating: true, count: nq))
    let anchorIds = (0..<na).map { 1000 + $0 }
    let plan = Planner.omp(queries: queries, anchors: anchors, anchorIds: anchorIds, k: k, pool: pool, fallback: .mean)
    let rows = (0..<na).map { Array(anchors.row($0)) }
    for i in 0..<nq {
        let ref = referenceOMP(y: Array(queries.row(i)), anchors: rows, k: k, pool: pool)
        guard case .combine(let c) = plan.input[i] else { Issue.record("query \(i): not a combination"); continue }
        #expect(c.ids == ref.ids.map { anchorIds[$0] }, "query \(i): selected atoms differ")
        for (a, b) in zip(c.weights, ref.beta) { #expect(abs(a - b) <= 1e-4 * max(1, abs(b)), "query \(i): \(a) vs \(b)") }
    }
    // The pool = all anchors case (exact algorithm) agrees too.
    let full = Planner.omp(queries: queries, anchors: anchors, anchorIds: anchorIds, k: k, pool: na, fallback: .mean)
    for i in 0..<5 {
        let ref = referenceOMP(y: Array(queries.row(i)), anchors: rows, k: k, pool: na)
        guard case .combine(let c) = full.input[i] else { Issue.record("not a combination"); continue }
        #expect(c.ids == ref.ids.map { anchorIds[$0] })
    }
}

@Test func partialSelectionFindsTheLargestMagnitudes() {
    var rng = RandomGenerator(seed: 4)
    for n in [1, 2, 7, 100, 1000] {
        // Include duplicates and zeros (absent anchors score 0).
        let x: [Float] = (0..<n).map { i in i % 5 == 0 ? 0 : (i % 7 == 0 ? -0.5 : rng.nextNormal()) }
        for c in [0, 1, n / 3, n - 1, n, n + 3] where c >= 0 {
            let got = x.withUnsafeBufferPointer { OMPSolver.largestMagnitudes($0, count: c) }
            let want = Array(Array(0..<n).sorted { abs(x[$0]) > abs(x[$1]) || (abs(x[$0]) == abs(x[$1]) && $0 < $1) }.prefix(c)).sorted()
            #expect(got == want, "n \(n) c \(c)")
        }
    }
}

@Test func floatKernelsMatchScalarLoops() {
    var rng = RandomGenerator(seed: 8)
    for n in [1, 7, 8, 15, 16, 17, 100, 576] {
        let a = (0..<n).map { _ in rng.nextNormal() }, b = (0..<n).map { _ in rng.nextNormal() }
        let want = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let got = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            FloatKernels.dot(pa.baseAddress!, pb.baseAddress!, n) } }
        #expect(abs(Double(got) - want) < 1e-4 * Double(max(n, 1)))
        var y = b
        y.withUnsafeMutableBufferPointer { py in a.withUnsafeBufferPointer { pa in FloatKernels.axpy(0.5, pa.baseAddress!, py.baseAddress!, n) } }
        for i in 0..<n { #expect(abs(y[i] - (b[i] + 0.5 * a[i])) < 1e-6) }
    }
}
