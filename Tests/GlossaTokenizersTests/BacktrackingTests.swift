import Foundation
import Testing
@testable import GlossaTokenizers

/// The backtracking encoder against the merge loop (the reference BPE) on the real rank files:
/// every token's own bytes and generated adversarial pieces must give identical ids.
@Suite struct BacktrackingTests {
    static func model(_ rel: String) throws -> BPEModel {
        let t = try Tokenizer.load(path: TestPaths.tokenizer(rel))
        guard case .bpe(let m) = t.model else { throw TokenizerError.invalidArgument("not BPE") }
        return m
    }

    /// Whether the encoder served the piece; it may decline (nil) only when `declineOK`.
    @discardableResult
    static func check(_ m: BPEModel, _ piece: [UInt8], _ what: String, declineOK: Bool = false) -> Bool {
        let reference = m.uncachedPieceIds(piece, backtracking: false)
        let fast = m.uncachedPieceIds(piece, backtracking: true)
        if fast == nil && declineOK { return false }
        #expect(fast != nil && fast == reference, "\(what): \(piece.prefix(40)) (\(piece.count) bytes)")
        return true
    }

    /// Deterministic pseudo-random numbers (a 64-bit LCG's high bits), so failures reproduce.
    struct Rng {
        var s: UInt64
        mutating func below(_ n: Int) -> Int {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((s >> 33) % UInt64(n))
        }
    }

    static func generated(seed: UInt64) -> [(String, [UInt8])] {
        var r = Rng(s: seed)
        var out: [(String, [UInt8])] = []
        // Runs of one character, including lengths around the longest tokens of such runs.
        for ch in ["a", " ", "0", "-", "=", "\n", "é", "中", "ー", "🙂"] {
            for len in [2, 3, 7, 16, 17, 31, 33, 64, 65, 100, 257, 1000] {
                out.append(("run of \(ch)", Array(String(repeating: ch, count: len).utf8)))
            }
        }
        // Random lowercase letters without whitespace, and random bytes (not UTF-8).
        for _ in 0..<40 {
            let n = 25 + r.below(600)
            out.append(("letters", (0..<n).map { _ in UInt8(0x61 + r.below(26)) }))
            out.append(("byte soup", (0..<n).map { _ in UInt8(r.below(256)) }))
            out.append(("few letters", (0..<n).map { _ in UInt8(0x61 + r.below(3)) }))
        }
        // CJK, kana, Cyrillic, Devanagari and mixed-script pieces.
        let ranges: [ClosedRange<UInt32>] = [0x4E00...0x9FFF, 0x3040...0x30FF, 0x0400...0x04FF, 0x0900...0x097F, 0xAC00...0xD7A3]
        for _ in 0..<60 {
            let n = 10 + r.below(200)
            var s = ""
            let mixed = r.below(3) == 0
            let base = ranges[r.below(ranges.count)]
            for _ in 0..<n {
                let rg = mixed ? ranges[r.below(ranges.count)] : base
                let cp = rg.lowerBound + UInt32(r.below(Int(rg.upperBound - rg.lowerBound) + 1))
                s.unicodeScalars.append(Unicode.Scalar(cp)!)
            }
            out.append(("script text", Array(s.utf8)))
        }
        // Common CJK characters repeated in varied orders (real words get merged).
        let common = Array("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴随跑复".unicodeScalars)
        for _ in 0..<60 {
            var s = ""
            for _ in 0..<(10 + r.below(120)) { s.unicodeScalars.append(common[r.below(min(common.count, 40 + r.below(300)))]) }
            out.append(("common CJK", Array(s.utf8)))
        }
        return out
    }

    @Test(arguments: ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken"])
    func agreesWithMergeLoopOnGeneratedText(_ rel: String) throws {
        let m = try Self.model(rel)
        for (what, piece) in Self.generated(seed: 7) { Self.check(m, piece, what) }
    }

    @Test(arguments: ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken"])
    func agreesWithMergeLoopOnEveryToken(_ rel: String) throws {
        let m = try Self.model(rel)
        for id in 0..<m.lookup.entryCount {
            let bytes = m.lookup.entryBytes(id)
            if bytes.count > 1 { Self.check(m, bytes, "token \(id)") }
        }
    }

    /// The pair filter in regions by boundary bytes: every merge that a pair check looks up has both its
    /// bits in its own boundary's region (a missing bit would accept a pair that BPE merges), and the word
    /// shared by boundaries that no such merge spans stays empty, so checks there reject at once.
    @Test(arguments: ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken",
                      "llama3.2/tokenizer.model", "qwen-tiktoken/qwen.tiktoken"])
    func filterRegionsHoldEveryMerge(_ rel: String) throws {
        let (missing, sharedWordZero) = Self.encoder(try Self.model(rel)).filterCheck()
        #expect(missing == 0)
        #expect(sharedWordZero)
    }

    /// Llama 3's rank file has tokens that BPE never builds from their own bytes in rank order (ranks
    /// not from one training run), where an encoder over all tokens gave wrong ids (" традиционных").
    /// Those that the merge loop forms anyway (out of rank order: " ради") make it decline every piece they
    /// occur in; those it never forms ("talya") its walks skip, so pieces holding one are served, except a
    /// piece that is one (tiktoken takes that token as it is).
    @Test func declinesPiecesWithUnreachableTokens() throws {
        let m = try Self.model("llama3.2/tokenizer.model")
        Self.check(m, Array(" традиционных".utf8), "known piece", declineOK: true)
        #expect(m.uncachedPieceIds(Array(" ради".utf8), backtracking: false)?.count == 1)
        #expect(m.uncachedPieceIds(Array(" радиус".utf8), backtracking: true) == nil)
        #expect(m.uncachedPieceIds(Array(" радиус".utf8), backtracking: false) != nil)
        #expect(m.uncachedPieceIds(Array("talya".utf8), backtracking: false)!.count > 1)
        #expect(Self.check(m, Array("qzxwtalyavqz".utf8), "a skipped token inside"))
        let bt = Self.encoder(m)
        var out = [Int32](repeating: 0, count: 8)
        #expect(out.withUnsafeMutableBufferPointer { bt.encodeIds(Array("talya".utf8), 5, $0.baseAddress!) } < 0)
    }

    /// Rank files with unreachable tokens (Llama 3) or without (Qwen): every token's bytes and the
    /// generated pieces agree with the merge loop whenever the encoder serves them, and it serves most.
    @Test(arguments: ["llama3.2/tokenizer.model", "qwen-tiktoken/qwen.tiktoken"])
    func agreesWithMergeLoopWhereServed(_ rel: String) throws {
        let m = try Self.model(rel)
        var served = 0, total = 0
        for (what, piece) in Self.generated(seed: 11) {
            total += 1
            if Self.check(m, piece, what, declineOK: true) { served += 1 }
        }
        #expect(served * 10 > total * 8, "served \(served) of \(total)")
        served = 0; total = 0
        for id in 0..<m.lookup.entryCount {
            let bytes = m.lookup.entryBytes(id)
            if bytes.count > 1 {
                total += 1
                if Self.check(m, bytes, "token \(id)", declineOK: true) { served += 1 }
            }
        }
        #expect(served * 100 > total * 95, "served \(served) of \(total) tokens")
    }

    /// The encoder is built once the model as a whole has merged as many long-piece bytes as its
    /// vocabulary has key bytes, even when every call starts from a fresh `EncoderState`.
    @Test func builtOnceTheModelHasMergedEnough() throws {
        let t = try Tokenizer.load(path: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"))
        guard case .bpe(let m) = t.model else { throw TokenizerError.invalidArgument("not BPE") }
        func built() -> Bool { m.backtracker.note(merged: 0, budget: .max) { nil }.built }
        let text = Array(try String(contentsOfFile: TestPaths.shared + "/bench/zh_linux_docs_translation.txt", encoding: .utf8).utf8)
        #expect(!built())
        var at = 0
        while at < text.count && !built() {
            var e = min(at + 4096, text.count)
            while e < text.count && text[e] & 0xC0 == 0x80 { e += 1 }
            _ = try t.encode(bytes: Array(text[at..<e]), options: EncodeOptions(withTokens: false))
            at = e
        }
        #expect(built())
    }

    /// Bytes of pieces of 1 KB or more count 8 times toward the budget: one long adversarial piece
    /// (its heap merge costs far more per byte than the build) builds the encoder at once.
    @Test func builtAtOnceForOneLongPiece() throws {
        let t = try Tokenizer.load(path: TestPaths.tokenizer("cl100k_base/cl100k_base.tiktoken"))
        guard case .bpe(let m) = t.model else { throw TokenizerError.invalidArgument("not BPE") }
        func built() -> Bool { m.backtracker.note(merged: 0, budget: .max) { nil }.built }
        var r = Rng(s: 3)
        let piece = (0..<(m.lookup.arenaCount / 8 + 1024)).map { _ in UInt8(0x61 + r.below(26)) }
        #expect(piece.count * 4 < m.lookup.arenaCount)
        #expect(!built())
        let ids = try t.encode(bytes: piece, options: EncodeOptions(withTokens: false)).ids
        #expect(built())
        #expect(ids == m.uncachedPieceIds(piece, backtracking: false))
    }

    /// Real Chinese sentences (the long pieces of such text): the encoder is used for
    /// every piece longer than `backtrackMinBytes`.
    @Test func realChinesePiecesMatchMergeLoop() throws {
        let m = try Self.model("cl100k_base/cl100k_base.tiktoken")
        let path = TestPaths.shared + "/bench/zh_linux_docs_translation.txt"
        let text = Array(try String(contentsOfFile: path, encoding: .utf8).utf8.prefix(200_000))
        var start = 0
        var checked = 0
        // Pieces: maximal runs of non-ASCII bytes (Chinese sentences) longer than the threshold.
        for i in 0...text.count where i == text.count || text[i] < 0x80 {
            if i - start > BPEModel.backtrackMinBytes {
                // Cut at a character boundary at most 300 bytes on.
                var e = min(i, start + 300)
                while e < i && text[e] & 0xC0 == 0x80 { e += 1 }
                Self.check(m, Array(text[start..<e]), "zh piece")
                checked += 1
            }
            start = i + 1
        }
        #expect(checked > 100)
    }

    /// `hugeAllocate` (the encoder's tables): 64-byte aligned below 1 MiB, 2 MiB-aligned from 1 MiB on, at the
    /// bound and past it, every value written and read back before `free`.
    @Test func hugeAllocateAlignsAndHoldsEveryValue() {
        for count in [1, 1000, (1 << 17) - 1, 1 << 17, 3 << 18] {
            let p = hugeAllocate(UInt64.self, count)
            defer { free(p) }
            #expect(UInt(bitPattern: p) % (count * 8 >= 1 << 20 ? 1 << 21 : 64) == 0, "\(count)")
            for i in 0..<count { p[i] = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
            var wrong = 0
            for i in 0..<count where p[i] != UInt64(i) &* 0x9E37_79B9_7F4A_7C15 { wrong += 1 }
            #expect(wrong == 0, "\(count)")
        }
    }

    /// Merges of two ids below 256 live in the direct `low` table, the others in the hashed slots;
    /// the first (lowest-ranked) insert of a pair wins in both.
    @Test func packedMergesSplitsLowPairsFromHashedOnes() {
        let t = PackedMerges(capacity: 1000)
        defer { free(t.slots); t.low.deallocate() }
        t.insert(3, 255, merged: 700); t.insert(3, 255, merged: 900)
        t.insert(255, 256, merged: 701); t.insert(255, 256, merged: 901)
        t.insert(999, 0, merged: 702)
        #expect(t.low[3 << 8 | 255] == 700)
        #expect(t.low[255 << 8 | 3] == .max)
        #expect(t.merged(255, 256, hash: PackedMerges.hash(255, 256)) == 701)
        #expect(t.merged(999, 0, hash: PackedMerges.hash(999, 0)) == 702)
        #expect(t.merged(0, 999, hash: PackedMerges.hash(0, 999)) == .max)
        #expect(t.merged(256, 255, hash: PackedMerges.hash(256, 255)) == .max)
    }

    /// A rank file whose ids below 256 are not all single bytes (its first merges ranked before most
    /// bytes): the pair check may not stop at two ids below 256 (`lowAreBytes`). Merges learned by BPE
    /// on random text of five letters (so that the encoder serves most pieces), against the merge loop on
    /// more such text; and the same merges with the bytes first.
    @Test(arguments: [0, 40])
    func agreesWithMergeLoopWhenLowIdsAreMerges(_ mergesFirst: Int) throws {
        var r = Rng(s: 41)
        let letters: [UInt8] = Array("abcde".utf8)
        func text(_ n: Int) -> [UInt8] { (0..<n).map { _ in letters[min(r.below(letters.count), r.below(letters.count))] } }
        var symbols = text(4000).map { [$0] }
        var merges: [[UInt8]] = []
        while merges.count < 300 {
            var counts: [[UInt8]: Int] = [:]
            for k in 1..<symbols.count { counts[symbols[k &- 1] + [0xFF] + symbols[k], default: 0] &+= 1 }
            guard let best = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key.lexicographicallyPrecedes($1.key) }) else { break }
            let cut = best.key.firstIndex(of: 0xFF)!
            let left = Array(best.key[..<cut]), right = Array(best.key[(cut &+ 1)...])
            var out: [[UInt8]] = []
            var k = 0
            while k < symbols.count {
                if k &+ 1 < symbols.count && symbols[k] == left && symbols[k &+ 1] == right { out.append(left + right); k &+= 2 }
                else { out.append(symbols[k]); k &+= 1 }
            }
            symbols = out
            if !merges.contains(left + right) { merges.append(left + right) }
        }
        // The five letters first, then the first merges, then the other bytes: merges with ids below 256
        // whose parts have lower ids still.
        let others = (0..<256).map { [UInt8($0)] }.filter { !letters.contains($0[0]) }
        let tokens = letters.map { [$0] } + Array(merges.prefix(mergesFirst)) + others + merges.dropFirst(mergesFirst)
        let enc = TiktokenEncoding(name: "cl100k_base", pattern: try #require(TiktokenEncoding.named("cl100k_base", rankCount: 0)).pattern,
                                   specialTokens: [])
        let tok = try Tokenizer.fromRanks(tokens, encoding: enc, source: .tiktoken(encoding: "cl100k_base"))
        guard case .bpe(let m) = tok.model else { Issue.record("not BPE"); return }
        _ = Self.encoder(m)
        var served = 0
        for k in 0..<400 {
            if Self.check(m, text(1 &+ r.below(k < 200 ? 40 : 700)), "letters", declineOK: true) { served &+= 1 }
        }
        #expect(served >= 300, "the encoder served only \(served) of 400 pieces")
    }

    /// The model's backtracking encoder, built at once.
    /// The encoder's ids for `piece` through `encodeIds`, or nil where it declines.
    static func encoderIds(_ bt: BacktrackingBPE, _ piece: [UInt8]) -> [Int32]? {
        piece.withUnsafeBufferPointer { b in
            var out = [Int32](repeating: 0, count: b.count)
            let c = out.withUnsafeMutableBufferPointer { bt.encodeIds(b.baseAddress!, b.count, $0.baseAddress!) }
            return c < 0 ? nil : Array(out.prefix(c))
        }
    }

    static func encoder(_ m: BPEModel) -> BacktrackingBPE {
        var s = BPEScratch()
        let warm = Array("warm".utf8)
        _ = warm.withUnsafeBufferPointer { m.backtrack($0.baseAddress!, $0.count, &s, force: true) }
        return s.backtracking!.encoder!
    }

    /// The parts that `partEnd` cuts `bytes` into (one part when one of them is an avoided token, as
    /// `IdsPath` does).
    static func parts(_ bt: BacktrackingBPE, _ bytes: [UInt8]) -> [Range<Int>] {
        bytes.withUnsafeBufferPointer { b -> [Range<Int>] in
            guard let p = b.baseAddress, b.count > 0 else { return [] }
            var out: [Range<Int>] = [], a = 0, carry: UInt64 = 0
            while a < b.count {
                let e = bt.partEnd(p, a, b.count, carry: &carry)
                #expect(e > a)
                if bt.isAvoidedToken(p + a, e - a) { return [0..<b.count] }
                out.append(a..<e); a = e
            }
            return out
        }
    }

    static let contextChars = Array("中文的了是一ーのカ한국어привет हिन्दी عربي ab1é🙂\u{0}".unicodeScalars)

    /// No cut falls inside any token placed among other characters: every place where a character starts
    /// inside a token is in the tables. Tokens that start or end inside a character get the rest of it
    /// (a lead byte before, continuation bytes after) so that the piece is valid there.
    @Test(arguments: ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken", "llama3.2/tokenizer.model",
                      "qwen-tiktoken/qwen.tiktoken"])
    func noCutInsideAnyToken(_ rel: String) throws {
        let m = try Self.model(rel)
        let bt = Self.encoder(m)
        var r = Rng(s: 5)
        var checked = 0
        for id in 0..<m.lookup.entryCount {
            let tok = m.lookup.entryBytes(id)
            guard tok.count > 1 else { continue }
            var k = 0
            while k < tok.count && tok[k] & 0xC0 == 0x80 { k += 1 }
            guard k < 4 else { continue }
            var q = tok.count - 1
            while q > 0 && tok[q] & 0xC0 == 0x80 { q -= 1 }
            let need = BacktrackingBPE.charLength(tok[q]) - (tok.count - q)
            var left: [UInt8] = [], right: [UInt8] = []
            for _ in 0..<(1 + r.below(3)) { left += Array(String(Self.contextChars[r.below(Self.contextChars.count)]).utf8) }
            for _ in 0..<(1 + r.below(3)) { right += Array(String(Self.contextChars[r.below(Self.contextChars.count)]).utf8) }
            if k > 0 { left.append([0, 0xC3, 0xE4, 0xF0][k]) }
            if need > 0 { right = [UInt8](repeating: 0x80, count: need) + right }
            let piece = left + tok + right
            let s = left.count, e = s + tok.count
            for part in Self.parts(bt, piece) where part.lowerBound > s && part.lowerBound < e {
                Issue.record("token \(id) \(tok) cut at \(part.lowerBound - s) in \(piece)")
            }
            checked += 1
        }
        #expect(checked > 50000)
    }

    /// The merge loop over the parts, concatenated, gives the merge loop's ids for the whole piece: on
    /// generated pieces (CJK, kana, Hangul, Cyrillic, Devanagari, mixed, byte soup) and real text.
    @Test(arguments: ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken", "llama3.2/tokenizer.model"])
    func partsAgreeWithMergeLoop(_ rel: String) throws {
        let m = try Self.model(rel)
        let bt = Self.encoder(m)
        var pieces = Self.generated(seed: 13).map { $0.1 }
        for file in ["zh_linux_docs_translation", "multi_nonlatin_mix"] {
            let text = try String(contentsOfFile: TestPaths.shared + "/bench/\(file).txt", encoding: .utf8)
            for line in text.split(separator: "\n").prefix(400) {
                pieces.append(Array(line.utf8))
                for word in line.split(separator: " ") { pieces.append(Array(" \(word)".utf8)) }
            }
        }
        var cut = 0
        for piece in pieces {
            let parts = Self.parts(bt, piece)
            if parts.count > 1 { cut += 1 }
            var ids: [Int32] = []
            for part in parts { ids += m.uncachedPieceIds(Array(piece[part]), backtracking: false)! }
            let reference = m.uncachedPieceIds(piece, backtracking: false)
            #expect(ids == reference, "\(piece.prefix(60)) (\(piece.count) bytes) parts \(parts.prefix(20))")
        }
        #expect(cut > 1000, "cut \(cut) of \(pieces.count)")
    }

    /// The ids-only path (`encodeIds`) against the merge loop, one encoder for all pieces: random letters
    /// from alphabets of 2 to 26 letters, digits and mixed bytes (mostly short tokens), then real text
    /// (longer tokens), each piece twice.
    @Test(arguments: ["cl100k_base/cl100k_base.tiktoken", "o200k_base/o200k_base.tiktoken", "llama3.2/tokenizer.model"])
    func idsAgreeWithMergeLoop(_ rel: String) throws {
        let m = try Self.model(rel)
        let bt = Self.encoder(m)
        var r = Rng(s: 99)
        var pieces: [[UInt8]] = []
        for alphabet in [2, 3, 5, 8, 26] {
            for _ in 0..<60 {
                let len = 9 + r.below(400)
                pieces.append((0..<len).map { _ in UInt8(0x61 + r.below(alphabet)) })
            }
        }
        for _ in 0..<60 {
            let len = 9 + r.below(300)
            pieces.append((0..<len).map { _ in r.below(3) == 0 ? UInt8(0x30 + r.below(10)) : UInt8(0x61 + r.below(26)) })
            pieces.append((0..<len).map { _ in UInt8(0x20 + r.below(95)) })
        }
        let text = try String(contentsOfFile: TestPaths.shared + "/bench/multi_nonlatin_mix.txt", encoding: .utf8)
        for line in text.split(separator: "\n").prefix(300) where line.utf8.count > 8 { pieces.append(Array(line.utf8)) }
        var served = 0
        for piece in pieces + pieces {
            let reference = m.uncachedPieceIds(piece, backtracking: false)
            guard let ids = Self.encoderIds(bt, piece) else { continue }  // declined (Llama 3: an unreachable token occurs)
            served += 1
            #expect(ids == reference, "\(piece.prefix(60)) (\(piece.count) bytes)")
        }
        #expect(served > pieces.count)
    }

    /// Llama 3's unreachable tokens at every offset of 0–11 with 0–6 letters after them (both parities, in
    /// the scan's eight-byte blocks and in its tail). Each is sorted by the merge loop itself: one that it
    /// forms from its own bytes must make the encoder decline; one that it never forms must not (unless the
    /// piece is that token, or the letters around it hold a formed one), and the ids must be the merge
    /// loop's. On random letters the encoder declines exactly where a byte-by-byte search finds a formed one.
    @Test func unreachableTokensAtEveryOffset() throws {
        let m = try Self.model("llama3.2/tokenizer.model")
        let bt = Self.encoder(m)
        var formed: [[UInt8]] = [], skipped: [[UInt8]] = []
        for id in 0..<m.lookup.entryCount {
            let b = m.lookup.entryBytes(id)
            guard b.count > 1 && b.withUnsafeBufferPointer({ bt.isAvoidedToken($0.baseAddress!, $0.count) }) else { continue }
            if m.uncachedPieceIds(b, backtracking: false) == [Int32(id)] { formed.append(b) } else { skipped.append(b) }
        }
        #expect(formed.count > 50 && skipped.count > 500, "\(formed.count) formed, \(skipped.count) never formed")
        let formedSet = Set(formed), skippedSet = Set(skipped)
        func ids(_ piece: [UInt8]) -> [Int32]? { Self.encoderIds(bt, piece) }
        func holdsFormed(_ piece: [UInt8]) -> Bool {
            for i in 0..<(piece.count - 1) {
                for l in 2...min(40, piece.count - i) where formedSet.contains(Array(piece[i..<(i + l)])) { return true }
            }
            return false
        }
        var r = Rng(s: 5)
        let letters = Array("etaoinshrdlucmwfgypbvkjxqz".utf8)
        func text(_ n: Int) -> [UInt8] { (0..<n).map { _ in letters[r.below(letters.count)] } }
        var served = 0, wrong = 0, tried = 0
        for token in formed + skipped {
            for offset in 0..<12 {
                for after in [0, 1, 3, 6] {
                    tried += 1
                    let piece = text(offset) + token + text(after)
                    let got = ids(piece)
                    if piece == token || holdsFormed(piece) {
                        if got != nil { wrong += 1 }
                    } else if let got {
                        served += 1
                        if got != m.uncachedPieceIds(piece, backtracking: false) { wrong += 1 }
                    } else {
                        wrong += 1
                    }
                }
            }
        }
        #expect(wrong == 0, "\(wrong) of \(tried) pieces holding an unreachable token were served wrongly or declined")
        #expect(served > skipped.count * 40)
        var agreed = 0, found = 0
        for n in 2..<600 {
            let piece = text(n % 97 + 2)
            let expected = holdsFormed(piece) || skippedSet.contains(piece)
            if (ids(piece) == nil) == expected { agreed += 1 }
            if expected { found += 1 }
        }
        #expect(agreed == 598, "the scan and the byte-by-byte search disagree on \(598 - agreed) pieces (\(found) hold one)")
    }

    /// The scan itself (`declines`), not the encoder's answer after it (which a missed token can leave unchanged by
    /// chance): every formed unreachable token of Llama 3 after 0–13 letters and before 0–2, so that it starts at
    /// every place of the scan's last eight-byte load, which in pieces of eight bytes or more is the piece's last
    /// eight bytes shifted down.
    @Test func scanFindsFormedTokensAtEveryEnd() throws {
        let m = try Self.model("llama3.2/tokenizer.model")
        let bt = Self.encoder(m)
        var r = Rng(s: 11)
        let letters = Array("etaoinshrdlucwfgypbvjxqz".utf8)
        var missed = 0, tried = 0
        for id in 0..<m.lookup.entryCount {
            let t = m.lookup.entryBytes(id)
            guard t.count > 1 && t.withUnsafeBufferPointer({ bt.isAvoidedToken($0.baseAddress!, $0.count) }),
                  m.uncachedPieceIds(t, backtracking: false) == [Int32(id)] else { continue }
            for before in 0..<14 {
                for after in 0..<3 {
                    let piece = (0..<before).map { _ in letters[r.below(letters.count)] } + t
                        + (0..<after).map { _ in letters[r.below(letters.count)] }
                    tried += 1
                    if !piece.withUnsafeBufferPointer({ bt.declines($0.baseAddress!, $0.count) }) { missed += 1 }
                }
            }
        }
        #expect(tried > 3000)
        #expect(missed == 0, "\(missed) of \(tried) pieces holding a formed unreachable token were not declined")
    }

    /// Pieces of 66 bytes or more are scanned 64 positions at a time by the nibble prefilter
    /// (`glossa_triple_candidates64`) before the gram test: every formed unreachable token of Llama 3 at every
    /// offset of 0–129 in 130–200 bytes of letters (across the windows' bounds and into the tail the scalar
    /// scan takes) makes the encoder decline, and the same letters without it are served.
    @Test func formedTokensFoundInLongPieces() throws {
        let m = try Self.model("llama3.2/tokenizer.model")
        let bt = Self.encoder(m)
        var formed: [[UInt8]] = []
        for id in 0..<m.lookup.entryCount {
            let b = m.lookup.entryBytes(id)
            guard b.count > 1 && b.withUnsafeBufferPointer({ bt.isAvoidedToken($0.baseAddress!, $0.count) }),
                  m.uncachedPieceIds(b, backtracking: false) == [Int32(id)] else { continue }
            formed.append(b)
        }
        #expect(formed.count > 50)
        var r = Rng(s: 9)
        let letters = Array("etaoinshrdlucwfgypbvjxqz".utf8)
        var missed = 0, declinedPlain = 0
        for token in formed {
            for offset in 0..<130 {
                let fill = (0..<(130 + r.below(71))).map { _ in letters[r.below(letters.count)] }
                let piece = Array(fill[..<offset]) + token + Array(fill[offset...])
                if Self.encoderIds(bt, piece) != nil { missed += 1 }
                if Self.encoderIds(bt, fill) == nil { declinedPlain += 1 }
            }
        }
        #expect(missed == 0, "\(missed) pieces holding a formed unreachable token were served")
        #expect(declinedPlain == 0, "\(declinedPlain) pieces of letters without one were declined")
    }
}
