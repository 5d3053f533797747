import Foundation
import GlossaJSON

/// A manifest that cannot be read: one line naming the file and the field at fault.
public struct ExtensionManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The extension manifest: which ids were appended to a base vocabulary, their bytes, and their decomposition
/// under the base tokenizer. Written by `glossa extend`, read by `glossa init-embeddings` (Docs/formats.md,
/// "Extension manifest"):
///
///     {"base_vocab_size": 49152, "extended_vocab_size": 57344, "method": "continue", "base": "…", "base_kind": "byte-level",
///      "tokens": [{"id": 49152, "bytes_b64": "INC/0YDQuNCy", "surface": "ĠÐ¿ÑĢÐ¸Ð²", "base_ids": [2189, 4581], "count": 812}, ...]}
///
/// `method`, `base`, `base_kind` and `count` are provenance, written when known and not needed to read it.
public struct ExtensionManifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Id in the extended vocabulary (≥ `baseVocabSize`).
        public var id: Int
        /// The raw bytes the token stands for (byte-level: the decoded bytes, leading space included;
        /// SentencePiece: "▁" as a space).
        public var bytes: [UInt8]
        /// The token's spelling in the extended vocabulary (informational).
        public var surface: String
        /// The base tokenizer's encoding of `bytes` (no special tokens added).
        public var baseIds: [Int]
        /// Pair count when the merge was learned, if it was.
        public var count: UInt64?
        public init(id: Int, bytes: [UInt8], surface: String, baseIds: [Int], count: UInt64? = nil) {
            self.id = id; self.bytes = bytes; self.surface = surface; self.baseIds = baseIds; self.count = count
        }
    }

    /// How the extension was made.
    public struct Provenance: Sendable, Equatable {
        public var method: String, base: String, baseKind: String
        public init(method: String, base: String, baseKind: String) {
            self.method = method; self.base = base; self.baseKind = baseKind
        }
    }

    public var baseVocabSize: Int
    public var tokens: [Entry]
    public var provenance: Provenance?

    public init(baseVocabSize: Int, tokens: [Entry], provenance: Provenance? = nil) {
        self.baseVocabSize = baseVocabSize
        self.tokens = tokens
        self.provenance = provenance
    }

    /// Size of the extended vocabulary: one past the largest new id (at least the base size).
    public var extendedVocabSize: Int { max(baseVocabSize, (tokens.map(\.id).max() ?? -1) &+ 1) }

    // MARK: reading

    public static func read(path: String) throws(ExtensionManifestError) -> ExtensionManifest {
        let doc: JSONDocument
        do { doc = try JSONDocument(contentsOfFile: path) } catch { throw ExtensionManifestError("\(path): \(error)") }
        return try parse(doc.root, file: path)
    }

    public static func parse(json: String) throws(ExtensionManifestError) -> ExtensionManifest {
        let doc: JSONDocument
        do { doc = try JSONDocument(string: json) } catch { throw ExtensionManifestError("manifest: \(error)") }
        return try parse(doc.root, file: "manifest")
    }

    /// `base_vocab_size` of a manifest file, or nil when it cannot be read.
    public static func baseVocabSize(path: String) -> Int? {
        guard let doc = try? JSONDocument(contentsOfFile: path) else { return nil }
        return doc.root["base_vocab_size"]?.int
    }

    static func parse(_ root: JSONValue, file: String) throws(ExtensionManifestError) -> ExtensionManifest {
        do {
            let base = try root.require("base_vocab_size").requireInt()
            guard base > 0 else { throw ExtensionManifestError("\(file): base_vocab_size must be positive, got \(base)") }
            var out: [Entry] = []
            var seen = Set<Int>()
            for (k, t) in try root.require("tokens").requireArray().enumerated() {
                let id = try t.require("id").requireInt()
                guard id >= base else {
                    throw ExtensionManifestError("\(file): tokens[\(k)].id = \(id) is below base_vocab_size \(base)")
                }
                guard seen.insert(id).inserted else {
                    throw ExtensionManifestError("\(file): tokens[\(k)].id = \(id) appears twice")
                }
                let b64 = try t.require("bytes_b64").requireString()
                guard let data = Data(base64Encoded: b64) else {
                    throw ExtensionManifestError("\(file): tokens[\(k)].bytes_b64 is not valid base64")
                }
                let surface = try t.optional("surface")?.requireString() ?? ""
                var ids: [Int] = []
                for v in try t.require("base_ids").requireArray() {
                    let i = try v.requireInt()
                    guard i >= 0 && i < base else {
                        throw ExtensionManifestError(
                            "\(file): tokens[\(k)].base_ids holds \(i), outside the base vocabulary (0..<\(base))")
                    }
                    ids.append(i)
                }
                let count = try t.optional("count")?.requireInt()
                if let count, count < 0 { throw ExtensionManifestError("\(file): tokens[\(k)].count is negative") }
                out.append(Entry(id: id, bytes: Array(data), surface: surface, baseIds: ids, count: count.map(UInt64.init)))
            }
            var provenance: Provenance?
            if let method = try root.optional("method")?.requireString() {
                provenance = Provenance(method: method, base: try root.optional("base")?.requireString() ?? "",
                                        baseKind: try root.optional("base_kind")?.requireString() ?? "")
            }
            return ExtensionManifest(baseVocabSize: base, tokens: out, provenance: provenance)
        } catch let e as ExtensionManifestError {
            throw e
        } catch {
            throw ExtensionManifestError("\(file): \(error)")
        }
    }

    // MARK: writing

    public func jsonBytes() -> [UInt8] {
        var w = JSONWriter(pretty: false, reservingCapacity: 64 &* tokens.count &+ 64)
        w.beginObject()
        w.key("base_vocab_size"); w.int(baseVocabSize)
        w.key("extended_vocab_size"); w.int(extendedVocabSize)
        if let p = provenance {
            w.key("method"); w.string(p.method)
            w.key("base"); w.string(p.base)
            w.key("base_kind"); w.string(p.baseKind)
        }
        w.key("tokens"); w.beginArray()
        for t in tokens {
            w.beginObject()
            w.key("id"); w.int(t.id)
            w.key("bytes_b64"); w.string(Data(t.bytes).base64EncodedString())
            w.key("surface"); w.string(t.surface)
            w.key("base_ids"); w.beginArray(); for i in t.baseIds { w.int(i) }; w.endArray()
            if let c = t.count { w.key("count"); w.int(Int(c)) }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes + [0x0A]
    }

    /// Writes the manifest to `path` through a temporary file and a rename.
    public func write(path: String) throws(ExtensionManifestError) {
        do { try BinaryFile.write(jsonBytes(), to: path) } catch { throw ExtensionManifestError("\(path): \(error)") }
    }
}
