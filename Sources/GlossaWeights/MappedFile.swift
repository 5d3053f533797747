#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GlossaTensor

/// Errors from reading or writing checkpoint files. Every malformed input ends here, never in a trap.
public struct WeightsError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// A read-only memory-mapped file. Bounds-checked access only.
public final class MappedFile: @unchecked Sendable {  // immutable after init; the mapping is read-only
    public let path: String
    public let count: Int
    let base: UnsafeRawPointer?

    public init(path: String) throws(WeightsError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw WeightsError(path, "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw WeightsError(path, "cannot stat") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw WeightsError(path, "not a regular file") }
        count = Int(st.st_size)
        if count == 0 { base = nil; return }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED || p == nil { throw WeightsError(path, "mmap failed") }
        base = UnsafeRawPointer(p!)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The bytes `range`; throws when the range leaves the file.
    public func bytes(_ range: Range<Int>) throws(WeightsError) -> UnsafeRawBufferPointer {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw WeightsError(path, "byte range \(range) outside the file (\(count) bytes)")
        }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }
}

/// Little-endian cursor over a byte buffer with checked reads.
struct ByteReader {
    let buf: UnsafeRawBufferPointer
    var pos: Int = 0
    let path: String

    init(_ buf: UnsafeRawBufferPointer, path: String, at pos: Int = 0) { self.buf = buf; self.path = path; self.pos = pos }

    mutating func need(_ n: Int, _ what: String) throws(WeightsError) {
        if n < 0 || n > buf.count - pos { throw WeightsError(path, "truncated: \(what) needs \(n) bytes at offset \(pos), file has \(buf.count)") }
    }
    mutating func u8(_ what: String = "u8") throws(WeightsError) -> UInt8 {
        try need(1, what); defer { pos += 1 }; return buf[pos]
    }
    mutating func u32(_ what: String = "u32") throws(WeightsError) -> UInt32 {
        try need(4, what); defer { pos += 4 }
        return UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: pos, as: UInt32.self))
    }
    mutating func u64(_ what: String = "u64") throws(WeightsError) -> UInt64 {
        try need(8, what); defer { pos += 8 }
        return UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
    }
    mutating func bytes(_ n: Int, _ what: String) throws(WeightsError) -> UnsafeRawBufferPointer {
        try need(n, what); defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: buf[pos..<(pos + n)])
    }
}

/// Writes a file atomically (temporary file + rename).
func writeFileAtomically(_ path: String, _ chunks: [UnsafeRawBufferPointer]) throws(WeightsError) {
    let tmp = path + ".tmp-\(getpid())"
    guard let f = fopen(tmp, "wb") else { throw WeightsError(path, "cannot create (\(String(cString: strerror(errno))))") }
    for c in chunks where c.count > 0 {
        if fwrite(c.baseAddress, 1, c.count, f) != c.count {
            fclose(f); unlink(tmp); throw WeightsError(path, "write failed")
        }
    }
    if fclose(f) != 0 { unlink(tmp); throw WeightsError(path, "close failed") }
    if rename(tmp, path) != 0 { unlink(tmp); throw WeightsError(path, "cannot rename into place") }
}
