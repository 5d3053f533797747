// The output files of an extension: tokenizer.json and the manifest (GlossaFormats.ExtensionManifest).

import Foundation
import GlossaFormats
import GlossaJSON
import GlossaTokenizers

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
        out.append((manifestName, r.manifest.jsonBytes()))
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
