/// One parsed JSON value in the flat node array (pre-order). Containers are followed by their children;
/// an object's children alternate key (a string node) and value.
@usableFromInline
struct JSONNodeRecord: Sendable {
    /// Byte range of the value: strings exclude the quotes; containers span `{`...`}`.
    @usableFromInline var start: Int32
    @usableFromInline var end: Int32
    /// Index of the first node after this value's subtree (the next sibling, if any).
    @usableFromInline var next: Int32
    /// Index of the containing array/object, or -1 for the root.
    @usableFromInline var parent: Int32
    /// Number of elements (array) or entries (object); 0 for scalars.
    @usableFromInline var count: Int32
    @usableFromInline var kind: UInt8
    /// Strings: bit 0 = contains escapes. Numbers: bit 1 = has a fraction or exponent. Booleans: bit 2 = true.
    @usableFromInline var flags: UInt8
}

@usableFromInline let flagEscapes: UInt8 = 1
@usableFromInline let flagFloat: UInt8 = 2
@usableFromInline let flagTrue: UInt8 = 4
/// Containers: consumed by a `JSONIntercept` (their members are not nodes).
@usableFromInline let flagElided: UInt8 = 8

/// Lets a reader consume a large value itself, in the same pass and without nodes. Called at each object or
/// array value of a member of an object member of the root (`{"outer": {"key": <here>}}`) with the two keys'
/// raw (still escaped) bytes, the document and the offset of the value's `{` or `[`. Returns the offset just
/// after the value when it consumed it, which it must have validated as strictly as the parser; the value
/// then reads as an empty container whose `isElided` is true. nil lets the parser read the value itself.
public typealias JSONIntercept = (_ outerKey: UnsafeBufferPointer<UInt8>, _ key: UnsafeBufferPointer<UInt8>,
                                  _ document: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int?

/// Immutable storage shared by every `JSONValue` of a document.
@usableFromInline
final class JSONStorage: Sendable {
    @usableFromInline let bytes: FileBytes
    @usableFromInline let nodes: [JSONNodeRecord]
    @usableFromInline let file: String?

    init(bytes: FileBytes, nodes: [JSONNodeRecord], file: String?) {
        self.bytes = bytes
        self.nodes = nodes
        self.file = file
    }
}

/// A parsed JSON document: the input bytes plus a compact node array. Strings and numbers are decoded only
/// when asked for. Parsing is strict RFC 8259 (UTF-8 validated inside strings, lone surrogate escapes rejected,
/// no trailing commas, no comments, nothing but whitespace after the top-level value).
public struct JSONDocument: Sendable {
    @usableFromInline let storage: JSONStorage

    /// The deepest nesting accepted (arrays plus objects).
    public static let maxDepth = 10_000

    /// Parses `bytes`. `file` is only used in error messages.
    public init(bytes: [UInt8], file: String? = nil) throws(JSONError) {
        try self.init(bytes: bytes, file: file, intercept: nil)
    }

    /// Parses `bytes`, letting `intercept` consume chosen second-level values (see `JSONIntercept`).
    public init(bytes: [UInt8], file: String? = nil, intercept: JSONIntercept?) throws(JSONError) {
        try self.init(bytes: FileBytes(bytes), file: file, intercept: intercept)
    }

    /// Parses `bytes` (a mapped file, `BinaryFile.map`), letting `intercept` consume chosen second-level values.
    public init(bytes: FileBytes, file: String? = nil, intercept: JSONIntercept?) throws(JSONError) {
        var parser = JSONParser(file: file)
        parser.intercept = intercept
        let nodes = try bytes.withUnsafeBufferPointer { buf throws(JSONError) in try parser.parse(buf) }
        storage = JSONStorage(bytes: bytes, nodes: nodes, file: file)
    }

    /// Parses the UTF-8 text of `string`.
    public init(string: String, file: String? = nil) throws(JSONError) {
        try self.init(bytes: Array(string.utf8), file: file)
    }

    /// Reads and parses the file at `path` (the path appears in errors).
    public init(contentsOfFile path: String) throws(JSONError) {
        let bytes: [UInt8]
        do { bytes = try BinaryFile.read(path) } catch { throw .io(error) }
        try self.init(bytes: bytes, file: path)
    }

    /// The top-level value.
    public var root: JSONValue { JSONValue(storage: storage, index: 0) }

    /// The raw input; a fresh copy on each call when the document was parsed from a mapped file.
    public var bytes: [UInt8] { storage.bytes.bytes }

    /// The file name given at parse time.
    public var file: String? { storage.file }

    /// Number of nodes (values and object keys) in the document.
    public var nodeCount: Int { storage.nodes.count }
}

/// The parser: an explicit stack, no recursion, one pass over the bytes.
struct JSONParser {
    let file: String?
    var nodes: [JSONNodeRecord] = []
    var stack: [Int32] = []
    var intercept: JSONIntercept?

    init(file: String?) { self.file = file }

    // Byte constants.
    private static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, comma: UInt8 = 0x2C, colon: UInt8 = 0x3A
    private static let lbrace: UInt8 = 0x7B, rbrace: UInt8 = 0x7D, lbracket: UInt8 = 0x5B, rbracket: UInt8 = 0x5D

    /// Builds the error for `issue` at `offset`, with the path of the value being parsed.
    func fail(_ issue: JSONSyntaxIssue, _ p: UnsafeBufferPointer<UInt8>, _ offset: Int) -> JSONError {
        let path = JSONParser.path(nodes: nodes, stack: stack, bytes: p)
        return .syntax(issue, JSONErrorContext.make(bytes: p, offset: offset, file: file, path: path))
    }

    /// The path of the innermost open container's current member.
    static func path(nodes: [JSONNodeRecord], stack: [Int32], bytes: UnsafeBufferPointer<UInt8>) -> String {
        var parts: [String] = []
        for c in stack {
            let node = nodes[Int(c)]
            if node.kind == JSONKind.object.rawValue {
                // The last key node whose parent is `c` (keys alternate with values).
                var i = Int(c) &+ 1
                var lastKey = -1
                var isKey = true
                while i < nodes.count {
                    if isKey { lastKey = i }
                    isKey.toggle()
                    let nx = Int(nodes[i].next)
                    if nx <= i { break }   // an unfinished container: its `next` is not set yet
                    i = nx
                }
                if lastKey >= 0 {
                    parts.append(JSONPath.keyComponent(decodeString(nodes[lastKey], bytes), first: parts.isEmpty))
                }
            } else {
                parts.append("[\(max(0, Int(node.count) &- 1))]")
            }
        }
        return parts.joined()
    }

    mutating func parse(_ buf: UnsafeBufferPointer<UInt8>) throws(JSONError) -> [JSONNodeRecord] {
        let n = buf.count
        if n >= Int(Int32.max) { throw fail(.inputTooLarge, buf, 0) }
        guard let p = buf.baseAddress, n > 0 else { throw fail(.unexpectedEnd(expected: "a value"), buf, 0) }
        nodes.reserveCapacity(max(16, n / 12))
        var i = 0

        @inline(__always) func skipWS(_ i: inout Int) {
            while i < n {
                let c = p[i]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i &+= 1 } else { break }
            }
        }

        valueLoop: while true {
            // ---- parse one value at i ----
            skipWS(&i)
            guard i < n else { throw fail(.unexpectedEnd(expected: "a value"), buf, i) }
            let parent: Int32 = stack.last ?? -1
            if parent >= 0 { nodes[Int(parent)].count &+= 1 }
            let idx = Int32(truncatingIfNeeded: nodes.count)
            let c = p[i]
            switch c {
            case JSONParser.quote:
                try parseString(buf, &i, parent: parent)
            case JSONParser.lbrace, JSONParser.lbracket:
                let isObject = c == JSONParser.lbrace
                if let end = interceptValue(buf, i, index: idx) {
                    nodes.append(JSONNodeRecord(start: Int32(truncatingIfNeeded: i), end: Int32(truncatingIfNeeded: end),
                                                next: idx &+ 1, parent: parent, count: 0,
                                                kind: isObject ? JSONKind.object.rawValue : JSONKind.array.rawValue,
                                                flags: flagElided))
                    i = end
                    break
                }
                if stack.count >= JSONDocument.maxDepth { throw fail(.nestingTooDeep(limit: JSONDocument.maxDepth), buf, i) }
                nodes.append(JSONNodeRecord(start: Int32(truncatingIfNeeded: i), end: 0, next: -1, parent: parent,
                                            count: 0, kind: isObject ? JSONKind.object.rawValue : JSONKind.array.rawValue,
                                            flags: 0))
                stack.append(idx)
                i &+= 1
                skipWS(&i)
                guard i < n else {
                    throw fail(.unexpectedEnd(expected: isObject ? "a key or '}'" : "a value or ']'"), buf, i)
                }
                if p[i] == (isObject ? JSONParser.rbrace : JSONParser.rbracket) {
                    i &+= 1
                    closeTop(at: i)
                    // fall through to the after-value handling below
                } else if isObject {
                    try parseKeyAndColon(buf, &i, object: idx)
                    continue valueLoop
                } else {
                    continue valueLoop
                }
            case 0x74: // true
                try literal(buf, &i, [0x74, 0x72, 0x75, 0x65], kind: .bool, flags: flagTrue, parent: parent)
            case 0x66: // false
                try literal(buf, &i, [0x66, 0x61, 0x6C, 0x73, 0x65], kind: .bool, flags: 0, parent: parent)
            case 0x6E: // null
                try literal(buf, &i, [0x6E, 0x75, 0x6C, 0x6C], kind: .null, flags: 0, parent: parent)
            case 0x2D, 0x30...0x39:
                try parseNumber(buf, &i, parent: parent)
            default:
                throw fail(.unexpectedByte(c, expected: "a value"), buf, i)
            }

            // ---- after a value: separators and closing brackets ----
            while true {
                guard let top = stack.last else {
                    skipWS(&i)
                    if i != n { throw fail(.trailingCharacters, buf, i) }
                    return nodes
                }
                skipWS(&i)
                let isObject = nodes[Int(top)].kind == JSONKind.object.rawValue
                guard i < n else {
                    throw fail(.unexpectedEnd(expected: isObject ? "',' or '}'" : "',' or ']'"), buf, i)
                }
                let s = p[i]
                if s == JSONParser.comma {
                    i &+= 1
                    if isObject {
                        skipWS(&i)
                        try parseKeyAndColon(buf, &i, object: top)
                    }
                    continue valueLoop
                }
                if s == (isObject ? JSONParser.rbrace : JSONParser.rbracket) {
                    i &+= 1
                    closeTop(at: i)
                    continue
                }
                throw fail(.unexpectedByte(s, expected: isObject ? "',' or '}'" : "',' or ']'"), buf, i)
            }
        }
    }

    /// Offers the container at `i` (about to become node `index`) to `intercept` when it is a second-level member.
    @inline(__always)
    private func interceptValue(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int, index: Int32) -> Int? {
        guard let intercept, stack.count == 2 else { return nil }
        let outer = Int(stack[1])
        guard nodes[0].kind == JSONKind.object.rawValue, nodes[outer].kind == JSONKind.object.rawValue else { return nil }
        // Object members are a key node followed by the value, so each key is the node just before its value.
        let outerKey = nodes[outer &- 1], key = nodes[Int(index) &- 1]
        @inline(__always) func bytes(_ k: JSONNodeRecord) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: buf[Int(k.start)..<Int(k.end)])
        }
        guard let end = intercept(bytes(outerKey), bytes(key), buf, i) else { return nil }
        precondition(end > i && end <= buf.count, "JSONIntercept returned an offset outside the value")
        return end
    }

    @inline(__always)
    private mutating func closeTop(at end: Int) {
        let top = Int(stack.removeLast())
        nodes[top].end = Int32(truncatingIfNeeded: end)
        nodes[top].next = Int32(truncatingIfNeeded: nodes.count)
    }

    /// Parses `"key"` then `:` for the object at index `object`.
    @inline(__always)
    private mutating func parseKeyAndColon(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, object: Int32) throws(JSONError) {
        let n = buf.count
        guard i < n else { throw fail(.unexpectedEnd(expected: "a string key"), buf, i) }
        guard buf[i] == JSONParser.quote else { throw fail(.unexpectedByte(buf[i], expected: "a string key"), buf, i) }
        try parseString(buf, &i, parent: object)
        while i < n {
            let c = buf[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i &+= 1 } else { break }
        }
        guard i < n else { throw fail(.unexpectedEnd(expected: "':'"), buf, i) }
        guard buf[i] == JSONParser.colon else { throw fail(.unexpectedByte(buf[i], expected: "':'"), buf, i) }
        i &+= 1
    }

    private mutating func literal(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: [UInt8],
                                  kind: JSONKind, flags: UInt8, parent: Int32) throws(JSONError) {
        let start = i
        for (k, w) in word.enumerated() {
            let j = start &+ k
            guard j < buf.count else {
                throw fail(.unexpectedEnd(expected: "'\(String(decoding: word, as: UTF8.self))'"), buf, j)
            }
            if buf[j] != w {
                throw fail(.unexpectedByte(buf[j], expected: "'\(String(decoding: word, as: UTF8.self))'"), buf, j)
            }
        }
        i = start &+ word.count
        let idx = Int32(truncatingIfNeeded: nodes.count)
        nodes.append(JSONNodeRecord(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: i),
                                    next: idx &+ 1, parent: parent, count: 0, kind: kind.rawValue, flags: flags))
    }

    private mutating func parseNumber(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, parent: Int32) throws(JSONError) {
        let n = buf.count
        let p = buf.baseAddress!
        let start = i
        var isFloat = false
        if p[i] == 0x2D { i &+= 1 }
        guard i < n else { throw fail(.unexpectedEnd(expected: "a digit"), buf, i) }
        if p[i] == 0x30 {
            i &+= 1
            if i < n && p[i] >= 0x30 && p[i] <= 0x39 { throw fail(.invalidNumber(reason: "leading zero"), buf, i) }
        } else if p[i] >= 0x31 && p[i] <= 0x39 {
            i &+= 1
            while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i &+= 1 }
        } else {
            throw fail(.invalidNumber(reason: "expected a digit after '-'"), buf, i)
        }
        if i < n && p[i] == 0x2E {
            isFloat = true
            i &+= 1
            guard i < n, p[i] >= 0x30 && p[i] <= 0x39 else {
                throw fail(.invalidNumber(reason: "expected a digit after '.'"), buf, i)
            }
            while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i &+= 1 }
        }
        if i < n && (p[i] == 0x65 || p[i] == 0x45) {
            isFloat = true
            i &+= 1
            if i < n && (p[i] == 0x2B || p[i] == 0x2D) { i &+= 1 }
            guard i < n, p[i] >= 0x30 && p[i] <= 0x39 else {
                throw fail(.invalidNumber(reason: "expected a digit in the exponent"), buf, i)
            }
            while i < n && p[i] >= 0x30 && p[i] <= 0x39 { i &+= 1 }
        }
        let idx = Int32(truncatingIfNeeded: nodes.count)
        nodes.append(JSONNodeRecord(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: i),
                                    next: idx &+ 1, parent: parent, count: 0, kind: JSONKind.number.rawValue,
                                    flags: isFloat ? flagFloat : 0))
    }

    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c &- 0x30)
        case 0x41...0x46: return UInt32(c &- 0x37)
        case 0x61...0x66: return UInt32(c &- 0x57)
        default: return nil
        }
    }

    /// Reads 4 hex digits at `j`, or reports the offending offset.
    @inline(__always)
    private static func hex4(_ p: UnsafePointer<UInt8>, _ n: Int, _ j: Int) -> Result<UInt32, StringIssue> {
        guard j &+ 4 <= n else { return .failure(StringIssue(issue: .unexpectedEnd(expected: "four hex digits"), offset: n)) }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let h = JSONParser.hexValue(p[j &+ k]) else {
                return .failure(StringIssue(issue: .invalidUnicodeEscape, offset: j &+ k))
            }
            v = v << 4 | h
        }
        return .success(v)
    }

    struct StringIssue: Error { let issue: JSONSyntaxIssue; let offset: Int }

    /// Validates the string body starting at `start` (after the opening quote): returns the offset of the
    /// closing quote and whether the body has escapes. Shared by the parser and `JSONScan`.
    @inline(__always)
    static func scanString(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int) -> Result<(end: Int, escaped: Bool), StringIssue> {
        var j = start
        var escaped = false
        while true {
            // Fast scan of plain ASCII, eight bytes at a time: flag bytes >= 0x80, < 0x20, quotes and backslashes.
            // Each test flags its first hit exactly (borrows only run upward), so the lowest flag is the first stop.
            while j &+ 8 <= n {
                let x = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                @inline(__always) func zeroByte(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
                let stops = (x & highs) | ((x &- 0x20 &* ones) & ~x & highs) | zeroByte(x ^ (0x22 &* ones)) | zeroByte(x ^ (0x5C &* ones))
                if stops != 0 { j &+= stops.trailingZeroBitCount &>> 3; break }
                j &+= 8
            }
            while j < n {
                let c = p[j]
                if c >= 0x20 && c < 0x80 && c != JSONParser.quote && c != JSONParser.backslash { j &+= 1 } else { break }
            }
            guard j < n else { return .failure(StringIssue(issue: .unexpectedEnd(expected: "'\"' closing the string"), offset: j)) }
            let c = p[j]
            if c == JSONParser.quote { return .success((j, escaped)) }
            if c == JSONParser.backslash {
                escaped = true
                guard j &+ 1 < n else { return .failure(StringIssue(issue: .unexpectedEnd(expected: "an escape"), offset: j &+ 1)) }
                let e = p[j &+ 1]
                switch e {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
                    j &+= 2
                case 0x75:
                    let u: UInt32
                    switch hex4(p, n, j &+ 2) { case .success(let v): u = v; case .failure(let f): return .failure(f) }
                    let lone = StringIssue(issue: .loneSurrogate(UInt16(u)), offset: j)
                    if u >= 0xD800 && u <= 0xDBFF {
                        guard j &+ 7 < n, p[j &+ 6] == JSONParser.backslash, p[j &+ 7] == 0x75 else { return .failure(lone) }
                        switch hex4(p, n, j &+ 8) {
                        case .success(let lo): guard lo >= 0xDC00 && lo <= 0xDFFF else { return .failure(lone) }
                        case .failure(let f): return .failure(f)
                        }
                        j &+= 12
                    } else if u >= 0xDC00 && u <= 0xDFFF {
                        return .failure(lone)
                    } else {
                        j &+= 6
                    }
                default:
                    return .failure(StringIssue(issue: .invalidEscape(e), offset: j &+ 1))
                }
                continue
            }
            if c < 0x20 { return .failure(StringIssue(issue: .controlCharacterInString(c), offset: j)) }
            // Non-ASCII: validate one UTF-8 sequence.
            let len = JSONParser.utf8SequenceLength(p, j, n)
            if len == 0 { return .failure(StringIssue(issue: .invalidUTF8, offset: j)) }
            j &+= len
        }
    }

    /// Parses a string whose opening quote is at `i`; leaves `i` after the closing quote.
    @inline(__always)
    private mutating func parseString(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, parent: Int32) throws(JSONError) {
        let start = i &+ 1
        let j: Int, escaped: Bool
        switch JSONParser.scanString(buf.baseAddress!, buf.count, from: start) {
        case .success(let r): (j, escaped) = r
        case .failure(let f): throw fail(f.issue, buf, f.offset)
        }
        let idx = Int32(truncatingIfNeeded: nodes.count)
        nodes.append(JSONNodeRecord(start: Int32(truncatingIfNeeded: start), end: Int32(truncatingIfNeeded: j),
                                    next: idx &+ 1, parent: parent, count: 0, kind: JSONKind.string.rawValue,
                                    flags: escaped ? flagEscapes : 0))
        i = j &+ 1
    }

    /// Length of the valid UTF-8 sequence at `j` (lead byte >= 0x80), or 0 if invalid
    /// (overlongs, surrogates and values above U+10FFFF are invalid).
    @inline(__always)
    static func utf8SequenceLength(_ p: UnsafePointer<UInt8>, _ j: Int, _ n: Int) -> Int {
        let b0 = p[j]
        @inline(__always) func cont(_ k: Int) -> Bool { k < n && p[k] & 0xC0 == 0x80 }
        if b0 < 0xC2 { return 0 }
        if b0 < 0xE0 { return cont(j &+ 1) ? 2 : 0 }
        if b0 < 0xF0 {
            guard cont(j &+ 1), cont(j &+ 2) else { return 0 }
            let b1 = p[j &+ 1]
            if b0 == 0xE0 && b1 < 0xA0 { return 0 }
            if b0 == 0xED && b1 >= 0xA0 { return 0 }
            return 3
        }
        if b0 < 0xF5 {
            guard cont(j &+ 1), cont(j &+ 2), cont(j &+ 3) else { return 0 }
            let b1 = p[j &+ 1]
            if b0 == 0xF0 && b1 < 0x90 { return 0 }
            if b0 == 0xF4 && b1 >= 0x90 { return 0 }
            return 4
        }
        return 0
    }
}

/// Decodes the (already validated) content of a string node into UTF-8 bytes.
@usableFromInline
func decodeString(_ node: JSONNodeRecord, _ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
    if node.flags & flagEscapes == 0 { return Array(bytes[Int(node.start)..<Int(node.end)]) }
    return decodeEscapedString(bytes, Int(node.start), Int(node.end))
}

/// Decodes the validated body `bytes[start..<end]` of a string that has escapes.
func decodeEscapedString(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(end &- start)
    var i = start
    @inline(__always) func hex(_ j: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[j &+ k]
            let h: UInt32 = c <= 0x39 ? UInt32(c &- 0x30) : (c <= 0x46 ? UInt32(c &- 0x37) : UInt32(c &- 0x57))
            v = v << 4 | h
        }
        return v
    }
    while i < end {
        let c = bytes[i]
        if c != 0x5C { out.append(c); i &+= 1; continue }
        let e = bytes[i &+ 1]
        switch e {
        case 0x62: out.append(0x08); i &+= 2
        case 0x66: out.append(0x0C); i &+= 2
        case 0x6E: out.append(0x0A); i &+= 2
        case 0x72: out.append(0x0D); i &+= 2
        case 0x74: out.append(0x09); i &+= 2
        case 0x75:
            var u = hex(i &+ 2)
            i &+= 6
            if u >= 0xD800 && u <= 0xDBFF {
                let lo = hex(i &+ 2)
                u = 0x10000 &+ ((u &- 0xD800) << 10) &+ (lo &- 0xDC00)
                i &+= 6
            }
            appendUTF8(u, to: &out)
        default: out.append(e); i &+= 2   // \" \\ \/
        }
    }
    return out
}

@usableFromInline
func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
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

enum JSONPath {
    /// `key` as a path component: `.key` (or `key` first); keys that are not plain identifiers are quoted.
    static func keyComponent(_ key: [UInt8], first: Bool) -> String {
        let plain = !key.isEmpty && key.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        }
        let s = String(decoding: key, as: UTF8.self)
        if plain { return first ? s : "." + s }
        var q = "[\""
        for ch in s.unicodeScalars {
            if ch == "\"" || ch == "\\" { q.append("\\") }
            q.unicodeScalars.append(ch)
        }
        return q + "\"]"
    }
}
