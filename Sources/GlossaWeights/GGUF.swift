import GlossaTensor

/// A GGUF metadata value.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint(UInt64), int(Int64), float(Double), bool(Bool), string(String), array([GGUFValue])

    public var int: Int? {
        switch self {
        case .uint(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int(let v): return Int(v)
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .float(let v): return v
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [GGUFValue]? { if case .array(let a) = self { return a }; return nil }
}

/// ggml tensor types: block size (elements) and block bytes.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15, bf16 = 30

    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: return 32
        default: return 256
        }
    }
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q8_1: return 36
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        }
    }
    /// Types this reader can dequantize.
    public var isSupported: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }
    public var name: String { "\(self)".uppercased() }
}

public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// ggml order: dims[0] is the fastest-varying (row length).
    public let dims: [Int]
    public let type: GGMLType
    /// Absolute byte range in the file.
    public let byteRange: Range<Int>
    public var elementCount: Int { dims.reduce(1, *) }
    /// Row-major (PyTorch) shape: reversed ggml dims.
    public var shape: [Int] { dims.reversed() }
}

/// A memory-mapped GGUF (v2/v3) file with a fully validated header.
public final class GGUFFile: @unchecked Sendable {  // immutable after init
    public let path: String
    public let version: Int
    public let metadata: [String: GGUFValue]
    public let metadataKeys: [String]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    let byName: [String: Int]
    let file: MappedFile

    public init(path: String) throws(WeightsError) {
        self.path = path
        file = try MappedFile(path: path)
        let all = try file.bytes(0..<file.count)
        var r = ByteReader(all, path: path)
        let magic = try r.u32("magic")
        guard magic == 0x4655_4747 else { throw WeightsError(path, "not a GGUF file (bad magic)") }
        let v = try r.u32("version")
        guard v == 2 || v == 3 else { throw WeightsError(path, "unsupported GGUF version \(v)") }
        version = Int(v)
        let nT = try r.u64("tensor count"), nKV = try r.u64("metadata count")
        // Each entry needs at least 8 bytes: reject absurd counts before allocating anything.
        guard nT <= UInt64(file.count / 8), nKV <= UInt64(file.count / 8) else {
            throw WeightsError(path, "truncated or corrupt: \(nT) tensors / \(nKV) metadata entries cannot fit in \(file.count) bytes")
        }
        var meta: [String: GGUFValue] = [:]
        var keys: [String] = []
        for _ in 0..<nKV {
            let key = try GGUFFile.readString(&r)
            let type = try r.u32("value type of \(key)")
            meta[key] = try GGUFFile.readValue(&r, type: type, key: key, depth: 0)
            keys.append(key)
        }
        var align = 32
        if let a = meta["general.alignment"] {
            guard let ai = a.int, ai > 0, ai <= 1 << 20, ai & (ai - 1) == 0 else { throw WeightsError(path, "bad general.alignment") }
            align = ai
        }
        var raw: [(String, [Int], GGMLType, Int)] = []
        for _ in 0..<nT {
            let name = try GGUFFile.readString(&r)
            let nd = try r.u32("dims of \(name)")
            guard nd >= 1 && nd <= 8 else { throw WeightsError(path, "tensor \(name): \(nd) dimensions") }
            var dims: [Int] = []
            var elements = 1
            for _ in 0..<nd {
                let d = try r.u64("dim of \(name)")
                guard d <= 1 << 40 else { throw WeightsError(path, "tensor \(name): dimension \(d) too large") }
                dims.append(Int(d))
                let (p, o) = elements.multipliedReportingOverflow(by: Int(d))
                if o || p > 1 << 42 { throw WeightsError(path, "tensor \(name): too many elements") }
                elements = p
            }
            let t = try r.u32("type of \(name)")
            guard let type = GGMLType(rawValue: t) else { throw WeightsError(path, "tensor \(name): unknown ggml type \(t)") }
            let off = try r.u64("offset of \(name)")
            guard off <= UInt64(file.count) else { throw WeightsError(path, "tensor \(name): offset \(off) beyond the file") }
            guard dims[0] % type.blockSize == 0 else {
                throw WeightsError(path, "tensor \(name): row length \(dims[0]) is not a multiple of the \(type.name) block (\(type.blockSize))")
            }
            raw.append((name, dims, type, Int(off)))
        }
        alignment = align
        dataOffset = (r.pos + align - 1) / align * align
        var infos: [GGUFTensorInfo] = []
        for (name, dims, type, off) in raw {
            let elements = dims.reduce(1, *)
            let bytes = elements / type.blockSize * type.blockBytes
            guard off % align == 0 else { throw WeightsError(path, "tensor \(name): offset \(off) not aligned to \(align)") }
            let start = dataOffset + off
            guard start <= file.count, bytes <= file.count - start else {
                throw WeightsError(path, "tensor \(name): data \(start)..<\(start + bytes) runs past the end of the file (\(file.count) bytes)")
            }
            infos.append(GGUFTensorInfo(name: name, dims: dims, type: type, byteRange: start..<(start + bytes)))
        }
        let sorted = infos.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for i in sorted.indices.dropFirst() where sorted[i].byteRange.lowerBound < sorted[i - 1].byteRange.upperBound {
            throw WeightsError(path, "tensor \(sorted[i].name) overlaps \(sorted[i - 1].name)")
        }
        var idx: [String: Int] = [:]
        for (i, t) in infos.enumerated() {
            if idx[t.name] != nil { throw WeightsError(path, "duplicate tensor \(t.name)") }
            idx[t.name] = i
        }
        metadata = meta; metadataKeys = keys; tensors = infos; byName = idx
    }

    static func readString(_ r: inout ByteReader) throws(WeightsError) -> String {
        let n = try r.u64("string length")
        guard n <= UInt64(r.buf.count - r.pos) else { throw WeightsError(r.path, "truncated: string of \(n) bytes at offset \(r.pos)") }
        let b = try r.bytes(Int(n), "string")
        return String(decoding: b, as: UTF8.self)
    }

    static func readValue(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws(WeightsError) -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try r.u8()))
        case 1: return .int(Int64(Int8(bitPattern: try r.u8())))
        case 2: let b = try r.bytes(2, key); return .uint(UInt64(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self))))
        case 3: let b = try r.bytes(2, key); return .int(Int64(Int16(littleEndian: b.loadUnaligned(as: Int16.self))))
        case 4: return .uint(UInt64(try r.u32()))
        case 5: return .int(Int64(Int32(bitPattern: try r.u32())))
        case 6: return .float(Double(Float(bitPattern: try r.u32())))
        case 7: return .bool(try r.u8() != 0)
        case 8: return .string(try readString(&r))
        case 9:
            guard depth < 4 else { throw WeightsError(r.path, "\(key): arrays nested too deeply") }
            let et = try r.u32("array type of \(key)")
            let n = try r.u64("array length of \(key)")
            guard n <= UInt64(r.buf.count - r.pos) else { throw WeightsError(r.path, "truncated: \(key) claims \(n) elements") }
            var out: [GGUFValue] = []
            out.reserveCapacity(Int(n))
            for _ in 0..<n { out.append(try readValue(&r, type: et, key: key, depth: depth + 1)) }
            return .array(out)
        case 10: return .uint(try r.u64())
        case 11: return .int(Int64(bitPattern: try r.u64()))
        case 12: return .float(Double(bitPattern: try r.u64()))
        default: throw WeightsError(r.path, "\(key): unknown metadata value type \(type)")
        }
    }

    public func info(_ name: String) -> GGUFTensorInfo? { byName[name].map { tensors[$0] } }

    /// A tensor dequantized to float32, in row-major (PyTorch) shape.
    public func tensor(_ name: String) throws(WeightsError) -> Tensor {
        guard let t = info(name) else { throw WeightsError(path, "no tensor named \(name)") }
        guard t.type.isSupported else { throw WeightsError(path, "tensor \(name): quantization \(t.type.name) is not supported") }
        let raw = try file.bytes(t.byteRange)
        return Tensor(shape: t.shape, data: Dequantize.run(raw, type: t.type, count: t.elementCount))
    }

    public func rawBytes(_ name: String) throws(WeightsError) -> UnsafeRawBufferPointer {
        guard let t = info(name) else { throw WeightsError(path, "no tensor named \(name)") }
        return try file.bytes(t.byteRange)
    }
}

/// ggml block dequantization (reference semantics of ggml-quants.c).
public enum Dequantize {
    @inline(__always) static func h(_ p: UnsafeRawBufferPointer, _ o: Int) -> Float {
        HalfFloat.f16ToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
    }

    public static func run(_ raw: UnsafeRawBufferPointer, type: GGMLType, count n: Int) -> [Float] {
        precondition(n % type.blockSize == 0 && raw.count >= n / type.blockSize * type.blockBytes)
        return [Float](unsafeUninitializedCapacity: n) { out, c in
            let blocks = n / type.blockSize, bb = type.blockBytes
            switch type {
            case .f32:
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
            case .f16:
                for i in 0..<n { out[i] = h(raw, i &* 2) }
            case .bf16:
                for i in 0..<n { out[i] = HalfFloat.bf16ToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
            case .q8_0:
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o)
                    for j in 0..<32 { out[b &* 32 &+ j] = d * Float(Int8(bitPattern: raw[o &+ 2 &+ j])) }
                }
            case .q4_0:
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o)
                    for j in 0..<16 {
                        let q = raw[o &+ 2 &+ j]
                        out[b &* 32 &+ j] = d * Float(Int(q & 0x0F) - 8)
                        out[b &* 32 &+ j &+ 16] = d * Float(Int(q >> 4) - 8)
                    }
                }
            case .q4_1:
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o), m = h(raw, o &+ 2)
                    for j in 0..<16 {
                        let q = raw[o &+ 4 &+ j]
                        out[b &* 32 &+ j] = d * Float(q & 0x0F) + m
                        out[b &* 32 &+ j &+ 16] = d * Float(q >> 4) + m
                    }
                }
            case .q5_0, .q5_1:
                let hasMin = type == .q5_1
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o), m: Float = hasMin ? h(raw, o &+ 2) : 0
                    let qh = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o &+ (hasMin ? 4 : 2), as: UInt32.self))
                    let qs = o &+ (hasMin ? 8 : 6)
                    for j in 0..<16 {
                        let xh0 = UInt8(((qh >> UInt32(j)) << 4) & 0x10)
                        let xh1 = UInt8((qh >> UInt32(j &+ 12)) & 0x10)
                        let q = raw[qs &+ j]
                        if hasMin {
                            out[b &* 32 &+ j] = d * Float((q & 0x0F) | xh0) + m
                            out[b &* 32 &+ j &+ 16] = d * Float((q >> 4) | xh1) + m
                        } else {
                            out[b &* 32 &+ j] = d * Float(Int((q & 0x0F) | xh0) - 16)
                            out[b &* 32 &+ j &+ 16] = d * Float(Int((q >> 4) | xh1) - 16)
                        }
                    }
                }
            case .q4_K, .q5_K:
                // block: f16 d, f16 dmin, u8 scales[12], [Q5_K: u8 qh[32], the high bit of sub-block k in bit k], u8 qs[128]
                let five = type == .q5_K
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o), dmin = h(raw, o &+ 2)
                    let sc = o &+ 4, qh = o &+ 16, qs = o &+ (five ? 48 : 16)
                    var y = b &* 256
                    var sIdx = 0
                    for jj in stride(from: 0, to: 256, by: 64) {
                        let (s1, m1) = scaleMinK4(raw, sc, sIdx)
                        let (s2, m2) = scaleMinK4(raw, sc, sIdx &+ 1)
                        let d1 = d * Float(s1), mm1 = dmin * Float(m1), d2 = d * Float(s2), mm2 = dmin * Float(m2)
                        let q = qs &+ jj / 2
                        let u1 = UInt8(1) << UInt8(sIdx), u2 = UInt8(2) << UInt8(sIdx)
                        for l in 0..<32 {
                            let hb: UInt8 = five && raw[qh &+ l] & u1 != 0 ? 16 : 0
                            out[y &+ l] = d1 * Float((raw[q &+ l] & 0x0F) | hb) - mm1
                        }
                        for l in 0..<32 {
                            let hb: UInt8 = five && raw[qh &+ l] & u2 != 0 ? 16 : 0
                            out[y &+ 32 &+ l] = d2 * Float((raw[q &+ l] >> 4) | hb) - mm2
                        }
                        y &+= 64; sIdx &+= 2
                    }
                }
            case .q2_K:
                // block: u8 scales[16] (low nibble scale, high nibble min), u8 qs[64], f16 d, f16 dmin
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o &+ 80), dmin = h(raw, o &+ 82)
                    var y = b &* 256
                    var sIdx = 0
                    for half in 0..<2 {
                        let q = o &+ 16 &+ half &* 32
                        for shift in stride(from: UInt8(0), to: 8, by: 2) {
                            for part in 0..<2 {
                                let s = raw[o &+ sIdx]
                                let dl = d * Float(s & 0xF), ml = dmin * Float(s >> 4)
                                for l in 0..<16 { out[y &+ l] = dl * Float((raw[q &+ part &* 16 &+ l] >> shift) & 3) - ml }
                                y &+= 16; sIdx &+= 1
                            }
                        }
                    }
                }
            case .q3_K:
                // block: u8 hmask[32], u8 qs[64], u8 scales[12] (16 × 6 bits), f16 d. A clear hmask bit subtracts 4.
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o &+ 108)
                    let hm = o, sc = o &+ 96
                    var y = b &* 256
                    var sIdx = 0
                    var bit: UInt8 = 1
                    for half in 0..<2 {
                        let q = o &+ 32 &+ half &* 32
                        for shift in stride(from: UInt8(0), to: 8, by: 2) {
                            for part in 0..<2 {
                                let lo = sIdx < 8 ? raw[sc &+ sIdx] & 0xF : raw[sc &+ sIdx &- 8] >> 4
                                let hi = (raw[sc &+ 8 &+ sIdx % 4] >> UInt8(2 &* (sIdx / 4))) & 3
                                let dl = d * Float(Int(lo | hi << 4) - 32)
                                for l in 0..<16 {
                                    let i = part &* 16 &+ l
                                    let v = Int((raw[q &+ i] >> shift) & 3) - (raw[hm &+ i] & bit != 0 ? 0 : 4)
                                    out[y &+ l] = dl * Float(v)
                                }
                                y &+= 16; sIdx &+= 1
                            }
                            bit = bit &<< 1
                        }
                    }
                }
            case .q6_K:
                // block: u8 ql[128], u8 qh[64], i8 scales[16], f16 d
                for b in 0..<blocks {
                    let o = b &* bb, d = h(raw, o &+ 208)
                    for half in 0..<2 {
                        let ql = o &+ half &* 64, qh = o &+ 128 &+ half &* 32, sc = o &+ 192 &+ half &* 8
                        let y = b &* 256 &+ half &* 128
                        for l in 0..<32 {
                            let isc = l / 16
                            let q1 = Int((raw[ql &+ l] & 0xF) | ((raw[qh &+ l] >> 0) & 3) << 4) - 32
                            let q2 = Int((raw[ql &+ l &+ 32] & 0xF) | ((raw[qh &+ l] >> 2) & 3) << 4) - 32
                            let q3 = Int((raw[ql &+ l] >> 4) | ((raw[qh &+ l] >> 4) & 3) << 4) - 32
                            let q4 = Int((raw[ql &+ l &+ 32] >> 4) | ((raw[qh &+ l] >> 6) & 3) << 4) - 32
                            func s(_ k: Int) -> Float { Float(Int8(bitPattern: raw[sc &+ isc &+ k])) }
                            out[y &+ l] = d * s(0) * Float(q1)
                            out[y &+ l &+ 32] = d * s(2) * Float(q2)
                            out[y &+ l &+ 64] = d * s(4) * Float(q3)
                            out[y &+ l &+ 96] = d * s(6) * Float(q4)
                        }
                    }
                }
            default:
                preconditionFailure("dequantize: \(type.name) unsupported")
            }
            c = n
        }
    }

    /// ggml `get_scale_min_k4`: 6-bit scale and min number `j` of a Q4_K/Q5_K block.
    @inline(__always)
    static func scaleMinK4(_ raw: UnsafeRawBufferPointer, _ q: Int, _ j: Int) -> (UInt8, UInt8) {
        if j < 4 { return (raw[q &+ j] & 63, raw[q &+ j &+ 4] & 63) }
        let d = (raw[q &+ j &+ 4] & 0xF) | ((raw[q &+ j &- 4] >> 6) << 4)
        let m = (raw[q &+ j &+ 4] >> 4) | ((raw[q &+ j] >> 6) << 4)
        return (d, m)
    }
}
