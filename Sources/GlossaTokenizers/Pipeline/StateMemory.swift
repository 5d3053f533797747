/// A per-thread cache of encodings that a state starts small: at full size the caches take megabytes, and
/// a fresh state that encodes one short text paid for allocating and clearing them (7–273 µs for a sentence
/// that then took 0.3 µs). The call that brings the text a state has encoded with the cache's model to
/// `growAfter` bytes or more replaces the cache with a full-size one, empty again (`prepared`).
protocol SizedCache: AnyObject {
    associatedtype Owner: AnyObject
    var owner: Owner { get }
    /// Whether the cache has its full sizes; until it does, the text it has served.
    var full: Bool { get }
    var bytesSeen: Int { get set }
    init(owner: Owner, full: Bool)
}

extension SizedCache {
    static var growAfter: Int { 16 << 10 }

    /// `cache` when it is `owner`'s and `bytes` more of text keep it within its size, else a new cache for
    /// `owner`, full once the text reaches `growAfter` bytes. Counts `bytes` as served.
    static func prepared(_ cache: Self?, for owner: Owner, bytes: Int) -> Self {
        var seen = bytes
        if let cache, cache.owner === owner {
            seen &+= cache.bytesSeen
            if cache.full || seen < growAfter { cache.bytesSeen = seen; return cache }
        }
        let c = Self(owner: owner, full: seen >= growAfter)
        c.bytesSeen = seen
        return c
    }
}

/// Buffers of one owner in one allocation, each on whole cache lines of its own: a state made for one short
/// text paid more for some thirty aligned `malloc`s and `free`s of its caches than for encoding the text.
/// `add` the buffers, `allocate` the block once, then take each buffer at its offset.
struct CacheBlock {
    private(set) var size = 0
    /// Room for `count` values of `T`; its offset in the block.
    mutating func add<T>(_: T.Type, _ count: Int) -> Int {
        let at = size
        size &+= CacheLines.bytes(T.self, count)
        return at
    }
    /// The block, uninitialized (free with `deallocate()`).
    func allocate() -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: Swift.max(size, 1), alignment: CacheLines.size)
    }
    /// The `count` values of `T` at `offset` of `block` (bound to `T`; all zero when `zeroed`, else uninitialized).
    static func buffer<T>(_ block: UnsafeMutableRawPointer, _ offset: Int, _ count: Int, zeroed: Bool = false) -> UnsafeMutablePointer<T> {
        if zeroed { (block + offset).initializeMemory(as: UInt8.self, repeating: 0, count: count &* MemoryLayout<T>.stride) }
        return (block + offset).bindMemory(to: T.self, capacity: count)
    }
}

/// Per-thread buffers that are written while other threads encode: whole cache lines, aligned, so that no
/// line holds both one thread's hot writes and data another thread reads or writes (a small `malloc`
/// block can sit on a line with any other, since a block freed by one thread is reused by another).
/// Free with `deallocate()`.
enum CacheLines {
    static let size = 64
    @inline(__always) static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer.allocate(byteCount: bytes(T.self, count), alignment: size).bindMemory(to: T.self, capacity: count)
    }
    /// `count` values of `T` rounded up to whole lines (one line at least).
    @inline(__always) static func bytes<T>(_: T.Type, _ count: Int) -> Int {
        (Swift.max(1, count &* MemoryLayout<T>.stride) &+ (size &- 1)) & ~(size &- 1)
    }
}
