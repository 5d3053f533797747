// Streaming corpus input: text files read line by line (HF `tokenizer.train(files)`), JSONL documents,
// gzip (zlib, streamed; any input is auto-detected by gzip magic), standard input. Memory is one block.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// How the sequences fed to the trainer are cut out of an input.
public enum CorpusFormat: Sendable, Equatable {
    /// One sequence per line, the line ending included: exactly what HF `Tokenizer.train(files)` feeds.
    case lines
    /// One JSON object per line; the sequence is the string under `field` (whole document, newlines
    /// and all, like HF `train_from_iterator(doc[field] for doc in ...)`). Blank lines are skipped.
    case jsonl(field: String)
}

/// One input of a training run.
public struct CorpusSource: Sendable, Equatable {
    public enum Location: Sendable, Equatable {
        /// A file path; `-` is standard input. Gzip data is detected by its magic bytes.
        case path(String)
        /// Bytes in memory (tests, embedding applications).
        case bytes(name: String, [UInt8])
    }
    public var location: Location
    public var format: CorpusFormat

    public init(path: String, format: CorpusFormat? = nil, jsonField: String = "text") {
        location = .path(path)
        self.format = format ?? Self.inferredFormat(path, jsonField: jsonField)
    }

    public init(name: String, bytes: [UInt8], format: CorpusFormat = .lines) {
        location = .bytes(name: name, bytes)
        self.format = format
    }

    /// `*.jsonl`, `*.ndjson` (optionally `.gz`) read as JSONL; everything else as lines.
    public static func inferredFormat(_ path: String, jsonField: String = "text") -> CorpusFormat {
        var p = path.lowercased()
        if p.hasSuffix(".gz") { p.removeLast(3) }
        return p.hasSuffix(".jsonl") || p.hasSuffix(".ndjson") ? .jsonl(field: jsonField) : .lines
    }

    public var name: String {
        switch location {
        case .path(let p): return p == "-" ? "<stdin>" : p
        case .bytes(let n, _): return n
        }
    }
}

/// A raw byte stream: a plain file descriptor, or zlib's gzip reader (which passes non-gzip data through).
final class ByteStream {
    private enum Handle {
        case fd(Int32, owned: Bool)
        case gz(gzFile)
        case memory([UInt8], Int)
    }
    private var handle: Handle
    let name: String

    init(_ source: CorpusSource) throws(TrainingError) {
        name = source.name
        switch source.location {
        case .bytes(_, let b):
            handle = .memory(b, 0)
        case .path(let p):
            let fd: Int32 = p == "-" ? dup(0) : open(p, O_RDONLY)
            if fd < 0 { throw .unreadable(path: source.name, reason: String(cString: strerror(errno))) }
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw .unreadable(path: source.name, reason: "is a directory")
            }
            // Peek at the magic bytes (regular files only; pipes go through zlib, which detects gzip itself).
            var gzip = p == "-"
            if !gzip {
                var magic: (UInt8, UInt8) = (0, 0)
                let n = withUnsafeMutableBytes(of: &magic) { pread(fd, $0.baseAddress, 2, 0) }
                if n < 0 {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw .unreadable(path: source.name, reason: reason)
                }
                gzip = n == 2 && magic.0 == 0x1F && magic.1 == 0x8B
            }
            if gzip {
                guard let g = gzdopen(fd, "rb") else {
                    close(fd)
                    throw .unreadable(path: source.name, reason: "cannot open gzip stream")
                }
                gzbuffer(g, 1 << 18)
                handle = .gz(g)
            } else {
                handle = .fd(fd, owned: true)
            }
        }
    }

    deinit {
        switch handle {
        case .fd(let fd, let owned): if owned { close(fd) }
        case .gz(let g): gzclose(g)
        case .memory: break
        }
    }

    /// Reads up to `count` bytes; 0 at end of input.
    func read(into p: UnsafeMutablePointer<UInt8>, count: Int) throws(TrainingError) -> Int {
        switch handle {
        case .fd(let fd, _):
            while true {
                let n = systemRead(fd, p, count)
                if n >= 0 { return n }
                if errno == EINTR { continue }
                throw .unreadable(path: name, reason: String(cString: strerror(errno)))
            }
        case .gz(let g):
            let n = gzread(g, p, UInt32(min(count, 1 << 30)))
            if n < 0 {
                var code: Int32 = 0
                let msg = gzerror(g, &code).map { String(cString: $0) } ?? "gzip error"
                throw .unreadable(path: name, reason: "gzip: \(msg)")
            }
            return Int(n)
        case .memory(let b, let pos):
            let n = min(count, b.count &- pos)
            if n > 0 {
                b.withUnsafeBufferPointer { src in p.update(from: src.baseAddress! + pos, count: n) }
            }
            handle = .memory(b, pos &+ n)
            return n
        }
    }
}

@inline(__always) private func systemRead(_ fd: Int32, _ p: UnsafeMutablePointer<UInt8>, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, p, n)
    #else
    return Darwin.read(fd, p, n)
    #endif
}

/// Cuts a stream into blocks of whole lines (the last line of the input may lack its `\n`).
final class LineBlockReader {
    private let stream: ByteStream
    private var buffer: [UInt8] = []
    /// Bytes of an incomplete line carried to the next block.
    private var carry: [UInt8] = []
    private var eof = false
    private(set) var bytesRead: Int = 0

    init(_ stream: ByteStream) { self.stream = stream }

    /// The next block of complete lines, at least `target` bytes unless the input ends; nil at the end.
    func next(target: Int) throws(TrainingError) -> [UInt8]? {
        if eof && carry.isEmpty { return nil }
        var block = carry
        carry = []
        var want = max(target, 1 << 16)
        while !eof {
            if block.count >= want {
                // Enough: cut after the last newline, if there is one.
                if let nl = block.lastIndex(of: 0x0A) {
                    carry = Array(block[(nl + 1)...])
                    block.removeSubrange((nl + 1)...)
                    return block
                }
                want = block.count * 2   // one line longer than the block: keep reading
            }
            let chunk = min(want - block.count, 1 << 22) + 1
            let old = block.count
            block.reserveCapacity(old + chunk)
            var got = 0
            var failure: TrainingError?
            block.append(contentsOf: repeatElement(0, count: chunk))
            block.withUnsafeMutableBufferPointer { p in
                do throws(TrainingError) { got = try stream.read(into: p.baseAddress! + old, count: chunk) } catch { failure = error }
            }
            if let failure { throw failure }
            block.removeLast(chunk - got)
            bytesRead &+= got
            if got == 0 { eof = true }
        }
        return block.isEmpty ? nil : block
    }
}
