/// Hashes a byte string (wyhash-style multiply/xor over 8-byte words).
@inlinable @inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i &+ 8 <= n {
        let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h &>> 31
        i &+= 8
    }
    if i < n {
        var w: UInt64 = 0
        var s: UInt64 = 0
        while i < n { w |= UInt64(p[i]) &<< s; s &+= 8; i &+= 1 }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
        h ^= h &>> 29
    }
    h = (h ^ (h &>> 32)) &* 0xD6E8_FEB8_6659_FD93
    return h ^ (h &>> 32)
}

/// An immutable map from byte strings to token ids: one contiguous arena of key bytes
/// and a power-of-two open-addressing slot array (linear probing).
public struct ByteTable: @unchecked Sendable {
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var starts: [Int32] = []   // per entry, into arena
    @usableFromInline var lengths: [Int32] = []
    @usableFromInline var values: [Int32] = []
    @usableFromInline var slots: [Int32] = []    // entry index or -1
    @usableFromInline var mask: Int = 0

    public init() { rebuildSlots(capacity: 16) }

    public var count: Int { values.count }

    /// Inserts or overwrites; returns the previous value if the key was present.
    @discardableResult
    public mutating func insert(_ key: [UInt8], _ value: Int32) -> Int32? {
        if let e = entryIndex(key) { let old = values[e]; values[e] = value; return old }
        if (values.count &+ 1) &* 4 > slots.count &* 3 { rebuildSlots(capacity: slots.count &* 2) }
        let e = Int32(values.count)
        starts.append(Int32(arena.count)); lengths.append(Int32(key.count)); values.append(value)
        arena.append(contentsOf: key)
        let h = key.withUnsafeBufferPointer { hashBytes($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] >= 0 { s = (s &+ 1) & mask }
        slots[s] = e
        return nil
    }

    mutating func rebuildSlots(capacity: Int) {
        var cap = 16
        while cap < capacity { cap <<= 1 }
        slots = [Int32](repeating: -1, count: cap)
        mask = cap - 1
        arena.withUnsafeBufferPointer { a in
            for e in 0..<values.count {
                let base = (a.baseAddress ?? UnsafePointer(bitPattern: 1)!) + Int(starts[e])
                var s = Int(truncatingIfNeeded: hashBytes(base, Int(lengths[e]))) & mask
                while slots[s] >= 0 { s = (s &+ 1) & mask }
                slots[s] = Int32(e)
            }
        }
    }

    func entryIndex(_ key: [UInt8]) -> Int? {
        key.withUnsafeBufferPointer { k in
            let e = lookupEntry(k.baseAddress ?? UnsafePointer(bitPattern: 1)!, k.count)
            return e < 0 ? nil : Int(e)
        }
    }

    @inlinable @inline(__always)
    func lookupEntry(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        var s = Int(truncatingIfNeeded: hashBytes(p, n)) & mask
        return slots.withUnsafeBufferPointer { sl in
            arena.withUnsafeBufferPointer { a in
                while true {
                    let e = sl[s]
                    if e < 0 { return -1 }
                    let ei = Int(e)
                    if Int(lengths[ei]) == n {
                        let base = a.baseAddress! + Int(starts[ei])
                        if n == 0 || memcmp(base, p, n) == 0 { return e }
                    }
                    s = (s &+ 1) & mask
                }
            }
        }
    }

    /// The id of the key `p[0..<n]`, or -1.
    @inlinable @inline(__always)
    public func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let e = lookupEntry(p, n)
        return e < 0 ? -1 : values[Int(e)]
    }

    public func find(_ key: [UInt8]) -> Int32? {
        guard let e = entryIndex(key) else { return nil }
        return values[e]
    }

    public func find(_ key: String) -> Int32? { find(Array(key.utf8)) }

    /// All (key, value) pairs in insertion order.
    public var entries: [(key: [UInt8], value: Int32)] {
        (0..<values.count).map { e in
            (Array(arena[Int(starts[e])..<Int(starts[e] + lengths[e])]), values[e])
        }
    }
}

@usableFromInline @inline(__always)
func memcmp(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
    var i = 0
    while i &+ 8 <= n {
        let x = UnsafeRawPointer(a).loadUnaligned(fromByteOffset: i, as: UInt64.self)
        let y = UnsafeRawPointer(b).loadUnaligned(fromByteOffset: i, as: UInt64.self)
        if x != y { return 1 }
        i &+= 8
    }
    while i < n { if a[i] != b[i] { return 1 }; i &+= 1 }
    return 0
}

/// Merge ranks keyed by a packed (left id, right id) pair: value = (rank, merged id).
public struct PairTable: @unchecked Sendable {
    @usableFromInline var keys: [UInt64]
    @usableFromInline var vals: [UInt64]
    @usableFromInline var mask: Int
    public private(set) var count = 0
    @usableFromInline static let empty = UInt64.max

    public init(capacity: Int = 16) {
        var cap = 16
        while cap < capacity * 2 { cap <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: cap)
        vals = [UInt64](repeating: 0, count: cap)
        mask = cap - 1
    }

    @inlinable @inline(__always)
    static func pack(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    @inlinable @inline(__always)
    static func slot(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) &>> 29) & mask
    }

    /// Inserts unless present (the first, lowest-ranked merge of a pair wins, as in HF).
    public mutating func insertIfAbsent(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = Self.pack(left, right)
        var s = Self.slot(k, mask)
        while keys[s] != Self.empty {
            if keys[s] == k { return }
            s = (s &+ 1) & mask
        }
        keys[s] = k
        vals[s] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        count += 1
    }

    mutating func grow() {
        let oldK = keys, oldV = vals
        keys = [UInt64](repeating: Self.empty, count: oldK.count * 2)
        vals = [UInt64](repeating: 0, count: oldK.count * 2)
        mask = keys.count - 1
        for i in 0..<oldK.count where oldK[i] != Self.empty {
            var s = Self.slot(oldK[i], mask)
            while keys[s] != Self.empty { s = (s &+ 1) & mask }
            keys[s] = oldK[i]; vals[s] = oldV[i]
        }
    }

    /// (rank << 32 | merged id) for the pair, or UInt64.max when the pair does not merge.
    @inlinable @inline(__always)
    public func lookup(_ a: Int32, _ b: Int32) -> UInt64 {
        let k = Self.pack(a, b)
        var s = Self.slot(k, mask)
        return keys.withUnsafeBufferPointer { kp in
            while true {
                let x = kp[s]
                if x == k { return vals[s] }
                if x == Self.empty { return UInt64.max }
                s = (s &+ 1) & mask
            }
        }
    }
}
