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

func tokenizerPath(_ relative: String) -> String { sharedPath("tokenizers/" + relative) }

/// FNV-1a 64 (the golden checksums below were computed with the same function in Python).
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let d = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out.append(d[Int(b >> 4)]); out.append(d[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}
