internal import CICU

/// A regex compile failure, carrying the offending pattern and ICU's diagnosis.
public struct ICURegexError: Error, Sendable, CustomStringConvertible {
    /// The pattern as given to `ICURegex.init`.
    public let pattern: String
    /// ICU's error name, e.g. `U_REGEX_RULE_SYNTAX`.
    public let icuError: String
    /// Position of the error in the pattern, in UTF-16 code units (nil if ICU did not say).
    public let offset: Int?

    public var description: String {
        let at = offset.map { " at UTF-16 offset \($0)" } ?? ""
        return "cannot compile regex \"\(pattern)\": \(icuError)\(at)"
    }
}

/// A compiled ICU regular expression searched over UTF-8 bytes; matches come back as byte ranges.
///
/// The compiled pattern is immutable and shared; every search runs on a private clone
/// (`uregex_clone`), so one `ICURegex` can be used from many threads. For many small
/// searches on one thread, make a `Matcher` once and reuse it (it keeps its clone and buffers).
///
/// Iteration follows the Rust `onig`/`regex` crates (what HF tokenizers and tiktoken see):
/// matches are leftmost-first and non-overlapping, and an empty match that starts exactly
/// where the previous match ended is skipped.
public final class ICURegex: @unchecked Sendable {
    /// ICU matching flags.
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let caseInsensitive = Options(rawValue: 1 << 0)
        /// `^` and `$` match at line boundaries, not only at the ends of the input.
        public static let multiline = Options(rawValue: 1 << 1)
        /// `.` matches line terminators too.
        public static let dotAll = Options(rawValue: 1 << 2)
        /// Only `\n` is a line terminator for `.`, `^` and `$` (as in Oniguruma's Ruby syntax).
        public static let unixLines = Options(rawValue: 1 << 3)
        /// Whitespace and `#` comments in the pattern are ignored.
        public static let comments = Options(rawValue: 1 << 4)

        var icuFlags: UInt32 {
            var f: Int32 = 0
            if contains(.caseInsensitive) { f |= cicu_regexFlagCaseInsensitive() }
            if contains(.multiline) { f |= cicu_regexFlagMultiline() }
            if contains(.dotAll) { f |= cicu_regexFlagDotAll() }
            if contains(.unixLines) { f |= cicu_regexFlagUnixLines() }
            if contains(.comments) { f |= cicu_regexFlagComments() }
            return UInt32(bitPattern: f)
        }
    }

    public let pattern: String
    public let options: Options
    /// Never searched directly: only cloned (uregex_clone on a compiled pattern is thread-safe).
    private let prototype: OpaquePointer

    public init(_ pattern: String, options: Options = []) throws(ICURegexError) {
        self.pattern = pattern
        self.options = options
        let utf16 = Array(pattern.utf16)
        var status = U_ZERO_ERROR
        var parseError = UParseError()
        let handle = utf16.withUnsafeBufferPointer { p in
            cicu_regexOpen(p.baseAddress, Int32(p.count), options.icuFlags, &parseError, &status)
        }
        if cicu_failure(status) != 0 || handle == nil {
            if let handle { cicu_regexClose(handle) }
            let name = cicu_errorName(status).map { String(cString: $0) } ?? "U_ERROR \(status.rawValue)"
            throw ICURegexError(pattern: pattern, icuError: name,
                                offset: parseError.offset >= 0 ? Int(parseError.offset) : nil)
        }
        prototype = handle!
    }

    deinit { cicu_regexClose(prototype) }

    /// A private clone for searching on one thread at a time.
    public func makeMatcher() -> Matcher { Matcher(self) }

    /// Calls `body(start, end)` for each match (byte offsets into `bytes`, which must be valid UTF-8).
    public func forEachMatch(in bytes: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        let m = Matcher(self)
        m.forEachMatch(in: bytes, body)
    }

    /// All matches as byte ranges.
    public func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        forEachMatch(in: bytes) { out.append($0..<$1) }
        return out
    }

    /// All matches in a string, as byte ranges into its UTF-8 form.
    public func matches(in text: String) -> [Range<Int>] {
        var s = text
        return s.withUTF8 { matches(in: $0) }
    }

    /// One regex clone plus reusable UTF-16 and offset buffers. Not thread-safe: one per thread.
    public final class Matcher {
        public let regex: ICURegex
        private let handle: OpaquePointer
        private var utf16: [UInt16] = []
        /// `byteOffset[k]` is the UTF-8 offset of UTF-16 index `k` (and of the end, at `k == count`).
        private var byteOffset: [Int32] = []

        init(_ regex: ICURegex) {
            self.regex = regex
            var status = U_ZERO_ERROR
            // Cloning a successfully compiled pattern only fails on memory exhaustion.
            guard let h = cicu_regexClone(regex.prototype, &status), cicu_failure(status) == 0 else {
                fatalError("uregex_clone failed: \(status.rawValue)")
            }
            handle = h
        }

        deinit { cicu_regexClose(handle) }

        /// Calls `body(start, end)` for each match, in byte offsets of `bytes` (valid UTF-8).
        public func forEachMatch(in bytes: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
            let n = bytes.count
            utf16.removeAll(keepingCapacity: true)
            byteOffset.removeAll(keepingCapacity: true)
            utf16.reserveCapacity(n &+ 1)
            byteOffset.reserveCapacity(n &+ 1)
            if let base = bytes.baseAddress {
                var i = 0
                while i < n {
                    let (cp, len) = UTF8Scan.decode(base, i)
                    if cp < 0x10000 {
                        utf16.append(UInt16(truncatingIfNeeded: cp))
                        byteOffset.append(Int32(truncatingIfNeeded: i))
                    } else {
                        let v = cp &- 0x10000
                        utf16.append(UInt16(truncatingIfNeeded: 0xD800 &+ (v &>> 10)))
                        utf16.append(UInt16(truncatingIfNeeded: 0xDC00 &+ (v & 0x3FF)))
                        byteOffset.append(Int32(truncatingIfNeeded: i))
                        // Matches never end inside a pair; the low half maps to the scalar's start.
                        byteOffset.append(Int32(truncatingIfNeeded: i))
                    }
                    i &+= len
                }
            }
            byteOffset.append(Int32(truncatingIfNeeded: n))
            let count = utf16.count
            utf16.append(0)  // ICU wants a non-null pointer, even for empty input
            var status = U_ZERO_ERROR
            utf16.withUnsafeBufferPointer { text in
                cicu_regexSetText(handle, text.baseAddress, Int32(count), &status)
                guard cicu_failure(status) == 0 else { return }
                var lastEnd = -1
                while cicu_regexFindNext(handle, &status) != 0 && cicu_failure(status) == 0 {
                    let s = Int(cicu_regexStart(handle, &status))
                    let e = Int(cicu_regexEnd(handle, &status))
                    if cicu_failure(status) != 0 { break }
                    if s == e && s == lastEnd { continue }
                    lastEnd = e
                    body(Int(byteOffset[s]), Int(byteOffset[e]))
                }
            }
        }
    }
}
