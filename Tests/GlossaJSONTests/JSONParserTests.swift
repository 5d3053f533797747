import Testing
import GlossaJSON

/// `shared/` next to the package root (found by walking up from this file to the folder with Package.swift).
func sharedPath(_ relative: String, file: String = #filePath) -> String {
    var parts = file.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    while !parts.isEmpty {
        parts.removeLast()
        let dir = parts.joined(separator: "/")
        if (try? BinaryFile.read(dir + "/Package.swift")) != nil { return dir + "/../shared/" + relative }
    }
    return "../shared/" + relative
}

private func parse(_ s: String) throws(JSONError) -> JSONValue { try JSONDocument(string: s, file: "t.json").root }

private func syntaxError(_ s: String) -> (JSONSyntaxIssue, JSONErrorContext)? {
    do {
        _ = try JSONDocument(string: s, file: "t.json")
        return nil
    } catch {
        if case let .syntax(issue, ctx) = error { return (issue, ctx) }
        return nil
    }
}

@Suite struct JSONParserTests {
    @Test func scalars() throws {
        #expect(try parse("null").isNull)
        #expect(try parse(" true ").bool == true)
        #expect(try parse("false").bool == false)
        #expect(try parse("0").int == 0)
        #expect(try parse("-0").int == 0)
        #expect(try parse("123456789012345").int == 123_456_789_012_345)
        #expect(try parse("-9223372036854775808").int == Int.min)
        #expect(try parse("9223372036854775808").int == nil)   // overflow
        #expect(try parse("9223372036854775808").double == 9223372036854775808.0)
        #expect(try parse("1.5").int == nil)
        #expect(try parse("1.5").double == 1.5)
        #expect(try parse("-2.5e-3").double == -0.0025)
        #expect(try parse("1E+2").double == 100)
        #expect(try parse("\"abc\"").string == "abc")
    }

    @Test func escapes() throws {
        let v = try parse(#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u4E2D\ud83d\ude00""#)
        #expect(v.string == "a\"b\\c/d\u{8}\u{C}\n\r\tA\u{E9}\u{4E2D}\u{1F600}")
        #expect(v.stringBytes == Array("a\"b\\c/d\u{8}\u{C}\n\r\tA\u{E9}\u{4E2D}\u{1F600}".utf8))
        // Raw UTF-8 passes through; NFC and NFD stay distinct.
        #expect(try parse("\"e\u{301}\"").stringBytes == [0x65, 0xCC, 0x81])
        #expect(try parse("\"\u{E9}\"").stringBytes == [0xC3, 0xA9])
    }

    @Test func containersAndOrder() throws {
        let doc = try JSONDocument(string: #"{"b": [1, {"x": null}, []], "a": {}, "b2": "s", "a": 7}"#)
        let root = doc.root
        #expect(root.isObject)
        #expect(root.count == 4)
        let entries = try #require(root.objectEntries)
        #expect(entries.map(\.key) == ["b", "a", "b2", "a"])
        #expect(entries.map(\.keyBytes) == [[0x62], [0x61], [0x62, 0x32], [0x61]])
        #expect(root["a"]?.int == 7)   // last duplicate wins
        #expect(root["zz"] == nil)
        let b = try #require(root["b"]?.array)
        #expect(b.count == 3)
        #expect(b[0].int == 1)
        #expect(b[1]["x"]?.isNull == true)
        #expect(b[2].array?.isEmpty == true)
        #expect(root["b"]?[1]?["x"]?.path == "b[1].x")
        #expect(root["b2"]?.string == "s")
        var keys: [String] = []
        root.forEachEntry { k, _ in keys.append(String(decoding: k, as: UTF8.self)) }
        #expect(keys == ["b", "a", "b2", "a"])
        // Keys with escapes are found by their decoded text.
        #expect(try parse(#"{"\u0061b": 1}"#)["ab"]?.int == 1)
    }

    @Test func deepNestingIsIterative() throws {
        let depth = 5000
        let s = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let v = try parse(s)
        #expect(v.count == 1)
        let tooDeep = String(repeating: "[", count: JSONDocument.maxDepth + 1)
        #expect(syntaxError(tooDeep)?.0 == .nestingTooDeep(limit: JSONDocument.maxDepth))
    }

    @Test func malformedInputs() {
        // Truncated.
        var e = syntaxError("{\"a\": [1, 2")
        #expect(e?.0 == .unexpectedEnd(expected: "',' or ']'"))
        #expect(e?.1.offset == 11)
        #expect(e?.1.line == 1 && e?.1.column == 12)
        #expect(e?.1.path == "a[1]")
        e = syntaxError("\"abc")
        #expect(e?.0 == .unexpectedEnd(expected: "'\"' closing the string"))
        e = syntaxError("")
        #expect(e?.0 == .unexpectedEnd(expected: "a value"))
        // Bad escape on line 3.
        e = syntaxError("{\n  \"model\": {\n    \"vocab\": \"a\\qb\"}}")
        #expect(e?.0 == .invalidEscape(0x71))
        #expect(e?.1.line == 3)
        #expect(e?.1.column == 17)
        #expect(e?.1.path == "model.vocab")
        #expect(e?.1.file == "t.json")
        // Trailing garbage.
        e = syntaxError("{} x")
        #expect(e?.0 == .trailingCharacters)
        #expect(e?.1.offset == 3)
        // Other violations.
        #expect(syntaxError("[1,]")?.0 == .unexpectedByte(0x5D, expected: "a value"))
        #expect(syntaxError("{\"a\" 1}")?.0 == .unexpectedByte(0x31, expected: "':'"))
        #expect(syntaxError("{a:1}")?.0 == .unexpectedByte(0x61, expected: "a string key"))
        #expect(syntaxError("01")?.0 == .invalidNumber(reason: "leading zero"))
        #expect(syntaxError("1.")?.0 == .invalidNumber(reason: "expected a digit after '.'"))
        #expect(syntaxError("-")?.0 == .unexpectedEnd(expected: "a digit"))
        #expect(syntaxError("1e")?.0 == .invalidNumber(reason: "expected a digit in the exponent"))
        #expect(syntaxError("tru")?.0 == .unexpectedEnd(expected: "'true'"))
        #expect(syntaxError("nul1")?.0 == .unexpectedByte(0x31, expected: "'null'"))
        #expect(syntaxError("\"a\tb\"")?.0 == .controlCharacterInString(0x09))
        #expect(syntaxError(#""\ud800""#)?.0 == .loneSurrogate(0xD800))
        #expect(syntaxError(#""\udc00\ud800""#)?.0 == .loneSurrogate(0xDC00))
        #expect(syntaxError(#""\u12G4""#)?.0 == .invalidUnicodeEscape)
        #expect(syntaxError("[1] [2]")?.0 == .trailingCharacters)
        #expect(syntaxError("// c\n1")?.0 == .unexpectedByte(0x2F, expected: "a value"))
        // Invalid UTF-8 inside a string (overlong, surrogate, truncated sequence).
        for bad: [UInt8] in [[0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE4, 0xB8, 0x22], [0x22, 0xFF, 0x22]] {
            do {
                _ = try JSONDocument(bytes: bad)
                Issue.record("accepted invalid UTF-8 \(bad)")
            } catch {
                if case let .syntax(issue, ctx) = error {
                    #expect(issue == .invalidUTF8)
                    #expect(ctx.offset == 1)
                } else { Issue.record("wrong error \(error)") }
            }
        }
    }

    @Test func errorDescriptionIsReadable() {
        do {
            _ = try JSONDocument(string: "{\"model\": {\"vocab\": [1 2]}}", file: "tokenizer.json")
        } catch {
            #expect(error.description == "tokenizer.json:1:24 (byte 23) at model.vocab[0]: unexpected '2', expected ',' or ']'")
        }
    }

    @Test func typedAccessorsReportPath() throws {
        let root = try JSONDocument(string: "{\n\"model\": {\"vocab\": {\"a\": 1.5}, \"merges\": 3}}", file: "x.json").root
        let model = try root.require("model")
        #expect(throws: JSONError.self) { try model.require("merges").requireArray() }
        do {
            _ = try model.require("dropout")
        } catch {
            guard case let .missingKey(key, ctx) = error else { Issue.record("\(error)"); return }
            #expect(key == "dropout")
            #expect(ctx.path == "model.dropout")
            #expect(ctx.line == 2)
        }
        do {
            _ = try model.require("vocab").require("a").requireInt()
        } catch {
            guard case let .numberOutOfRange(_, literal, ctx) = error else { Issue.record("\(error)"); return }
            #expect(literal == "1.5")
            #expect(ctx.path == "model.vocab.a")
            #expect(ctx.line == 2 && ctx.column == 26)
        }
        do {
            _ = try model.require("merges").requireArray()
        } catch {
            #expect(error.description == "x.json:2:42 (byte 43) at model.merges: expected array, found number")
        }
        #expect(try model.optional("nothing") == nil)
    }

    @Test func realTokenizerFiles() throws {
        let llama = try JSONDocument(contentsOfFile: sharedPath("tokenizers/llama3.2/tokenizer.json"))
        let model = try llama.root.require("model")
        #expect(try model.require("type").requireString() == "BPE")
        #expect(try model.require("vocab").count == 128_000)
        #expect(try model.require("merges").count == 280_147)
        #expect(try model.require("ignore_merges").requireBool() == false)
        #expect(try llama.root.require("added_tokens").count == 257)
        let first = try #require(model["merges"]?[0]?.string)
        #expect(first == "Ġ Ġ")
        var ids = Set<Int>()
        model["vocab"]!.forEachEntry { _, v in ids.insert(v.int ?? -1) }
        #expect(ids.count == 128_000 && ids.min() == 0 && ids.max() == 127_999)

        let mistral = try JSONDocument(contentsOfFile: sharedPath("tokenizers/mistral-7b-v0.3/tokenizer.json"))
        #expect(try mistral.root.require("model").require("merges").count == 58_980)
        #expect(try mistral.root.require("added_tokens").count == 771)
        #expect(try mistral.root.require("pre_tokenizer").require("prepend_scheme").requireString() == "first")

        let bert = try JSONDocument(contentsOfFile: sharedPath("tokenizers/all-MiniLM-L6-v2-wordpiece/tokenizer.json"))
        #expect(try bert.root.require("model").require("type").requireString() == "WordPiece")
        #expect(try bert.root.require("model").require("vocab").count == 30_522)

        let gpt2 = try JSONDocument(contentsOfFile: sharedPath("tokenizers/gpt2/encoder.json"))
        #expect(gpt2.root.count == 50_257)
        #expect(gpt2.root["<|endoftext|>"]?.int == 50_256)

        #expect(throws: JSONError.self) { try JSONDocument(contentsOfFile: "/nonexistent/tokenizer.json") }
    }
}
