import Foundation
import GlossaJSON
import GlossaTensor

/// fastText's character n-grams (Bojanowski et al. 2017, "Enriching Word Vectors with Subword Information";
/// `src/dictionary.cc` `computeSubwords`, `hash`): the n-grams of `<word>` for `minn ≤ n ≤ maxn` characters,
/// hashed into `bucket` rows.
public enum CharNgrams {
    /// fastText's `Dictionary::hash`: 32-bit FNV-1a, except that each byte is sign-extended (`int8_t`) before the
    /// xor. That differs from textbook FNV-1a for bytes ≥ 0x80 (all non-ASCII text); it is reproduced so that bucket
    /// ids match fastText's.
    @inline(__always)
    public static func hash<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var h: UInt32 = 2_166_136_261
        for b in bytes {
            h ^= UInt32(bitPattern: Int32(Int8(bitPattern: b)))
            h = h &* 16_777_619
        }
        return h
    }

    /// The n-grams of `wrapped` (already `<…>`-wrapped) in fastText's order: by start character, then by length.
    /// Lengths count UTF-8 characters (continuation bytes never start or end an n-gram); single characters at the
    /// word edges are skipped, as fastText does (only matters for `minn = 1`).
    public static func ngrams(wrapped w: [UInt8], minn: Int, maxn: Int, _ body: (ArraySlice<UInt8>) -> Void) {
        guard maxn > 0 else { return }
        let len = w.count
        var i = 0
        while i < len {
            if w[i] & 0xC0 == 0x80 { i &+= 1; continue }
            var j = i, n = 1
            while j < len && n <= maxn {
                j &+= 1
                while j < len && w[j] & 0xC0 == 0x80 { j &+= 1 }
                if n >= minn && !(n == 1 && (i == 0 || j == len)) { body(w[i..<j]) }
                n &+= 1
            }
            i &+= 1
        }
    }

    /// Bucket indices (`hash % bucket`, without fastText's `nwords` offset) of the n-grams of `<word>`.
    public static func bucketIds(word: [UInt8], minn: Int, maxn: Int, bucket: Int) -> [Int] {
        guard bucket > 0 else { return [] }
        var out: [Int] = []
        ngrams(wrapped: [0x3C] + word + [0x3E], minn: minn, maxn: maxn) { out.append(Int(hash($0) % UInt32(bucket))) }
        return out
    }
}

/// A fastText-style subword model: one input row per vocabulary word plus `bucket` n-gram rows. The vector of any
/// string is the mean of its rows (its word row when it is in the vocabulary, and its n-gram rows), so
/// out-of-vocabulary strings get vectors too (fastText `getWordVector`).
///
/// File format (`.glft`, little-endian): the 8 bytes `GLFTVEC1`; UInt32 `dim`, `minn`, `maxn`, `bucket`, `nwords`;
/// per word a UInt32 byte length and its UTF-8 bytes; then `(nwords + bucket) × dim` Float32 input rows (word rows
/// first). The output (context) matrix is not kept: only input vectors are ever queried.
public struct SubwordVectors: Sendable {
    public static let magic: [UInt8] = Array("GLFTVEC1".utf8)
    public var words: [String]
    public let dim: Int, minn: Int, maxn: Int, bucket: Int
    /// `(words.count + bucket) × dim`.
    public var input: [Float]
    public let wordIndex: [String: Int]

    public init(words: [String], dim: Int, minn: Int, maxn: Int, bucket: Int, input: [Float]) {
        precondition(input.count == (words.count &+ bucket) &* dim)
        self.words = words; self.dim = dim; self.minn = minn; self.maxn = maxn; self.bucket = bucket; self.input = input
        var m = [String: Int](minimumCapacity: words.count)
        for (i, w) in words.enumerated() where m[w] == nil { m[w] = i }
        wordIndex = m
    }

    /// The input rows making up the vector of `word`: its word row (if in the vocabulary), then its n-gram rows.
    public func rows(of word: String) -> [Int] {
        var r: [Int] = []
        if let i = wordIndex[word] { r.append(i) }
        for b in CharNgrams.bucketIds(word: Array(word.utf8), minn: minn, maxn: maxn, bucket: bucket) { r.append(words.count &+ b) }
        return r
    }

    /// fastText `getWordVector`: the mean of the rows; nil when the string has none (e.g. the empty string with
    /// minn ≥ 3) or the mean is exactly zero.
    public func vector(for word: String) -> [Float]? {
        let r = rows(of: word)
        guard !r.isEmpty else { return nil }
        var v = [Float](repeating: 0, count: dim)
        input.withUnsafeBufferPointer { p in
            for row in r { let o = row &* dim; for j in 0..<dim { v[j] += p[o &+ j] } }
        }
        let inv = 1 / Float(r.count)
        var nz = false
        for j in 0..<dim { v[j] *= inv; if v[j] != 0 { nz = true } }
        return nz ? v : nil
    }

    /// Vectors of the vocabulary words (what fastText writes as `.vec`).
    public func wordVectors() -> WordVectors {
        var data = [Float](); data.reserveCapacity(words.count &* dim)
        for w in words { data.append(contentsOf: vector(for: w) ?? [Float](repeating: 0, count: dim)) }
        return WordVectors(words: words, dim: dim, data: data)
    }

    /// Every input row multiplied by `w` (`dim × dim`). Word vectors are means of rows, so this rotates every
    /// string's vector, in- or out-of-vocabulary, by `w`.
    public func transformed(by w: Tensor) -> SubwordVectors {
        let n = words.count &+ bucket
        var out = [Float](repeating: 0, count: n &* dim)
        input.withUnsafeBufferPointer { pi in w.data.withUnsafeBufferPointer { pw in out.withUnsafeMutableBufferPointer { po in
            BLAS.gemm(m: n, n: dim, k: dim, a: pi.baseAddress!, lda: dim, b: pw.baseAddress!, ldb: dim, c: po.baseAddress!, ldc: dim)
        } } }
        return SubwordVectors(words: words, dim: dim, minn: minn, maxn: maxn, bucket: bucket, input: out)
    }

    public static func isModelFile(_ bytes: [UInt8]) -> Bool { bytes.count >= 8 && Array(bytes[0..<8]) == magic }

    public func write(path: String) throws(InitError) {
        var out = [UInt8]()
        out.reserveCapacity(64 &+ words.count &* 12 &+ input.count &* 4)
        out.append(contentsOf: Self.magic)
        func u32(_ v: Int) { var x = UInt32(v).littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        u32(dim); u32(minn); u32(maxn); u32(bucket); u32(words.count)
        for w in words { let b = Array(w.utf8); u32(b.count); out.append(contentsOf: b) }
        input.withUnsafeBytes { out.append(contentsOf: $0) }   // Float32 little-endian on every supported host
        do { try BinaryFile.write(out, to: path) } catch { throw InitError("\(path): \(error)") }
    }

    public static func read(path: String) throws(InitError) -> SubwordVectors {
        let bytes: [UInt8]
        do { bytes = try BinaryFile.read(path) } catch { throw InitError("\(path): \(error)") }
        return try parse(bytes, name: path)
    }

    static func parse(_ b: [UInt8], name: String) throws(InitError) -> SubwordVectors {
        guard isModelFile(b) else { throw InitError("\(name): not a glossa subword-vector model (no GLFTVEC1 header)") }
        var p = 8
        func u32() throws(InitError) -> Int {
            guard p &+ 4 <= b.count else { throw InitError("\(name): truncated header") }
            let v = UInt32(b[p]) | UInt32(b[p &+ 1]) << 8 | UInt32(b[p &+ 2]) << 16 | UInt32(b[p &+ 3]) << 24
            p &+= 4
            return Int(v)
        }
        let dim = try u32(), minn = try u32(), maxn = try u32(), bucket = try u32(), n = try u32()
        guard dim > 0 else { throw InitError("\(name): dimension 0") }
        var words = [String](); words.reserveCapacity(n)
        for _ in 0..<n {
            let l = try u32()
            guard p &+ l <= b.count else { throw InitError("\(name): truncated word list") }
            words.append(String(decoding: b[p..<(p &+ l)], as: UTF8.self)); p &+= l
        }
        let count = (n &+ bucket) &* dim
        guard b.count &- p == count &* 4 else {
            throw InitError("\(name): expected \(count) Float32 values after the word list, found \(b.count &- p) bytes")
        }
        var input = [Float](repeating: 0, count: count)
        input.withUnsafeMutableBytes { dst in b.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[p...])) } }
        return SubwordVectors(words: words, dim: dim, minn: minn, maxn: maxn, bucket: bucket, input: input)
    }
}

/// Options of the fastText-style trainer; defaults are fastText's `skipgram` defaults except `bucket`
/// (fastText: 2,000,000 rows = 800 MB at d = 100).
public struct SubwordTrainingOptions: Sendable {
    public var dim = 100
    public var window = 5
    public var negatives = 5
    public var epochs = 5
    public var minCount = 5
    public var learningRate: Float = 0.05
    public var subsample: Double = 1e-4
    public var minn = 3
    public var maxn = 6
    public var bucket = 2_000_000
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var seed: UInt64 = 1
    public init() {}
}

/// fastText `skipgram` with negative sampling and character n-grams, hogwild-parallel over lines.
public enum SubwordSkipGram {
    /// `sequences` hold indices into `words` (one sequence per line, fastText's context never crosses a line).
    /// Words seen fewer than `minCount` times are dropped from the vocabulary and from the text (as fastText does);
    /// with `maxn = 0` or `bucket = 0` this is plain skip-gram over words.
    public static func train(sequences: [[Int32]], words: [String], options o: SubwordTrainingOptions,
                             log: (@Sendable (String) -> Void)? = nil) -> SubwordVectors {
        let d = o.dim
        var counts = [Int](repeating: 0, count: words.count)
        for s in sequences { for t in s where t >= 0 && Int(t) < words.count { counts[Int(t)] &+= 1 } }
        // Vocabulary: kept words sorted by count (fastText's order), then a remap of the sequences.
        let kept = (0..<words.count).filter { counts[$0] >= o.minCount }.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
        var remap = [Int32](repeating: -1, count: words.count)
        for (k, w) in kept.enumerated() { remap[w] = Int32(k) }
        let vocab = kept.map { words[$0] }, vcount = kept.map { counts[$0] }
        let nw = vocab.count, bucket = o.maxn > 0 ? o.bucket : 0
        let seqs: [[Int32]] = sequences.map { s in s.compactMap { t in t >= 0 && Int(t) < words.count && remap[Int(t)] >= 0 ? remap[Int(t)] : nil } }
        let total = vcount.reduce(0, +)
        // Rows per word: its own row, then its n-gram rows (flattened, CSR-style).
        var rowStart = [Int](repeating: 0, count: nw &+ 1)
        var rowIds = [Int32]()
        for (k, w) in vocab.enumerated() {
            rowIds.append(Int32(k))
            if bucket > 0 {
                for b in CharNgrams.bucketIds(word: Array(w.utf8), minn: o.minn, maxn: o.maxn, bucket: bucket) { rowIds.append(Int32(nw &+ b)) }
            }
            rowStart[k &+ 1] = rowIds.count
        }
        // Negatives: unigram^0.5 table (fastText's NEGATIVE_TABLE_SIZE and power), shuffled.
        var rng0 = RandomGenerator(seed: o.seed)
        var table = [Int32]()
        let tableSize = 10_000_000
        var z = 0.0
        for c in vcount { z += Double(c).squareRoot() }
        if z > 0 {
            table.reserveCapacity(tableSize)
            for (k, c) in vcount.enumerated() {
                let n = Int(Double(c).squareRoot() / z * Double(tableSize))
                for _ in 0..<n { table.append(Int32(k)) }
            }
            if table.isEmpty { table = (0..<nw).map(Int32.init) }
            for i in stride(from: table.count &- 1, to: 0, by: -1) { table.swapAt(i, rng0.nextInt(i &+ 1)) }
        }
        var keepProb = [Float](repeating: 1, count: nw)
        for k in 0..<nw {
            let f = Double(vcount[k]) / Double(max(total, 1))
            keepProb[k] = Float(min(1, (o.subsample / f).squareRoot() + o.subsample / f))
        }
        let rowsTotal = nw &+ bucket
        var win = [Float](repeating: 0, count: rowsTotal &* d)
        let scale = 1 / Float(d)
        for i in win.indices { win[i] = (rng0.nextFloat() * 2 - 1) * scale }   // uniform(-1/d, 1/d), fastText
        var wout = [Float](repeating: 0, count: nw &* d)
        guard !table.isEmpty else {
            return SubwordVectors(words: vocab, dim: d, minn: o.minn, maxn: o.maxn, bucket: bucket, input: win)
        }
        let threads = max(1, o.threads)
        let negTable = table, keep = keepProb, starts = rowStart, ids = rowIds
        let totalWork = Double(total) * Double(o.epochs)
        let t0 = Date()
        win.withUnsafeMutableBufferPointer { pin in wout.withUnsafeMutableBufferPointer { pout in
            nonisolated(unsafe) let vin = pin.baseAddress!
            nonisolated(unsafe) let vout = pout.baseAddress!
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var rng = RandomGenerator(seed: o.seed &+ UInt64(t &+ 1) &* 7919)
                let hidden = UnsafeMutablePointer<Float>.allocate(capacity: d)
                let grad = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { hidden.deallocate(); grad.deallocate() }
                var processed = 0.0, negPos = rng.nextInt(negTable.count), lastLog = 0.0
                var sent = [Int32]()
                for _ in 0..<o.epochs {
                    var si = t
                    while si < seqs.count {
                        sent.removeAll(keepingCapacity: true)
                        for w in seqs[si] where rng.nextFloat() < keep[Int(w)] { sent.append(w) }
                        processed += Double(seqs[si].count)
                        let progress = processed * Double(threads) / max(totalWork, 1)
                        let lr = o.learningRate * Float(max(0, 1 - progress))
                        if t == 0, let log, progress - lastLog >= 0.1 {
                            lastLog = progress
                            log(String(format: "  %3.0f%%  lr %.4f  %.0f s", min(progress, 1) * 100, lr, Date().timeIntervalSince(t0)))
                        }
                        for pos in 0..<sent.count {
                            let center = Int(sent[pos])
                            let r0 = starts[center], r1 = starts[center &+ 1]
                            let inv = 1 / Float(r1 &- r0)
                            let b = 1 &+ rng.nextInt(o.window)
                            let lo = max(0, pos &- b), hi = min(sent.count &- 1, pos &+ b)
                            if lo > hi { continue }
                            for cpos in lo...hi where cpos != pos {
                                // fastText `Model::update`: hidden = mean of the centre's rows; the gradient of the
                                // (1 + negatives) logistic losses is added, unscaled, to every one of those rows.
                                for j in 0..<d { hidden[j] = 0; grad[j] = 0 }
                                for r in r0..<r1 { FloatKernels.axpy(1, vin + Int(ids[r]) &* d, hidden, d) }
                                for j in 0..<d { hidden[j] *= inv }
                                let positive = sent[cpos]
                                for n in 0...o.negatives {
                                    var target = positive
                                    var label: Float = 1
                                    if n > 0 {
                                        // fastText `getNegative`: the next table entry that is not the positive.
                                        repeat { target = negTable[negPos]; negPos &+= 1; if negPos == negTable.count { negPos = 0 } }
                                        while target == positive && nw > 1
                                        label = 0
                                    }
                                    let outp = vout + Int(target) &* d
                                    let dot = FloatKernels.dot(hidden, outp, d)
                                    let sg = 1 / (1 + exp(-max(-20, min(20, dot))))
                                    let g = lr * (label - sg)
                                    FloatKernels.axpy(g, outp, grad, d)
                                    FloatKernels.axpy(g, hidden, outp, d)
                                }
                                for r in r0..<r1 { FloatKernels.axpy(1, grad, vin + Int(ids[r]) &* d, d) }
                            }
                        }
                        si &+= threads
                    }
                }
            }
        } }
        return SubwordVectors(words: vocab, dim: d, minn: o.minn, maxn: o.maxn, bucket: bucket, input: win)
    }
}

/// Splits text into words for word-level vectors.
public enum WordSplitter {
    public enum Mode: String, Sendable, CaseIterable {
        /// fastText's own rule: split on ASCII whitespace only (punctuation stays attached).
        case whitespace
        /// Runs of letters, marks and digits (Unicode properties), every other non-space character a word of its
        /// own — roughly ICU word boundaries for alphabetic scripts, and what the tokenized corpora behind fastText's
        /// published vectors look like (punctuation split off).
        case unicode
    }

    public static func split(_ line: [UInt8], mode: Mode, into out: inout [String]) {
        switch mode {
        case .whitespace:
            for w in line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0B || $0 == 0x0C }) {
                out.append(String(decoding: w, as: UTF8.self))
            }
        case .unicode:
            var cur = String.UnicodeScalarView()
            func flush() { if !cur.isEmpty { out.append(String(cur)); cur = String.UnicodeScalarView() } }
            for u in String(decoding: line, as: UTF8.self).unicodeScalars {
                let p = u.properties
                if p.isWhitespace { flush(); continue }
                let wordChar: Bool
                switch p.generalCategory {
                case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                     .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
                    wordChar = true
                default: wordChar = false
                }
                if wordChar { cur.append(u) } else { flush(); out.append(String(u)) }
            }
            flush()
        }
    }
}
