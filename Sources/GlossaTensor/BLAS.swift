internal import COpenBLAS
import Dispatch

/// Thin wrappers over the BLAS/LAPACK routines Glossa uses. All matrices are row-major.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C`, with `op(A)` m×k and `op(B)` k×n.
    ///
    /// Large products are cut into tiles (`GEMMTiling`) that the `Parallel` workers take one at a time, each a
    /// single-threaded OpenBLAS call: OpenBLAS's own threads split a product statically and wait for the slowest,
    /// which on a shared or busy machine leaves a core idle for much of every GEMM.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i &* ldc).update(repeating: 0, count: n) } }
            return
        }
        let tiling = GEMMTiling(m: m, n: n, k: k)
        // Cut at one thread too: whether a cut along m or n changes the rounding depends on the kernel
        // (OpenBLAS's Haswell sgemm, picked on AMD Zen, rounds edge tiles differently; SkylakeX does not).
        if tiling.axis == .none {
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        tiledGemm(tiling, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @inline(__always)
    static func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    static func tiledGemm(_ tiling: GEMMTiling, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                          _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>,
                          _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        let workers = threadCount, size = tiling.tile
        switch tiling.axis {
        case .m, .n:
            let alongM = tiling.axis == .m
            let tiles = ((alongM ? m : n) &+ size &- 1) / size
            singleThreaded(when: true) {
                Parallel.forEach(tiles, workers: workers) { t in
                    let lo = t &* size, len = Swift.min(size, (alongM ? m : n) &- lo)
                    if alongM {   // rows lo..<lo+len of op(A) and C
                        sgemm(transA, transB, len, n, k, alpha, transA ? a + lo : a + lo &* lda, lda, b, ldb,
                              beta, c + lo &* ldc, ldc)
                    } else {      // columns lo..<lo+len of op(B) and C
                        sgemm(transA, transB, m, len, k, alpha, a, lda, transB ? b + lo &* ldb : b + lo, ldb,
                              beta, c + lo, ldc)
                    }
                }
            }
        case .k:
            // Tile 0 goes straight into C (with beta); the others into partial products that are then added to
            // C in tile order, so every element is summed the same way for any thread count.
            let tiles = (k &+ size &- 1) / size
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: (tiles &- 1) &* m &* n)
            defer { partial.deallocate() }
            singleThreaded(when: workers > 1) {
                Parallel.forEach(tiles, workers: workers) { t in
                    let lo = t &* size, len = Swift.min(size, k &- lo)
                    let pa = transA ? a + lo &* lda : a + lo, pb = transB ? b + lo : b + lo &* ldb
                    if t == 0 {
                        sgemm(transA, transB, m, n, len, alpha, pa, lda, pb, ldb, beta, c, ldc)
                    } else {
                        sgemm(transA, transB, m, n, len, alpha, pa, lda, pb, ldb, 0, partial + (t &- 1) &* m &* n, n)
                    }
                }
            }
            Parallel.forRanges(m, grain: Swift.max(1, 16_384 / n)) { rows in
                for t in 1..<tiles {
                    let p = partial + (t &- 1) &* m &* n
                    for i in rows { Kernels.addInPlace(c + i &* ldc, p + i &* n, n) }
                }
            }
        case .none:
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// Number of threads OpenBLAS uses (its own pool).
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the OpenBLAS thread count (≥ 1). Waits while a `singleThreaded` body runs with the count lowered.
    public static func setThreadCount(_ n: Int) {
        threadSetting.sync { openblas_set_num_threads(Int32(max(1, n))) }
    }
}

/// How `BLAS.gemm` cuts a product into single-threaded tiles. The shape alone decides, and the cut is made at
/// every thread count, one thread included, so results do not depend on the thread count: a cut along k changes
/// the rounding through its partial products, and one along m or n may, depending on the kernel.
struct GEMMTiling: Equatable {
    enum Axis { case none, m, n, k }
    let axis: Axis
    let tile: Int

    /// Products under this many multiply-adds (~0.1 ms on one core) are not worth cutting.
    static let minimumWork = 1 << 23
    /// At most this many floats of partial products for a cut along k.
    static let maximumPartial = 1 << 22

    init(axis: Axis, tile: Int) { self.axis = axis; self.tile = tile }

    init(m: Int, n: Int, k: Int) {
        let wide = Swift.max(m, n)
        guard m &* n &* k >= GEMMTiling.minimumWork else {
            self.init(axis: .none, tile: 0); return
        }
        // Long inner dimension (weight gradients: k = tokens; the LM head's dX: k = vocabulary): cut k, each
        // tile packs only its slice of both operands. Tiles of ≥ 256 keep the sgemm kernels at full speed
        // (measured: 0.4–6 % over one call, partial sums included; cutting m or n instead repacks a whole
        // operand per tile, 7–40 %). Shorter k is cut along m or n, which costs nothing at one thread.
        if k >= 2048 && k > 2 &* wide {
            var size = GEMMTiling.roundUp(Swift.max(256, k / 16), 64)
            while (k &+ size &- 1) / size > 1 && ((k &+ size &- 1) / size &- 1) &* m &* n > GEMMTiling.maximumPartial {
                size &*= 2
            }
            self.init(axis: (k &+ size &- 1) / size > 1 ? .k : .none, tile: size); return
        }
        // Otherwise cut the longer of m and n; every tile repacks the other operand, so tiles stay ≥ 256
        // (2–4 % over one call for the token-row GEMMs).
        let size = GEMMTiling.roundUp(Swift.max(256, wide / 16), 16)
        if wide < 2 &* size { self.init(axis: .none, tile: 0); return }
        self.init(axis: m >= n ? .m : .n, tile: size)
    }

    private static func roundUp(_ x: Int, _ q: Int) -> Int { (x &+ q &- 1) / q &* q }
}

/// Dense linear algebra on LAPACK (float32).
public enum Linalg {
    public struct Failure: Error, CustomStringConvertible {
        public let routine: String
        public let info: Int
        public var description: String { "LAPACK \(routine) failed (info = \(info))" }
    }

    /// Thin SVD of an m×n matrix: `a = u · diag(s) · vt`, u m×r, s r, vt r×n, r = min(m, n); s descending.
    public static func svd(_ a: Tensor) throws(Failure) -> (u: Tensor, s: [Float], vt: Tensor) {
        precondition(a.rank == 2)
        let m = a.shape[0], n = a.shape[1], r = min(m, n)
        // LAPACK is column-major: the row-major m×n matrix is the column-major n×m matrix aᵀ.
        // SVD of aᵀ = U' S V'ᵀ  ⇒  a = V' S U'ᵀ. In row-major terms u = (V'ᵀ)ᵀ read back directly.
        var work = a.data
        var s = [Float](repeating: 0, count: r)
        var uCol = [Float](repeating: 0, count: n * r)   // U' : n×r column-major
        var vtCol = [Float](repeating: 0, count: r * m)  // V'ᵀ: r×m column-major
        var jobz = Int8(UInt8(ascii: "S"))
        var mm = Int32(n), nn = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(r), info: Int32 = 0
        var iwork = [Int32](repeating: 0, count: 8 * r)
        var lwork: Int32 = -1
        var query: Float = 0
        sgesdd_(&jobz, &mm, &nn, &work, &lda, &s, &uCol, &ldu, &vtCol, &ldvt, &query, &lwork, &iwork, &info, 1)
        if info != 0 { throw Failure(routine: "sgesdd", info: Int(info)) }
        lwork = Int32(query)
        var w = [Float](repeating: 0, count: Int(lwork))
        sgesdd_(&jobz, &mm, &nn, &work, &lda, &s, &uCol, &ldu, &vtCol, &ldvt, &w, &lwork, &iwork, &info, 1)
        if info != 0 { throw Failure(routine: "sgesdd", info: Int(info)) }
        // Column-major r×m V'ᵀ is row-major m×r: that is u. Column-major n×r U' is row-major r×n: that is vt.
        return (Tensor(shape: [m, r], data: vtCol), s, Tensor(shape: [r, n], data: uCol))
    }

    /// Cholesky factor L (lower, row-major) of a symmetric positive-definite n×n matrix: a = L Lᵀ.
    public static func cholesky(_ a: Tensor) throws(Failure) -> Tensor {
        precondition(a.rank == 2 && a.shape[0] == a.shape[1])
        let n = a.shape[0]
        var d = a.data
        // Row-major lower = column-major upper.
        var uplo = Int8(UInt8(ascii: "U"))
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        spotrf_(&uplo, &nn, &d, &lda, &info, 1)
        if info != 0 { throw Failure(routine: "spotrf", info: Int(info)) }
        for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { d[i * n + j] = 0 } }
        return Tensor(shape: [n, n], data: d)
    }

    /// Least squares: the x (n×k) minimising ‖a·x − b‖ for a m×n (m ≥ n, full rank) and b m×k.
    public static func leastSquares(_ a: Tensor, _ b: Tensor) throws(Failure) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2 && a.shape[0] == b.shape[0])
        let m = a.shape[0], n = a.shape[1], k = b.shape[1]
        precondition(m >= n, "leastSquares needs m ≥ n")
        // Column-major copies.
        var ac = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { ac[j * m + i] = a.data[i * n + j] } }
        var bc = [Float](repeating: 0, count: m * k)
        for i in 0..<m { for j in 0..<k { bc[j * m + i] = b.data[i * k + j] } }
        var trans = Int8(UInt8(ascii: "N"))
        var mm = Int32(m), nn = Int32(n), nrhs = Int32(k), lda = Int32(m), ldb = Int32(m), info: Int32 = 0
        var lwork: Int32 = -1
        var query: Float = 0
        sgels_(&trans, &mm, &nn, &nrhs, &ac, &lda, &bc, &ldb, &query, &lwork, &info, 1)
        if info != 0 { throw Failure(routine: "sgels", info: Int(info)) }
        lwork = Int32(query)
        var w = [Float](repeating: 0, count: Int(lwork))
        sgels_(&trans, &mm, &nn, &nrhs, &ac, &lda, &bc, &ldb, &w, &lwork, &info, 1)
        if info != 0 { throw Failure(routine: "sgels", info: Int(info)) }
        var x = [Float](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { x[i * k + j] = bc[j * m + i] } }
        return Tensor(shape: [n, k], data: x)
    }

    /// `a · b` for 2-D tensors.
    public static func matmul(_ a: Tensor, _ b: Tensor, transB: Bool = false) -> Tensor {
        let m = a.shape[0], k = a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        precondition((transB ? b.shape[1] : b.shape[0]) == k)
        var c = [Float](repeating: 0, count: m * n)
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(transB: transB, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!,
                              ldb: transB ? k : n, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return Tensor(shape: [m, n], data: c)
    }
}
