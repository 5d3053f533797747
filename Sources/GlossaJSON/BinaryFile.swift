#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif

/// An error reading or writing a whole file.
public enum FileIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `open` failed; `reason` is the system's message (`strerror`).
    case cannotOpen(path: String, reason: String)
    /// `read`/`write` failed part-way.
    case ioFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open (\(reason))"
        case let .ioFailed(path, reason): return "\(path): I/O error (\(reason))"
        }
    }
}

/// Whole-file reads and writes on raw file descriptors (no Foundation).
public enum BinaryFile {
    private static func errnoText() -> String {
        guard let s = strerror(errno) else { return "errno \(errno)" }
        return String(cString: s)
    }

    /// Reads the whole file at `path`.
    public static func read(_ path: String) throws(FileIOError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw .cannotOpen(path: path, reason: errnoText()) }
        defer { close(fd) }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? max(0, Int(st.st_size)) : 0
        var failed = false
        // Fast path: one buffer of the reported size, filled in place.
        var out = [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            adviseHugePages(buf.baseAddress, bytes: size)
            var done = 0
            while done < size {
                let n = sysRead(fd, buf.baseAddress! + done, size &- done)
                if n < 0 { failed = true; break }
                if n == 0 { break }
                done &+= n
            }
            initialized = done
        }
        if failed { throw .ioFailed(path: path, reason: errnoText()) }
        // Whatever the size did not cover (pipes, /proc files, a file that grew).
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBufferPointer { sysRead(fd, $0.baseAddress!, $0.count) }
            if n < 0 { throw .ioFailed(path: path, reason: errnoText()) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// The whole file at `path`, mapped read-only where it can be (a regular, non-empty file), else read: a
    /// loader scans a 4–9 MB file once, and reading it first copied every page into fresh memory that had to be
    /// faulted in and zeroed, on the critical path before anything else could start. Same errors as `read`.
    public static func map(_ path: String) throws(FileIOError) -> FileBytes {
        #if os(Linux)
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw .cannotOpen(path: path, reason: errnoText()) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 {
            let size = Int(st.st_size)
            // Populated now: the pages are in the page cache after any earlier read, and mapping them in one
            // call is cheaper than a fault per 16 pages during the scan.
            if let p = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), p != MAP_FAILED {
                return FileBytes(mapping: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: size)
            }
        }
        #endif
        return FileBytes(try read(path))
    }

    /// Writes `bytes` to `path`, replacing the file.
    public static func write(_ bytes: [UInt8], to path: String) throws(FileIOError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw .cannotOpen(path: path, reason: errnoText()) }
        var ok = true
        bytes.withUnsafeBufferPointer { buf in
            var done = 0
            while done < buf.count {
                let n = sysWrite(fd, buf.baseAddress! + done, buf.count &- done)
                if n <= 0 { ok = false; return }
                done &+= n
            }
        }
        let reason = ok ? "" : errnoText()
        if close(fd) != 0 && ok { throw .ioFailed(path: path, reason: errnoText()) }
        if !ok { throw .ioFailed(path: path, reason: reason) }
    }
}

/// A file's bytes: mapped (`BinaryFile.map`) or held in an array. A mapping lives as long as this object.
public final class FileBytes: @unchecked Sendable {
    private let array: [UInt8]?
    private let mapping: UnsafePointer<UInt8>?
    public let count: Int

    public init(_ bytes: [UInt8]) {
        array = bytes; mapping = nil; count = bytes.count
    }

    init(mapping: UnsafePointer<UInt8>, count: Int) {
        array = nil; self.mapping = mapping; self.count = count
    }

    deinit {
        #if os(Linux)
        if let mapping { munmap(UnsafeMutableRawPointer(mutating: mapping), count) }
        #endif
    }

    /// The bytes, valid inside `body` only.
    @inlinable
    public func withUnsafeBufferPointer<R, E>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            if let mapping = mappingPointer { return try body(UnsafeBufferPointer(start: mapping, count: count)) }
            return try arrayStorage!.withUnsafeBufferPointer(body)
        }
    }

    @usableFromInline var mappingPointer: UnsafePointer<UInt8>? { mapping }
    @usableFromInline var arrayStorage: [UInt8]? { array }

    /// The bytes as an array (the one given, or a copy of a mapping).
    public var bytes: [UInt8] { array ?? withUnsafeBufferPointer { Array($0) } }

    public var first: UInt8? { count == 0 ? nil : withUnsafeBufferPointer { $0[0] } }
}

@inline(__always)
private func sysRead(_ fd: Int32, _ p: UnsafeMutablePointer<UInt8>, _ n: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.read(fd, p, n)
    #elseif canImport(Glibc)
    return Glibc.read(fd, p, n)
    #else
    return Musl.read(fd, p, n)
    #endif
}

@inline(__always)
private func sysWrite(_ fd: Int32, _ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, p, n)
    #elseif canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Musl.write(fd, p, n)
    #endif
}
