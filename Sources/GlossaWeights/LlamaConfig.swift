import Foundation
import GlossaTensor

/// Hyper-parameters of a Llama-family causal LM (the fields of a HF `config.json`).
public struct LlamaConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeLlama3: RoPE.Llama3Scaling?
    public var maxPositions: Int
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int,
                numKVHeads: Int, headDim: Int? = nil, rmsNormEps: Float = 1e-5, ropeTheta: Float = 10000,
                ropeLlama3: RoPE.Llama3Scaling? = nil, maxPositions: Int = 2048, tieWordEmbeddings: Bool = false,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numLayers = numLayers; self.numHeads = numHeads; self.numKVHeads = numKVHeads
        self.headDim = headDim ?? hiddenSize / numHeads
        self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta; self.ropeLlama3 = ropeLlama3
        self.maxPositions = maxPositions; self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId; self.eosTokenId = eosTokenId
    }

    /// Checks the sizes are consistent.
    public func validate(source: String = "config") throws(WeightsError) {
        func bad(_ s: String) -> WeightsError { WeightsError(source, s) }
        for (n, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                       ("num_hidden_layers", numLayers), ("num_attention_heads", numHeads),
                       ("num_key_value_heads", numKVHeads), ("head_dim", headDim)] where v <= 0 || v > 1 << 24 {
            throw bad("\(n) = \(v) is out of range")
        }
        if numHeads % numKVHeads != 0 { throw bad("num_attention_heads \(numHeads) is not a multiple of num_key_value_heads \(numKVHeads)") }
        if headDim % 2 != 0 { throw bad("head_dim \(headDim) must be even for RoPE") }
    }

    /// Expected tensor names and shapes (HF layout).
    public func expectedShapes() -> [(String, [Int])] {
        let h = hiddenSize, q = numHeads * headDim, kv = numKVHeads * headDim, f = intermediateSize
        var out: [(String, [Int])] = [("model.embed_tokens.weight", [vocabSize, h])]
        for i in 0..<numLayers {
            let p = "model.layers.\(i)."
            out += [(p + "input_layernorm.weight", [h]), (p + "self_attn.q_proj.weight", [q, h]),
                    (p + "self_attn.k_proj.weight", [kv, h]), (p + "self_attn.v_proj.weight", [kv, h]),
                    (p + "self_attn.o_proj.weight", [h, q]), (p + "post_attention_layernorm.weight", [h]),
                    (p + "mlp.gate_proj.weight", [f, h]), (p + "mlp.up_proj.weight", [f, h]),
                    (p + "mlp.down_proj.weight", [h, f])]
        }
        out.append(("model.norm.weight", [h]))
        if !tieWordEmbeddings { out.append(("lm_head.weight", [vocabSize, h])) }
        return out
    }

    /// Reads a HF `config.json` (LlamaForCausalLM and compatible: Mistral without sliding window, SmolLM, Qwen2
    /// without biases are not distinguished; unsupported fields are rejected).
    public static func read(path: String) throws(WeightsError) -> LlamaConfig {
        guard let d = FileManager.default.contents(atPath: path) else { throw WeightsError(path, "cannot read") }
        guard let o = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any] else { throw WeightsError(path, "not a JSON object") }
        func int(_ k: String) throws(WeightsError) -> Int {
            guard let n = o[k] as? NSNumber else { throw WeightsError(path, "missing integer \(k)") }
            return n.intValue
        }
        func optInt(_ k: String) -> Int? {
            if let n = o[k] as? NSNumber { return n.intValue }
            if let a = o[k] as? [NSNumber], let f = a.first { return f.intValue }
            return nil
        }
        if let mt = o["model_type"] as? String, !["llama", "mistral", "smollm", "smollm2", "smollm3"].contains(mt) {
            throw WeightsError(path, "model_type \(mt) is not a Llama-family model")
        }
        if let b = o["attention_bias"] as? Bool, b { throw WeightsError(path, "attention_bias = true is not supported") }
        if let b = o["mlp_bias"] as? Bool, b { throw WeightsError(path, "mlp_bias = true is not supported") }
        if let act = o["hidden_act"] as? String, act != "silu" { throw WeightsError(path, "hidden_act \(act) is not supported") }
        var llama3: RoPE.Llama3Scaling?
        // transformers ≥ 5 writes `rope_parameters` (theta + type); older versions `rope_theta` + `rope_scaling`.
        let ropeParams = o["rope_parameters"] as? [String: Any]
        var theta = (o["rope_theta"] as? NSNumber)?.floatValue ?? 10000
        if let t = ropeParams?["rope_theta"] as? NSNumber { theta = t.floatValue }
        let scaling = (o["rope_scaling"] as? [String: Any]) ?? ropeParams
        if let rs = scaling {
            let t = (rs["rope_type"] as? String) ?? (rs["type"] as? String) ?? "default"
            guard t == "llama3" || t == "default" else { throw WeightsError(path, "rope type \(t) is not supported") }
        }
        if let rs = scaling, ((rs["rope_type"] as? String) ?? (rs["type"] as? String)) == "llama3" {
            guard let f = rs["factor"] as? NSNumber, let lo = rs["low_freq_factor"] as? NSNumber,
                  let hi = rs["high_freq_factor"] as? NSNumber, let om = rs["original_max_position_embeddings"] as? NSNumber else {
                throw WeightsError(path, "incomplete llama3 rope_scaling")
            }
            llama3 = RoPE.Llama3Scaling(factor: f.floatValue, lowFreqFactor: lo.floatValue, highFreqFactor: hi.floatValue,
                                        originalMaxPositions: om.intValue)
        }
        let heads = try int("num_attention_heads")
        let c = LlamaConfig(
            vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
            intermediateSize: try int("intermediate_size"), numLayers: try int("num_hidden_layers"),
            numHeads: heads, numKVHeads: optInt("num_key_value_heads") ?? heads, headDim: optInt("head_dim"),
            rmsNormEps: (o["rms_norm_eps"] as? NSNumber)?.floatValue ?? 1e-6,
            ropeTheta: theta, ropeLlama3: llama3,
            maxPositions: optInt("max_position_embeddings") ?? 2048,
            tieWordEmbeddings: (o["tie_word_embeddings"] as? Bool) ?? false,
            bosTokenId: optInt("bos_token_id"), eosTokenId: optInt("eos_token_id"))
        try c.validate(source: path)
        return c
    }

    /// The `config.json` text for this configuration.
    public func json() -> String {
        var f: [(String, String)] = [
            ("architectures", "[\"LlamaForCausalLM\"]"), ("model_type", "\"llama\""),
            ("vocab_size", "\(vocabSize)"), ("hidden_size", "\(hiddenSize)"), ("intermediate_size", "\(intermediateSize)"),
            ("num_hidden_layers", "\(numLayers)"), ("num_attention_heads", "\(numHeads)"),
            ("num_key_value_heads", "\(numKVHeads)"), ("head_dim", "\(headDim)"), ("hidden_act", "\"silu\""),
            ("max_position_embeddings", "\(maxPositions)"), ("rms_norm_eps", "\(rmsNormEps)"),
            ("rope_theta", "\(ropeTheta)"), ("tie_word_embeddings", tieWordEmbeddings ? "true" : "false"),
            ("attention_bias", "false"), ("attention_dropout", "0.0"), ("mlp_bias", "false"),
            ("initializer_range", "0.02"), ("pretraining_tp", "1"), ("use_cache", "true"), ("torch_dtype", "\"float32\""),
        ]
        if let s = ropeLlama3 {
            f.append(("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": \(s.factor), \"low_freq_factor\": \(s.lowFreqFactor), \"high_freq_factor\": \(s.highFreqFactor), \"original_max_position_embeddings\": \(s.originalMaxPositions)}"))
        } else { f.append(("rope_scaling", "null")) }
        if let b = bosTokenId { f.append(("bos_token_id", "\(b)")) }
        if let e = eosTokenId { f.append(("eos_token_id", "\(e)")) }
        return "{\n" + f.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}
