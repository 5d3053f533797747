import Testing
import GlossaUnicode

@Test func characterClassesMatchUnicode() {
    let t = CharacterClasses.shared
    #expect(t.isLetter(0x41) && t.isLetter(0x416) && t.isLetter(0x4E2D))
    #expect(!t.isLetter(0x31) && t.isNumber(0x31) && t.isNumber(0x2163) && t.isNumber(0xBD))
    #expect(t.isWhiteSpace(0x20) && t.isWhiteSpace(0x85) && t.isWhiteSpace(0x3000) && !t.isWhiteSpace(0x200B))
    #expect(t.isMark(0x301) && !t.isLetter(0x301))
    #expect(t.category(0x10FFFF) == .unassigned)
    #expect(t.category(0x1F600) == .otherSymbol)
}

@Test func characterTableEqualsICUForEveryCodePoint() {
    #expect(CharacterClasses.shared.mismatchesAgainstICU() == 0)
}
