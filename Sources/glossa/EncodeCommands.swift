import ArgumentParser
import Foundation
import GlossaJSON
import GlossaTokenizers

enum OffsetKind: String, ExpressibleByArgument, CaseIterable { case char, byte }

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode text to token ids.",
        discussion: """
        Examples:
          glossa encode -t tokenizer.json "Hello world"            # ids, space-separated
          glossa encode -t tokenizer.json --json "Hello world"     # ids, tokens, offsets
          glossa encode -t cl100k_base.tiktoken --jsonl in.jsonl -o out.jsonl --offsets char
        In --jsonl mode each input line is a JSON string and each output line is {"ids": [...]}
        (plus "offsets" with --offsets), encoded in parallel on all cores.
        Invalid UTF-8 input is rejected with its byte offset.
        """)

    @OptionGroup var tok: TokenizerOptions
    @OptionGroup var input: TextInput

    @Option(help: "Batch mode: a file with one JSON string per line.")
    var jsonl: String?
    @Option(name: .shortAndLong, help: "Write output here (atomically) instead of standard output.")
    var output: String?
    @Option(help: "Include offsets: char (Unicode scalars, as HF Python reports) or byte.")
    var offsets: OffsetKind?
    @Flag(help: "Do not add the post-processor's special tokens (BOS, CLS/SEP...).")
    var noSpecialTokens = false
    @Option(help: "Special tokens found in the text: allowed (emit their ids), disallowed (error), text (encode as ordinary text).")
    var special: SpecialTokenPolicy = .allowed
    @Option(help: "Worker threads for --jsonl (default: all cores).")
    var threads: Int?
    @Flag(help: "Print a JSON object with ids, tokens, offsets and the special-tokens mask.")
    var json = false

    func run() throws {
        let tokenizer = try tok.load()
        let opts = EncodeOptions(addSpecialTokens: !noSpecialTokens, specialTokens: special, withTokens: json)
        if let jsonl {
            let texts = try readJSONLStrings(jsonl)
            var out = [UInt8]()
            out.reserveCapacity(texts.count * 64)
            if offsets == nil && tokenizer.idsOnlyMatch(opts) {
                // The ids-only path (what `bench` and dataset encoding use); the parity suite's runs without
                // offsets check it against the peers.
                let seqs: [[Int32]]
                do { seqs = try tokenizer.encodeIdsBatch(texts, specialTokens: special, threads: threads) }
                catch { throw CLIError(error.description) }
                for ids in seqs {
                    out += jsonLine { w in
                        w.beginObject(); w.key("ids"); w.beginArray(); for id in ids { w.int(Int(id)) }; w.endArray(); w.endObject()
                    }
                }
                try emit(out)
                return
            }
            let encs: [Encoding]
            do { encs = try tokenizer.encodeBatch(texts, options: opts, threads: threads) } catch { throw CLIError(error.description) }
            for e in encs {
                out += jsonLine { w in
                    w.beginObject()
                    w.key("ids"); w.beginArray(); for id in e.ids { w.int(Int(id)) }; w.endArray()
                    if let offsets { writeOffsets(&w, offsets == .char ? e.characterOffsets() : e.offsets) }
                    w.endObject()
                }
            }
            try emit(out)
            return
        }
        let text = try input.read()
        let e: Encoding
        do { e = try tokenizer.encode(bytes: text, options: opts) } catch { throw CLIError(error.description) }
        if json {
            try emit(jsonLine { w in
                w.beginObject()
                w.key("ids"); w.beginArray(); for id in e.ids { w.int(Int(id)) }; w.endArray()
                w.key("tokens"); w.beginArray(); for t in e.tokens { w.string(t) }; w.endArray()
                writeOffsets(&w, offsets == .byte ? e.offsets : e.characterOffsets())
                w.key("special_tokens_mask"); w.beginArray(); for m in e.specialTokensMask { w.int(Int(m)) }; w.endArray()
                w.endObject()
            })
        } else {
            try emit(Array((e.ids.map { String($0) }.joined(separator: " ") + "\n").utf8))
        }
    }

    func writeOffsets(_ w: inout JSONWriter, _ o: [ByteSpan]) {
        w.key("offsets"); w.beginArray()
        for s in o { w.beginArray(); w.int(Int(s.start)); w.int(Int(s.end)); w.endArray() }
        w.endArray()
    }

    func emit(_ bytes: [UInt8]) throws {
        if let output { try writeAtomically(bytes, to: output) } else { writeStdout(bytes) }
    }
}

/// Reads a JSONL file whose lines are JSON strings (or objects with a "text" field).
func readJSONLStrings(_ path: String) throws -> [[UInt8]] {
    let data = try readFile(path)
    var out = [[UInt8]]()
    var lineNo = 0
    var start = 0
    while start < data.count {
        var end = start
        while end < data.count && data[end] != 0x0A { end += 1 }
        lineNo += 1
        let line = Array(data[start..<end])
        start = end + 1
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
        do {
            let doc = try JSONDocument(bytes: line, file: path)
            if let s = doc.root.stringBytes { out.append(s) }
            else if let s = doc.root["text"]?.stringBytes { out.append(s) }
            else { throw CLIError("\(path):\(lineNo): expected a JSON string or an object with a \"text\" string") }
        } catch let e as JSONError {
            throw CLIError("\(path):\(lineNo): \(e.description)")
        }
    }
    return out
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode token ids to text.",
        discussion: """
        Examples:
          glossa decode -t tokenizer.json 15496 995
          glossa decode -t tokenizer.json --jsonl ids.jsonl -o texts.jsonl
        In --jsonl mode each input line is a JSON array of ids and each output line a JSON string.
        """)

    @OptionGroup var tok: TokenizerOptions
    @Argument(help: "Token ids (omit to read them from standard input, whitespace-separated).")
    var ids: [Int32] = []
    @Option(help: "Batch mode: a file with one JSON array of ids per line.")
    var jsonl: String?
    @Option(name: .shortAndLong, help: "Write output here (atomically) instead of standard output.")
    var output: String?
    @Flag(help: "Drop special tokens from the output.")
    var skipSpecialTokens = false
    @Flag(help: "Print a JSON string instead of raw text.")
    var json = false

    func run() throws {
        let tokenizer = try tok.load()
        if let jsonl {
            let data = try readFile(jsonl)
            var out = [UInt8]()
            var lineNo = 0
            for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
                lineNo += 1
                if line.isEmpty { continue }
                let doc: JSONDocument
                do { doc = try JSONDocument(bytes: Array(line), file: jsonl) } catch { throw CLIError("\(jsonl):\(lineNo): \(error)") }
                guard let arr = doc.root.array else { throw CLIError("\(jsonl):\(lineNo): expected a JSON array of ids") }
                var ids = [Int32]()
                for v in arr {
                    guard let i = v.int, let id = Int32(exactly: i) else { throw CLIError("\(jsonl):\(lineNo): ids must be integers") }
                    ids.append(id)
                }
                let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
                out += jsonLine { $0.string(text) }
            }
            if let output { try writeAtomically(out, to: output) } else { writeStdout(out) }
            return
        }
        var list = ids
        if list.isEmpty {
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            for part in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "," }) {
                guard let id = Int32(part) else { throw CLIError("standard input: \"\(part)\" is not a token id") }
                list.append(id)
            }
        }
        let text = tokenizer.decode(list, skipSpecialTokens: skipSpecialTokens)
        var out: [UInt8]
        if json { out = jsonLine { $0.string(text) } } else { out = Array(text.utf8) }
        if let output { try writeAtomically(out, to: output) } else { writeStdout(out) }
    }
}

struct Count: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count",
        abstract: "Count tokens without materializing them.",
        discussion: """
        Examples:
          glossa count -t cl100k_base.tiktoken -i corpus.txt
          echo "Hello world" | glossa count -t tokenizer.json --json
        The whole input is one sequence (no post-processor tokens are counted).
        """)

    @OptionGroup var tok: TokenizerOptions
    @OptionGroup var input: TextInput
    @Option(help: "Special tokens found in the text: allowed, disallowed, text.")
    var special: SpecialTokenPolicy = .allowed
    @Flag(help: "Print {\"tokens\": N, \"bytes\": B, ...} as JSON.")
    var json = false

    func run() throws {
        let tokenizer = try tok.load()
        let text = try input.read()
        var state = EncoderState()
        let clock = ContinuousClock()
        let t0 = clock.now
        let n: Int
        do { n = try tokenizer.count(bytes: text, specialTokens: special, state: &state) } catch { throw CLIError(error.description) }
        let secs = (clock.now - t0) / .seconds(1)
        if json {
            writeStdout(jsonLine { w in
                w.beginObject()
                w.key("tokens"); w.int(n)
                w.key("bytes"); w.int(text.count)
                w.key("bytes_per_token"); w.double(n == 0 ? 0 : Double(text.count) / Double(n))
                w.key("seconds"); w.double(secs)
                w.endObject()
            })
        } else {
            print(n)
        }
    }
}

/// One JSON value followed by a newline.
func jsonLine(_ build: (inout JSONWriter) -> Void) -> [UInt8] {
    var w = JSONWriter()
    build(&w)
    return w.bytes + [0x0A]
}
