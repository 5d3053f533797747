/// Writes JSON the way serde_json does: UTF-8 output with only `"`, `\` and control characters escaped
/// (`\b \f \n \r \t`, other controls as `\u00XX` with lowercase hex), integers in decimal, floats in the
/// shortest round-trip form formatted like `ryu` (`1.0`, `0.1`, `1e-7`, `1.5e300`), non-finite floats as `null`.
/// `pretty: true` matches serde_json's `PrettyFormatter` (two-space indent, `": "`, empty containers as `{}`/`[]`).
///
/// Misuse (a value in an object without a key, unbalanced `end…` calls) is a programmer error and traps.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public let pretty: Bool
    private var indent = 0
    /// One entry per open container: (isObject, hasValue).
    private var open: [(isObject: Bool, hasValue: Bool)] = []
    private var expectingValueForKey = false

    public init(pretty: Bool = false, reservingCapacity: Int = 0) {
        self.pretty = pretty
        bytes.reserveCapacity(reservingCapacity)
    }

    /// The output as a `String`.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Structure

    private mutating func newlineIndent() {
        bytes.append(0x0A)
        for _ in 0..<indent { bytes.append(0x20); bytes.append(0x20) }
    }

    /// Separator before an array element or an object key.
    private mutating func beginElement() {
        guard let top = open.last else {
            precondition(bytes.isEmpty, "JSONWriter: a second top-level value")
            return
        }
        if top.isObject {
            precondition(expectingValueForKey, "JSONWriter: value inside an object needs a key first")
            expectingValueForKey = false
            return
        }
        if pretty {
            if top.hasValue { bytes.append(0x2C) }
            newlineIndent()
        } else if top.hasValue {
            bytes.append(0x2C)
        }
        open[open.count &- 1].hasValue = true
    }

    public mutating func beginObject() {
        beginElement()
        bytes.append(0x7B)
        open.append((true, false))
        indent &+= 1
    }

    public mutating func endObject() {
        precondition(open.last?.isObject == true && !expectingValueForKey, "JSONWriter: unbalanced endObject")
        let top = open.removeLast()
        indent &-= 1
        if pretty && top.hasValue { newlineIndent() }
        bytes.append(0x7D)
    }

    public mutating func beginArray() {
        beginElement()
        bytes.append(0x5B)
        open.append((false, false))
        indent &+= 1
    }

    public mutating func endArray() {
        precondition(open.last?.isObject == false, "JSONWriter: unbalanced endArray")
        let top = open.removeLast()
        indent &-= 1
        if pretty && top.hasValue { newlineIndent() }
        bytes.append(0x5D)
    }

    /// Writes an object key (then write exactly one value).
    public mutating func key(_ key: String) {
        var k = key
        k.withUTF8 { self.key(bytes: $0) }
    }

    public mutating func key(bytes key: some Collection<UInt8>) {
        precondition(open.last?.isObject == true && !expectingValueForKey, "JSONWriter: key outside an object")
        let top = open[open.count &- 1]
        if pretty {
            if top.hasValue { bytes.append(0x2C) }
            newlineIndent()
        } else if top.hasValue {
            bytes.append(0x2C)
        }
        open[open.count &- 1].hasValue = true
        appendEscaped(key)
        bytes.append(0x3A)
        if pretty { bytes.append(0x20) }
        expectingValueForKey = true
    }

    // MARK: Scalars

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { self.string(bytes: $0) }
    }

    /// Writes a string given as UTF-8 bytes (written as-is apart from escapes; the caller guarantees UTF-8).
    public mutating func string(bytes s: some Collection<UInt8>) {
        beginElement()
        appendEscaped(s)
    }

    public mutating func int(_ v: Int) {
        beginElement()
        appendInt(v)
    }

    public mutating func double(_ v: Double) {
        beginElement()
        JSONWriter.appendDouble(v, to: &bytes)
    }

    public mutating func bool(_ v: Bool) {
        beginElement()
        bytes.append(contentsOf: v ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
    }

    public mutating func null() {
        beginElement()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }

    /// Writes a number exactly as given (must be valid JSON number text; used to copy parsed numbers).
    public mutating func rawNumber(_ text: some Collection<UInt8>) {
        beginElement()
        bytes.append(contentsOf: text)
    }

    // MARK: Trees

    public mutating func write(_ node: JSONNode) {
        switch node {
        case .null: null()
        case let .bool(b): bool(b)
        case let .int(i): int(i)
        case let .double(d): double(d)
        case let .string(s): string(s)
        case let .array(items):
            beginArray()
            for item in items { write(item) }
            endArray()
        case let .object(members):
            beginObject()
            for m in members { key(m.key); write(m.value) }
            endObject()
        }
    }

    /// Copies a parsed value (numbers keep their source text; strings are re-escaped serde-style).
    public mutating func write(_ value: JSONValue) {
        switch value.kind {
        case .null: null()
        case .bool: bool(value.bool!)
        case .number: rawNumber(value.rawBytes)
        case .string: _ = value.withStringBytes { string(bytes: $0) }
        case .array:
            beginArray()
            value.forEachElement { write($0) }
            endArray()
        case .object:
            beginObject()
            value.forEachEntry { k, v in
                key(bytes: k)
                write(v)
            }
            endObject()
        }
    }

    /// Serializes `node` in one call.
    public static func serialize(_ node: JSONNode, pretty: Bool = false) -> [UInt8] {
        var w = JSONWriter(pretty: pretty)
        w.write(node)
        return w.bytes
    }

    // MARK: Encoding helpers

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func appendEscaped(_ s: some Collection<UInt8>) {
        bytes.append(0x22)
        for c in s {
            if c >= 0x20 && c != 0x22 && c != 0x5C { bytes.append(c); continue }
            bytes.append(0x5C)
            switch c {
            case 0x22: bytes.append(0x22)
            case 0x5C: bytes.append(0x5C)
            case 0x08: bytes.append(0x62)
            case 0x0C: bytes.append(0x66)
            case 0x0A: bytes.append(0x6E)
            case 0x0D: bytes.append(0x72)
            case 0x09: bytes.append(0x74)
            default:
                bytes.append(contentsOf: [0x75, 0x30, 0x30])
                bytes.append(JSONWriter.hexDigits[Int(c >> 4)])
                bytes.append(JSONWriter.hexDigits[Int(c & 0xF)])
            }
        }
        bytes.append(0x22)
    }

    private mutating func appendInt(_ v: Int) {
        if v == 0 { bytes.append(0x30); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var m = v.magnitude
        var k = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while m > 0 { d[k] = UInt8(m % 10) &+ 0x30; m /= 10; k &+= 1 }
        }
        if v < 0 { bytes.append(0x2D) }
        withUnsafeBytes(of: &digits) { d in
            while k > 0 { k &-= 1; bytes.append(d[k]) }
        }
    }

    /// Formats a finite double like the `ryu` crate (serde_json's float writer); non-finite → `null`.
    public static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        guard v.isFinite else { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]); return }
        if v == 0 {
            if v.sign == .minus { out.append(0x2D) }
            out.append(contentsOf: [0x30, 0x2E, 0x30])
            return
        }
        // Swift's description is the shortest round-trip representation; extract digits and exponent.
        let text = Array(v.magnitude.description.utf8)
        var digits: [UInt8] = []
        var pointPos = -1      // digits before the decimal point
        var exp = 0
        var i = 0
        while i < text.count {
            let c = text[i]
            if c >= 0x30 && c <= 0x39 { digits.append(c) }
            else if c == 0x2E { pointPos = digits.count }
            else if c == 0x65 || c == 0x45 {
                exp = Int(String(decoding: text[(i &+ 1)...], as: UTF8.self)) ?? 0
                break
            }
            i &+= 1
        }
        if pointPos < 0 { pointPos = digits.count }
        // value = 0.d1d2... × 10^(pointPos + exp); strip leading zeros.
        var lead = 0
        while lead < digits.count &- 1 && digits[lead] == 0x30 { lead &+= 1 }
        var kk = pointPos &+ exp &- lead   // decimal point position relative to the first significant digit
        digits.removeFirst(lead)
        while digits.count > 1 && digits.last == 0x30 { digits.removeLast() }
        if digits.isEmpty { digits = [0x30]; kk = 1 }
        let length = digits.count
        let k = kk &- length          // value = digits × 10^k
        if v.sign == .minus { out.append(0x2D) }
        if k >= 0 && kk <= 16 {
            out.append(contentsOf: digits)
            for _ in 0..<k { out.append(0x30) }
            out.append(contentsOf: [0x2E, 0x30])
        } else if kk > 0 && kk <= 16 {
            out.append(contentsOf: digits[0..<kk])
            out.append(0x2E)
            out.append(contentsOf: digits[kk...])
        } else if kk > -5 && kk <= 0 {
            out.append(contentsOf: [0x30, 0x2E])
            for _ in 0..<(-kk) { out.append(0x30) }
            out.append(contentsOf: digits)
        } else {
            out.append(digits[0])
            if length > 1 {
                out.append(0x2E)
                out.append(contentsOf: digits[1...])
            }
            out.append(0x65)
            out.append(contentsOf: Array(String(kk &- 1).utf8))
        }
    }
}
