import Foundation
import GlossaTensor

/// A weighted sum of source rows: `Σ weights[k] · E[ids[k]]`. Weights on the simplex mean "inside the convex hull".
public struct Combination: Sendable, Equatable {
    public var ids: [Int]
    public var weights: [Float]
    public init(ids: [Int], weights: [Float]) {
        precondition(ids.count == weights.count)
        self.ids = ids; self.weights = weights
    }
    /// Uniform weights over `ids` (duplicates count twice, as FVT's mean over pieces does).
    public static func uniform(_ ids: [Int]) -> Combination {
        Combination(ids: ids, weights: [Float](repeating: 1 / Float(max(ids.count, 1)), count: ids.count))
    }
    /// True when every weight is ≥ 0 and they sum to 1 (within `tol`).
    public func isConvex(tol: Float = 1e-4) -> Bool {
        weights.allSatisfy { $0 >= 0 } && abs(weights.reduce(0, +) - 1) <= tol
    }
}

/// How one new row is made from a source matrix.
public enum RowRecipe: Sendable, Equatable {
    /// A combination of source rows (a copy is a combination with one weight 1).
    case combine(Combination)
    /// The mean of the statistics rows.
    case mean
    /// `N(0, σ²)` per entry (HF's old default).
    case random
    /// `N(μ, ε·Σ)` (Hewitt).
    case mvn
    /// The per-dimension normal `N(μ_j, σ_j²)` that WECHSEL/FOCUS/OFA use for tokens with no signal.
    case perDimensionNormal
}

/// The recipes for the new rows of the input embeddings and of the output head (they differ only for FVT's
/// first/last variant; every other method uses the same weights for both, per spec §0).
public struct InitPlan: Sendable {
    public var input: [RowRecipe]
    public var output: [RowRecipe]
    /// Human-readable notes (fallback counts, jitter used, …).
    public var notes: [String]
    public init(input: [RowRecipe], output: [RowRecipe]? = nil, notes: [String] = []) {
        self.input = input; self.output = output ?? input; self.notes = notes
    }
}

/// Options for the stochastic recipes.
public struct SamplingOptions: Sendable {
    /// Std of `.random` (HF `initializer_range`).
    public var randomStd: Float = 0.02
    /// ε of MVN: `N(μ, ε·Σ)`. Hewitt: 1e-5 (default); HF `mean_resizing`: 1e-9.
    public var mvnScale: Float = 1e-5
    public var seed: UInt64 = 1234
    public init(randomStd: Float = 0.02, mvnScale: Float = 1e-5, seed: UInt64 = 1234) {
        self.randomStd = randomStd; self.mvnScale = mvnScale; self.seed = seed
    }
}

/// Row statistics of a matrix over a subset of rows.
public struct RowStatistics: Sendable {
    public let mean: [Float]
    public let std: [Float]
    public init(matrix m: Tensor, rows: [Int]) {
        let d = m.shape[1]
        var mu = [Double](repeating: 0, count: d), sq = [Double](repeating: 0, count: d)
        m.data.withUnsafeBufferPointer { p in
            for r in rows {
                let base = r &* d
                for j in 0..<d { let v = Double(p[base &+ j]); mu[j] += v; sq[j] += v * v }
            }
        }
        let n = Double(max(rows.count, 1))
        mean = mu.map { Float($0 / n) }
        std = (0..<d).map { j in Float(max(sq[j] / n - (mu[j] / n) * (mu[j] / n), 0).squareRoot()) }
    }
}

public enum PlanApplier {
    /// Builds the new rows `[recipes.count × d]` from `matrix` (rows indexed by token id).
    /// - Parameters:
    ///   - statRows: the rows the mean, MVN and per-dimension statistics are computed over.
    ///   - salt: mixed into the seed so the input and output matrices get different noise.
    public static func apply(_ recipes: [RowRecipe], matrix m: Tensor, statRows: [Int], options: SamplingOptions,
                             salt: UInt64 = 0) throws(InitError) -> (rows: Tensor, notes: [String]) {
        let d = m.shape[1], n = recipes.count
        var out = [Float](repeating: 0, count: n &* d)
        var notes: [String] = []
        let needStats = recipes.contains { if case .combine = $0 { return false }; if case .random = $0 { return false }; return true }
        let stats = needStats ? RowStatistics(matrix: m, rows: statRows) : nil
        var rng = RandomGenerator(seed: options.seed &+ salt &* 0x9E37_79B9)
        // MVN: sample all at once through the Cholesky factor.
        let mvnRows = recipes.indices.filter { recipes[$0] == .mvn }
        var mvnSamples: [Float] = []
        if !mvnRows.isEmpty, let stats {
            let (l, jitter) = try covarianceFactor(m, rows: statRows, mean: stats.mean)
            if jitter > 0 { notes.append("mvn: covariance not positive definite; added jitter \(jitter)·I") }
            var z = [Float](repeating: 0, count: mvnRows.count &* d)
            for i in z.indices { z[i] = rng.nextNormal() }
            mvnSamples = [Float](repeating: 0, count: mvnRows.count &* d)
            // samples = sqrt(ε) · z · Lᵀ
            z.withUnsafeBufferPointer { pz in l.data.withUnsafeBufferPointer { pl in mvnSamples.withUnsafeMutableBufferPointer { ps in
                BLAS.gemm(transB: true, m: mvnRows.count, n: d, k: d, alpha: options.mvnScale.squareRoot(),
                          a: pz.baseAddress!, lda: d, b: pl.baseAddress!, ldb: d, c: ps.baseAddress!, ldc: d)
            } } }
        }
        var mvnIndex = 0
        m.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (i, r) in recipes.enumerated() {
                    let o = i &* d
                    switch r {
                    case .combine(let c):
                        for (k, id) in c.ids.enumerated() {
                            let w = c.weights[k], s = id &* d
                            for j in 0..<d { dst[o &+ j] += w * src[s &+ j] }
                        }
                    case .mean:
                        for j in 0..<d { dst[o &+ j] = stats!.mean[j] }
                    case .random:
                        for j in 0..<d { dst[o &+ j] = options.randomStd * rng.nextNormal() }
                    case .mvn:
                        let s = mvnIndex &* d
                        for j in 0..<d { dst[o &+ j] = stats!.mean[j] + mvnSamples[s &+ j] }
                        mvnIndex &+= 1
                    case .perDimensionNormal:
                        for j in 0..<d { dst[o &+ j] = stats!.mean[j] + stats!.std[j] * rng.nextNormal() }
                    }
                }
            }
        }
        return (Tensor(shape: [n, d], data: out), notes)
    }

    /// Lower Cholesky factor of `Σ = (E−μ)ᵀ(E−μ)/n` over `rows`, with jitter added (and reported) when Σ is not
    /// positive definite: 1e-6·mean(diag Σ), ×10 up to 1e-1.
    public static func covarianceFactor(_ m: Tensor, rows: [Int], mean: [Float]) throws(InitError) -> (Tensor, Float) {
        let d = m.shape[1], n = rows.count
        guard n > 0 else { throw InitError("mvn: no rows to estimate the covariance from") }
        var centered = [Float](repeating: 0, count: n &* d)
        m.data.withUnsafeBufferPointer { p in
            for (i, r) in rows.enumerated() {
                let s = r &* d, o = i &* d
                for j in 0..<d { centered[o &+ j] = p[s &+ j] - mean[j] }
            }
        }
        var cov = [Float](repeating: 0, count: d &* d)
        centered.withUnsafeBufferPointer { pc in cov.withUnsafeMutableBufferPointer { pv in
            BLAS.gemm(transA: true, m: d, n: d, k: n, alpha: 1 / Float(n), a: pc.baseAddress!, lda: d,
                      b: pc.baseAddress!, ldb: d, c: pv.baseAddress!, ldc: d)
        } }
        var meanDiag: Float = 0
        for j in 0..<d { meanDiag += cov[j &* d &+ j] }
        meanDiag /= Float(d)
        var jitter: Float = 0
        while true {
            var c = cov
            if jitter > 0 { for j in 0..<d { c[j &* d &+ j] += jitter } }
            if let l = try? Linalg.cholesky(Tensor(shape: [d, d], data: c)) { return (l, jitter) }
            jitter = jitter == 0 ? 1e-6 * max(meanDiag, 1e-12) : jitter * 10
            if jitter > 0.1 * max(meanDiag, 1e-12) {
                throw InitError("mvn: the covariance stays indefinite even with jitter \(jitter)")
            }
        }
    }
}
