// Float inner products and updates for the initializers' hot loops (OMP's greedy scan, the SGNS steps of CW2V and of the fastText trainer).
// Written with SIMD8<Float> and two accumulators: a plain `s += a[i] * b[i]` loop does not vectorize because
// the compiler must keep the sequential rounding order; these do, on the baseline x86-64 target as well.

fileprivate typealias F8 = SIMD8<Float>

enum FloatKernels {
    @inline(__always)
    fileprivate static func load(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

    @inline(__always)
    fileprivate static func store(_ p: UnsafeMutablePointer<Float>, _ v: F8) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

    /// `Σ a[i]·b[i]`.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = F8(), s1 = F8()
        var i = 0
        while i &+ 16 <= n {
            s0 += load(a + i) * load(b + i)
            s1 += load(a + (i &+ 8)) * load(b + (i &+ 8))
            i &+= 16
        }
        if i &+ 8 <= n { s0 += load(a + i) * load(b + i); i &+= 8 }
        var s = (s0 + s1).sum()
        while i < n { s += a[i] * b[i]; i &+= 1 }
        return s
    }

    /// `y += alpha · x`.
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let av = F8(repeating: alpha)
        var i = 0
        while i &+ 8 <= n {
            store(y + i, load(UnsafePointer(y + i)) + av * load(x + i))
            i &+= 8
        }
        while i < n { y[i] += alpha * x[i]; i &+= 1 }
    }
}
