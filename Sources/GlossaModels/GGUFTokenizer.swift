import Foundation
import GlossaWeights

/// The tokenizer stored in a GGUF header (`tokenizer.ggml.*`), written as a HF `tokenizer.json`.
public enum GGUFTokenizer {
    /// Supports byte-level BPE (`tokenizer.ggml.model = gpt2`) with the pre-tokenizers `smollm`, `gpt2`/`default`
    /// and `llama-bpe`.
    public static func huggingFaceJSON(_ g: GGUFFile) throws(WeightsError) -> [UInt8] {
        let m = g.metadata
        guard m["tokenizer.ggml.model"]?.string == "gpt2" else {
            throw WeightsError(g.path, "tokenizer.ggml.model \(m["tokenizer.ggml.model"]?.string ?? "absent") is not supported (only byte-level BPE, gpt2)")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !tokens.isEmpty else {
            throw WeightsError(g.path, "no tokenizer.ggml.tokens")
        }
        let merges = m["tokenizer.ggml.merges"]?.array?.compactMap(\.string) ?? []
        let types = m["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
        let pre = m["tokenizer.ggml.pre"]?.string ?? "default"
        let byteLevel = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":%@}"
        let preTokenizer: String
        switch pre {
        case "smollm":
            preTokenizer = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
                + byteLevel.replacingOccurrences(of: "%@", with: "true") + "]}"
        case "gpt2", "default":
            preTokenizer = byteLevel.replacingOccurrences(of: "%@", with: "true")
        case "llama-bpe", "llama3":
            let pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
            preTokenizer = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":" + esc(pattern)
                + "},\"behavior\":\"Isolated\",\"invert\":false}," + byteLevel.replacingOccurrences(of: "%@", with: "false") + "]}"
        default:
            throw WeightsError(g.path, "tokenizer.ggml.pre \(pre) is not supported")
        }
        var added: [String] = []
        for (i, t) in tokens.enumerated() where i < types.count && (types[i] == 3 || types[i] == 4) {
            added.append("{\"id\":\(i),\"content\":\(esc(t)),\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":\(types[i] == 3)}")
        }
        var s = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[" + added.joined(separator: ",") + "],"
        s += "\"normalizer\":null,\"pre_tokenizer\":" + preTokenizer + ","
        s += "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},"
        s += "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
        s += "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":{"
        s += tokens.enumerated().map { "\(esc($0.element)):\($0.offset)" }.joined(separator: ",")
        s += "},\"merges\":["
        s += merges.map { esc($0) }.joined(separator: ",")
        s += "]}}"
        return Array(s.utf8)
    }

    static func esc(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
