import Foundation
import GlossaTensor

/// Element types of safetensors files.
public enum StorageDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    public var size: Int {
        switch self {
        case .bool, .u8, .i8: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}

/// One tensor entry of a safetensors file; `byteRange` is absolute in the file.
public struct SafetensorsEntry: Sendable {
    public let name: String
    public let dtype: StorageDType
    public let shape: [Int]
    public let byteRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file. The header is fully validated on open: entries must tile the data
/// section contiguously, with sizes that match dtype and shape.
public final class SafetensorsFile: @unchecked Sendable {  // immutable after init
    public let path: String
    public let metadata: [String: String]
    /// Entries in file order.
    public let entries: [SafetensorsEntry]
    let byName: [String: Int]
    let file: MappedFile

    public static let maxHeaderBytes = 100_000_000

    public init(path: String) throws(WeightsError) {
        self.path = path
        file = try MappedFile(path: path)
        guard file.count >= 8 else { throw WeightsError(path, "truncated: \(file.count) bytes, no header length") }
        let head = try file.bytes(0..<8)
        let n64 = UInt64(littleEndian: head.loadUnaligned(as: UInt64.self))
        guard n64 <= UInt64(SafetensorsFile.maxHeaderBytes) else { throw WeightsError(path, "header length \(n64) exceeds 100 MB") }
        let n = Int(n64)
        guard 8 + n <= file.count else {
            throw WeightsError(path, "truncated: header length \(n) runs past the end of the file (\(file.count) bytes)")
        }
        let headerBytes = try file.bytes(8..<(8 + n))
        guard headerBytes.first == UInt8(ascii: "{") else { throw WeightsError(path, "header does not start with '{'") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(headerBytes)) } catch {
            throw WeightsError(path, "header is not valid JSON")
        }
        guard let obj = json as? [String: Any] else { throw WeightsError(path, "header is not a JSON object") }
        let dataStart = 8 + n, dataSize = file.count - dataStart
        var meta: [String: String] = [:]
        var list: [(name: String, dtype: StorageDType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in obj {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw WeightsError(path, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw WeightsError(path, "__metadata__.\(k) is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let e = value as? [String: Any] else { throw WeightsError(path, "entry \(name) is not an object") }
            guard let ds = e["dtype"] as? String else { throw WeightsError(path, "entry \(name) has no dtype") }
            guard let dt = StorageDType(rawValue: ds) else { throw WeightsError(path, "entry \(name): unknown dtype \(ds)") }
            guard let sh = e["shape"] as? [Any] else { throw WeightsError(path, "entry \(name) has no shape") }
            var shape: [Int] = []
            for d in sh {
                guard let n = d as? NSNumber, n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded(), n.doubleValue < 1e15 else {
                    throw WeightsError(path, "entry \(name): bad shape \(sh)")
                }
                shape.append(n.intValue)
            }
            guard let off = e["data_offsets"] as? [Any], off.count == 2,
                  let b = off[0] as? NSNumber, let en = off[1] as? NSNumber,
                  b.doubleValue >= 0, en.doubleValue >= b.doubleValue, en.doubleValue < 1e15 else {
                throw WeightsError(path, "entry \(name): bad data_offsets")
            }
            var elements = 1
            for d in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                if o || p > 1 << 50 { throw WeightsError(path, "entry \(name): shape \(shape) too large") }
                elements = p
            }
            let begin = b.intValue, end = en.intValue
            guard end <= dataSize else {
                throw WeightsError(path, "entry \(name): data_offsets [\(begin), \(end)] beyond the data section (\(dataSize) bytes)")
            }
            guard end - begin == elements * dt.size else {
                throw WeightsError(path, "entry \(name): \(end - begin) bytes for \(dt.rawValue) \(shape) (needs \(elements * dt.size))")
            }
            list.append((name, dt, shape, begin, end))
        }
        list.sort { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end < $1.end }
        var expect = 0
        for e in list {
            if e.begin < expect { throw WeightsError(path, "entry \(e.name) overlaps the previous tensor") }
            if e.begin > expect { throw WeightsError(path, "gap before entry \(e.name) (offset \(expect)..<\(e.begin))") }
            expect = e.end
        }
        if expect != dataSize { throw WeightsError(path, "data section has \(dataSize - expect) trailing bytes not covered by any tensor") }
        metadata = meta
        entries = list.map { SafetensorsEntry(name: $0.name, dtype: $0.dtype, shape: $0.shape,
                                              byteRange: (dataStart + $0.begin)..<(dataStart + $0.end)) }
        var idx: [String: Int] = [:]
        for (i, e) in entries.enumerated() { idx[e.name] = i }
        byName = idx
    }

    public var names: [String] { entries.map(\.name) }
    public func entry(_ name: String) -> SafetensorsEntry? { byName[name].map { entries[$0] } }

    /// The raw bytes of a tensor (valid while this object lives).
    public func rawBytes(_ name: String) throws(WeightsError) -> UnsafeRawBufferPointer {
        guard let e = entry(name) else { throw WeightsError(path, "no tensor named \(name)") }
        return try file.bytes(e.byteRange)
    }

    /// A tensor converted to float32 (F32/F16/BF16/F64 and integer types).
    public func tensor(_ name: String) throws(WeightsError) -> Tensor {
        guard let e = entry(name) else { throw WeightsError(path, "no tensor named \(name)") }
        let raw = try file.bytes(e.byteRange)
        return Tensor(shape: e.shape, data: StorageCodec.decode(raw, dtype: e.dtype, count: e.elementCount))
    }
}

/// Conversions between float32 and storage dtypes.
public enum StorageCodec {
    public static func decode(_ raw: UnsafeRawBufferPointer, dtype: StorageDType, count n: Int) -> [Float] {
        precondition(raw.count >= n * dtype.size)
        return [Float](unsafeUninitializedCapacity: n) { out, c in
            switch dtype {
            case .f32: for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
            case .f16: for i in 0..<n { out[i] = HalfFloat.f16ToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
            case .bf16: for i in 0..<n { out[i] = HalfFloat.bf16ToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
            case .f64: for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)))) }
            case .bool, .u8: for i in 0..<n { out[i] = Float(raw[i]) }
            case .i8: for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
            case .i16: for i in 0..<n { out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))) }
            case .u16: for i in 0..<n { out[i] = Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
            case .i32: for i in 0..<n { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self))) }
            case .u32: for i in 0..<n { out[i] = Float(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
            case .i64: for i in 0..<n { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 8, as: Int64.self))) }
            case .u64: for i in 0..<n { out[i] = Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))) }
            }
            c = n
        }
    }

    /// Float32 → little-endian bytes of `dtype` (F32, F16 or BF16).
    public static func encode(_ data: [Float], dtype: StorageDType) -> [UInt8] {
        switch dtype {
        case .f32:
            var out = [UInt8](repeating: 0, count: data.count * 4)
            out.withUnsafeMutableBytes { o in for (i, v) in data.enumerated() { o.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) } }
            return out
        case .f16, .bf16:
            var out = [UInt8](repeating: 0, count: data.count * 2)
            out.withUnsafeMutableBytes { o in
                for (i, v) in data.enumerated() {
                    let h = dtype == .f16 ? HalfFloat.floatToF16(v) : HalfFloat.floatToBF16(v)
                    o.storeBytes(of: h.littleEndian, toByteOffset: i * 2, as: UInt16.self)
                }
            }
            return out
        default:
            preconditionFailure("encode: \(dtype.rawValue) is not a float storage type")
        }
    }
}

public enum SafetensorsWriter {
    /// Writes tensors (float32 converted to `dtype`) as one safetensors file; header padded to 8 bytes.
    public static func write(_ tensors: [(String, Tensor)], to path: String, dtype: StorageDType = .f32,
                             metadata: [String: String] = ["format": "pt"]) throws(WeightsError) {
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",") + "},"
        }
        var offset = 0
        var parts: [String] = []
        var blobs: [[UInt8]] = []
        for (name, t) in tensors {
            let bytes = StorageCodec.encode(t.data, dtype: dtype)
            parts.append("\(jsonString(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes.count)]}")
            offset += bytes.count
            blobs.append(bytes)
        }
        header += parts.joined(separator: ",") + "}"
        var hb = Array(header.utf8)
        while (8 + hb.count) % 8 != 0 { hb.append(0x20) }
        var len = UInt64(hb.count).littleEndian
        let lenBytes = withUnsafeBytes(of: &len) { Array($0) }
        var all: [[UInt8]] = [lenBytes, hb]
        all.append(contentsOf: blobs)
        try writeChunks(path, all)
    }

    static func writeChunks(_ path: String, _ chunks: [[UInt8]]) throws(WeightsError) {
        // Nested pointer scopes for every chunk: recursion keeps them alive together.
        func go(_ i: Int, _ acc: [UnsafeRawBufferPointer]) throws(WeightsError) {
            if i == chunks.count { try writeFileAtomically(path, acc); return }
            let r: Result<Void, WeightsError> = chunks[i].withUnsafeBytes { b in
                do throws(WeightsError) { try go(i + 1, acc + [b]); return .success(()) } catch { return .failure(error) }
            }
            try r.get()
        }
        try go(0, [])
    }

    /// Writes shards of at most `maxShardBytes` plus `model.safetensors.index.json` into `directory`
    /// (one `model.safetensors` and no index when everything fits in one shard). Returns the file names.
    @discardableResult
    public static func writeSharded(_ tensors: [(String, Tensor)], directory: String, dtype: StorageDType = .f32,
                                    maxShardBytes: Int) throws(WeightsError) -> [String] {
        var shards: [[(String, Tensor)]] = [[]]
        var size = 0
        for t in tensors {
            let b = t.1.count * dtype.size
            if size > 0 && size + b > maxShardBytes { shards.append([]); size = 0 }
            shards[shards.count - 1].append(t); size += b
        }
        if shards.count == 1 {
            try write(tensors, to: directory + "/model.safetensors", dtype: dtype)
            return ["model.safetensors"]
        }
        var names: [String] = []
        var map: [(String, String)] = []
        let total = tensors.reduce(0) { $0 + $1.1.count * dtype.size }
        for (i, s) in shards.enumerated() {
            let fn = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            try write(s, to: directory + "/" + fn, dtype: dtype)
            names.append(fn)
            for t in s { map.append((t.0, fn)) }
        }
        let index = "{\n  \"metadata\": {\"total_size\": \(total)},\n  \"weight_map\": {\n" +
            map.map { "    \(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ",\n") + "\n  }\n}\n"
        try writeChunks(directory + "/model.safetensors.index.json", [Array(index.utf8)])
        return names + ["model.safetensors.index.json"]
    }
}

/// A set of safetensors files read as one: a single file, or shards named by `model.safetensors.index.json`.
public final class SafetensorsCollection: @unchecked Sendable {  // immutable after init
    public let files: [SafetensorsFile]
    let owner: [String: Int]

    /// `path` is a .safetensors file, an index JSON, or a directory holding either.
    public init(path: String) throws(WeightsError) {
        var p = path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
            if FileManager.default.fileExists(atPath: p + "/model.safetensors.index.json") {
                p += "/model.safetensors.index.json"
            } else if FileManager.default.fileExists(atPath: p + "/model.safetensors") {
                p += "/model.safetensors"
            } else { throw WeightsError(path, "no model.safetensors or model.safetensors.index.json") }
        }
        if p.hasSuffix(".json") {
            guard let d = FileManager.default.contents(atPath: p) else { throw WeightsError(p, "cannot read") }
            guard let obj = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any],
                  let wm = obj["weight_map"] as? [String: Any] else { throw WeightsError(p, "no weight_map object") }
            let dir = (p as NSString).deletingLastPathComponent
            var shardNames: [String] = []
            var map: [String: String] = [:]
            for (k, v) in wm {
                guard let f = v as? String, !f.contains("/") else { throw WeightsError(p, "weight_map.\(k) is not a file name") }
                map[k] = f
                if !shardNames.contains(f) { shardNames.append(f) }
            }
            shardNames.sort()
            var fs: [SafetensorsFile] = []
            for s in shardNames { fs.append(try SafetensorsFile(path: dir + "/" + s)) }
            var own: [String: Int] = [:]
            for (k, f) in map {
                let i = shardNames.firstIndex(of: f)!
                guard fs[i].entry(k) != nil else { throw WeightsError(p, "\(k) is mapped to \(f), which does not hold it") }
                own[k] = i
            }
            files = fs; owner = own
        } else {
            let f = try SafetensorsFile(path: p)
            files = [f]
            var own: [String: Int] = [:]
            for e in f.entries { own[e.name] = 0 }
            owner = own
        }
    }

    public var names: [String] { owner.keys.sorted() }
    public func entry(_ name: String) -> SafetensorsEntry? { owner[name].flatMap { files[$0].entry(name) } }
    public func tensor(_ name: String) throws(WeightsError) -> Tensor {
        guard let i = owner[name] else { throw WeightsError(files.first?.path ?? "", "no tensor named \(name)") }
        return try files[i].tensor(name)
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
