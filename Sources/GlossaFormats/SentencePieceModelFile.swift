import GlossaJSON

/// Errors decoding a SentencePiece `ModelProto` (protobuf, proto2 wire format).
/// `field` is a path such as `pieces[12].score` or `trainer_spec.unk_piece`; `offset` is the byte offset in the file.
public enum SentencePieceModelError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(FileIOError)
    /// The data ended inside `field`.
    case truncated(file: String, field: String, offset: Int)
    /// A varint longer than 10 bytes.
    case malformedVarint(file: String, field: String, offset: Int)
    /// Wire type 6 or 7, or a known field encoded with the wrong wire type.
    case invalidWireType(file: String, field: String, wireType: Int, offset: Int)
    /// Field number 0 (never valid).
    case invalidFieldNumber(file: String, field: String, offset: Int)
    /// A string field holding invalid UTF-8.
    case invalidUTF8(file: String, field: String, offset: Int)
    /// An enum value outside the declared range.
    case invalidEnumValue(file: String, field: String, value: Int, offset: Int)
    /// A start-group without its end-group (or the reverse).
    case unbalancedGroup(file: String, field: String, offset: Int)

    public var description: String {
        switch self {
        case let .io(e): return e.description
        case let .truncated(file, field, offset): return "\(file): truncated at byte \(offset) while reading \(field)"
        case let .malformedVarint(file, field, offset): return "\(file): malformed varint at byte \(offset) in \(field)"
        case let .invalidWireType(file, field, wt, offset):
            return "\(file): invalid wire type \(wt) at byte \(offset) for \(field)"
        case let .invalidFieldNumber(file, field, offset): return "\(file): field number 0 at byte \(offset) in \(field)"
        case let .invalidUTF8(file, field, offset): return "\(file): invalid UTF-8 in \(field) at byte \(offset)"
        case let .invalidEnumValue(file, field, value, offset):
            return "\(file): invalid enum value \(value) for \(field) at byte \(offset)"
        case let .unbalancedGroup(file, field, offset): return "\(file): unbalanced group at byte \(offset) in \(field)"
        }
    }

    /// The same error with `prefix` prepended to the field path.
    func prefixed(_ prefix: String) -> SentencePieceModelError {
        func join(_ f: String) -> String { f.isEmpty ? prefix : (f.hasPrefix("[") ? prefix + f : prefix + "." + f) }
        switch self {
        case .io: return self
        case let .truncated(file, f, o): return .truncated(file: file, field: join(f), offset: o)
        case let .malformedVarint(file, f, o): return .malformedVarint(file: file, field: join(f), offset: o)
        case let .invalidWireType(file, f, w, o): return .invalidWireType(file: file, field: join(f), wireType: w, offset: o)
        case let .invalidFieldNumber(file, f, o): return .invalidFieldNumber(file: file, field: join(f), offset: o)
        case let .invalidUTF8(file, f, o): return .invalidUTF8(file: file, field: join(f), offset: o)
        case let .invalidEnumValue(file, f, v, o): return .invalidEnumValue(file: file, field: join(f), value: v, offset: o)
        case let .unbalancedGroup(file, f, o): return .unbalancedGroup(file: file, field: join(f), offset: o)
        }
    }
}

/// A SentencePiece model (`sentencepiece_model.proto`, `ModelProto`). Known fields are decoded; every other
/// field is kept as raw wire bytes in `unknownFields` and written back unchanged, so read → write → read is lossless.
public struct SentencePieceModelFile: Sendable, Equatable {
    public enum PieceType: Int32, Sendable, Equatable, CaseIterable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public enum ModelType: Int32, Sendable, Equatable {
        case unigram = 1, bpe = 2, word = 3, char = 4
    }

    /// `ModelProto.SentencePiece`: id = index in `pieces`.
    public struct Piece: Sendable, Equatable {
        public var piece: String
        public var score: Float
        public var type: PieceType
        public var unknownFields: [UInt8]

        public init(piece: String, score: Float, type: PieceType = .normal, unknownFields: [UInt8] = []) {
            self.piece = piece
            self.score = score
            self.type = type
            self.unknownFields = unknownFields
        }
    }

    /// `TrainerSpec` (defaults as in the .proto).
    public struct TrainerSpec: Sendable, Equatable {
        public var modelType: ModelType = .unigram                 // 3
        public var vocabSize: Int32 = 8000                          // 4
        public var maxSentencepieceLength: Int32 = 16               // 20
        public var splitByUnicodeScript = true                      // 21
        public var splitByWhitespace = true                         // 22
        public var splitByNumber = true                             // 23
        public var treatWhitespaceAsSuffix = false                  // 24
        public var splitDigits = false                              // 25
        public var allowWhitespaceOnlyPieces = false                // 26
        public var controlSymbols: [String] = []                    // 30
        public var userDefinedSymbols: [String] = []                // 31
        public var byteFallback = false                             // 35
        public var unkID: Int32 = 0                                 // 40
        public var bosID: Int32 = 1                                 // 41
        public var eosID: Int32 = 2                                 // 42
        public var padID: Int32 = -1                                // 43
        public var unkSurface = " \u{2047} "                        // 44
        public var unkPiece = "<unk>"                               // 45
        public var bosPiece = "<s>"                                 // 46
        public var eosPiece = "</s>"                                // 47
        public var padPiece = "<pad>"                               // 48
        /// All other TrainerSpec fields (input, character_coverage, ...), raw.
        public var unknownFields: [UInt8] = []

        public init() {}
    }

    /// `NormalizerSpec` (also used for the denormalizer).
    public struct NormalizerSpec: Sendable, Equatable {
        public var name = ""                                        // 1
        public var precompiledCharsmap: [UInt8] = []                // 2
        public var addDummyPrefix = true                            // 3
        public var removeExtraWhitespaces = true                    // 4
        public var escapeWhitespaces = true                         // 5
        public var normalizationRuleTSV = ""                        // 6
        public var unknownFields: [UInt8] = []

        public init() {}
    }

    public var pieces: [Piece] = []                                 // 1
    public var trainerSpec: TrainerSpec?                            // 2
    public var normalizerSpec: NormalizerSpec?                      // 3
    /// `self_test_data` [4], kept as the raw message.
    public var selfTestData: [UInt8]?
    public var denormalizerSpec: NormalizerSpec?                    // 5
    public var unknownFields: [UInt8] = []

    public init() {}

    public init(contentsOfFile path: String) throws(SentencePieceModelError) {
        let bytes: [UInt8]
        do { bytes = try BinaryFile.read(path) } catch { throw .io(error) }
        try self.init(bytes: bytes, file: path)
    }

    public init(bytes: [UInt8], file: String = "<model>") throws(SentencePieceModelError) {
        var result = SentencePieceModelFile()
        try bytes.withUnsafeBufferPointer { buf throws(SentencePieceModelError) in
            var r = ProtoReader(buf: buf, pos: 0, end: buf.count, file: file)
            try result.decodeModel(&r)
        }
        self = result
    }

    /// Piece counts by type.
    public func countByType() -> [PieceType: Int] {
        var c: [PieceType: Int] = [:]
        for p in pieces { c[p.type, default: 0] &+= 1 }
        return c
    }

    // MARK: Decoding

    private mutating func decodeModel(_ r: inout ProtoReader) throws(SentencePieceModelError) {
        pieces.reserveCapacity(r.end / 16)
        while r.pos < r.end {
            let tagAt = r.pos
            let (field, wt) = try r.tag("")
            switch field {
            case 1:
                let name = "pieces[\(pieces.count)]"
                var sub = try r.message(name, wt)
                do { pieces.append(try Piece.decode(&sub)) } catch { throw error.prefixed(name) }
            case 2:
                var sub = try r.message("trainer_spec", wt)
                var spec = trainerSpec ?? TrainerSpec()
                do { try spec.decode(&sub) } catch { throw error.prefixed("trainer_spec") }
                trainerSpec = spec
            case 3:
                var sub = try r.message("normalizer_spec", wt)
                var spec = normalizerSpec ?? NormalizerSpec()
                do { try spec.decode(&sub) } catch { throw error.prefixed("normalizer_spec") }
                normalizerSpec = spec
            case 4:
                let sub = try r.message("self_test_data", wt)
                try sub.skipAllChecked("self_test_data")
                selfTestData = (selfTestData ?? []) + Array(sub.buf[sub.pos..<sub.end])
            case 5:
                var sub = try r.message("denormalizer_spec", wt)
                var spec = denormalizerSpec ?? NormalizerSpec()
                do { try spec.decode(&sub) } catch { throw error.prefixed("denormalizer_spec") }
                denormalizerSpec = spec
            default:
                try r.skip(field: field, wireType: wt, name: "field \(field)")
                unknownFields.append(contentsOf: r.buf[tagAt..<r.pos])
            }
        }
    }

    // MARK: Encoding

    /// The model as protobuf bytes.
    public func serialized() -> [UInt8] {
        var w = ProtoWriter()
        for p in pieces {
            var sub = ProtoWriter()
            sub.string(1, p.piece)
            sub.float(2, p.score)
            if p.type != .normal { sub.varint(3, UInt64(p.type.rawValue)) }
            sub.bytes.append(contentsOf: p.unknownFields)
            w.message(1, sub.bytes)
        }
        if let t = trainerSpec { w.message(2, t.serialized()) }
        if let n = normalizerSpec { w.message(3, n.serialized()) }
        if let s = selfTestData { w.message(4, s) }
        if let d = denormalizerSpec { w.message(5, d.serialized()) }
        w.bytes.append(contentsOf: unknownFields)
        return w.bytes
    }

    public func write(to path: String) throws(SentencePieceModelError) {
        do { try BinaryFile.write(serialized(), to: path) } catch { throw .io(error) }
    }
}

extension SentencePieceModelFile.Piece {
    static func decode(_ r: inout ProtoReader) throws(SentencePieceModelError) -> Self {
        var p = Self(piece: "", score: 0, type: .normal)
        while r.pos < r.end {
            let tagAt = r.pos
            let (field, wt) = try r.tag("")
            switch field {
            case 1: p.piece = try r.string("piece", wt)
            case 2: p.score = try r.float("score", wt)
            case 3:
                let at = r.pos
                let v = try r.varintField("type", wt)
                guard let t = SentencePieceModelFile.PieceType(rawValue: Int32(truncatingIfNeeded: v)) else {
                    throw .invalidEnumValue(file: r.file, field: "type", value: Int(Int32(truncatingIfNeeded: v)), offset: at)
                }
                p.type = t
            default:
                try r.skip(field: field, wireType: wt, name: "field \(field)")
                p.unknownFields.append(contentsOf: r.buf[tagAt..<r.pos])
            }
        }
        return p
    }
}

extension SentencePieceModelFile.TrainerSpec {
    mutating func decode(_ r: inout ProtoReader) throws(SentencePieceModelError) {
        while r.pos < r.end {
            let tagAt = r.pos
            let (field, wt) = try r.tag("")
            switch field {
            case 3:
                let at = r.pos
                let v = Int32(truncatingIfNeeded: try r.varintField("model_type", wt))
                guard let t = SentencePieceModelFile.ModelType(rawValue: v) else {
                    throw .invalidEnumValue(file: r.file, field: "model_type", value: Int(v), offset: at)
                }
                modelType = t
            case 4: vocabSize = Int32(truncatingIfNeeded: try r.varintField("vocab_size", wt))
            case 20: maxSentencepieceLength = Int32(truncatingIfNeeded: try r.varintField("max_sentencepiece_length", wt))
            case 21: splitByUnicodeScript = try r.varintField("split_by_unicode_script", wt) != 0
            case 22: splitByWhitespace = try r.varintField("split_by_whitespace", wt) != 0
            case 23: splitByNumber = try r.varintField("split_by_number", wt) != 0
            case 24: treatWhitespaceAsSuffix = try r.varintField("treat_whitespace_as_suffix", wt) != 0
            case 25: splitDigits = try r.varintField("split_digits", wt) != 0
            case 26: allowWhitespaceOnlyPieces = try r.varintField("allow_whitespace_only_pieces", wt) != 0
            case 30: controlSymbols.append(try r.string("control_symbols[\(controlSymbols.count)]", wt))
            case 31: userDefinedSymbols.append(try r.string("user_defined_symbols[\(userDefinedSymbols.count)]", wt))
            case 35: byteFallback = try r.varintField("byte_fallback", wt) != 0
            case 40: unkID = Int32(truncatingIfNeeded: try r.varintField("unk_id", wt))
            case 41: bosID = Int32(truncatingIfNeeded: try r.varintField("bos_id", wt))
            case 42: eosID = Int32(truncatingIfNeeded: try r.varintField("eos_id", wt))
            case 43: padID = Int32(truncatingIfNeeded: try r.varintField("pad_id", wt))
            case 44: unkSurface = try r.string("unk_surface", wt)
            case 45: unkPiece = try r.string("unk_piece", wt)
            case 46: bosPiece = try r.string("bos_piece", wt)
            case 47: eosPiece = try r.string("eos_piece", wt)
            case 48: padPiece = try r.string("pad_piece", wt)
            default:
                try r.skip(field: field, wireType: wt, name: "field \(field)")
                unknownFields.append(contentsOf: r.buf[tagAt..<r.pos])
            }
        }
    }

    func serialized() -> [UInt8] {
        var w = ProtoWriter()
        w.varint(3, UInt64(modelType.rawValue))
        w.varint(4, UInt64(bitPattern: Int64(vocabSize)))
        w.varint(20, UInt64(bitPattern: Int64(maxSentencepieceLength)))
        w.varint(21, splitByUnicodeScript ? 1 : 0)
        w.varint(22, splitByWhitespace ? 1 : 0)
        w.varint(23, splitByNumber ? 1 : 0)
        w.varint(24, treatWhitespaceAsSuffix ? 1 : 0)
        w.varint(25, splitDigits ? 1 : 0)
        w.varint(26, allowWhitespaceOnlyPieces ? 1 : 0)
        for s in controlSymbols { w.string(30, s) }
        for s in userDefinedSymbols { w.string(31, s) }
        w.varint(35, byteFallback ? 1 : 0)
        w.varint(40, UInt64(bitPattern: Int64(unkID)))
        w.varint(41, UInt64(bitPattern: Int64(bosID)))
        w.varint(42, UInt64(bitPattern: Int64(eosID)))
        w.varint(43, UInt64(bitPattern: Int64(padID)))
        w.string(44, unkSurface)
        w.string(45, unkPiece)
        w.string(46, bosPiece)
        w.string(47, eosPiece)
        w.string(48, padPiece)
        w.bytes.append(contentsOf: unknownFields)
        return w.bytes
    }
}

extension SentencePieceModelFile.NormalizerSpec {
    mutating func decode(_ r: inout ProtoReader) throws(SentencePieceModelError) {
        while r.pos < r.end {
            let tagAt = r.pos
            let (field, wt) = try r.tag("")
            switch field {
            case 1: name = try r.string("name", wt)
            case 2: precompiledCharsmap = try r.lengthDelimited("precompiled_charsmap", wt)
            case 3: addDummyPrefix = try r.varintField("add_dummy_prefix", wt) != 0
            case 4: removeExtraWhitespaces = try r.varintField("remove_extra_whitespaces", wt) != 0
            case 5: escapeWhitespaces = try r.varintField("escape_whitespaces", wt) != 0
            case 6: normalizationRuleTSV = try r.string("normalization_rule_tsv", wt)
            default:
                try r.skip(field: field, wireType: wt, name: "field \(field)")
                unknownFields.append(contentsOf: r.buf[tagAt..<r.pos])
            }
        }
    }

    func serialized() -> [UInt8] {
        var w = ProtoWriter()
        w.string(1, name)
        w.lengthDelimited(2, precompiledCharsmap)
        w.varint(3, addDummyPrefix ? 1 : 0)
        w.varint(4, removeExtraWhitespaces ? 1 : 0)
        w.varint(5, escapeWhitespaces ? 1 : 0)
        if !normalizationRuleTSV.isEmpty { w.string(6, normalizationRuleTSV) }
        w.bytes.append(contentsOf: unknownFields)
        return w.bytes
    }
}

// MARK: Wire format

/// A bounded reader over protobuf wire bytes (`pos..<end` of `buf`).
struct ProtoReader {
    let buf: UnsafeBufferPointer<UInt8>
    var pos: Int
    let end: Int
    let file: String

    static let varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5

    @inline(__always)
    mutating func rawVarint(_ field: String) throws(SentencePieceModelError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        let start = pos
        while true {
            guard pos < end else { throw .truncated(file: file, field: field, offset: pos) }
            let b = buf[pos]
            pos &+= 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift &+= 7
            if shift >= 70 { throw .malformedVarint(file: file, field: field, offset: start) }
        }
    }

    /// Reads a tag; returns (field number, wire type).
    mutating func tag(_ context: String) throws(SentencePieceModelError) -> (Int, Int) {
        let at = pos
        let t = try rawVarint(context.isEmpty ? "a field tag" : context)
        let wt = Int(t & 7)
        let field = Int(truncatingIfNeeded: t >> 3)
        if field == 0 { throw .invalidFieldNumber(file: file, field: context, offset: at) }
        if wt == 6 || wt == 7 { throw .invalidWireType(file: file, field: "field \(field)", wireType: wt, offset: at) }
        return (field, wt)
    }

    private func expect(_ wt: Int, _ want: Int, _ field: String) throws(SentencePieceModelError) {
        if wt != want { throw .invalidWireType(file: file, field: field, wireType: wt, offset: pos) }
    }

    mutating func varintField(_ field: String, _ wt: Int) throws(SentencePieceModelError) -> UInt64 {
        try expect(wt, ProtoReader.varint, field)
        return try rawVarint(field)
    }

    mutating func float(_ field: String, _ wt: Int) throws(SentencePieceModelError) -> Float {
        try expect(wt, ProtoReader.fixed32, field)
        guard end &- pos >= 4 else { throw .truncated(file: file, field: field, offset: pos) }
        let bits = UInt32(buf[pos]) | UInt32(buf[pos &+ 1]) << 8 | UInt32(buf[pos &+ 2]) << 16 | UInt32(buf[pos &+ 3]) << 24
        pos &+= 4
        return Float(bitPattern: bits)
    }

    /// Reads a length prefix and returns the payload range.
    mutating func lengthRange(_ field: String, _ wt: Int) throws(SentencePieceModelError) -> Range<Int> {
        try expect(wt, ProtoReader.lengthDelimited, field)
        let lenAt = pos
        let len = try rawVarint(field)
        guard len <= UInt64(end &- pos) else {
            throw .truncated(file: file, field: field, offset: lenAt)
        }
        let r = pos..<(pos &+ Int(len))
        pos = r.upperBound
        return r
    }

    mutating func lengthDelimited(_ field: String, _ wt: Int) throws(SentencePieceModelError) -> [UInt8] {
        Array(buf[try lengthRange(field, wt)])
    }

    mutating func string(_ field: String, _ wt: Int) throws(SentencePieceModelError) -> String {
        let r = try lengthRange(field, wt)
        var i = r.lowerBound
        while i < r.upperBound {
            if buf[i] < 0x80 { i &+= 1; continue }
            let n = utf8Length(buf, i, r.upperBound)
            if n == 0 { throw .invalidUTF8(file: file, field: field, offset: i) }
            i &+= n
        }
        return String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self)
    }

    /// A sub-reader over an embedded message.
    mutating func message(_ field: String, _ wt: Int) throws(SentencePieceModelError) -> ProtoReader {
        let r = try lengthRange(field, wt)
        return ProtoReader(buf: buf, pos: r.lowerBound, end: r.upperBound, file: file)
    }

    /// Skips one field's value of any wire type (groups recursively, matching the end-group's field number).
    mutating func skip(field: Int, wireType wt: Int, name: String) throws(SentencePieceModelError) {
        switch wt {
        case ProtoReader.varint: _ = try rawVarint(name)
        case ProtoReader.fixed64:
            guard end &- pos >= 8 else { throw .truncated(file: file, field: name, offset: pos) }
            pos &+= 8
        case ProtoReader.lengthDelimited: _ = try lengthRange(name, wt)
        case ProtoReader.fixed32:
            guard end &- pos >= 4 else { throw .truncated(file: file, field: name, offset: pos) }
            pos &+= 4
        case ProtoReader.startGroup:
            let start = pos
            while true {
                guard pos < end else { throw .unbalancedGroup(file: file, field: name, offset: start) }
                let (f, w) = try tag(name)
                if w == ProtoReader.endGroup {
                    if f != field { throw .unbalancedGroup(file: file, field: name, offset: pos) }
                    return
                }
                try skip(field: f, wireType: w, name: name)
            }
        case ProtoReader.endGroup:
            throw .unbalancedGroup(file: file, field: name, offset: pos)
        default:
            throw .invalidWireType(file: file, field: name, wireType: wt, offset: pos)
        }
    }

    /// Walks every field of the remaining bytes (validating the wire format) without consuming them.
    func skipAllChecked(_ name: String) throws(SentencePieceModelError) {
        var r = self
        do {
            while r.pos < r.end {
                let (f, w) = try r.tag("")
                try r.skip(field: f, wireType: w, name: "field \(f)")
            }
        } catch { throw error.prefixed(name) }
    }
}

/// Length of the valid UTF-8 sequence at `i` (lead byte >= 0x80) within `end`, or 0.
func utf8Length(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
    let b0 = p[i]
    func cont(_ k: Int) -> Bool { k < end && p[k] & 0xC0 == 0x80 }
    if b0 < 0xC2 { return 0 }
    if b0 < 0xE0 { return cont(i &+ 1) ? 2 : 0 }
    if b0 < 0xF0 {
        guard cont(i &+ 1), cont(i &+ 2) else { return 0 }
        if b0 == 0xE0 && p[i &+ 1] < 0xA0 { return 0 }
        if b0 == 0xED && p[i &+ 1] >= 0xA0 { return 0 }
        return 3
    }
    if b0 < 0xF5 {
        guard cont(i &+ 1), cont(i &+ 2), cont(i &+ 3) else { return 0 }
        if b0 == 0xF0 && p[i &+ 1] < 0x90 { return 0 }
        if b0 == 0xF4 && p[i &+ 1] >= 0x90 { return 0 }
        return 4
    }
    return 0
}

struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wt: Int) { rawVarint(UInt64(field << 3 | wt)) }

    mutating func varint(_ field: Int, _ v: UInt64) { tag(field, 0); rawVarint(v) }

    mutating func float(_ field: Int, _ f: Float) {
        tag(field, 5)
        let b = f.bitPattern
        bytes.append(UInt8(truncatingIfNeeded: b)); bytes.append(UInt8(truncatingIfNeeded: b >> 8))
        bytes.append(UInt8(truncatingIfNeeded: b >> 16)); bytes.append(UInt8(truncatingIfNeeded: b >> 24))
    }

    mutating func lengthDelimited(_ field: Int, _ payload: some Collection<UInt8>) {
        tag(field, 2)
        rawVarint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func string(_ field: Int, _ s: String) { lengthDelimited(field, Array(s.utf8)) }

    mutating func message(_ field: Int, _ payload: [UInt8]) { lengthDelimited(field, payload) }
}
