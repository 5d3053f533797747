import Foundation
import Testing
@testable import GlossaTokenizers

/// Per-thread caches start small and take their full sizes once a state has encoded enough text
/// (`SizedCache`, `WordCache.Storage.noteStore`); the ids never depend on the size.
@Suite struct CacheSizingTests {
    static func load(_ rel: String) throws -> Tokenizer { try Tokenizer.load(path: TestPaths.tokenizer(rel)) }

    /// Texts of distinct words (so that caches miss and store), `count` words.
    static func words(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed
        var out = ""
        for k in 0..<count {
            var w = ""
            for _ in 0..<(3 + k % 7) {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                w.unicodeScalars.append(Unicode.Scalar(UInt8(97 + Int(x >> 33) % 26)))
            }
            out += (k % 11 == 0 ? "\n" : " ") + w + (k % 5 == 0 ? "," : "")
        }
        return Array(out.utf8)
    }

    /// Encodes `texts` with one state and each with a fresh one (the stateless calls): the same ids, whatever
    /// size the caches had.
    static func sameIds(_ tok: Tokenizer, _ texts: some Sequence<[UInt8]>, _ state: inout EncoderState) throws {
        for t in texts {
            let a = try tok.encodeIds(bytes: t, specialTokens: .text, state: &state)
            let b = try tok.encodeIds(bytes: t, specialTokens: .text)
            #expect(a == b)
            #expect(try tok.count(bytes: t, specialTokens: .text) == a.count)
            // The full pipeline (post-processor, truncation) with this state and with a fresh one.
            let e = try tok.encode(bytes: t, options: EncodeOptions(), state: &state)
            #expect(e.ids == (try tok.encode(bytes: t)).ids)
        }
    }

    @Test func pieceMemoGrowsAtItsThreshold() throws {
        let tok = try Self.load("cl100k_base/cl100k_base.tiktoken")
        var state = EncoderState()
        let short = Self.words(50, seed: 1)
        try Self.sameIds(tok, [short], &state)
        #expect(state.pieceMemo?.full == false)
        // Short texts until their sum passes the threshold, then the memo is full.
        var texts: [[UInt8]] = []
        var total = short.count
        while total < PieceMemo.growAfter { let t = Self.words(60, seed: UInt64(texts.count + 2)); texts.append(t); total += t.count }
        try Self.sameIds(tok, texts.dropLast(), &state)
        #expect(state.pieceMemo?.full == false)
        try Self.sameIds(tok, texts.suffix(1), &state)
        #expect(state.pieceMemo?.full == true)
        // One long text makes a fresh state's memo full at once.
        var other = EncoderState()
        _ = try tok.encodeIds(bytes: Self.words(8000, seed: 99), specialTokens: .text, state: &other)
        #expect(other.pieceMemo?.full == true)
    }

    /// The fast paths' caches: Mistral's segment cache, MiniLM's WordPiece cache.
    @Test(arguments: ["mistral-7b-v0.3/tokenizer.json", "all-MiniLM-L6-v2-wordpiece/tokenizer.json"])
    func fastPathCacheGrows(_ rel: String) throws {
        let tok = try Self.load(rel)
        let full: KeyPath<EncoderState, Bool?> = rel.hasPrefix("mistral") ? \.segmentCache?.full : \.wordPieceCache?.full
        var state = EncoderState()
        try Self.sameIds(tok, [Self.words(40, seed: 3)], &state)
        #expect(state[keyPath: full] == false)
        try Self.sameIds(tok, [Self.words(9000, seed: 4), Self.words(40, seed: 3)], &state)
        #expect(state[keyPath: full] == true)
    }

    /// The general path's word cache grows after twice its small slots of stores, within one call.
    @Test func wordCacheGrowsWithinACall() throws {
        let tok = try Self.load("gpt2/encoder.json")
        var state = EncoderState()
        let short = Self.words(30, seed: 7)
        var general = EncoderState()
        try tok.run(short, policy: .text, useFastPath: false, state: &general)
        #expect(!general.bpe.cache.storage.full)
        let long = Self.words(6000, seed: 8)
        general.ids = []; general.offsets = []
        try tok.run(long, policy: .text, useFastPath: false, state: &general)
        #expect(general.bpe.cache.storage.full)
        // The ids before, across and after the growth are those of the ids path.
        #expect(general.ids == (try tok.encodeIds(bytes: long, specialTokens: .text, state: &state)))
        general.ids = []; general.offsets = []
        try tok.run(short, policy: .text, useFastPath: false, state: &general)
        #expect(general.ids == (try tok.encodeIds(bytes: short, specialTokens: .text, state: &state)))
    }
}
