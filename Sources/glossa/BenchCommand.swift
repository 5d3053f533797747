import ArgumentParser
import Foundation
import GlossaTokenizers

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure encoding speed on a text file (the Glossa side of `make bench`).",
        discussion: """
        The file is split into lines (keeping line ends) and grouped into documents of --lines lines,
        exactly as Tests/bench/encode_bench.py groups them for the peers. Prints one JSON line:
        load time (load_s) with the load's user and kernel CPU and page faults (load_user_ms, load_sys_ms,
        load_page_faults), MB per CPU-second, wall MB/s, each repetition's CPU milliseconds (rep_cpu_ms; the first
        builds tables on first use; CPU time counts all of the process's threads), tokens, peak RSS and an
        order-dependent hash of all ids (sum of (id+1)·P^(k+1) mod 2^64 over the concatenated id stream, -1
        between documents).
        With --scaling, one-thread and --threads repetitions alternate (--reps of each) and the JSON adds
        one_thread_wall_MBps and speedup (median wall of one thread ÷ median wall of --threads).
        With --fresh-state (one thread), every document is encoded with a new EncoderState, as a caller that keeps
        none gets it (short texts one call each: --lines 1).
        With --against FILE, repetitions of FILE (grouped the same way) alternate with those of --input and
        the JSON adds against_MB_per_cpu_s and per_byte_ratio (median CPU time per byte of --input ÷ that of
        FILE): how much slower adversarial text is than prose, with both measured in the same minutes.
        Example:
          glossa bench -t ../shared/tokenizers/cl100k_base/cl100k_base.tiktoken -i ../shared/bench/en_linux_docs.txt
          glossa bench -t ../shared/tokenizers/cl100k_base/cl100k_base.tiktoken -i ../shared/bench/en_linux_docs.txt --threads 2 --scaling
          glossa bench -t ../shared/tokenizers/cl100k_base/cl100k_base.tiktoken -i nowhitespace.txt --whole --against prose.txt --reps 7
          glossa bench -t ../shared/tokenizers/cl100k_base/cl100k_base.tiktoken -i lines.txt --lines 1 --fresh-state
        """)
    @OptionGroup var tok: TokenizerOptions
    @Option(name: [.short, .customLong("input")], help: "Text file to encode.")
    var input: String
    @Option(help: "Lines per document.")
    var lines = 50
    @Option(help: "Threads (1 = a plain loop on this thread).")
    var threads = 1
    @Option(help: "Repetitions; the median is reported.")
    var reps = 3
    @Flag(help: "Treat the whole file as one document.")
    var whole = false
    @Flag(help: """
        Measure scaling: alternate one-thread and --threads repetitions in this process and report both wall \
        rates and their ratio (medians), so that both see the same minutes of a shared machine.
        """)
    var scaling = false
    @Flag(help: "Encode every document with a new encoder state (one thread): what a caller that keeps no state gets.")
    var freshState = false
    @Option(help: "A second text file whose repetitions alternate with --input's; reports the per-byte time ratio.")
    var against: String?
    @Option(help: "Special tokens in the text: text (tiktoken encode_ordinary), allowed (HF encode), disallowed.")
    var special: SpecialTokenPolicy = .text

    func run() throws {
        let clock = ContinuousClock()
        let u0 = ResourceUsage(), t0 = clock.now
        let tokenizer = try tok.load()
        let loadSeconds = (clock.now - t0) / .seconds(1)
        let u1 = ResourceUsage()
        let text = try readFile(input)
        let docs = whole ? [text] : Self.documents(text, lines: lines)
        let other = try against.map { try readFile($0) }
        let otherDocs = other.map { whole ? [$0] : Self.documents($0, lines: lines) } ?? []
        var walls: [Double] = [], cpus: [Double] = [], oneThreadWalls: [Double] = [], otherCPUs: [Double] = []
        var ids: [[Int32]] = []
        func encodeAll(threads: Int, _ docs: [[UInt8]]) throws -> (wall: Double, cpu: Double) {
            // The previous repetition's ids are freed before the clocks start: freeing them is not encoding,
            // and after a batch it is serial work on this thread (arrays the workers allocated).
            ids = []
            let c0 = ResourceUsage().cpu, w0 = clock.now
            do {
                if threads == 1 && freshState {
                    // The stateless call: a new state for every document.
                    ids = try docs.map { try tokenizer.encodeIds(bytes: $0, specialTokens: special) }
                } else if threads == 1 {
                    var state = EncoderState()
                    ids = try docs.map { try tokenizer.encodeIds(bytes: $0, specialTokens: special, state: &state) }
                } else {
                    ids = try tokenizer.encodeIdsBatch(docs, specialTokens: special, threads: threads)
                }
            } catch { throw CLIError("\(error)") }
            return ((clock.now - w0) / .seconds(1), ResourceUsage().cpu - c0)
        }
        for _ in 0..<max(1, reps) {
            var oneThreadHash: UInt64 = 0
            if scaling && threads > 1 {
                oneThreadWalls.append(try encodeAll(threads: 1, docs).wall)
                oneThreadHash = Self.hash(ids).hash
            }
            if other != nil { otherCPUs.append(try encodeAll(threads: threads, otherDocs).cpu) }
            let (w, c) = try encodeAll(threads: threads, docs)
            if scaling && threads > 1 && Self.hash(ids).hash != oneThreadHash {
                throw CLIError("bench: \(threads) threads gave other ids than one thread")
            }
            walls.append(w); cpus.append(c)
        }
        let (h, tokens) = Self.hash(ids)
        let mb = Double(text.count) / 1e6
        let wall = walls.sorted()[walls.count / 2], cpu = cpus.sorted()[cpus.count / 2]
        /// `v` to `places` decimals, as the JSON prints it.
        func rounded(_ v: Double, _ places: Int) -> Double {
            let scale = [1.0, 10, 100, 1000][places]
            return (v * scale).rounded() / scale
        }
        writeStdout(jsonLine { w in
            w.beginObject()
            w.key("lib"); w.string("glossa")
            w.key("threads"); w.int(threads)
            w.key("bytes"); w.int(text.count)
            w.key("docs"); w.int(docs.count)
            w.key("load_s"); w.double(rounded(loadSeconds, 3))
            // The load's CPU (all threads) split into user and kernel time, and its page faults: on a VM a
            // first touch of a page costs microseconds of kernel time.
            w.key("load_user_ms"); w.double(rounded((u1.user - u0.user) * 1000, 1))
            w.key("load_sys_ms"); w.double(rounded((u1.system - u0.system) * 1000, 1))
            w.key("load_page_faults"); w.int(u1.minorFaults - u0.minorFaults)
            w.key("MB_per_cpu_s"); w.double(rounded(mb / cpu, 2))
            w.key("wall_MBps"); w.double(rounded(mb / wall, 2))
            w.key("rep_cpu_ms"); w.beginArray()
            for c in cpus { w.double(rounded(c * 1000, 2)) }
            w.endArray()
            if !oneThreadWalls.isEmpty {
                let one = oneThreadWalls.sorted()[oneThreadWalls.count / 2]
                w.key("one_thread_wall_MBps"); w.double(rounded(mb / one, 2))
                w.key("speedup"); w.double(rounded(one / wall, 3))
            }
            if let other {
                let oc = otherCPUs.sorted()[otherCPUs.count / 2]
                let omb = Double(other.count) / 1e6
                w.key("against_MB_per_cpu_s"); w.double(rounded(omb / oc, 2))
                w.key("per_byte_ratio"); w.double(rounded((cpu / mb) / (oc / omb), 3))
            }
            w.key("tokens"); w.int(tokens)
            w.key("hash"); w.string(String(h, radix: 16))
            w.key("peak_rss_MB"); w.double(rounded(ResourceUsage().peakMegabytes, 1))
            w.endObject()
        })
    }

    /// Order-dependent hash of the id stream (see the discussion above) and the number of ids.
    static func hash(_ ids: [[Int32]]) -> (hash: UInt64, count: Int) {
        var h: UInt64 = 0, p: UInt64 = 1, tokens = 0
        let P: UInt64 = 1_000_003
        for (k, d) in ids.enumerated() {
            if k > 0 { p = p &* P; h = h &+ 0 &* p }   // separator: (-1 + 1) · P^k
            for id in d { p = p &* P; h = h &+ UInt64(UInt32(bitPattern: id) &+ 1) &* p }
            tokens += d.count
        }
        return (h, tokens)
    }

    static func documents(_ text: [UInt8], lines: Int) -> [[UInt8]] {
        var docs: [[UInt8]] = []
        var start = 0, count = 0, i = 0
        while i < text.count {
            if text[i] == 0x0A {
                count += 1
                if count == lines { docs.append(Array(text[start...i])); start = i + 1; count = 0 }
            }
            i += 1
        }
        if start < text.count { docs.append(Array(text[start...])) }
        return docs
    }
}

/// The process's CPU seconds (all threads), minor page faults and peak RSS so far: one getrusage call.
struct ResourceUsage {
    let user: Double, system: Double, minorFaults: Int, peakMegabytes: Double
    var cpu: Double { user + system }
    init() {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        user = Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
        system = Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
        minorFaults = u.ru_minflt
        peakMegabytes = Double(u.ru_maxrss) / 1024
    }
}
