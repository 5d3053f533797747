import Testing
import GlossaJSON
import GlossaFormats

/// Golden values for cl100k merge recovery, from the reference algorithm (`hf_from_ranks` in tokenizers.md §9.2):
///
/// ```python
/// import base64, sys
/// def fnv(data, h=0xcbf29ce484222325):
///     for b in data: h ^= b; h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
///     return h
/// ranks = {}
/// for line in open(sys.argv[1], 'rb'):
///     if line.strip(): t, k = line.split(); ranks[base64.b64decode(t)] = int(k)
/// def split(t, max_rank):
///     parts = [bytes([b]) for b in t]
///     while True:
///         best = None
///         for i in range(len(parts) - 1):
///             r = ranks.get(parts[i] + parts[i + 1])
///             if r is not None and r < max_rank and (best is None or r < best[0]): best = (r, i)
///         if best is None: return parts
///         i = best[1]; parts[i:i + 2] = [parts[i] + parts[i + 1]]
/// ser = bytearray(); merges = []
/// for t, rank in sorted(ranks.items(), key=lambda x: x[1]):
///     if len(t) > 1:
///         p = split(t, rank); assert len(p) == 2; merges.append(p)
///         ser += p[0].hex().encode() + b' ' + p[1].hex().encode() + b'\n'
/// print(len(merges), hex(fnv(bytes(ser))))
/// for m in merges[:5] + merges[-3:]: print(m[0].hex(), m[1].hex())
/// ```
/// Output for cl100k_base.tiktoken: `100000 0x243f6a0d5fef91c4`, first merges `20 20`, `2020 2020`, `69 6e`,
/// `20 74`, `20202020 20202020`, last `2e57616974 466f72`, `20646179 63617265`, `20436f6e 7665796f72`.
@Suite struct MergeRecoveryTests {
    @Test func cl100kMatchesReference() throws {
        let ranks = try TiktokenFile(contentsOfFile: tokenizerPath("cl100k_base/cl100k_base.tiktoken"))
        let merges = try MergeRecovery.mergesFromRanks(ranks)
        #expect(merges.count == 100_000)
        let pairs = MergeRecovery.mergeBytes(merges, ranks: ranks)
        var ser: [UInt8] = []
        for p in pairs { ser += Array(hex(p.left).utf8) + [0x20] + Array(hex(p.right).utf8) + [0x0A] }
        #expect(fnv1a64(ser) == 0x243f_6a0d_5fef_91c4)
        let shown = (pairs.prefix(5) + pairs.suffix(3)).map { hex($0.left) + " " + hex($0.right) }
        #expect(shown == ["20 20", "2020 2020", "69 6e", "20 74", "20202020 20202020",
                          "2e57616974 466f72", "20646179 63617265", "20436f6e 7665796f72"])
        // Every merge joins two lower ranks into its result.
        for m in merges {
            #expect(m.left < m.result && m.right < m.result)
        }
        let strings = MergeRecovery.byteLevelMerges(Array(merges.prefix(2)), ranks: ranks)
        #expect(strings[0].left == "Ġ" && strings[0].right == "Ġ" && strings[1].left == "ĠĠ")
    }

    @Test func o200kRecovers() throws {
        let o200k = try TiktokenFile(contentsOfFile: tokenizerPath("o200k_base/o200k_base.tiktoken"))
        #expect(try MergeRecovery.mergesFromRanks(o200k).count == 199_998 - 256)
    }

    @Test func llama3RanksNeedAllSplits() throws {
        let llama = try TiktokenFile(contentsOfFile: tokenizerPath("llama3.2/tokenizer.model"))
        // Some Llama-3 tokens (beyond cl100k's) do not split into two under lower ranks.
        #expect(throws: MergeRecoveryError.notTwoParts(rank: 100_421, token: [0x2E, 0x3A, 0x2E, 0x3A], parts: 3)) {
            try MergeRecovery.mergesFromRanks(llama)
        }
        // The all-splits rule reproduces the shipped tokenizer.json merges exactly.
        let merges = MergeRecovery.byteLevelMerges(MergeRecovery.allSplitMerges(llama), ranks: llama)
        let doc = try JSONDocument(contentsOfFile: tokenizerPath("llama3.2/tokenizer.json"))
        let fileMerges = try doc.root.require("model").require("merges").requireArray().map { try $0.requireStringBytes() }
        #expect(merges.count == 280_147)
        #expect(merges.map { Array(($0.left + " " + $0.right).utf8) } == fileMerges)
    }

    @Test func failuresAreReported() throws {
        var tokens: [[UInt8]] = (0...255).map { [UInt8($0)] }
        tokens.append([0x61, 0x62, 0x63])      // "abc" with no "ab"/"bc" below it: splits into 3 parts
        let ranks = try TiktokenFile(tokens: tokens)
        #expect(throws: MergeRecoveryError.notTwoParts(rank: 256, token: [0x61, 0x62, 0x63], parts: 3)) {
            try MergeRecovery.mergesFromRanks(ranks)
        }
        let noBytes = try TiktokenFile(tokens: [[0x61], [0x61, 0x62]])
        #expect(throws: MergeRecoveryError.missingSingleByte(0x62)) { try MergeRecovery.mergesFromRanks(noBytes) }
    }

    @Test func sentencePieceMergesMatchMistralFile() throws {
        let model = try SentencePieceModelFile(contentsOfFile: tokenizerPath("mistral-7b-v0.3/tokenizer.model.v3"))
        let doc = try JSONDocument(contentsOfFile: tokenizerPath("mistral-7b-v0.3/tokenizer.json"))
        let fileMerges = try doc.root.require("model").require("merges").requireArray().map { try $0.requireStringBytes() }
        let ours = MergeRecovery.sentencePieceMerges(model, order: .byScore).map { Array(($0.left + " " + $0.right).utf8) }
        #expect(ours.count == 58_980)
        #expect(ours == fileMerges)   // identical, in order
        // The other orderings give the same set, in another order.
        let byID = MergeRecovery.sentencePieceMerges(model, order: .byID).map { Array(($0.left + " " + $0.right).utf8) }
        #expect(Set(byID) == Set(fileMerges))
        #expect(byID != fileMerges)
    }

    @Test func sentencePieceMergesLlama2Count() throws {
        let model = try SentencePieceModelFile(contentsOfFile: tokenizerPath("llama2-sentencepiece/tokenizer.model"))
        #expect(MergeRecovery.sentencePieceMerges(model).count == 61_249)   // as transformers emitted (tokenizers.md §1.7)
    }

    @Test func sentencePieceTieRules() {
        // pieces: a b c ab bc abc ; "abc" splits as a|bc and ab|c.
        let pieces = ["a", "b", "c", "ab", "bc", "abc"]
        let scores: [Float] = [0, 0, 0, -2, -1, -3]
        let byScore = MergeRecovery.sentencePieceMerges(pieces: pieces, scores: scores, order: .byScore)
        #expect(byScore.map { $0.left + "|" + $0.right } == ["b|c", "a|b", "a|bc", "ab|c"])
        let byLen = MergeRecovery.sentencePieceMerges(pieces: pieces, scores: scores, order: .byScoreThenLength)
        #expect(byLen.map { $0.left + "|" + $0.right } == ["b|c", "a|b", "ab|c", "a|bc"])
        let byID = MergeRecovery.sentencePieceMerges(pieces: pieces, order: .byID)
        #expect(byID.map { $0.left + "|" + $0.right } == ["a|b", "b|c", "a|bc", "ab|c"])
        // Splits are between Unicode scalars, not bytes.
        let uni = MergeRecovery.sentencePieceMerges(pieces: ["▁", "é", "▁é"], scores: [0, 0, -1])
        #expect(uni.count == 1 && uni[0].left == "▁" && uni[0].right == "é")
    }
}
