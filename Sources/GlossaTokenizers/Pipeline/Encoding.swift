/// The result of encoding one sequence (or a pair): ids with their provenance.
///
/// Offsets are byte offsets into the UTF-8 input (`[start, end)`); `characterOffsets()`
/// converts them to Unicode scalar offsets, which is what HF's Python API reports.
public struct Encoding: Sendable, Equatable {
    public var ids: [Int32]
    public var typeIds: [UInt32]
    /// The token strings as the vocabulary spells them (byte-level tokens in the GPT-2 alphabet).
    public var tokens: [String]
    /// Byte offsets into the input; (0, 0) for tokens added by post-processing or padding.
    public var offsets: [ByteSpan]
    public var specialTokensMask: [UInt8]
    public var attentionMask: [UInt8]
    /// Index of the input sequence each token came from (0 or 1), nil for added special tokens.
    public var sequenceIds: [Int8?]
    /// Tokens cut off by truncation, as further encodings (HF `overflowing`).
    public var overflowing: [Encoding]
    /// The UTF-8 input the offsets refer to (one per sequence; shared storage, not copied).
    public var sources: [[UInt8]]

    public init(ids: [Int32] = [], typeIds: [UInt32] = [], tokens: [String] = [], offsets: [ByteSpan] = [],
                specialTokensMask: [UInt8] = [], attentionMask: [UInt8] = [], sequenceIds: [Int8?] = [],
                overflowing: [Encoding] = [], sources: [[UInt8]] = []) {
        self.ids = ids; self.typeIds = typeIds; self.tokens = tokens; self.offsets = offsets
        self.specialTokensMask = specialTokensMask; self.attentionMask = attentionMask
        self.sequenceIds = sequenceIds; self.overflowing = overflowing; self.sources = sources
    }

    public var count: Int { ids.count }

    /// Offsets in Unicode scalars (HF's default `OffsetType::Char`), each relative to its own sequence.
    public func characterOffsets() -> [ByteSpan] {
        var converters: [[Int32]] = sources.map { Self.charIndexTable($0) }
        if converters.isEmpty { converters = [[0]] }
        var out = [ByteSpan]()
        out.reserveCapacity(offsets.count)
        for (i, o) in offsets.enumerated() {
            let seq = Int(sequenceIds.indices.contains(i) ? (sequenceIds[i] ?? 0) : 0)
            let table = converters[min(seq, converters.count - 1)]
            let s = Int(o.start), e = Int(o.end)
            if s >= table.count || e >= table.count { out.append(o); continue }
            out.append(ByteSpan(start: table[s], end: table[e]))
        }
        return out
    }

    /// table[byteOffset] = number of scalars before that offset (valid at scalar boundaries;
    /// a byte inside a scalar maps to that scalar's index).
    static func charIndexTable(_ bytes: [UInt8]) -> [Int32] {
        var t = [Int32](repeating: 0, count: bytes.count + 1)
        var c: Int32 = -1
        for (i, b) in bytes.enumerated() {
            if b & 0xC0 != 0x80 { c &+= 1 }
            t[i] = c
        }
        t[bytes.count] = c &+ 1
        return t
    }
}

/// A half-open byte range `[start, end)`.
public struct ByteSpan: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var start: Int32
    public var end: Int32
    @inlinable public init(start: Int32, end: Int32) { self.start = start; self.end = end }
    @inlinable public init(_ start: Int, _ end: Int) { self.start = Int32(start); self.end = Int32(end) }
    public static let zero = ByteSpan(start: 0, end: 0)
    public var description: String { "(\(start), \(end))" }
}
