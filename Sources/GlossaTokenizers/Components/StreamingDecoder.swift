// Incremental decoding for generation loops.
//
// `StreamingDecoder` reproduces Hugging Face's `DecodeStream` (`tokenizer/mod.rs`,
// `step_decode_stream`): it re-decodes a short window of ids, and returns only the text past the
// previously returned prefix, and only once that text does not end in U+FFFD (an incomplete
// UTF-8 sequence or byte-fallback run). It works with any tokenizer through a decode closure,
// so decoders that look at neighbouring tokens (Metaspace, WordPiece, Strip) stay correct.
//
// `ByteStreamDecoder` is a closure-free variant for byte-level vocabularies: each token is given
// as its raw bytes and the longest complete UTF-8 prefix is emitted.

public struct StreamingDecoder: Sendable {
    /// Decodes ids to text; the flag is `skip_special_tokens`.
    public typealias Decode = @Sendable (_ ids: [Int32], _ skipSpecialTokens: Bool) throws(TokenizerError) -> String

    let decodeIds: Decode
    public let skipSpecialTokens: Bool
    /// The window of ids re-decoded at each step (HF `ids`).
    public private(set) var ids: [Int32]
    /// The text already returned that the window's decoding starts with (HF `prefix`).
    public private(set) var prefix: String = ""
    /// Where the ids behind `prefix` end in `ids` (HF `prefix_index`).
    public private(set) var prefixIndex: Int = 0

    /// `ids`: ids already generated (e.g. the prompt) that should shape the decoding of what
    /// follows without being returned (HF `DecodeStream(ids=...)`).
    public init(ids: [Int32] = [], skipSpecialTokens: Bool = false, decode: @escaping Decode) {
        self.ids = ids
        self.skipSpecialTokens = skipSpecialTokens
        self.decodeIds = decode
    }

    /// For a decode closure that already applies its own special-token policy.
    public init(ids: [Int32] = [], decode: @escaping @Sendable (_ ids: [Int32]) throws(TokenizerError) -> String) {
        self.init(ids: ids, skipSpecialTokens: false) { (ids: [Int32], _: Bool) throws(TokenizerError) -> String in
            try decode(ids)
        }
    }

    /// Adds one id; returns the new text, or nil while it is incomplete.
    public mutating func step(_ id: Int32) throws(TokenizerError) -> String? {
        try step([id])
    }

    /// Adds several ids at once; returns the new text, or nil while it is incomplete.
    /// Throws `invalidArgument` when the decoding of the window no longer starts with the text
    /// already returned (HF `DecodeStreamError::InvalidPrefix`), and whatever `decode` throws.
    public mutating func step(_ newIds: [Int32]) throws(TokenizerError) -> String? {
        if prefix.isEmpty && !ids.isEmpty {
            let p = try decodeIds(ids, skipSpecialTokens)
            if !p.hasSuffix("\u{FFFD}") {
                prefix = p
                prefixIndex = ids.count
            }
        }
        ids.append(contentsOf: newIds)
        let string = try decodeIds(ids, skipSpecialTokens)
        let s = Array(string.utf8), p = Array(prefix.utf8)
        guard s.count > p.count, !string.hasSuffix("\u{FFFD}") else { return nil }
        guard s.starts(with: p) else {
            throw .invalidArgument("Invalid prefix encountered while decoding stream. Token ID: \(ids.last ?? 0), Expected prefix: '\(prefix)', Actual string: '\(string)'")
        }
        let newText = String(decoding: s[p.count...], as: UTF8.self)
        let newPrefixIndex = ids.count - prefixIndex
        ids.removeFirst(prefixIndex)
        prefix = try decodeIds(ids, skipSpecialTokens)
        prefixIndex = newPrefixIndex
        return newText
    }
}

public struct ByteStreamDecoder: Sendable {
    /// Bytes received but not yet returned: the start of a UTF-8 sequence that may still complete.
    public private(set) var pending: [UInt8] = []

    public init() {}

    /// Adds the bytes of one token; returns the text that is now complete (nil if none).
    /// Bytes that can no longer form a valid sequence become U+FFFD, one per maximal invalid
    /// subpart (as Rust's `from_utf8_lossy`), so the concatenated output plus `finish()` equals
    /// the lossy decoding of all the bytes.
    public mutating func step(_ bytes: [UInt8]) -> String? {
        pending.append(contentsOf: bytes)
        var out = [UInt8]()
        var i = 0
        while i < pending.count {
            let r = RustUTF8.scan(pending, i)
            if r.truncated { break }
            if r.valid { out.append(contentsOf: pending[i..<(i + r.length)]) } else { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) }
            i += r.length
        }
        pending.removeFirst(i)
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    /// Adds a byte-level token spelled in the GPT-2 alphabet (`Ġ` for a space...). A token with a
    /// character outside the alphabet stands for its own UTF-8 bytes, as in the ByteLevel decoder.
    public mutating func step(byteLevelToken token: String) -> String? {
        var bytes = [UInt8]()
        TokenDecoder.appendByteLevel(token, to: &bytes)
        return step(bytes)
    }

    /// Ends the stream: an incomplete trailing sequence becomes one U+FFFD.
    public mutating func finish() -> String? {
        guard !pending.isEmpty else { return nil }
        pending.removeAll()
        return "\u{FFFD}"
    }
}
