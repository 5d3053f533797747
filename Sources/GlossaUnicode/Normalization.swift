internal import CICU

/// The four Unicode normalization forms.
public enum NormalizationForm: Sendable {
    case nfc, nfd, nfkc, nfkd
}

/// ICU normalizer singletons (immutable, thread-safe).
struct ICUNormalizers: @unchecked Sendable {
    static let shared = ICUNormalizers()
    let nfc: OpaquePointer
    let nfd: OpaquePointer
    let nfkc: OpaquePointer
    let nfkd: OpaquePointer

    private init() {
        var e = U_ZERO_ERROR
        nfc = cicu_nfc(&e)!
        nfd = cicu_nfd(&e)!
        nfkc = cicu_nfkc(&e)!
        nfkd = cicu_nfkd(&e)!
        precondition(cicu_failure(e) == 0, "ICU normalizers unavailable")
    }

    func instance(_ f: NormalizationForm) -> OpaquePointer {
        switch f {
        case .nfc: return nfc
        case .nfd: return nfd
        case .nfkc: return nfkc
        case .nfkd: return nfkd
        }
    }
}

/// One character of a decomposition in progress: scalar, HF change, canonical combining class.
@usableFromInline struct DecomposedChar {
    @usableFromInline var cp: UInt32
    @usableFromInline var change: Int32
    @usableFromInline var ccc: UInt8
}

extension NormalizedText {
    /// HF `nfd()`.
    public mutating func nfd() { normalize(.nfd) }
    /// HF `nfkd()`.
    public mutating func nfkd() { normalize(.nfkd) }
    /// HF `nfc()`.
    public mutating func nfc() { normalize(.nfc) }
    /// HF `nfkc()`.
    public mutating func nfkc() { normalize(.nfkc) }

    /// Normalizes with HF's alignment reporting (that of the `unicode-normalization-alignments` crate):
    /// each input character decomposes into characters with change 0 (first) and +1 (others), marks are
    /// canonically reordered (stable, changes travel with the characters), and each canonical composition
    /// of a composee `k` with `c` yields change `k.change + c.change - 1`.
    /// Already-normalized text (ASCII, or ICU quick check "yes") is left untouched.
    public mutating func normalize(_ form: NormalizationForm) {
        if normalized.isEmpty || isASCII { return }
        let icu = ICUNormalizers.shared
        let inst = icu.instance(form)
        if NormalizedText.quickCheckYes(normalized, inst) { return }
        let compose = form == .nfc || form == .nfkc
        let compat = form == .nfkc || form == .nfkd
        let decomp = compat ? icu.nfkd : icu.nfd

        // 1. Decompose (with changes) and reorder marks.
        var chars: [DecomposedChar] = []
        chars.reserveCapacity(normalized.count &+ 8)
        var u16 = [UInt16](repeating: 0, count: 64)
        normalized.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            let n = p.count
            var i = 0
            var pendingStart = 0   // start of the current run of non-starters
            @inline(__always) func push(_ cp: UInt32, _ change: Int32) {
                var ccc = cp < 0x300 ? UInt8(0) : UInt8(truncatingIfNeeded: cicu_getCombiningClass(Int32(bitPattern: cp)))
                if ccc != 0 && !NormalizedText.knownToHF(cp) { ccc = 0 }
                if ccc == 0 {
                    NormalizedText.sortMarks(&chars, from: pendingStart)
                    chars.append(DecomposedChar(cp: cp, change: change, ccc: 0))
                    pendingStart = chars.count
                } else {
                    chars.append(DecomposedChar(cp: cp, change: change, ccc: ccc))
                }
            }
            while i < n {
                let (c, len) = UTF8Scan.decode(base, i)
                i &+= len
                if c < 0xA0 || (c < 0xC0 && !compat) { push(c, 0); continue }
                var e = U_ZERO_ERROR
                let dl = u16.withUnsafeMutableBufferPointer {
                    cicu_getDecomposition(decomp, Int32(bitPattern: c), $0.baseAddress, 64, &e)
                }
                if dl < 0 || cicu_failure(e) != 0 || !NormalizedText.knownToHF(c) { push(c, 0); continue }
                var k = 0
                var first = true
                while k < Int(dl) {
                    var cp = UInt32(u16[k]); k &+= 1
                    if cp & 0xFC00 == 0xD800 && k < Int(dl) && u16[k] & 0xFC00 == 0xDC00 {
                        cp = 0x10000 &+ ((cp & 0x3FF) << 10) &+ (UInt32(u16[k]) & 0x3FF); k &+= 1
                    }
                    push(cp, first ? 0 : 1)
                    first = false
                }
            }
            NormalizedText.sortMarks(&chars, from: pendingStart)
        }

        // 2. Emit (after canonical composition for NFC / NFKC).
        let nfcInst = icu.nfc
        transform(extraCapacity: chars.count &* 2) { w in
            if !compose {
                for d in chars { w.emit(d.cp, change: Int(d.change)) }
                return
            }
            var composee: (cp: UInt32, change: Int)? = nil
            var lastCCC: Int = -1          // -1: nothing buffered since the composee
            var buffer: [(UInt32, Int)] = []
            for d in chars {
                let ch = d.cp, chg = Int(d.change), cc = Int(d.ccc)
                guard let k = composee else {
                    if cc != 0 { w.emit(ch, change: chg) } else { composee = (ch, chg) }
                    continue
                }
                if lastCCC >= 0 && lastCCC >= cc {
                    // Blocked from the composee.
                    if cc == 0 {
                        w.emit(k.cp, change: k.change)
                        for (b, bc) in buffer { w.emit(b, change: bc) }
                        buffer.removeAll(keepingCapacity: true)
                        composee = (ch, chg)
                        lastCCC = -1
                    } else {
                        buffer.append((ch, chg)); lastCCC = cc
                    }
                    continue
                }
                let r = cicu_composePair(nfcInst, Int32(bitPattern: k.cp), Int32(bitPattern: ch))
                if r >= 0 && NormalizedText.knownToHF(UInt32(bitPattern: r)) {
                    composee = (UInt32(bitPattern: r), k.change &+ chg &- 1)
                    continue
                }
                if lastCCC < 0 && cc == 0 {
                    w.emit(k.cp, change: k.change)
                    composee = (ch, chg)
                    continue
                }
                buffer.append((ch, chg)); lastCCC = cc
            }
            if let k = composee { w.emit(k.cp, change: k.change) }
            for (b, bc) in buffer { w.emit(b, change: bc) }
        }
    }

    /// Whether HF's normalization data (Unicode 9) knows `cp`; later characters neither decompose, compose
    /// nor reorder there.
    @inline(__always) static func knownToHF(_ cp: UInt32) -> Bool {
        let age = cicu_charAge(Int32(bitPattern: cp))
        return age != 0 && age <= HFUnicodeTables.normalizationVersion
    }

    /// Stable insertion sort by combining class of `chars[from...]` (runs are short).
    @usableFromInline static func sortMarks(_ chars: inout [DecomposedChar], from: Int) {
        let n = chars.count
        if n &- from < 2 { return }
        var i = from &+ 1
        while i < n {
            let x = chars[i]
            var j = i &- 1
            while j >= from && chars[j].ccc > x.ccc { chars[j &+ 1] = chars[j]; j &-= 1 }
            chars[j &+ 1] = x
            i &+= 1
        }
    }

    /// ICU quick check over the UTF-16 form of `bytes`: true when the text is certainly normalized.
    static func quickCheckYes(_ bytes: [UInt8], _ inst: OpaquePointer) -> Bool {
        var u16: [UInt16] = []
        u16.reserveCapacity(bytes.count)
        bytes.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            var i = 0
            while i < p.count {
                let (c, len) = UTF8Scan.decode(base, i)
                i &+= len
                if c < 0x10000 { u16.append(UInt16(truncatingIfNeeded: c)) } else {
                    let v = c &- 0x10000
                    u16.append(UInt16(truncatingIfNeeded: 0xD800 | (v >> 10)))
                    u16.append(UInt16(truncatingIfNeeded: 0xDC00 | (v & 0x3FF)))
                }
            }
        }
        var e = U_ZERO_ERROR
        let span = u16.withUnsafeBufferPointer { cicu_spanQuickCheckYes(inst, $0.baseAddress, Int32($0.count), &e) }
        return cicu_failure(e) == 0 && Int(span) == u16.count
    }
}
