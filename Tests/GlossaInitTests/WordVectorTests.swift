import Foundation
import Testing
import GlossaJSON
import GlossaTensor
import GlossaWeights
@testable import GlossaInit
import GlossaFormats

// fastText character n-grams, Procrustes alignment with held-out precision@1, and WECHSEL's word-level aux vectors.

@Test func fnvHashMatchesFastText() {
    // ASCII: textbook FNV-1a 32 test vectors.
    #expect(CharNgrams.hash([UInt8]()) == 0x811C_9DC5)
    #expect(CharNgrams.hash(Array("a".utf8)) == 0xE40C_292C)
    #expect(CharNgrams.hash(Array("foobar".utf8)) == 0xBF9C_F968)
    // Non-ASCII: fastText sign-extends each byte (int8_t) before the xor; values computed with that rule.
    #expect(CharNgrams.hash(Array("ё".utf8)) == 0x44D7_E317)
    #expect(CharNgrams.hash(Array("<ё>".utf8)) == 0x306D_3419)
}

@Test func ngramsInFastTextOrder() {
    var got: [String] = []
    CharNgrams.ngrams(wrapped: Array("<dog>".utf8), minn: 3, maxn: 6) { got.append(String(decoding: $0, as: UTF8.self)) }
    #expect(got == ["<do", "<dog", "<dog>", "dog", "dog>", "og>"])
    got = []
    // Lengths are in characters, not bytes.
    CharNgrams.ngrams(wrapped: Array("<ёж>".utf8), minn: 2, maxn: 3) { got.append(String(decoding: $0, as: UTF8.self)) }
    #expect(got == ["<ё", "<ёж", "ёж", "ёж>", "ж>"])
}

@Test func subwordRowsMatchFastTextIds() {
    // Expected ids from fastText 0.9.2 (`get_subwords`) on a model with these 7 words, minn 3, maxn 6, bucket 1000:
    // word id, then nwords + hash % bucket per n-gram.
    let words = ["dog", "cat", "собака", "кот", "hello", "world", "</s>"]
    let m = SubwordVectors(words: words, dim: 1, minn: 3, maxn: 6, bucket: 1000, input: [Float](repeating: 0, count: 1007))
    #expect(m.rows(of: "dog") == [0, 349, 394, 686, 824, 524, 270])
    #expect(m.rows(of: "собака") == [2, 514, 191, 999, 893, 861, 301, 495, 279, 495, 853, 749, 487, 259, 371, 53, 390, 394, 346])
    #expect(m.rows(of: "xyz") == [207, 917, 959, 255, 337, 699])
    #expect(m.rows(of: "ё") == [136])
    #expect(m.rows(of: "Ġdog") == [736, 369, 678, 914, 47, 556, 848, 824, 524, 270])
}

@Test func outOfVocabularyVectorIsTheMeanOfItsNgramRows() throws {
    let words = ["ab"]
    let bucket = 50, d = 2
    let input = (0..<((1 + bucket) * d)).map { Float(($0 * 37) % 11) + 0.5 }   // all > 0: no mean is exactly zero
    let m = SubwordVectors(words: words, dim: d, minn: 2, maxn: 3, bucket: bucket, input: input)
    for w in ["ab", "abc", "zz"] {
        let r = m.rows(of: w)
        var want = [Float](repeating: 0, count: d)
        for row in r { for j in 0..<d { want[j] += input[row * d + j] / Float(r.count) } }
        let got = try #require(m.vector(for: w))
        for j in 0..<d { #expect(abs(got[j] - want[j]) < 1e-6) }
    }
    #expect(m.rows(of: "ab").first == 0)           // in-vocabulary: its own row first
    #expect(m.vector(for: "") != nil)               // "<>" is a 2-gram with minn 2
    let m3 = SubwordVectors(words: words, dim: d, minn: 3, maxn: 6, bucket: bucket, input: input)
    #expect(m3.vector(for: "") == nil)              // no n-gram of "<>" with minn 3
    // File round trip and rotation of every row.
    let path = NSTemporaryDirectory() + "glossa-glft-\(getpid()).glft"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try m.write(path: path)
    let back = try SubwordVectors.read(path: path)
    #expect(back.words == m.words && back.input == m.input && back.minn == 2 && back.maxn == 3 && back.bucket == bucket)
    let rot = Tensor(shape: [2, 2], data: [0, -1, 1, 0])
    let v = try #require(m.vector(for: "abc")), rv = try #require(m.transformed(by: rot).vector(for: "abc"))
    #expect(abs(rv[0] - v[1]) < 1e-6 && abs(rv[1] + v[0]) < 1e-6)
}

@Test func subwordTrainingGroupsWordsThatShareContexts() {
    // Two word families used in disjoint contexts; min count drops the rare word.
    var rng = RandomGenerator(seed: 4)
    let words = ["red", "green", "blue", "apple", "pear", "plum", "rare"]
    var seqs: [[Int32]] = []
    for _ in 0..<400 {
        seqs.append((0..<8).map { _ in Int32(rng.nextInt(3)) })
        seqs.append((0..<8).map { _ in Int32(3 + rng.nextInt(3)) })
    }
    seqs.append([6])
    var o = SubwordTrainingOptions()
    o.dim = 16; o.bucket = 1000; o.epochs = 5; o.minCount = 2; o.threads = 2; o.subsample = 1
    let m = SubwordSkipGram.train(sequences: seqs, words: words, options: o)
    #expect(m.words.count == 6 && !m.words.contains("rare"))
    func cos(_ a: String, _ b: String) -> Float {
        let x = m.vector(for: a)!, y = m.vector(for: b)!
        var d: Float = 0, nx: Float = 0, ny: Float = 0
        for j in 0..<x.count { d += x[j] * y[j]; nx += x[j] * x[j]; ny += y[j] * y[j] }
        return d / (nx * ny).squareRoot()
    }
    #expect(cos("red", "green") > cos("red", "apple") + 0.2)
    #expect(cos("pear", "plum") > cos("pear", "blue") + 0.2)
    #expect(m.vector(for: "rare") != nil)          // out of vocabulary: from its n-grams
}

@Test func procrustesAlignmentRecoversARotationAndScoresPrecisionAtOne() throws {
    var rng = RandomGenerator(seed: 11)
    let n = 200, d = 6
    let x = Tensor.randn([n, d], std: 1, rng: &rng)
    // A known rotation: QR-free construction from two Givens rotations.
    var rot = [Float](repeating: 0, count: d * d)
    for i in 0..<d { rot[i * d + i] = 1 }
    let c = Float(0.6), s = Float(0.8)
    rot[0] = c; rot[1] = -s; rot[d] = s; rot[d + 1] = c
    rot[3 * d + 3] = c; rot[3 * d + 5] = s; rot[5 * d + 3] = -s; rot[5 * d + 5] = c
    let r = Tensor(shape: [d, d], data: rot)
    let y = Linalg.matmul(x, r)
    let src = WordVectors(words: (0..<n).map { "w\($0)" }, dim: d, data: x.data)
    let tgt = WordVectors(words: (0..<n).map { "t\($0)" }, dim: d, data: y.data)
    let dict = Array((0..<n).map { "w\($0)\tt\($0)" }.joined(separator: "\n").utf8)
    let (pairs, lines) = try VectorAlignment.pairs(source: src, target: tgt, dictionary: dict, dictionaryName: "d")
    #expect(lines == n && pairs.count == n)
    let w = try VectorAlignment.fit(source: src, target: tgt, pairs: pairs)
    #expect(w.maxAbsDifference(r) < 1e-4)
    let ev = try VectorAlignment.evaluate(source: src, target: tgt, pairs: pairs, fraction: 0.1, seed: 3)
    #expect(ev.heldOutWords == 20 && ev.trainPairs == 180)
    #expect(ev.precisionAt1 == 1)
    #expect(ev.identityPrecisionAt1 < 0.5)
}

@Test func wechselRowsOnATinyModel() throws {
    // Base WordPiece vocabulary [UNK] a b ##b c, extension "ab" (id 5); embedding row i = (4i, 4i+1, 4i+2, 4i+3)/10.
    let f = try TinyFixture(); defer { f.remove() }
    let w = try ModelWeights.load(path: f.model)
    let base = try w.loadTokenizer()
    let ext = try GlossaInit.loadTokenizer(json: try BinaryFile.read(f.ext))
    let manifest = try ExtensionManifest.build(base: base, extended: ext)
    // Source (aligned) word vectors for a, b, c; target vector for "ab". `##b` has no vector: with one `##` entry the
    // vocabulary is below the 100-entry WordPiece heuristic, so its text stays "##b".
    let source = VectorSource.table(WordVectors(words: ["a", "b", "c"], dim: 2, data: [1, 0, 0, 1, -1, 0]), ["a": 0, "b": 1, "c": 2])
    let target = VectorSource.table(WordVectors(words: ["ab"], dim: 2, data: [0.6, 0.8]), ["ab": 0])
    let (aux, cov) = try Wechsel.auxVectors(baseTokenizer: base, extendedTokenizer: ext, base: 5, source: source, target: target,
                                            names: ("en.vec", "ru.vec"))
    #expect(aux.present == [false, true, true, false, true, true])
    #expect(cov.oldWithVector == 3 && cov.oldTokens == 4 && cov.newWithVector == 1)
    // cos(ab, ·) = a 0.6, b 0.8, c -0.6 → weights softmax(cos / 0.1) over the top k.
    func row(_ k: Int) throws -> [Float] {
        var o = InitOptions(method: .wechsel); o.neighbors = k
        let (out, _) = try EmbeddingInitializer.extend(model: w, manifest: manifest, baseTokenizer: base, extendedTokenizer: ext,
                                                       tokenVectors: aux, options: o)
        return Array(out.embedding.data[20..<24])
    }
    // k = 1: a copy of b's row.
    #expect(try row(1) == [0.8, 0.9, 1.0, 1.1])
    // k = 2: b and a with weights 1/(1+e^-2) = 0.880797 and 0.119203: E1 + 0.880797·(E2 − E1) = E1 + 0.352319.
    for (g, e) in zip(try row(2), [Float(0.752319), 0.852319, 0.952319, 1.052319]) { #expect(abs(g - e) < 1e-5) }
    // k = 10 (all three anchors): weights ∝ e^6, e^8, e^-6 on rows 1, 2, 4.
    let z = exp(6.0) + exp(8.0) + exp(-6.0)
    let r10 = try row(10)
    for j in 0..<4 {
        let e = (exp(6.0) * Double(4 + j) + exp(8.0) * Double(8 + j) + exp(-6.0) * Double(16 + j)) / z / 10
        #expect(abs(Double(r10[j]) - e) < 1e-5)
    }
}

@Test func wechselRejectsMismatchedDimensionsAndNoOverlap() throws {
    let s2 = VectorSource.table(WordVectors(words: ["a"], dim: 2, data: [1, 0]), ["a": 0])
    let t3 = VectorSource.table(WordVectors(words: ["x"], dim: 3, data: [1, 0, 0]), ["x": 0])
    let m1 = initError { _ = try Wechsel.auxVectors(sourceTexts: ["a"], targetTexts: ["x"], source: s2, target: t3, names: ("en.glft", "ru.glft")) }
    #expect(m1?.contains("dimension 2") == true && m1?.contains("has 3") == true, "\(m1 ?? "no error")")
    let t2 = VectorSource.table(WordVectors(words: ["x"], dim: 2, data: [1, 0]), ["x": 0])
    let m2 = initError { _ = try Wechsel.auxVectors(sourceTexts: ["zzz", nil], targetTexts: ["x"], source: s2, target: t2, names: ("en.vec", "ru.vec")) }
    #expect(m2?.contains("en.vec: none of the 1 old tokens") == true, "\(m2 ?? "no error")")
    let m3 = initError { _ = try Wechsel.auxVectors(sourceTexts: ["a"], targetTexts: ["y"], source: s2, target: t2, names: ("en.vec", "ru.vec")) }
    #expect(m3?.contains("ru.vec: none of the 1 new tokens") == true, "\(m3 ?? "no error")")
}

@Test(.enabled(if: glossaBinary != nil, "no glossa binary next to the test bundle"))
func cliTrainsQueriesAndRunsWechselProper() throws {
    let f = try TinyFixture(); defer { f.remove() }
    let text = try f.write("text.txt", String(repeating: "a b c ab, a c b.\nc a ab b!\n", count: 30))
    let model = f.dir + "/v.glft"
    var (rc, err) = try runGlossa(["vectors", "train", "--words", "--char-ngrams", "--dim", "8", "--bucket", "100", "--min-count", "1",
                                   "--epochs", "1", "--threads", "1", "-i", text, "-o", model, "--vec", f.dir + "/v.vec"])
    #expect(rc == 0 && f.exists("v.glft") && f.exists("v.vec"), "\(rc) \(err)")
    // Every token text has n-grams, so every non-special token gets a row (keyed by spelling).
    (rc, err) = try runGlossa(["vectors", "query", "--vectors", model, "-t", f.ext, "-o", f.dir + "/q.vec"])
    #expect(rc == 0 && err.contains("wrote 5 of 5"), "\(rc) \(err)")
    // WECHSEL proper: wrong dimension (a 3-d .vec against the 8-d model), then the good case.
    let v3 = try f.write("v3.vec", "1 3\nab 1 0 0\n")
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "wechsel",
                               "--source-vectors", model, "--target-vectors", v3, "-o", f.dir + "/w1"])
    #expect(rc != 0 && err.contains("has dimension 8") && err.contains("has 3") && !f.exists("w1"), "\(rc) \(err)")
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "wechsel",
                               "--source-vectors", model, "-o", f.dir + "/w2"])
    #expect(rc != 0 && err.contains("go together") && !f.exists("w2"), "\(rc) \(err)")
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "wechsel",
                               "--source-vectors", model, "--target-vectors", model, "-o", f.dir + "/w3"])
    #expect(rc == 0 && err.contains("4 of 4 old tokens and 1 of 1 new tokens"), "\(rc) \(err)")
    #expect(try ModelWeights.load(path: f.dir + "/w3").embedding.shape == [6, 4])
}
