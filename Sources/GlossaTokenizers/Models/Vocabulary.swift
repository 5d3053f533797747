/// Token ids and their spellings as the tokenizer file writes them.
///
/// Keyed by bytes, never by `String`: Swift's `String` equality is canonical equivalence,
/// which would merge distinct NFC/NFD tokens. Entry i of the table is id i (holes are
/// entries that cannot be looked up), so spellings live in one arena.
public struct Vocabulary: Sendable {
    let index: ByteTable

    public init(tokens: [[UInt8]], holes: Set<Int> = []) {
        index = ByteTable(keys: tokens.enumerated().map { holes.contains($0.offset) ? nil : $0.element })
    }

    /// A vocabulary from a table built in id order (entry i = id i).
    init(table: ByteTable) { index = table }

    /// Ids 0..<count (including holes).
    public var count: Int { index.entryCount }
    public var holeCount: Int { index.entryCount - index.count }
    /// Spellings by id (holes are empty). Copies; prefer `token(_:)`.
    public var tokens: [[UInt8]] { (0..<count).map { Array(index.entryBytes($0)) } }

    public func id(of token: [UInt8]) -> Int32? { index.find(token) }
    public func id(of token: String) -> Int32? { index.find(Array(token.utf8)) }
    @inline(__always) func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 { index.find(p, n) }
    public func token(_ id: Int32) -> [UInt8]? {
        id >= 0 && Int(id) < count ? Array(index.entryBytes(Int(id))) : nil
    }
    public func string(_ id: Int32) -> String? {
        guard id >= 0 && Int(id) < count else { return nil }
        return index.withEntryBytes(Int(id)) { String(decoding: $0, as: UTF8.self) }
    }
    /// Whether `id` names a token (not a hole, in range).
    public func contains(_ id: Int32) -> Bool {
        guard id >= 0 && Int(id) < count else { return false }
        return index.withEntryBytes(Int(id)) { b in b.baseAddress.map { index.find($0, b.count) == id } ?? (index.find([]) == id) }
    }
}
