// Expected values come from the real Hugging Face `tokenizers` 0.23.3 (`from tokenizers import decoders as D`);
// the Python call is next to each value.
import Testing
@testable import GlossaTokenizers

private func dec(_ c: DecoderConfig, _ tokens: [String]) throws -> String { try TokenDecoder(c).decode(tokens) }

@Suite struct DecoderTests {
    @Test func byteLevel() throws {
        // D.ByteLevel().decode(["Hello", "Ġw\u00e9", "\u00e6", "\u00e8", "xyz\u4e00", "\u00e6\u00a8"]) == 'Hello w���xyz一�'
        #expect(try dec(.byteLevel, ["Hello", "Ġw\u{e9}", "\u{e6}", "\u{e8}", "xyz\u{4e00}", "\u{e6}\u{a8}"]) == "Hello w\u{FFFD}\u{FFFD}\u{FFFD}xyz一\u{FFFD}")
        // D.ByteLevel().decode([]) == ''
        #expect(try dec(.byteLevel, []) == "")
        #expect(try TokenDecoder(.byteLevel).decodeChain([]) == [""])
        // Llama-3.2 tokens of 'Hi 叫🤗 there': D.ByteLevel().decode(['Hi', 'Ġåı', '«', 'ðŁ', '¤', 'Ĺ', 'Ġthere']) == 'Hi 叫🤗 there'
        #expect(try dec(.byteLevel, ["Hi", "Ġåı", "«", "ðŁ", "¤", "Ĺ", "Ġthere"]) == "Hi 叫🤗 there")
        // D.ByteLevel().decode(['ĊĉĠ']) == '\n\t '
        #expect(try dec(.byteLevel, ["ĊĉĠ"]) == "\n\t ")
    }

    @Test func lossyUTF8MatchesRust() {
        // bytes(...).decode('utf-8', 'replace') agrees with Rust's from_utf8_lossy on these:
        // b'\xe0\x80\x41' -> '\ufffd\ufffdA'; b'\xf4\x90\x80\x80' -> 4 x '\ufffd'; b'\xed\xa0\x80' -> 3 x '\ufffd';
        // b'\xf0\x9f\xa4' -> '\ufffd'; b'\xc3' -> '\ufffd'; b'\xe2\x82\xac' -> '€'
        #expect(RustUTF8.decode([0xE0, 0x80, 0x41]) == "\u{FFFD}\u{FFFD}A")
        #expect(RustUTF8.decode([0xF4, 0x90, 0x80, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(RustUTF8.decode([0xED, 0xA0, 0x80]) == "\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(RustUTF8.decode([0xF0, 0x9F, 0xA4]) == "\u{FFFD}")
        #expect(RustUTF8.decode([0xC3]) == "\u{FFFD}")
        #expect(RustUTF8.decode([0xE2, 0x82, 0xAC]) == "€")
    }

    @Test func metaspace() throws {
        // D.Metaspace().decode(["▁a▁b", "▁c", "d▁"]) == 'ab cd '   (default prepend_scheme 'always')
        #expect(try dec(.metaspace(replacement: "▁", prependScheme: .always, split: true), ["▁a▁b", "▁c", "d▁"]) == "ab cd ")
        // D.Metaspace(prepend_scheme='first').decode(["▁a▁b", "▁c"]) == 'ab c'
        #expect(try dec(.metaspace(replacement: "▁", prependScheme: .first, split: false), ["▁a▁b", "▁c"]) == "ab c")
        // D.Metaspace(prepend_scheme='never').decode(["▁a▁b", "▁c"]) == ' a b c'
        #expect(try dec(.metaspace(replacement: "▁", prependScheme: .never, split: true), ["▁a▁b", "▁c"]) == " a b c")
    }

    @Test func wordPiece() throws {
        // D.WordPiece().decode(["hello", "##world", "do", "not", "'s", ",", "##x"]) == "helloworld do not's,x"
        #expect(try dec(.wordPiece(prefix: "##", cleanup: true), ["hello", "##world", "do", "not", "'s", ",", "##x"]) == "helloworld do not's,x")
        // D.WordPiece(cleanup=False).decode(["##a", "b", "##c"]) == '##a bc'
        #expect(try dec(.wordPiece(prefix: "##", cleanup: false), ["##a", "b", "##c"]) == "##a bc")
    }

    @Test func bpeDecoder() throws {
        // D.BPEDecoder().decode(["a</w>", "b</w>c", "d</w>"]) == 'a b cd' ; D.BPEDecoder().decode([]) == ''
        #expect(try dec(.bpe(suffix: "</w>"), ["a</w>", "b</w>c", "d</w>"]) == "a b cd")
        #expect(try dec(.bpe(suffix: "</w>"), []) == "")
    }

    @Test func byteFallback() throws {
        // D.ByteFallback().decode(["<0x+A>", "<0xE5>", "<0x8f>", "a", "<0xE5>", "<0x8f>", "<0xab>", "<0xC3>"]) == '���a����'
        // ("+A" parses as 0x0A through Rust's u8::from_str_radix)
        #expect(try dec(.byteFallback, ["<0x+A>", "<0xE5>", "<0x8f>", "a", "<0xE5>", "<0x8f>", "<0xab>", "<0xC3>"])
                == "\u{FFFD}\u{FFFD}\u{FFFD}a\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        // Rust unit test: ["<0xE5>", "<0x8f>", "<0xab>", "a"] -> ["叫", "a"]; ["<0xE5>", "<0x8f>", "a"] -> ["�", "�", "a"]
        let d = try TokenDecoder(.byteFallback)
        #expect(d.decodeChain(["<0xE5>", "<0x8f>", "<0xab>", "a"]) == ["叫", "a"])
        #expect(d.decodeChain(["<0xE5>", "<0x8f>", "a"]) == ["\u{FFFD}", "\u{FFFD}", "a"])
        #expect(d.decodeChain(["<0x61>", "<0xZZ>", "<0x6>"]) == ["a", "<0xZZ>", "<0x6>"])
    }

    @Test func fuseStripReplace() throws {
        // D.Fuse().decode(["a", "b"]) == 'ab'
        #expect(try TokenDecoder(.fuse).decodeChain(["a", "b"]) == ["ab"])
        // D.Strip(" ", 2, 1).decode(["   a  "]) == ' a ' ; D.Strip(" ", 0, 1).decode([" "]) == '' ; D.Strip(" ", 2, 2).decode([" a "]) == 'a'
        #expect(try dec(.strip(content: " ", start: 2, stop: 1), ["   a  "]) == " a ")
        #expect(try dec(.strip(content: " ", start: 0, stop: 1), [" "]) == "")
        #expect(try dec(.strip(content: " ", start: 2, stop: 2), [" a "]) == "a")
        // D.Strip(" ", 1, 1).decode([" "]) panics in HF (slice index starts at 1 but ends at 0); we give ''
        #expect(try dec(.strip(content: " ", start: 1, stop: 1), [" "]) == "")
        // D.Replace("▁", " ").decode(["▁a▁▁b"]) == ' a  b' ; D.Replace("", "x").decode(["ab"]) == 'xaxbx'
        #expect(try dec(.replace(pattern: .string("▁"), content: " "), ["▁a▁▁b"]) == " a  b")
        #expect(try dec(.replace(pattern: .string(""), content: "x"), ["ab"]) == "xaxbx")
        #expect(throws: TokenizerError.self) { try TokenDecoder(.strip(content: "ab", start: 1, stop: 0)) }
    }

    @Test func replaceRegexNeedsACompiler() throws {
        #expect(throws: TokenizerError.self) { try TokenDecoder(.replace(pattern: .regex("a+"), content: "-")) }
        // A toy compiler for the pattern "a+" only, to show the injection point.
        let compiler: RegexCompiler = { (pattern: String) throws(TokenizerError) -> RegexMatchFinder in
            guard pattern == "a+" else { throw .unsupported(file: nil, component: "regex", detail: pattern) }
            return { text in
                var out = [Range<Int>](), i = 0
                let b = Array(text.utf8)
                while i < b.count {
                    if b[i] == 0x61 { var j = i; while j < b.count && b[j] == 0x61 { j += 1 }; out.append(i..<j); i = j } else { i += 1 }
                }
                return out
            }
        }
        // D.Replace(Regex("a+"), "-").decode(["baaab", "a"]) == 'b-b-'
        #expect(try TokenDecoder(.replace(pattern: .regex("a+"), content: "-"), regexCompiler: compiler).decode(["baaab", "a"]) == "b-b-")
    }

    @Test func ctc() throws {
        // D.CTC().decode(["<pad>","h","h","<pad>","e","|","|","l","l","<pad>","l","o"]) == 'he llo'
        #expect(try dec(.ctc(padToken: "<pad>", wordDelimiterToken: "|", cleanup: true),
                        ["<pad>", "h", "h", "<pad>", "e", "|", "|", "l", "l", "<pad>", "l", "o"]) == "he llo")
        // Rust unit test handmade_sample: "<pad> <pad> h e e l l <pad> l o o o <pad>" -> ["h","e","l","l","o"]
        #expect(try TokenDecoder(.ctc(padToken: "<pad>", wordDelimiterToken: "|", cleanup: true))
                    .decodeChain("<pad> <pad> h e e l l <pad> l o o o <pad>".split(separator: " ").map(String.init)) == ["h", "e", "l", "l", "o"])
    }

    @Test func sequenceMistral() throws {
        // The Mistral v0.3 decoder:
        // D.Sequence([D.Replace("▁"," "), D.ByteFallback(), D.Fuse(), D.Strip(" ",1,0)]).decode(["▁Hello", "▁wor", "<0xE5>", "<0x8f>", "<0xab>", "ld"]) == 'Hello wor叫ld'
        let mistral = DecoderConfig.sequence([.replace(pattern: .string("▁"), content: " "), .byteFallback, .fuse,
                                              .strip(content: " ", start: 1, stop: 0)])
        #expect(try dec(mistral, ["▁Hello", "▁wor", "<0xE5>", "<0x8f>", "<0xab>", "ld"]) == "Hello wor叫ld")
        // D.Sequence([D.ByteLevel(), D.WordPiece()]).decode([]) == ''
        #expect(try dec(.sequence([.byteLevel, .wordPiece(prefix: "##", cleanup: true)]), []) == "")
    }
}
