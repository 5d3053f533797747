import Testing
import GlossaJSON

/// `PageMemory` and `PageList`: zero-filled memory on both sides of the mapped threshold, large blocks on huge-page
/// boundaries (on Linux), every byte writable, and a list's values kept across growth.
@Suite struct PageMemoryTests {
    @Test func allocationsAreZeroedWritableAndLargeOnesAligned() {
        for count in [0, 1, 1000, (1 << 20) / 8 - 1, (1 << 20) / 8, 3_000_000 / 8, (1 << 22) / 8 + 5] {
            let p = PageMemory.allocate(UInt64.self, count: count)
            let n = max(1, count)
            #expect((0..<n).allSatisfy { p[$0] == 0 }, "count \(count)")
            for i in 0..<n { p[i] = UInt64(i) &* 0x9E37_79B9 }
            #expect(p[n - 1] == UInt64(n - 1) &* 0x9E37_79B9)
            #if os(Linux)
            if n * 8 >= 1 << 20 { #expect(Int(bitPattern: p) % (1 << 21) == 0, "count \(count)") }
            #endif
            PageMemory.deallocate(p, count: count)
        }
    }

    @Test func listsKeepTheirValuesAcrossGrowth() {
        var b = PageList<Int64>.Builder(capacity: 3)
        for i in 0..<300_000 { b.append(Int64(i) * 3 - 7) }
        #expect(b.count == 300_000)
        let list = PageList(builder: b)
        #expect(list.count == 300_000 && !list.isEmpty)
        #expect((0..<list.count).allSatisfy { list[$0] == Int64($0) * 3 - 7 })
        let last: [Int64] = [299_998 * 3 - 7, 299_999 * 3 - 7]
        #expect(list.withUnsafeBufferPointer { Array($0.suffix(2)) } == last)
        #expect(PageList<Int64>().isEmpty && PageList<Int64>().withUnsafeBufferPointer { $0.isEmpty })
        let small: [Int32] = [5, 6, 7]
        #expect(PageList(small).withUnsafeBufferPointer { Array($0) } == small)
        let discarded = PageList<UInt8>.Builder(capacity: 1 << 21)
        discarded.discard()
    }
}
