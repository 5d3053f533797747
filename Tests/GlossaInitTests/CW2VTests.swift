import Foundation
import Testing
import GlossaTensor
@testable import GlossaInit

/// Weights of a plan row as id → weight.
private func weights(_ r: RowRecipe) -> [Int: Float] {
    guard case .combine(let c) = r else { return [:] }
    var out: [Int: Float] = [:]
    for (id, w) in zip(c.ids, c.weights) { out[id, default: 0] += w }
    return out
}

/// 64 old tokens in 64-D; the new token is id 64. The output rows are 2·(unit axis k). `lines` come 200 times,
/// among 2,000 filler sentences of tokens 8–63, so the tokens of interest are rare as negatives (as in real text).
private func tinyCase(_ lines: [[Int32]], input: Tensor, untied: Bool) -> PlanInputs {
    var rng = RandomGenerator(seed: 3)
    var seqs: [[Int32]] = []
    for _ in 0..<200 { seqs.append(contentsOf: lines) }
    for _ in 0..<2000 { seqs.append((0..<8).map { _ in Int32(8 + rng.nextInt(56)) }) }
    var inputs = PlanInputs(decompositions: [[]], copyFrom: [nil])
    var o = [Float](repeating: 0, count: 64 * 64)
    for k in 0..<64 { o[k * 64 + k] = 2 }
    inputs.cw2v = CW2VInputs(input: untied ? input : Tensor(shape: [64, 64], data: o), output: untied ? Tensor(shape: [64, 64], data: o) : nil,
                             sequences: seqs, newIds: [64], oldRows: Array(0..<64))
    return inputs
}

private func tinyOptions(epochs: Int = 20) -> InitOptions {
    var io = InitOptions(method: .cw2v)
    io.cw2v.epochs = epochs; io.cw2v.window = 1; io.cw2v.negatives = 3; io.cw2v.support = 64; io.cw2v.start = .uniform
    io.cw2v.subsample = 1; io.cw2v.batchTokens = 1024; io.cw2v.learningRate = 0.1
    return io
}

@Test func cw2vMovesTheInputWeightOntoTheOldTokenWithTheSameContexts() throws {
    // Untied. Old token 1 occurs between 2 and 3 ("2 1 3"), and its input row is what word2vec would have learnt:
    // positive on the output axes 2 and 3, slightly negative elsewhere; the other input rows point at one other
    // axis each. The new token occurs exactly where 1 does ("2 64 3"), so its A_W weights should move onto row 1.
    var e = [Float](repeating: -0.3, count: 64 * 64)
    e[1 * 64 + 2] = 2; e[1 * 64 + 3] = 2
    for k in 0..<64 where k != 1 {
        let axis = (k + 5) % 64
        e[k * 64 + (axis == 2 || axis == 3 ? 10 : axis)] = 2
    }
    let inputs = tinyCase([[2, 1, 3], [2, 64, 3]], input: Tensor(shape: [64, 64], data: e), untied: true)
    let plan = try EmbeddingInitializer.plan(inputs, options: tinyOptions())
    let w = weights(plan.input[0])
    #expect(w.count == 64)
    let best = w.max { $0.value < $1.value }!
    let second = w.filter { $0.key != best.key }.map(\.value).max()!
    #expect(best.key == 1 && best.value > 0.3 && best.value > 5 * second, "weights \(w.filter { $0.value > 0.02 })")
    // Uniform start: 1/64 each; with no epochs nothing moves.
    let p0 = try EmbeddingInitializer.plan(inputs, options: tinyOptions(epochs: 0))
    for (_, v) in weights(p0.input[0]) { #expect(abs(v - 1.0 / 64) < 1e-6) }
}

@Test func cw2vTiedConcentratesOnTheTokenItCoOccursWith() throws {
    // Tied, orthogonal rows: the new token always stands next to old token 2, so its one row should maximize
    // e·E[2] (and stay orthogonal to the rest): row 2 itself.
    let inputs = tinyCase([[64, 2]], input: Tensor(shape: [1, 64], data: [Float](repeating: 0, count: 64)), untied: false)
    let plan = try EmbeddingInitializer.plan(inputs, options: tinyOptions())
    let w = weights(plan.input[0])
    let best = w.max { $0.value < $1.value }!
    #expect(best.key == 2 && best.value > 0.5, "weights \(w.filter { $0.value > 0.02 })")
    #expect(plan.input == plan.output)   // one set of logits serves both roles
}

@Test func cw2vStartsFromTheFVTPiecesAndFillsTheSupportWithNearRows() throws {
    // Old rows: the 8-D axes scaled by 2, and row 1 between axes 2 and 3; new token 8 made of pieces 2, 3, 3.
    var e = [Float](repeating: 0, count: 64)
    for k in [0, 2, 3, 4, 5, 6, 7] { e[k * 8 + k] = 2 }
    e[1 * 8 + 2] = Float(2).squareRoot(); e[1 * 8 + 3] = Float(2).squareRoot()
    var inputs = PlanInputs(decompositions: [[2, 3, 3]], copyFrom: [nil])
    inputs.cw2v = CW2VInputs(input: Tensor(shape: [8, 8], data: e), output: nil, sequences: [], newIds: [8], oldRows: Array(0..<8))
    var io = InitOptions(method: .cw2v)
    io.cw2v.epochs = 0; io.cw2v.support = 4
    let plan = try EmbeddingInitializer.plan(inputs, options: io)
    guard case .combine(let comb) = plan.input[0] else { Issue.record("not a combination"); return }
    // Pieces first (2, 3), then the two old rows nearest to the FVT row (row 1 is the nearest).
    #expect(Array(comb.ids.prefix(3)) == [2, 3, 1])
    let w = weights(plan.input[0])
    #expect(abs(w[2]! - 0.3) < 1e-5 && abs(w[3]! - 0.6) < 1e-5)   // 90% by multiplicity 1:2
    #expect(comb.isConvex())
}

@Test func cw2vRowsStayInsideTheConvexHull() throws {
    // Untied: A_W over E, A_V over the head; random corpus; no new output row may outscore every old row.
    var rng = RandomGenerator(seed: 17)
    let v = 200, d = 16, n = 30
    let emb = Tensor.randn([v + n, d], std: 1, rng: &rng)
    let head = Tensor.randn([v + n, d], std: 1, rng: &rng)
    var seqs: [[Int32]] = []
    for _ in 0..<400 { seqs.append((0..<12).map { _ in Int32(rng.nextInt(v + n)) }) }
    var decs: [[Int]] = []
    for _ in 0..<n { decs.append((0..<(1 + rng.nextInt(3))).map { _ in rng.nextInt(v) }) }
    var inputs = PlanInputs(decompositions: decs, copyFrom: [Int?](repeating: nil, count: n))
    inputs.cw2v = CW2VInputs(input: emb, output: head, sequences: seqs, newIds: Array(v..<(v + n)), oldRows: Array(0..<v))
    var io = InitOptions(method: .cw2v)
    io.cw2v.epochs = 5; io.cw2v.support = 32; io.cw2v.batchTokens = 500; io.cw2v.learningRate = 0.2
    let plan = try EmbeddingInitializer.plan(inputs, options: io)
    #expect(plan.input != plan.output)   // separate A_W and A_V
    for r in plan.input + plan.output {
        guard case .combine(let c) = r else { Issue.record("not a combination"); continue }
        #expect(c.isConvex() && c.ids.allSatisfy { $0 < v })
    }
    let oldHead = Tensor(shape: [v, d], data: Array(head.data[0..<(v * d)]))
    let (newRows, _) = try PlanApplier.apply(plan.output, matrix: oldHead, statRows: Array(0..<v), options: SamplingOptions())
    let all = Tensor(shape: [v + n, d], data: oldHead.data + newRows.data)
    let contexts = Tensor.randn([1000, d], std: 3, rng: &rng)
    let rate = LogitBound.excessRate(head: all, oldRows: Array(0..<v), newRows: Array(v..<(v + n)), contexts: contexts,
                                     sampleContexts: 1000, seed: 3)
    #expect(rate == 0)
    // Training moved the weights away from the FVT start.
    var start = io; start.cw2v.epochs = 0
    let p0 = try EmbeddingInitializer.plan(inputs, options: start)
    #expect(p0.output != plan.output)
}

@Test func cw2vIsDeterministicForASeedWhateverTheThreadCount() throws {
    var rng = RandomGenerator(seed: 5)
    let v = 120, d = 12, n = 20
    let emb = Tensor.randn([v + n, d], std: 1, rng: &rng)
    var seqs: [[Int32]] = []
    for _ in 0..<300 { seqs.append((0..<10).map { _ in Int32(rng.nextInt(v + n)) }) }
    var inputs = PlanInputs(decompositions: [[Int]](repeating: [], count: n), copyFrom: [Int?](repeating: nil, count: n))
    inputs.cw2v = CW2VInputs(input: emb, output: nil, sequences: seqs, newIds: Array(v..<(v + n)), oldRows: Array(0..<v))
    func run(seed: UInt64, threads: Int) throws -> InitPlan {
        var io = InitOptions(method: .cw2v)
        io.cw2v.epochs = 2; io.cw2v.support = 16; io.cw2v.batchTokens = 400; io.cw2v.seed = seed; io.cw2v.threads = threads
        return try EmbeddingInitializer.plan(inputs, options: io)
    }
    let a = try run(seed: 9, threads: 1), b = try run(seed: 9, threads: 4), c = try run(seed: 10, threads: 1)
    #expect(a.input == b.input)
    #expect(a.input != c.input)
}

@Test func cw2vWithoutACorpusIsRejected() {
    let inputs = PlanInputs(decompositions: [[0]], copyFrom: [nil])
    #expect(throws: InitError.self) { try EmbeddingInitializer.plan(inputs, options: InitOptions(method: .cw2v)) }
}
