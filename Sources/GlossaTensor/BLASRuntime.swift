internal import COpenBLAS

/// Facts about the OpenBLAS build in use, and a self-check of its sgemm kernel.
///
/// Debian's OpenBLAS 0.3.21 does not recognise Sapphire-Rapids-class CPUs and falls back to
/// generic Prescott kernels (5–6× slower). The kernel is chosen when the library loads, so the
/// `glossa` launcher sets `OPENBLAS_CORETYPE` before that; here we report what was picked and
/// verify its results against a naive reference.
public enum BLASRuntime {
    /// The kernel family OpenBLAS selected (e.g. "SkylakeX", "Cooperlake", "Prescott").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Stops OpenBLAS's worker threads. The library starts them when it loads and they spin (sched_yield)
    /// for about 0.1 s, taking a core from commands that never multiply a matrix (tokenizer loading and
    /// encoding); a later threaded BLAS call starts them again. Call it only while no other thread is inside a
    /// BLAS call (OpenBLAS would wait forever for the stopped workers).
    public static func stopIdleThreads() {
        _ = blas_thread_shutdown_()
    }

    /// Multiplies random matrices with `cblas_sgemm` and with a float64 loop; returns the
    /// largest relative error. A correct kernel gives ~1e-6.
    public static func selfCheck(m: Int = 67, n: Int = 45, k: Int = 129) -> Double {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        let a = (0..<(m * k)).map { _ in next() }
        let b = (0..<(k * n)).map { _ in next() }
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1.0,
                                pa.baseAddress, Int32(k), pb.baseAddress, Int32(n), 0.0, pc.baseAddress, Int32(n))
                }
            }
        }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0, scale = 0.0
                for p in 0..<k {
                    let t = Double(a[i * k + p]) * Double(b[p * n + j])
                    s += t; scale += abs(t)
                }
                worst = max(worst, abs(Double(c[i * n + j]) - s) / max(scale, 1e-30))
            }
        }
        return worst
    }
}
