import Foundation
import GlossaJSON
import GlossaModels
import GlossaTensor
import GlossaTokenizers
import GlossaWeights

/// A checkpoint as named tensors plus its config and tokenizer, with the embedding, head and bias located.
/// Any HF directory with a known embedding name works (Llama, BERT, GPT-2 …); a llama GGUF is dequantized.
public struct ModelWeights: Sendable {
    public var tensors: [(String, Tensor)]
    public var config: JSONNode
    public var tokenizerJSON: [UInt8]?
    public let embedName: String
    /// The untied output head, when the checkpoint has one.
    public let headName: String?
    /// An output bias (XLM-R/BERT `cls.predictions.bias`), when present.
    public let biasNames: [String]
    public let tied: Bool
    public let source: String

    static let embedNames = ["model.embed_tokens.weight", "embeddings.word_embeddings.weight",
                             "bert.embeddings.word_embeddings.weight", "roberta.embeddings.word_embeddings.weight",
                             "transformer.wte.weight", "model.embed_in.weight"]
    static let headNames = ["lm_head.weight", "cls.predictions.decoder.weight", "embed_out.weight"]
    static let biasCandidates = ["cls.predictions.bias", "cls.predictions.decoder.bias", "lm_head.bias", "final_logits_bias"]

    public func tensor(_ name: String) -> Tensor? { tensors.first { $0.0 == name }?.1 }
    public var embedding: Tensor { tensor(embedName)! }
    public var head: Tensor? { headName.flatMap { tensor($0) } }
    public var vocabRows: Int { embedding.shape[0] }
    public var initializerRange: Float {
        if case .double(let v)? = config["initializer_range"] { return Float(v) }
        if case .int(let v)? = config["initializer_range"] { return Float(v) }
        return 0.02
    }

    public init(tensors: [(String, Tensor)], config: JSONNode, tokenizerJSON: [UInt8]?, source: String) throws(InitError) {
        self.tensors = tensors; self.config = config; self.tokenizerJSON = tokenizerJSON; self.source = source
        let names = Set(tensors.map(\.0))
        guard let e = Self.embedNames.first(where: names.contains) else {
            throw InitError("\(source): no input embedding tensor (looked for \(Self.embedNames.joined(separator: ", ")))")
        }
        embedName = e
        var tieFlag: Bool? = nil
        if case .bool(let b)? = config["tie_word_embeddings"] { tieFlag = b }
        let h = Self.headNames.first(where: names.contains)
        // A saved head under a config that declares tying is the same matrix: treat as tied.
        if let h, tieFlag != true { headName = h; tied = false } else { headName = nil; tied = true }
        biasNames = Self.biasCandidates.filter(names.contains)
    }

    /// Loads a HF directory (config.json, safetensors, tokenizer.json) or a llama `.gguf` file.
    public static func load(path: String) throws(InitError) -> ModelWeights {
        do {
            if path.hasSuffix(".gguf") {
                let g = try GGUFFile(path: path)
                let model = try LlamaModel.load(gguf: g)
                let cfg = try JSONDocument(string: model.config.json()).root.toNode()
                return try ModelWeights(tensors: model.namedTensors, config: cfg,
                                        tokenizerJSON: try GGUFTokenizer.huggingFaceJSON(g), source: path)
            }
            let cfg = try JSONDocument(contentsOfFile: path + "/config.json").root.toNode()
            let st = try SafetensorsCollection(path: path)
            var ts: [(String, Tensor)] = []
            for n in st.names { ts.append((n, try st.tensor(n))) }
            let tokPath = path + "/tokenizer.json"
            let tok = FileManager.default.fileExists(atPath: tokPath) ? try BinaryFile.read(tokPath) : nil
            return try ModelWeights(tensors: ts, config: cfg, tokenizerJSON: tok, source: path)
        } catch let e as InitError {
            throw e
        } catch {
            throw InitError("\(path): \(error)")
        }
    }

    /// The model's own tokenizer (from tokenizer.json or the GGUF vocabulary).
    public func loadTokenizer() throws(InitError) -> Tokenizer {
        guard let tokenizerJSON else { throw InitError("\(source): no tokenizer.json next to the weights; pass --base-tokenizer") }
        return try GlossaInit.loadTokenizer(json: tokenizerJSON)
    }
}

/// Loads a tokenizer from tokenizer.json bytes (through a private temporary file).
public func loadTokenizer(json: [UInt8]) throws(InitError) -> Tokenizer {
    let tmp = NSTemporaryDirectory() + "glossa-init-tok-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).json"
    do {
        try BinaryFile.write(json, to: tmp)
        defer { unlink(tmp) }
        return try Tokenizer.load(path: tmp)
    } catch { throw InitError("tokenizer: \(error)") }
}

extension JSONNode {
    /// A copy of an object with `key` set (replaced in place, or appended).
    func setting(_ key: String, _ value: JSONNode) -> JSONNode {
        guard case .object(var members) = self else { return self }
        if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else { members.append(.init(key, value)) }
        return .object(members)
    }
}
