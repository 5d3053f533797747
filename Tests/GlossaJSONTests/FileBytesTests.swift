import Glibc
import Testing
import GlossaJSON

/// `BinaryFile.map` against `BinaryFile.read`: the same bytes for every size around page boundaries and the empty
/// file (read, not mapped), the same errors for a missing file and a directory.
@Suite struct FileBytesTests {
    @Test func mappedBytesAreTheReadBytes() throws {
        let path = "/tmp/glossa-filebytes-\(getpid()).bin"
        defer { unlink(path) }
        var state: UInt64 = 7
        for size in [0, 1, 7, 4095, 4096, 4097, 65_537, 2_100_000] {
            let bytes = (0..<size).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            try BinaryFile.write(bytes, to: path)
            let mapped = try BinaryFile.map(path)
            #expect(mapped.count == size)
            #expect(mapped.bytes == bytes, "size \(size)")
            #expect(mapped.withUnsafeBufferPointer { Array($0) } == bytes)
            #expect(mapped.first == bytes.first)
            #expect(try BinaryFile.read(path) == bytes)
        }
    }

    @Test func mapFailsAsReadDoes() {
        for path in ["/nonexistent/glossa.json", "/tmp"] {
            var readError: FileIOError?, mapError: FileIOError?
            do { _ = try BinaryFile.read(path) } catch { readError = error }
            do { _ = try BinaryFile.map(path) } catch { mapError = error }
            #expect(readError != nil && mapError == readError, "\(path)")
        }
    }

    /// A document parsed from mapped bytes reads as the one parsed from an array.
    @Test func documentFromMappedBytes() throws {
        let path = "/tmp/glossa-filebytes-doc-\(getpid()).json"
        defer { unlink(path) }
        let text = #"{"a": [1, 2.5, "x\u00e9"], "b": {"c": null, "d": true}}"#
        try BinaryFile.write(Array(text.utf8), to: path)
        let mapped = try JSONDocument(bytes: BinaryFile.map(path), file: path, intercept: nil)
        let read = try JSONDocument(bytes: Array(text.utf8), file: path)
        #expect(mapped.bytes == read.bytes)
        #expect(mapped.root["a"]?[2]?.string == "xé" && mapped.root["a"]?[1]?.double == 2.5)
        #expect(mapped.root["b"]?["d"]?.bool == true && mapped.nodeCount == read.nodeCount)
        #expect(Array(mapped.root["a"]![1]!.rawBytes) == Array("2.5".utf8))
    }
}
