#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GlossaTensor
import GlossaWeights

/// A Llama-family causal language model (pre-RMSNorm, GQA attention with RoPE, SwiGLU MLP, tied or untied
/// head) with HF parameter names (`model.layers.0.self_attn.q_proj.weight`, …).
public struct LlamaModel: Sendable {
    public let config: LlamaConfig
    public var parameters: ParameterSet
    public let rope: RoPE

    /// Parameter indices of one decoder layer.
    struct LayerIndex { let inNorm, q, k, v, o, postNorm, gate, up, down: Int }

    /// Random initialisation (normal, std `initStd`; norm weights 1), deterministic in `seed`.
    public init(config: LlamaConfig, seed: UInt64, initStd: Float = 0.02) {
        var rng = RandomGenerator(seed: seed)
        var ps = ParameterSet()
        for (name, shape) in config.expectedShapes() {
            let isNorm = shape.count == 1
            ps.append(name, isNorm ? Tensor(repeating: 1, shape: shape) : Tensor.randn(shape, std: initStd, rng: &rng),
                      group: isNorm ? 1 : 0)
        }
        self.config = config
        self.parameters = ps
        self.rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, llama3: config.ropeLlama3)
    }

    /// A model from named tensors; every expected tensor must be present with its exact shape.
    public init(config: LlamaConfig, tensors: [String: Tensor], source: String = "weights") throws(WeightsError) {
        try config.validate(source: source)
        var ps = ParameterSet()
        for (name, shape) in config.expectedShapes() {
            guard let t = tensors[name] else { throw WeightsError(source, "missing tensor \(name)") }
            guard t.shape == shape else {
                throw WeightsError(source, "\(name) has shape \(t.shape), the config needs \(shape)")
            }
            ps.append(name, t, group: shape.count == 1 ? 1 : 0)
        }
        self.config = config
        self.parameters = ps
        self.rope = RoPE(headDim: config.headDim, theta: config.ropeTheta, llama3: config.ropeLlama3)
    }

    // MARK: indices

    var embedIndex: Int { 0 }
    func layerIndex(_ i: Int) -> LayerIndex {
        let b = 1 + 9 * i
        return LayerIndex(inNorm: b, q: b + 1, k: b + 2, v: b + 3, o: b + 4, postNorm: b + 5, gate: b + 6, up: b + 7, down: b + 8)
    }
    var normIndex: Int { 1 + 9 * config.numLayers }
    var headIndex: Int { config.tieWordEmbeddings ? 0 : normIndex + 1 }

    /// Puts every parameter into `g` (frozen ones as constants).
    public func bind(_ g: Graph) -> [Var] {
        (0..<parameters.count).map { i in
            parameters.frozen[i] ? g.constant(parameters.tensors[i]) : g.parameter(parameters.tensors[i])
        }
    }

    // MARK: forward

    /// The final hidden states `[B, T, H]` (after the last RMSNorm) for `ids` (`batch × seqLen`, row-major).
    /// `positions` defaults to 0..<seqLen. With a `cache`, keys/values are appended and attention sees
    /// everything cached (batch 1).
    public func hidden(_ g: Graph, _ p: [Var], ids: [Int32], batch: Int, seqLen: Int, cache: KVCache? = nil) -> Var {
        precondition(ids.count == batch * seqLen)
        let c = config
        let start = cache?.length ?? 0
        let tables = rope.tables(positions: Array(start..<(start + seqLen)))
        var x = g.embedding(p[embedIndex], ids: ids, idsShape: [batch, seqLen])
        for l in 0..<c.numLayers {
            x = layer(g, p, l, x, batch: batch, seqLen: seqLen, rope: tables, cache: cache)
        }
        cache?.commit(seqLen)
        return g.rmsNorm(x, weight: p[normIndex], eps: c.rmsNormEps)
    }

    /// Decoder layer `l` on the residual stream `x` `[B, T, H]`.
    func layer(_ g: Graph, _ p: [Var], _ l: Int, _ x0: Var, batch: Int, seqLen: Int, rope tables: RoPE.Tables,
               cache: KVCache?) -> Var {
        let c = config
        var x = x0
        let li = layerIndex(l)
        let h = g.rmsNorm(x, weight: p[li.inNorm], eps: c.rmsNormEps)
        var q = g.reshape(g.linear(h, p[li.q]), [batch, seqLen, c.numHeads, c.headDim])
        var k = g.reshape(g.linear(h, p[li.k]), [batch, seqLen, c.numKVHeads, c.headDim])
        var v = g.reshape(g.linear(h, p[li.v]), [batch, seqLen, c.numKVHeads, c.headDim])
        q = g.rope(q, tables)
        k = g.rope(k, tables)
        var offset = 0
        if let cache {
            precondition(batch == 1, "KV cache supports batch 1")
            cache.append(layer: l, k: g[k].data, v: g[v].data)
            let s = cache.length(layer: l)
            k = g.constant(Tensor(shape: [1, s, c.numKVHeads, c.headDim], data: cache.keys[l]))
            v = g.constant(Tensor(shape: [1, s, c.numKVHeads, c.headDim], data: cache.values[l]))
            offset = s - seqLen
        }
        let a = g.attention(q: q, k: k, v: v, causal: true, queryOffset: offset)
        x = g.add(x, g.linear(g.reshape(a, [batch, seqLen, c.numHeads * c.headDim]), p[li.o]))
        let h2 = g.rmsNorm(x, weight: p[li.postNorm], eps: c.rmsNormEps)
        let m = g.swiglu(gate: g.linear(h2, p[li.gate]), up: g.linear(h2, p[li.up]))
        return g.add(x, g.linear(m, p[li.down]))
    }

    /// Logits `[B, T, V]`.
    public func logits(_ g: Graph, _ p: [Var], ids: [Int32], batch: Int, seqLen: Int) -> Var {
        g.linear(hidden(g, p, ids: ids, batch: batch, seqLen: seqLen), p[headIndex])
    }

    /// Logits as a tensor `[B, T, V]` (no gradients), with one graph per layer: a graph keeps every value it records, so a whole-model inference graph would hold all
    /// layers' intermediates and page-fault fresh memory for each; per layer, the memory is freed and reused.
    public func forward(ids: [Int32], batch: Int, seqLen: Int) -> Tensor {
        precondition(ids.count == batch * seqLen)
        let tables = rope.tables(positions: Array(0..<seqLen))
        func bound(_ g: Graph) -> [Var] { parameters.tensors.map { g.constant($0) } }
        var x: Tensor = {
            let g = Graph(training: false)
            return g[g.embedding(bound(g)[embedIndex], ids: ids, idsShape: [batch, seqLen])]
        }()
        for l in 0..<config.numLayers {
            let g = Graph(training: false)
            x = g[layer(g, bound(g), l, g.constant(x), batch: batch, seqLen: seqLen, rope: tables, cache: nil)]
        }
        let g = Graph(training: false)
        let p = bound(g)
        return g[g.linear(g.rmsNorm(g.constant(x), weight: p[normIndex], eps: config.rmsNormEps), p[headIndex])]
    }

    /// Mean next-token cross-entropy of `targets` (one per input position; `ignoreIndex` skips) and the
    /// gradients of every non-frozen parameter (aligned with `parameters`).
    public func lossAndGradients(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int,
                                 ignoreIndex: Int32 = -100) -> (loss: Float, gradients: Gradients) {
        let g = Graph(training: true)
        let p = bind(g)
        let h = hidden(g, p, ids: ids, batch: batch, seqLen: seqLen)
        let loss = g.linearCrossEntropy(h, p[headIndex], targets: targets, ignoreIndex: ignoreIndex)
        g.backward(loss)
        let grads: Gradients = p.map { g.takeGrad($0) }
        return (g[loss][0], grads)
    }

    /// Inputs and shifted targets for next-token training on windows of `tokens`: each row is
    /// `seqLen + 1` consecutive tokens.
    public static func shiftedBatch(_ rows: [[Int32]]) -> (ids: [Int32], targets: [Int32], batch: Int, seqLen: Int) {
        let t = rows[0].count - 1
        var ids: [Int32] = [], tg: [Int32] = []
        for r in rows {
            precondition(r.count == t + 1)
            ids += r[0..<t]; tg += r[1...]
        }
        return (ids, tg, rows.count, t)
    }

    // MARK: generation and evaluation

    /// Sampling: greedy when `temperature` is 0.
    public struct Sampling: Sendable {
        public var temperature: Float
        public var topK: Int?
        public var seed: UInt64
        public init(temperature: Float = 0, topK: Int? = nil, seed: UInt64 = 0) {
            self.temperature = temperature; self.topK = topK; self.seed = seed
        }
    }

    /// Generates up to `maxNewTokens` after `prompt` with a KV cache; stops after any token in `stop`.
    /// Returns only the new tokens.
    public func generate(prompt: [Int32], maxNewTokens: Int, sampling: Sampling = Sampling(),
                         stop: Set<Int32> = []) -> [Int32] {
        precondition(!prompt.isEmpty)
        let cache = KVCache(config: config)
        var rng = RandomGenerator(seed: sampling.seed)
        var out: [Int32] = []
        var input = prompt
        for _ in 0..<maxNewTokens {
            let g = Graph(training: false)
            let p = parameters.tensors.map { g.constant($0) }
            let h = g[hidden(g, p, ids: input, batch: 1, seqLen: input.count, cache: cache)]
            let last = g.constant(h.reshaped([input.count, config.hiddenSize]).rowSlice((input.count - 1)..<input.count))
            let logits = g[g.linear(last, p[headIndex])].data
            let next = LlamaModel.sample(logits, sampling, &rng)
            out.append(next)
            if stop.contains(next) { break }
            input = [next]
        }
        return out
    }

    static func sample(_ logits: [Float], _ s: Sampling, _ rng: inout RandomGenerator) -> Int32 {
        if s.temperature <= 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        var idx = Array(0..<logits.count)
        if let k = s.topK, k > 0, k < logits.count {
            idx.sort { logits[$0] > logits[$1] }
            idx = Array(idx.prefix(k))
        }
        let m = idx.map { logits[$0] }.max()!
        let w = idx.map { Double(expf((logits[$0] - m) / s.temperature)) }
        let total = w.reduce(0, +)
        var u = Double(rng.nextFloat()) * total
        for (j, i) in idx.enumerated() {
            u -= w[j]
            if u <= 0 { return Int32(i) }
        }
        return Int32(idx.last!)
    }

    /// Sum of next-token cross-entropy (nats) over `tokens[1...]`, in windows of at most `window` predictions
    /// (each window restarts the context with the previous window's last token).
    public func sumNegLogLikelihood(tokens: [Int32], window: Int) -> (nats: Double, predicted: Int) {
        guard tokens.count >= 2 else { return (0, 0) }
        var total = 0.0, count = 0
        var start = 0
        while start < tokens.count - 1 {
            let end = min(tokens.count - 1, start + window)
            let ids = Array(tokens[start..<end]), tg = Array(tokens[(start + 1)...end])
            let g = Graph(training: false)
            let p = parameters.tensors.map { g.constant($0) }
            let h = hidden(g, p, ids: ids, batch: 1, seqLen: ids.count)
            let loss = g[g.linearCrossEntropy(h, p[headIndex], targets: tg)][0]
            total += Double(loss) * Double(tg.count)
            count += tg.count
            start = end
        }
        return (total, count)
    }
}

/// Keys and values of every layer for incremental decoding (batch 1). Reference type: the model appends.
public final class KVCache {
    public private(set) var keys: [[Float]]
    public private(set) var values: [[Float]]
    public private(set) var length = 0
    let rowSize: Int

    public init(config: LlamaConfig) {
        keys = Array(repeating: [], count: config.numLayers)
        values = keys
        rowSize = config.numKVHeads * config.headDim
    }

    func append(layer: Int, k: [Float], v: [Float]) {
        keys[layer] += k
        values[layer] += v
    }
    func length(layer: Int) -> Int { keys[layer].count / rowSize }
    func commit(_ n: Int) { length += n }
}
