import Testing
@testable import GlossaUnicode

/// `firstInvalidOffset` (table per lead byte, 32-bit loads) against the byte-by-byte reference and,
/// for validity, against the standard library's decoder.
private func check(_ bytes: [UInt8]) -> Bool {
    let fast = bytes.withUnsafeBufferPointer { UTF8Scan.firstInvalidOffset($0) }
    let reference = bytes.withUnsafeBufferPointer { UTF8Scan.scalarInvalidOffset($0.baseAddress!, from: 0, count: $0.count) }
    let valid = String(validating: bytes, as: UTF8.self) != nil
    return fast == reference && (fast == nil) == valid
}

@Test func utf8ValidationEveryLeadAndSecondByte() {
    let tails: [UInt8] = [0x41, 0x80, 0xBF, 0xC0]   // the bounds of the continuation range and a byte each side
    var mismatches = 0
    for b0 in 0...255 {
        for b1 in 0...255 {
            for b2 in tails {
                for b3 in tails {
                    let seq: [UInt8] = [UInt8(b0), UInt8(b1), b2, b3]
                    // In the middle of a buffer (the 32-bit path) and at its end (the byte-by-byte tail).
                    if !check([0x61] + seq + [0x62, 0x63, 0x64, 0x65, 0x66]) || !check([0x61] + seq) { mismatches += 1 }
                }
            }
        }
    }
    #expect(mismatches == 0)
}

@Test func utf8ValidationOnMixedTextWithCorruptions() {
    let text = Array("Größe — 中文字符 русский 日本語テキスト 😀🇩🇪 العربية हिन्दी ascii words and digits 12345\n".utf8)
    #expect(check(text))
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<20_000 {
        var b = Array(text[Int.random(in: 0..<text.count, using: &rng)...])
        b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
        for _ in 0..<Int.random(in: 0...2, using: &rng) where !b.isEmpty {
            b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        }
        #expect(check(b), "\(b)")
    }
    #expect(check([]))
}
