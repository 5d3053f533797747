import ArgumentParser
import Foundation
import GlossaTokenizers
import GlossaVocabulary

extension ExtensionMethod: ExpressibleByArgument {}
extension ProtectMode: ExpressibleByArgument {}
extension ChartMetric: ExpressibleByArgument {}

struct Extend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend",
        abstract: "Append target-language tokens to a BPE tokenizer, keeping every existing id and merge.",
        discussion: """
        Byte-level BPE (GPT-2 encoder.json + vocab.bpe, Llama-3 / SmolLM2 tokenizer.json) and SentencePiece-style BPE
        (Llama-2 / Mistral tokenizer.json). New merges rank after all base merges and each new token encodes back
        to itself. The output directory gets tokenizer.json (GPT-2's encoder.json + vocab.bpe become their HF form) and
        extension.json, the manifest: {"base_vocab_size", "tokens": [{"id", "bytes_b64", "surface", "base_ids"}]}.
        Nothing is written unless the whole extension succeeds.

        Methods:
          continue  resume BPE from the base's merges on the target corpus (default)
          merge     train a target tokenizer from scratch and append its merges the base lacks (Chinese-LLaMA style)

        Examples:
          glossa extend --base ../shared/tokenizers/gpt2/encoder.json --corpus ../shared/corpora/ru/train.txt --add 8000 -o gpt2-ru8k
          glossa extend --base smollm2/tokenizer.json --corpus ko.txt --add 8000 -o smollm2-ko8k \\
                        --protect-corpus ../shared/corpora/en/heldout.txt --protect forbid
        """)

    @Option(help: "Base tokenizer: tokenizer.json, GPT-2 encoder.json (vocab.bpe beside it), or a directory holding one.")
    var base: String

    @Option(name: .long, parsing: .upToNextOption, help: "Target-language text files (one sequence per line).")
    var corpus: [String] = []

    @Option(help: "Number of new tokens.")
    var add: Int

    @Option(name: [.short, .customLong("output")], help: "Output directory.")
    var output: String

    @Option(help: "continue or merge.")
    var method: ExtensionMethod = .continue

    @Option(help: "Minimum pair count for a new merge.")
    var minFrequency: UInt64 = 2

    @Option(help: "Longest new token in characters.")
    var maxTokenLength: Int?

    @Option(help: "Text whose encoding should not change (e.g. English held-out text).")
    var protectCorpus: String?

    @Option(help: "report: measure changes to the protected text; forbid: learn no merge that changes it.")
    var protect: ProtectMode = .report

    @Option(help: "SentencePiece style: add missing characters until this share of the corpus characters is covered.")
    var characterCoverage: Double = 0.9999

    @Option(help: "Worker threads for counting.")
    var threads: Int = 2

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    func validate() throws {
        if corpus.isEmpty { throw ValidationError("give at least one --corpus file") }
        if add <= 0 { throw ValidationError("--add must be positive") }
    }

    func run() throws {
        do {
            let b = try ExtensionBase.load(path: base)
            var lines: [[UInt8]] = []
            for c in corpus { lines += try TextLines.read(c) }
            var o = ExtensionOptions(add: add)
            o.method = method
            o.minFrequency = minFrequency
            o.maxTokenLength = maxTokenLength
            o.protect = protect
            o.characterCoverage = characterCoverage
            o.threads = threads
            if let p = protectCorpus { o.protectLines = try TextLines.read(p) }
            let r = try VocabularyExtender.extend(base: b, corpus: lines, options: o, targetCorpusPaths: corpus)
            try ExtensionOutput.write(try ExtensionOutput.files(r), directory: output)
            let s = r.statistics
            if json {
                var w = "{\"base\": \"\(b.path)\", \"kind\": \"\(b.kind.rawValue)\", \"base_vocab_size\": \(b.firstNewId), "
                w += "\"added\": \(r.manifest.tokens.count), \"new_characters\": \(s.newCharacters), \"new_merges\": \(s.newMerges), "
                w += "\"last_merge_count\": \(s.lastMergeCount), \"skipped_unreachable\": \(s.skippedUnreachable), "
                w += "\"skipped_protected\": \(s.skippedProtected), \"skipped_too_long\": \(s.skippedLength), \"seconds\": \(s.seconds)"
                if let p = r.protect {
                    w += ", \"protect\": {\"lines\": \(p.lines), \"changed_lines\": \(p.changedLines), \"changed_fraction\": \(p.changedFraction), \"base_tokens\": \(p.baseTokens), \"extended_tokens\": \(p.extendedTokens)}"
                }
                print(w + "}")
            } else {
                print("\(b.kind.rawValue) base \(b.path): \(b.firstNewId) ids, \(b.merges.count) merges")
                print("added \(r.manifest.tokens.count) tokens (ids \(b.firstNewId)..<\(b.firstNewId + r.manifest.tokens.count)): \(s.newCharacters) characters, \(s.newMerges) merges; last merge seen \(s.lastMergeCount) times")
                print("skipped pairs: \(s.skippedUnreachable) unreachable, \(s.skippedProtected) protected, \(s.skippedLength) too long; \(String(format: "%.1f", s.seconds)) s")
                if let p = r.protect {
                    print("protected text: \(p.changedLines) of \(p.lines) lines encode differently (\(String(format: "%.2f", 100 * p.changedFraction)) %), tokens \(p.baseTokens) → \(p.extendedTokens)")
                }
                print("wrote \(output)/tokenizer.json and \(output)/\(ExtensionOutput.manifestName)")
            }
        } catch {
            throw CLIError(error.description)
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Compare tokenizers across languages: tokens per word, bytes/characters per token, parity, fallback, vocabulary use.",
        discussion: """
        Each line is encoded alone, without special tokens. Words are whitespace-separated; in Han, Hiragana and
        Katakana every character counts as a word (those scripts do not separate words with spaces), so use
        parity for cross-language comparison. Parity = tokens of a language / tokens of the English reference on
        the same (line-aligned) sentences. Fallback = byte-fallback pieces and unk, or for byte-level tokenizers
        tokens that are not whole UTF-8 characters. A directory with an extension.json (from `glossa extend`) is
        read as an extended tokenizer: its new-token use is reported.

        Examples:
          glossa stats -t ../shared/tokenizers/gpt2/encoder.json -t cl100k_base.tiktoken --parallel ../shared/corpora/parallel/ntrex128 --svg parity.svg
          glossa stats -t gpt2-ru8k --corpus ../shared/corpora/ru/heldout.txt --json
        """)

    @Option(name: [.customShort("t"), .long], help: "Tokenizer (repeatable); LABEL=PATH names it.")
    var tokenizer: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Text files, one sequence per line (each is a row).")
    var corpus: [String] = []

    @Option(help: "A directory of line-aligned parallel texts (*.txt), e.g. NTREX-128.")
    var parallel: String?

    @Option(help: "Reference text for parity (a file name without .txt inside --parallel).")
    var reference = "eng-US"

    @Option(help: "Only these texts (comma-separated names without .txt).")
    var only: String?

    @Option(help: "Use at most this many lines of each text.")
    var maxLines: Int?

    @Flag(help: "Print JSON instead of the table.")
    var json = false

    @Option(help: "Print a Markdown pivot table of this metric instead (parity, tokens-per-word, bytes-per-token, fallback).")
    var markdown: ChartMetric?

    @Option(help: "Write an SVG chart here.")
    var svg: String?

    @Option(help: "Chart metric: parity (default with --parallel), tokens-per-word, bytes-per-token, fallback.")
    var chart: ChartMetric?

    func validate() throws {
        if tokenizer.isEmpty { throw ValidationError("give at least one --tokenizer") }
        if corpus.isEmpty == (parallel == nil) { throw ValidationError("give either --corpus files or --parallel DIR") }
    }

    func run() throws {
        do {
            var toks: [AnalyzedTokenizer] = []
            for spec in tokenizer {
                var label: String?
                var path = spec
                if let eq = spec.firstIndex(of: "="), !FileManager.default.fileExists(atPath: spec) {
                    label = String(spec[..<eq]); path = String(spec[spec.index(after: eq)...])
                }
                toks.append(try AnalyzedTokenizer.load(path: path, label: label))
            }
            var texts: [(name: String, lines: [[UInt8]])] = []
            let filter = only.map { Set($0.split(separator: ",").map(String.init)) }
            var reference: String?
            if let dir = parallel {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { $0.hasSuffix(".txt") }.sorted() ?? []
                if names.isEmpty { throw CLIError("\(dir): no .txt files") }
                for n in names {
                    let name = String(n.dropLast(4))
                    if let filter, !filter.contains(name), name != self.reference { continue }
                    var lines = TextLines.split(try readFile(dir + "/" + n), dropEmpty: false)
                    if let m = maxLines { lines = Array(lines.prefix(m)) }
                    texts.append((name, lines))
                }
                guard texts.contains(where: { $0.name == self.reference }) else {
                    throw CLIError("\(dir): no reference text \(self.reference).txt for parity (see --reference)")
                }
                let counts = Set(texts.map { $0.lines.count })
                if counts.count > 1 { throw CLIError("\(dir): texts are not line-aligned (line counts \(counts.sorted()))") }
                reference = self.reference
            } else {
                for c in corpus {
                    var lines = try TextLines.read(c)
                    if let m = maxLines { lines = Array(lines.prefix(m)) }
                    let parts = c.split(separator: "/")
                    let name = parts.count >= 2 && ["train.txt", "heldout.txt"].contains(String(parts.last!))
                        ? parts[parts.count - 2] + "/" + parts.last!.dropLast(4) : (c as NSString).lastPathComponent
                    texts.append((String(name), lines))
                }
            }
            let rows = try StatisticsReport.run(tokenizers: toks, texts: texts, reference: reference) { msg in
                FileHandle.standardError.write(Data("\r\u{1B}[K\(msg)".utf8))
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            if json { writeStdout(StatisticsReport.json(rows)) }
            else if let m = markdown { print(StatisticsReport.pivot(rows, metric: m), terminator: "") }
            else { print(StatisticsReport.table(rows), terminator: "") }
            if let svg {
                let metric = chart ?? (reference != nil ? .parity : .tokensPerWord)
                let text = BarChart.from(rows, metric: metric).svg()
                try writeAtomically(Array(text.utf8), to: svg)
            }
        } catch let e as VocabularyError {
            throw CLIError(e.description)
        }
    }
}
