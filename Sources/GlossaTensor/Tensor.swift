/// A dense, row-major, contiguous float32 tensor. Value semantics (copy-on-write through `[Float]`).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A scalar (shape `[]`).
    public init(scalar: Float) { self.init(shape: [], data: [scalar]) }

    /// Normal(0, std²) entries from a deterministic generator.
    public static func randn(_ shape: [Int], std: Float = 1, rng: inout RandomGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = rng.nextNormal() * std }
        return Tensor(shape: shape, data: d)
    }

    /// Uniform[lo, hi) entries from a deterministic generator.
    public static func uniform(_ shape: [Int], _ lo: Float, _ hi: Float, rng: inout RandomGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = lo + (hi - lo) * rng.nextFloat() }
        return Tensor(shape: shape, data: d)
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
    /// The size of the last dimension (1 for a scalar).
    public var lastDim: Int { shape.last ?? 1 }
    /// The number of rows when viewed as `[count / lastDim, lastDim]`.
    public var rows: Int { lastDim == 0 ? 0 : count / lastDim }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    public subscript(_ i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// Largest |a - b| over all elements (shapes must match in element count).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(count == other.count)
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, abs(data[i] - other.data[i])) }
        return m
    }

    /// Rows of a 2-D tensor `[r0 ..< r1]`.
    public func rowSlice(_ r: Range<Int>) -> Tensor {
        let d = lastDim
        var s = shape
        s[0] = r.count
        return Tensor(shape: s, data: Array(data[(r.lowerBound * d)..<(r.upperBound * d)]))
    }

    /// `[a, b]` → `[b, a]`.
    public func transposed2D() -> Tensor {
        precondition(rank == 2)
        let r = shape[0], c = shape[1]
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<r { for j in 0..<c { o[j &* r &+ i] = s[i &* c &+ j] } }
            }
        }
        return Tensor(shape: [c, r], data: out)
    }
}

// MARK: - Half-precision storage formats

public enum HalfFloat {
    /// IEEE binary16 bits → Float (exact).
    @inline(__always)
    public static func f16ToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        let man = UInt32(h & 0x3FF)
        if exp == 0 {
            if man == 0 { return Float(bitPattern: sign) }
            // Subnormal: man · 2^-24.
            let v = Float(man) * (1.0 / 16_777_216.0)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (man << 13))
    }

    /// Float → IEEE binary16 bits, round to nearest even, overflow to ±inf, NaN preserved.
    @inline(__always)
    public static func floatToF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exp = Int((x >> 23) & 0xFF)
        var man = x & 0x7F_FFFF
        if exp == 0xFF { return sign | 0x7C00 | (man != 0 ? 0x200 | UInt16(man >> 13) : 0) }
        let e = exp - 127 + 15
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            man |= 0x80_0000
            let shift = UInt32(14 - e)
            let half = UInt32(1) << (shift - 1)
            let rest = man & ((UInt32(1) << shift) - 1)
            var r = man >> shift
            if rest > half || (rest == half && (r & 1) == 1) { r += 1 }
            return sign | UInt16(r)
        }
        var r = UInt32(e) << 10 | (man >> 13)
        let rest = man & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && (r & 1) == 1) { r += 1 }  // may carry into the exponent: correct
        return sign | UInt16(r)
    }

    @inline(__always)
    public static func bf16ToFloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// Float → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
    @inline(__always)
    public static func floatToBF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if f.isNaN { return UInt16(x >> 16) | 0x40 }
        let lsb = (x >> 16) & 1
        return UInt16((x &+ 0x7FFF &+ lsb) >> 16)
    }
}

// MARK: - Deterministic random numbers

/// A small, fast, seedable generator (SplitMix64 seeding + xoshiro256**). Deterministic across platforms.
public struct RandomGenerator: Sendable, RandomNumberGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spareNormal: Float?

    public init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var r = z
            r = (r ^ (r >> 30)) &* 0xBF58_476D_1CE4_E5B9
            r = (r ^ (r >> 27)) &* 0x94D0_49BB_1331_11EB
            return r ^ (r >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always)
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Standard normal (Box–Muller, pairs cached).
    public mutating func nextNormal() -> Float {
        if let s = spareNormal { spareNormal = nil; return s }
        var u = 0.0
        repeat { u = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) } while u <= 0
        let v = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2 * log(u)).squareRoot()
        spareNormal = Float(r * sin(2 * Double.pi * v))
        return Float(r * cos(2 * Double.pi * v))
    }

    /// Uniform integer in 0..<n.
    public mutating func nextInt(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
