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

/// Mismatches of `unit` placed before, inside, after a valid `run`, after ASCII and twice.
private func placementMismatches(_ unit: [UInt8], run: [UInt8]) -> Int {
    [unit + run + [0x61, 0x62], run + unit + run, [0x61] + unit + unit, run + unit].filter { !check($0) }.count
}

/// Mismatches of `text` with each byte replaced by each of `values`, whole and cut after that byte.
private func corruptionMismatches(_ text: [UInt8], _ values: [UInt8]) -> Int {
    var mismatches = 0
    for k in 0..<text.count {
        for v in values {
            var b = text
            b[k] = v
            if !check(b) || !check(Array(b.prefix(k + 1))) { mismatches += 1 }
        }
    }
    return mismatches
}

/// Runs of 3-byte characters (validated two at a time): every lead E0–EF in either slot of a pair, with
/// second bytes at the bounds of each lead's range, and a corrupted continuation or lead in each position.
@Test func utf8ValidationThreeByteRuns() {
    let seconds: [UInt8] = [0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0]
    let run: [UInt8] = [0xE4, 0xB8, 0xAD, 0xE6, 0x96, 0x87]
    var mismatches = 0
    for l0 in UInt8(0xE0)...0xEF {
        for l1 in UInt8(0xE0)...0xEF {
            for s0 in seconds {
                for s1 in seconds { mismatches += placementMismatches([l0, s0, 0x80, l1, s1, 0xBF], run: run) }
            }
        }
    }
    let cjk = Array(String(repeating: "中文的是了日本語のテキスト", count: 4).utf8)
    mismatches += corruptionMismatches(cjk, [0x00, 0x41, 0x80, 0xBF, 0xC0, 0xE0, 0xED, 0xEF, 0xF0, 0xFF])
    #expect(mismatches == 0)
}

/// Runs of 2-byte characters (validated four at a time): every lead C0–DF in each slot of a group, with
/// second bytes at the bounds of the continuation range, and corruptions at every position of a run.
@Test func utf8ValidationTwoByteRuns() {
    let seconds: [UInt8] = [0x7F, 0x80, 0xBF, 0xC0]
    let run: [UInt8] = Array("приветمرحبا".utf8)
    var mismatches = 0
    for lead in UInt8(0xC0)...0xDF {
        for second in seconds {
            for slot in 0..<4 {
                var group: [UInt8] = [0xD0, 0xBF, 0xD1, 0x80, 0xD0, 0xB8, 0xD0, 0xB2]
                group[2 * slot] = lead; group[2 * slot + 1] = second
                mismatches += placementMismatches(group, run: run)
            }
        }
    }
    let text = Array(String(repeating: "русский текст العربية", count: 3).utf8)
    mismatches += corruptionMismatches(text, [0x00, 0x41, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xFF])
    #expect(mismatches == 0)
}

/// A longer mixed-script buffer (runs of 2- and 3-byte characters, emoji, ASCII between them): every byte replaced
/// by each of a set of values, whole and cut after it; the valid text at 40 alignments.
@Test func utf8ValidationLongBuffers() {
    let line = Array("Größe — 中文字符 русский 日本語テキスト 😀🇩🇪 العربية हिन्दी ascii words and digits 12345\n".utf8)
    let long = line + line
    var mismatches = 0
    for shift in 0..<40 where !check(Array(repeating: 0x61, count: shift) + long) { mismatches += 1 }
    mismatches += corruptionMismatches(long, [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                              0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF])
    #expect(mismatches == 0)
    #expect(check(Array(repeating: 0x41, count: 96) + [0xF0, 0x9F, 0x98]))   // a sequence cut by the end
    #expect(check([0x80] + Array(repeating: 0x41, count: 96)))                // a continuation byte first
}
