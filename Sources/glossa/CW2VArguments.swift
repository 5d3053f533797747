import ArgumentParser
import Foundation
import GlossaInit
import GlossaTokenizers

/// The cw2v options shared by `init-embeddings` and `probe` (Docs/initializers.md, spec §6).
struct CW2VArguments: ParsableArguments {
    @Option(help: "cw2v: training text (UTF-8, one document per line); init-embeddings tokenizes it with the extended tokenizer, probe with the model's.")
    var corpus: String?
    @Option(help: "cw2v: read at most this many bytes of --corpus (cut at a line end).")
    var corpusMaxBytes: Int?
    @Option(help: "cw2v: epochs over the corpus.")
    var cw2vEpochs: Int = 3
    @Option(help: "cw2v: skip-gram window (a random 1…window per centre, as word2vec).")
    var cw2vWindow: Int = 5
    @Option(help: "cw2v: negatives per (centre, context) pair, drawn from unigram^0.75.")
    var cw2vNegatives: Int = 5
    @Option(help: "cw2v: Adam step size on the combination logits (decays linearly to 0).")
    var cw2vLr: Float = 0.05
    @Option(help: "cw2v: candidate old rows per new token (FVT pieces, aux neighbours, then nearest rows to the FVT row).")
    var cw2vSupport: Int = 64
    @Option(help: "cw2v: corpus tokens per mini-batch (one Adam step per touched token per batch).")
    var cw2vBatch: Int = 8192
    @Option(help: "cw2v: frequent-token sub-sampling threshold t (keep probability sqrt(t/f) + t/f).")
    var cw2vSubsample: Double = 1e-4
    @Option(help: "cw2v: starting weights: fvt (90% on the FVT pieces) or uniform over the candidates.")
    var cw2vStart: String = "fvt"
    @Option(help: "cw2v: worker threads (default: all cores; the result does not depend on it).")
    var cw2vThreads: Int?

    /// Copies the options into `o` (seed: `--seed`); progress goes to standard error when it is a terminal.
    func apply(to o: inout InitOptions) throws {
        guard let start = CW2VStart(rawValue: cw2vStart) else { throw CLIError("unknown --cw2v-start \(cw2vStart); fvt or uniform") }
        guard cw2vEpochs >= 0, cw2vWindow >= 1, cw2vNegatives >= 0, cw2vSupport >= 1, cw2vBatch >= 1, cw2vLr > 0 else {
            throw CLIError("cw2v: epochs ≥ 0, window ≥ 1, negatives ≥ 0, support ≥ 1, batch ≥ 1 and lr > 0 are required")
        }
        var c = CW2VOptions()
        c.epochs = cw2vEpochs; c.window = cw2vWindow; c.negatives = cw2vNegatives; c.learningRate = cw2vLr
        c.support = cw2vSupport; c.batchTokens = cw2vBatch; c.subsample = cw2vSubsample; c.start = start
        if let cw2vThreads { c.threads = max(1, cw2vThreads) }
        c.seed = o.sampling.seed
        if isatty(2) != 0 {
            c.progress = { line in FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8)) }
        }
        o.cw2v = c
    }

    /// Ends the progress line, if one was drawn.
    func endProgress(_ o: InitOptions) {
        if o.method == .cw2v && o.cw2v.progress != nil { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// The corpus as token ids (nil without --corpus).
    func loadCorpus(tokenizer: Tokenizer) throws -> [[Int32]]? {
        guard let corpus else { return nil }
        var bytes = try readFile(corpus)
        if let corpusMaxBytes, bytes.count > corpusMaxBytes {
            var cut = max(0, corpusMaxBytes)
            while cut > 0 && bytes[cut - 1] != 0x0A { cut -= 1 }
            if cut == 0 { cut = corpusMaxBytes; while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 } }
            bytes = Array(bytes[0..<cut])
        }
        // Lines that are not valid UTF-8 (e.g. a file cut mid-character) are skipped and counted, not fatal.
        var lines: [[UInt8]] = [], invalid = 0
        for l in bytes.split(separator: 0x0A) {
            if String(validating: l, as: UTF8.self) != nil { lines.append(Array(l)) } else { invalid += 1 }
        }
        if invalid > 0 { FileHandle.standardError.write(Data("note: cw2v: skipped \(invalid) corpus lines that are not valid UTF-8\n".utf8)) }
        let t0 = Date()
        do {
            let seqs = try tokenizer.encodeIdsBatch(lines, specialTokens: .text)
            FileHandle.standardError.write(Data(String(format: "cw2v: tokenized %d lines (%d bytes), %d tokens in %.1f s\n", lines.count,
                                                       bytes.count, seqs.reduce(0) { $0 + $1.count }, Date().timeIntervalSince(t0)).utf8))
            return seqs
        } catch { throw CLIError("\(corpus): \(error.description)") }
    }
}
