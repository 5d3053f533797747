#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Vectorized float kernels for the non-GEMM hot loops (softmax, cross-entropy, SiLU/SwiGLU, attention).
// Written with SIMD8<Float> so they vectorize on the baseline x86-64 target (SSE2) as well as on wider ones.

typealias F8 = SIMD8<Float>

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

/// Lane-wise `mask ? a : b` with plain bit operations (the generic `replacing(with:where:)` does not inline well).
@inline(__always)
func select8(_ mask: SIMDMask<SIMD8<Int32>>, _ a: F8, _ b: F8) -> F8 {
    let m = unsafeBitCast(mask, to: SIMD8<Int32>.self)
    let ai = unsafeBitCast(a, to: SIMD8<Int32>.self), bi = unsafeBitCast(b, to: SIMD8<Int32>.self)
    return unsafeBitCast((ai & m) | (bi & ~m), to: F8.self)
}

@inline(__always)
func max8(_ a: F8, _ b: F8) -> F8 { select8(a .> b, a, b) }

@inline(__always)
func store8(_ p: UnsafeMutablePointer<Float>, _ v: F8) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self) }

extension Kernels {
    /// eˣ for 8 lanes (Cephes expf: range reduction by ln 2, degree-5 polynomial; ≈ 1 ulp). Inputs below
    /// −87.33 (including −∞) give exactly 0; inputs above 88 are clamped to 88.
    @inline(__always)
    static func exp8(_ x0: F8) -> F8 {
        let hi = F8(repeating: 88), lo = F8(repeating: -87)
        let x = select8(x0 .> hi, hi, select8(x0 .< lo, lo, x0))
        let magic = F8(repeating: 12_582_912)  // 1.5 · 2²³: adding it rounds to an integer
        let t = x * 1.442_695_04 + magic
        let n = t - magic
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_40e-4
        var p = r * 1.987_569_150_0e-4 + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * (r * r) + r + 1
        let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let result = y * unsafeBitCast(bits, to: F8.self)
        return select8(x0 .< F8(repeating: -87.33), F8(repeating: 0), result)
    }

    /// Scalar version of `exp8` (same results lane for lane).
    @inline(__always)
    static func exp1(_ x: Float) -> Float { exp8(F8(repeating: x))[0] }

    /// Largest element (−∞ for n = 0).
    @inline(__always)
    public static func maxValue(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var j = 0
        var m: Float = -.infinity
        if n >= 16 {
            var a = load8(x), b = load8(x + 8)
            j = 16
            while j &+ 16 <= n {
                a = max8(a, load8(x + j)); b = max8(b, load8(x + (j &+ 8))); j &+= 16
            }
            let c = max8(a, b)
            for l in 0..<8 where c[l] > m { m = c[l] }
        }
        while j < n { m = Swift.max(m, x[j]); j &+= 1 }
        return m
    }

    /// `y[j] = exp(x[j] − shift)`; returns the sum of the y (y may alias x).
    @inline(__always)
    public static func expShiftSum(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var j = 0
        var acc = F8(repeating: 0), acc2 = F8(repeating: 0)
        let sh = F8(repeating: shift)
        while j &+ 16 <= n {
            let e1 = exp8(load8(x + j) - sh), e2 = exp8(load8(x + (j &+ 8)) - sh)
            store8(y + j, e1); store8(y + (j &+ 8), e2)
            acc += e1; acc2 += e2
            j &+= 16
        }
        var s = (acc + acc2).sum()
        while j < n { let e = exp1(x[j] - shift); y[j] = e; s += e; j &+= 1 }
        return s
    }

    /// Σ exp(x[j] − shift) without storing.
    @inline(__always)
    static func expShiftSumOnly(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var j = 0
        var acc = F8(repeating: 0), acc2 = F8(repeating: 0)
        let sh = F8(repeating: shift)
        while j &+ 16 <= n {
            acc += exp8(load8(x + j) - sh); acc2 += exp8(load8(x + (j &+ 8)) - sh)
            j &+= 16
        }
        var s = (acc + acc2).sum()
        while j < n { s += exp1(x[j] - shift); j &+= 1 }
        return s
    }

    /// `x[j] *= s`.
    @inline(__always)
    static func scaleInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        var j = 0
        let v = F8(repeating: s)
        while j &+ 8 <= n { store8(x + j, load8(x + j) * v); j &+= 8 }
        while j < n { x[j] *= s; j &+= 1 }
    }

    /// `o[j] = a[j] + b[j]`.
    @inline(__always)
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ n: Int) {
        var j = 0
        while j &+ 8 <= n { store8(o + j, load8(a + j) + load8(b + j)); j &+= 8 }
        while j < n { o[j] = a[j] + b[j]; j &+= 1 }
    }

    /// `d[j] += s[j]`.
    @inline(__always)
    static func addInPlace(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
        var j = 0
        while j &+ 8 <= n { store8(d + j, load8(d + j) + load8(s + j)); j &+= 8 }
        while j < n { d[j] += s[j]; j &+= 1 }
    }

    /// `o[j] = x[j] · s` over `n` elements, split over the engine's threads when large.
    @inline(__always)
    static func scale(_ x: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        Parallel.forRanges(n, grain: Grain.memory) { r in
            let v = F8(repeating: s)
            var j = r.lowerBound
            while j &+ 8 <= r.upperBound { store8(o + j, load8(x + j) * v); j &+= 8 }
            while j < r.upperBound { o[j] = x[j] * s; j &+= 1 }
        }
    }

    /// `d[j] += s[j]` over `n` elements, split over the engine's threads when large.
    @inline(__always)
    static func parallelAddInPlace(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, grain: Grain.memory) { r in addInPlace(d + r.lowerBound, s + r.lowerBound, r.count) }
    }

    /// Σ a[j]·b[j].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var j = 0
        var acc = F8(repeating: 0), acc2 = F8(repeating: 0)
        while j &+ 16 <= n {
            acc += load8(a + j) * load8(b + j); acc2 += load8(a + (j &+ 8)) * load8(b + (j &+ 8)); j &+= 16
        }
        var s = (acc + acc2).sum()
        while j < n { s += a[j] * b[j]; j &+= 1 }
        return s
    }

    /// Softmax backward in place: `d[j] = p[j] · (d[j] − Σ p·d)`.
    @inline(__always)
    static func softmaxBackwardRow(_ p: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        let dt = dot(p, d, n)
        let dv = F8(repeating: dt)
        var j = 0
        while j &+ 8 <= n { store8(d + j, load8(p + j) * (load8(d + j) - dv)); j &+= 8 }
        while j < n { d[j] = p[j] * (d[j] - dt); j &+= 1 }
    }
}

/// Large tensors are allocated and freed every step. glibc serves blocks above its mmap threshold with fresh
/// mappings (page faults and zeroing on every touch) and trims the heap eagerly; raising both keeps freed
/// memory for reuse. Called once, from `Graph.init`.
enum AllocatorTuning {
    static let configured: Bool = {
        #if os(Linux) && canImport(Glibc)
        // <malloc.h> is not part of the Glibc module: M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
        _ = glossa_mallopt(-3, 32 << 20)   // glibc's maximum
        _ = glossa_mallopt(-1, 512 << 20)
        #endif
        return true
    }()
}

#if os(Linux) && canImport(Glibc)
@_silgen_name("mallopt")
func glossa_mallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
