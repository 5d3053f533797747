import Foundation
import Testing
import GlossaTensor
@testable import GlossaWeights

/// Golden values from the `gguf` package's numpy dequantizers (Tests/parity/gen_quant_fixtures.py): random
/// blocks with finite f16 scales; Glossa must reproduce every value bit for bit.
let quantFixtureDir: String = {
    let here = String(#filePath)
    return String(here[..<here.lastIndex(of: "/")!]) + "/Fixtures/quants"
}()

func loadQuantFixture(_ type: GGMLType) throws -> (raw: [UInt8], count: Int, expected: [Float]) {
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(quantFixtureDir)/\(type.name).bin"))
    let bytes = [UInt8](data)
    func u32(_ o: Int) -> UInt32 { bytes[o..<(o + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    #expect(u32(0) == type.rawValue)
    let n = Int(u32(4))
    let rawCount = n / type.blockSize * type.blockBytes
    let raw = Array(bytes[8..<(8 + rawCount)])
    let expected = (0..<n).map { i in Float(bitPattern: u32(8 + rawCount + 4 * i)) }
    #expect(bytes.count == 8 + rawCount + 4 * n)
    return (raw, n, expected)
}

@Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
func dequantizeMatchesGGUFReference(_ type: GGMLType) throws {
    #expect(type.isSupported)
    let f = try loadQuantFixture(type)
    let got = f.raw.withUnsafeBytes { Dequantize.run($0, type: type, count: f.count) }
    var mismatches = 0, first = -1
    for i in 0..<f.count where got[i].bitPattern != f.expected[i].bitPattern {
        mismatches += 1
        if first < 0 { first = i }
    }
    #expect(mismatches == 0, "\(type.name): \(mismatches) of \(f.count) values differ; first at \(first): \(first >= 0 ? "\(got[first]) vs \(f.expected[first])" : "")")
}

/// Every quantized type the reader claims to support has a golden fixture.
@Test func everySupportedQuantHasAFixture() {
    for t in GGMLType.allCases where t.isSupported && t.blockSize > 1 {
        #expect(FileManager.default.fileExists(atPath: "\(quantFixtureDir)/\(t.name).bin"), "no fixture for \(t.name)")
    }
}
