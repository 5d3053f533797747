/// An open-addressing hash table from byte strings to their index in a flat token store
/// (`storage` + `offsets`, token i = storage[offsets[i]..<offsets[i+1]]). Linear probing, power-of-two size.
struct ByteSpanTable: Sendable {
    private(set) var slots: [Int32]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity &* 2 { size &<<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size &- 1
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = 0
        while i < n {
            h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3
            i &+= 1
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// Index of the token equal to `p[0..<n]`, or -1.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int,
              storage: UnsafePointer<UInt8>, offsets: UnsafePointer<Int32>) -> Int32 {
        var s = ByteSpanTable.hash(p, n) & mask
        return slots.withUnsafeBufferPointer { slots in
            while true {
                let e = slots[s]
                if e < 0 { return -1 }
                let a = Int(offsets[Int(e)]), b = Int(offsets[Int(e) &+ 1])
                if b &- a == n && equalBytes(storage + a, p, n) { return e }
                s = (s &+ 1) & mask
            }
        }
    }

    /// Inserts token `index`; returns the index of an equal token already present (nothing inserted), or -1.
    @inline(__always)
    mutating func insert(_ index: Int32, storage: UnsafePointer<UInt8>, offsets: UnsafePointer<Int32>) -> Int32 {
        let a = Int(offsets[Int(index)]), b = Int(offsets[Int(index) &+ 1])
        let n = b &- a
        let p = storage + a
        var s = ByteSpanTable.hash(p, n) & mask
        let m = mask
        return slots.withUnsafeMutableBufferPointer { slots in
            while true {
                let e = slots[s]
                if e < 0 { slots[s] = index; return -1 }
                let ea = Int(offsets[Int(e)]), eb = Int(offsets[Int(e) &+ 1])
                if eb &- ea == n && equalBytes(storage + ea, p, n) { return e }
                s = (s &+ 1) & m
            }
        }
    }
}

@inline(__always)
func equalBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i &+= 1
    }
    return true
}
