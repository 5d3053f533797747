import Glibc

/// The few file-system facts the loaders need, straight from libc: this target stays free of
/// Foundation, whose own ICU must not meet the system ICU behind GlossaUnicode in one module.
enum FileSystem {
    static func exists(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0
    }
    static func isDirectory(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
    static func list(_ p: String) -> [String] {
        guard let dir = opendir(p) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
    static func baseName(_ p: String) -> String {
        var s = Substring(p)
        while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
        if let i = s.lastIndex(of: "/") { return String(s[s.index(after: i)...]) }
        return String(s)
    }
    static func dirName(_ p: String) -> String {
        var s = Substring(p)
        while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
        guard let i = s.lastIndex(of: "/") else { return "." }
        return i == s.startIndex ? "/" : String(s[..<i])
    }
}
