import Foundation
@testable import GlossaTokenizers

/// Paths built from this file's location: <root>/Tests/GlossaTokenizersTests/TestSupport.swift.
enum TestPaths {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()
    static var shared: String { root + "/../shared" }
    static func tokenizer(_ rel: String) -> String { shared + "/tokenizers/" + rel }
    static var fixtures: String { root + "/Fixtures" }
    static func tempFile(_ name: String) -> String {
        NSTemporaryDirectory() + "glossa-test-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    }
}

/// Builds a tokenizer from an inline tokenizer.json.
func tokenizer(json: String) throws -> Tokenizer {
    try HuggingFaceReader.read(bytes: Array(json.utf8), file: "inline.json")
}
