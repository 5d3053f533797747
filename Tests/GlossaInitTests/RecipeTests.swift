import Foundation
import Testing
import GlossaJSON
import GlossaTensor
@testable import GlossaInit
import GlossaFormats

/// 4 old rows in 2-D, hand-checkable.
let E = Tensor(shape: [4, 2], data: [1, 0,  0, 1,  2, 2,  -1, 3])

func rows(_ r: [RowRecipe], _ m: Tensor = E, stat: [Int] = [0, 1, 2, 3], options: SamplingOptions = SamplingOptions()) throws -> [[Float]] {
    let (t, _) = try PlanApplier.apply(r, matrix: m, statRows: stat, options: options)
    return (0..<r.count).map { Array(t.data[($0 * t.shape[1])..<(($0 + 1) * t.shape[1])]) }
}

@Test func meanRowIsTheColumnMean() throws {
    #expect(try rows([.mean]) == [[0.5, 1.5]])
    #expect(try rows([.mean], stat: [0, 1]) == [[0.5, 0.5]])
}

@Test func fvtMeanAndFirstLast() throws {
    let p = Planner.fvt([[0, 2], [1], []], variant: .mean, fallback: .mean)
    #expect(try rows(p.input) == [[1.5, 1], [0, 1], [0.5, 1.5]])
    #expect(p.input == p.output)
    let fl = Planner.fvt([[0, 2, 3]], variant: .firstLast, fallback: .mean)
    #expect(try rows(fl.input) == [[-1, 3]])   // last piece for embed_tokens
    #expect(try rows(fl.output) == [[1, 0]])   // first piece for lm_head
}

@Test func randomHasTheConfiguredScale() throws {
    let r = try rows([RowRecipe](repeating: .random, count: 2000), options: SamplingOptions(randomStd: 0.02, seed: 3))
    let all = r.flatMap { $0 }
    let sd = (all.map { Double($0 * $0) }.reduce(0, +) / Double(all.count)).squareRoot()
    #expect(abs(sd - 0.02) < 0.001)
}

@Test func mvnSamplesMatchTheScaledCovariance() throws {
    // Rows with covariance diag(1, 4): N(μ, ε Σ) with ε = 1 has per-dimension variance ≈ (1, 4).
    var rng = RandomGenerator(seed: 5)
    var d: [Float] = []
    for _ in 0..<4000 { d.append(rng.nextNormal()); d.append(2 * rng.nextNormal() + 1) }
    let m = Tensor(shape: [4000, 2], data: d)
    let r = try rows([RowRecipe](repeating: .mvn, count: 4000), m, stat: Array(0..<4000), options: SamplingOptions(mvnScale: 1, seed: 9))
    let v0 = r.map { Double($0[0]) }, v1 = r.map { Double($0[1]) }
    func varr(_ x: [Double]) -> Double { let mu = x.reduce(0, +) / Double(x.count); return x.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(x.count) }
    #expect(abs(varr(v0) - 1) < 0.1)
    #expect(abs(varr(v1) - 4) < 0.4)
    // Tiny ε: rows collapse onto the mean.
    let t = try rows([.mvn], m, stat: Array(0..<4000), options: SamplingOptions(mvnScale: 1e-9, seed: 9))
    let st = RowStatistics(matrix: m, rows: Array(0..<4000))
    #expect(abs(t[0][0] - st.mean[0]) < 1e-3 && abs(t[0][1] - st.mean[1]) < 1e-3)
}

@Test func mvnJittersASingularCovariance() throws {
    // Rank-1 data: Σ is singular; the factor needs (and reports) jitter.
    let m = Tensor(shape: [3, 2], data: [1, 0, 2, 0, 3, 0])
    let (_, notes) = try PlanApplier.apply([.mvn], matrix: m, statRows: [0, 1, 2], options: SamplingOptions())
    #expect(notes.contains { $0.contains("jitter") })
}

@Test func sparsemaxExamples() {
    // z = (1, 0.5, -1): τ = 0.25 → (0.75, 0.25, 0).
    let (ids, w) = Sparsemax.project([1, 0.5, -1])
    #expect(ids == [0, 1])
    #expect(abs(w[0] - 0.75) < 1e-6 && abs(w[1] - 0.25) < 1e-6)
    // A dominant entry takes everything.
    let (i2, w2) = Sparsemax.project([0.1, 2.0, 0.3])
    #expect(i2 == [1] && w2 == [1])
    // Ties split evenly.
    let (i3, w3) = Sparsemax.project([0.5, 0.5])
    #expect(i3 == [0, 1] && w3 == [0.5, 0.5])
}

@Test func focusAndTopKAreConvexWithExactWeights() throws {
    // Aux space: anchors at the axes; query (1, 1)/√2 is equally similar to anchors 0 and 1.
    let anchors = AuxVectors(dim: 2, data: [1, 0, 0, 1, -1, 0], present: [true, true, true])
    let q = AuxVectors(dim: 2, data: [1, 1, 0, 0], present: [true, false])
    let f = Planner.sparsemax(queries: q, anchors: anchors, anchorIds: [0, 1, 3], fallback: .mean)
    #expect(f.input[1] == .mean)   // no aux vector: fallback
    guard case .combine(let c) = f.input[0] else { Issue.record("not a combination"); return }
    #expect(Set(c.ids) == [0, 1] && c.isConvex())
    #expect(try rows([f.input[0]]) == [[0.5, 0.5]])
    // Top-2 softmax at τ = 0.1 over cosines (0.707, 0.707, -0.707): equal weights on 0 and 1.
    let t = Planner.topKSoftmax(queries: q, anchors: anchors, anchorIds: [0, 1, 3], k: 2, temperature: 0.1, fallback: .normal, label: "t")
    #expect(t.input[1] == .perDimensionNormal)
    guard case .combine(let c2) = t.input[0] else { Issue.record("not a combination"); return }
    #expect(Set(c2.ids) == [0, 1] && c2.isConvex())
    // Top-3 at τ = 1: weights ∝ exp(cos).
    let t3 = Planner.topKSoftmax(queries: q, anchors: anchors, anchorIds: [0, 1, 3], k: 3, temperature: 1, fallback: .mean, label: "t")
    guard case .combine(let c3) = t3.input[0] else { Issue.record("not a combination"); return }
    let a = exp(Float(0.5).squareRoot()), b = exp(-Float(0.5).squareRoot())
    let w3 = c3.weights[c3.ids.firstIndex(of: 3)!]
    #expect(abs(w3 - b / (2 * a + b)) < 1e-5)
}

@Test func ompRecoversAnExactSparseCombination() throws {
    // y = 2·a0 − 1·a2 in a 3-D aux space; OMP with k = 2 finds both with exact signed coefficients.
    let atoms: [[Float]] = [[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [0.5, 0.5, 0.7]]
    let y: [Float] = [2, 0, -1]
    let (sel, beta) = OMPSolver.solve(y: y, atoms: atoms, k: 2, dim: 3)
    #expect(Set(sel) == [0, 2])
    for (s, b) in zip(sel, beta) { #expect(abs(b - (s == 0 ? 2 : -1)) < 1e-5) }
    let anchors = AuxVectors(dim: 3, data: atoms.flatMap { $0 }, present: [true, true, true, true])
    let p = Planner.omp(queries: AuxVectors(dim: 3, data: y, present: [true]), anchors: anchors, anchorIds: [0, 1, 2, 3], k: 2, pool: 4, fallback: .mean)
    // Transferred to E: 2·E[0] − E[2] = (0, −2).
    #expect(try rows(p.input) == [[0, -2]])
}

@Test func logitBoundCountsTiesAsInsideAndSmallExcessesAsOutside() throws {
    // New rows that copy old ones tie with them (whatever kernel a product of their width would pick); a copy
    // scaled by 1.001 outscores its source wherever that source scores best and positive.
    var rng = RandomGenerator(seed: 5)
    let v = 200, d = 24, n = 37
    let head = Tensor.randn([v, d], std: 1, rng: &rng)
    let contexts = Tensor.randn([300, d], std: 2, rng: &rng)
    let copied = (0..<n).map { _ in rng.nextInt(v) }
    func rate(_ scale: Float) -> Double {
        var data = head.data
        for r in copied { data += head.data[(r * d)..<((r + 1) * d)].map { $0 * scale } }
        return LogitBound.excessRate(head: Tensor(shape: [v + n, d], data: data), oldRows: Array(0..<v),
                                     newRows: Array(v..<(v + n)), contexts: contexts, sampleContexts: 300, seed: 2)
    }
    #expect(rate(1) == 0)
    #expect(rate(1.001) > 0)
}

@Test func convexHullMethodsNeverOutscoreTheBestOldRow() throws {
    // Random old head, random aux space; every in-hull method's new rows must satisfy h·o_new ≤ max_i h·o_i.
    var rng = RandomGenerator(seed: 11)
    let v = 300, d = 16, a = 8, n = 60
    let head = Tensor.randn([v, d], std: 1, rng: &rng)
    let aux = Tensor.randn([v + n, a], std: 1, rng: &rng)
    let anchors = AuxVectors(dim: a, data: Array(aux.data[0..<(v * a)]), present: [Bool](repeating: true, count: v))
    let q = AuxVectors(dim: a, data: Array(aux.data[(v * a)...]), present: [Bool](repeating: true, count: n))
    var decs: [[Int]] = []
    for _ in 0..<n { decs.append((0..<(1 + rng.nextInt(4))).map { _ in rng.nextInt(v) }) }
    let inputs = PlanInputs(decompositions: decs, copyFrom: [Int?](repeating: nil, count: n), queryAux: q, anchorAux: anchors, anchorIds: Array(0..<v))
    let contexts = Tensor.randn([500, d], std: 3, rng: &rng)
    for m in InitMethod.allCases where m.inHull && m != .cw2v {   // cw2v needs a corpus: CW2VTests
        for variant in (m == .fvt ? FVTVariant.allCases : [.mean]) {
            var o = InitOptions(method: m); o.fvtVariant = variant
            let plan = try EmbeddingInitializer.plan(inputs, options: o)
            let (newRows, _) = try PlanApplier.apply(plan.output, matrix: head, statRows: Array(0..<v), options: SamplingOptions())
            let all = Tensor(shape: [v + n, d], data: head.data + newRows.data)
            let rate = LogitBound.excessRate(head: all, oldRows: Array(0..<v), newRows: Array(v..<(v + n)), contexts: contexts, sampleContexts: 500, seed: 1)
            #expect(rate == 0, "\(m) \(variant) exceeds the hull bound at rate \(rate)")
        }
    }
    // OMP is outside the hull: with signed coefficients it can (and here does) exceed the bound.
    let omp = try EmbeddingInitializer.plan(inputs, options: InitOptions(method: .omp))
    let (or, _) = try PlanApplier.apply(omp.output, matrix: head, statRows: Array(0..<v), options: SamplingOptions())
    let allO = Tensor(shape: [v + n, d], data: head.data + or.data)
    #expect(LogitBound.excessRate(head: allO, oldRows: Array(0..<v), newRows: Array(v..<(v + n)), contexts: contexts, sampleContexts: 500, seed: 1) > 0)
}

@Test func manifestRoundTripAndErrors() throws {
    let m = ExtensionManifest(baseVocabSize: 10, tokens: [.init(id: 10, bytes: [0x20, 0xD0, 0xB0], surface: "Ġа", baseIds: [3, 4]),
                                                          .init(id: 11, bytes: [0xFF], surface: "x", baseIds: [])])
    let back = try ExtensionManifest.parse(json: String(decoding: m.jsonBytes(), as: UTF8.self))
    #expect(back == m)
    #expect(back.extendedVocabSize == 12)
    #expect(throws: ExtensionManifestError.self) { try ExtensionManifest.parse(json: #"{"base_vocab_size": 10, "tokens": [{"id": 5, "bytes_b64": "", "base_ids": []}]}"#) }
    #expect(throws: ExtensionManifestError.self) { try ExtensionManifest.parse(json: #"{"base_vocab_size": 10, "tokens": [{"id": 12, "bytes_b64": "AA==", "base_ids": [10]}]}"#) }
    #expect(throws: ExtensionManifestError.self) { try ExtensionManifest.parse(json: #"{"base_vocab_size": 10, "tokens": [{"id": 12, "bytes_b64": "%%", "base_ids": []}]}"#) }
}

@Test func untiedHeadAndBiasAreExtendedWithTheirOwnRows() throws {
    // A tiny "checkpoint": embedding, untied head, output bias. FVT uses the same pieces for both matrices.
    let emb = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1])
    let head = Tensor(shape: [3, 2], data: [2, 0, 0, 2, 4, 4])
    let bias = Tensor(shape: [3], data: [0.1, 0.3, 0.5])
    let cfg = try JSONDocument(string: #"{"vocab_size": 3, "tie_word_embeddings": false}"#).root.toNode()
    let w = try ModelWeights(tensors: [("model.embed_tokens.weight", emb), ("lm_head.weight", head), ("lm_head.bias", bias)],
                             config: cfg, tokenizerJSON: nil, source: "test")
    #expect(!w.tied && w.headName == "lm_head.weight" && w.biasNames == ["lm_head.bias"])
    let plan = Planner.fvt([[0, 1]], variant: .mean, fallback: .mean)
    let (e, _) = try PlanApplier.apply(plan.input, matrix: emb, statRows: [0, 1, 2], options: SamplingOptions())
    let (o, _) = try PlanApplier.apply(plan.output, matrix: head, statRows: [0, 1, 2], options: SamplingOptions())
    let (b, _) = try PlanApplier.apply(plan.output, matrix: Tensor(shape: [3, 1], data: bias.data), statRows: [0, 1, 2], options: SamplingOptions())
    #expect(e.data == [0.5, 0.5] && o.data == [1, 1] && abs(b.data[0] - 0.2) < 1e-6)
    // Declared tied: a saved lm_head is the same matrix.
    let tiedCfg = try JSONDocument(string: #"{"tie_word_embeddings": true}"#).root.toNode()
    let t = try ModelWeights(tensors: [("model.embed_tokens.weight", emb), ("lm_head.weight", emb)], config: tiedCfg, tokenizerJSON: nil, source: "t")
    #expect(t.tied && t.headName == nil)
}

@Test func vecRoundTripAndDimensionErrors() throws {
    let path = "/tmp/glossa-init-test-\(UInt64.random(in: 0...UInt64.max)).vec"
    let v = WordVectors(words: ["a", "Ġb"], dim: 2, data: [1, 2, 3.5, -4])
    try v.write(path: path)
    let r = try WordVectors.read(path: path)
    #expect(r.words == v.words && r.data == v.data)
    try BinaryFile.write(Array("2 3\na 1 2 3\nb 1 2\n".utf8), to: path)
    #expect(throws: InitError.self) { try WordVectors.read(path: path) }
}

@Test func procrustesRecoversARotation() throws {
    var rng = RandomGenerator(seed: 2)
    let x = Tensor.randn([50, 3], std: 1, rng: &rng)
    let c = Float(0.6), s = Float(0.8)
    let rot = Tensor(shape: [3, 3], data: [c, -s, 0, s, c, 0, 0, 0, 1])
    let w = try Procrustes.solve(x: x, y: Linalg.matmul(x, rot))
    #expect(w.maxAbsDifference(rot) < 1e-4)
}

@Test func surfacesOfByteLevelAndWordPiece() {
    let bl = VocabularySurfaces(spellings: ["<s>", "Ġthe", "ing", "Ġ", "a"], specialIds: [0], byteLevel: true)
    #expect(bl[0].kind == .special)
    #expect(bl[1].bytes == Array("the".utf8) && bl[1].wordInitial)
    #expect(!bl[2].wordInitial && bl[3].kind == .byte)
    #expect(bl[1].fvtText(style: .byteLevel) == Array(" the".utf8))
    var sp: [String?] = ["[CLS]", "the"]
    for i in 0..<120 { sp.append("##x\(i)") }
    let wp = VocabularySurfaces(spellings: sp, specialIds: [], byteLevel: false)
    #expect(wp.style == .wordPiece && wp[0].kind == .special && wp[1].wordInitial && !wp[2].wordInitial && wp[2].bytes == Array("x0".utf8))
}
