#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// Zero-filled memory for the large tables a loader builds once (hash tables, arenas: 1–9 MB each). A table
/// of 1 MiB or more is whole 2 MiB pages, aligned, with the kernel asked for huge pages: one page fault per
/// 2 MiB instead of 512. The Llama-3.2 `tokenizer.json` took ≈ 5,600 faults a load, a third of its CPU in
/// the kernel; on the VM of the thirty-first session 22 MB of 4 KiB pages took 8–12 ms of kernel time to
/// touch, the same in huge pages 2.6–3.6 ms. Smaller requests are `calloc`'s. What `allocate` returns goes
/// back through `deallocate` with the same count.
public enum PageMemory {
    static let huge = 1 << 21
    /// Requests of this many bytes or more are mapped.
    static let mappedFrom = 1 << 20

    /// Room for `count` values of `T`, every byte zero.
    public static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        precondition(count >= 0 && MemoryLayout<T>.alignment <= 4096)
        let bytes = max(1, count) &* MemoryLayout<T>.stride
        #if os(Linux)
        if bytes >= mappedFrom {
            let length = roundedUp(bytes)
            // One huge page more than needed, then the ends trimmed so that the table starts on a boundary
            // (a mapping's start is only page-aligned).
            let raw = mmap(nil, length &+ huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let raw, raw != MAP_FAILED else { fatalError("PageMemory: cannot map \(length) bytes") }
            let head = roundedUp(Int(bitPattern: raw)) &- Int(bitPattern: raw), start = Int(bitPattern: raw) &+ head
            if head > 0 { munmap(raw, head) }
            munmap(UnsafeMutableRawPointer(bitPattern: start &+ length), huge &- head)
            let p = UnsafeMutableRawPointer(bitPattern: start)!
            _ = madvise(p, length, MADV_HUGEPAGE)
            return p.bindMemory(to: T.self, capacity: max(1, count))
        }
        #endif
        guard let p = calloc(max(1, count), MemoryLayout<T>.stride) else { fatalError("PageMemory: cannot allocate \(bytes) bytes") }
        return p.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// Frees what `allocate(T.self, count: count)` returned.
    public static func deallocate<T>(_ p: UnsafeMutablePointer<T>, count: Int) {
        let bytes = max(1, count) &* MemoryLayout<T>.stride
        #if os(Linux)
        if bytes >= mappedFrom {
            munmap(UnsafeMutableRawPointer(p), roundedUp(bytes))
            return
        }
        #endif
        free(UnsafeMutableRawPointer(p))
    }

    /// `n` rounded up to a multiple of 2 MiB (a size, or an address to the next boundary).
    @inline(__always) static func roundedUp(_ n: Int) -> Int { (n &+ huge &- 1) & ~(huge &- 1) }
}

/// Asks the kernel to back the 2 MB-aligned middle of a large, not yet touched allocation with huge pages: one
/// fault per 2 MB instead of 512, and fewer TLB misses for tables probed at random. For buffers that are not
/// `PageMemory`'s (arrays, the file). A hint only: where the kernel declines it (THP off, other systems)
/// nothing changes.
public func adviseHugePages(_ p: UnsafeMutableRawPointer?, bytes: Int) {
    #if os(Linux)
    let huge = PageMemory.huge
    guard let p, bytes >= 2 * huge else { return }
    let start = PageMemory.roundedUp(Int(bitPattern: p))
    let end = (Int(bitPattern: p) + bytes) & ~(huge - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
    #endif
}

/// A list of plain values on `PageMemory`: a loader's large intermediate lists (the spans of 128k vocabulary
/// entries or of 280k merges), which as arrays were 4 KiB pages faulted in one by one. Filled through a
/// `Builder` in a local variable (no class property updated in the loop), then read while the list lives.
public final class PageList<Element: BitwiseCopyable>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Element>
    public let count: Int
    private let capacity: Int

    /// An empty list.
    public convenience init() { self.init(base: PageMemory.allocate(Element.self, count: 1), count: 0, capacity: 1) }

    /// A list holding `values`.
    public convenience init(_ values: [Element]) {
        let base = PageMemory.allocate(Element.self, count: values.count)
        values.withUnsafeBufferPointer { if let v = $0.baseAddress { base.update(from: v, count: $0.count) } }
        self.init(base: base, count: values.count, capacity: values.count)
    }

    private init(base: UnsafeMutablePointer<Element>, count: Int, capacity: Int) {
        (self.base, self.count, self.capacity) = (base, count, capacity)
    }

    /// The builder's values; the list owns its memory from now on (the builder must not be used again).
    public convenience init(builder b: Builder) { self.init(base: b.base, count: b.filled, capacity: b.capacity) }

    deinit { PageMemory.deallocate(base, count: capacity) }

    public var isEmpty: Bool { count == 0 }
    /// The values, valid inside `body` only (the list may be freed after its last use).
    @inlinable public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Element>) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in try body(UnsafeBufferPointer(start: base, count: count)) }
    }
    // Inlinable here and below: a generic type's members are otherwise a call per value from other modules.
    @inlinable @inline(__always) public subscript(i: Int) -> Element { base[i] }

    /// Appends into memory that a `PageList` then takes over (`PageList(builder:)`), or that `discard` frees:
    /// exactly one of the two, once.
    public struct Builder {
        @usableFromInline var base: UnsafeMutablePointer<Element>
        @usableFromInline var filled = 0
        public var count: Int { filled }
        @usableFromInline var capacity: Int

        public init(capacity: Int) {
            self.capacity = max(capacity, 16)
            base = PageMemory.allocate(Element.self, count: self.capacity)
        }

        @inlinable @inline(__always) public mutating func append(_ value: Element) {
            if filled == capacity { grow() }
            base[filled] = value
            filled &+= 1
        }

        @usableFromInline @inline(never) mutating func grow() {
            let wider = PageMemory.allocate(Element.self, count: 2 &* capacity)
            wider.update(from: base, count: filled)
            PageMemory.deallocate(base, count: capacity)
            (base, capacity) = (wider, 2 &* capacity)
        }

        public func discard() { PageMemory.deallocate(base, count: capacity) }
    }
}
