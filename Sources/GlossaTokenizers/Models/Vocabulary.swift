/// Token ids and their spellings as the tokenizer file writes them.
///
/// Keyed by bytes, never by `String`: Swift's `String` equality is canonical equivalence,
/// which would merge distinct NFC/NFD tokens.
public struct Vocabulary: Sendable {
    /// Spelling of each id (empty and absent from `index` for holes).
    public private(set) var tokens: [[UInt8]]
    let index: ByteTable

    public init(tokens: [[UInt8]], holes: Set<Int> = []) {
        self.tokens = tokens
        var t = ByteTable()
        for (i, tok) in tokens.enumerated() where !holes.contains(i) {
            if t.find(tok) == nil { t.insert(tok, Int32(i)) }
        }
        index = t
    }

    public var count: Int { tokens.count }
    public func id(of token: [UInt8]) -> Int32? { index.find(token) }
    public func id(of token: String) -> Int32? { index.find(Array(token.utf8)) }
    public func token(_ id: Int32) -> [UInt8]? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }
    public func string(_ id: Int32) -> String? { token(id).map { String(decoding: $0, as: UTF8.self) } }
}

extension Vocabulary {
    /// Ids without a token (gaps in a file's id range).
    public var holeCount: Int { tokens.count - index.count }
}
