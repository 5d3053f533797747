// Unicode script of a character, as SentencePiece's `split_by_unicode_script` uses it: a piece may not mix
// scripts; Hiragana, Katakana and U+30FC count as Han; Inherited (combining marks) takes the script of the
// character before it. Resolved with ICU (`\p{sc=…}` sets) once per alphabet character.

import GlossaUnicode

enum UnicodeScripts {
    /// Script class ids: `inherited` joins any run; everything else must match within a piece.
    static let inherited: Int32 = -1
    static let common: Int32 = 0
    static let unknown: Int32 = 1

    /// ISO 15924 codes tested in order (Zinh / Zyyy handled first). Han absorbs Hira / Kana.
    static let codes: [String] = [
        "Latn", "Grek", "Cyrl", "Armn", "Hebr", "Arab", "Syrc", "Thaa", "Nkoo", "Deva", "Beng", "Guru", "Gujr",
        "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Thai", "Laoo", "Tibt", "Mymr", "Geor", "Hang", "Ethi",
        "Cher", "Cans", "Ogam", "Runr", "Khmr", "Mong", "Bopo", "Hani", "Yiii", "Tglg", "Hano", "Buhd", "Tagb",
        "Limb", "Tale", "Linb", "Ugar", "Shaw", "Osma", "Cprt", "Brai", "Bugi", "Copt", "Talu", "Glag", "Tfng",
        "Sylo", "Xpeo", "Khar", "Bali", "Xsux", "Phnx", "Phag", "Sund", "Lepc", "Olck", "Vaii", "Saur", "Kali",
        "Rjng", "Lyci", "Cari", "Lydi", "Cham", "Lana", "Tavt", "Avst", "Egyp", "Samr", "Lisu", "Bamu", "Java",
        "Mtei", "Armi", "Sarb", "Prti", "Phli", "Orkh", "Kthi", "Batk", "Brah", "Mand", "Cakm", "Merc", "Mero",
        "Plrd", "Shrd", "Sora", "Takr", "Adlm", "Gonm", "Wcho", "Tang", "Nshu", "Rohg", "Yezi",
    ]

    /// The script class of each scalar in `scalars` (same order).
    static func classify(_ scalars: [UInt32]) -> [Int32] {
        var out = [Int32](repeating: unknown, count: scalars.count)
        var text: [UInt8] = []
        var startOf: [Int: Int] = [:]
        for (i, c) in scalars.enumerated() {
            startOf[text.count] = i
            UTF8Scan.append(c, to: &text)
            text.append(0x0A)   // separator; never matched as a script member below
        }
        var assigned = [Bool](repeating: false, count: scalars.count)
        func mark(_ code: String, as id: Int32) {
            guard let re = try? ICURegex("\\p{sc=\(code)}") else { return }
            text.withUnsafeBufferPointer { b in
                re.forEachMatch(in: b) { s, _ in
                    if let i = startOf[s], !assigned[i] { out[i] = id; assigned[i] = true }
                }
            }
        }
        mark("Zinh", as: inherited)
        // Katakana-Hiragana prolonged sound mark: Common in Unicode, Katakana for SentencePiece.
        let han = Int32(2 + codes.firstIndex(of: "Hani")!)
        for (i, c) in scalars.enumerated() where c == 0x30FC { out[i] = han; assigned[i] = true }
        mark("Zyyy", as: common)
        mark("Hira", as: han)
        mark("Kana", as: han)
        for (k, code) in codes.enumerated() { mark(code, as: Int32(2 + k)) }
        return out
    }
}
