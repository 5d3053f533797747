import ArgumentParser
import Foundation
import GlossaJSON
import GlossaTokenizers
import GlossaTraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a BPE tokenizer: byte-level (identical to HF tokenizers' BpeTrainer) or SentencePiece-style.",
        discussion: """
        Text files are read line by line, each line with its newline, exactly as HF `Tokenizer.train(files)`;
        *.jsonl / *.ndjson files give one sequence per record (--text-field). Gzip input is detected by its
        magic bytes; `-` reads standard input. The output is written atomically (temporary file + rename).

        --model sentencepiece trains SentencePiece-style BPE (as `spm_train --model_type=bpe`): lines without their
        newline, NFKC, Metaspace "▁" with a dummy prefix, pieces within one word and one Unicode script, at most
        --max-token-length (default 16) characters, --character-coverage (default 0.9995), byte fallback
        (<0x00>…<0xFF>), <unk> <s> </s> first. The tokenizer.json loads in HF tokenizers.

        Examples:
          glossa train --corpus ../shared/corpora/en/train.txt --vocab-size 32000 -o en32k.json
          glossa train --corpus a.txt.gz b.jsonl --vocab-size 8000 --special-tokens '<|endoftext|>' \\
                       --pattern cl100k --normalization nfc -o tok.json --json
          glossa train --corpus - --vocab-size 1000 --format tiktoken -o small.tiktoken < corpus.txt
          glossa train --model sentencepiece --corpus ../shared/corpora/ru/train.txt --vocab-size 32000 -o ru-sp.json
        """)

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case hf, tiktoken }
    enum InputFormat: String, ExpressibleByArgument, CaseIterable { case auto, lines, jsonl }
    enum ModelKind: String, ExpressibleByArgument, CaseIterable { case bytelevel, sentencepiece }

    @Option(help: "bytelevel (GPT-2 / Llama-3 style, HF-identical) or sentencepiece (Metaspace, byte fallback).")
    var model: ModelKind = .bytelevel

    @Option(name: .long, parsing: .upToNextOption, help: "Corpus files (text, JSONL, gzip; `-` for standard input).")
    var corpus: [String] = []

    @Option(help: "How inputs are cut into sequences: auto (by extension), lines, jsonl.")
    var inputFormat: InputFormat = .auto

    @Option(help: "JSONL field holding the text.")
    var textField = "text"

    @Option(help: "Vocabulary size, special tokens and the 256-character alphabet included.")
    var vocabSize: Int

    @Option(help: "Minimum pair count for a merge.")
    var minFrequency: UInt64 = 0

    @Option(help: "Comma-separated special tokens (ids 0, 1, … in this order).")
    var specialTokens: String?

    @Option(help: "Pre-tokenization: gpt2, cl100k, o200k, qwen, or a regex (Oniguruma syntax). Byte-level only.")
    var pattern: String?

    @Option(help: "Unicode normalization before pre-tokenization: none, nfc, nfd, nfkc, nfkd (default: none; nfkc for sentencepiece).")
    var normalization: String?

    @Option(help: "SentencePiece character_coverage: rarer characters get no piece (byte fallback). Default 0.9995.")
    var characterCoverage: Double?

    @Flag(help: "SentencePiece: no <0x00>…<0xFF> byte-fallback pieces (uncovered characters become <unk>).")
    var noByteFallback = false

    @Flag(help: "Lowercase after normalization (HF Lowercase normalizer).")
    var lowercase = false

    @Option(help: "Maximum token length in characters (HF max_token_length; sentencepiece: max_sentencepiece_length, default 16).")
    var maxTokenLength: Int?

    @Option(help: "Keep at most this many alphabet characters (HF limit_alphabet).")
    var limitAlphabet: Int?

    @Option(help: "Counting threads (default: all cores). The result does not depend on it.")
    var threads: Int = 0

    @Option(help: "Train on a sample: keep this fraction (0 < f <= 1) of the lines, chosen by a fixed hash of each line (byte-level models; reproducible).")
    var sample: Double?

    @Option(help: "Output format: hf (tokenizer.json) or tiktoken (rank file; special tokens are listed on stdout).")
    var format: OutputFormat = .hf

    @Option(name: [.short, .customLong("output")], help: "Output file (a directory gets tokenizer.json / tokenizer.tiktoken).")
    var output: String

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        if corpus.isEmpty { throw ValidationError("give at least one --corpus file (or - for standard input)") }
        if let normalization, TrainingNormalization(rawValue: normalization.lowercased()) == nil {
            throw ValidationError("--normalization must be one of: \(TrainingNormalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if model == .sentencepiece {
            if format == .tiktoken { throw ValidationError("--format tiktoken is for byte-level models only") }
            if pattern != nil { throw ValidationError("--pattern is for byte-level models only (sentencepiece splits on \"▁\")") }
            if limitAlphabet != nil { throw ValidationError("--limit-alphabet is for byte-level models; use --character-coverage") }
            if sample != nil { throw ValidationError("--sample is implemented for byte-level models only") }
        } else {
            if let sample, !(sample > 0 && sample <= 1) { throw ValidationError("--sample must be in (0, 1], got \(sample)") }
            if characterCoverage != nil { throw ValidationError("--character-coverage is for --model sentencepiece") }
            if noByteFallback { throw ValidationError("--no-byte-fallback is for --model sentencepiece") }
        }
    }

    func run() throws {
        var options = BPETrainingOptions(vocabSize: vocabSize)
        options.minFrequency = minFrequency
        options.specialTokens = specialTokens.map { $0.split(separator: ",", omittingEmptySubsequences: true).map(String.init) } ?? []
        options.pattern = TrainingPattern(argument: pattern ?? "gpt2")
        options.normalization = normalization.flatMap { TrainingNormalization(rawValue: $0.lowercased()) } ?? .none
        options.lowercase = lowercase
        options.maxTokenLength = maxTokenLength
        options.limitAlphabet = limitAlphabet
        options.threads = threads
        options.sampleFraction = sample ?? 1

        let sources: [CorpusSource] = corpus.map { path in
            switch inputFormat {
            case .auto: return CorpusSource(path: path, jsonField: textField)
            case .lines: return CorpusSource(path: path, format: .lines)
            case .jsonl: return CorpusSource(path: path, format: .jsonl(field: textField))
            }
        }
        // Fail on an unwritable destination before spending the training time.
        let path = outputPath()
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileManager.default.isWritableFile(atPath: dir) {
            throw CLIError("\(path): directory \(dir) is not writable")
        }

        let showProgress = !quiet && isatty(2) != 0
        let started = Date()
        let progress: ((TrainingProgress) -> Void)? = showProgress ? { p in
            let s: String
            switch p {
            case let .counting(bytes, sequences, source):
                s = String(format: "\rcounting %@: %.1f MB, %d sequences, %.1f s   ", source,
                           Double(bytes) / 1e6, sequences, Date().timeIntervalSince(started))
            case let .merging(done, target):
                s = String(format: "\rmerging: %d / %d merges, %.1f s                ", done, target,
                           Date().timeIntervalSince(started))
            }
            FileHandle.standardError.write(Data(s.utf8))
        } : nil

        let result: BPETrainingResult
        do {
            switch model {
            case .bytelevel:
                result = try BPETrainer.train(sources: sources, options: options, progress: progress)
            case .sentencepiece:
                var sp = SentencePieceTrainingOptions(vocabSize: vocabSize)
                sp.minFrequency = minFrequency
                sp.specialTokens = options.specialTokens
                sp.normalization = normalization.flatMap { TrainingNormalization(rawValue: $0.lowercased()) } ?? .nfkc
                sp.lowercase = lowercase
                if let characterCoverage { sp.characterCoverage = characterCoverage }
                sp.byteFallback = !noByteFallback
                if let maxTokenLength { sp.maxPieceLength = maxTokenLength }
                sp.threads = threads
                result = try SentencePieceTrainer.train(sources: sources, options: sp, progress: progress)
            }
        } catch {
            if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
            throw CLIError(error.description)
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }

        var specialRanks: [(String, Int)] = []
        let bytes: [UInt8]
        switch format {
        case .hf:
            do { bytes = try result.tokenizer.huggingFaceJSON() } catch { throw CLIError("cannot write tokenizer.json: \(error)") }
        case .tiktoken:
            do {
                let t = try result.tiktoken()
                bytes = t.file
                specialRanks = t.specialRanks
            } catch { throw CLIError(error.description) }
        }
        try writeAtomically(bytes, to: path)

        let st = result.statistics
        if json {
            writeStdout(jsonLine { w in
                w.beginObject()
                w.key("output"); w.string(path)
                w.key("format"); w.string(format.rawValue)
                w.key("vocab_size"); w.int(st.vocabularySize)
                w.key("merges"); w.int(st.merges)
                w.key("merge_steps"); w.int(st.mergeSteps)
                w.key("alphabet"); w.int(st.alphabetSize)
                w.key("bytes_read"); w.int(st.bytesRead)
                w.key("sequences"); w.int(st.sequences)
                w.key("pre_tokens"); w.int(Int(clamping: st.preTokens))
                w.key("distinct_pre_tokens"); w.int(st.distinctPreTokens)
                w.key("distinct_pairs"); w.int(st.distinctPairs)
                w.key("peak_word_references"); w.int(st.peakWordReferences)
                w.key("counting_s"); w.double((st.countingSeconds * 1000).rounded() / 1000)
                w.key("merging_s"); w.double((st.mergingSeconds * 1000).rounded() / 1000)
                w.key("model"); w.string(model.rawValue)
                if model == .bytelevel { w.key("pattern"); w.string(options.pattern.regex) }
                if !specialRanks.isEmpty {
                    w.key("special_tokens"); w.beginObject()
                    for (s, r) in specialRanks { w.key(s); w.int(r) }
                    w.endObject()
                }
                w.endObject()
            })
        } else {
            var s = "wrote \(path): \(st.vocabularySize) tokens, \(st.merges) merges\n"
            s += String(format: "  %.1f MB, %d sequences, %d pre-tokens (%d distinct); counting %.2f s, merging %.2f s\n",
                        Double(st.bytesRead) / 1e6, st.sequences, Int(clamping: st.preTokens), st.distinctPreTokens,
                        st.countingSeconds, st.mergingSeconds)
            if !specialRanks.isEmpty {
                s += "  special tokens (outside the rank file): " + specialRanks.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
                s += "  pattern: \(options.pattern.regex)\n"
            }
            print(s, terminator: "")
        }
    }

    func outputPath() -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
            return (output as NSString).appendingPathComponent(format == .hf ? "tokenizer.json" : "tokenizer.tiktoken")
        }
        return output
    }
}
