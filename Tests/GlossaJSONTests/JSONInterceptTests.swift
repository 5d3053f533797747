import Testing
import GlossaJSON

/// `JSONIntercept` (a reader consuming second-level values itself) and the `JSONScan` primitives it uses.
@Suite struct JSONInterceptTests {
    /// Offsets of the bytes `{` and `[` following `"key": ` in `text`.
    func valueOffset(_ text: [UInt8], after key: String) -> Int {
        let k = Array("\"\(key)\": ".utf8)
        for i in 0...(text.count - k.count) where Array(text[i..<(i + k.count)]) == k { return i + k.count }
        return -1
    }

    /// The end of the container starting at `i` (no strings with brackets in these tests).
    func matchingEnd(_ text: [UInt8], _ i: Int) -> Int {
        var depth = 0, j = i
        repeat {
            if text[j] == 0x7B || text[j] == 0x5B { depth += 1 }
            if text[j] == 0x7D || text[j] == 0x5D { depth -= 1 }
            j += 1
        } while depth > 0
        return j
    }

    @Test func secondLevelContainersAreOfferedAndElided() throws {
        let text = Array(#"{"a": [1], "m": {"x": [1, 2], "v": {"k": [3]}, "y": true, "s": "str"}, "z": [[{"q": {}}]]}"#.utf8)
        var offered: [String] = []
        let doc = try JSONDocument(bytes: text, file: "t.json") { outer, key, bytes, offset in
            offered.append(String(decoding: outer, as: UTF8.self) + "." + String(decoding: key, as: UTF8.self))
            #expect(bytes.count == text.count)
            return String(decoding: key, as: UTF8.self) == "v" ? matchingEnd(text, offset) : nil
        }
        #expect(offered == ["m.x", "m.v"])
        let m = try #require(doc.root["m"])
        let v = try #require(m["v"])
        #expect(v.isObject && v.isElided && v.count == 0)
        #expect(v.byteRange.lowerBound == valueOffset(text, after: "v"))
        #expect(m["x"]?.isElided == false && m["x"]?.count == 2)
        #expect(m["y"]?.bool == true && m["s"]?.string == "str")
        #expect(doc.root["z"]?[0]?[0]?["q"]?.isElided == false)
        #expect(v.path == "m.v")
    }

    @Test func declinedValuesAreParsedNormally() throws {
        let text = Array(#"{"m": {"v": {"k": [3]}}}"#.utf8)
        let doc = try JSONDocument(bytes: text, intercept: { _, _, _, _ in nil })
        #expect(doc.root["m"]?["v"]?["k"]?[0]?.int == 3)
        #expect(doc.root["m"]?["v"]?.isElided == false)
    }

    /// Errors after an elided value still point at the right line and column.
    @Test func errorsAfterAnElidedValueKeepTheirPosition() throws {
        let text = Array("{\"m\": {\"v\": [1,\n2,\n3],\n \"w\": tru}}".utf8)
        do {
            _ = try JSONDocument(bytes: text, file: "t.json") { _, key, bytes, offset in
                String(decoding: key, as: UTF8.self) == "v" ? matchingEnd(Array(bytes), offset) : nil
            }
            Issue.record("parsed")
        } catch {
            guard case let .syntax(_, ctx) = error else { Issue.record("\(error)"); return }
            #expect(ctx.line == 4 && ctx.path == "m.w")
        }
    }

    /// `JSONScan.string` accepts exactly what the parser accepts, with the stop byte at every position of the
    /// eight-byte fast scan.
    @Test func stringScanAgreesWithTheParser() {
        let stops: [[UInt8]] = [[0x22], [0x5C, 0x6E], [0x5C, 0x75, 0x30, 0x30, 0x65, 0x39], [0x5C, 0x71], [0x01], [0x1F],
                                [0x7F], [0xC3, 0xA9], [0xC3], [0xFF], [0xE2, 0x82, 0xAC], [0xED, 0xA0, 0x80], [0x5C, 0x75, 0x44, 0x38, 0x30, 0x30]]
        for stop in stops {
            for before in 0..<18 {
                let body = [UInt8](repeating: 0x61, count: before) + stop + [UInt8](repeating: 0x62, count: 3)
                let text = [0x22] + body + [0x22]
                let scanned = text.withUnsafeBufferPointer { JSONScan.string($0, at: 0) }
                if stop == [0x22] {   // the string ends there
                    #expect(scanned?.end == before + 1 && scanned?.escaped == false)
                    continue
                }
                let parsed = try? JSONDocument(bytes: text)
                #expect((parsed != nil) == (scanned != nil), "\(stop) after \(before)")
                if let parsed, let scanned {
                    #expect(scanned.end == text.count - 1)
                    #expect(scanned.escaped == (stop.first == 0x5C))
                    let decoded = text.withUnsafeBufferPointer { JSONScan.decode($0, 1..<scanned.end) }
                    #expect(decoded == parsed.root.stringBytes)
                }
            }
        }
        // Unterminated, and not starting at a quote.
        #expect(Array("\"abcdefghijk".utf8).withUnsafeBufferPointer { JSONScan.string($0, at: 0) } == nil)
        #expect(Array("abc\"".utf8).withUnsafeBufferPointer { JSONScan.string($0, at: 0) } == nil)
    }

    @Test func whitespaceSkipping() {
        let text = Array(" \t\r\n x".utf8)
        #expect(text.withUnsafeBufferPointer { JSONScan.skipWhitespace($0.baseAddress!, $0.count, 0) } == 5)
        #expect(text.withUnsafeBufferPointer { JSONScan.skipWhitespace($0.baseAddress!, $0.count, 5) } == 5)
        #expect(text.withUnsafeBufferPointer { JSONScan.skipWhitespace($0.baseAddress!, 3, 0) } == 3)
    }
}
