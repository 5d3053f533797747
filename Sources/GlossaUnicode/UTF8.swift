/// Minimal UTF-8 helpers over raw bytes (the input is validated once, up front).
public enum UTF8Scan {
    /// Decodes the scalar starting at `i` in validated UTF-8; returns (scalar, length).
    @inlinable @inline(__always)
    public static func decode(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i &+ 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(p[i &+ 1] & 0x3F) << 6 | UInt32(p[i &+ 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(p[i &+ 1] & 0x3F) << 12 | UInt32(p[i &+ 2] & 0x3F) << 6
                | UInt32(p[i &+ 3] & 0x3F), 4)
    }

    /// Length of the sequence introduced by a lead byte (1 for continuation bytes, so loops advance).
    @inlinable @inline(__always)
    public static func sequenceLength(_ lead: UInt8) -> Int {
        lead < 0xC0 ? 1 : (lead < 0xE0 ? 2 : (lead < 0xF0 ? 3 : 4))
    }

    /// Appends the UTF-8 encoding of `cp`.
    @inlinable
    public static func append(_ cp: UInt32, to out: inout [UInt8]) {
        if cp < 0x80 { out.append(UInt8(cp)) }
        else if cp < 0x800 { out.append(UInt8(0xC0 | cp >> 6)); out.append(UInt8(0x80 | cp & 0x3F)) }
        else if cp < 0x10000 {
            out.append(UInt8(0xE0 | cp >> 12)); out.append(UInt8(0x80 | (cp >> 6) & 0x3F))
            out.append(UInt8(0x80 | cp & 0x3F))
        } else {
            out.append(UInt8(0xF0 | cp >> 18)); out.append(UInt8(0x80 | (cp >> 12) & 0x3F))
            out.append(UInt8(0x80 | (cp >> 6) & 0x3F)); out.append(UInt8(0x80 | cp & 0x3F))
        }
    }

    /// Returns the offset of the first invalid byte, or nil if `bytes` is valid UTF-8
    /// (no overlongs, no surrogates, nothing above U+10FFFF).
    public static func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        var i = 0
        while i < n {
            // ASCII runs eight bytes at a time.
            while i &+ 8 <= n && UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i &+= 8 }
            if i >= n { break }
            let b0 = bytes[i]
            if b0 < 0x80 { i &+= 1; continue }
            if b0 < 0xC2 { return i }
            if b0 < 0xE0 {
                if i + 1 >= n || bytes[i + 1] & 0xC0 != 0x80 { return i }
                i &+= 2; continue
            }
            if b0 < 0xF0 {
                if i + 2 >= n || bytes[i + 1] & 0xC0 != 0x80 || bytes[i + 2] & 0xC0 != 0x80 { return i }
                if b0 == 0xE0 && bytes[i + 1] < 0xA0 { return i }
                if b0 == 0xED && bytes[i + 1] >= 0xA0 { return i }
                i &+= 3; continue
            }
            if b0 > 0xF4 || i + 3 >= n { return i }
            if bytes[i + 1] & 0xC0 != 0x80 || bytes[i + 2] & 0xC0 != 0x80 || bytes[i + 3] & 0xC0 != 0x80 { return i }
            if b0 == 0xF0 && bytes[i + 1] < 0x90 { return i }
            if b0 == 0xF4 && bytes[i + 1] >= 0x90 { return i }
            i &+= 4
        }
        return nil
    }
}
