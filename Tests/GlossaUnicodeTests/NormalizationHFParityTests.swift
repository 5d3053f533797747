import Testing
#if canImport(Glibc)
import Glibc
#endif
import GlossaUnicode

/// Whole-code-point-range parity with HF tokenizers 0.23.3. Runs only when GLOSSA_HF_PERCP names a dump made
/// by this script (one line per code point, columns = hex UTF-8 of each normalizer's output on that single
/// character):
///
///     from tokenizers import normalizers as N
///     B = lambda **k: N.BertNormalizer(**{**dict(clean_text=False, handle_chinese_chars=False,
///                                                 strip_accents=False, lowercase=False), **k})
///     ns = [B(clean_text=True), B(handle_chinese_chars=True), B(strip_accents=True), N.StripAccents(),
///           N.Lowercase(), N.NFD(), N.NFC(), N.NFKD(), N.NFKC(), N.Nmt()]
///     for cp in range(0x110000):
///         if 0xD800 <= cp < 0xE000: continue
///         print(cp, *[n.normalize_str(chr(cp)).encode().hex() for n in ns], sep="\t")
@Suite struct NormalizationHFParityTests {
    static let path: String? = getenv("GLOSSA_HF_PERCP").map { String(cString: $0) }

    @Test(.enabled(if: path != nil)) func everyCodePoint() throws {
        guard let fp = fopen(Self.path!, "r") else { Issue.record("cannot open"); return }
        defer { fclose(fp) }
        var lines: [String] = []
        var buf = [CChar](repeating: 0, count: 4096)
        while fgets(&buf, 4096, fp) != nil {
            lines.append(cLine(buf).trimmingSuffixNewline())
        }
        let names = ["clean", "chinese", "bertstrip", "strip", "lower", "nfd", "nfc", "nfkd", "nfkc", "nmt"]
        var mismatches = [String: [UInt32]]()
        func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            let cp = UInt32(f[0])!
            var bytes: [UInt8] = []
            UTF8Scan.append(cp, to: &bytes)
            for (k, name) in names.enumerated() {
                var n = NormalizedText(bytes)
                switch name {
                case "clean": n.bertCleanText()
                case "chinese": n.bertHandleChineseChars()
                case "bertstrip": n.bertStripAccents()
                case "strip": n.stripAccents()
                case "lower": n.lowercase()
                case "nfd": n.nfd()
                case "nfc": n.nfc()
                case "nfkd": n.nfkd()
                case "nfkc": n.nfkc()
                default: n.nmt()
                }
                if hex(n.normalized) != String(f[k + 1]) { mismatches[name, default: []].append(cp) }
            }
        }
        for name in names {
            let m = mismatches[name] ?? []
            print("PARITY \(name): \(m.count) mismatches: \(m.prefix(400).map { String($0, radix: 16) })")
            if name == "lower" { print("LOWERMAP", m.map { cp in "\(String(cp, radix: 16)):" + (lines.first { $0.hasPrefix("\(cp)\t") }?.split(separator: "\t")[5] ?? "") }) }
        }
        #expect(mismatches.isEmpty)
    }
}

extension NormalizationHFParityTests {
    static let upperPath: String? = getenv("GLOSSA_HF_UPPER").map { String(cString: $0) }

    /// GLOSSA_HF_UPPER names the code points that HF's `NormalizedString.uppercase()` changes:
    ///     for cp in range(0x110000):  # skipping surrogates
    ///         n = NormalizedString(chr(cp)); n.uppercase()
    ///         if n.normalized != chr(cp): print(cp, n.normalized.encode().hex(), sep="\t")
    @Test(.enabled(if: upperPath != nil)) func uppercaseEveryCodePoint() throws {
        guard let fp = fopen(Self.upperPath!, "r") else { Issue.record("cannot open"); return }
        defer { fclose(fp) }
        var expected = [UInt32: String]()
        var buf = [CChar](repeating: 0, count: 256)
        while fgets(&buf, 256, fp) != nil {
            let f = cLine(buf).trimmingSuffixNewline().split(separator: "\t")
            expected[UInt32(f[0])!] = String(f[1])
        }
        var bad: [String] = []
        for cp in UInt32(0)..<0x110000 where !(0xD800..<0xE000).contains(cp) {
            var bytes: [UInt8] = []
            UTF8Scan.append(cp, to: &bytes)
            var n = NormalizedText(bytes)
            n.uppercase()
            var want = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            if let w = expected[cp] { want = w }
            let got = n.normalized.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            if got != want { bad.append("\(String(cp, radix: 16)):\(want)") }
        }
        print("PARITY upper: \(bad.count) mismatches: \(bad)")
        #expect(bad.isEmpty)
    }
}

extension String {
    func trimmingSuffixNewline() -> String {
        var s = self
        while s.last == "\n" || s.last == "\r" { s.removeLast() }
        return s
    }
}

/// The text of a line `fgets` read into `buf` (up to its terminating zero).
private func cLine(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
