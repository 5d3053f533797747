import Testing
import GlossaFormats

/// `Base64` (the decoder tiktoken rank files use, and `tokenizer.json`'s `precompiled_charsmap`): round trips of
/// every length 0–40 and of all 256 byte values, and the refusals: a length that is not a multiple of four,
/// characters outside the alphabet, padding anywhere but the end, and non-canonical padding bits.
@Test func base64RoundTripsAndRefusals() {
    var rng = SystemRandomNumberGenerator()
    for n in 0...40 {
        let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let text = Base64.encode(bytes)
        #expect(text.utf8.count == (n + 2) / 3 * 4)
        #expect(Base64.decode(Array(text.utf8)) == bytes)
    }
    let all = (0...255).map { UInt8($0) }
    #expect(Base64.decode(Array(Base64.encode(all).utf8)) == all)
    #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
    #expect(Base64.decode(Array("aGVsbG8=".utf8)) == Array("hello".utf8))
    #expect(Base64.decode(Array("aGk=".utf8)) == Array("hi".utf8))
    #expect(Base64.decode(Array("aQ==".utf8)) == Array("i".utf8))
    for bad in ["aGVsbG8", "aGVsbG8==", "aGV=bG8=", "aG-sbG8=", "aGk", "aR==", "aGl=", "====", "a===", "aGVs bG8="] {
        #expect(Base64.decode(Array(bad.utf8)) == nil, "\(bad)")
    }
}
