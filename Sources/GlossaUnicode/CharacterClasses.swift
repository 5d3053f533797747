internal import CICU

/// Unicode general category, numbered as ICU's `UCharCategory`.
public enum GeneralCategory: UInt8, Sendable {
    case unassigned = 0, uppercaseLetter, lowercaseLetter, titlecaseLetter, modifierLetter, otherLetter
    case nonSpacingMark, enclosingMark, combiningSpacingMark
    case decimalDigitNumber, letterNumber, otherNumber
    case spaceSeparator, lineSeparator, paragraphSeparator
    case control, format, privateUse, surrogate
    case dashPunctuation, startPunctuation, endPunctuation, connectorPunctuation, otherPunctuation
    case mathSymbol, currencySymbol, modifierSymbol, otherSymbol
    case initialPunctuation, finalPunctuation
}

/// Per-code-point classes packed in one byte: the general category in the low 5 bits,
/// `White_Space` in bit 5 and `Alphabetic` in bit 6. Built once from ICU, then a plain
/// table lookup so the pre-tokenizer scanners never call into ICU on the hot path.
public struct CharacterClasses: @unchecked Sendable {
    public static let shared = CharacterClasses()

    public static let whiteSpaceBit: UInt8 = 0x20
    public static let alphabeticBit: UInt8 = 0x40

    /// Two-stage table: `index[cp >> 8]` selects a 256-entry block in `blocks`.
    @usableFromInline let index: UnsafeMutablePointer<UInt16>
    @usableFromInline let blocks: UnsafeMutablePointer<UInt8>

    private init() {
        // One flat table from ICU's range enumerations (a few milliseconds), then shared 256-entry blocks.
        let count = 0x110000
        let flat = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        defer { flat.deallocate() }
        flat.initialize(repeating: 0, count: count)
        cicu_fillCategories(flat)
        var err = U_ZERO_ERROR
        cicu_markProperty(flat, cicu_propWhiteSpace(), Self.whiteSpaceBit, &err)
        cicu_markProperty(flat, cicu_propAlphabetic(), Self.alphabeticBit, &err)
        precondition(cicu_failure(err) == 0, "ICU property sets unavailable")
        let planeBlocks = count >> 8
        var firstWithHash: [UInt64: [UInt16]] = [:]
        var blockStarts: [Int] = []      // flat offset of each unique block
        index = .allocate(capacity: planeBlocks)
        for b in 0..<planeBlocks {
            let p = flat + (b << 8)
            // Eight bytes at a time (the hash only picks candidates; `equalBlocks` decides).
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for i in 0..<32 {
                h = (h ^ UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)) &* 0x100_0000_01B3
                h ^= h &>> 29
            }
            var found: UInt16?
            for k in firstWithHash[h] ?? [] where Self.equalBlocks(flat + blockStarts[Int(k)], p) { found = k; break }
            if let found { index[b] = found } else {
                let k = UInt16(blockStarts.count)
                blockStarts.append(b << 8)
                firstWithHash[h, default: []].append(k)
                index[b] = k
            }
        }
        blocks = .allocate(capacity: blockStarts.count * 256)
        for (k, start) in blockStarts.enumerated() { (blocks + k * 256).initialize(from: flat + start, count: 256) }
    }

    /// Code points whose table entry differs from ICU's per-code-point answers (0 when the table is right).
    public func mismatchesAgainstICU() -> Int {
        var bad = 0
        let ws = cicu_propWhiteSpace(), alpha = cicu_propAlphabetic()
        for cp in 0..<Int32(0x110000) {
            var v = UInt8(truncatingIfNeeded: cicu_charType(cp)) & 0x1F
            if cicu_hasBinaryProperty(cp, ws) != 0 { v |= Self.whiteSpaceBit }
            if cicu_hasBinaryProperty(cp, alpha) != 0 { v |= Self.alphabeticBit }
            if raw(UInt32(cp)) != v { bad += 1 }
        }
        return bad
    }

    private static func equalBlocks(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>) -> Bool {
        let x = UnsafeRawPointer(a), y = UnsafeRawPointer(b)
        for i in 0..<32 where x.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)
            != y.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self) { return false }
        return true
    }

    /// The packed class byte of a scalar value (0 for values outside Unicode).
    @inlinable @inline(__always)
    public func raw(_ cp: UInt32) -> UInt8 {
        if cp >= 0x110000 { return 0 }
        return blocks[Int(index[Int(cp &>> 8)]) &* 256 &+ Int(cp & 0xFF)]
    }

    @inlinable public func category(_ cp: UInt32) -> GeneralCategory {
        GeneralCategory(rawValue: raw(cp) & 0x1F) ?? .unassigned
    }
    /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
    @inlinable @inline(__always) public func isLetter(_ cp: UInt32) -> Bool {
        let c = raw(cp) & 0x1F; return c >= 1 && c <= 5
    }
    /// `\p{N}`: Nd, Nl, No.
    @inlinable @inline(__always) public func isNumber(_ cp: UInt32) -> Bool {
        let c = raw(cp) & 0x1F; return c >= 9 && c <= 11
    }
    /// `\p{M}`: Mn, Me, Mc.
    @inlinable @inline(__always) public func isMark(_ cp: UInt32) -> Bool {
        let c = raw(cp) & 0x1F; return c >= 6 && c <= 8
    }
    /// `\s` in Oniguruma, fancy-regex and Rust's `char::is_whitespace`: the `White_Space` property.
    @inlinable @inline(__always) public func isWhiteSpace(_ cp: UInt32) -> Bool {
        raw(cp) & Self.whiteSpaceBit != 0
    }
    @inlinable @inline(__always) public func isAlphabetic(_ cp: UInt32) -> Bool {
        raw(cp) & Self.alphabeticBit != 0
    }
    /// Punctuation categories Pc, Pd, Ps, Pe, Pi, Pf, Po.
    @inlinable @inline(__always) public func isPunctuation(_ cp: UInt32) -> Bool {
        let c = raw(cp) & 0x1F; return (c >= 19 && c <= 23) || c == 28 || c == 29
    }
    /// Symbol categories Sm, Sc, Sk, So.
    @inlinable @inline(__always) public func isSymbol(_ cp: UInt32) -> Bool {
        let c = raw(cp) & 0x1F; return c >= 24 && c <= 27
    }
}

/// The Unicode version of the ICU build behind these tables (e.g. "15.0").
public func icuUnicodeVersion() -> String {
    var v = [UInt8](repeating: 0, count: 4)
    v.withUnsafeMutableBufferPointer { cicu_unicodeVersion($0.baseAddress) }
    return "\(v[0]).\(v[1])"
}
