/// Everything that can go wrong loading or running a tokenizer, with enough context
/// (file, field, line, byte offset) to fix the input.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file that cannot be read.
    case io(path: String, reason: String)
    /// A structurally invalid file: `field` is a JSON path, a proto field or "line N".
    case malformed(file: String?, field: String, reason: String)
    /// A component type or option Glossa does not implement; never silently approximated.
    case unsupported(file: String?, component: String, detail: String)
    /// Input text that is not valid UTF-8.
    case invalidUTF8(source: String?, byteOffset: Int)
    /// A special token appeared in the input while special tokens are disallowed.
    case disallowedSpecialToken(token: String, byteOffset: Int)
    /// A token id outside the vocabulary.
    case unknownId(Int)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .io(path, reason): return "\(path): \(reason)"
        case let .malformed(file, field, reason):
            return "\(file.map { $0 + ": " } ?? "")\(field.isEmpty ? "" : field + ": ")\(reason)"
        case let .unsupported(file, component, detail):
            return "\(file.map { $0 + ": " } ?? "")unsupported \(component): \(detail)"
        case let .invalidUTF8(source, offset):
            return "\(source.map { $0 + ": " } ?? "")invalid UTF-8 at byte offset \(offset)"
        case let .disallowedSpecialToken(token, offset):
            return "special token \(token) found in input at byte offset \(offset) while special tokens are disallowed (use --special allowed or --special text)"
        case let .unknownId(id): return "token id \(id) is not in the vocabulary"
        case let .invalidArgument(s): return s
        }
    }
}
