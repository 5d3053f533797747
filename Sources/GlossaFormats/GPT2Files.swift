import GlossaJSON

/// Errors mapping byte-level (GPT-2 `bytes_to_unicode`) strings back to bytes.
public enum ByteLevelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `scalar` (at scalar position `position` of `token`) is not one of the 256 byte-level characters.
    case notInAlphabet(token: String, scalar: UInt32, position: Int)

    public var description: String {
        switch self {
        case let .notInAlphabet(token, scalar, position):
            let hex = String(scalar, radix: 16, uppercase: true)
            return "token \"\(token)\": character U+\(hex) at position \(position) is not in the byte-level alphabet"
        }
    }
}

/// GPT-2's `bytes_to_unicode()`: bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF map to the code point of the same value;
/// the other 68 bytes map to U+0100, U+0101, ... in increasing byte order (space → `Ġ`, LF → `Ċ`).
public struct ByteLevelAlphabet: Sendable {
    /// byte → Unicode scalar value (256 entries).
    public let byteToScalar: [UInt32]
    /// scalar value → byte, for scalars below `scalarToByte.count` (-1 where not in the alphabet).
    public let scalarToByte: [Int16]
    /// The bytes in GPT-2 rank order: the self-mapped bytes ascending, then the remapped 68 ascending.
    /// This is the order of ids 0–255 in GPT-2's encoder.json and of tiktoken's `rank_to_intbyte`.
    public let rankOrder: [UInt8]
    /// byte → its UTF-8 encoded character.
    let utf8OfByte: [[UInt8]]

    /// The standard alphabet.
    public static let gpt2 = ByteLevelAlphabet()

    public init() {
        var b2s = [UInt32](repeating: 0, count: 256)
        var order: [UInt8] = []
        var n: UInt32 = 0
        for b in 0..<256 where (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
            b2s[b] = UInt32(b)
            order.append(UInt8(b))
        }
        for b in 0..<256 where !order.contains(UInt8(b)) {
            b2s[b] = 256 &+ n
            n &+= 1
            order.append(UInt8(b))
        }
        var s2b = [Int16](repeating: -1, count: 256 &+ Int(n))
        for b in 0..<256 { s2b[Int(b2s[b])] = Int16(b) }
        byteToScalar = b2s
        scalarToByte = s2b
        rankOrder = order
        utf8OfByte = b2s.map { Array(String(Unicode.Scalar($0)!).utf8) }
    }

    public func scalar(for byte: UInt8) -> Unicode.Scalar { Unicode.Scalar(byteToScalar[Int(byte)])! }

    public func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
        return UInt8(scalarToByte[v])
    }

    /// Raw bytes → byte-level string (UTF-8 bytes).
    public func encodeUTF8(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        for b in bytes { out.append(contentsOf: utf8OfByte[Int(b)]) }
        return out
    }

    /// Raw bytes → byte-level string.
    public func encode(_ bytes: some Sequence<UInt8>) -> String {
        String(decoding: encodeUTF8(bytes), as: UTF8.self)
    }

    /// Byte-level string (as UTF-8) → raw bytes, or nil if a character is outside the alphabet.
    public func decode(utf8 token: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: token.count)
        let n = out.withUnsafeMutableBufferPointer { decode(utf8: token, into: $0.baseAddress!) }
        guard let n else { return nil }
        out.removeLast(token.count - n)
        return out
    }

    /// Allocation-free form: writes the raw bytes to `out` (room for `token.count` bytes) and returns their
    /// count, or nil when a character is outside the alphabet.
    @inlinable
    public func decode(utf8 token: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int? {
        var i = 0, k = 0
        let n = token.count
        while i < n {
            let b0 = token[i]
            var v: Int
            if b0 < 0x80 { v = Int(b0); i &+= 1 }
            else if b0 & 0xE0 == 0xC0, i &+ 1 < n { v = Int(b0 & 0x1F) << 6 | Int(token[i &+ 1] & 0x3F); i &+= 2 }
            else { return nil }   // everything in the alphabet is at most 2 UTF-8 bytes
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out[k] = UInt8(truncatingIfNeeded: scalarToByte[v]); k &+= 1
        }
        return k
    }

    /// Byte-level string → raw bytes; throws naming the first character outside the alphabet.
    public func decode(_ token: String) throws(ByteLevelError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(token.utf8.count)
        for (k, s) in token.unicodeScalars.enumerated() {
            guard let b = byte(for: s) else { throw .notInAlphabet(token: token, scalar: s.value, position: k) }
            out.append(b)
        }
        return out
    }
}

/// Errors reading GPT-2 `encoder.json` + `vocab.bpe`.
public enum GPT2FilesError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(FileIOError)
    case json(JSONError)
    /// `vocab.bpe` does not start with a `#version` line.
    case missingVersionHeader(file: String)
    /// A merge line is not `left SP right`.
    case malformedMerge(file: String, line: Int, text: String)
    /// A merge side uses characters outside the byte-level alphabet.
    case mergeNotByteLevel(file: String, line: Int, ByteLevelError)
    /// Two merges (or a merge and a single byte) produce the same token.
    case duplicateMergeResult(file: String, line: Int, token: String)
    /// An encoder.json entry is not `"token": integer`.
    case badEncoderEntry(file: String, token: String, reason: String)
    /// encoder.json disagrees with the ranks derived from vocab.bpe.
    case encoderMismatch(file: String, token: String, encoderID: Int, expectedRank: Int?)
    /// encoder.json lacks a rank derived from vocab.bpe.
    case encoderMissingToken(file: String, token: String, rank: Int)

    public var description: String {
        switch self {
        case let .io(e): return e.description
        case let .json(e): return e.description
        case let .missingVersionHeader(file): return "\(file):1: expected a '#version' header line"
        case let .malformedMerge(file, line, text): return "\(file):\(line): malformed merge '\(text)' (expected 'left right')"
        case let .mergeNotByteLevel(file, line, e): return "\(file):\(line): \(e)"
        case let .duplicateMergeResult(file, line, token): return "\(file):\(line): merge result \"\(token)\" already has a rank"
        case let .badEncoderEntry(file, token, reason): return "\(file): entry \"\(token)\": \(reason)"
        case let .encoderMismatch(file, token, id, rank):
            let exp = rank.map { "rank \($0) from vocab.bpe" } ?? "no rank in vocab.bpe"
            return "\(file): token \"\(token)\" has id \(id) but \(exp)"
        case let .encoderMissingToken(file, token, rank):
            return "\(file): missing token \"\(token)\" (rank \(rank) in vocab.bpe)"
        }
    }
}

/// GPT-2's original files: `encoder.json` ({byte-level token: id}) and `vocab.bpe` (`#version` then merges).
public struct GPT2Files: Sendable {
    /// encoder.json entries in file order.
    public var encoder: [(token: String, id: Int)]
    /// vocab.bpe merges in rank order (byte-level strings).
    public var merges: [(left: String, right: String)]
    /// Ranks as tiktoken's `data_gym_to_mergeable_bpe_ranks` builds them: bytes 0–255 in GPT-2 order,
    /// then merge i → rank 256 + i. Verified equal to encoder.json minus the special tokens.
    public var ranks: TiktokenFile
    /// encoder.json entries that are special tokens (`<|endoftext|>`, `<|startoftext|>`), with their ids.
    public var specialTokens: [(token: String, id: Int)]

    /// The tokens tiktoken removes from encoder.json before comparing with the ranks.
    public static let specialTokenNames: Set<String> = ["<|endoftext|>", "<|startoftext|>"]

    public init(encoderJSONPath: String, vocabBPEPath: String) throws(GPT2FilesError) {
        let e: [UInt8], v: [UInt8]
        do {
            e = try BinaryFile.read(encoderJSONPath)
            v = try BinaryFile.read(vocabBPEPath)
        } catch { throw .io(error) }
        try self.init(encoderJSON: e, vocabBPE: v, encoderFile: encoderJSONPath, vocabFile: vocabBPEPath)
    }

    public init(encoderJSON: [UInt8], vocabBPE: [UInt8],
                encoderFile: String = "encoder.json", vocabFile: String = "vocab.bpe") throws(GPT2FilesError) {
        let alphabet = ByteLevelAlphabet.gpt2
        // vocab.bpe: tiktoken reads split("\n")[1:-1], i.e. skips the header and the text after the last LF.
        var lines: [(Int, ArraySlice<UInt8>)] = []
        var start = 0
        var lineNo = 1
        for (k, c) in vocabBPE.enumerated() where c == 0x0A {
            lines.append((lineNo, vocabBPE[start..<k]))
            lineNo &+= 1
            start = k &+ 1
        }
        guard let header = lines.first, header.1.starts(with: Array("#version".utf8)) else {
            throw .missingVersionHeader(file: vocabFile)
        }
        _ = header
        var merges: [(left: String, right: String)] = []
        merges.reserveCapacity(lines.count)
        var tokens: [[UInt8]] = alphabet.rankOrder.map { [$0] }
        tokens.reserveCapacity(256 &+ lines.count)
        for (line, text) in lines.dropFirst() {
            var t = text
            if t.last == 0x0D { t = t.dropLast() }
            let fields = t.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
            guard fields.count == 2 else {
                throw .malformedMerge(file: vocabFile, line: line, text: String(decoding: t, as: UTF8.self))
            }
            let l = String(decoding: fields[0], as: UTF8.self), r = String(decoding: fields[1], as: UTF8.self)
            let lb: [UInt8], rb: [UInt8]
            do {
                lb = try alphabet.decode(l)
                rb = try alphabet.decode(r)
            } catch { throw .mergeNotByteLevel(file: vocabFile, line: line, error) }
            merges.append((l, r))
            tokens.append(lb + rb)
        }
        let ranks: TiktokenFile
        do { ranks = try TiktokenFile(tokens: tokens) } catch {
            if case let .duplicateTokenInList(rank, _) = error {
                throw .duplicateMergeResult(file: vocabFile, line: rank &- 256 &+ 2, token: alphabet.encode(tokens[rank]))
            }
            throw .malformedMerge(file: vocabFile, line: 0, text: error.description)
        }

        // encoder.json
        let doc: JSONDocument
        do { doc = try JSONDocument(bytes: encoderJSON, file: encoderFile) } catch { throw .json(error) }
        guard doc.root.isObject else {
            throw .json(.typeMismatch(expected: "object of token: id", found: doc.root.kind, doc.root.context))
        }
        let table = ranks.makeRankTable()
        var encoder: [(token: String, id: Int)] = []
        encoder.reserveCapacity(doc.root.count)
        var specials: [(token: String, id: Int)] = []
        var seen = [Bool](repeating: false, count: ranks.count)
        var failure: GPT2FilesError?
        doc.root.forEachEntry { keyBytes, value in
            if failure != nil { return }
            let token = String(decoding: keyBytes, as: UTF8.self)
            guard let id = value.int else {
                failure = .badEncoderEntry(file: encoderFile, token: token, reason: "id is not an integer"); return
            }
            encoder.append((token, id))
            if GPT2Files.specialTokenNames.contains(token) { specials.append((token, id)); return }
            guard let raw = alphabet.decode(utf8: keyBytes) else {
                failure = .badEncoderEntry(file: encoderFile, token: token,
                                           reason: "not a byte-level string (character outside the alphabet)")
                return
            }
            let rank = table.rank(of: raw)
            if rank != id { failure = .encoderMismatch(file: encoderFile, token: token, encoderID: id, expectedRank: rank); return }
            if seen[id] {
                failure = .badEncoderEntry(file: encoderFile, token: token, reason: "duplicate entry for id \(id)"); return
            }
            seen[id] = true
        }
        if let f = failure { throw f }
        if let missing = seen.firstIndex(of: false) {
            throw .encoderMissingToken(file: encoderFile, token: alphabet.encode(ranks[missing]), rank: missing)
        }
        self.encoder = encoder
        self.merges = merges
        self.ranks = ranks
        self.specialTokens = specials
    }
}
