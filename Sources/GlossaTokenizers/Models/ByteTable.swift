import CPrefetch
import Dispatch
import GlossaJSON

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
        // The last 1–7 bytes as one little-endian word, read in at most three loads.
        var w: UInt64 = 0
        var s: UInt64 = 0
        if n &- i >= 4 { w = UInt64(raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)); s = 32; i &+= 4 }
        if n &- i >= 2 { w |= UInt64(raw.loadUnaligned(fromByteOffset: i, as: UInt16.self)) &<< s; s &+= 16; i &+= 2 }
        if i < n { w |= UInt64(p[i]) &<< s }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
        h ^= h &>> 29
    }
    h = (h ^ (h &>> 32)) &* 0xD6E8_FEB8_6659_FD93
    return h ^ (h &>> 32)
}

/// Fixed-capacity raw storage for `ByteTable`. Every stored property is a constant, so reads
/// compile to plain loads (no exclusivity bookkeeping); growth allocates a new buffer.
@usableFromInline
final class ByteTableBuffer: @unchecked Sendable {
    @usableFromInline let arena: UnsafeMutablePointer<UInt8>
    @usableFromInline let starts: UnsafeMutablePointer<Int32>
    @usableFromInline let lengths: UnsafeMutablePointer<Int32>
    @usableFromInline let values: UnsafeMutablePointer<Int32>
    /// (tag << 32 | entry), or `ByteTable.empty`.
    @usableFromInline let slots: UnsafeMutablePointer<UInt64>
    @usableFromInline let mask: Int
    let arenaCapacity: Int
    let entryCapacity: Int

    init(entries: Int, arenaBytes: Int, slots wanted: Int) {
        entryCapacity = max(entries, 8); arenaCapacity = max(arenaBytes, 64)
        // Large vocabularies' buffers are fresh memory filled once: whole huge pages (their 4 KiB faults were
        // a third of a Llama-3.2 load's, this table's and the byte-level lookup's 2,800 of them), the entries'
        // three arrays and the arena in one block, which only together reach the size that `PageMemory` maps.
        let block = PageMemory.allocate(UInt8.self, count: Self.blockBytes(entryCapacity, arenaCapacity))
        let entries = UnsafeMutableRawPointer(block)
        starts = entries.bindMemory(to: Int32.self, capacity: entryCapacity)
        lengths = (entries + 4 &* entryCapacity).bindMemory(to: Int32.self, capacity: entryCapacity)
        values = (entries + 8 &* entryCapacity).bindMemory(to: Int32.self, capacity: entryCapacity)
        arena = block + 12 &* entryCapacity
        var cap = 16
        while cap < wanted { cap <<= 1 }
        mask = cap &- 1
        slots = PageMemory.allocate(UInt64.self, count: cap)
        slots.update(repeating: ByteTable.empty, count: cap)
    }

    deinit {
        PageMemory.deallocate(UnsafeMutableRawPointer(starts).assumingMemoryBound(to: UInt8.self),
                              count: Self.blockBytes(entryCapacity, arenaCapacity))
        PageMemory.deallocate(slots, count: mask &+ 1)
    }

    private static func blockBytes(_ entries: Int, _ arena: Int) -> Int { 12 &* entries &+ arena }

    @inlinable @inline(__always)
    func lookupEntry(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int {
        ByteTableView(self).lookupEntry(p, n, hash: h)
    }

    @inline(__always) func place(_ h: UInt64, _ e: Int) {
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] != ByteTable.empty { s = (s &+ 1) & mask }
        slots[s] = (h &>> 32) << 32 | UInt64(e)
    }
}

/// A non-owning view of a table's storage for read-only lookups from several threads: no reference
/// counting per lookup (atomic refcount traffic on one shared object would serialize the threads).
/// Valid while the table it came from is alive and unmodified.
@usableFromInline
struct ByteTableView: @unchecked Sendable {
    @usableFromInline let arena: UnsafeMutablePointer<UInt8>
    @usableFromInline let starts: UnsafeMutablePointer<Int32>
    @usableFromInline let lengths: UnsafeMutablePointer<Int32>
    @usableFromInline let values: UnsafeMutablePointer<Int32>
    @usableFromInline let slots: UnsafeMutablePointer<UInt64>
    @usableFromInline let mask: Int

    @inlinable @inline(__always)
    init(_ b: ByteTableBuffer) {
        arena = b.arena; starts = b.starts; lengths = b.lengths; values = b.values; slots = b.slots; mask = b.mask
    }

    @inlinable @inline(__always)
    func lookupEntry(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int {
        let tag = h &>> 32
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let x = slots[s]
            if x == ByteTable.empty { return -1 }
            if x &>> 32 == tag {
                let e = Int(truncatingIfNeeded: x & 0xFFFF_FFFF)
                if Int(lengths[e]) == n && (n == 0 || memcmp(arena + Int(starts[e]), p, n) == 0) { return e }
            }
            s = (s &+ 1) & mask
        }
    }

    /// The value of key `p[0..<n]`, or -1.
    @inlinable @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let e = lookupEntry(p, n, hash: hashBytes(p, n))
        return e < 0 ? -1 : values[e]
    }

    /// Prefetches the home slot of key `p[0..<n]` (a lookup of it comes soon).
    @inline(__always)
    func prefetch(_ p: UnsafePointer<UInt8>, _ n: Int) {
        glossa_prefetch(slots + (Int(truncatingIfNeeded: hashBytes(p, n)) & mask))
    }
}

/// A map from byte strings to token ids: one contiguous arena of key bytes and a power-of-two
/// open-addressing slot array (linear probing). Each slot packs a 32-bit hash tag with the entry
/// index, so a probe compares bytes only on a tag match.
///
/// Entries are kept in insertion order; `withEntryBytes(_:_:)` reads one back without copying.
public struct ByteTable: @unchecked Sendable {
    @usableFromInline var buffer: ByteTableBuffer
    @usableFromInline var arenaCount = 0
    @usableFromInline var entries = 0
    @usableFromInline var live = 0
    @usableFromInline static let empty = UInt64.max

    public init(capacity: Int = 8, arenaBytes: Int = 0) {
        buffer = ByteTableBuffer(entries: capacity, arenaBytes: arenaBytes, slots: capacity &* 2)
    }

    /// Keys mapped to their index; nil keys become entries absent from the index (holes).
    /// The first occurrence of a repeated key wins.
    public init(keys: [[UInt8]?]) {
        self.init(capacity: keys.count, arenaBytes: keys.reduce(0) { $0 + ($1?.count ?? 0) })
        for (i, k) in keys.enumerated() {
            if let k { _ = k.withUnsafeBufferPointer { appendEntry($0, value: Int32(i), indexed: true) } }
            else { appendEntry(UnsafeBufferPointer(start: nil, count: 0), value: Int32(i), indexed: false) }
        }
    }

    /// Number of keys that can be looked up.
    public var count: Int { live }
    /// Number of entries, including holes.
    public var entryCount: Int { entries }

    /// Whether every entry with a non-empty key can be looked up (no repeated key was appended unindexed),
    /// so that an entry holding some bytes is the one a lookup of those bytes finds.
    var nonEmptyKeysAllIndexed: Bool {
        let b = buffer
        var nonEmpty = 0
        for e in 0..<entries where b.lengths[e] > 0 { nonEmpty &+= 1 }
        return nonEmpty &+ (find([]) == nil ? 0 : 1) == live
    }

    /// Makes room for one more entry of `bytes` bytes (copying when shared or full).
    mutating func reserve(_ bytes: Int) {
        let unique = isKnownUniquelyReferenced(&buffer)
        let b = buffer
        if unique && entries < b.entryCapacity && arenaCount &+ bytes <= b.arenaCapacity && (live &+ 1) &* 2 <= b.mask &+ 1 { return }
        var ec = b.entryCapacity, ac = b.arenaCapacity, sc = b.mask &+ 1
        if entries >= ec { ec &*= 2 }
        while arenaCount &+ bytes > ac { ac &*= 2 }
        if (live &+ 1) &* 2 > sc { sc &*= 2 }
        let n = ByteTableBuffer(entries: ec, arenaBytes: ac, slots: sc)
        n.arena.update(from: b.arena, count: arenaCount)
        n.starts.update(from: b.starts, count: entries); n.lengths.update(from: b.lengths, count: entries)
        n.values.update(from: b.values, count: entries)
        if sc == b.mask &+ 1 {
            n.slots.update(from: b.slots, count: sc)
        } else {
            for i in 0...b.mask where b.slots[i] != Self.empty {
                let e = Int(truncatingIfNeeded: b.slots[i] & 0xFFFF_FFFF)
                n.place(hashBytes(n.arena + Int(n.starts[e]), Int(n.lengths[e])), e)
            }
        }
        buffer = n
    }

    /// Appends an entry; when `indexed` and the key is new, it becomes findable. Returns false for a duplicate key.
    @discardableResult
    public mutating func appendEntry(_ key: UnsafeBufferPointer<UInt8>, value: Int32, indexed: Bool = true) -> Bool {
        reserve(key.count)
        return Self.append(buffer, key, value, indexed, &arenaCount, &entries, &live)
    }

    /// Appends entries through `body`, which gets a `Filler` for them: the table must already have room for all
    /// (`init(capacity:arenaBytes:)`). Loaders add 100k+ entries in a row; this checks uniqueness once instead of
    /// per entry and room with a precondition (`appendEntry` would grow the table instead).
    mutating func fill<R>(_ body: (inout Filler) throws -> R) rethrows -> R {
        reserve(0)
        var f = Filler(b: buffer, arenaCount: arenaCount, entries: entries, live: live)
        defer { (arenaCount, entries, live) = (f.arenaCount, f.entries, f.live) }
        return try body(&f)
    }

    struct Filler {
        fileprivate let b: ByteTableBuffer
        fileprivate var arenaCount: Int, entries: Int, live: Int

        /// `appendEntry` without growth.
        @inline(__always) @discardableResult
        mutating func append(_ key: UnsafeBufferPointer<UInt8>, value: Int32, indexed: Bool = true) -> Bool {
            precondition(entries < b.entryCapacity && arenaCount &+ key.count <= b.arenaCapacity && (live &+ 1) &* 2 <= b.mask &+ 1,
                         "ByteTable.fill: no room reserved")
            return ByteTable.append(b, key, value, indexed, &arenaCount, &entries, &live)
        }

        /// Appends an entry that `indexPending(from:stopAtRepeat:)` makes findable later: its bytes, start,
        /// length and value are written now, its slot afterwards, when slots can be prefetched ahead.
        @inline(__always)
        mutating func appendPending(_ key: UnsafeBufferPointer<UInt8>, value: Int32) {
            _ = appendPending(maxBytes: key.count, value: value) { out in
                if let p = key.baseAddress { out.update(from: p, count: key.count) }
                return key.count
            }
        }

        /// As `appendPending(_:value:)` for the bytes `write` puts at the arena's end: at most `maxBytes`, their
        /// count returned, or nil for no entry (and false).
        @inline(__always)
        mutating func appendPending(maxBytes: Int, value: Int32, _ write: (UnsafeMutablePointer<UInt8>) -> Int?) -> Bool {
            precondition(entries < b.entryCapacity && arenaCount &+ maxBytes <= b.arenaCapacity, "ByteTable.fill: no room reserved")
            guard let n = write(b.arena + arenaCount) else { return false }
            let e = entries
            b.starts[e] = Int32(arenaCount); b.lengths[e] = Int32(n); b.values[e] = value
            arenaCount &+= n
            entries &+= 1
            return true
        }

        /// Makes entries `first...` findable in entry order, as `append` one by one would have (a repeated key
        /// stays an entry that cannot be looked up; the first one wins). Slots are random writes into a table
        /// larger than L2: the home slot of the entry 16 places on is prefetched, so misses overlap.
        /// - Returns: the first entry whose key was findable already, or nil; with `stopAtRepeat` it and the
        ///   entries after it stay unfindable.
        mutating func indexPending(from first: Int, stopAtRepeat: Bool) -> Int? {
            let b = self.b, n = entries, ahead = 16
            precondition((live &+ n &- first) &* 2 <= b.mask &+ 1, "ByteTable.fill: no room reserved")
            @inline(__always) func hash(_ e: Int) -> UInt64 { hashBytes(b.arena + Int(b.starts[e]), Int(b.lengths[e])) }
            @inline(__always) func prefetch(_ h: UInt64) { glossa_prefetch(b.slots + (Int(truncatingIfNeeded: h) & b.mask)) }
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ahead) { ring -> Int? in
                let r = ring.baseAddress!
                var e = first
                while e < n && e < first &+ ahead { let h = hash(e); r[e & (ahead &- 1)] = h; prefetch(h); e &+= 1 }
                var repeated: Int?
                for e in first..<n {
                    let h = r[e & (ahead &- 1)]
                    if e &+ ahead < n { let g = hash(e &+ ahead); r[e & (ahead &- 1)] = g; prefetch(g) }
                    if b.lookupEntry(b.arena + Int(b.starts[e]), Int(b.lengths[e]), hash: h) >= 0 {
                        if repeated == nil { repeated = e }
                        if stopAtRepeat { return e }
                        continue
                    }
                    b.place(h, e)
                    live &+= 1
                }
                return repeated
            }
        }
    }

    /// The body of `appendEntry` once there is room.
    @inline(__always)
    private static func append(_ b: ByteTableBuffer, _ key: UnsafeBufferPointer<UInt8>, _ value: Int32, _ indexed: Bool,
                               _ arenaCount: inout Int, _ entries: inout Int, _ live: inout Int) -> Bool {
        let p = key.baseAddress ?? Self.nonNull
        var h: UInt64 = 0
        var isNew = false
        if indexed {
            h = hashBytes(p, key.count)
            isNew = b.lookupEntry(p, key.count, hash: h) < 0
        }
        let e = entries
        b.starts[e] = Int32(arenaCount); b.lengths[e] = Int32(key.count); b.values[e] = value
        if key.count > 0 { (b.arena + arenaCount).update(from: p, count: key.count) }
        arenaCount &+= key.count
        entries &+= 1
        guard isNew else { return !indexed }
        b.place(h, e)
        live &+= 1
        return true
    }

    @usableFromInline static var nonNull: UnsafePointer<UInt8> { UnsafePointer<UInt8>(bitPattern: 1)! }

    /// Inserts or overwrites; returns the previous value if the key was present.
    @discardableResult
    public mutating func insert(_ key: [UInt8], _ value: Int32) -> Int32? {
        if let e = entryIndex(key) {
            reserve(0)
            let old = buffer.values[e]; buffer.values[e] = value; return old
        }
        key.withUnsafeBufferPointer { _ = appendEntry($0, value: value) }
        return nil
    }

    func entryIndex(_ key: [UInt8]) -> Int? {
        key.withUnsafeBufferPointer { k in
            let p = k.baseAddress ?? Self.nonNull
            let e = buffer.lookupEntry(p, k.count, hash: hashBytes(p, k.count))
            return e < 0 ? nil : e
        }
    }

    /// See `ByteTableView`.
    @inlinable @inline(__always)
    var view: ByteTableView { ByteTableView(buffer) }

    /// The id of the key `p[0..<n]`, or -1. Out of line (all measurements since the third session were made
    /// so): the ids-only path probes tables of its own, and hot loops with a hash use `find(_:_:hash:)`.
    public func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let b = buffer
        let e = b.lookupEntry(p, n, hash: hashBytes(p, n))
        return e < 0 ? -1 : b.values[e]
    }

    /// As `find(_:_:)` with a precomputed `hashBytes` value.
    @inlinable @inline(__always)
    public func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64) -> Int32 {
        let b = buffer
        let e = b.lookupEntry(p, n, hash: hash)
        return e < 0 ? -1 : b.values[e]
    }

    public func find(_ key: [UInt8]) -> Int32? {
        guard let e = entryIndex(key) else { return nil }
        return buffer.values[e]
    }

    public func find(_ key: String) -> Int32? { find(Array(key.utf8)) }

    /// The bytes of entry `e` (insertion order), copied.
    public func entryBytes(_ e: Int) -> [UInt8] { withEntryBytes(e) { Array($0) } }

    public func withEntryBytes<R>(_ e: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        precondition(e >= 0 && e < entries, "entry out of range")
        let b = buffer
        return try body(UnsafeBufferPointer(start: b.arena + Int(b.starts[e]), count: Int(b.lengths[e])))
    }

    /// The value stored with entry `e`.
    public func entryValue(_ e: Int) -> Int32 { buffer.values[e] }

    /// All (key, value) pairs that can be looked up, by value.
    public var allEntries: [(key: [UInt8], value: Int32)] {
        var out: [(key: [UInt8], value: Int32)] = []
        let b = buffer
        for i in 0...b.mask where b.slots[i] != Self.empty {
            let e = Int(truncatingIfNeeded: b.slots[i] & 0xFFFF_FFFF)
            out.append((entryBytes(e), b.values[e]))
        }
        return out.sorted { $0.value < $1.value }
    }
}

/// The masks that keep the first `n` (0–16) bytes of two little-endian words: memo and whole-token keys
/// (`PieceMemo.makeMasks`) and the learned separator of the `tokenizer.json` scan.
@inline(__always)
func firstBytesMasks(_ n: Int) -> (UInt64, UInt64) {
    (n >= 8 ? .max : (1 &<< UInt64(8 &* n)) &- 1, n <= 8 ? 0 : n >= 16 ? .max : (1 &<< UInt64(8 &* (n &- 8))) &- 1)
}

/// 0 when `a[0..<n]` and `b[0..<n]` are equal, else 1. Without a loop over the last bytes (its exit was
/// mispredicted in merge resolution): they are covered by overlapping loads that stay within the n bytes.
@usableFromInline @inline(__always)
func memcmp(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    if n >= 8 {
        var i = 0
        while i &+ 8 < n {
            if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return 1 }
            i &+= 8
        }
        return ra.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) == rb.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) ? 0 : 1
    }
    if n >= 4 {
        let x = (ra.loadUnaligned(as: UInt32.self) ^ rb.loadUnaligned(as: UInt32.self))
            | (ra.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self) ^ rb.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self))
        return x == 0 ? 0 : 1
    }
    if n <= 0 { return 0 }
    // Bytes 0, n/2 and n - 1 are every byte of a 1–3-byte string.
    let x = (a[0] ^ b[0]) | (a[n &>> 1] ^ b[n &>> 1]) | (a[n &- 1] ^ b[n &- 1])
    return x == 0 ? 0 : 1
}

/// Merge ranks keyed by a packed (left id, right id) pair: value = (rank, merged id).
/// Key and value share one 16-byte slot, so a probe touches one cache line; load stays ≤ 2/3.
public struct PairTable: @unchecked Sendable {
    /// key at 2·s, value at 2·s + 1.
    @usableFromInline var slots: [UInt64]
    @usableFromInline var mask: Int
    public private(set) var count = 0
    @usableFromInline static let empty = UInt64.max

    public init(capacity: Int = 16) {
        var cap = 16
        while cap * 2 < capacity * 3 { cap <<= 1 }
        slots = Self.emptySlots(cap)
        mask = cap - 1
    }

    /// (empty key, 0) in every slot, written in one pass.
    static func emptySlots(_ cap: Int) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: 2 * cap) { a, count in
            var i = 0
            while i < 2 * cap { a[i] = empty; a[i &+ 1] = 0; i &+= 2 }
            count = 2 * cap
        }
    }

    @inlinable @inline(__always)
    static func pack(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    @inlinable @inline(__always)
    static func slot(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) &>> 29) & mask
    }

    @inline(__always)
    static func value(_ rank: Int32, _ merged: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// Inserts unless present (the first, lowest-ranked merge of a pair wins).
    public mutating func insertIfAbsent(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        if (count + 1) * 3 > (mask + 1) * 2 { grow() }
        let mask = self.mask
        if slots.withUnsafeMutableBufferPointer({ Self.place(Self.pack(left, right), Self.value(rank, merged), $0, mask) }) {
            count += 1
        }
    }

    /// Puts `key` → `value` in the first free slot of the key's probe run unless the key is there already
    /// (first wins); true when placed.
    @inline(__always)
    static func place(_ key: UInt64, _ value: UInt64, _ slots: UnsafeMutableBufferPointer<UInt64>, _ mask: Int) -> Bool {
        var s = slot(key, mask)
        while slots[2 &* s] != empty {
            if slots[2 &* s] == key { return false }
            s = (s &+ 1) & mask
        }
        slots[2 &* s] = key
        slots[2 &* s &+ 1] = value
        return true
    }

    /// The table of a merge list: (left, right, merged) ids, ranked by index or by `ranks`. A repeated pair
    /// keeps its last rank when `keepLast` (HF collects merges into a map), else its first.
    ///
    /// - Parameter parts: tasks that build it concurrently (default: one per processor for long lists). Each
    ///   clears and fills its own range of slots with the pairs whose home slot is there, and sets aside those
    ///   whose probe would leave the range; these go in afterwards on this thread. Every pair of one key is
    ///   handled by the same task in the same order, and no slot between a key's home and its place is ever
    ///   empty, so the table answers as one filled in order (the order of keys in a probe run may differ).
    init(merges: [(Int32, Int32, Int32)], ranks: [Int32]?, keepLast: Bool, parts: Int? = nil) {
        var size = 16
        while size * 2 < merges.count * 3 { size <<= 1 }
        let cap = size, mask = size &- 1
        let parts = max(1, min(parts ?? (merges.count >= 1 << 16 ? Tokenizer.processorCount : 1), cap / 16, 16))
        var count = 0
        slots = merges.withUnsafeBufferPointer { m in
            [UInt64](unsafeUninitializedCapacity: 2 &* cap) { slots, initialized in
                adviseHugePages(slots.baseAddress, bytes: 16 &* cap)
                let box = UncheckedBox((slots, m))
                let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: parts)
                let spills = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: parts)
                defer { counts.deallocate(); spills.deinitialize(); spills.deallocate() }
                spills.initialize(repeating: [])
                let outs = UncheckedBox((counts, spills))
                let fill = { @Sendable (t: Int) in
                    let (slots, m) = box.value
                    let lo = cap / parts &* t, hi = t == parts &- 1 ? cap : cap / parts &* (t &+ 1)
                    var i = 2 &* lo
                    while i < 2 &* hi { slots[i] = Self.empty; slots[i &+ 1] = 0; i &+= 2 }
                    var placed = 0
                    var spilled: [Int] = []
                    // A chunk of merges at a time: first (home slot, index) of those whose home slot is in this
                    // task's range, without a branch (a part takes a random half or so: the branch was mispredicted
                    // that often), then those are inserted, the slot 16 places on prefetched so misses overlap.
                    let chunk = 4096
                    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: chunk) { buffer in
                        let found = buffer.baseAddress!
                        var k0 = 0
                        while k0 < m.count {
                            let k1 = min(k0 &+ chunk, m.count)
                            var c = 0
                            for k in k0..<k1 {
                                // Inserting in reverse with first-wins keeps the last occurrence.
                                let i = keepLast ? m.count &- 1 &- k : k
                                let s = Self.slot(Self.pack(m[i].0, m[i].1), mask)
                                found[c] = UInt64(truncatingIfNeeded: s) << 32 | UInt64(truncatingIfNeeded: i)
                                c &+= s >= lo && s < hi ? 1 : 0
                            }
                            for q in 0..<c {
                                if q &+ 16 < c { glossa_prefetch(slots.baseAddress! + 2 &* Int(found[q &+ 16] &>> 32)) }
                                let i = Int(truncatingIfNeeded: found[q] & 0xFFFF_FFFF)
                                var s = Int(truncatingIfNeeded: found[q] &>> 32)
                                let (l, r, merged) = m[i]
                                let key = Self.pack(l, r)
                                while s < hi && slots[2 &* s] != Self.empty && slots[2 &* s] != key { s &+= 1 }
                                if s == hi { spilled.append(i); continue }
                                if slots[2 &* s] == key { continue }
                                (slots[2 &* s], slots[2 &* s &+ 1]) = (key, Self.value(ranks?[i] ?? Int32(i), merged))
                                placed &+= 1
                            }
                            k0 = k1
                        }
                    }
                    outs.value.0[t] = placed
                    outs.value.1[t] = spilled
                }
                if parts == 1 { fill(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: fill) }
                count = counts.reduce(0, &+)
                for list in spills {
                    for i in list {
                        let (l, r, merged) = m[i]
                        if Self.place(Self.pack(l, r), Self.value(ranks?[i] ?? Int32(i), merged), slots, mask) { count &+= 1 }
                    }
                }
                initialized = 2 &* cap
            }
        }
        self.mask = mask
        self.count = count
    }

    mutating func grow() {
        let old = slots
        slots = Self.emptySlots(2 * (mask + 1))
        mask = 2 * (mask + 1) - 1
        for i in stride(from: 0, to: old.count, by: 2) where old[i] != Self.empty {
            var s = Self.slot(old[i], mask)
            while slots[2 &* s] != Self.empty { s = (s &+ 1) & mask }
            slots[2 &* s] = old[i]; slots[2 &* s &+ 1] = old[i &+ 1]
        }
    }

    /// (rank << 32 | merged id) for the pair, or UInt64.max when the pair does not merge.
    @inlinable @inline(__always)
    public func lookup(_ a: Int32, _ b: Int32) -> UInt64 {
        let k = Self.pack(a, b)
        var s = Self.slot(k, mask)
        return slots.withUnsafeBufferPointer { p in
            while true {
                let x = p[2 &* s]
                if x == k { return p[2 &* s &+ 1] }
                if x == Self.empty { return UInt64.max }
                s = (s &+ 1) & mask
            }
        }
    }
}

/// `PairTable` for small models (ids below 65535, ranks below 65536): eight pairs to a 64-byte bucket, their
/// keys (left << 16 | right) in the first half and their values (rank << 16 | merged, plus one) in the second, three
/// quarters full, a bucket searched by two vector compares. Mistral's 59k merges take 630 KB instead of 2 MB, so
/// what the per-thread pair memo (still in front: a hit there costs a third of the instructions) misses mostly stays
/// in a core's L2 with it: 1.06–1.12× on English (Docs/performance.md, twenty-seventh session).
struct SmallPairTable: @unchecked Sendable {
    /// Bucket b: keys at 16·b ..< 16·b + 8, filled from the front with `emptyKey` after the last, values at
    /// 16·b + 8 ..< 16·b + 16 (0 where empty). A full bucket spills into the next.
    let words: UnsafePointer<UInt32>
    let buckets: Int
    /// Frees `words` (one bucket to a cache line) with the last copy of the table.
    private let owner: Owner
    final class Owner {
        let words: UnsafeMutablePointer<UInt32>
        init(_ words: UnsafeMutablePointer<UInt32>) { self.words = words }
        deinit { words.deallocate() }
    }
    static let emptyKey = UInt32.max
    static let idLimit = 0xFFFF

    /// The table of `pairs`, or nil when an id or a rank does not fit 16 bits.
    init?(_ pairs: PairTable) {
        var entries: [(UInt32, UInt32)] = []
        entries.reserveCapacity(pairs.count)
        let slots = pairs.slots
        var i = 0
        while i < slots.count {
            let k = slots[i], v = slots[i &+ 1]
            i &+= 2
            if k == PairTable.empty { continue }
            let a = k >> 32, b = k & 0xFFFF_FFFF, rank = v >> 32, merged = v & 0xFFFF_FFFF
            if a >= Self.idLimit || b >= Self.idLimit || merged >= Self.idLimit || rank > 0xFFFF { return nil }
            entries.append((UInt32(a << 16 | b), UInt32(rank << 16 | merged) &+ 1))
        }
        let n = max(1, (entries.count &+ 5) / 6)
        let w = CacheLines.allocate(UInt32.self, count: 16 &* n)
        for b in 0..<n {
            (w + 16 &* b).initialize(repeating: Self.emptyKey, count: 8)
            (w + (16 &* b &+ 8)).initialize(repeating: 0, count: 8)
        }
        for (k, v) in entries {
            var bucket = Self.bucket(k, n)
            while true {
                var j = 0
                while j < 8 && w[16 &* bucket &+ j] != Self.emptyKey { j &+= 1 }
                if j < 8 { w[16 &* bucket &+ j] = k; w[16 &* bucket &+ 8 &+ j] = v; break }
                bucket = bucket &+ 1 == n ? 0 : bucket &+ 1
            }
        }
        words = UnsafePointer(w)
        owner = Owner(w)
        buckets = n
    }

    @inline(__always)
    static func bucket(_ key: UInt32, _ n: Int) -> Int {
        Int(truncatingIfNeeded: (((UInt64(key) &* 0x9E37_79B9_7F4A_7C15) &>> 32) &* UInt64(truncatingIfNeeded: n)) &>> 32)
    }

    /// The table without its owner, for hot loops: copying it retains nothing.
    var view: View { View(words: words, buckets: buckets) }

    struct View: @unchecked Sendable {
        let words: UnsafePointer<UInt32>
        let buckets: Int

        /// As `PairTable.lookup`: (rank << 32 | merged id), or UInt64.max when the pair does not merge.
        @inline(__always)
        func lookup(_ a: Int32, _ b: Int32) -> UInt64 {
            let ua = UInt32(bitPattern: a), ub = UInt32(bitPattern: b)
            if max(ua, ub) >= UInt32(SmallPairTable.idLimit) { return .max }
            let k = ua << 16 | ub
            let n = buckets
            var bucket = SmallPairTable.bucket(k, n)
            while true {
                let r = glossa_bucket8_find(words + 16 &* bucket, k, SmallPairTable.emptyKey)
                let v = UInt32(truncatingIfNeeded: r)
                if v != 0 { let x = UInt64(v &- 1); return (x &>> 16) << 32 | (x & 0xFFFF) }
                if r > 0xFFFF_FFFF { return .max }
                bucket = bucket &+ 1 == n ? 0 : bucket &+ 1
            }
        }
    }
}
