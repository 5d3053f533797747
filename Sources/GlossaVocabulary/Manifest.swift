// The extension manifest (read by GlossaInit's embedding initializers) and the output files.

import Foundation
import GlossaFormats
import GlossaJSON
import GlossaTokenizers

/// `{"base_vocab_size": N, "tokens": [{"id", "bytes_b64", "surface", "base_ids"}, ...]}` plus provenance fields.
public struct ExtensionManifestData: Sendable {
    public struct Entry: Sendable {
        public var id: Int
        /// The text bytes the token stands for (byte-level: the raw bytes; SentencePiece: "▁" as a space).
        public var bytes: [UInt8]
        /// The token's spelling in the vocabulary.
        public var surface: String
        /// The base model's encoding of the token's bytes.
        public var baseIds: [Int]
        /// Pair count when the merge was learned (`continue`), 0 otherwise.
        public var count: UInt64
    }
    public var baseVocabSize: Int
    public var tokens: [Entry]
    public var method: String
    public var base: String
    public var kind: String

    public func json() -> [UInt8] {
        var w = JSONWriter(pretty: false)
        w.beginObject()
        w.key("base_vocab_size"); w.int(baseVocabSize)
        w.key("extended_vocab_size"); w.int(baseVocabSize + tokens.count)
        w.key("method"); w.string(method)
        w.key("base"); w.string(base)
        w.key("base_kind"); w.string(kind)
        w.key("tokens"); w.beginArray()
        for t in tokens {
            w.beginObject()
            w.key("id"); w.int(t.id)
            w.key("bytes_b64"); w.string(Data(t.bytes).base64EncodedString())
            w.key("surface"); w.string(t.surface)
            w.key("base_ids"); w.beginArray(); for i in t.baseIds { w.int(i) }; w.endArray()
            w.key("count"); w.int(Int(t.count))
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes + [0x0A]
    }

    /// `base_vocab_size` of a manifest file, or nil.
    public static func baseVocabSize(path: String) -> Int? {
        guard let doc = try? JSONDocument(contentsOfFile: path) else { return nil }
        return doc.root["base_vocab_size"]?.int
    }
}

public enum ExtensionOutput {
    public static let manifestName = "extension.json"

    /// The files of an extension, by name inside the output directory: tokenizer.json and the manifest.
    /// GPT-2 bases (encoder.json + vocab.bpe) are written as their HF tokenizer.json form: readers of the
    /// original pair that follow tiktoken (id = rank of the merge) cannot hold ids past <|endoftext|> = 50256.
    public static func files(_ r: ExtensionResult) throws(VocabularyError) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        do { out.append(("tokenizer.json", try r.tokenizer.huggingFaceJSON())) } catch {
            throw .output("cannot write tokenizer.json: \(error)")
        }
        out.append((manifestName, r.manifest.json()))
        return out
    }

    /// Writes every file to a temporary name first, then renames them all into `directory`: on any failure
    /// nothing named like an output is left behind.
    public static func write(_ files: [(String, [UInt8])], directory: String) throws(VocabularyError) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            if !isDir.boolValue { throw .output("\(directory): exists and is not a directory (-o names an output directory)") }
        } else {
            do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw .output("\(directory): cannot create directory: \(error.localizedDescription)")
            }
        }
        let pid = ProcessInfo.processInfo.processIdentifier
        var temps: [String] = []
        for (name, bytes) in files {
            let tmp = directory + "/." + name + ".tmp-\(pid)"
            guard fm.createFile(atPath: tmp, contents: Data(bytes)) else {
                for t in temps { unlink(t) }
                unlink(tmp)
                throw .output("\(directory)/\(name): cannot write")
            }
            temps.append(tmp)
        }
        for (k, (name, _)) in files.enumerated() where rename(temps[k], directory + "/" + name) != 0 {
            for t in temps[k...] { unlink(t) }
            throw .output("\(directory)/\(name): cannot rename the temporary file into place")
        }
    }
}
