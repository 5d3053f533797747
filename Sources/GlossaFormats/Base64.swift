/// Standard base64 (RFC 4648 alphabet, '=' padding, canonical padding bits): the tokens of tiktoken rank files and
/// the binary fields embedded in `tokenizer.json` (`precompiled_charsmap`).
public enum Base64 {
    /// The decoded bytes, or nil unless `s` is canonical padded base64.
    public static func decode(_ s: [UInt8]) -> [UInt8]? {
        if s.isEmpty { return [] }
        var out = [UInt8](repeating: 0, count: s.count / 4 * 3 + 3)
        var written = 0
        let bad = s.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in decodeBase64(p.baseAddress!, 0, p.count, into: o.baseAddress!, &written) }
        }
        if bad != nil { return nil }
        out.removeLast(out.count - written)
        return out
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        bytes.withUnsafeBufferPointer { encodeBase64($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }
}

@inline(__always)
private func base64Value(_ c: UInt8) -> Int {
    switch c {
    case 0x41...0x5A: return Int(c &- 0x41)
    case 0x61...0x7A: return Int(c &- 0x61) &+ 26
    case 0x30...0x39: return Int(c &- 0x30) &+ 52
    case 0x2B: return 62
    case 0x2F: return 63
    default: return -1
    }
}

/// Decodes `p[start..<end]` to `out + written` (advanced by the bytes written); returns nil on success or the
/// offset of the first bad byte.
func decodeBase64(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into out: UnsafeMutablePointer<UInt8>,
                  _ written: inout Int) -> Int? {
    let n = end &- start
    if n == 0 { return nil }
    if n & 3 != 0 { return end }
    var i = start
    var w = written
    defer { written = w }
    while i < end {
        let last = i &+ 4 == end
        let a = base64Value(p[i]), b = base64Value(p[i &+ 1])
        if a < 0 { return i }
        if b < 0 { return i &+ 1 }
        let c2 = p[i &+ 2], c3 = p[i &+ 3]
        if last && c2 == 0x3D {
            if c3 != 0x3D { return i &+ 3 }
            if b & 0xF != 0 { return i &+ 1 }      // non-canonical padding bits
            out[w] = UInt8(truncatingIfNeeded: a << 2 | b >> 4); w &+= 1
            return nil
        }
        let c = base64Value(c2)
        if c < 0 { return i &+ 2 }
        if last && c3 == 0x3D {
            if c & 0x3 != 0 { return i &+ 2 }
            out[w] = UInt8(truncatingIfNeeded: a << 2 | b >> 4)
            out[w &+ 1] = UInt8(truncatingIfNeeded: (b & 0xF) << 4 | c >> 2); w &+= 2
            return nil
        }
        let d = base64Value(c3)
        if d < 0 { return i &+ 3 }
        out[w] = UInt8(truncatingIfNeeded: a << 2 | b >> 4)
        out[w &+ 1] = UInt8(truncatingIfNeeded: (b & 0xF) << 4 | c >> 2)
        out[w &+ 2] = UInt8(truncatingIfNeeded: (c & 0x3) << 6 | d); w &+= 3
        i &+= 4
    }
    return nil
}

/// Base64 value of each byte; 0x40 for '=', 0x80 for the rest.
let base64Values: [UInt8] = (0..<256).map { c in
    let v = base64Value(UInt8(c))
    return v >= 0 ? UInt8(v) : c == 0x3D ? 0x40 : 0x80
}

private let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

func encodeBase64(_ s: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
    let n = s.count
    var i = 0
    base64Alphabet.withUnsafeBufferPointer { A in
        while i &+ 3 <= n {
            let v = Int(s[i]) << 16 | Int(s[i &+ 1]) << 8 | Int(s[i &+ 2])
            out.append(A[v >> 18]); out.append(A[(v >> 12) & 63]); out.append(A[(v >> 6) & 63]); out.append(A[v & 63])
            i &+= 3
        }
        let rest = n &- i
        if rest == 1 {
            let v = Int(s[i]) << 16
            out.append(A[v >> 18]); out.append(A[(v >> 12) & 63]); out.append(0x3D); out.append(0x3D)
        } else if rest == 2 {
            let v = Int(s[i]) << 16 | Int(s[i &+ 1]) << 8
            out.append(A[v >> 18]); out.append(A[(v >> 12) & 63]); out.append(A[(v >> 6) & 63]); out.append(0x3D)
        }
    }
}
