import GlossaJSON

/// Errors reading or writing a tiktoken rank file (`base64 SP rank LF` per line).
public enum TiktokenError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(FileIOError)
    /// The first field of a line is not valid standard base64 (with padding).
    case invalidBase64(file: String, line: Int, column: Int)
    /// A line has no space-separated rank.
    case missingRank(file: String, line: Int)
    /// The rank is not a non-negative decimal integer.
    case invalidRank(file: String, line: Int, text: String)
    /// More than two fields on a line.
    case extraField(file: String, line: Int)
    /// The token bytes already appeared on an earlier line.
    case duplicateToken(file: String, line: Int, firstLine: Int)
    /// The rank already appeared on an earlier line.
    case duplicateRank(file: String, line: Int, rank: Int, firstLine: Int)
    /// Ranks must be exactly 0..<count; `missing` is the smallest absent rank.
    case nonContiguousRanks(file: String, missing: Int, count: Int)
    /// A token list given in memory has a duplicate (`rank` repeats the bytes of `firstRank`).
    case duplicateTokenInList(rank: Int, firstRank: Int)

    public var description: String {
        switch self {
        case let .io(e): return e.description
        case let .invalidBase64(file, line, column): return "\(file):\(line):\(column): invalid base64 token"
        case let .missingRank(file, line): return "\(file):\(line): missing rank (expected 'base64 rank')"
        case let .invalidRank(file, line, text): return "\(file):\(line): invalid rank '\(text)'"
        case let .extraField(file, line): return "\(file):\(line): unexpected extra field after the rank"
        case let .duplicateToken(file, line, first): return "\(file):\(line): duplicate token (first on line \(first))"
        case let .duplicateRank(file, line, rank, first):
            return "\(file):\(line): duplicate rank \(rank) (first on line \(first))"
        case let .nonContiguousRanks(file, missing, count):
            return "\(file): ranks are not contiguous: rank \(missing) is missing (\(count) tokens, expected ranks 0..<\(count))"
        case let .duplicateTokenInList(rank, first): return "token list: rank \(rank) repeats the bytes of rank \(first)"
        }
    }
}

/// A tiktoken BPE rank file: token bytes indexed by rank (ranks are validated to be exactly `0..<count`).
/// Stored flat: token `r` is `storage[offsets[r]..<offsets[r+1]]`.
public struct TiktokenFile: Sendable, Equatable {
    public private(set) var storage: [UInt8]
    public private(set) var offsets: [Int32]

    /// Number of tokens (= the largest rank + 1).
    public var count: Int { offsets.count &- 1 }

    /// The bytes of the token with rank `rank`.
    public subscript(rank: Int) -> ArraySlice<UInt8> {
        storage[Int(offsets[rank])..<Int(offsets[rank &+ 1])]
    }

    /// The bytes of the token with rank `rank`, as an array.
    public func token(rank: Int) -> [UInt8] { Array(self[rank]) }

    /// All entries ordered by rank.
    public var ranks: [(bytes: [UInt8], rank: Int)] {
        (0..<count).map { (bytes: token(rank: $0), rank: $0) }
    }

    /// Builds a file from tokens in rank order; throws on duplicate tokens.
    public init(tokens: [[UInt8]]) throws(TiktokenError) {
        var storage = [UInt8]()
        storage.reserveCapacity(tokens.reduce(0) { $0 &+ $1.count })
        var offsets = [Int32]()
        offsets.reserveCapacity(tokens.count &+ 1)
        offsets.append(0)
        for t in tokens {
            storage.append(contentsOf: t)
            offsets.append(Int32(truncatingIfNeeded: storage.count))
        }
        self.storage = storage
        self.offsets = offsets
        var table = ByteSpanTable(capacity: tokens.count)
        let dup: (Int, Int)? = storage.withUnsafeBufferPointer { s in
            offsets.withUnsafeBufferPointer { o in
                let base = s.baseAddress ?? UnsafePointer(bitPattern: 1)!
                for r in 0..<tokens.count {
                    let prev = table.insert(Int32(r), storage: base, offsets: o.baseAddress!)
                    if prev >= 0 { return (r, Int(prev)) }
                }
                return nil
            }
        }
        if let (r, first) = dup { throw .duplicateTokenInList(rank: r, firstRank: first) }
    }

    /// Reads a rank file from disk.
    public init(contentsOfFile path: String) throws(TiktokenError) {
        let bytes: [UInt8]
        do { bytes = try BinaryFile.read(path) } catch { throw .io(error) }
        try self.init(bytes: bytes, file: path)
    }

    /// Parses rank-file text. Lines are `base64 SP rank`, LF (or CRLF) terminated; empty lines are skipped.
    public init(bytes: [UInt8], file: String = "<tiktoken>") throws(TiktokenError) {
        try self.init(bytes: bytes, file: file, checkDuplicateTokens: true)
    }

    /// - Parameter checkDuplicateTokens: false leaves repeated token bytes to the caller (a loader whose own
    ///   table finds them, which then parses again with the check for the error); every other check is made.
    /// - Parameter fastLines: read the usual line in one pass (`fastLine`); false reads every line with the
    ///   general code (the reference the fast path is tested against).
    package init(bytes: [UInt8], file: String, checkDuplicateTokens: Bool, fastLines: Bool = true) throws(TiktokenError) {
        try self.init(bytes: FileBytes(bytes), file: file, checkDuplicateTokens: checkDuplicateTokens, fastLines: fastLines)
    }

    /// As `init(bytes:file:checkDuplicateTokens:fastLines:)` for a mapped file (`BinaryFile.map`).
    package init(bytes: FileBytes, file: String, checkDuplicateTokens: Bool, fastLines: Bool = true) throws(TiktokenError) {
        var starts = [Int32]()        // token start in storage, in file order
        var fileRanks = [Int32]()     // rank per file entry
        var lines = [Int32]()         // line number per file entry
        let estimate = bytes.count / 14
        starts.reserveCapacity(estimate); fileRanks.reserveCapacity(estimate); lines.reserveCapacity(estimate)

        var errorOut: TiktokenError?
        // Decoded bytes are at most 3/4 of the base64 before them, so this never grows; written through a
        // pointer (an append per byte was a third of the parse).
        let storage = [UInt8](unsafeUninitializedCapacity: bytes.count / 4 * 3 &+ 3) { out, initialized in
            initialized = 0
            guard let o = out.baseAddress else { return }
            bytes.withUnsafeBufferPointer { buf in base64Values.withUnsafeBufferPointer { table in
                let n = buf.count
                guard let p = buf.baseAddress, let t = table.baseAddress else { return }
                var w = 0
                var i = 0
                var line = 0
                while i < n {
                    line &+= 1
                    // The usual line (`base64 SP digits LF`) in one pass; anything else from the line start below.
                    let fastStart = w
                    if fastLines, let (next, rank) = fastLine(p, n, i, t, o, &w) {
                        starts.append(Int32(truncatingIfNeeded: fastStart)); fileRanks.append(rank)
                        lines.append(Int32(truncatingIfNeeded: line))
                        i = next
                        continue
                    }
                    var e = i
                    while e < n && p[e] != 0x0A { e &+= 1 }
                    var lineEnd = e
                    if lineEnd > i && p[lineEnd &- 1] == 0x0D { lineEnd &-= 1 }
                    defer { i = e &+ 1 }
                    if lineEnd == i { continue }
                    var sp = i
                    while sp < lineEnd && p[sp] != 0x20 { sp &+= 1 }
                    if sp == lineEnd { errorOut = .missingRank(file: file, line: line); return }
                    if sp == i { errorOut = .invalidBase64(file: file, line: line, column: 1); return }
                    let tokenStart = w
                    if let bad = decodeBase64(p, i, sp, into: o, &w) {
                        errorOut = .invalidBase64(file: file, line: line, column: bad &- i &+ 1); return
                    }
                    var j = sp &+ 1
                    if j == lineEnd { errorOut = .missingRank(file: file, line: line); return }
                    var rank = 0
                    let rankStart = j
                    while j < lineEnd && p[j] != 0x20 {
                        let d = Int(p[j]) &- 0x30
                        if d < 0 || d > 9 || j &- rankStart >= 10 {
                            var k = rankStart
                            while k < lineEnd && p[k] != 0x20 { k &+= 1 }
                            errorOut = .invalidRank(file: file, line: line,
                                                    text: String(decoding: buf[rankStart..<k], as: UTF8.self))
                            return
                        }
                        rank = rank &* 10 &+ d
                        j &+= 1
                    }
                    if j < lineEnd { errorOut = .extraField(file: file, line: line); return }
                    if rank > Int(Int32.max) {
                        errorOut = .invalidRank(file: file, line: line,
                                                text: String(decoding: buf[rankStart..<lineEnd], as: UTF8.self))
                        return
                    }
                    starts.append(Int32(truncatingIfNeeded: tokenStart))
                    fileRanks.append(Int32(truncatingIfNeeded: rank))
                    lines.append(Int32(truncatingIfNeeded: line))
                }
                initialized = w
            } }
        }
        if let e = errorOut { throw e }
        let count = starts.count
        starts.append(Int32(truncatingIfNeeded: storage.count))

        // Order by rank, checking duplicates and gaps.
        var inOrder = true
        for k in 0..<count where Int(fileRanks[k]) != k { inOrder = false; break }
        var finalStorage = storage
        var offsets = starts
        if !inOrder {
            var slotOf = [Int32](repeating: -1, count: count)
            for k in 0..<count {
                let r = Int(fileRanks[k])
                if r >= count {
                    // Some rank below count must then be missing.
                    var seen = [Bool](repeating: false, count: count)
                    for q in 0..<count where Int(fileRanks[q]) < count { seen[Int(fileRanks[q])] = true }
                    throw .nonContiguousRanks(file: file, missing: seen.firstIndex(of: false) ?? count, count: count)
                }
                if slotOf[r] >= 0 {
                    throw .duplicateRank(file: file, line: Int(lines[k]), rank: r, firstLine: Int(lines[Int(slotOf[r])]))
                }
                slotOf[r] = Int32(truncatingIfNeeded: k)
            }
            finalStorage = []
            finalStorage.reserveCapacity(storage.count)
            offsets = [0]
            offsets.reserveCapacity(count &+ 1)
            var newLines = [Int32]()
            newLines.reserveCapacity(count)
            for r in 0..<count {
                let k = Int(slotOf[r])
                finalStorage.append(contentsOf: storage[Int(starts[k])..<Int(starts[k &+ 1])])
                offsets.append(Int32(truncatingIfNeeded: finalStorage.count))
                newLines.append(lines[k])
            }
            lines = newLines
        }
        self.storage = finalStorage
        self.offsets = offsets

        // Duplicate tokens.
        guard checkDuplicateTokens else { return }
        var table = ByteSpanTable(capacity: count)
        let dup: (Int, Int)? = finalStorage.withUnsafeBufferPointer { s in
            offsets.withUnsafeBufferPointer { o in
                let base = s.baseAddress ?? UnsafePointer(bitPattern: 1)!
                for r in 0..<count {
                    let prev = table.insert(Int32(r), storage: base, offsets: o.baseAddress!)
                    if prev >= 0 { return (r, Int(prev)) }
                }
                return nil
            }
        }
        if let (r, first) = dup {
            let l1 = Int(lines[r]), l0 = Int(lines[first])
            throw .duplicateToken(file: file, line: max(l0, l1), firstLine: min(l0, l1))
        }
    }

    /// The file in `tiktoken.load.dump_tiktoken_bpe` format: `base64(token) SP rank LF`, sorted by rank.
    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(storage.count * 2 &+ count &* 8)
        storage.withUnsafeBufferPointer { s in
            for r in 0..<count {
                let a = Int(offsets[r]), b = Int(offsets[r &+ 1])
                encodeBase64(UnsafeBufferPointer(rebasing: s[a..<b]), into: &out)
                out.append(0x20)
                appendDecimal(r, to: &out)
                out.append(0x0A)
            }
        }
        return out
    }

    /// Writes `serialized()` to `path`.
    public func write(to path: String) throws(TiktokenError) {
        do { try BinaryFile.write(serialized(), to: path) } catch { throw .io(error) }
    }

    /// A hash lookup from token bytes to rank.
    public func makeRankTable() -> TiktokenRankTable { TiktokenRankTable(self) }
}

/// Token bytes → rank for a `TiktokenFile` (open addressing, built once).
public struct TiktokenRankTable: Sendable {
    public let file: TiktokenFile
    let table: ByteSpanTable

    public init(_ file: TiktokenFile) {
        self.file = file
        var t = ByteSpanTable(capacity: file.count)
        file.storage.withUnsafeBufferPointer { s in
            file.offsets.withUnsafeBufferPointer { o in
                let base = s.baseAddress ?? UnsafePointer(bitPattern: 1)!
                for r in 0..<file.count { _ = t.insert(Int32(r), storage: base, offsets: o.baseAddress!) }
            }
        }
        table = t
    }

    /// The rank of `bytes`, or nil.
    public func rank(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let p = bytes.baseAddress else {
            return rank(of: [UInt8]())
        }
        let r = file.storage.withUnsafeBufferPointer { s in
            file.offsets.withUnsafeBufferPointer { o in
                table.find(p, bytes.count, storage: s.baseAddress ?? UnsafePointer(bitPattern: 1)!, offsets: o.baseAddress!)
            }
        }
        return r < 0 ? nil : Int(r)
    }

    public func rank(of bytes: [UInt8]) -> Int? {
        if bytes.isEmpty {
            for r in 0..<file.count where file.offsets[r] == file.offsets[r &+ 1] { return r }
            return nil
        }
        return bytes.withUnsafeBufferPointer { rank(of: $0) }
    }

    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, storage: UnsafePointer<UInt8>, offsets: UnsafePointer<Int32>) -> Int32 {
        table.find(p, n, storage: storage, offsets: offsets)
    }
}

/// The line at `i` if it is `base64 SP digits` followed by LF or the end, with canonical padding and a rank of
/// at most 9 digits (`t`: `base64Values`): its token decoded to `out + written` (advanced), the offset after the line and
/// the rank. Otherwise nil, with `written` unchanged, and the general code reads the line (and finds any error)
/// as if this had not looked: what this accepts, it reads the same.
@inline(__always)
func fastLine(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ t: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt8>,
              _ written: inout Int) -> (Int, Int32)? {
    var q = i, w = written
    // Whole quads of four base64 characters.
    while q &+ 4 < n {
        let a = t[Int(p[q])], b = t[Int(p[q &+ 1])], c = t[Int(p[q &+ 2])], d = t[Int(p[q &+ 3])]
        if (a | b | c | d) & 0xC0 != 0 { break }
        out[w] = a << 2 | b >> 4
        out[w &+ 1] = (b & 0xF) << 4 | c >> 2
        out[w &+ 2] = (c & 0x3) << 6 | d
        w &+= 3; q &+= 4
    }
    // A padded last quad.
    if q &+ 4 < n && p[q &+ 4] == 0x20 && p[q] != 0x20 {
        let a = t[Int(p[q])], b = t[Int(p[q &+ 1])], c = t[Int(p[q &+ 2])], d = t[Int(p[q &+ 3])]
        guard (a | b) & 0xC0 == 0, d == 0x40 else { return nil }
        if c == 0x40 {
            guard b & 0xF == 0 else { return nil }
            out[w] = a << 2 | b >> 4; w &+= 1
        } else {
            guard c & 0xC0 == 0, c & 0x3 == 0 else { return nil }
            out[w] = a << 2 | b >> 4; out[w &+ 1] = (b & 0xF) << 4 | c >> 2; w &+= 2
        }
        q &+= 4
    }
    guard q > i, q < n, p[q] == 0x20 else { return nil }
    // Up to 9 digits (a tenth, and anything but LF or the end after them, is left to the general code).
    var j = q &+ 1
    var rank = 0
    while j < n && j &- q <= 9 {
        let d = p[j] &- 0x30
        if d > 9 { break }
        rank = rank &* 10 &+ Int(d); j &+= 1
    }
    guard j > q &+ 1, j == n || p[j] == 0x0A else { return nil }
    written = w
    return (j == n ? n : j &+ 1, Int32(truncatingIfNeeded: rank))
}

func appendDecimal(_ v: Int, to out: inout [UInt8]) {
    if v == 0 { out.append(0x30); return }
    var m = v.magnitude
    if v < 0 { out.append(0x2D) }
    let start = out.count
    while m > 0 { out.append(UInt8(m % 10) &+ 0x30); m /= 10 }
    out[start...].reverse()
}
