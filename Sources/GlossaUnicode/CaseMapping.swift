internal import CICU

/// Full, context-free case mappings with Rust `char::to_lowercase` / `char::to_uppercase` semantics
/// (UnicodeData simple mappings plus SpecialCasing's unconditional ones; no Final_Sigma, no locale).
public enum CaseMapping {
    /// Writes the lowercase mapping of `cp` into `out` (capacity >= 3) and returns its length.
    @inlinable @inline(__always)
    public static func lowercase(_ cp: UInt32, into out: UnsafeMutablePointer<UInt32>) -> Int {
        if cp < 0x80 {
            out[0] = (cp &- 0x41) < 26 ? cp | 0x20 : cp
            return 1
        }
        return fullMap(cp, upper: false, into: out)
    }

    /// Writes the uppercase mapping of `cp` into `out` (capacity >= 3) and returns its length.
    @inlinable @inline(__always)
    public static func uppercase(_ cp: UInt32, into out: UnsafeMutablePointer<UInt32>) -> Int {
        if cp < 0x80 {
            out[0] = (cp &- 0x61) < 26 ? cp & ~0x20 : cp
            return 1
        }
        return fullMap(cp, upper: true, into: out)
    }

    @usableFromInline static func fullMap(_ cp: UInt32, upper: Bool, into out: UnsafeMutablePointer<UInt32>) -> Int {
        if !upper {
            // U+0130 is the only unconditional multi-character lowercase mapping; everything else is the
            // simple mapping (checked against the full mapping for every code point in the tests).
            if cp == 0x130 { out[0] = 0x69; out[1] = 0x307; return 2 }
            let l = UInt32(bitPattern: cicu_tolower(Int32(bitPattern: cp)))
            if l == cp, cp >= 0x1C89, let x = HFUnicodeTables.lookupPair(HFUnicodeTables.extraLowercase, cp) {
                out[0] = x
            } else {
                out[0] = l
            }
            return 1
        }
        var buf: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        let n = withUnsafeMutablePointer(to: &buf) {
            $0.withMemoryRebound(to: Int32.self, capacity: 4) { p in
                Int(cicu_fullCaseMap(Int32(bitPattern: cp), 1, p, 4))
            }
        }
        withUnsafePointer(to: &buf) {
            $0.withMemoryRebound(to: Int32.self, capacity: 4) { p in
                for i in 0..<Swift.min(n, 3) { out[i] = UInt32(bitPattern: p[i]) }
            }
        }
        if n == 1 && out[0] == cp, let x = HFUnicodeTables.lookupPair(HFUnicodeTables.extraUppercase, cp) {
            out[0] = x
        }
        return Swift.min(n, 3)
    }

    /// The full mapping computed by ICU's `u_strToLower`/`u_strToUpper` on the single code point with the
    /// root locale (reference for tests).
    public static func icuFullMapping(_ cp: UInt32, upper: Bool) -> [UInt32] {
        var buf = [Int32](repeating: 0, count: 8)
        let n = buf.withUnsafeMutableBufferPointer {
            Int(cicu_fullCaseMap(Int32(bitPattern: cp), upper ? 1 : 0, $0.baseAddress, 8))
        }
        return buf[0..<n].map { UInt32(bitPattern: $0) }
    }
}

extension NormalizedText {
    /// HF `lowercase()`: per character `char::to_lowercase`; extra characters are insertions (change +1).
    public mutating func lowercase() { caseMap(upper: false) }

    /// HF `uppercase()`: per character `char::to_uppercase` (e.g. ß → SS).
    public mutating func uppercase() { caseMap(upper: true) }

    mutating func caseMap(upper: Bool) {
        if normalized.isEmpty { return }
        if isASCII {
            // Same lengths, so alignments do not change.
            normalized.withUnsafeMutableBufferPointer { p in
                if upper {
                    for i in p.indices where p[i] &- 0x61 < 26 { p[i] &= ~0x20 }
                } else {
                    for i in p.indices where p[i] &- 0x41 < 26 { p[i] |= 0x20 }
                }
            }
            return
        }
        let src = normalized
        src.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            let n = p.count
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 4) { tmp in
                let t = tmp.baseAddress!
                transform(extraCapacity: n / 4 &+ 16) { w in
                    var i = 0
                    while i < n {
                        let (c, len) = UTF8Scan.decode(base, i)
                        i &+= len
                        let k = upper ? CaseMapping.uppercase(c, into: t) : CaseMapping.lowercase(c, into: t)
                        if k == 1 && t[0] == c { w.keep(); continue }
                        w.emit(t[0], change: 0)
                        var j = 1
                        while j < k { w.emit(t[j], change: 1); j &+= 1 }
                    }
                }
            }
        }
    }
}
