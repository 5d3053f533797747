/// Primitives for readers that scan part of a document themselves (see `JSONIntercept`), validating
/// exactly as the parser does.
public enum JSONScan {
    /// Validates the string whose opening quote is at `i`: the offset of its closing quote and whether it has
    /// escapes, or nil when it is not a valid JSON string.
    @inline(__always)
    public static func string(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (end: Int, escaped: Bool)? {
        guard let p = bytes.baseAddress, i < bytes.count, p[i] == 0x22 else { return nil }
        switch JSONParser.scanString(p, bytes.count, from: i &+ 1) {
        case .success(let r): return r
        case .failure: return nil
        }
    }

    /// The UTF-8 bytes of the validated string body `bytes[range]` (escapes resolved).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [UInt8] {
        decodeEscapedString(bytes, range.lowerBound, range.upperBound)
    }

    /// The offset of the first byte at or after `i` that is not JSON whitespace.
    @inlinable @inline(__always)
    public static func skipWhitespace(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        var i = i
        while true {
            // Runs of spaces (indentation) eight bytes at a time: the lowest non-zero byte of x ^ "        " is
            // the first byte that is not a space.
            if i &+ 8 <= n {
                let y = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) ^ 0x2020_2020_2020_2020
                if y == 0 { i &+= 8; continue }
                i &+= y.trailingZeroBitCount &>> 3
            }
            guard i < n else { return i }
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i &+= 1 } else { return i }
        }
    }
}

extension JSONValue {
    /// True for an object or array that a `JSONIntercept` consumed (it reads as empty).
    public var isElided: Bool {
        let n = node
        return (n.kind == JSONKind.object.rawValue || n.kind == JSONKind.array.rawValue) && n.flags & flagElided != 0
    }
}
