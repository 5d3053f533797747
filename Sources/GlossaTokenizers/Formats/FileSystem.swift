import Foundation

/// The few file-system facts the loaders need.
enum FileSystem {
    static func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: p) }
    static func isDirectory(_ p: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
    }
    static func list(_ p: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).sorted() }
    static func baseName(_ p: String) -> String { (p as NSString).lastPathComponent }
    static func dirName(_ p: String) -> String {
        let d = (p as NSString).deletingLastPathComponent
        return d.isEmpty ? "." : d
    }
}
