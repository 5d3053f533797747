import ArgumentParser
import Foundation
import GlossaTokenizers
import GlossaTensor

@main
struct Glossa: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glossa",
        abstract: "Tokenizers and language adaptation: exact HF/tiktoken/SentencePiece tokenization.",
        discussion: """
        Examples:
          glossa encode -t ../shared/tokenizers/llama3.2/tokenizer.json "Hello, world"
          glossa count -t cl100k_base.tiktoken -i corpus.txt
          glossa inspect -t tokenizer.model --json
          glossa convert -t cl100k_base.tiktoken --to hf -o cl100k.tokenizer.json
        """,
        subcommands: [Encode.self, Decode.self, Count.self, Inspect.self, Convert.self, Bench.self, Train.self, ModelCommand.self, InitEmbeddings.self, Vectors.self, ProbeCommand.self, Extend.self, Stats.self])
}

/// Options shared by every command that loads a tokenizer.
struct TokenizerOptions: ParsableArguments {
    @Option(name: [.customShort("t"), .long], help: "Tokenizer: tokenizer.json, a .tiktoken rank file, encoder.json (GPT-2), a SentencePiece .model, or a directory holding one.")
    var tokenizer: String

    @Option(help: "tiktoken encoding of a rank file (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, llama3, qwen); inferred from the file name when omitted.")
    var encoding: String?

    func load() throws -> Tokenizer {
        BLASRuntime.stopIdleThreads()   // the threads OpenBLAS started at load would compete with loading and encoding
        do { return try Tokenizer.load(path: tokenizer, encoding: encoding) } catch { throw CLIError(error.description) }
    }
}

/// Where the text comes from: arguments, a file, or standard input.
struct TextInput: ParsableArguments {
    @Argument(help: "Text to process (omit to read --input or standard input).")
    var text: [String] = []

    @Option(name: [.short, .customLong("input")], help: "Read the text from this file.")
    var inputFile: String?

    func read() throws -> [UInt8] {
        if !text.isEmpty { return Array(text.joined(separator: " ").utf8) }
        if let inputFile { return try readFile(inputFile) }
        return Array(FileHandle.standardInput.readDataToEndOfFile())
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else { throw CLIError("\(path): cannot read file") }
    return Array(d)
}

/// Writes to a temporary file beside `path` and renames it into place: no partial output on failure.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let tmp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
    guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) else { throw CLIError("\(path): cannot write") }
    if rename(tmp, path) != 0 {
        unlink(tmp)
        throw CLIError("\(path): cannot rename temporary file into place")
    }
}

func writeStdout(_ bytes: [UInt8]) {
    FileHandle.standardOutput.write(Data(bytes))
}

extension SpecialTokenPolicy: ExpressibleByArgument {}
