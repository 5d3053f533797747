import ArgumentParser
import Foundation
import GlossaJSON
import GlossaTokenizers

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a tokenizer: type, vocabulary size, pipeline, special tokens.",
        discussion: """
        Examples:
          glossa inspect -t ../shared/tokenizers/mistral-7b-v0.3/tokenizer.json
          glossa inspect -t cl100k_base.tiktoken --json
        """)
    @OptionGroup var tok: TokenizerOptions
    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let t = try tok.load()
        let info = t.summary
        if json {
            writeStdout(jsonLine { w in
                w.beginObject()
                w.key("source"); w.string(info.source)
                w.key("model"); w.string(info.model)
                w.key("vocab_size"); w.int(info.vocabularySize)
                w.key("model_vocab_size"); w.int(info.modelVocabularySize)
                w.key("merges"); w.int(info.merges)
                w.key("pipeline"); w.beginArray(); for s in info.pipeline { w.string(s) }; w.endArray()
                w.key("special_tokens"); w.beginArray()
                for (c, id) in info.specialTokens { w.beginObject(); w.key("content"); w.string(c); w.key("id"); w.int(Int(id)); w.endObject() }
                w.endArray()
                w.key("added_tokens"); w.int(info.addedTokens)
                w.endObject()
            })
        } else {
            var s = "source:      \(info.source)\nmodel:       \(info.model)\n"
            s += "vocab size:  \(info.vocabularySize) (model \(info.modelVocabularySize), \(info.addedTokens) added)\n"
            if info.merges > 0 { s += "merges:      \(info.merges)\n" }
            s += "pipeline:\n" + info.pipeline.map { "  " + $0 }.joined(separator: "\n") + "\n"
            let sp = info.specialTokens
            s += "specials:    \(sp.count)" + (sp.isEmpty ? "" : ": " + sp.prefix(8).map { "\($0.0)=\($0.1)" }.joined(separator: " ") + (sp.count > 8 ? " …" : "")) + "\n"
            print(s, terminator: "")
        }
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a tokenizer between formats (the result encodes to the same ids).",
        discussion: """
        Examples:
          glossa convert -t cl100k_base.tiktoken --to hf -o cl100k.json
          glossa convert -t gpt2/ --to tiktoken -o gpt2.tiktoken
          glossa convert -t llama2/tokenizer.model --to hf -o llama2.json
        tiktoken output needs a byte-level BPE tokenizer; the pattern and special tokens are printed
        so they can be passed to tiktoken.Encoding.
        """)
    enum Target: String, ExpressibleByArgument, CaseIterable { case hf, tiktoken }
    @OptionGroup var tok: TokenizerOptions
    @Option(help: "Output format: hf (tokenizer.json) or tiktoken (rank file).")
    var to: Target
    @Option(name: .shortAndLong, help: "Output file (written atomically).")
    var output: String
    @Flag(help: "Write merges in the legacy \"a b\" string form (only when no token contains a space).")
    var legacyMerges = false

    func run() throws {
        let t = try tok.load()
        do {
            switch to {
            case .hf: try writeAtomically(try t.huggingFaceJSON(legacyMerges: legacyMerges), to: output)
            case .tiktoken:
                try writeAtomically(try t.tiktokenRanks(), to: output)
                if let p = t.pattern { FileHandle.standardError.write(Data("pattern: \(p)\n".utf8)) }
                let specials = t.summary.specialTokens
                if !specials.isEmpty {
                    FileHandle.standardError.write(Data(("special tokens: " + specials.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n").utf8))
                }
            }
        } catch let e as TokenizerError { throw CLIError(e.description) }
    }
}
