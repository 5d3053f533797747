#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Pre-token → count, keyed by bytes: an open-addressing table over an append-only byte arena.
// Memory is proportional to the number of distinct pre-tokens (about 28 bytes each plus the key).

@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    let raw = UnsafeRawPointer(p)
    var i = 0
    while i &+ 8 <= n {
        let v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        i &+= 8
    }
    if i < n {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            v |= UInt64(p[i]) << shift
            shift &+= 8
            i &+= 1
        }
        h = (h ^ v) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
    }
    h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return h ^ (h >> 32)
}

/// Counts of distinct byte strings. Counts are 64-bit.
public struct WordCounter: Sendable {
    /// Concatenated keys.
    public private(set) var arena: [UInt8] = []
    /// Start of each key in `arena`.
    public private(set) var starts: [Int] = []
    /// Length of each key.
    public private(set) var lengths: [Int32] = []
    /// Count of each key.
    public private(set) var counts: [UInt64] = []
    private var hashes: [UInt32] = []
    /// Entry index + 1, 0 when empty. Power-of-two size, load ≤ 1/2.
    private var slots: [Int32]
    private var mask: Int

    public init(capacity: Int = 1 << 12) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    /// Number of distinct keys.
    public var count: Int { counts.count }

    /// Sum of all counts.
    public var total: UInt64 { counts.reduce(0, &+) }

    public func key(_ i: Int) -> ArraySlice<UInt8> { arena[starts[i] ..< starts[i] &+ Int(lengths[i])] }

    public mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, count c: UInt64 = 1) {
        add(p, n, hash: hashBytes(p, n), count: c)
    }

    public mutating func add(_ bytes: [UInt8], count c: UInt64 = 1) {
        bytes.withUnsafeBufferPointer { b in
            // An empty buffer may have no base address: key it by a dummy pointer of length 0.
            var z: UInt8 = 0
            if let base = b.baseAddress { add(base, b.count, count: c) } else { add(&z, 0, count: c) }
        }
    }

    @inline(__always)
    mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, count c: UInt64) {
        let h32 = UInt32(truncatingIfNeeded: h >> 32)
        var s = Int(truncatingIfNeeded: h) & mask
        let found: Int = slots.withUnsafeBufferPointer { sl in
            hashes.withUnsafeBufferPointer { hs in
                lengths.withUnsafeBufferPointer { ls in
                    starts.withUnsafeBufferPointer { ss in
                        arena.withUnsafeBufferPointer { ar in
                            while true {
                                let e = Int(sl[s])
                                if e == 0 { return -1 - s }
                                let i = e &- 1
                                if hs[i] == h32 && Int(ls[i]) == n && (n == 0 || memcmp(ar.baseAddress! + ss[i], p, n) == 0) {
                                    return i
                                }
                                s = (s &+ 1) & mask
                            }
                        }
                    }
                }
            }
        }
        if found >= 0 {
            counts.withUnsafeMutableBufferPointer { $0[found] &+= c }
            return
        }
        let slot = -1 - found
        let i = counts.count
        starts.append(arena.count)
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        lengths.append(Int32(truncatingIfNeeded: n))
        counts.append(c)
        hashes.append(h32)
        slots[slot] = Int32(truncatingIfNeeded: i &+ 1)
        if (i &+ 1) &* 2 > slots.count { grow() }
    }

    private mutating func grow() {
        let size = slots.count * 2
        var ns = [Int32](repeating: 0, count: size)
        let m = size - 1
        arena.withUnsafeBufferPointer { ar in
            for i in 0 ..< counts.count {
                let h = hashBytes(ar.baseAddress! + starts[i], Int(lengths[i]))
                var s = Int(truncatingIfNeeded: h) & m
                while ns[s] != 0 { s = (s &+ 1) & m }
                ns[s] = Int32(truncatingIfNeeded: i &+ 1)
            }
        }
        slots = ns
        mask = m
    }

    /// Adds every key of `other` with its count.
    public mutating func merge(_ other: WordCounter) {
        other.arena.withUnsafeBufferPointer { ar in
            var z: UInt8 = 0
            for i in 0 ..< other.count {
                let n = Int(other.lengths[i])
                if let base = ar.baseAddress {
                    add(base + other.starts[i], n, count: other.counts[i])
                } else {
                    add(&z, 0, count: other.counts[i])
                }
            }
        }
    }
}
