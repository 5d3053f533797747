import Foundation
import GlossaTensor

/// Vectors in an auxiliary space (word or token vectors) for a list of items; `present[i]` is false for items
/// with no vector (their row is zero).
public struct AuxVectors: Sendable {
    public let dim: Int
    public var data: [Float]
    public var present: [Bool]
    public var count: Int { present.count }
    public init(dim: Int, data: [Float], present: [Bool]) {
        precondition(data.count == dim &* present.count)
        self.dim = dim; self.data = data; self.present = present
    }
    public init(dim: Int, count: Int) {
        self.init(dim: dim, data: [Float](repeating: 0, count: dim &* count), present: [Bool](repeating: false, count: count))
    }
    public func row(_ i: Int) -> ArraySlice<Float> { data[(i &* dim)..<((i &+ 1) &* dim)] }
    /// A copy with every row scaled to unit L2 norm (zero rows stay zero and are marked absent).
    public func normalized() -> AuxVectors {
        var out = self
        for i in 0..<count {
            var s: Float = 0
            for j in 0..<dim { let v = data[i &* dim &+ j]; s += v * v }
            if s <= 0 { out.present[i] = false; continue }
            let inv = 1 / s.squareRoot()
            for j in 0..<dim { out.data[i &* dim &+ j] *= inv }
        }
        return out
    }
}

/// What new tokens with no usable signal get.
public enum FallbackRule: String, Sendable, CaseIterable {
    /// The mean of the source rows (spec §1's recommendation).
    case mean
    /// The per-dimension normal the reference code uses.
    case normal
    var recipe: RowRecipe { self == .mean ? .mean : .perDimensionNormal }
}

public enum FVTVariant: String, Sendable, CaseIterable {
    /// Mean of the pieces (Gee et al.).
    case mean
    /// mergekit `first_last`: the last piece for `embed_tokens`, the first for `lm_head`.
    case firstLast = "first_last"
}

/// Turns per-method signals into row recipes.
public enum Planner {
    public static func constant(_ r: RowRecipe, count: Int) -> InitPlan {
        InitPlan(input: [RowRecipe](repeating: r, count: count))
    }

    /// FVT over the given decompositions (base ids of each new token); empty ones take the fallback.
    public static func fvt(_ decompositions: [[Int]], variant: FVTVariant, fallback: FallbackRule) -> InitPlan {
        var inp: [RowRecipe] = [], outp: [RowRecipe] = []
        var empty = 0
        for ids in decompositions {
            if ids.isEmpty { empty &+= 1; inp.append(fallback.recipe); outp.append(fallback.recipe); continue }
            switch variant {
            case .mean:
                let c = RowRecipe.combine(.uniform(ids)); inp.append(c); outp.append(c)
            case .firstLast:
                inp.append(.combine(.uniform([ids.last!]))); outp.append(.combine(.uniform([ids.first!])))
            }
        }
        return InitPlan(input: inp, output: outp, notes: empty > 0 ? ["fvt: \(empty) tokens with an empty decomposition took the \(fallback.rawValue) fallback"] : [])
    }

    /// Top-k softmax over cosine similarity (WECHSEL §3, OFA §5): `w = softmax(sim/τ)` over the `k` most similar
    /// anchors. `anchorIds[j]` is the source row of anchor `j`. Queries without a vector take the fallback.
    public static func topKSoftmax(queries: AuxVectors, anchors: AuxVectors, anchorIds: [Int], k: Int,
                                   temperature: Float, fallback: FallbackRule, label: String) -> InitPlan {
        var recipes = [RowRecipe](repeating: fallback.recipe, count: queries.count)
        let kk = max(1, min(k, anchorIds.count))
        let missing = SimilarityScan.scan(queries: queries, anchors: anchors) { i, sims in
            // Top-k by partial selection.
            var idx = [Int](); idx.reserveCapacity(kk)
            var vals = [Float](); vals.reserveCapacity(kk)
            for j in 0..<sims.count {
                let v = sims[j]
                if idx.count < kk {
                    var p = idx.count
                    idx.append(j); vals.append(v)
                    while p > 0 && vals[p - 1] < v { vals.swapAt(p, p - 1); idx.swapAt(p, p - 1); p -= 1 }
                } else if v > vals[kk - 1] {
                    var p = kk - 1
                    idx[p] = j; vals[p] = v
                    while p > 0 && vals[p - 1] < v { vals.swapAt(p, p - 1); idx.swapAt(p, p - 1); p -= 1 }
                }
            }
            let m = vals[0]
            var w = vals.map { exp(($0 - m) / temperature) }
            let s = w.reduce(0, +)
            for t in w.indices { w[t] /= s }
            return .combine(Combination(ids: idx.map { anchorIds[$0] }, weights: w))
        } store: { i, r in recipes[i] = r }
        return InitPlan(input: recipes, notes: missing > 0 ? ["\(label): \(missing) tokens without an aux vector took the \(fallback.rawValue) fallback"] : [])
    }

    /// FOCUS (§4): `α = sparsemax(cos)` over all anchors, a sparse convex combination.
    public static func sparsemax(queries: AuxVectors, anchors: AuxVectors, anchorIds: [Int], fallback: FallbackRule) -> InitPlan {
        var recipes = [RowRecipe](repeating: fallback.recipe, count: queries.count)
        let missing = SimilarityScan.scan(queries: queries, anchors: anchors) { _, sims in
            let (ids, w) = Sparsemax.project(sims)
            return .combine(Combination(ids: ids.map { anchorIds[$0] }, weights: w))
        } store: { i, r in recipes[i] = r }
        return InitPlan(input: recipes, notes: missing > 0 ? ["focus: \(missing) tokens without an aux vector took the \(fallback.rawValue) fallback"] : [])
    }

    /// OMP (§8) with an auxiliary space as the donor: greedy selection of `k` anchors by |⟨residual, anchor⟩|,
    /// least-squares coefficients (signed, unnormalized), transferred to the source rows.
    /// The greedy search runs over the `pool` anchors with the largest |⟨y, anchor⟩| (a pre-selection that keeps
    /// the cost at `N·(A + k·pool)·d_aux`; with `pool ≥ A` it is the exact algorithm).
    public static func omp(queries: AuxVectors, anchors: AuxVectors, anchorIds: [Int], k: Int, pool: Int,
                           fallback: FallbackRule) -> InitPlan {
        var recipes = [RowRecipe](repeating: fallback.recipe, count: queries.count)
        let a = anchors.dim
        let poolSize = min(max(pool, k), anchorIds.count)
        // The atoms are read in place from the anchor matrix (no per-query copies of the pool rows).
        let missing = anchors.data.withUnsafeBufferPointer { pa in
            nonisolated(unsafe) let atoms = pa.baseAddress!
            return SimilarityScan.scan(queries: queries, anchors: anchors, normalize: false) { i, dots in
                // Pre-select by |⟨y, d_j⟩| with a partial selection (O(A)) instead of a full sort.
                let cand = OMPSolver.largestMagnitudes(dots, count: poolSize)
                let (sel, beta) = queries.data.withUnsafeBufferPointer { pq in
                    OMPSolver.solve(y: pq.baseAddress! + i &* a, atoms: atoms, rows: cand, k: k, dim: a)
                }
                if sel.isEmpty { return fallback.recipe }
                return .combine(Combination(ids: sel.map { anchorIds[cand[$0]] }, weights: beta))
            } store: { i, r in recipes[i] = r }
        }
        return InitPlan(input: recipes, notes: missing > 0 ? ["omp: \(missing) tokens without an aux vector took the \(fallback.rawValue) fallback"] : [])
    }
}

/// Batched similarity of queries against anchors (BLAS), rows handed to a per-row function in parallel.
enum SimilarityScan {
    /// Returns the number of queries without a vector (left to the caller's default).
    static func scan(queries q0: AuxVectors, anchors a0: AuxVectors, normalize: Bool = true,
                     row: @Sendable (Int, UnsafeBufferPointer<Float>) -> RowRecipe,
                     store: (Int, RowRecipe) -> Void) -> Int {
        precondition(q0.dim == a0.dim)
        let q = normalize ? q0.normalized() : q0
        let a = normalize ? a0.normalized() : a0
        let dim = q.dim, na = a.count
        // Absent anchors score -inf-ish so they are never picked (cosine ≥ -1; dot products: 0 weight).
        let live = (0..<q.count).filter { q.present[$0] }
        let batch = 512
        var start = 0
        var results = [RowRecipe?](repeating: nil, count: q.count)
        var sims = [Float](repeating: 0, count: batch &* na)
        var qb = [Float](repeating: 0, count: batch &* dim)
        while start < live.count {
            let rows = Array(live[start..<min(start &+ batch, live.count)])
            for (r, i) in rows.enumerated() {
                for j in 0..<dim { qb[r &* dim &+ j] = q.data[i &* dim &+ j] }
            }
            qb.withUnsafeBufferPointer { pq in a.data.withUnsafeBufferPointer { pa in sims.withUnsafeMutableBufferPointer { ps in
                BLAS.gemm(transB: true, m: rows.count, n: na, k: dim, a: pq.baseAddress!, lda: dim,
                          b: pa.baseAddress!, ldb: dim, c: ps.baseAddress!, ldc: na)
            } } }
            for j in 0..<na where !a.present[j] {
                for r in 0..<rows.count { sims[r &* na &+ j] = normalize ? -2 : 0 }
            }
            let out = UnsafeMutablePointer<RowRecipe?>.allocate(capacity: rows.count)
            out.initialize(repeating: nil, count: rows.count)
            nonisolated(unsafe) let outP = out
            sims.withUnsafeBufferPointer { ps in
                nonisolated(unsafe) let base = ps.baseAddress!
                let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, rows.count))
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var r = w
                    while r < rows.count {
                        outP[r] = row(rows[r], UnsafeBufferPointer(start: base + r &* na, count: na))
                        r &+= workers
                    }
                }
            }
            for (r, i) in rows.enumerated() { results[i] = outP[r] }
            out.deinitialize(count: rows.count); out.deallocate()
            start &+= batch
        }
        for (i, r) in results.enumerated() { if let r { store(i, r) } }
        return q.count &- live.count
    }
}

/// Euclidean projection onto the probability simplex (Martins & Astudillo's sparsemax), computed exactly with
/// Michelot's algorithm: O(n) passes over a shrinking support instead of a full sort.
public enum Sparsemax {
    /// Returns the support (indices) and their weights, ordered by decreasing weight.
    public static func project(_ z: UnsafeBufferPointer<Float>) -> (ids: [Int], weights: [Float]) {
        guard let zmax = z.max() else { return ([], []) }
        // τ ≥ zmax − 1 always; start from the candidates above it.
        var support = [Int]()
        for i in 0..<z.count where z[i] > zmax - 1 { support.append(i) }
        var tau: Double = 0
        while true {
            var s = 0.0
            for i in support { s += Double(z[i]) }
            tau = (s - 1) / Double(support.count)
            let kept = support.filter { Double(z[$0]) > tau }
            if kept.count == support.count { break }
            support = kept
        }
        var pairs = support.map { ($0, Float(Double(z[$0]) - tau)) }
        pairs.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return (pairs.map(\.0), pairs.map(\.1))
    }

    public static func project(_ z: [Float]) -> (ids: [Int], weights: [Float]) {
        z.withUnsafeBufferPointer { project($0) }
    }
}

/// Orthogonal matching pursuit with modified Gram–Schmidt (double precision, re-orthogonalized).
public enum OMPSolver {
    /// Selects up to `k` atoms greedily; returns their indices and the least-squares coefficients.
    public static func solve(y: [Float], atoms: [[Float]], k: Int, dim: Int) -> (selected: [Int], coefficients: [Float]) {
        let flat = atoms.flatMap { $0 }
        return y.withUnsafeBufferPointer { py in flat.withUnsafeBufferPointer { pa in
            solve(y: py.baseAddress!, atoms: pa.baseAddress!, rows: Array(0..<atoms.count), k: k, dim: dim)
        } }
    }

    /// OMP over the atoms `atoms[rows[j]·dim ..< (rows[j]+1)·dim]` (rows of a row-major matrix, read in place).
    /// Returns indices into `rows` and the least-squares coefficients. The greedy scan (the `k·|rows|·dim` part)
    /// runs in Float SIMD; the Gram–Schmidt basis, residual and back-substitution (`k²·dim`) stay in Double.
    public static func solve(y: UnsafePointer<Float>, atoms: UnsafePointer<Float>, rows: [Int], k: Int,
                             dim: Int) -> (selected: [Int], coefficients: [Float]) {
        let n = rows.count
        var yd = [Double](repeating: 0, count: dim)
        for t in 0..<dim { yd[t] = Double(y[t]) }
        var r = yd
        var rf = [Float](repeating: 0, count: dim)
        var q: [[Double]] = []
        var rMat: [[Double]] = []   // rMat[s] = column s of R (length s+1)
        var sel: [Int] = []
        var used = [Bool](repeating: false, count: n)
        let ynorm = yd.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if ynorm == 0 { return ([], []) }
        var v = [Double](repeating: 0, count: dim)
        for _ in 0..<min(k, n, dim) {
            for t in 0..<dim { rf[t] = Float(r[t]) }
            var best = -1
            var bestV: Float = 0
            rf.withUnsafeBufferPointer { pr in
                let rp = pr.baseAddress!
                for j in 0..<n where !used[j] {
                    let s = abs(FloatKernels.dot(rp, atoms + rows[j] &* dim, dim))
                    if s > bestV { bestV = s; best = j }
                }
            }
            if best < 0 || Double(bestV) <= 1e-12 * ynorm { break }
            used[best] = true
            let atom = atoms + rows[best] &* dim
            var an = 0.0
            for t in 0..<dim { let x = Double(atom[t]); v[t] = x; an += x * x }
            an = an.squareRoot()
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
            if nv <= 1e-8 * max(an, 1e-30) { continue }   // linearly dependent: skip this atom
            for t in 0..<dim { v[t] /= nv }
            col[q.count] = nv
            q.append(v); rMat.append(col); sel.append(best)
            var s = 0.0
            for t in 0..<dim { s += v[t] * r[t] }
            for t in 0..<dim { r[t] -= s * v[t] }
        }
        if sel.isEmpty { return ([], []) }
        // β = R⁻¹ Qᵀ y.
        let m = sel.count
        var qty = [Double](repeating: 0, count: m)
        for i in 0..<m { var s = 0.0; for t in 0..<dim { s += q[i][t] * yd[t] }; qty[i] = s }
        var beta = [Double](repeating: 0, count: m)
        for i in stride(from: m - 1, through: 0, by: -1) {
            var s = qty[i]
            for j in (i + 1)..<m { s -= rMat[j][i] * beta[j] }
            beta[i] = s / rMat[i][i]
        }
        return (sel, beta.map(Float.init))
    }

    /// The indices of the `count` entries of largest magnitude, in index order; ties at the threshold go to the
    /// lower indices. Quickselect on the magnitudes (O(n) expected) instead of sorting all n.
    public static func largestMagnitudes(_ x: UnsafeBufferPointer<Float>, count c: Int) -> [Int] {
        let n = x.count
        if c >= n { return Array(0..<n) }
        if c <= 0 { return [] }
        var keys = [Float](repeating: 0, count: n)
        for j in 0..<n { keys[j] = abs(x[j]) }
        let thr = keys.withUnsafeMutableBufferPointer { kthLargest($0, c &- 1) }
        var out = [Int]()
        out.reserveCapacity(c)
        var ties = 0
        for j in 0..<n { let m = abs(x[j]); if m > thr { out.append(j) } else if m == thr { ties &+= 1 } }
        if out.count < c {
            var need = c &- out.count
            var tied = [Int](); tied.reserveCapacity(min(need, ties))
            for j in 0..<n where need > 0 && abs(x[j]) == thr { tied.append(j); need &-= 1 }
            out.append(contentsOf: tied)
            out.sort()
        }
        return out
    }

    /// The `k`-th largest value (0-based) of `a`, reordering `a` (three-way quickselect, median-of-three pivot).
    static func kthLargest(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        var lo = 0, hi = a.count &- 1
        while lo < hi {
            let mid = lo &+ (hi &- lo) / 2
            let x = a[lo], y = a[mid], z = a[hi]
            let pivot = max(min(x, y), min(max(x, y), z))
            // [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                let v = a[i]
                if v > pivot { a.swapAt(lt, i); lt &+= 1; i &+= 1 }
                else if v < pivot { a.swapAt(i, gt); gt &-= 1 }
                else { i &+= 1 }
            }
            if k < lt { hi = lt &- 1 } else if k <= gt { return pivot } else { lo = gt &+ 1 }
        }
        return a[lo]
    }
}
