/// A value inside a parsed `JSONDocument` (a cheap handle: storage reference plus node index).
public struct JSONValue: Sendable {
    @usableFromInline let storage: JSONStorage
    @usableFromInline let index: Int32

    @inlinable
    init(storage: JSONStorage, index: Int32) {
        self.storage = storage
        self.index = index
    }

    @inlinable
    var node: JSONNodeRecord { storage.nodes[Int(index)] }

    /// The kind of this value.
    public var kind: JSONKind { JSONKind(rawValue: node.kind)! }

    public var isNull: Bool { node.kind == JSONKind.null.rawValue }
    public var isObject: Bool { node.kind == JSONKind.object.rawValue }
    public var isArray: Bool { node.kind == JSONKind.array.rawValue }
    public var isString: Bool { node.kind == JSONKind.string.rawValue }
    public var isNumber: Bool { node.kind == JSONKind.number.rawValue }

    /// Byte range of the value in the document (strings without their quotes).
    public var byteRange: Range<Int> { Int(node.start)..<Int(node.end) }

    /// The byte range of a string that has no escapes (its bytes are the document's), else nil.
    public var plainStringRange: Range<Int>? {
        let n = node
        guard n.kind == JSONKind.string.rawValue, n.flags & flagEscapes == 0 else { return nil }
        return Int(n.start)..<Int(n.end)
    }

    /// Calls `body` with the whole document's bytes (for reading `plainStringRange`s without copies).
    public func withDocumentBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try storage.bytes.withUnsafeBufferPointer(body)
    }

    /// The raw source text of the value (numbers exactly as written, strings still escaped).
    public var rawBytes: ArraySlice<UInt8> { storage.bytes.withUnsafeBufferPointer { ArraySlice($0[byteRange]) } }

    // MARK: Scalars

    public var bool: Bool? {
        let n = node
        return n.kind == JSONKind.bool.rawValue ? (n.flags & flagTrue != 0) : nil
    }

    /// The decoded UTF-8 bytes of a string (escapes resolved).
    public var stringBytes: [UInt8]? {
        let n = node
        guard n.kind == JSONKind.string.rawValue else { return nil }
        return storage.bytes.withUnsafeBufferPointer { decodeString(n, $0) }
    }

    /// The decoded string.
    public var string: String? {
        let n = node
        guard n.kind == JSONKind.string.rawValue else { return nil }
        return storage.bytes.withUnsafeBufferPointer { buf in
            if n.flags & flagEscapes == 0 {
                return String(decoding: UnsafeBufferPointer(rebasing: buf[Int(n.start)..<Int(n.end)]), as: UTF8.self)
            }
            return String(decoding: decodeString(n, buf), as: UTF8.self)
        }
    }

    /// Calls `body` with the decoded bytes of a string without copying when it has no escapes.
    public func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        let n = node
        guard n.kind == JSONKind.string.rawValue else { return nil }
        if n.flags & flagEscapes == 0 {
            return try storage.bytes.withUnsafeBufferPointer { buf in
                try body(UnsafeBufferPointer(rebasing: buf[Int(n.start)..<Int(n.end)]))
            }
        }
        let decoded = storage.bytes.withUnsafeBufferPointer { decodeString(n, $0) }
        return try decoded.withUnsafeBufferPointer { try body($0) }
    }

    /// True if this is a string equal to `bytes` (compared after decoding escapes).
    public func stringEquals(_ bytes: some Sequence<UInt8>) -> Bool {
        withStringBytes { buf in buf.elementsEqual(bytes) } ?? false
    }

    /// An integer literal (no fraction or exponent) that fits in `Int`.
    public var int: Int? {
        let n = node
        guard n.kind == JSONKind.number.rawValue, n.flags & flagFloat == 0 else { return nil }
        return storage.bytes.withUnsafeBufferPointer { buf -> Int? in
            var i = Int(n.start)
            let end = Int(n.end)
            let negative = buf[i] == 0x2D
            if negative { i &+= 1 }
            var v = 0
            while i < end {
                let d = Int(buf[i] &- 0x30)
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
                if o1 || o2 { return nil }
                v = s
                i &+= 1
            }
            return v
        }
    }

    /// Any number as a `Double` (nearest value).
    public var double: Double? {
        let n = node
        guard n.kind == JSONKind.number.rawValue else { return nil }
        if n.flags & flagFloat == 0, let i = int, i.magnitude < (1 << 53) { return Double(i) }
        return Double(String(decoding: rawBytes, as: UTF8.self))
    }

    // MARK: Containers

    /// Number of elements (array) or entries (object); 0 for scalars.
    public var count: Int { Int(node.count) }

    /// The elements of an array.
    public var array: [JSONValue]? {
        let n = node
        guard n.kind == JSONKind.array.rawValue else { return nil }
        var out = [JSONValue]()
        out.reserveCapacity(Int(n.count))
        storage.nodes.withUnsafeBufferPointer { nodes in
            var i = index &+ 1
            while i < n.next {
                out.append(JSONValue(storage: storage, index: i))
                i = nodes[Int(i)].next
            }
        }
        return out
    }

    /// The element at `position` of an array (walks the siblings: O(position)).
    public subscript(position: Int) -> JSONValue? {
        let n = node
        guard n.kind == JSONKind.array.rawValue, position >= 0, position < Int(n.count) else { return nil }
        return storage.nodes.withUnsafeBufferPointer { nodes in
            var i = index &+ 1
            var k = 0
            while k < position { i = nodes[Int(i)].next; k &+= 1 }
            return JSONValue(storage: storage, index: i)
        }
    }

    /// The entries of an object in document order (keys decoded on demand).
    public var objectEntries: [JSONObjectEntry]? {
        let n = node
        guard n.kind == JSONKind.object.rawValue else { return nil }
        var out = [JSONObjectEntry]()
        out.reserveCapacity(Int(n.count))
        storage.nodes.withUnsafeBufferPointer { nodes in
            var i = index &+ 1
            while i < n.next {
                let v = i &+ 1
                out.append(JSONObjectEntry(keyNode: JSONValue(storage: storage, index: i),
                                           value: JSONValue(storage: storage, index: v)))
                i = nodes[Int(v)].next
            }
        }
        return out
    }

    /// Calls `body` for each entry of an object with the key's decoded bytes (no copy when unescaped).
    /// Returns false if this is not an object.
    @discardableResult
    public func forEachEntry(_ body: (UnsafeBufferPointer<UInt8>, JSONValue) throws -> Void) rethrows -> Bool {
        let n = node
        guard n.kind == JSONKind.object.rawValue else { return false }
        try storage.bytes.withUnsafeBufferPointer { bytes in
            try storage.nodes.withUnsafeBufferPointer { nodes in
                var i = Int(index) &+ 1
                let end = Int(n.next)
                while i < end {
                    let key = nodes[i]
                    let value = JSONValue(storage: storage, index: Int32(truncatingIfNeeded: i &+ 1))
                    if key.flags & flagEscapes == 0 {
                        try body(UnsafeBufferPointer(rebasing: bytes[Int(key.start)..<Int(key.end)]), value)
                    } else {
                        let decoded = decodeString(key, bytes)
                        try decoded.withUnsafeBufferPointer { try body($0, value) }
                    }
                    i = Int(nodes[i &+ 1].next)
                }
            }
        }
        return true
    }

    /// Calls `body` for each element of an array. Returns false if this is not an array.
    @discardableResult
    public func forEachElement(_ body: (JSONValue) throws -> Void) rethrows -> Bool {
        let n = node
        guard n.kind == JSONKind.array.rawValue else { return false }
        var i = index &+ 1
        while i < n.next {
            try body(JSONValue(storage: storage, index: i))
            i = storage.nodes[Int(i)].next
        }
        return true
    }

    /// The value for `key` in an object (like serde_json maps, the last duplicate wins); nil if absent or
    /// if this is not an object.
    public subscript(key: String) -> JSONValue? {
        let n = node
        guard n.kind == JSONKind.object.rawValue else { return nil }
        var keyBytes = key
        return keyBytes.withUTF8 { want in
            storage.bytes.withUnsafeBufferPointer { bytes in
                storage.nodes.withUnsafeBufferPointer { nodes -> JSONValue? in
                    var found: Int32 = -1
                    var i = Int(index) &+ 1
                    let end = Int(n.next)
                    while i < end {
                        let k = nodes[i]
                        if k.flags & flagEscapes == 0 {
                            let len = Int(k.end &- k.start)
                            if len == want.count
                                && (len == 0 || memcmpBytes(bytes.baseAddress! + Int(k.start), want.baseAddress!, len)) {
                                found = Int32(truncatingIfNeeded: i &+ 1)
                            }
                        } else if decodeString(k, bytes).elementsEqual(want) {
                            found = Int32(truncatingIfNeeded: i &+ 1)
                        }
                        i = Int(nodes[i &+ 1].next)
                    }
                    return found < 0 ? nil : JSONValue(storage: storage, index: found)
                }
            }
        }
    }

    // MARK: Location

    /// The path from the root, e.g. `model.vocab` or `added_tokens[3].content` (empty for the root).
    public var path: String {
        var parts: [String] = []
        var i = index
        let nodes = storage.nodes
        while true {
            let parent = nodes[Int(i)].parent
            if parent < 0 { break }
            if nodes[Int(parent)].kind == JSONKind.object.rawValue {
                let keyBytes = storage.bytes.withUnsafeBufferPointer { decodeString(nodes[Int(i) &- 1], $0) }
                parts.append(JSONPath.keyComponent(keyBytes, first: false))
            } else {
                var k = parent &+ 1
                var position = 0
                while k != i { k = nodes[Int(k)].next; position &+= 1 }
                parts.append("[\(position)]")
            }
            i = parent
        }
        var s = parts.reversed().joined()
        if s.hasPrefix(".") { s.removeFirst() }
        return s
    }

    /// File, line, column and path of this value, for error messages.
    public var context: JSONErrorContext {
        let offset = node.kind == JSONKind.string.rawValue ? Int(node.start) &- 1 : Int(node.start)
        return storage.bytes.withUnsafeBufferPointer {
            JSONErrorContext.make(bytes: $0, offset: offset, file: storage.file, path: path)
        }
    }

    /// Context for a missing member `key` of this object (path extended with the key).
    func childContext(_ key: String) -> JSONErrorContext {
        var c = context
        let comp = JSONPath.keyComponent(Array(key.utf8), first: c.path.isEmpty)
        c.path += comp
        return c
    }

    // MARK: Throwing accessors (errors carry file, line, column and path)

    /// The member `key` of this object; throws if this is not an object or the key is missing.
    public func require(_ key: String) throws(JSONError) -> JSONValue {
        guard isObject else { throw .typeMismatch(expected: "object", found: kind, context) }
        guard let v = self[key] else { throw .missingKey(key, childContext(key)) }
        return v
    }

    /// The member `key`, or nil if it is missing or `null`.
    public func optional(_ key: String) throws(JSONError) -> JSONValue? {
        guard isObject else { throw .typeMismatch(expected: "object", found: kind, context) }
        guard let v = self[key], !v.isNull else { return nil }
        return v
    }

    public func requireString() throws(JSONError) -> String {
        guard let s = string else { throw .typeMismatch(expected: "string", found: kind, context) }
        return s
    }

    public func requireStringBytes() throws(JSONError) -> [UInt8] {
        guard let s = stringBytes else { throw .typeMismatch(expected: "string", found: kind, context) }
        return s
    }

    public func requireInt() throws(JSONError) -> Int {
        guard isNumber else { throw .typeMismatch(expected: "integer", found: kind, context) }
        guard let v = int else {
            throw .numberOutOfRange(expected: "integer", literal: String(decoding: rawBytes, as: UTF8.self), context)
        }
        return v
    }

    public func requireDouble() throws(JSONError) -> Double {
        guard let v = double else { throw .typeMismatch(expected: "number", found: kind, context) }
        return v
    }

    public func requireBool() throws(JSONError) -> Bool {
        guard let v = bool else { throw .typeMismatch(expected: "boolean", found: kind, context) }
        return v
    }

    public func requireArray() throws(JSONError) -> [JSONValue] {
        guard let v = array else { throw .typeMismatch(expected: "array", found: kind, context) }
        return v
    }

    public func requireObjectEntries() throws(JSONError) -> [JSONObjectEntry] {
        guard let v = objectEntries else { throw .typeMismatch(expected: "object", found: kind, context) }
        return v
    }

    /// Converts this value (and its subtree) to an owned `JSONNode`.
    public func toNode() -> JSONNode {
        switch kind {
        case .null: return .null
        case .bool: return .bool(bool!)
        case .number:
            if let i = int { return .int(i) }
            return .double(double ?? .nan)
        case .string: return .string(string!)
        case .array: return .array(array!.map { $0.toNode() })
        case .object: return .object(objectEntries!.map { JSONNode.Member($0.key, $0.value.toNode()) })
        }
    }
}

/// One object entry: key and value, in document order.
public struct JSONObjectEntry: Sendable {
    /// The key as a string `JSONValue` (its context points at the key).
    public let keyNode: JSONValue
    public let value: JSONValue
    /// The decoded key bytes.
    public var keyBytes: [UInt8] { keyNode.stringBytes! }
    /// The decoded key.
    public var key: String { keyNode.string! }
}

@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i &+= 1
    }
    return true
}

/// An owned JSON tree, for building documents to write (see `JSONWriter.write(_:)`).
public indirect enum JSONNode: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONNode])
    /// Members in order (duplicates allowed, written as given).
    case object([Member])

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONNode
        public init(_ key: String, _ value: JSONNode) {
            self.key = key
            self.value = value
        }
    }

    /// Member lookup (last duplicate wins), nil for non-objects.
    public subscript(key: String) -> JSONNode? {
        guard case let .object(members) = self else { return nil }
        return members.last(where: { $0.key.utf8.elementsEqual(key.utf8) })?.value
    }
}
