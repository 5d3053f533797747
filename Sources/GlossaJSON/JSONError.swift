/// Where in a JSON document something happened: file (if known), byte offset, 1-based line and column
/// (column counted in bytes), and the path of the value being read, e.g. `model.vocab` or `added_tokens[3].id`.
public struct JSONErrorContext: Sendable, Equatable, CustomStringConvertible {
    public var file: String?
    public var path: String
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(file: String?, path: String, offset: Int, line: Int, column: Int) {
        self.file = file
        self.path = path
        self.offset = offset
        self.line = line
        self.column = column
    }

    /// Computes line and column of `offset` in `bytes`.
    static func make(bytes: UnsafeBufferPointer<UInt8>, offset: Int, file: String?, path: String) -> JSONErrorContext {
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        var i = 0
        while i < end {
            if bytes[i] == 0x0A { line &+= 1; lineStart = i &+ 1 }
            i &+= 1
        }
        return JSONErrorContext(file: file, path: path, offset: offset, line: line, column: offset &- lineStart &+ 1)
    }

    public var description: String {
        let where_ = "\(file ?? "<json>"):\(line):\(column) (byte \(offset))"
        return path.isEmpty ? where_ : "\(where_) at \(path)"
    }
}

/// What is wrong with the bytes of a JSON text (RFC 8259).
public enum JSONSyntaxIssue: Sendable, Equatable, CustomStringConvertible {
    /// The input ended while `expected` was still needed.
    case unexpectedEnd(expected: String)
    /// A byte that cannot start or continue the construct here.
    case unexpectedByte(UInt8, expected: String)
    /// A backslash followed by a byte that is not a JSON escape.
    case invalidEscape(UInt8)
    /// `\u` not followed by four hex digits.
    case invalidUnicodeEscape
    /// A `\uD800`–`\uDFFF` escape that is not a well-formed surrogate pair.
    case loneSurrogate(UInt16)
    /// A raw control character (below U+0020) inside a string.
    case controlCharacterInString(UInt8)
    /// Malformed UTF-8 inside a string.
    case invalidUTF8
    /// A number that does not follow the JSON grammar (leading zeros, missing digits, ...).
    case invalidNumber(reason: String)
    /// Non-whitespace after the top-level value.
    case trailingCharacters
    /// Containers nested deeper than the parser's limit.
    case nestingTooDeep(limit: Int)
    /// The input is larger than the parser's 2 GiB node offsets allow.
    case inputTooLarge

    public var description: String {
        switch self {
        case let .unexpectedEnd(expected): return "unexpected end of input, expected \(expected)"
        case let .unexpectedByte(b, expected): return "unexpected \(JSONSyntaxIssue.show(b)), expected \(expected)"
        case let .invalidEscape(b): return "invalid escape '\\\(JSONSyntaxIssue.show(b, quoted: false))'"
        case .invalidUnicodeEscape: return "\\u escape needs four hex digits"
        case let .loneSurrogate(u):
            let hex = String(u, radix: 16, uppercase: true)
            return "lone surrogate \\u\(hex) (not part of a valid surrogate pair)"
        case let .controlCharacterInString(b):
            return "raw control character 0x\(String(b, radix: 16, uppercase: true)) in string (must be escaped)"
        case .invalidUTF8: return "invalid UTF-8 in string"
        case let .invalidNumber(reason): return "invalid number: \(reason)"
        case .trailingCharacters: return "trailing characters after the JSON value"
        case let .nestingTooDeep(limit): return "nesting deeper than \(limit) levels"
        case .inputTooLarge: return "input larger than 2 GiB"
        }
    }

    static func show(_ b: UInt8, quoted: Bool = true) -> String {
        if b >= 0x20 && b < 0x7F {
            let s = String(UnicodeScalar(b))
            return quoted ? "'\(s)'" : s
        }
        return "byte 0x\(String(b, radix: 16, uppercase: true))"
    }
}

/// The kind of a JSON value.
public enum JSONKind: UInt8, Sendable, Equatable, CustomStringConvertible {
    case null = 0, bool = 1, number = 3, string = 4, array = 5, object = 6

    public var description: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// Errors from parsing JSON or from reading typed values out of a parsed document.
public enum JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not valid JSON.
    case syntax(JSONSyntaxIssue, JSONErrorContext)
    /// A value has the wrong kind (`expected` describes what the reader wanted).
    case typeMismatch(expected: String, found: JSONKind, JSONErrorContext)
    /// An object lacks a required key.
    case missingKey(String, JSONErrorContext)
    /// A number does not fit the requested type (e.g. a fraction or an overflow where an `Int` is needed).
    case numberOutOfRange(expected: String, literal: String, JSONErrorContext)
    /// Reading the file failed.
    case io(FileIOError)

    public var context: JSONErrorContext? {
        switch self {
        case let .syntax(_, c), let .typeMismatch(_, _, c), let .missingKey(_, c), let .numberOutOfRange(_, _, c): return c
        case .io: return nil
        }
    }

    public var description: String {
        switch self {
        case let .syntax(issue, c): return "\(c): \(issue)"
        case let .typeMismatch(expected, found, c): return "\(c): expected \(expected), found \(found)"
        case let .missingKey(key, c): return "\(c): missing key \"\(key)\""
        case let .numberOutOfRange(expected, literal, c): return "\(c): number \(literal) is not a valid \(expected)"
        case let .io(e): return e.description
        }
    }
}
