import Testing
import GlossaJSON

@Suite struct JSONWriterTests {
    @Test func compactAndEscapes() {
        var w = JSONWriter()
        w.beginObject()
        w.key("a\"b"); w.string("x\\y\n\t\u{1}\u{7F}é/")
        w.key("n"); w.int(-42)
        w.key("z"); w.int(0)
        w.key("f"); w.double(0.1)
        w.key("t"); w.bool(true)
        w.key("nil"); w.null()
        w.key("arr"); w.beginArray(); w.int(1); w.beginArray(); w.endArray(); w.beginObject(); w.endObject(); w.endArray()
        w.endObject()
        #expect(w.string == #"{"a\"b":"x\\y\n\t\u0001"# + "\u{7F}é/" + #"","n":-42,"z":0,"f":0.1,"t":true,"nil":null,"arr":[1,[],{}]}"#)
    }

    @Test func controlEscapesUseLowercaseHex() {
        var w = JSONWriter()
        w.string(bytes: [0x1F, 0x0B, 0x08, 0x0C, 0x0D])
        #expect(w.string == #""\u001f\u000b\b\f\r""#)
    }

    @Test func prettyMatchesSerde() {
        let node: JSONNode = .object([
            .init("version", .string("1.0")),
            .init("truncation", .null),
            .init("added_tokens", .array([.object([.init("id", .int(0)), .init("special", .bool(true))])])),
            .init("empty", .array([])),
            .init("obj", .object([])),
            .init("merges", .array([.array([.string("Ġ"), .string("t")])])),
        ])
        let expected = """
        {
          "version": "1.0",
          "truncation": null,
          "added_tokens": [
            {
              "id": 0,
              "special": true
            }
          ],
          "empty": [],
          "obj": {},
          "merges": [
            [
              "Ġ",
              "t"
            ]
          ]
        }
        """
        #expect(String(decoding: JSONWriter.serialize(node, pretty: true), as: UTF8.self) == expected)
    }

    @Test func floatsLikeRyu() {
        func f(_ d: Double) -> String {
            var out: [UInt8] = []
            JSONWriter.appendDouble(d, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(f(1) == "1.0")
        #expect(f(0) == "0.0")
        #expect(f(-0.0) == "-0.0")
        #expect(f(0.1) == "0.1")
        #expect(f(-2.5) == "-2.5")
        #expect(f(1e15) == "1000000000000000.0")
        #expect(f(1e16) == "1e16")
        #expect(f(1.5e300) == "1.5e300")
        #expect(f(1e-5) == "0.00001")
        #expect(f(1e-7) == "1e-7")
        #expect(f(1.2345e-7) == "1.2345e-7")
        #expect(f(123.456) == "123.456")
        #expect(f(-31740) == "-31740.0")
        #expect(f(Double(Float(-0.1))) == "-0.10000000149011612")
        #expect(f(.nan) == "null")
        #expect(f(.infinity) == "null")
    }

    @Test func roundTripThroughParser() throws {
        let text = #"{"a":[1,2.50,-3e2,"x\u00e9\n"],"b":{"c":null,"d":false},"e":""}"#
        let doc = try JSONDocument(string: text)
        var w = JSONWriter()
        w.write(doc.root)
        #expect(w.string == #"{"a":[1,2.50,-3e2,"xé\n"],"b":{"c":null,"d":false},"e":""}"#)
        let node = doc.root.toNode()
        #expect(node["b"]?["d"] == .bool(false))
        let again = try JSONDocument(bytes: JSONWriter.serialize(node)).root.toNode()
        #expect(again == node)
    }

    @Test func rewriteRealFileIsStable() throws {
        // Parse → write compact → parse → write again: byte-identical, and the tree is unchanged.
        let doc = try JSONDocument(contentsOfFile: sharedPath("tokenizers/mistral-7b-v0.3/tokenizer.json"))
        var w1 = JSONWriter(pretty: true)
        w1.write(doc.root)
        let doc2 = try JSONDocument(bytes: w1.bytes)
        var w2 = JSONWriter(pretty: true)
        w2.write(doc2.root)
        #expect(w1.bytes == w2.bytes)
        #expect(doc2.root["model"]?["merges"]?.count == 58_980)
    }
}
