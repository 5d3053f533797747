import XCTest
@testable import GlossaTokenizers

/// The fused ids-only loop (`IdsPath`, behind `encodeIds`/`count`) against the general path (`run` without
/// fast paths, the reference the parity suite checks): identical ids on generated text, with one state
/// reused throughout so that the piece memos are hit, missed, overwritten and (long memo) started over.
final class IdsPathTests: XCTestCase {
    typealias Rng = FastPathTests.Rng

    /// The three rank files (cl100k, o200k, Llama 3 `tokenizer.model`) with their BPE models and the seeds
    /// `seeds`, `seeds + 1`, `seeds + 2`.
    func rankFiles(seeds: UInt64) throws -> [(Tokenizer, BPEModel, String, UInt64)] {
        var out: [(Tokenizer, BPEModel, String, UInt64)] = []
        for (k, rel) in ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken", "llama3.2/tokenizer.model"].enumerated() {
            let tok = try load(rel)
            guard case .bpe(let m) = tok.model else { XCTFail("\(rel): not BPE"); continue }
            out.append((tok, m, rel, seeds + UInt64(k)))
        }
        return out
    }

    func load(_ rel: String) throws -> Tokenizer { try Self.load(rel) }

    static func load(_ rel: String) throws -> Tokenizer {
        let path = TestPaths.tokenizer(rel)
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) not present") }
        let tok = try Tokenizer.load(path: path)
        // The whole-token table is built on another core after loading; these tests want it in use from the
        // first encode (`testWholeTokenTableStillBuilding` covers encodes before it is ready).
        if let p = tok.idsPath, case .bpe(let m) = tok.model { _ = p.wholeTokens.waitForTable(m) }
        return tok
    }

    /// Text made for the memo: FastPathTests' pieces, whitespace and punctuation runs across the 16-byte and
    /// long-memo bounds, NULs (the memo zero-pads its keys), random letters and CJK.
    static func text(_ r: inout Rng) -> String {
        var s = ""
        for _ in 0..<r.below(12) {
            switch r.below(8) {
            case 0: s += String(repeating: " ", count: 1 + r.below(40))
            case 1: s += String(repeating: "-", count: 1 + r.below(1100)) + (r.below(2) == 0 ? "\n" : "")
            case 2: s += String(repeating: "\u{0}", count: 1 + r.below(18))
            case 3: s += String((0..<(1 + r.below(30))).map { _ in Character(Unicode.Scalar(UInt8(97 + r.below(26)))) })
            case 4: s += String(repeating: "中文测试", count: 1 + r.below(12))
            default: s += FastPathTests.text(&r)
            }
        }
        return s
    }

    /// Runs of CJK, kana, Hangul, Cyrillic, Devanagari and Arabic (one script or mixed, with ASCII
    /// letters, spaces and punctuation between), long enough to be cut (`BacktrackingBPE.partEnd`).
    static func scriptText(_ r: inout Rng) -> String {
        let ranges: [ClosedRange<UInt32>] = [0x4E00...0x4FFF, 0x3040...0x30FF, 0xAC00...0xAD00, 0x0400...0x04FF,
                                             0x0900...0x097F, 0x0600...0x06FF, 0x4E00...0x4E3F]
        var s = ""
        for _ in 0..<(1 + r.below(6)) {
            let mixed = r.below(3) == 0
            let base = ranges[r.below(ranges.count)]
            for _ in 0..<(1 + r.below(200)) {
                if r.below(40) == 0 { s += ["a", "Z", " ", "，", "。", "1", "\n"][r.below(7)] }
                let rg = mixed ? ranges[r.below(ranges.count)] : base
                let cp = rg.lowerBound + UInt32(r.below(Int(rg.upperBound - rg.lowerBound) + 1))
                s.unicodeScalars.append(Unicode.Scalar(cp)!)
            }
            if r.below(2) == 0 { s += " " }
        }
        return s
    }

    /// `fullMemo`: true, the ids path's memo has its full size from the start (`SizedCache`); false, it must
    /// still have its small size at the end; nil, it grows when the texts reach `growAfter` bytes.
    func assertSame(_ tok: Tokenizer, seed: UInt64, count: Int = 2000, fullMemo: Bool? = nil,
                    generate: (inout Rng) -> String = IdsPathTests.text,
                    file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNotNil(tok.idsPath, "the ids-only path was not selected", file: file, line: line)
        var r = Rng(s: seed)
        var texts = ["", " ", "a", "\u{0}", "\u{0}\u{0}", String(repeating: " ", count: 16), String(repeating: "x", count: 17),
                     "<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<|begin_of_text|>hi"]
        for _ in 0..<count { texts.append(generate(&r)) }
        var idsOnly = EncoderState(), general = EncoderState()
        if fullMemo == true, case .bpe(let m) = tok.model { idsOnly.pieceMemo = PieceMemo(owner: m, full: true) }
        // Twice: the second round finds the memos filled by the first.
        for t in texts + texts {
            for policy in [SpecialTokenPolicy.allowed, .text] {
                let b = Array(t.utf8)
                general.ids = []; general.offsets = []
                try tok.run(b, policy: policy, useFastPath: false, state: &general)
                let ids = try tok.encodeIds(bytes: b, specialTokens: policy, state: &idsOnly)
                let n = try tok.count(bytes: b, specialTokens: policy, state: &idsOnly)
                if ids != general.ids || n != general.ids.count {
                    XCTFail("\(policy) \(t.debugDescription):\n ids path \(ids) (count \(n))\n general  \(general.ids)",
                            file: file, line: line)
                    return
                }
            }
        }
        if let fullMemo { XCTAssertEqual(idsOnly.pieceMemo?.full, fullMemo, "memo size", file: file, line: line) }
        // The disallowed policy still throws.
        if let special = tok.addedVocabulary.tokens.first(where: { $0.special }) {
            XCTAssertThrowsError(try tok.encodeIds(bytes: Array(("a" + special.content).utf8), specialTokens: .disallowed,
                                                   state: &idsOnly), file: file, line: line)
        }
    }

    func testCl100k() throws { try assertSame(load("cl100k_base/cl100k_base.tiktoken"), seed: 1) }
    func testO200k() throws { try assertSame(load("o200k_base/o200k_base.tiktoken"), seed: 2) }
    func testLlama3Ranks() throws { try assertSame(load("llama3.2/tokenizer.model"), seed: 3) }
    func testLlama3JSON() throws { try assertSame(load("llama3.2/tokenizer.json"), seed: 4, count: 500) }
    func testGPT2() throws { try assertSame(load("gpt2"), seed: 5, count: 500) }

    /// The cl100k family's 64-byte blocks of piece starts (`PieceScanner.blockBounds`) in the ids loop: prose
    /// and code-like ASCII with indentation, tabs, blank lines, digit runs, contractions, CR and some non-ASCII,
    /// long enough for many blocks, for blocks that stop early and for the back-off after non-Latin runs.
    func testBlockBoundsProse() throws {
        let parts = [" the", " Kernel", "can't", " It's", " DON'T", ",", ".", ".\n", ".\n\n", "\n", "\n\n", "\n    ", "\t",
                     "\tif", " (x)", " {\n", "  ", "   ", " \t ", " 1", " 2026", " 123456", "0x1F", " --", ": ", "\r\n",
                     " café", " 中文", "\u{A0}", "'s", " /usr/bin", "#", " \"quoted\"", "\n\t\t", "  \n", "\u{B}", "==", " HelloWorld", " PCIe", "\n/", "./\n/x", " a/b",
                     // Long non-Latin runs: blocks that claim little, then the back-off, then prose again.
                     String(repeating: "中文测试，", count: 20), String(repeating: " слово", count: 15)]
        for rel in ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken", "llama3.2/tokenizer.model",
                    "llama3.2/tokenizer.json"] {
            try assertSame(load(rel), seed: 31, count: 400) { r in
                (0..<(1 + r.below(300))).map { _ in parts[r.below(parts.count)] }.joined()
            }
        }
    }

    /// `IdsPath.encode` scans runs of `PieceMemo.batchSize` pieces before it probes and writes them: texts of
    /// 1…3 runs' worth of pieces, each one a token, a multi-token piece, a long piece or a cut CJK run, so that
    /// every kind sits at every place of a run, its first and last included.
    func testPiecesAcrossRuns() throws {
        let kinds = [" the", " xqzvj", " " + String(repeating: "=", count: 20), "中文测试中文测试中文", "\n", "123", ",", " Kubernetes"]
        let run = PieceMemo.batchSize
        for rel in ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken"] {
            var k = 0
            try assertSame(load(rel), seed: 21, count: 3 * run &+ 2) { _ in
                k += 1
                // k pieces; the kind at piece i turns with i and k, so each count puts each kind at each place.
                return (0..<k).map { i in kinds[(i &+ k) % kinds.count] }.joined()
            }
        }
    }

    /// The short memo's two ways: pieces of several tokens whose hashes share one set, in orders that hit the
    /// first way, the second, and evict (three of a set, the oldest leaves), and pieces of four tokens (the
    /// fourth id); each text after a fresh memo and again after all of them; in a small memo and a full one.
    func testMemoWaysAndEvictions() throws {
        for rel in ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken"] {
            for bits in [PieceMemo.smallBits, PieceMemo.bits] { try assertMemoWays(rel, bits: bits) }
        }
    }

    func assertMemoWays(_ rel: String, bits: Int) throws {
        do {
            let tok = try load(rel)
            guard let path = tok.idsPath, case .bpe(let m) = tok.model else { return XCTFail("no ids path") }
            let table = try XCTUnwrap(path.wholeTokens.waitForTable(m))
            // Short multi-token pieces (random letters after a space), grouped by their memo set.
            var r = Rng(s: 31)
            var bySet: [Int: [String]] = [:], four: [String] = []
            var colliding: [String] = []
            while colliding.isEmpty || four.count < 8 {
                let word = " " + String((0..<(4 + r.below(9))).map { _ in Character(Unicode.Scalar(UInt8(97 + r.below(26)))) })
                let b = Array(word.utf8)
                let (w0, w1) = b.withUnsafeBufferPointer { PieceMemo.loadTail($0.baseAddress!, b.count) }
                let h = PieceMemo.hash(w0, w1)
                guard table.find(w0, w1, b.count, hash: h) < 0 else { continue }
                guard let ids = m.uncachedPieceIds(b, backtracking: false) else { continue }
                if ids.count == 4 && four.count < 8 { four.append(word) }
                guard ids.count >= 2 && ids.count <= 4 && colliding.isEmpty else { continue }
                let set = PieceMemo.set(h, shift: UInt64(64 - bits))
                bySet[set, default: []].append(word)
                if let ws = bySet[set], ws.count == 3 { colliding = ws }
            }
            let (a, b, c) = (colliding[0], colliding[1], colliding[2])
            // Hits in the first and the second way, a third piece evicting the oldest, the evicted piece back.
            let orders = [[a, a, b, b, a, a], [a, b, a, b, b, a], [a, b, c, a, b, c, c, b, a], [c, b, a, a, b, c],
                          [a, b, c, c, c, a, a, b, b], four + four.reversed() + four]
            var k = 0
            try assertSame(tok, seed: 32, count: orders.count * 3, fullMemo: bits == PieceMemo.bits) { _ in
                k += 1
                let o = orders[(k - 1) % orders.count]
                return (k - 1) / orders.count == 1 ? o.joined(separator: ".") : o.joined()
            }
        }
    }

    /// Pieces of one and two bytes are looked up by their bytes (`bytePairs`): every single byte and every pair of
    /// ASCII bytes (tokens or not) as a piece, among words, against the general path.
    func testOneAndTwoBytePieces() throws {
        for rel in ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken", "llama3.2/tokenizer.model"] {
            let tok = try load(rel)
            var texts: [String] = []
            for x in 0..<128 {
                texts.append(" a" + String(UnicodeScalar(UInt8(x))) + "b" + String(UnicodeScalar(UInt8(x))))
                for y in stride(from: 0, to: 128, by: 3) {
                    texts.append("x" + String(UnicodeScalar(UInt8(x))) + String(UnicodeScalar(UInt8(y))) + " 1" + "\n")
                }
            }
            var k = 0
            try assertSame(tok, seed: 33, count: texts.count) { _ in
                k += 1
                return texts[k - 1]
            }
        }
    }

    /// More distinct long pieces than the long memo's arenas hold: it starts over and stays exact.
    func testLongMemoStartsOver() throws {
        let tok = try load("cl100k_base/cl100k_base.tiktoken")
        var r = Rng(s: 9)
        var state = EncoderState(), general = EncoderState()
        var pieces: [[UInt8]] = []
        for _ in 0..<(PieceMemo.longKeyBytes / 900 + 50) {
            pieces.append([0x20] + (0..<900).map { _ in UInt8(97 + r.below(26)) })
        }
        for p in pieces + pieces.prefix(100) {
            general.ids = []
            try tok.run(p, policy: .text, useFastPath: false, state: &general)
            let ids = try tok.encodeIds(bytes: p, specialTokens: .text, state: &state)
            XCTAssertEqual(ids, general.ids)
            if ids != general.ids { return }
        }
        XCTAssertLessThan(state.pieceMemo!.longKeyUsed, PieceMemo.longKeyBytes)
    }

    /// Long pieces served from the memo still count towards building the backtracking encoder, as the
    /// merges they replace did (a long CJK text of few distinct runs would otherwise never get it).
    func testMemoHitsCountTowardsTheEncoder() throws {
        let tok = try load("cl100k_base/cl100k_base.tiktoken")
        guard case .bpe(let m) = tok.model else { return XCTFail("not BPE") }
        let piece = Array(String(repeating: "中文测试", count: 20).utf8)
        var state = EncoderState(), general = EncoderState()
        for _ in 0...(m.lookup.arenaCount / piece.count) {
            _ = try tok.encodeIds(bytes: piece, specialTokens: .text, state: &state)
        }
        XCTAssertFalse(m.backtracker.note(merged: 0, budget: .max) { nil }.built)
        // The next long piece that misses hands the count over, and the encoder is built.
        let other = Array(String(repeating: "汉字", count: 30).utf8)
        let ids = try tok.encodeIds(bytes: other, specialTokens: .text, state: &state)
        XCTAssertTrue(m.backtracker.note(merged: 0, budget: .max) { nil }.built)
        try tok.run(other, policy: .text, useFastPath: false, state: &general)
        XCTAssertEqual(ids, general.ids)
    }

    /// The whole-token table holds every token of at most 16 bytes under its id, and for rank files the
    /// merge by table probes gives the merge loop's ids on every such token with its last byte dropped or
    /// changed, and on random short byte strings (ASCII, Latin-1 and UTF-8 fragments, NULs).
    func assertWholeTokens(_ rel: String, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        let tok = try load(rel)
        guard let path = tok.idsPath, case .bpe(let m) = tok.model else { return XCTFail("no ids path", file: file, line: line) }
        let table = try XCTUnwrap(path.wholeTokens.waitForTable(m), file: file, line: line)
        XCTAssertTrue(table.complete, file: file, line: line)
        let memo = PieceMemo(owner: m, full: true)
        let byteIds = try XCTUnwrap(memo.byteIds, file: file, line: line)
        let buf = m.lookup.buffer
        var found = 0, notTokens = 0
        func words(_ b: [UInt8]) -> (UInt64, UInt64) { b.withUnsafeBufferPointer { PieceMemo.loadTail($0.baseAddress!, b.count) } }
        func check(_ b: [UInt8]) -> Bool {
            let (w0, w1) = words(b)
            let ids = UnsafeMutablePointer<Int32>.allocate(capacity: 16)
            defer { ids.deallocate() }
            let c = table.mergeByRank(w0, w1, b.count, byteIds: byteIds, ids: ids, bounds: memo.symEnds, ranks: memo.symRanks)
            let got = Array(UnsafeBufferPointer(start: ids, count: c))
            let want = m.uncachedPieceIds(b, backtracking: false)
            if got != want { XCTFail("\(rel) \(b): by rank \(got), merge loop \(String(describing: want))", file: file, line: line) }
            // What `IdsPath` passes for a piece that missed the table: no probe of the last pair (the piece).
            if table.find(w0, w1, b.count, hash: PieceMemo.hash(w0, w1)) < 0 {
                let c = table.mergeByRank(w0, w1, b.count, byteIds: byteIds, ids: ids, bounds: memo.symEnds, ranks: memo.symRanks,
                                          notToken: true)
                let known = Array(UnsafeBufferPointer(start: ids, count: c))
                if known != want {
                    XCTFail("\(rel) \(b): by rank, no token \(known), merge loop \(String(describing: want))", file: file, line: line)
                    return false
                }
                notTokens += 1
            }
            return got == want
        }
        var r = Rng(s: seed)
        for e in 0..<m.lookup.entryCount {
            let len = Int(buf.lengths[e])
            guard len >= 1, len <= 16 else { continue }
            let b = Array(UnsafeBufferPointer(start: buf.arena + Int(buf.starts[e]), count: len))
            let (w0, w1) = words(b)
            let id = table.find(w0, w1, len, hash: PieceMemo.hash(w0, w1))
            if id != Int(buf.values[e]) { return XCTFail("\(rel) \(b): table \(id), vocabulary \(buf.values[e])", file: file, line: line) }
            // `mergeByRank` skips the probe of a substring whose filter bit is clear: never for a token.
            let h = PieceMemo.hash(w0, w1)
            if table.filter[WholeTokenTable.filterWord(h)] & WholeTokenTable.filterBit(h) == 0 {
                return XCTFail("\(rel) \(b): token missing from the filter", file: file, line: line)
            }
            if len <= 2 && table.bytePairs[WholeTokenTable.smallIndex(w0, len)] != buf.values[e] {
                return XCTFail("\(rel) \(b): byte-pair table \(table.bytePairs[WholeTokenTable.smallIndex(w0, len)])", file: file, line: line)
            }
            found += 1
            // The merge loop is slow to set up: a sample of the tokens (a 50k-token table still sees 12k).
            guard e % 4 == 0 else { continue }
            if !check(b) { return }
            if len > 1 && !check(Array(b.dropLast())) { return }
            if !check(Array(b.dropLast()) + [UInt8(r.below(256))]) { return }
        }
        XCTAssertGreaterThan(found, 50_000, file: file, line: line)
        // `char3`: for every lead E0–EF with two continuation bytes, the table's id of those bytes or -1.
        var chars = 0
        for k in 0..<(1 << 16) {
            let b: [UInt8] = [0xE0 | UInt8(k >> 12), 0x80 | UInt8((k >> 6) & 0x3F), 0x80 | UInt8(k & 0x3F)]
            let (w0, w1) = words(b)
            XCTAssertEqual(WholeTokenTable.char3Index(w0), k, file: file, line: line)
            let id = table.find(w0, w1, 3, hash: PieceMemo.hash(w0, w1))
            if Int(table.char3[k]) != id { return XCTFail("\(rel) \(b): char3 \(table.char3[k]), table \(id)", file: file, line: line) }
            if id >= 0 { chars += 1 }
        }
        XCTAssertGreaterThan(chars, 500, file: file, line: line)
        // `charPairs`: every token of two 3-byte characters under its id; other pairs of such characters
        // (random, and tokens with a character changed) give the big table's answer, -1.
        var pairs = 0
        func pair(_ b: [UInt8]) -> Bool {
            let c1 = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16, c2 = UInt32(b[3]) | UInt32(b[4]) << 8 | UInt32(b[5]) << 16
            let (w0, w1) = words(b)
            let id = table.find(w0, w1, 6, hash: PieceMemo.hash(w0, w1))
            if Int(table.charPair(c1, c2)) != id { XCTFail("\(rel) \(b): charPair \(table.charPair(c1, c2)), table \(id)", file: file, line: line); return false }
            return true
        }
        func char3(_ k: Int) -> [UInt8] { [0xE0 | UInt8(k >> 12), 0x80 | UInt8((k >> 6) & 0x3F), 0x80 | UInt8(k & 0x3F)] }
        for e in 0..<m.lookup.entryCount where buf.lengths[e] == 6 {
            let b = Array(UnsafeBufferPointer(start: buf.arena + Int(buf.starts[e]), count: 6))
            guard WholeTokenTable.char3Index(words(b).0) != nil, WholeTokenTable.char3Index(words(b).0 >> 24) != nil else { continue }
            pairs += 1
            if !pair(b) || !pair(Array(b[0..<3]) + char3(r.below(1 << 16))) || !pair(char3(r.below(1 << 16)) + Array(b[3..<6])) { return }
        }
        XCTAssertGreaterThan(pairs, 300, file: file, line: line)
        for _ in 0..<20_000 where !pair(char3(r.below(1 << 16)) + char3(0x4E00 + r.below(0x5200))) { return }
        for b: [UInt8] in [[0xE4, 0xB8, 0x2D], [0xE4, 0x38, 0xAD], [0xD0, 0xB8, 0xAD], [0xF0, 0x9F, 0x98], [0x61, 0x62, 0x63]] {
            XCTAssertNil(WholeTokenTable.char3Index(words(b).0), "\(b)", file: file, line: line)
        }
        let alphabets: [[UInt8]] = [Array(0...255), Array("abcdefghijklmnopqrstuvwxyz ".utf8), Array(" \n\t0123456789.,;:-_=+*#".utf8),
                                    Array("aeé中文\u{0}x ".utf8), [0x20, 0x61, 0x62, 0x0A],
                                    // English-like: a space, then letters of both cases (the byte-pair table's pairs).
                                    Array(" etaoinshrdlucmfwy ETAOIN'".utf8)]
        for k in 0..<20_000 {
            let a = alphabets[k % alphabets.count]
            let b = (0..<(1 + r.below(16))).map { _ in a[r.below(a.count)] }
            if !check(b) { return }
        }
        // Non-Latin parts as the ids path meets them: whole characters of one script (2-byte Cyrillic and
        // Arabic, 3-byte CJK, kana and Devanagari, 4-byte emoji), a leading space or punctuation, and
        // fragments cut inside a character at either end (invalid UTF-8).
        let scripts = ["приветмирдлявсехэтоРоссия", "مرحبابالعالمهذاكتاب", "नमस्तेदुनियाहिंदी", "中文的是了在人有我他这个们来到时大地为子中",
                       "日本語のひらがなカタカナです", "😀🎉👍🏽", "Ελληνικάκείμενο", "한국어텍스트입니다"].map { Array($0) }
        for k in 0..<30_000 {
            let chars = scripts[k % scripts.count]
            var b: [UInt8] = k % 5 == 0 ? [0x20] : k % 7 == 0 ? [0x2C] : []
            while b.count < 20 { b += Array(String(chars[r.below(chars.count)]).utf8) }
            let from = k % 3 == 0 ? r.below(3) : 0
            let part = Array(b[from..<(from + 1 + r.below(16))])
            if !check(part) { return }
        }
        XCTAssertGreaterThan(notTokens, 30_000, file: file, line: line)
    }

    func testWholeTokensCl100k() throws { try assertWholeTokens("cl100k_base/cl100k_base.tiktoken", seed: 11) }
    func testWholeTokensO200k() throws { try assertWholeTokens("o200k_base/o200k_base.tiktoken", seed: 12) }
    func testWholeTokensLlama3Ranks() throws { try assertWholeTokens("llama3.2/tokenizer.model", seed: 13) }

    /// A tokenizer.json model takes a piece by merges even when it is a token, and Llama 3 has tokens that
    /// BPE never builds from their bytes: table hits count only once the thread's merge loop agreed. Every
    /// token of up to 16 bytes alone, twice (unchecked, then checked or found wanting), against the general path.
    func testWholeTokensCheckedByMerges() throws {
        let tok = try load("llama3.2/tokenizer.json")
        guard case .bpe(let m) = tok.model else { return XCTFail("not BPE") }
        XCTAssertFalse(m.options.ignoreMerges)
        let buf = m.lookup.buffer
        var texts: [[UInt8]] = []
        for e in 0..<m.lookup.entryCount where buf.lengths[e] >= 1 && buf.lengths[e] <= 16 {
            let b = Array(UnsafeBufferPointer(start: buf.arena + Int(buf.starts[e]), count: Int(buf.lengths[e])))
            if String(validating: b, as: UTF8.self) != nil { texts.append(b) }
        }
        var idsOnly = EncoderState(), general = EncoderState()
        var notOwn = 0
        for round in 0..<2 {
            for t in texts {
                general.ids = []; general.offsets = []
                try tok.run(t, policy: .text, useFastPath: false, state: &general)
                let ids = try tok.encodeIds(bytes: t, specialTokens: .text, state: &idsOnly)
                if ids != general.ids { return XCTFail("\(t): ids path \(ids), general \(general.ids)") }
                if round == 0 && ids.count > 1 && m.wholeTokenId(t, t.count) >= 0 { notOwn += 1 }
            }
        }
        XCTAssertGreaterThan(notOwn, 0, "no token that BPE splits was met")
    }

    /// The table's `selfEncoded` bits (found on the building core) against the general path: a bit is set
    /// exactly for the tokens whose bytes alone encode to that one token.
    func testSelfEncodedBitsMatchTheGeneralPath() throws {
        let tok = try load("llama3.2/tokenizer.json")
        guard case .bpe(let m) = tok.model, let table = tok.idsPath?.wholeTokens.waitForTable(m) else { return XCTFail("no table") }
        let bits = try XCTUnwrap(table.selfEncoded)
        let buf = m.lookup.buffer
        var state = EncoderState()
        var set = 0, clear = 0
        for e in 0..<m.lookup.entryCount where buf.lengths[e] >= 1 && buf.lengths[e] <= 16 {
            let b = Array(UnsafeBufferPointer(start: buf.arena + Int(buf.starts[e]), count: Int(buf.lengths[e])))
            let id = buf.values[e]
            guard m.wholeTokenId(b, b.count) == id, String(validating: b, as: UTF8.self) != nil else { continue }
            state.ids = []; state.offsets = []
            try tok.run(b, policy: .text, useFastPath: false, state: &state)
            let own = state.ids == [id]
            let bit = bits[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
            if own != bit { return XCTFail("\(b) (id \(id)): encodes to \(state.ids), bit \(bit)") }
            if bit { set += 1 } else { clear += 1 }
        }
        XCTAssertGreaterThan(set, 100_000)
        XCTAssertGreaterThan(clear, 0, "no token that BPE splits was met")
        let ranks = try load("cl100k_base/cl100k_base.tiktoken")
        guard case .bpe(let r) = ranks.model else { return XCTFail("not BPE") }
        XCTAssertNil(ranks.idsPath?.wholeTokens.waitForTable(r)?.selfEncoded, "rank files take hits as they are")
    }

    /// Byte soup (every byte class, invalid UTF-8 included) and ASCII without letters through the short-piece
    /// path, with pieces ending the buffer at every length: the ids path against the general path.
    func testByteClassesAndBufferEnds() throws {
        for (rel, seed) in [("cl100k_base/cl100k_base.tiktoken", 21 as UInt64), ("o200k_base/o200k_base.tiktoken", 22),
                            ("llama3.2/tokenizer.model", 23), ("llama3.2/tokenizer.json", 24)] {
            let tok = try load(rel)
            var r = Rng(s: seed)
            var idsOnly = EncoderState(), general = EncoderState()
            // Valid UTF-8 only (the encoder rejects the rest): all of ASCII, then narrower classes.
            let classes: [[String]] = [(0..<128).map { String(UnicodeScalar(UInt8($0))) }, [" ", "\n", "\r", "\t", "0", "7", "9"],
                                       "!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~ ".map { String($0) },
                                       ["A", "a", " ", "Z", "z", "'", "s", "S", "LL", "\n"], ["é", "中", "😀", " ", "a", "ǅ", "\u{301}"]]
            for k in 0..<3000 {
                let a = classes[k % classes.count]
                let b = Array((0..<r.below(40)).map { _ in a[r.below(a.count)] }.joined().utf8)
                for end in Swift.max(0, b.count - 17)...b.count where end == b.count || b[end] & 0xC0 != 0x80 {
                    let t = Array(b[0..<end])
                    general.ids = []; general.offsets = []
                    try tok.run(t, policy: .text, useFastPath: false, state: &general)
                    let ids = try tok.encodeIds(bytes: t, specialTokens: .text, state: &idsOnly)
                    if ids != general.ids { return XCTFail("\(rel) \(t): ids path \(ids), general \(general.ids)") }
                }
            }
        }
    }

    /// While another thread still builds the whole-token table, encodes go on without it: the same ids.
    func testWholeTokenTableStillBuilding() throws {
        for (rel, seed) in [("cl100k_base/cl100k_base.tiktoken", 31), ("llama3.2/tokenizer.json", 32)] as [(String, UInt64)] {
            let tok = try load(rel)
            let path = try XCTUnwrap(tok.idsPath)
            guard case .bpe(let m) = tok.model else { return XCTFail("not BPE") }
            // A fresh path of the same model, whose table nobody builds.
            let held = IdsPath(model: m, splitter: path.splitter)
            held.wholeTokens.holdAsBuilding()
            XCTAssertFalse(held.wholeTokens.get(m).ready)
            var r = Rng(s: seed)
            var state = EncoderState(), general = EncoderState()
            for _ in 0..<400 {
                let b = Array(IdsPathTests.text(&r).utf8)
                general.ids = []; general.offsets = []
                try tok.run(b, policy: .text, useFastPath: false, state: &general)
                var out = [Int32](repeating: -1, count: b.count + PieceMemo.slack)
                let n = b.withUnsafeBufferPointer { t in
                    out.withUnsafeMutableBufferPointer { held.encode(t, 0, t.count, out: $0.baseAddress!, at: 0, state: &state) }
                }
                XCTAssertNil(state.pieceMemo?.whole)
                if Array(out[0..<n]) != general.ids { return XCTFail("\(rel): \(Array(out[0..<n])) vs \(general.ids)") }
            }
        }
    }

    /// With the backtracking encoder built (as after enough long non-Latin text), long non-Latin pieces are
    /// cut where no token spans and the parts go through the memos: the general path's ids still.
    func testCutPiecesWithTheEncoderBuilt() throws {
        for (tok, m, _, seed) in try rankFiles(seeds: 21) {
            _ = BacktrackingTests.encoder(m)
            try assertSame(tok, seed: seed, count: 600, generate: Self.scriptText)
            try assertSame(tok, seed: seed, count: 300)
        }
    }

    /// A fresh state takes the model's encoder, built by another state, for its first long piece (no trip
    /// through `tokenize`): long runs of random letters without whitespace, the general path's ids.
    func testFreshStateUsesTheBuiltEncoder() throws {
        for (tok, m, rel, seed) in try rankFiles(seeds: 31) {
            var r = Rng(s: seed)
            for k in 0..<8 {
                let piece = (0..<(2000 &+ r.below(6000))).map { _ in UInt8(97 + r.below(26)) }
                if k == 4 { _ = BacktrackingTests.encoder(m) }
                var fresh = EncoderState(), general = EncoderState()
                let ids = try tok.encodeIds(bytes: piece, specialTokens: .text, state: &fresh)
                try tok.run(piece, policy: .text, useFastPath: false, state: &general)
                XCTAssertEqual(ids, general.ids, rel)
                if k >= 4 { XCTAssertTrue(fresh.bpe.backtracking?.encoder != nil, rel) }
            }
        }
    }

    /// Whether the ids-only path encodes `b` as the general path does (failing the test where not); invalid
    /// UTF-8 is refused by both paths.
    func sameAsGeneral(_ tok: Tokenizer, _ rel: String, _ b: [UInt8], idsOnly: inout EncoderState,
                       general: inout EncoderState) throws -> Bool {
        general.ids = []
        do { try tok.run(b, policy: .text, useFastPath: false, state: &general) } catch {
            XCTAssertThrowsError(try tok.encodeIds(bytes: b, specialTokens: .text, state: &idsOnly))
            return true
        }
        let ids = try tok.encodeIds(bytes: b, specialTokens: .text, state: &idsOnly)
        if ids != general.ids { XCTFail("\(rel) \(b):\n ids path \(ids)\n general  \(general.ids)") }
        return ids == general.ids
    }

    /// Cut CJK runs whose parts are one or two 3-byte characters take `char3` and `charPairs` in
    /// `IdsPath.longPiece`: runs built from the tokenizer's own two-character tokens and single characters
    /// (kana, CJK, Hangul, Devanagari), with ASCII, punctuation, a changed or dropped byte now and then, and
    /// runs that end within ten bytes of the text's end, against the general path.
    func testCharacterPairParts() throws {
        for (tok, m, rel, seed) in try rankFiles(seeds: 51) {
            _ = BacktrackingTests.encoder(m)
            let buf = m.lookup.buffer
            var pairTokens: [[UInt8]] = []
            for e in 0..<m.lookup.entryCount where buf.lengths[e] == 6 {
                let b = Array(UnsafeBufferPointer(start: buf.arena + Int(buf.starts[e]), count: 6))
                if b[0] >> 4 == 0xE && b[3] >> 4 == 0xE && [b[1], b[2], b[4], b[5]].allSatisfy({ $0 & 0xC0 == 0x80 }) { pairTokens.append(b) }
            }
            XCTAssertGreaterThan(pairTokens.count, 300)
            let singles: [ClosedRange<UInt32>] = [0x4E00...0x9FFF, 0x3041...0x30FF, 0xAC00...0xD7A3, 0x0900...0x097F, 0x3000...0x303F]
            var r = Rng(s: seed)
            var idsOnly = EncoderState(), general = EncoderState()
            for k in 0..<1500 {
                var b: [UInt8] = []
                for _ in 0..<(1 + r.below(4)) {
                    if r.below(3) == 0 { b += Array([" ", "a", "12", "，", "。", "\n", "x y"][r.below(7)].utf8) }
                    for _ in 0..<(1 + r.below(14)) {
                        if r.below(3) > 0 { b += pairTokens[r.below(pairTokens.count)]; continue }
                        let rg = singles[r.below(singles.count)]
                        b += Array(String(Unicode.Scalar(rg.lowerBound + UInt32(r.below(Int(rg.upperBound - rg.lowerBound) + 1)))!).utf8)
                    }
                }
                switch r.below(16) {
                case 0: b[r.below(b.count)] = UInt8(r.below(256))
                case 1: b.remove(at: r.below(b.count))
                case 2, 3: b = Array(b.suffix(r.below(11) + 1))  // a run that ends within reach of the 4-byte loads
                default: break
                }
                if k % 100 == 0 { b = Array(String(repeating: "中文", count: 12 + k / 100).utf8) }
                if try !sameAsGeneral(tok, rel, b, idsOnly: &idsOnly, general: &general) { return }
            }
        }
    }

    /// Short non-Latin misses of 9–16 bytes go to the backtracking encoder once it is built (words of
    /// 2-byte and Indic scripts, CJK parts): words of each script from 2 to 9 characters, with a leading
    /// space or not, against the general path; texts with a byte changed or dropped (invalid UTF-8 at
    /// times) are refused by both or encoded alike.
    func testShortNonLatinWordsByTheEncoder() throws {
        let ranges: [ClosedRange<UInt32>] = [0x0430...0x044F, 0x0600...0x064A, 0x0905...0x0939, 0x0391...0x03C9,
                                             0x05D0...0x05EA, 0x4E00...0x4FFF, 0x3041...0x3096, 0xAC00...0xAD00]
        for (tok, m, rel, seed) in try rankFiles(seeds: 41) {
            _ = BacktrackingTests.encoder(m)
            var r = Rng(s: seed)
            var idsOnly = EncoderState(), general = EncoderState()
            for _ in 0..<400 {
                var b: [UInt8] = []
                for _ in 0..<(1 + r.below(30)) {
                    if r.below(2) == 0 { b.append(0x20) }
                    let rg = ranges[r.below(ranges.count)]
                    var w: [UInt8] = []
                    for _ in 0..<(2 + r.below(8)) {
                        let cp = rg.lowerBound + UInt32(r.below(Int(rg.upperBound - rg.lowerBound) + 1))
                        w += Array(String(Unicode.Scalar(cp)!).utf8)
                    }
                    switch r.below(12) {
                    case 0: w[r.below(w.count)] = UInt8(r.below(256))
                    case 1: w.removeLast()
                    default: break
                    }
                    b += w
                    if r.below(4) == 0 { b.append([0x2C, 0x2E, 0x0A, 0x31][r.below(4)]) }
                }
                // Twice: the second round finds the memo filled by the first.
                for _ in 0..<2 where try !sameAsGeneral(tok, rel, b, idsOnly: &idsOnly, general: &general) { return }
            }
        }
    }

    /// Llama 3's tokens that BPE never builds (`BacktrackingBPE.isAvoidedToken`), among CJK and other
    /// characters where cuts fall: a part that is one must not get its whole-token shortcut.
    func testAvoidedTokensAmongCutCharacters() throws {
        let tok = try load("llama3.2/tokenizer.model")
        guard case .bpe(let m) = tok.model else { return XCTFail("not BPE") }
        let bt = BacktrackingTests.encoder(m)
        var r = Rng(s: 31)
        let context = Array("中文的了是一ーのカ한국어привет".unicodeScalars)
        var state = EncoderState(), general = EncoderState()
        var avoided = 0
        for id in 0..<m.lookup.entryCount {
            let t = m.lookup.entryBytes(id)
            guard t.contains(where: { $0 >= 0x80 }), t.withUnsafeBufferPointer({ bt.isAvoidedToken($0.baseAddress!, t.count) }),
                  String(validating: t, as: UTF8.self) != nil else { continue }
            avoided += 1
            for _ in 0..<4 {
                var left = "", right = ""
                for _ in 0..<r.below(12) { left.unicodeScalars.append(context[r.below(context.count)]) }
                for _ in 0..<r.below(12) { right.unicodeScalars.append(context[r.below(context.count)]) }
                let b = Array(left.utf8) + t + Array(right.utf8)
                general.ids = []
                try tok.run(b, policy: .text, useFastPath: false, state: &general)
                let ids = try tok.encodeIds(bytes: b, specialTokens: .text, state: &state)
                XCTAssertEqual(ids, general.ids, "\(b)")
                if ids != general.ids { return }
            }
        }
        XCTAssertGreaterThan(avoided, 10)
    }

    /// Llama 3 pieces of 17–64 bytes that the built encoder declines (a token that its merges form out of
    /// rank order occurs in them, as " ради" in " радиус") go to `WholeTokenTable.mergeByRank` on a copy of
    /// their bytes: every unreachable token (the others are served or skipped) inside letters of several scripts,
    /// in pieces from 4 to 80 bytes (so across the 16- and 64-byte bounds), twice (the second time from the long
    /// memo), against the general path.
    func testDeclinedLongPieces() throws {
        let tok = try load("llama3.2/tokenizer.model")
        guard case .bpe(let m) = tok.model else { return XCTFail("not BPE") }
        let bt = BacktrackingTests.encoder(m)
        let letters = Array("абвгдежзийклмнопрстуфхцчшщыьэюяАБВabcdefghijklmnopqrstuvwxyzçğışöüăâđ".unicodeScalars)
        var r = Rng(s: 61)
        var idsOnly = EncoderState(), general = EncoderState()
        var declined = 0
        for id in 0..<m.lookup.entryCount {
            let t = m.lookup.entryBytes(id)
            guard String(validating: t, as: UTF8.self) != nil,
                  t.withUnsafeBufferPointer({ bt.isAvoidedToken($0.baseAddress!, t.count) }) else { continue }
            for _ in 0..<3 {
                var left = "", right = ""
                if t.first != 0x20 { for _ in 0..<r.below(8) { left.unicodeScalars.append(letters[r.below(letters.count)]) } }
                for _ in 0..<r.below(40) { right.unicodeScalars.append(letters[r.below(letters.count)]) }
                let piece = Array(left.utf8) + t + Array(right.utf8)
                if (17...WholeTokenTable.longMergeMax).contains(piece.count),
                   piece.withUnsafeBufferPointer({ bt.declines($0.baseAddress!, $0.count) }) { declined &+= 1 }
                let b = Array("x ".utf8) + piece + Array(". ".utf8)
                for _ in 0..<2 where try !sameAsGeneral(tok, "llama3", b, idsOnly: &idsOnly, general: &general) { return }
            }
        }
        XCTAssertGreaterThan(declined, 100)
    }

    /// Pipelines the loop does not cover keep the general ids-only path.
    func testNotSelected() throws {
        XCTAssertNil(try load("mistral-7b-v0.3/tokenizer.json").idsPath)
        XCTAssertNil(try load("all-MiniLM-L6-v2-wordpiece/tokenizer.json").idsPath)
    }
}
