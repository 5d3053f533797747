import Foundation
import GlossaTensor
import GlossaWeights

extension LlamaModel {
    /// Loads a HF model directory (`config.json` + `model.safetensors` or shards).
    public static func load(directory: String) throws(WeightsError) -> LlamaModel {
        let config = try LlamaConfig.read(path: directory + "/config.json")
        let st = try SafetensorsCollection(path: directory)
        var tensors: [String: Tensor] = [:]
        for (name, _) in config.expectedShapes() {
            guard st.entry(name) != nil else { throw WeightsError(directory, "missing tensor \(name)") }
            tensors[name] = try st.tensor(name)
        }
        return try LlamaModel(config: config, tensors: tensors, source: directory)
    }

    /// Loads a GGUF file with `general.architecture = llama`, dequantizing every tensor to float32 and
    /// undoing llama.cpp's q/k row permutation, so that the result uses HF conventions.
    public static func load(gguf: GGUFFile) throws(WeightsError) -> LlamaModel {
        let config = try configFromGGUF(gguf)
        var tensors: [String: Tensor] = [:]
        func get(_ n: String) throws(WeightsError) -> Tensor { try gguf.tensor(n) }
        tensors["model.embed_tokens.weight"] = try get("token_embd.weight")
        for i in 0..<config.numLayers {
            let s = "blk.\(i).", d = "model.layers.\(i)."
            tensors[d + "input_layernorm.weight"] = try get(s + "attn_norm.weight")
            tensors[d + "self_attn.q_proj.weight"] = unpermuteRoPE(try get(s + "attn_q.weight"), heads: config.numHeads)
            tensors[d + "self_attn.k_proj.weight"] = unpermuteRoPE(try get(s + "attn_k.weight"), heads: config.numKVHeads)
            tensors[d + "self_attn.v_proj.weight"] = try get(s + "attn_v.weight")
            tensors[d + "self_attn.o_proj.weight"] = try get(s + "attn_output.weight")
            tensors[d + "post_attention_layernorm.weight"] = try get(s + "ffn_norm.weight")
            tensors[d + "mlp.gate_proj.weight"] = try get(s + "ffn_gate.weight")
            tensors[d + "mlp.up_proj.weight"] = try get(s + "ffn_up.weight")
            tensors[d + "mlp.down_proj.weight"] = try get(s + "ffn_down.weight")
        }
        tensors["model.norm.weight"] = try get("output_norm.weight")
        if !config.tieWordEmbeddings { tensors["lm_head.weight"] = try get("output.weight") }
        return try LlamaModel(config: config, tensors: tensors, source: gguf.path)
    }

    /// The configuration stored in a llama GGUF header.
    public static func configFromGGUF(_ f: GGUFFile) throws(WeightsError) -> LlamaConfig {
        let m = f.metadata
        guard m["general.architecture"]?.string == "llama" else {
            throw WeightsError(f.path, "general.architecture is \(m["general.architecture"]?.string ?? "absent"), not llama")
        }
        func int(_ k: String) throws(WeightsError) -> Int {
            guard let v = m[k]?.int else { throw WeightsError(f.path, "missing integer metadata \(k)") }
            return v
        }
        let heads = try int("llama.attention.head_count")
        let hidden = try int("llama.embedding_length")
        guard let embd = f.info("token_embd.weight") else { throw WeightsError(f.path, "missing token_embd.weight") }
        let vocab = m["llama.vocab_size"]?.int ?? m["tokenizer.ggml.tokens"]?.array?.count ?? embd.shape[0]
        let headDim = m["llama.attention.key_length"]?.int ?? m["llama.rope.dimension_count"]?.int ?? hidden / max(heads, 1)
        let c = LlamaConfig(
            vocabSize: vocab, hiddenSize: hidden, intermediateSize: try int("llama.feed_forward_length"),
            numLayers: try int("llama.block_count"), numHeads: heads,
            numKVHeads: m["llama.attention.head_count_kv"]?.int ?? heads, headDim: headDim,
            rmsNormEps: Float(m["llama.attention.layer_norm_rms_epsilon"]?.double ?? 1e-5),
            ropeTheta: Float(m["llama.rope.freq_base"]?.double ?? 10000),
            maxPositions: m["llama.context_length"]?.int ?? 2048,
            tieWordEmbeddings: f.info("output.weight") == nil,
            bosTokenId: m["tokenizer.ggml.bos_token_id"]?.int, eosTokenId: m["tokenizer.ggml.eos_token_id"]?.int)
        try c.validate(source: f.path)
        return c
    }

    /// llama.cpp's converter reorders q/k rows within each head from HF's half-split RoPE pairing to interleaved
    /// pairs: GGUF row `h·d + 2i + j` holds HF row `h·d + j·d/2 + i`. This undoes it.
    public static func unpermuteRoPE(_ w: Tensor, heads: Int) -> Tensor {
        let rows = w.shape[0], cols = w.count / max(rows, 1)
        let d = rows / heads, half = d / 2
        var out = [Float](repeating: 0, count: w.count)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let src = h * d + 2 * i + j, dst = h * d + j * half + i
                    for c in 0..<cols { out[dst * cols + c] = w.data[src * cols + c] }
                }
            }
        }
        return Tensor(shape: w.shape, data: out)
    }

    /// Named tensors in HF order.
    public var namedTensors: [(String, Tensor)] { Array(zip(parameters.names, parameters.tensors)) }

    /// Writes a HF model directory: `config.json`, `generation_config.json`, safetensors (sharded above
    /// `maxShardBytes`) and, when given, `tokenizer.json`.
    public func save(directory: String, dtype: StorageDType = .f32, maxShardBytes: Int = 2_000_000_000,
                     tokenizerJSON: [UInt8]? = nil) throws(WeightsError) {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw WeightsError(directory, "cannot create directory")
        }
        try SafetensorsWriter.writeSharded(namedTensors, directory: directory, dtype: dtype, maxShardBytes: maxShardBytes)
        try writeText(directory + "/config.json", config.json())
        var gen = "{\n  \"_from_model_config\": true"
        if let b = config.bosTokenId { gen += ",\n  \"bos_token_id\": \(b)" }
        if let e = config.eosTokenId { gen += ",\n  \"eos_token_id\": \(e)" }
        try writeText(directory + "/generation_config.json", gen + "\n}\n")
        if let tokenizerJSON { try writeText(directory + "/tokenizer.json", String(decoding: tokenizerJSON, as: UTF8.self)) }
    }
}

func writeText(_ path: String, _ s: String) throws(WeightsError) {
    do { try Data(s.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw WeightsError(path, "cannot write")
    }
}
