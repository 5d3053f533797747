import Foundation
import GlossaJSON
import GlossaTensor

/// Word or token vectors in fastText's `.vec` text format: a `count dim` header line, then `word v1 … vdim` lines.
public struct WordVectors: Sendable {
    public var words: [String]
    public let dim: Int
    public var data: [Float]
    public init(words: [String], dim: Int, data: [Float]) {
        precondition(data.count == words.count &* dim)
        self.words = words; self.dim = dim; self.data = data
    }
    public var count: Int { words.count }
    public func row(_ i: Int) -> ArraySlice<Float> { data[(i &* dim)..<((i &+ 1) &* dim)] }
    public func index() -> [String: Int] {
        var m = [String: Int](minimumCapacity: words.count)
        for (i, w) in words.enumerated() where m[w] == nil { m[w] = i }
        return m
    }

    public static func read(path: String) throws(InitError) -> WordVectors {
        let bytes: [UInt8]
        do { bytes = try BinaryFile.read(path) } catch { throw InitError("\(path): \(error)") }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard let head = lines.first else { throw InitError("\(path): empty .vec file") }
        let h = String(decoding: head, as: UTF8.self).split(separator: " ")
        guard h.count == 2, let n = Int(h[0]), let d = Int(h[1]), d > 0 else {
            throw InitError("\(path): line 1 should be \"count dim\", got \"\(String(decoding: head.prefix(60), as: UTF8.self))\"")
        }
        lines.removeFirst()
        guard lines.count == n else { throw InitError("\(path): the header says \(n) vectors, the file has \(lines.count)") }
        var words: [String] = [], data: [Float] = []
        words.reserveCapacity(n); data.reserveCapacity(n &* d)
        for (k, line) in lines.enumerated() {
            var line = line
            if line.last == 0x0D { line = line.dropLast() }
            // The word is everything before the last `d` fields (fastText words never contain spaces).
            let fields = line.split(separator: 0x20, omittingEmptySubsequences: true)
            guard fields.count == d &+ 1 else {
                throw InitError("\(path): line \(k &+ 2) has \(fields.count &- 1) values, expected \(d)")
            }
            words.append(String(decoding: fields[0], as: UTF8.self))
            for f in fields.dropFirst() {
                guard let v = Float(String(decoding: f, as: UTF8.self)) else {
                    throw InitError("\(path): line \(k &+ 2) has a value that is not a number")
                }
                data.append(v)
            }
        }
        return WordVectors(words: words, dim: d, data: data)
    }

    public func write(path: String) throws(InitError) {
        var out = [UInt8]()
        out.reserveCapacity(count &* dim &* 10)
        out.append(contentsOf: "\(count) \(dim)\n".utf8)
        for i in 0..<count {
            out.append(contentsOf: words[i].utf8)
            for j in 0..<dim {
                out.append(0x20)
                out.append(contentsOf: String(format: "%.5g", data[i &* dim &+ j]).utf8)
            }
            out.append(0x0A)
        }
        do { try BinaryFile.write(out, to: path) } catch { throw InitError("\(path): \(error)") }
    }

    /// Aux vectors for ids `0..<size`, failing when no id has a vector: the file is keyed by another tokenizer's
    /// spellings (or is not a token-vector file at all). `source` and `tokenizerName` only name things in the error.
    public func requireAuxVectors(size: Int, source: String, tokenizerName: String,
                                  spelling: (Int) -> String?) throws(InitError) -> AuxVectors {
        let a = auxVectors(size: size, spelling: spelling)
        guard a.present.contains(true) else {
            let sample = words.prefix(3).joined(separator: ", ")
            throw InitError("\(source): none of its \(count) keys (\(sample), …) is a token of \(tokenizerName); token vectors must be keyed by that tokenizer's spellings (glossa vectors train -t …)")
        }
        return a
    }

    /// Aux vectors for ids `0..<size` from a `.vec` keyed by a spelling function; ids without a vector are absent.
    public func auxVectors(size: Int, spelling: (Int) -> String?) -> AuxVectors {
        let idx = index()
        var a = AuxVectors(dim: dim, count: size)
        for id in 0..<size {
            guard let s = spelling(id), let r = idx[s] else { continue }
            a.present[id] = true
            for j in 0..<dim { a.data[id &* dim &+ j] = data[r &* dim &+ j] }
        }
        return a
    }
}

/// Skip-gram with negative sampling (word2vec/fastText `skipgram`), over integer token sequences, hogwild-parallel.
public struct SkipGramOptions: Sendable {
    public var dim = 100
    public var window = 5
    public var negatives = 10
    public var epochs = 3
    public var minCount = 10
    public var learningRate: Float = 0.05
    /// Sub-sampling threshold `t` (a token is kept with probability `sqrt(t/f) + t/f`).
    public var subsample: Double = 1e-4
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var seed: UInt64 = 1
    public init() {}
}

public enum SkipGram {
    /// Trains input vectors for ids `0..<vocabSize`; ids seen fewer than `minCount` times get no vector.
    public static func train(sequences: [[Int32]], vocabSize: Int, options o: SkipGramOptions) -> AuxVectors {
        let d = o.dim
        var counts = [Int](repeating: 0, count: vocabSize)
        var total = 0
        for s in sequences { for t in s where Int(t) < vocabSize && t >= 0 { counts[Int(t)] &+= 1; total &+= 1 } }
        let keep = counts.map { $0 >= o.minCount }
        // Unigram^0.75 table for negatives.
        let tableSize = 10_000_000
        var table = [Int32](); table.reserveCapacity(tableSize)
        var z = 0.0
        for i in 0..<vocabSize where keep[i] { z += pow(Double(counts[i]), 0.75) }
        if z > 0 {
            for i in 0..<vocabSize where keep[i] {
                let n = Int((pow(Double(counts[i]), 0.75) / z * Double(tableSize)).rounded())
                for _ in 0..<n { table.append(Int32(i)) }
            }
        }
        var discard = [Float](repeating: 1, count: vocabSize)
        for i in 0..<vocabSize where counts[i] > 0 {
            let f = Double(counts[i]) / Double(max(total, 1))
            discard[i] = Float(min(1, (o.subsample / f).squareRoot() + o.subsample / f))
        }
        var rng0 = RandomGenerator(seed: o.seed)
        var win = [Float](repeating: 0, count: vocabSize &* d)
        for i in win.indices { win[i] = (rng0.nextFloat() - 0.5) / Float(d) }
        var wout = [Float](repeating: 0, count: vocabSize &* d)
        guard !table.isEmpty else {
            return AuxVectors(dim: d, data: [Float](repeating: 0, count: vocabSize &* d), present: [Bool](repeating: false, count: vocabSize))
        }
        let threads = max(1, o.threads)
        let negTable = table, keepProb = discard
        let totalWork = Double(total) * Double(o.epochs)
        win.withUnsafeMutableBufferPointer { pin in wout.withUnsafeMutableBufferPointer { pout in
            nonisolated(unsafe) let vin = pin.baseAddress!
            nonisolated(unsafe) let vout = pout.baseAddress!
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var rng = RandomGenerator(seed: o.seed &+ UInt64(t) &* 7919)
                var grad = [Float](repeating: 0, count: d)
                var processed = 0.0
                var sent = [Int32]()
                for _ in 0..<o.epochs {
                    var si = t
                    while si < sequences.count {
                        sent.removeAll(keepingCapacity: true)
                        for w in sequences[si] where w >= 0 && Int(w) < vocabSize && keep[Int(w)] {
                            if rng.nextFloat() < keepProb[Int(w)] { sent.append(w) }
                        }
                        processed += Double(sequences[si].count)
                        let lr = o.learningRate * Float(max(1e-4, 1 - processed * Double(threads) / max(totalWork, 1)))
                        for (pos, center) in sent.enumerated() {
                            let b = 1 &+ rng.nextInt(o.window)
                            let lo = max(0, pos &- b), hi = min(sent.count &- 1, pos &+ b)
                            if lo > hi { continue }
                            for cpos in lo...hi where cpos != pos {
                                // Skip-gram: predict the context token from the centre's input vector.
                                let inp = vin + Int(center) &* d
                                for j in 0..<d { grad[j] = 0 }
                                for n in 0...o.negatives {
                                    let target: Int32
                                    let label: Float
                                    if n == 0 { target = sent[cpos]; label = 1 } else {
                                        target = negTable[rng.nextInt(negTable.count)]
                                        if target == sent[cpos] { continue }
                                        label = 0
                                    }
                                    let outp = vout + Int(target) &* d
                                    var dot: Float = 0
                                    for j in 0..<d { dot += inp[j] * outp[j] }
                                    let sg = 1 / (1 + exp(-max(-20, min(20, dot))))
                                    let g = lr * (label - sg)
                                    for j in 0..<d { grad[j] += g * outp[j]; outp[j] += g * inp[j] }
                                }
                                for j in 0..<d { inp[j] += grad[j] }
                            }
                        }
                        si &+= threads
                    }
                }
            }
        } }
        for i in 0..<vocabSize where !keep[i] { for j in 0..<d { win[i &* d &+ j] = 0 } }
        return AuxVectors(dim: d, data: win, present: keep)
    }
}

/// WECHSEL's alignment step (§3.1): dictionary pairs whose words are in both vector sets, then Procrustes.
public enum VectorAlignment {
    /// Dictionary pairs (source row, target row) found in both vector sets; `lines` counts the dictionary's
    /// `source<TAB>target` lines. Each pair is tried as given, lowercased and capitalized (WECHSEL), first match
    /// wins; repeated (source, target) row pairs are kept once.
    public static func pairs(source s: WordVectors, target t: WordVectors, dictionary: [UInt8],
                             dictionaryName: String) throws(InitError) -> (pairs: [(Int, Int)], lines: Int) {
        let si = s.index(), ti = t.index()
        var out: [(Int, Int)] = [], seen = Set<Int>(), lines = 0
        for line in String(decoding: dictionary, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let f = line.split(separator: "\t")
            guard f.count >= 2 else { continue }
            lines &+= 1
            let a = String(f[0]).trimmingCharacters(in: .whitespaces), b = String(f[1]).trimmingCharacters(in: .whitespacesAndNewlines)
            for (x, y) in [(a, b), (a.lowercased(), b.lowercased()), (a.capitalized, b.capitalized)] {
                if let i = si[x], let j = ti[y] {
                    if seen.insert(i &* t.count &+ j).inserted { out.append((i, j)) }
                    break
                }
            }
        }
        guard lines > 0 else { throw InitError("\(dictionaryName): no `source<TAB>target` line") }
        guard !out.isEmpty else {
            throw InitError("\(dictionaryName): none of its \(lines) pairs has both words in the vector files; nothing to align on")
        }
        return (out, lines)
    }

    /// The Procrustes rotation fitted on `pairs` (rows of `s` onto rows of `t`).
    public static func fit(source s: WordVectors, target t: WordVectors, pairs: [(Int, Int)]) throws(InitError) -> Tensor {
        var xs: [Float] = [], ys: [Float] = []
        xs.reserveCapacity(pairs.count &* s.dim); ys.reserveCapacity(pairs.count &* s.dim)
        for (i, j) in pairs { xs.append(contentsOf: s.row(i)); ys.append(contentsOf: t.row(j)) }
        return try Procrustes.solve(x: Tensor(shape: [pairs.count, s.dim], data: xs), y: Tensor(shape: [pairs.count, s.dim], data: ys))
    }

    /// Returns the source vectors rotated into the target space (fitted on every dictionary pair) and the number of
    /// pairs used.
    public static func align(source s: WordVectors, target t: WordVectors, dictionary: [UInt8],
                             names: (source: String, target: String, dictionary: String)) throws(InitError) -> (WordVectors, Int) {
        try checkDims(s, t, names: names)
        let (p, _) = try pairs(source: s, target: t, dictionary: dictionary, dictionaryName: names.dictionary)
        let w = try fit(source: s, target: t, pairs: p)
        let aligned = Linalg.matmul(Tensor(shape: [s.count, s.dim], data: s.data), w)
        return (WordVectors(words: s.words, dim: s.dim, data: aligned.data), p.count)
    }

    public static func checkDims(_ s: WordVectors, _ t: WordVectors, names: (source: String, target: String, dictionary: String)) throws(InitError) {
        guard s.dim == t.dim else {
            throw InitError("\(names.source) has dimension \(s.dim), \(names.target) has \(t.dim); Procrustes needs equal dimensions")
        }
    }

    /// Held-out evaluation: the pairs are grouped by source word, `fraction` of the source words (seeded shuffle) are
    /// held out, the rotation is fitted on the rest, and each held-out source word's rotated vector retrieves its
    /// nearest target word by cosine among **all** target vectors. Precision@1 = the fraction whose neighbour is one
    /// of its dictionary translations. `identityP1` is the same retrieval without the rotation (a floor).
    public static func evaluate(source s: WordVectors, target t: WordVectors, pairs: [(Int, Int)], fraction: Double = 0.1,
                                seed: UInt64 = 1) throws(InitError) -> AlignmentEvaluation {
        var gold = [Int: Set<Int>]()
        for (i, j) in pairs { gold[i, default: []].insert(j) }
        var srcWords = gold.keys.sorted()
        var rng = RandomGenerator(seed: seed)
        for i in stride(from: srcWords.count &- 1, to: 0, by: -1) { srcWords.swapAt(i, rng.nextInt(i &+ 1)) }
        let nHeld = Int((Double(srcWords.count) * fraction).rounded())
        guard nHeld > 0, nHeld < srcWords.count else {
            throw InitError("alignment evaluation: \(srcWords.count) source words with pairs; too few to hold out \(fraction)")
        }
        let held = Array(srcWords[0..<nHeld]), heldSet = Set(held)
        let train = pairs.filter { !heldSet.contains($0.0) }
        let w = try fit(source: s, target: t, pairs: train)
        let d = s.dim
        // Unit target rows once; queries in blocks (block × |target| scores).
        let tn = AuxVectors(dim: d, data: t.data, present: [Bool](repeating: true, count: t.count)).normalized()
        func p1(rotate: Bool) -> Double {
            var q = [Float](); q.reserveCapacity(held.count &* d)
            for i in held { q.append(contentsOf: s.row(i)) }
            if rotate { q = Linalg.matmul(Tensor(shape: [held.count, d], data: q), w).data }
            var hits = 0
            let block = 256, nt = t.count
            var scores = [Float](repeating: 0, count: block &* nt)
            var b0 = 0
            while b0 < held.count {
                let nb = min(block, held.count &- b0)
                q.withUnsafeBufferPointer { pq in tn.data.withUnsafeBufferPointer { pt in scores.withUnsafeMutableBufferPointer { ps in
                    BLAS.gemm(transB: true, m: nb, n: nt, k: d, a: pq.baseAddress! + b0 &* d, lda: d, b: pt.baseAddress!, ldb: d,
                              c: ps.baseAddress!, ldc: nt)
                } } }
                for r in 0..<nb {
                    var best = -1, bv = -Float.infinity
                    for j in 0..<nt where scores[r &* nt &+ j] > bv { bv = scores[r &* nt &+ j]; best = j }
                    if gold[held[b0 &+ r]]!.contains(best) { hits &+= 1 }
                }
                b0 &+= nb
            }
            return Double(hits) / Double(held.count)
        }
        return AlignmentEvaluation(pairs: pairs.count, trainPairs: train.count, heldOutWords: held.count,
                                   heldOutPairs: pairs.count &- train.count, targetCandidates: t.count,
                                   precisionAt1: p1(rotate: true), identityPrecisionAt1: p1(rotate: false))
    }
}

/// The result of `VectorAlignment.evaluate`.
public struct AlignmentEvaluation: Sendable {
    public var pairs: Int, trainPairs: Int, heldOutWords: Int, heldOutPairs: Int, targetCandidates: Int
    public var precisionAt1: Double, identityPrecisionAt1: Double
    /// No evaluation (nothing held out).
    public static let none = AlignmentEvaluation(pairs: 0, trainPairs: 0, heldOutWords: 0, heldOutPairs: 0, targetCandidates: 0,
                                                 precisionAt1: 0, identityPrecisionAt1: 0)
    public func json(extra: [(String, String)] = []) -> [UInt8] {
        var w = JSONWriter(pretty: true)
        w.beginObject()
        for (k, v) in extra { w.key(k); w.string(v) }
        w.key("pairs"); w.int(pairs); w.key("train_pairs"); w.int(trainPairs)
        w.key("heldout_source_words"); w.int(heldOutWords); w.key("heldout_pairs"); w.int(heldOutPairs)
        w.key("target_candidates"); w.int(targetCandidates)
        w.key("precision_at_1"); w.double(precisionAt1); w.key("identity_precision_at_1"); w.double(identityPrecisionAt1)
        w.endObject()
        return w.bytes + [0x0A]
    }
}

/// Orthogonal Procrustes: `W = argmin_{WᵀW=I} ‖X W − Y‖_F = U Vᵀ` for `Xᵀ Y = U S Vᵀ`.
public enum Procrustes {
    public static func solve(x: Tensor, y: Tensor) throws(InitError) -> Tensor {
        guard x.shape == y.shape, x.rank == 2 else { throw InitError("procrustes: X is \(x.shape), Y is \(y.shape)") }
        let n = x.shape[0], d = x.shape[1]
        guard n > 0 else { throw InitError("procrustes: no dictionary pairs to align on") }
        var m = [Float](repeating: 0, count: d &* d)
        x.data.withUnsafeBufferPointer { px in y.data.withUnsafeBufferPointer { py in m.withUnsafeMutableBufferPointer { pm in
            BLAS.gemm(transA: true, m: d, n: d, k: n, a: px.baseAddress!, lda: d, b: py.baseAddress!, ldb: d, c: pm.baseAddress!, ldc: d)
        } } }
        do {
            let (u, _, vt) = try Linalg.svd(Tensor(shape: [d, d], data: m))
            return Linalg.matmul(u, vt)
        } catch { throw InitError("procrustes: \(error)") }
    }
}
