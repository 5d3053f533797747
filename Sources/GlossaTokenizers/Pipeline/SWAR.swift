/// Eight bytes at a time in one word (SWAR), for scans that look for a few byte values.
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// High bit set in each zero byte of `v`; only the lowest is exact (borrows may mark bytes above it), which
    /// is all a scan for the first one needs.
    @inline(__always) static func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }

    /// The eight bytes at `p`, the first in the lowest bits.
    @inline(__always) static func load(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
    }
}
