import XCTest
@testable import GlossaTokenizers

/// The batch paths (`encodeIdsBatch`, `encodeBatch` over `parallelMap`): results identical to encoding each
/// document alone on one thread, for any thread count and document sizes, and the first failing document
/// reported wherever the runs the workers claim begin and end.
final class BatchTests: XCTestCase {
    typealias Rng = FastPathTests.Rng

    /// Documents of every size class: empty, one byte, around the memo bounds, prose of a few KB, one of
    /// 200 KB, and enough of them (with the empty ones between) that the workers claim many runs.
    static func documents(seed: UInt64) -> [[UInt8]] {
        var r = Rng(s: seed)
        var docs: [[UInt8]] = [[], Array("a".utf8), [], Array(" ".utf8), Array(String(repeating: "x", count: 17).utf8)]
        for k in 0..<700 {
            switch k % 7 {
            case 0: docs.append([])
            case 1: docs.append(Array(IdsPathTests.text(&r).utf8))
            case 2: docs.append(Array(IdsPathTests.scriptText(&r).utf8))
            default: docs.append(Array((0..<(1 + r.below(40))).map { _ in FastPathTests.text(&r) }.joined().utf8))
            }
        }
        var big = ""
        while big.utf8.count < 200_000 { big += FastPathTests.text(&r) + IdsPathTests.text(&r) }
        docs.insert(Array(big.utf8), at: docs.count / 2)
        return docs
    }

    func assertBatches(_ rel: String, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        let tok = try IdsPathTests.load(rel)
        let docs = Self.documents(seed: seed)
        var state = EncoderState()
        let alone: [[Int32]] = try docs.map { try tok.encodeIds(bytes: $0, specialTokens: SpecialTokenPolicy.text, state: &state) }
        for threads in [1, 2, 3, 8] {
            let batch = try tok.encodeIdsBatch(docs, specialTokens: SpecialTokenPolicy.text, threads: threads)
            XCTAssertEqual(batch.count, docs.count, file: file, line: line)
            if let k = batch.indices.first(where: { batch[$0] != alone[$0] }) {
                XCTFail("\(rel), \(threads) threads: document \(k) (\(docs[k].count) bytes) differs", file: file, line: line)
            }
        }
        // One document; more threads than documents; none.
        XCTAssertEqual(try tok.encodeIdsBatch([docs[1]], specialTokens: SpecialTokenPolicy.text, threads: 4), [alone[1]], file: file, line: line)
        XCTAssertEqual(try tok.encodeIdsBatch(Array(docs[5..<8]), specialTokens: SpecialTokenPolicy.text, threads: 8), Array(alone[5..<8]),
                       file: file, line: line)
        XCTAssertEqual(try tok.encodeIdsBatch([], threads: 4), [], file: file, line: line)
        // With offsets (the general batch path over the same workers).
        let some = Array(docs[0..<120])
        let encodings = try tok.encodeBatch(some, threads: 3)
        for (k, d) in some.enumerated() { XCTAssertEqual(encodings[k], try tok.encode(bytes: d), file: file, line: line) }
    }

    func testCl100k() throws { try assertBatches("cl100k_base/cl100k_base.tiktoken", seed: 41) }
    func testO200k() throws { try assertBatches("o200k_base/o200k_base.tiktoken", seed: 42) }
    func testLlama3JSON() throws { try assertBatches("llama3.2/tokenizer.json", seed: 43) }

    /// Invalid UTF-8 in two documents far apart (in different runs of every worker count): the error is the
    /// first one's, as encoding the documents in order would report.
    func testFirstFailureAcrossRuns() throws {
        let tok = try IdsPathTests.load("cl100k_base/cl100k_base.tiktoken")
        var docs = (0..<3000).map { i in Array(String(repeating: "abc ab ", count: 1 + i % 9).utf8) }
        docs[2100] = [0x61, 0x62, 0xFF]                 // first bad byte at offset 2
        docs[1900] = [0x61, 0x62, 0x63, 0x64, 0x65, 0xC3]   // at offset 5
        docs[150] = [0x61, 0x62, 0x63, 0xFE]            // at offset 3: the first failing document
        for threads in [1, 2, 3, 8] {
            for _ in 0..<5 {
                let result = Result { () throws(TokenizerError) in try tok.encodeIdsBatch(docs, threads: threads) }
                guard case .failure(.invalidUTF8(_, let offset)) = result else { XCTFail("\(threads) threads: \(result)"); continue }
                XCTAssertEqual(offset, 3, "\(threads) threads")
            }
        }
    }

    /// The runs cover 0..<count once, in order, each of 1…`maxRun` indices, ending with the shortest; after
    /// `stop` nothing more is handed out.
    func testClaimRuns() {
        for (count, workers) in [(0, 2), (1, 2), (5, 8), (100, 2), (14_208, 2), (14_208, 16), (1_000, 1)] {
            let c = ClaimCounter(count: count, workers: workers)
            var next = 0, last = Int.max
            while let r = c.next() {
                XCTAssertEqual(r.lowerBound, next)
                XCTAssertTrue((1...ClaimCounter.maxRun).contains(r.count))
                XCTAssertLessThanOrEqual(r.count, last)
                next = r.upperBound; last = r.count
            }
            XCTAssertEqual(next, count)
            if count > 0 { XCTAssertEqual(last, 1, "the last run is one index") }
        }
        let c = ClaimCounter(count: 1000, workers: 2)
        _ = c.next()
        c.stop()
        XCTAssertNil(c.next())
    }

    /// Aligned to a cache line, and usable to the last element.
    func testCacheLines() {
        for count in [0, 1, 15, 16, 17, 1000] {
            let p = CacheLines.allocate(Int32.self, count: count)
            XCTAssertEqual(Int(bitPattern: p) % CacheLines.size, 0)
            p.initialize(repeating: 7, count: max(count, 1))
            XCTAssertEqual(p[max(count, 1) - 1], 7)
            p.deallocate()
        }
    }
}
