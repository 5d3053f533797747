import Foundation
import Testing
import GlossaJSON
@testable import GlossaTokenizers

/// `model.vocab` and `model.merges` are scanned from the raw bytes (`HFModelScan`); the general parser and
/// reader are the reference: the same tokenizer, or the same error, for every file.
@Suite struct HuggingFaceScanTests {
    /// A tokenizer's vocabulary, merges and the ids of `samples`, or the error text.
    func describe(_ bytes: [UInt8], scanModel: Bool, earlyMerges: Bool? = false, samples: [String]) -> String {
        do {
            let t = try HuggingFaceReader.read(bytes: bytes, file: "t.json", scanModel: scanModel, earlyMerges: earlyMerges)
            var out = ""
            switch t.model {
            case .bpe(let m):
                out += "vocab \(m.vocabulary.tokens) holes \(m.vocabulary.holeCount) merges \(m.merges.map { [$0.0, $0.1] })"
                out += " lookup \(m.lookup.allEntries.map { "\($0.key)=\($0.value)" })"
            case .wordPiece(let m):
                out += "wordpiece \(m.vocabulary.tokens)"
            }
            for s in samples { out += " ids(\(s)) \(try t.encode(s).ids)" }
            return out
        } catch {
            return "error: \(error)"
        }
    }

    /// Which of vocab and merges the scan took (nil when the document does not parse).
    func scanned(_ bytes: [UInt8], earlyMerges: Bool? = nil) -> (vocab: Bool, merges: Bool)? {
        let scan = HFModelScan(document: FileBytes(bytes), earlyMerges: earlyMerges)
        guard (try? JSONDocument(bytes: bytes, intercept: scan.intercept)) != nil else { return nil }
        return (scan.vocab != nil, scan.merges != nil)
    }

    func bpe(_ vocab: String, _ merges: String, extra: String = "") -> [UInt8] {
        Array("{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"\(extra), \"vocab\": \(vocab), \"merges\": \(merges)}}".utf8)
    }

    static let valid: [(String, String, String)] = [
        ("plain", #"{"a": 0, "b": 1, "ab": 2}"#, #"["a b"]"#),
        ("pair form", #"{"a": 0, "b": 1, "ab": 2}"#, #"[["a", "b"]]"#),
        ("mixed forms, odd whitespace, repeated merge", "{ \"a\" :0 ,\r\n\t\"b\":1,\"ab\" : 2,\"c\":3,\"abc\":4}",
         "[ \"a b\" ,\n[ \"ab\" , \"c\" ],[\"a\",\"b\"] ]"),
        ("escapes", #"{"\"": 0, "\\": 1, "\"\\": 2, "\u00e9": 3, "\/": 4, "é\/": 5, "plain ascii key": 6}"#,
         #"["\" \\", ["\u00e9", "\/"]]"#),
        ("ids out of order, a hole", #"{"b": 1, "ab": 3, "a": 0}"#, #"["a b"]"#),
        ("long ASCII keys", #"{"abcdefghij": 0, "klmnopqrstuvwxyz0123": 1, "abcdefghijklmnopqrstuvwxyz0123": 2}"#,
         #"["abcdefghij klmnopqrstuvwxyz0123"]"#),
        ("empty", "{}", "[]"),
        ("zero and a far id", #"{"a": 0, "b": 1000}"#, "[]"),
    ]

    @Test(arguments: valid)
    func unusualButValidFilesReadAlike(_ c: (String, String, String)) throws {
        let bytes = bpe(c.1, c.2)
        let samples = ["ab", "abc", "\"\\", "é/", "abcdefghijklmnopqrstuvwxyz0123"]
        let fast = describe(bytes, scanModel: true, samples: samples)
        #expect(fast == describe(bytes, scanModel: false, samples: samples), "\(c.0)")
        #expect(fast == describe(bytes, scanModel: true, earlyMerges: true, samples: samples), "\(c.0)")
        #expect(!fast.hasPrefix("error") || c.0 == "empty", "\(c.0): \(fast)")
        for early in [false, true] {
            let took = try #require(scanned(bytes, earlyMerges: early))
            #expect(took.vocab && took.merges, "\(c.0)")
        }
    }

    /// The early merges scan starts where a byte search finds `"merges": [`; when that is not the array the
    /// parser intercepts (a decoy before it, an escaped key, merges before the vocabulary, none), the parser's
    /// own scan is used, and the result is the general reader's.
    @Test(arguments: [
        ("decoy object first", #"{"decoder": {"type": "Fuse", "merges": ["x y"]}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}"#),
        ("escaped key in a token", #"{"model": {"type": "BPE", "vocab": {""merges": [": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"]}}"#),
        ("merges before vocab", #"{"model": {"type": "BPE", "merges": [["a", "b"]], "vocab": {"a": 0, "b": 1, "ab": 2}}}"#),
        ("spaced key", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\" \r\n:\t [\"a b\"]}}"),
        ("declined early scan", #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", 5]}}"#),
        ("no merges key", #"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "merges": 1}}}"#),
        ("merges key not an array", #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": {}}}"#),
    ])
    func earlyMergesScanFallsBackWhereItGuessedWrong(_ c: (String, String)) throws {
        let bytes = Array(c.1.utf8)
        let general = describe(bytes, scanModel: false, samples: ["ab"])
        #expect(describe(bytes, scanModel: true, earlyMerges: true, samples: ["ab"]) == general, "\(c.0)")
        #expect(describe(bytes, scanModel: true, earlyMerges: false, samples: ["ab"]) == general, "\(c.0)")
    }

    /// The sixteen-byte plain-string scan against the parser's string scan: whatever it accepts, the parser accepts
    /// with the same end and no escapes, over random bodies of ASCII, quotes, backslashes, controls, two-byte
    /// sequences (valid, overlong C0/C1, cut short, lone continuation bytes) and three-byte characters at every
    /// offset against the 16-byte steps and the byte-wise tail; and it takes the usual token forms (ASCII and
    /// "Ġ"-like pairs) itself, however few bytes follow the closing quote.
    @Test func plainStringScanAgreesWithTheParser() {
        var rng = BacktrackingTests.Rng(s: 2026)
        let pieces: [[UInt8]] = [[0x61], [0x7A, 0x30], [0xC4, 0xA0], [0xC3, 0xA9], [0xDF, 0xBF], [0xC2, 0x80], [0x7F], [0x20],
                                 [0xC0, 0x80], [0xC1, 0xBF], [0xC4], [0xA0], [0xE4, 0xB8, 0xAD], [0x5C, 0x6E], [0x09], [0xC4, 0x22]]
        var accepted = 0
        for round in 0..<20_000 {
            var body: [UInt8] = Array(repeating: 0x78, count: rng.below(9))
            for _ in 0..<rng.below(12) {
                let k = rng.below(pieces.count)
                // Invalid or stopping pieces in about one body in three.
                body += k >= 8 && rng.below(8) != 0 ? pieces[rng.below(8)] : pieces[k]
            }
            let doc = [0x22] + body + [0x22] + Array(repeating: 0x20, count: rng.below(10))
            let parsed = doc.withUnsafeBufferPointer { JSONScan.string($0, at: 0) }
            let plain = doc.withUnsafeBufferPointer { HFModelScan.plainString($0.baseAddress!, $0.count, 1) }
            if let plain {
                accepted += 1
                #expect(parsed?.end == plain && parsed?.escaped == false, "round \(round): \(body)")
            }
            // Bodies of ASCII and valid two-byte sequences are always taken.
            let simple = !body.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0xE0 || $0 == 0xC0 || $0 == 0xC1 }
                && String(validating: body, as: UTF8.self) != nil
            if simple { #expect(plain == body.count + 1, "round \(round): \(body)") }
        }
        #expect(accepted > 5_000)
    }

    /// Generated vocabularies and merges for the scan's shortcuts (eight-byte id parse, plain-string scan,
    /// whitespace runs): tokens of ASCII, two- and three-byte UTF-8, escapes and invalid bytes at every offset
    /// against the eight-byte words, ids of 1–10 digits (leading zeros, fractions, exponents), whitespace
    /// runs of every length, documents cut anywhere. The scan reads each exactly as the general reader does.
    @Test func generatedFilesReadAlike() {
        var rng = BacktrackingTests.Rng(s: 77)
        let pieces: [[UInt8]] = [Array("a".utf8), Array("bc".utf8), Array("Ġ".utf8), Array("é".utf8), Array("中".utf8),
                                 Array(#"""#.utf8), Array(#"é"#.utf8), [0xC2, 0x41], [0xC0, 0x80], [0x80], [0xDF, 0xBF],
                                 [0x7F], Array("xyzwvuts".utf8), [0x09]]
        let spaces: [[UInt8]] = [[], [0x20], [0x0A] + [UInt8](repeating: 0x20, count: 6), [0x0D, 0x0A, 0x09],
                                 [UInt8](repeating: 0x20, count: 17), [0x0A, 0x20, 0x0A, 0x20]]
        for round in 0..<300 {
            var vocab: [UInt8] = [0x7B]
            var tokens: [[UInt8]] = []
            let count = 1 + (rng.below(6))
            for t in 0..<count {
                var tok: [UInt8] = []
                for _ in 0..<((rng.below(4))) {
                    let k = (rng.below(pieces.count))
                    // Mostly valid pieces; an invalid one in about one round in four.
                    tok += (k >= 7 && k <= 9 && rng.below(4) != 0) ? pieces[0] : pieces[k]
                }
                tok += Array("\(t)".utf8)
                tokens.append(tok)
                var id = Array(String(t).utf8)
                switch rng.below(12) {
                case 0: id = Array("0\(t)".utf8)
                case 1: id += Array(".0".utf8)
                case 2: id += Array("e1".utf8)
                case 3: id = Array(String(100_000 + t).utf8)
                case 6: id = Array(String(1_234_567 + t).utf8) + Array(".0".utf8)
                // Long ids only where they are rejected (a far id is a table that large, in either reader).
                case 4: id = Array("2147483647".utf8)
                case 5: id = Array(String(12_345_678 + t).utf8) + Array(".5".utf8)
                default: break
                }
                if t > 0 { vocab += [0x2C] }
                vocab += spaces[(rng.below(spaces.count))] + [0x22] + tok + [0x22]
                vocab += spaces[(rng.below(spaces.count))] + [0x3A] + spaces[(rng.below(spaces.count))] + id
            }
            if count > 1 { vocab += [0x2C, 0x22] + tokens[0] + tokens[1] + [0x22, 0x3A] + Array(String(count).utf8) }
            vocab += spaces[(rng.below(spaces.count))] + [0x7D]
            var merges: [UInt8] = [0x5B]
            if count > 1 { merges += spaces[(rng.below(spaces.count))] + [0x22] + tokens[0] + [0x20] + tokens[1] + [0x22] }
            merges += spaces[(rng.below(spaces.count))] + [0x5D]
            var doc = Array(#"{"model": {"type": "BPE", "vocab": "#.utf8) + vocab + Array(#", "merges": "#.utf8) + merges + Array("}}".utf8)
            if round % 10 == 9 { doc = Array(doc[0..<(rng.below(doc.count))]) }
            let general = describe(doc, scanModel: false, samples: [])
            #expect(describe(doc, scanModel: true, samples: []) == general, "round \(round): \(String(decoding: doc, as: UTF8.self))")
            #expect(describe(doc, scanModel: true, earlyMerges: true, samples: []) == general, "round \(round)")
        }
    }

    /// `count` distinct random pairs of indices below `n`.
    static func distinctPairs(_ count: Int, of n: Int, _ rng: inout BacktrackingTests.Rng) -> [(Int, Int)] {
        var seen = Set<Int>()
        var pairs: [(Int, Int)] = []
        while pairs.count < count {
            let (a, b) = (rng.below(n), rng.below(n))
            if seen.insert(a * n + b).inserted { pairs.append((a, b)) }
        }
        return pairs
    }

    /// Lists of 16,384+ merges over vocabularies of 65,536+ tokens are resolved with look-ahead (the space of
    /// "left right" found and the parts' slots prefetched 8 merges before their turn, parts of 1–8 bytes from the
    /// part index, longer ones from the table): the ids the merges name, in both forms, scanned or not, and a bad
    /// merge anywhere (a missing part, a missing merged token, two spaces) reported at its index, as the general
    /// reader reports it.
    @Test func largeMergeListsResolveWithLookAhead() throws {
        var rng = BacktrackingTests.Rng(s: 17)
        // Base tokens "q<hex>", some longer than 8 bytes; merged tokens "q<hex>q<hex>" (two q's: never a base).
        let base = (0..<50_000).map { i in "q" + String(i, radix: 16) + (i % 7 == 0 ? "_longer_part" : "") }
        let pairs = Self.distinctPairs(20_000, of: base.count, &rng)
        let tokens = base + pairs.map { base[$0.0] + base[$0.1] }
        let vocab = "{" + tokens.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ") + "}"
        func doc(_ merges: [String]) -> [UInt8] { bpe(vocab, "[" + merges.joined(separator: ", ") + "]") }
        let plain = pairs.map { "\"\(base[$0.0]) \(base[$0.1])\"" }
        let pairForm = pairs.map { "[\"\(base[$0.0])\", \"\(base[$0.1])\"]" }
        for (form, merges) in [("plain", plain), ("pair", pairForm)] {
            for scan in [true, false] {
                let t = try HuggingFaceReader.read(bytes: doc(merges), file: nil, scanModel: scan)
                guard case .bpe(let m) = t.model, case .pairs(let table) = m.rule else { Issue.record("not a BPE pair model"); return }
                #expect(m.merges.count == pairs.count, "\(form), scanned \(scan)")
                #expect(m.merges.elementsEqual(pairs) { Int($0.0) == $1.0 && Int($0.1) == $1.1 }, "\(form), scanned \(scan)")
                for k in stride(from: 0, to: pairs.count, by: 97) {
                    let v = table.lookup(Int32(pairs[k].0), Int32(pairs[k].1))
                    #expect(v == UInt64(k) << 32 | UInt64(base.count + k), "\(form), scanned \(scan), merge \(k)")
                }
            }
        }
        for round in 0..<6 {
            let k = [0, 5, 9_999, 19_992, 19_999, rng.below(pairs.count)][round]
            var bad = plain
            bad[k] = ["\"zz \(base[pairs[k].1])\"", "\"\(base[pairs[k].0]) zz\"", "\"\(base[1]) \(base[2])\"",
                      "\"\(base[pairs[k].0])  \(base[pairs[k].1])\"", "\"\(base[pairs[k].0])\"", "[\"\(base[3])\", \"zz\"]"][round]
            let general = describe(doc(bad), scanModel: false, samples: [])
            #expect(general.hasPrefix("error:") && general.contains("merges[\(k)]"), "round \(round): \(general)")
            #expect(describe(doc(bad), scanModel: true, samples: []) == general, "round \(round)")
        }
    }

    /// The look-ahead resolution of large lists (`MergeResolver.resolveSpaced`: merges of 1–8 bytes read as one
    /// word ending at their last byte) against the general reader, on what its fast path hands back: merged
    /// tokens that do not follow the list's order, escaped merges (in the scan's side buffer, the first ones
    /// less than 8 bytes into it), an empty part, a space at either end, two spaces, and merges of every length
    /// from 3 to 16 bytes.
    @Test func lookAheadResolutionMatchesTheGeneralReader() throws {
        var rng = BacktrackingTests.Rng(s: 23)
        // 68,000 tokens (look-ahead needs 65,536): base tokens "r<hex>" (2–5 bytes), every ninth with a tail that
        // makes its merges longer than 8 bytes.
        let base = (0..<50_000).map { i in "r" + String(i, radix: 16) + (i % 9 == 0 ? "xyz" : "") }
        let pairs = Self.distinctPairs(18_000, of: base.count, &rng)
        // Merged tokens after all bases, in the list's order except for a few blocks (the prediction misses there).
        var order = Array(0..<pairs.count)
        for start in [100, 7_000, 15_500] { order[start..<(start + 300)].reverse() }
        var tokens = base
        for k in order { tokens.append(base[pairs[k].0] + base[pairs[k].1]) }
        let vocab = "{" + tokens.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ") + "}"
        // Every 50th merge with an escaped "r" (\u0072): scanned into the side buffer.
        var merges = pairs.enumerated().map { k, p in
            k % 50 == 3 ? "\"\\u0072\(base[p.0].dropFirst()) \(base[p.1])\"" : "\"\(base[p.0]) \(base[p.1])\""
        }
        func doc(_ m: [String]) -> [UInt8] { bpe(vocab, "[" + m.joined(separator: ", ") + "]") }
        let general = describe(doc(merges), scanModel: false, samples: [])
        #expect(!general.hasPrefix("error:"))
        #expect(describe(doc(merges), scanModel: true, samples: []) == general)
        #expect(describe(doc(merges), scanModel: true, earlyMerges: true, samples: []) == general)
        for (round, k) in [0, 3, 53, 8_000, 17_999].enumerated() {
            let (a, b) = (base[pairs[k].0], base[pairs[k].1])
            for bad in ["\" \(b)\"", "\"\(a) \"", "\" \(a)\"", "\"\(a)  \(b)\"", "\"\(a) \(b) \"", "\"r0 \(b)\"",
                        "\"\\u0072 \(b)\"", "\"\(a) r1\"", "\"zz \(b)\""] {
                merges[k] = bad
                let general = describe(doc(merges), scanModel: false, samples: [])
                #expect(describe(doc(merges), scanModel: true, samples: []) == general, "round \(round), \(bad): \(general.prefix(200))")
            }
            merges[k] = "\"\(a) \(b)\""
        }
    }

    /// "left right" is split at its one space (eight bytes at a time); any other count of spaces is malformed.
    @Test func mergeSplitMatchesTheByteLoop() throws {
        var rng = BacktrackingTests.Rng(s: 9)
        let vocab = ByteTable(keys: [Array("a".utf8), Array("bb".utf8), Array("abb".utf8), Array("bba".utf8)])
        let resolver = HuggingFaceReader.MergeResolver(vocab, prefixLen: 0)
        let key = UnsafeMutablePointer<UInt8>.allocate(capacity: HuggingFaceReader.MergeResolver.capacity)
        defer { key.deallocate() }
        let index = try #require(HuggingFaceReader.MergeResolver.PartIndex(resolver))
        let letters: [UInt8] = [0x61, 0x62, 0x20]
        // Carried from merge to merge, as in a run: the merged entry is first compared with the previous one's.
        var guess = -1
        for _ in 0..<3000 {
            let s = (0..<rng.below(24)).map { _ in letters[rng.below(rng.below(3) == 0 ? 3 : 2)] }
            let outcome = s.withUnsafeBufferPointer { b in
                // Prefetching reads only the merge's bytes, whatever its spaces (no space, at either end, several).
                let at = HuggingFaceReader.MergeResolver.space(b)
                #expect(at == (s.filter { $0 == 0x20 }.count == 1 ? s.firstIndex(of: 0x20)! : -1))
                resolver.prefetch(b, at: at, nil, index)
                return resolver.split(b, key, &guess, rng.below(2) == 0 ? index : nil)
            }
            let spaces = s.filter { $0 == 0x20 }.count
            switch outcome {
            case .malformed: #expect(spaces != 1, "\(String(decoding: s, as: UTF8.self))")
            case .merge(let l, let r, _):
                #expect(spaces == 1)
                let i = s.firstIndex(of: 0x20)!
                #expect(vocab.find(Array(s[..<i])) == l && vocab.find(Array(s[(i + 1)...])) == r)
            default: #expect(spaces == 1)
            }
        }
    }

    /// The learned separator (a newline and indentation before a quote, matched as two words) skips exactly as
    /// the byte loop does, call after call: the learned run, runs one byte longer or shorter, other whitespace
    /// bytes, no quote after it, learned runs of 0–15 bytes, and offsets near the end of the buffer.
    @Test func separatorSkipMatchesTheByteLoop() {
        var rng = BacktrackingTests.Rng(s: 13)
        let others: [UInt8] = [0x20, 0x0A, 0x09, 0x0D, 0x22, 0x61, 0x5D, 0x2C]
        for _ in 0..<400 {
            let learned: [UInt8] = [0x0A] + [UInt8](repeating: 0x20, count: rng.below(15))
            var doc: [UInt8] = []
            var starts: [Int] = []
            for _ in 0..<30 {
                starts.append(doc.count)
                switch rng.below(6) {
                case 0, 1, 2: doc += learned + [0x22]
                case 3: doc += learned + [0x20, 0x22]
                case 4: doc += learned.dropLast() + [others[rng.below(others.count)]]
                default: doc += (0..<rng.below(20)).map { _ in others[rng.below(others.count)] }
                }
                doc += [0x61, 0x22, 0x2C]
            }
            var separator = Separator()
            doc.withUnsafeBufferPointer { b in
                for i in starts + [doc.count - rng.below(min(doc.count, 17))] {
                    #expect(separator.skip(b.baseAddress!, doc.count, i) == JSONScan.skipWhitespace(b.baseAddress!, doc.count, i),
                            "\(doc[i...].prefix(20))")
                }
            }
        }
    }

    @Test func whitespaceSkipMatchesTheByteLoop() {
        var rng = BacktrackingTests.Rng(s: 5)
        let bytes: [UInt8] = [0x20, 0x20, 0x20, 0x0A, 0x0D, 0x09, 0x22, 0x61]
        for _ in 0..<2000 {
            let s = (0..<(rng.below(40))).map { _ in bytes[(rng.below(bytes.count))] }
            s.withUnsafeBufferPointer { b in
                for i in 0...s.count {
                    var j = i
                    while j < s.count, [0x20, 0x0A, 0x0D, 0x09].contains(s[j]) { j += 1 }
                    #expect(JSONScan.skipWhitespace(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, s.count, i) == j)
                }
            }
        }
    }

    @Test func earlyMergesSearchFindsTheArray() {
        func find(_ s: String) -> Int? { Array(s.utf8).withUnsafeBufferPointer { EarlyMerges.find($0) } }
        #expect(find(#"{"merges": []}"#) == 11)
        #expect(find(#"{"merges":[]}"#) == 10)
        #expect(find(#"{"merges" : "x", "merges"  :  [1]}"#) == 30)
        #expect(find(#"{"mergesx": [], "xmerges": []}"#) == nil)
        #expect(find(#"merges": []"#) == nil)
        // Every alignment of the key against the eight-byte words.
        for pad in 0..<17 {
            let s = String(repeating: " ", count: pad) + #"{"mm": "m", "merges": [1]}"#
            #expect(find(s) == pad + 22, "pad \(pad)")
        }
    }

    @Test func continuingSubwordPrefix() throws {
        let bytes = bpe(###"{"a": 0, "##b": 1, "ab": 2, "b": 3}"###, ###"["a ##b"]"###, extra: ###", "continuing_subword_prefix": "##""###)
        let fast = describe(bytes, scanModel: true, samples: ["ab", "b"])
        #expect(fast == describe(bytes, scanModel: false, samples: ["ab", "b"]))
        #expect(!fast.hasPrefix("error"), "\(fast)")
    }

    /// Only the value the reader reads is taken from the scan: with a repeated key the last one wins.
    @Test func repeatedKeysFollowTheGeneralReader() throws {
        let bytes = Array(#"{"model": {"type": "BPE", "vocab": {"x": 0}, "merges": ["x x"], "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}"#.utf8)
        let fast = describe(bytes, scanModel: true, samples: ["ab"])
        #expect(fast == describe(bytes, scanModel: false, samples: ["ab"]))
        #expect(fast.contains("ids(ab) [2]"), "\(fast)")
    }

    @Test func wordPieceVocabulary() throws {
        let bytes = Array(###"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}}}"###.utf8)
        let fast = describe(bytes, scanModel: true, samples: ["ab", "ba"])
        #expect(fast == describe(bytes, scanModel: false, samples: ["ab", "ba"]))
        #expect(try #require(scanned(bytes)).vocab)
    }

    static let bad: [(String, [UInt8], String)] = {
        func bpe(_ vocab: String, _ merges: String) -> [UInt8] {
            Array("{\"model\": {\"type\": \"BPE\", \"vocab\": \(vocab), \"merges\": \(merges)}}".utf8)
        }
        let ab = #"{"a": 0, "b": 1, "ab": 2}"#
        return [
            ("fractional id", bpe(#"{"a": 1.5}"#, "[]"), "vocabulary id must be a non-negative integer"),
            ("exponent id", bpe(#"{"a": 1e2}"#, "[]"), "vocabulary id must be a non-negative integer"),
            ("negative id", bpe(#"{"a": -1}"#, "[]"), "vocabulary id must be a non-negative integer"),
            ("id too large", bpe(#"{"a": 2147483647}"#, "[]"), "vocabulary id must be a non-negative integer"),
            ("far id", bpe(#"{"a": 0, "b": 2147483640}"#, "[]"), "vocabulary ids are too sparse: id 2147483640 among 2 tokens"),
            ("id with 11 digits", bpe(#"{"a": 10000000000}"#, "[]"), "vocabulary id must be a non-negative integer"),
            ("string id", bpe(#"{"a": "0"}"#, "[]"), "vocabulary id must be a non-negative integer"),
            ("leading zero", bpe(#"{"a": 01}"#, "[]"), "leading zero"),
            ("repeated token", bpe(#"{"a": 0, "a": 1}"#, "[]"), "appears twice"),
            ("repeated escaped token", bpe(#"{"\u0061": 0, "a": 1}"#, "[]"), "appears twice"),
            ("id given twice", bpe(#"{"a": 0, "b": 0}"#, "[]"), "assigned to two tokens"),
            ("trailing comma in vocab", bpe(#"{"a": 0,}"#, "[]"), "model.vocab"),
            ("missing colon", bpe(#"{"a" 0}"#, "[]"), "model.vocab"),
            ("unknown merge token", bpe(ab, #"["a b", "a c"]"#), "model.merges[1]"),
            ("unknown merged token", bpe(#"{"a": 0, "b": 1}"#, #"["a b"]"#), "merged token \"ab\" is not in the vocabulary"),
            ("three parts", bpe(ab, #"["a b", "a b c"]"#), "merge must be"),
            ("three-element pair", bpe(ab, #"[["a", "b", "c"]]"#), "merge must be"),
            ("number as merge", bpe(ab, "[5]"), "merge must be"),
            ("escaped unknown merge token", bpe(ab, #"["a b", ["\u0061", "\"x"]]"#), "model.merges[1]"),
            ("trailing comma in merges", bpe(ab, #"["a b",]"#), "model.merges"),
            ("truncated merges", Array(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a"#.utf8), "model.merges"),
            ("control character in token", bpe("{\"a\u{1}\": 0}", "[]"), "control character"),
            ("lone surrogate", bpe(#"{"\ud800": 0}"#, "[]"), "surrogate"),
            ("invalid UTF-8 in token", Array(#"{"model": {"type": "BPE", "vocab": {"a"#.utf8) + [0xC3, 0x28] + Array(#"": 0}, "merges": []}}"#.utf8), "UTF-8"),
            ("vocab not an object", bpe("[]", "[]"), "vocab must be an object"),
            ("merges not an array", bpe(ab, "{}"), "merges must be an array"),
        ]
    }()

    @Test(arguments: bad)
    func badFilesGiveTheGeneralReadersError(_ c: (String, [UInt8], String)) {
        let fast = describe(c.1, scanModel: true, samples: [])
        #expect(fast == describe(c.1, scanModel: false, samples: []), "\(c.0)")
        #expect(fast == describe(c.1, scanModel: true, earlyMerges: true, samples: []), "\(c.0)")
        #expect(fast.hasPrefix("error") && fast.contains(c.2), "\(c.0): \(fast)")
        #expect(fast.contains("t.json"), "\(c.0): the file is named")
    }

    /// The files `tokenizers` writes are taken whole by the scan and read exactly as the general reader reads them.
    @Test(arguments: ["llama3.2/tokenizer.json", "mistral-7b-v0.3/tokenizer.json", "all-MiniLM-L6-v2-wordpiece/tokenizer.json"])
    func realFilesAreScannedAndReadAlike(_ rel: String) throws {
        let bytes = try BinaryFile.read(TestPaths.tokenizer(rel))
        for early in [false, true] {
            let took = try #require(scanned(bytes, earlyMerges: early))
            #expect(took.vocab)
            #expect(took.merges == !rel.contains("wordpiece"))
        }
        let fast = try HuggingFaceReader.read(bytes: bytes, file: rel)
        let general = try HuggingFaceReader.read(bytes: bytes, file: rel, scanModel: false)
        switch (fast.model, general.model) {
        case let (.bpe(a), .bpe(b)):
            #expect(a.vocabulary.tokens == b.vocabulary.tokens)
            #expect(a.merges.elementsEqual(b.merges, by: ==))
            #expect(a.lookup.allEntries.elementsEqual(b.lookup.allEntries, by: ==))
        case let (.wordPiece(a), .wordPiece(b)):
            #expect(a.vocabulary.tokens == b.vocabulary.tokens)
        default:
            Issue.record("different model kinds")
        }
        for s in ["Hello, world! \"Quoted\" \\ back/slash", "Привет, 世界 — 123 4567", "  spaces\tand\nlines  "] {
            #expect(try fast.encode(s).ids == general.encode(s).ids)
        }
    }
}
