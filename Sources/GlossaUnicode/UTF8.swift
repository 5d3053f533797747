internal import CUTF8

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
    ///
    /// 16 bytes at a time with vector compares (`glossa_utf8_suspect_block`, each byte against the three
    /// before it); a block that may hold an error, and short buffers, go to `tableInvalidOffset`, which finds
    /// the exact offset from the character boundary before the block.
    public static func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        if n < 64 { return tableInvalidOffset(base, from: 0, count: n) }
        let suspect = glossa_utf8_suspect_block(base, n)
        if suspect < 0 { return nil }
        // A character that starts before byte `suspect - 3` ends before the block, and all before it passed.
        var from = max(suspect &- 3, 0)
        let limit = from
        while from > 0 && limit &- from < 3 && base[from] & 0xC0 == 0x80 { from &-= 1 }
        return tableInvalidOffset(base, from: from, count: n)
    }

    /// One table lookup per sequence, from a character boundary `start`: the lead byte gives the length and
    /// the allowed range of the second byte, one 32-bit load checks the rest (non-Latin text is mostly 2- and
    /// 3-byte sequences, where the byte-by-byte chain of comparisons cost ≈ 10 instructions per byte).
    static func tableInvalidOffset(_ base: UnsafePointer<UInt8>, from start: Int, count n: Int) -> Int? {
        leadTable.withUnsafeBufferPointer { lead -> Int? in
            var i = start
            while i &+ 4 <= n {
                let w = UInt32(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt32.self))
                let info = lead[Int(w & 0xFF)]
                let len = Int(info & 0xFF)
                if len == 1 {
                    // ASCII: skip the run eight bytes at a time.
                    i &+= 1
                    while i &+ 8 <= n && UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i &+= 8 }
                    continue
                }
                if len == 0 { return i }
                if len == 3 && i &+ 8 <= n && (0xDFFE as UInt32) &>> (w & 0x0F) & 1 != 0 {
                    // Runs of 3-byte characters (CJK, kana): two per 64-bit load, both leads E1–EC or EE–EF
                    // (any continuation byte follows them). E0 and ED (Indic scripts start with E0) take the check
                    // below, without trying: allowing them here cost more on CJK than it saved on Indic text.
                    // Chinese: ≈ 20 → 7 instructions a character.
                    let from = i
                    while i &+ 8 <= n {
                        let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                        if x & 0x0000_C0C0_F0C0_C0F0 != 0x0000_8080_E080_80E0 { break }
                        let ok = (0xDFFE as UInt64) &>> (x & 0x0F) & (0xDFFE as UInt64) &>> ((x &>> 24) & 0x0F)
                        if ok & 1 == 0 { break }
                        i &+= 6
                    }
                    if i != from { continue }
                }
                if len == 2 && i &+ 8 <= n {
                    // Runs of 2-byte characters (Cyrillic, Greek, Arabic, Hebrew): four per 64-bit load, each a
                    // lead C2–DF (C0 and C1 are overlong: bits 1–4 of the lead not all zero) and a continuation byte.
                    let from = i
                    while i &+ 8 <= n {
                        let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                        if x & 0xC0E0_C0E0_C0E0_C0E0 != 0x80C0_80C0_80C0_80C0 { break }
                        // Each 16-bit lane's bits 1–4 (≤ 0x1E) plus 0x7FFF carries into bit 15 unless all zero.
                        if ((x & 0x001E_001E_001E_001E) &+ 0x7FFF_7FFF_7FFF_7FFF) & 0x8000_8000_8000_8000 != 0x8000_8000_8000_8000 { break }
                        i &+= 8
                    }
                    if i != from { continue }
                }
                let b1 = UInt64((w >> 8) & 0xFF)
                let mask = UInt32(truncatingIfNeeded: info >> 32)
                // b1 within [lo, lo + range]: one unsigned compare after subtracting lo.
                if b1 &- ((info >> 8) & 0xFF) > (info >> 16) & 0xFF || w & mask != mask & 0x8080_8080 { return i }
                i &+= len
            }
            return scalarInvalidOffset(base, from: i, count: n)
        }
    }

    /// Per lead byte: length (0 = not a lead byte) | lowest second byte << 8 | (highest − lowest) << 16,
    /// and in the high half the mask of the third and fourth bytes, which must be continuation bytes.
    private static let leadTable: [UInt64] = (0..<256).map { b -> UInt64 in
        func e(_ len: UInt64, _ lo: UInt64, _ hi: UInt64) -> UInt64 {
            let mask: UInt64 = len == 4 ? 0xC0C0_0000 : (len == 3 ? 0x00C0_0000 : 0)
            return len | lo << 8 | (hi - lo) << 16 | mask << 32
        }
        switch b {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return e(2, 0x80, 0xBF)
        case 0xE0: return e(3, 0xA0, 0xBF)          // no overlongs
        case 0xED: return e(3, 0x80, 0x9F)          // no surrogates
        case 0xE1...0xEF: return e(3, 0x80, 0xBF)
        case 0xF0: return e(4, 0x90, 0xBF)          // no overlongs
        case 0xF1...0xF3: return e(4, 0x80, 0xBF)
        case 0xF4: return e(4, 0x80, 0x8F)          // nothing above U+10FFFF
        default: return 0
        }
    }

    /// The byte-by-byte check from `from` on: the last few bytes of `firstInvalidOffset`, and its reference
    /// in tests.
    static func scalarInvalidOffset(_ base: UnsafePointer<UInt8>, from start: Int, count n: Int) -> Int? {
        var i = start
        while i < n {
            let b0 = base[i]
            if b0 < 0x80 { i &+= 1; continue }
            if b0 < 0xC2 { return i }
            if b0 < 0xE0 {
                if i + 1 >= n || base[i + 1] & 0xC0 != 0x80 { return i }
                i &+= 2; continue
            }
            if b0 < 0xF0 {
                if i + 2 >= n || base[i + 1] & 0xC0 != 0x80 || base[i + 2] & 0xC0 != 0x80 { return i }
                if b0 == 0xE0 && base[i + 1] < 0xA0 { return i }
                if b0 == 0xED && base[i + 1] >= 0xA0 { return i }
                i &+= 3; continue
            }
            if b0 > 0xF4 || i + 3 >= n { return i }
            if base[i + 1] & 0xC0 != 0x80 || base[i + 2] & 0xC0 != 0x80 || base[i + 3] & 0xC0 != 0x80 { return i }
            if b0 == 0xF0 && base[i + 1] < 0x90 { return i }
            if b0 == 0xF4 && base[i + 1] >= 0x90 { return i }
            i &+= 4
        }
        return nil
    }
}
