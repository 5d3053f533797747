import Testing
import GlossaFormats
import GlossaJSON
@testable import GlossaTokenizers

/// The structures built while a tokenizer file loads, each against its plain version.
@Suite struct LoadTablesTests {
    /// Whether `lookup` answers as `reference` for every pair of the first symbols (present or not) and every merge.
    static func answersAs(_ reference: PairTable, symbols: Int, merges: [(Int32, Int32, Int32)],
                          _ lookup: (Int32, Int32) -> UInt64) -> Bool {
        let upTo = Int32(min(symbols + 1, 120))
        for a in 0..<upTo { for b in 0..<upTo where lookup(a, b) != reference.lookup(a, b) { return false } }
        return merges.allSatisfy { lookup($0.0, $0.1) == reference.lookup($0.0, $0.1) }
    }

    /// `count` merges (left, right, merged) of random symbols below `symbols`, merged ids below `mergedBelow`.
    static func randomMerges(_ rng: inout BacktrackingTests.Rng, symbols: Int, count: Int,
                             mergedBelow: Int) -> [(Int32, Int32, Int32)] {
        (0..<count).map { _ in (Int32(rng.below(symbols)), Int32(rng.below(symbols)), Int32(rng.below(mergedBelow))) }
    }

    /// The pair table built by several tasks (each over its own range of slots, with the probes that would leave
    /// it finished afterwards) answers every pair as the one filled in order by one task: many repeated pairs,
    /// full probe runs across the ranges' ends, explicit ranks, first or last occurrence kept.
    @Test func pairTableBuiltInPartsAnswersAsOneBuiltInOrder() {
        var rng = BacktrackingTests.Rng(s: 5)
        for round in 0..<60 {
            let symbols = 2 + rng.below(round < 30 ? 12 : 300)
            let count = rng.below(round % 5 == 0 ? 40_000 : 600)
            let merges = Self.randomMerges(&rng, symbols: symbols, count: count, mergedBelow: symbols * symbols)
            let ranks: [Int32]? = round % 3 == 0 ? merges.map { _ in Int32(rng.below(1000)) } : nil
            let keepLast = round % 2 == 0
            let reference = PairTable(merges: merges, ranks: ranks, keepLast: keepLast, parts: 1)
            for parts in [2, 3, 4, 7] {
                let t = PairTable(merges: merges, ranks: ranks, keepLast: keepLast, parts: parts)
                #expect(t.count == reference.count, "round \(round), \(parts) parts")
                #expect(Self.answersAs(reference, symbols: symbols, merges: merges, t.lookup), "round \(round), \(parts) parts")
            }
        }
    }

    /// The small models' table (eight pairs to a bucket, spilling into the next, the last bucket into the first)
    /// answers every pair as the `PairTable` it is made from: pairs present and absent, crowded buckets, ids and
    /// ranks at the 16-bit limits; a table whose id or rank does not fit is refused.
    @Test func smallPairTableAnswersAsItsPairTable() {
        var rng = BacktrackingTests.Rng(s: 8)
        for round in 0..<40 {
            let symbols = 2 + rng.below(round < 20 ? 10 : 400)
            let count = rng.below(round % 4 == 0 ? 60_000 : 500)
            var merges = Self.randomMerges(&rng, symbols: symbols, count: count, mergedBelow: SmallPairTable.idLimit)
            if round % 5 == 1 { merges.append((Int32(SmallPairTable.idLimit - 1), 0, Int32(SmallPairTable.idLimit - 1))) }
            // Ids whose bits together fill 16 (0xC4E7 | 0x3B3E == 0xFFFF), each below the limit: a pair like this
            // was once refused by a test of `a | b` against it (a GPT-2 extension's merge went missing).
            if round % 5 == 2 { merges.append((0xC4E7, 0x3B3E, 7)); merges.append((0x8000, 0x7FFF, 8)) }
            let ranks: [Int32]? = round % 3 == 0 ? merges.map { _ in Int32(rng.below(0x1_0000)) } : nil
            let pairs = PairTable(merges: merges, ranks: ranks, keepLast: round % 2 == 0, parts: 1)
            guard let small = SmallPairTable(pairs) else { Issue.record("round \(round): refused"); continue }
            let view = small.view
            #expect(Self.answersAs(pairs, symbols: symbols, merges: merges, view.lookup), "round \(round)")
            #expect(view.lookup(Int32(SmallPairTable.idLimit), 0) == UInt64.max && view.lookup(-1, 0) == UInt64.max)
        }
        // Twelve pairs make two buckets; all twelve in the last: four spill into the first, and a pair absent from
        // the last bucket is looked for in the first.
        var last: [(Int32, Int32, Int32)] = []
        var absent: (Int32, Int32) = (-1, -1)
        for a in Int32(0)..<64 {
            for b in Int32(0)..<64 where SmallPairTable.bucket(UInt32(a) << 16 | UInt32(b), 2) == 1 {
                if last.count < 12 { last.append((a, b, a &+ b)) } else { absent = (a, b) }
            }
        }
        let crowded = PairTable(merges: last, ranks: nil, keepLast: false)
        if let small = SmallPairTable(crowded) {
            #expect(small.buckets == 2 && absent.0 >= 0)
            for m in last { #expect(small.view.lookup(m.0, m.1) == crowded.lookup(m.0, m.1)) }
            #expect(small.view.lookup(absent.0, absent.1) == UInt64.max)
        } else {
            Issue.record("twelve pairs refused")
        }
        let wide = PairTable(merges: [(0, 1, Int32(SmallPairTable.idLimit))], ranks: nil, keepLast: false)
        let ranked = PairTable(merges: [(0, 1, 2)], ranks: [0x1_0000], keepLast: false)
        #expect(SmallPairTable(wide) == nil && SmallPairTable(ranked) == nil)
    }

    /// A pair table of one slot range per task with every key in the last slots: probes wrap from the end of
    /// the table to its start, which belongs to another task.
    @Test func pairTableProbesThatWrapAround() {
        let mask = 31
        // Keys whose home slot is among the last four (of 32: 16 merges need 32 slots at load ≤ 2/3).
        var keys: [(Int32, Int32, Int32)] = []
        var absent: (Int32, Int32) = (-1, -1)
        for a in Int32(0)..<64 {
            for b in Int32(0)..<64 where PairTable.slot(PairTable.pack(a, b), mask) >= 28 {
                if keys.count < 16 { keys.append((a, b, a &+ b)) } else { absent = (a, b) }
            }
        }
        #expect(keys.count == 16 && absent.0 >= 0)
        let reference = PairTable(merges: keys, ranks: nil, keepLast: false, parts: 1)
        for parts in [2, 4] {
            let t = PairTable(merges: keys, ranks: nil, keepLast: false, parts: parts)
            #expect(t.count == 16)
            for k in keys { #expect(t.lookup(k.0, k.1) == reference.lookup(k.0, k.1)) }
            #expect(t.lookup(absent.0, absent.1) == UInt64.max)
        }
    }

    /// Entries appended pending and indexed afterwards (slots prefetched 16 entries ahead) give the table that
    /// `append` gives one entry at a time: repeated keys (the first one findable, the repeat an entry that is
    /// not; the first repeat reported, and indexing stopped there when asked), the empty key, fewer entries than
    /// the prefetch distance.
    @Test func pendingIndexMatchesAppend() {
        var rng = BacktrackingTests.Rng(s: 21)
        for round in 0..<300 {
            let n = rng.below(round % 4 == 0 ? 3000 : 40)
            let keys = (0..<n).map { _ in (0..<rng.below(round % 3 == 0 ? 12 : 5)).map { _ in UInt8(rng.below(3)) } }
            let bytes = keys.reduce(0) { $0 + $1.count }
            var reference = ByteTable(capacity: n, arenaBytes: bytes)
            var firstRepeat: Int?
            reference.fill { t in
                for (i, k) in keys.enumerated() where !k.withUnsafeBufferPointer({ t.append($0, value: Int32(i)) }) {
                    if firstRepeat == nil { firstRepeat = i }
                }
            }
            var kept = ByteTable(capacity: n, arenaBytes: bytes), stopped = kept
            let none = kept.fill { t in
                for (i, k) in keys.enumerated() { k.withUnsafeBufferPointer { t.appendPending($0, value: Int32(i)) } }
                return t.indexPending(from: 0, stopAtRepeat: false)
            }
            let found = stopped.fill { t in
                for (i, k) in keys.enumerated() { k.withUnsafeBufferPointer { t.appendPending($0, value: Int32(i)) } }
                return t.indexPending(from: 0, stopAtRepeat: true)
            }
            #expect(none == firstRepeat && found == firstRepeat, "round \(round)")
            #expect(kept.count == reference.count && kept.entryCount == reference.entryCount, "round \(round)")
            var same = true
            for e in 0..<n where kept.entryBytes(e) != reference.entryBytes(e) || kept.entryValue(e) != reference.entryValue(e) { same = false }
            for k in keys + [[9], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]] where kept.find(k) != reference.find(k) { same = false }
            if firstRepeat == nil { for k in keys where stopped.find(k) != reference.find(k) { same = false } }
            #expect(same, "round \(round)")
        }
    }

    /// Merge parts found through the index of 1–8-byte keys give the table's ids, whatever collides in it: keys
    /// that differ only in length or trailing zero bytes, longer keys (looked up in the table), the empty key,
    /// absent keys, a table over half full. A vocabulary with a repeated key has no index.
    @Test func mergePartIndexGivesTheTablesIds() throws {
        var rng = BacktrackingTests.Rng(s: 11)
        for round in 0..<3 {
            var keys: [[UInt8]] = [[0], [0, 0], [0x61], [0x61, 0], [0x61, 0, 0, 0, 0, 0, 0, 0], []]
            var seen = Set(keys)
            let count = [40_000, 3, 300][round]
            while keys.count < count {
                let k = (0..<(1 + rng.below(rng.below(4) == 0 ? 12 : 8))).map { _ in UInt8(rng.below(rng.below(2) == 0 ? 3 : 256)) }
                if seen.insert(k).inserted { keys.append(k) }
            }
            let table = ByteTable(keys: keys)
            let resolver = HuggingFaceReader.MergeResolver(table, prefixLen: 0)
            let index = try #require(HuggingFaceReader.MergeResolver.PartIndex(resolver))
            for _ in 0..<100_000 {
                // Known keys, most from a small set (as merge parts repeat), and absent ones.
                var k = keys[rng.below(2) == 0 ? rng.below(min(64, keys.count)) : rng.below(keys.count)]
                if rng.below(10) == 0 { k.append(0xFF) }
                // The key at the end of a larger buffer and at its start: the word is read without over-reading.
                let buffer = [UInt8](repeating: 0xEE, count: 3) + k
                let got = buffer.withUnsafeBufferPointer { resolver.find(UnsafeBufferPointer(rebasing: $0[3...]), index) }
                #expect(got == (table.find(k) ?? -1), "round \(round): \(k)")
            }
        }
        for n in 1...8 {
            let bytes = (0..<n).map { UInt8($0 + 1) }
            let word = bytes.withUnsafeBufferPointer { HuggingFaceReader.MergeResolver.PartIndex.word($0.baseAddress!, n) }
            #expect(word == bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << UInt64(8 * $1.offset) })
        }
        // "ab" twice: the second is an entry that cannot be looked up, so entries are not the keys.
        let repeated = ByteTable(keys: [Array("ab".utf8), Array("c".utf8), Array("ab".utf8)])
        #expect(HuggingFaceReader.MergeResolver.PartIndex(HuggingFaceReader.MergeResolver(repeated, prefixLen: 0)) == nil)
    }

    /// The byte-level lookup built from the scanned entries beside the table equals the one built from the
    /// table: spellings outside the GPT-2 alphabet (left out), the empty token, multi-byte characters.
    @Test func byteLevelLookupFromEntriesMatchesTheTables() throws {
        var rng = BacktrackingTests.Rng(s: 3)
        let pieces = ["a", "Ġ", "Ċ", "é", "中", "ĉ", "Ā", "ł", "Ń", "\\u00e9z", "b"]
        for round in 0..<100 {
            var tokens = Set<String>()
            let n = 1 + rng.below(40)
            while tokens.count < n { tokens.insert((0..<rng.below(4)).map { _ in pieces[rng.below(pieces.count)] }.joined()) }
            let vocab = "{" + tokens.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ") + "}"
            let doc = Array(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": \#(vocab), "merges": []}}"#.utf8)
            let scanned = try HuggingFaceReader.read(bytes: doc, file: nil)
            let general = try HuggingFaceReader.read(bytes: doc, file: nil, scanModel: false)
            guard case .bpe(let a) = scanned.model, case .bpe(let b) = general.model else { Issue.record("not BPE"); return }
            #expect(a.lookup.allEntries.elementsEqual(b.lookup.allEntries, by: ==), "round \(round): \(vocab)")
            #expect(a.lookup.entryCount == b.lookup.entryCount)
        }
    }

    /// A rank file is parsed without `TiktokenFile`'s duplicate check (the lookup table finds repeats): a repeated
    /// token gives the same error as the check, also where an encoding error would otherwise come first.
    @Test func repeatedTokensInARankFileGiveTheParsersError() throws {
        let text = Array("IQ== 0\nIg== 1\n\nIQ== 2\n".utf8)
        for (file, encoding) in [("r_cl100k_base.tiktoken", nil), ("r.tiktoken", nil), ("r.tiktoken", "no_such_encoding"),
                                 ("r.tiktoken", "cl100k_base")] as [(String, String?)] {
            var expected = ""
            do { _ = try TiktokenFile(bytes: text, file: file) } catch { expected = error.description }
            #expect(expected == "\(file):4: duplicate token (first on line 1)")
            #expect(throws: TokenizerError.malformed(file: nil, field: "", reason: expected), "\(file) \(encoding ?? "-")") {
                try Tokenizer.fromTiktoken(bytes: text, file: file, encoding: encoding)
            }
        }
        // Without repeats, the encoding errors are as before.
        #expect(throws: TokenizerError.self) { try Tokenizer.fromTiktoken(bytes: Array("IQ== 0\n".utf8), file: "r.tiktoken", encoding: nil) }
    }

    /// The spelled vocabulary of a rank file (bytes in the GPT-2 alphabet, runs of `!`...`~` copied eight at a
    /// time) against a byte-by-byte spelling: every byte value, printable runs across the eight-byte words.
    @Test func rankFileSpellingsMatchTheAlphabet() throws {
        var rng = BacktrackingTests.Rng(s: 17)
        let alphabet = ByteLevelAlphabet.gpt2
        var seen = Set<[UInt8]>()
        var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        tokens.forEach { seen.insert($0) }
        while tokens.count < 3000 {
            let t = (0..<(1 + rng.below(40))).map { _ in UInt8(rng.below(3) == 0 ? rng.below(256) : 0x21 + rng.below(94)) }
            if seen.insert(t).inserted { tokens.append(t) }
        }
        let enc = TiktokenEncoding(name: "cl100k_base", pattern: try #require(TiktokenEncoding.named("cl100k_base", rankCount: 0)).pattern,
                                   specialTokens: [])
        let tok = try Tokenizer.fromRanks(tokens, encoding: enc, source: .tiktoken(encoding: "cl100k_base"))
        guard case .bpe(let m) = tok.model else { Issue.record("not BPE"); return }
        for (id, t) in tokens.enumerated() {
            var spelled: [UInt8] = []
            for b in t { spelled += Array(String(Character(Unicode.Scalar(alphabet.byteToScalar[Int(b)])!)).utf8) }
            #expect(m.vocabulary.token(Int32(id)) == spelled, "token \(t)")
            #expect(m.vocabulary.id(of: spelled) == Int32(id))
        }
    }

    /// `Tokenizer.load(path:)` maps the file (`BinaryFile.map`); the tokenizer is the one read from the file's
    /// bytes in memory: vocabulary, lookup, merges and ids, for a `tokenizer.json` and a rank file.
    @Test func mappedFileLoadsAsTheReadBytes() throws {
        for (rel, fromBytes) in [("llama3.2/tokenizer.json", { (b: [UInt8], p: String) throws -> Tokenizer in try HuggingFaceReader.read(bytes: b, file: p) }),
                                 ("cl100k_base/cl100k_base.tiktoken", { (b: [UInt8], p: String) throws -> Tokenizer in try Tokenizer.fromTiktoken(bytes: b, file: p, encoding: nil) })] {
            let path = TestPaths.tokenizer(rel)
            let mapped = try Tokenizer.load(path: path)
            let read = try fromBytes(try BinaryFile.read(path), path)
            guard case .bpe(let a) = mapped.model, case .bpe(let b) = read.model else { Issue.record("not BPE"); return }
            #expect(a.vocabulary.tokens == b.vocabulary.tokens, "\(rel)")
            #expect(a.lookup.allEntries.elementsEqual(b.lookup.allEntries, by: ==), "\(rel)")
            #expect(a.merges.elementsEqual(b.merges, by: ==), "\(rel)")
            let text = "Mapped files load as read ones: naïve café, 12345, ünïcödé — 中文 😀\n"
            #expect(try mapped.encode(text).ids == read.encode(text).ids, "\(rel)")
        }
    }

    /// The table's byte comparison against array equality: lengths 0–40, equal strings and strings that differ
    /// in exactly one byte at every position (each of the overlapping loads must see its bytes).
    @Test func byteComparisonMatchesArrayEquality() {
        var rng = BacktrackingTests.Rng(s: 41)
        for n in 0...40 {
            for _ in 0..<20 {
                let a = (0..<n).map { _ in UInt8(rng.below(256)) }
                a.withUnsafeBufferPointer { pa in
                    let p = pa.baseAddress ?? UnsafePointer(bitPattern: 1)!
                    #expect(memcmp(p, p, n) == 0 && memcmp(p, Array(a), n) == 0, "n \(n)")
                    for k in 0..<n {
                        var b = a
                        b[k] ^= UInt8(1 + rng.below(255))
                        #expect(memcmp(p, b, n) == 1, "n \(n), byte \(k)")
                    }
                }
            }
        }
    }
}
