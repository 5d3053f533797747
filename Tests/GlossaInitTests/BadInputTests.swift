import Foundation
import Testing
import GlossaJSON
import GlossaTensor
import GlossaWeights
@testable import GlossaInit
import GlossaFormats

// Bad inputs to `glossa init-embeddings` and `glossa vectors align`: wrong-dimension vectors, vectors keyed by
// another tokenizer, a dictionary with no overlap, a manifest that does not match the model. Each case is checked
// on the library call the CLI makes and, when the `glossa` binary sits next to the test bundle (swift test builds
// it), on the CLI itself: non-zero exit, the reason on stderr, no output left behind. All fixtures are tiny.

/// A scratch directory with a 5-id WordPiece tokenizer, its 6-id extension ("ab"), a tied 5×4 BERT-style model.
struct TinyFixture {
    let dir: String
    var model: String { dir + "/model" }
    var base: String { dir + "/model/tokenizer.json" }
    var ext: String { dir + "/ext.json" }

    static func tokenizerJSON(_ vocab: [(String, Int)]) -> String {
        let v = vocab.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
        return """
        {"version": "1.0", "added_tokens": [{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
          "normalized": false, "special": true}],
         "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                   "vocab": {\(v)}}}
        """
    }
    static let baseVocab = [("[UNK]", 0), ("a", 1), ("b", 2), ("##b", 3), ("c", 4)]

    init() throws {
        dir = NSTemporaryDirectory() + "glossa-init-bad-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir + "/model", withIntermediateDirectories: true)
        try BinaryFile.write(Array(Self.tokenizerJSON(Self.baseVocab).utf8), to: base)
        try BinaryFile.write(Array(Self.tokenizerJSON(Self.baseVocab + [("ab", 5)]).utf8), to: ext)
        try BinaryFile.write(Array(#"{"vocab_size": 5, "hidden_size": 4, "tie_word_embeddings": true}"#.utf8), to: dir + "/model/config.json")
        let emb = Tensor(shape: [5, 4], data: (0..<20).map { Float($0) / 10 })
        try SafetensorsWriter.write([("embeddings.word_embeddings.weight", emb)], to: dir + "/model/model.safetensors")
    }
    func write(_ name: String, _ text: String) throws -> String {
        try BinaryFile.write(Array(text.utf8), to: dir + "/" + name)
        return dir + "/" + name
    }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: dir + "/" + name) }
    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// The `glossa` executable built next to the test bundle (or `GLOSSA_BIN`), if there is one.
let glossaBinary: String? = {
    if let p = ProcessInfo.processInfo.environment["GLOSSA_BIN"], FileManager.default.isExecutableFile(atPath: p) { return p }
    var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
    // The test runner is `<products>/XPackageTests.xctest` (Linux) or inside `<products>/X.xctest/Contents/MacOS`.
    for _ in 0..<4 {
        let p = dir.appendingPathComponent("glossa").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}()

/// Runs the CLI; returns the exit status and stderr.
func runGlossa(_ args: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: glossaBinary!)
    p.arguments = args
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let data = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func initError(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch let e as InitError { return e.description } catch { return "\(error)" }
}

// MARK: Library level (always run)

@Test func vecFileWithAWrongRowLengthNamesTheLine() throws {
    let f = try TinyFixture(); defer { f.remove() }
    let p = try f.write("bad.vec", "2 3\na 1 2 3\nb 1 2\n")
    let msg = initError { _ = try WordVectors.read(path: p) }
    #expect(msg?.contains("line 3 has 2 values, expected 3") == true, "\(msg ?? "no error")")
    let h = try f.write("nohead.vec", "a 1 2 3\n")
    #expect(initError { _ = try WordVectors.read(path: h) }?.contains("count dim") == true)
}

@Test func alignRejectsDimensionMismatchAndADictionaryWithNoOverlap() throws {
    let en = WordVectors(words: ["cat", "dog"], dim: 3, data: [1, 0, 0, 0, 1, 0])
    let ru4 = WordVectors(words: ["кот", "пёс"], dim: 4, data: [Float](repeating: 1, count: 8))
    let names = (source: "en.vec", target: "ru.vec", dictionary: "dict.txt")
    let dict = Array("cat\tкот\ndog\tпёс\n".utf8)
    let m1 = initError { _ = try VectorAlignment.align(source: en, target: ru4, dictionary: dict, names: names) }
    #expect(m1?.contains("dimension 3") == true && m1?.contains("has 4") == true, "\(m1 ?? "no error")")
    let ru3 = WordVectors(words: ["кот", "пёс"], dim: 3, data: [0, 1, 0, -1, 0, 0])
    let none = Array("bird\tптица\nfish\tрыба\n".utf8)
    let m2 = initError { _ = try VectorAlignment.align(source: en, target: ru3, dictionary: none, names: names) }
    #expect(m2?.contains("none of its 2 pairs") == true, "\(m2 ?? "no error")")
    #expect(initError { _ = try VectorAlignment.align(source: en, target: ru3, dictionary: Array("no tabs\n".utf8), names: names) } != nil)
    // The good case: a 90° rotation recovered from the two pairs (title-cased dictionary entries match too).
    let (aligned, pairs) = try VectorAlignment.align(source: en, target: ru3, dictionary: Array("Cat\tКот\ndog\tпёс\n".utf8), names: names)
    #expect(pairs == 2)
    for (a, b) in zip(aligned.data, ru3.data) { #expect(abs(a - b) < 1e-4) }
}

@Test func tokenVectorsKeyedByAnotherTokenizerAreRejected() throws {
    let v = WordVectors(words: ["Ġthe", "Ġcat"], dim: 2, data: [1, 0, 0, 1])
    let spell = ["[UNK]", "a", "b", "##b", "c"]
    let msg = initError { _ = try v.requireAuxVectors(size: 5, source: "en.vec", tokenizerName: "tok.json") { spell[$0] } }
    #expect(msg?.contains("none of its 2 keys") == true, "\(msg ?? "no error")")
    let ok = try WordVectors(words: ["b", "zz"], dim: 2, data: [1, 0, 0, 1]).requireAuxVectors(size: 5, source: "x", tokenizerName: "t") { spell[$0] }
    #expect(ok.present == [false, false, true, false, false])
}

@Test func manifestThatDoesNotMatchTheModelIsRejected() throws {
    let f = try TinyFixture(); defer { f.remove() }
    let w = try ModelWeights.load(path: f.model)
    let base = try w.loadTokenizer()
    let ext = try GlossaInit.loadTokenizer(json: try BinaryFile.read(f.ext))
    let good = try ExtensionManifest.build(base: base, extended: ext)
    #expect(good.baseVocabSize == 5 && good.tokens.map(\.id) == [5] && good.tokens[0].baseIds == [1, 3])
    // base_vocab_size of another model.
    let other = ExtensionManifest(baseVocabSize: 7, tokens: [.init(id: 7, bytes: Array("ab".utf8), surface: "ab", baseIds: [1])])
    let m1 = initError { _ = try EmbeddingInitializer.extend(model: w, manifest: other, baseTokenizer: base, extendedTokenizer: nil, tokenVectors: nil, options: InitOptions(method: .mean)) }
    #expect(m1?.contains("base_vocab_size 7 does not match") == true, "\(m1 ?? "no error")")
    // A manifest describing more ids than the extended tokenizer has.
    let more = ExtensionManifest(baseVocabSize: 5, tokens: good.tokens + [.init(id: 6, bytes: Array("bc".utf8), surface: "bc", baseIds: [2, 4])])
    let m2 = initError { _ = try EmbeddingInitializer.extend(model: w, manifest: more, baseTokenizer: base, extendedTokenizer: ext, tokenVectors: nil, options: InitOptions(method: .mean)) }
    #expect(m2?.contains("the extended tokenizer has 6 ids, the manifest describes 7") == true, "\(m2 ?? "no error")")
    // The matching manifest works (FVT row = mean of "a" and "##b").
    let (out, _) = try EmbeddingInitializer.extend(model: w, manifest: good, baseTokenizer: base, extendedTokenizer: ext, tokenVectors: nil, options: InitOptions(method: .fvt))
    #expect(out.embedding.shape == [6, 4])
    let e = w.embedding.data
    for j in 0..<4 { #expect(abs(out.embedding.data[20 + j] - (e[4 + j] + e[12 + j]) / 2) < 1e-6) }
}

// MARK: CLI level (when the binary is there)

@Test(.enabled(if: glossaBinary != nil, "no glossa binary next to the test bundle"))
func cliRejectsBadInputsAndWritesNothing() throws {
    let f = try TinyFixture(); defer { f.remove() }
    // vectors align: wrong dimension, then no dictionary overlap.
    let en = try f.write("en.vec", "2 3\ncat 1 0 0\ndog 0 1 0\n")
    let ru4 = try f.write("ru4.vec", "2 4\nкот 1 0 0 0\nпёс 0 1 0 0\n")
    let ru3 = try f.write("ru3.vec", "2 3\nкот 0 1 0\nпёс -1 0 0\n")
    let dict = try f.write("dict.txt", "cat\tкот\ndog\tпёс\n")
    let noOverlap = try f.write("none.txt", "bird\tптица\nfish\tрыба\n")
    var (rc, err) = try runGlossa(["vectors", "align", "--source", en, "--target", ru4, "--dictionary", dict, "-o", f.dir + "/a1.vec"])
    #expect(rc != 0 && err.contains("has dimension 3") && !f.exists("a1.vec"), "\(rc) \(err)")
    (rc, err) = try runGlossa(["vectors", "align", "--source", en, "--target", ru3, "--dictionary", noOverlap, "-o", f.dir + "/a2.vec"])
    #expect(rc != 0 && err.contains("none of its 2 pairs") && !f.exists("a2.vec"), "\(rc) \(err)")
    (rc, err) = try runGlossa(["vectors", "align", "--source", en, "--target", ru3, "--dictionary", dict, "-o", f.dir + "/a3.vec"])
    #expect(rc == 0 && f.exists("a3.vec"), "\(rc) \(err)")
    // init-embeddings: a manifest for another model, a tokenizer that does not match the manifest, bad token vectors.
    let wrongBase = try f.write("wrong-base.json", #"{"base_vocab_size": 7, "tokens": [{"id": 7, "bytes_b64": "YWI=", "base_ids": [1]}]}"#)
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--extension", wrongBase, "--tokenizer", f.ext, "--method", "fvt", "-o", f.dir + "/o1"])
    #expect(rc != 0 && err.contains("base_vocab_size 7 does not match") && !f.exists("o1"), "\(rc) \(err)")
    let tooMany = try f.write("too-many.json", #"{"base_vocab_size": 5, "tokens": [{"id": 5, "bytes_b64": "YWI=", "base_ids": [1, 3]}, {"id": 6, "bytes_b64": "YmM=", "base_ids": [2, 4]}]}"#)
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--extension", tooMany, "--tokenizer", f.ext, "--method", "fvt", "-o", f.dir + "/o2"])
    #expect(rc != 0 && err.contains("the extended tokenizer has 6 ids, the manifest describes 7") && !f.exists("o2"), "\(rc) \(err)")
    let badRow = try f.write("bad-row.vec", "2 3\na 1 2 3\nab 1 2\n")
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "focus", "--token-vectors", badRow, "-o", f.dir + "/o3"])
    #expect(rc != 0 && err.contains("line 3 has 2 values, expected 3") && !f.exists("o3"), "\(rc) \(err)")
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "focus", "--token-vectors", en, "-o", f.dir + "/o4"])
    #expect(rc != 0 && err.contains("none of its 2 keys") && !f.exists("o4"), "\(rc) \(err)")
    // Aux method without vectors.
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "wechsel", "-o", f.dir + "/o5"])
    #expect(rc != 0 && err.contains("needs") && !f.exists("o5"), "\(rc) \(err)")
    // And the good case writes a loadable directory with the new row count.
    (rc, err) = try runGlossa(["init-embeddings", "--model", f.model, "--tokenizer", f.ext, "--method", "fvt", "-o", f.dir + "/ok"])
    #expect(rc == 0, "\(rc) \(err)")
    let back = try ModelWeights.load(path: f.dir + "/ok")
    #expect(back.embedding.shape == [6, 4])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.dir).filter { $0.contains(".tmp-") }
    #expect(leftovers.isEmpty)
}

@Test func probeSplitsHiddenTokensByAuxCoverage() {
    // Rows 0–1 are R, 2–3 are hidden; only id 2 has an aux vector. Exact predictions: centered cosine 1 in both strata.
    let m = Tensor(shape: [4, 2], data: [1, 0, 0, 1, 2, 1, -1, 3])
    let surf = VocabularySurfaces(spellings: ["ab", "cd", "ef", "gh"], specialIds: [], byteLevel: false)
    let pred = Tensor(shape: [2, 2], data: [2, 1, -1, 3])
    let r = Probe.evaluate(matrix: m, hidden: [2, 3], rest: [0, 1], predicted: pred, surfaces: surf, auxPresent: [true, true, true, false])
    #expect(r.strata["aux vector"]?.count == 1 && r.strata["no aux vector"]?.count == 1)
    #expect(abs((r.strata["aux vector"]?.summary["centered_cos"] ?? 0) - 1) < 1e-9)
    #expect(Probe.evaluate(matrix: m, hidden: [2, 3], rest: [0, 1], predicted: pred, surfaces: surf).strata["aux vector"] == nil)
}
