import Foundation
import GlossaJSON
import GlossaTensor
import GlossaTokenizers

/// Re-segmentation of a token with the old tokenizer restricted to a subset of its vocabulary (spec §12.3):
/// BPE replays the merges, skipping those whose output is hidden; WordPiece is greedy longest match over R.
public struct RestrictedDecomposer: Sendable {
    enum Kind: Sendable { case bpe(pairs: [UInt64: UInt64], byteIds: [Int32]), wordPiece(Vocabulary), none }
    let kind: Kind
    let style: VocabularyStyle

    public init(tokenizer: Tokenizer, style: VocabularyStyle) {
        self.style = style
        switch tokenizer.model {
        case .bpe(let m) where m.byteLevel:
            let voc = m.vocabulary
            var pairs = [UInt64: UInt64](minimumCapacity: m.merges.count)
            for (rank, (l, r)) in m.merges.enumerated() {
                guard let ls = voc.token(l), let rs = voc.token(r), let out = voc.id(of: ls + rs) else { continue }
                let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
                if pairs[key] == nil { pairs[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: out)) }
            }
            var byteIds = [Int32](repeating: -1, count: 256)
            for b in 0..<256 { byteIds[b] = voc.id(of: ByteLevel.encode([UInt8(b)])) ?? -1 }
            kind = .bpe(pairs: pairs, byteIds: byteIds)
        case .wordPiece(let m):
            kind = .wordPiece(m.vocabulary)
        default:
            kind = .none
        }
    }

    public var isSupported: Bool { if case .none = kind { return false }; return true }

    public func decompose(_ s: TokenSurface, excluded: Set<Int>) -> [Int] {
        switch kind {
        case .none: return []
        case .wordPiece(let v):
            return WordPieceGreedy.split(s.bytes, continuation: !s.wordInitial, vocabulary: v, excluded: excluded)
        case .bpe(let pairs, let byteIds):
            var sym = s.fvtText(style: style).map { byteIds[Int($0)] }
            if sym.contains(-1) { return [] }
            while sym.count > 1 {
                var best = UInt64.max, at = -1
                for i in 0..<(sym.count &- 1) {
                    let key = UInt64(UInt32(bitPattern: sym[i])) << 32 | UInt64(UInt32(bitPattern: sym[i &+ 1]))
                    guard let v = pairs[key] else { continue }
                    let out = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: v)))
                    if excluded.contains(out) { continue }
                    if v < best { best = v; at = i }
                }
                if at < 0 { break }
                sym[at] = Int32(bitPattern: UInt32(truncatingIfNeeded: best))
                sym.remove(at: at &+ 1)
            }
            return sym.map(Int.init)
        }
    }
}

/// The hide-and-reconstruct probe (spec §12): hide 10% of ordinary tokens, rebuild them from the rest.
public struct ProbeOptions: Sendable {
    public var methods: [InitOptions]
    public var seeds = 5
    public var fraction = 0.1
    /// Fraction of lowest-norm candidates dropped as under-trained.
    public var lowNormFraction = 0.01
    public var boundContexts = 256
    /// cw2v's corpus, tokenized with the model's tokenizer (the hidden ids are the "new" tokens); nil skips cw2v.
    public var corpus: [[Int32]]? = nil
    public init(methods: [InitOptions]) { self.methods = methods }
}

public struct ProbeMetrics: Sendable {
    public var count = 0
    public var centeredCos = 0.0, rawCos = 0.0, relL2 = 0.0, normRatio = 0.0
    public var top1 = 0.0, top10 = 0.0, mrr = 0.0
    public var centeredCosValues: [Double] = []
    mutating func add(centered: Double, raw: Double, rel: Double, ratio: Double, rank: Int) {
        count &+= 1; centeredCos += centered; rawCos += raw; relL2 += rel; normRatio += ratio
        if rank == 1 { top1 += 1 }
        if rank <= 10 { top10 += 1 }
        mrr += 1 / Double(rank)
        centeredCosValues.append(centered)
    }
    public var summary: [String: Double] {
        let n = Double(max(count, 1))
        let sorted = centeredCosValues.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        return ["n": Double(count), "centered_cos": centeredCos / n, "centered_cos_median": median, "raw_cos": rawCos / n,
                "rel_l2": relL2 / n, "norm_ratio": normRatio / n, "top1": top1 / n, "top10": top10 / n, "mrr": mrr / n]
    }
}

public struct ProbeResult: Sendable {
    public var model: String
    public var method: String
    public var seed: Int
    public var matrix: String          // "input" or "output"
    public var overall: ProbeMetrics
    public var strata: [String: ProbeMetrics]
    public var boundExcess: Double?
    public var seconds: Double
}

public enum Probe {
    public static func stratumNames(_ s: TokenSurface) -> [String] {
        let n = s.characterCount
        let len = n <= 3 ? "len 2-3" : n <= 6 ? "len 4-6" : "len 7+"
        let pos = s.wordInitial ? "word-start" : "continuation"
        var script = "other"
        if let u = String(decoding: s.bytes, as: UTF8.self).unicodeScalars.first(where: { $0.properties.isAlphabetic }) {
            switch u.value {
            case 0x41...0x24F: script = "latin"
            case 0x370...0x3FF: script = "greek"
            case 0x400...0x52F: script = "cyrillic"
            case 0x3040...0x30FF, 0x3400...0x9FFF, 0xAC00...0xD7AF: script = "cjk"
            default: script = "other"
            }
        } else { script = "no-letter" }
        return [len, pos, "script " + script]
    }

    /// Runs every method on every seed for one model's matrices.
    /// - Parameters:
    ///   - input: `E` (rows by id); `output`: the untied head, if any.
    ///   - aux: token vectors indexed by id (for the aux methods; nil skips them with a note).
    public static func run(modelName: String, input: Tensor, output: Tensor?, tokenizer: Tokenizer, aux: AuxVectors?,
                           options: ProbeOptions, log: (String) -> Void) throws(InitError) -> [ProbeResult] {
        let surf = VocabularySurfaces(tokenizer: tokenizer)
        let v = min(surf.count, input.shape[0]), d = input.shape[1]
        let dec = RestrictedDecomposer(tokenizer: tokenizer, style: surf.style)
        // Candidate pool: ordinary multi-character tokens, minus the lowest-norm 1%.
        var pool = (0..<v).filter { surf[$0].kind == .normal && surf[$0].characterCount >= 2 }
        func norm(_ m: Tensor, _ r: Int) -> Double {
            var s = 0.0
            for j in 0..<d { let x = Double(m.data[r &* d &+ j]); s += x * x }
            return s.squareRoot()
        }
        let byNorm = pool.sorted { norm(input, $0) < norm(input, $1) }
        let drop = Set(byNorm.prefix(Int(Double(pool.count) * options.lowNormFraction)))
        pool = pool.filter { !drop.contains($0) }
        let nonSpecial = (0..<v).filter { surf[$0].kind != .special }
        log("\(modelName): \(v) ids, pool \(pool.count) candidates, hiding \(Int(Double(pool.count) * options.fraction)) per seed")
        var results: [ProbeResult] = []
        for seed in 0..<options.seeds {
            var rng = RandomGenerator(seed: UInt64(seed) &+ 1000)
            var shuffled = pool
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, rng.nextInt(i + 1)) }
            let hidden = Array(shuffled.prefix(Int(Double(pool.count) * options.fraction))).sorted()
            let hiddenSet = Set(hidden)
            let rest = nonSpecial.filter { !hiddenSet.contains($0) }
            let decs = hidden.map { dec.decompose(surf[$0], excluded: hiddenSet) }
            var inputs = PlanInputs(decompositions: decs, copyFrom: [Int?](repeating: nil, count: hidden.count))
            if let aux {
                var q = AuxVectors(dim: aux.dim, count: hidden.count)
                for (i, id) in hidden.enumerated() where aux.present[id] {
                    q.present[i] = true
                    for j in 0..<aux.dim { q.data[i &* aux.dim &+ j] = aux.data[id &* aux.dim &+ j] }
                }
                let anchors = rest.filter { aux.present[$0] }
                var a = AuxVectors(dim: aux.dim, count: anchors.count)
                for (i, id) in anchors.enumerated() {
                    a.present[i] = true
                    for j in 0..<aux.dim { a.data[i &* aux.dim &+ j] = aux.data[id &* aux.dim &+ j] }
                }
                inputs.queryAux = q; inputs.anchorAux = a; inputs.anchorIds = anchors
            }
            if let corpus = options.corpus {
                inputs.cw2v = CW2VInputs(input: input, output: output, sequences: corpus, newIds: hidden, oldRows: rest)
            }
            for m in options.methods {
                if m.method.needsAux && aux == nil { continue }
                if m.method == .cw2v && options.corpus == nil { continue }
                let t0 = Date()
                let plan = try EmbeddingInitializer.plan(inputs, options: m)
                var mats: [(String, Tensor, [RowRecipe])] = [("input", input, plan.input)]
                if let output { mats.append(("output", output, plan.output)) }
                for (label, mat, recipes) in mats {
                    var src = mat
                    if m.method == .ofa, let k = m.ofaDim, k < d { src = try EmbeddingInitializer.lowRank(mat, dim: k) }
                    var opts = m.sampling
                    opts.seed = opts.seed &+ UInt64(seed)
                    let (rows, _) = try PlanApplier.apply(recipes, matrix: src, statRows: rest, options: opts)
                    var r = evaluate(matrix: mat, hidden: hidden, rest: rest, predicted: rows, surfaces: surf, auxPresent: aux?.present)
                    // Output bound (the head, or E itself when tied).
                    if label == "output" || output == nil {
                        r.boundExcess = boundExcess(head: mat, rest: rest, predicted: rows, contexts: input,
                                                    count: options.boundContexts, seed: UInt64(seed))
                    }
                    r.model = modelName; r.method = Probe.label(m); r.seed = seed; r.matrix = label
                    r.seconds = Date().timeIntervalSince(t0)
                    results.append(r)
                    log(String(format: "%@ seed %d %@ %@: centered cos %.3f, top-10 %.3f (%.1f s)", modelName, seed, r.method,
                               label, r.overall.summary["centered_cos"]!, r.overall.summary["top10"]!, r.seconds))
                }
            }
        }
        return results
    }

    public static func label(_ m: InitOptions) -> String {
        switch m.method {
        case .fvt: return m.fvtVariant == .mean ? "fvt" : "fvt-\(m.fvtVariant.rawValue)"
        case .mvn: return m.sampling.mvnScale == 1e-5 ? "mvn" : "mvn(\(m.sampling.mvnScale))"
        case .ofa: return m.ofaDim.map { "ofa-\($0)" } ?? "ofa"
        default: return m.method.rawValue
        }
    }

    /// `auxPresent` (when token vectors are given) adds the strata "aux vector" / "no aux vector", so every method,
    /// FVT included, can be compared on the hidden tokens that the aux methods can actually use.
    static func evaluate(matrix m: Tensor, hidden: [Int], rest: [Int], predicted: Tensor,
                         surfaces: VocabularySurfaces, auxPresent: [Bool]? = nil) -> ProbeResult {
        let d = m.shape[1]
        let mu = RowStatistics(matrix: m, rows: rest).mean
        // Candidate set for NN recovery: R ∪ H, unit-normalized.
        let cand = (rest + hidden)
        var cn = [Float](repeating: 0, count: cand.count &* d)
        for (i, r) in cand.enumerated() {
            var s: Float = 0
            for j in 0..<d { let x = m.data[r &* d &+ j]; s += x * x }
            let inv = s > 0 ? 1 / s.squareRoot() : 0
            for j in 0..<d { cn[i &* d &+ j] = m.data[r &* d &+ j] * inv }
        }
        var pn = predicted.data
        for i in 0..<hidden.count {
            var s: Float = 0
            for j in 0..<d { s += pn[i &* d &+ j] * pn[i &* d &+ j] }
            let inv = s > 0 ? 1 / s.squareRoot() : 0
            for j in 0..<d { pn[i &* d &+ j] *= inv }
        }
        var overall = ProbeMetrics()
        var strata = [String: ProbeMetrics]()
        let batch = 256
        var sims = [Float](repeating: 0, count: batch &* cand.count)
        var b0 = 0
        while b0 < hidden.count {
            let nb = min(batch, hidden.count &- b0)
            pn.withUnsafeBufferPointer { pp in cn.withUnsafeBufferPointer { pc in sims.withUnsafeMutableBufferPointer { ps in
                BLAS.gemm(transB: true, m: nb, n: cand.count, k: d, a: pp.baseAddress! + b0 &* d, lda: d,
                          b: pc.baseAddress!, ldb: d, c: ps.baseAddress!, ldc: cand.count)
            } } }
            for bi in 0..<nb {
                let i = b0 &+ bi, id = hidden[i]
                let trueIdx = rest.count &+ i
                let ts = sims[bi &* cand.count &+ trueIdx]
                var rank = 1
                for c in 0..<cand.count where c != trueIdx && sims[bi &* cand.count &+ c] > ts { rank &+= 1 }
                var dot = 0.0, ne = 0.0, np = 0.0, cdot = 0.0, cne = 0.0, cnp = 0.0, diff = 0.0
                for j in 0..<d {
                    let e = Double(m.data[id &* d &+ j]), p = Double(predicted.data[i &* d &+ j]), u = Double(mu[j])
                    dot += e * p; ne += e * e; np += p * p
                    cdot += (e - u) * (p - u); cne += (e - u) * (e - u); cnp += (p - u) * (p - u)
                    diff += (e - p) * (e - p)
                }
                let raw = dot / max((ne * np).squareRoot(), 1e-30)
                let cen = cdot / max((cne * cnp).squareRoot(), 1e-30)
                let rel = diff.squareRoot() / max(ne.squareRoot(), 1e-30)
                let ratio = np.squareRoot() / max(ne.squareRoot(), 1e-30)
                overall.add(centered: cen, raw: raw, rel: rel, ratio: ratio, rank: rank)
                var names = stratumNames(surfaces[id])
                if let auxPresent { names.append(id < auxPresent.count && auxPresent[id] ? "aux vector" : "no aux vector") }
                for s in names { strata[s, default: ProbeMetrics()].add(centered: cen, raw: raw, rel: rel, ratio: ratio, rank: rank) }
            }
            b0 &+= nb
        }
        return ProbeResult(model: "", method: "", seed: 0, matrix: "", overall: overall, strata: strata, boundExcess: nil, seconds: 0)
    }

    static func boundExcess(head: Tensor, rest: [Int], predicted: Tensor, contexts: Tensor, count: Int, seed: UInt64) -> Double {
        // Append the predicted rows after the old ones in a scratch head.
        let d = head.shape[1], n = predicted.shape[0]
        var data = [Float](); data.reserveCapacity((rest.count &+ n) &* d)
        for r in rest { data.append(contentsOf: head.data[(r &* d)..<((r &+ 1) &* d)]) }
        data.append(contentsOf: predicted.data)
        let h = Tensor(shape: [rest.count &+ n, d], data: data)
        var ctx = [Float]()
        for r in rest.prefix(50_000) { ctx.append(contentsOf: contexts.data[(r &* d)..<((r &+ 1) &* d)]) }
        let c = Tensor(shape: [ctx.count / d, d], data: ctx)
        return LogitBound.excessRate(head: h, oldRows: Array(0..<rest.count), newRows: Array(rest.count..<(rest.count &+ n)),
                                     contexts: c, sampleContexts: count, seed: seed)
    }

    // MARK: reporting

    /// Mean over seeds of each (model, method, matrix) summary.
    public static func aggregate(_ rs: [ProbeResult]) -> [(key: String, model: String, method: String, matrix: String, metrics: [String: Double], bound: Double?, strata: [String: [String: Double]])] {
        var order: [String] = []
        var groups: [String: [ProbeResult]] = [:]
        for r in rs {
            let k = "\(r.model)|\(r.method)|\(r.matrix)"
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(r)
        }
        return order.map { k in
            let g = groups[k]!
            var m = [String: Double]()
            for r in g { for (kk, vv) in r.overall.summary { m[kk, default: 0] += vv / Double(g.count) } }
            let bounds = g.compactMap(\.boundExcess)
            var st = [String: [String: Double]]()
            for r in g { for (sn, sm) in r.strata { for (kk, vv) in sm.summary { st[sn, default: [:]][kk, default: 0] += vv / Double(g.count) } } }
            return (k, g[0].model, g[0].method, g[0].matrix, m, bounds.isEmpty ? nil : bounds.reduce(0, +) / Double(bounds.count), st)
        }
    }

    public static func table(_ rs: [ProbeResult]) -> String {
        var s = "| model | method | matrix | centered cos | median | raw cos | rel L2 | norm ratio | top-1 | top-10 | MRR | bound excess |\n"
        s += "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for a in aggregate(rs) {
            let m = a.metrics
            s += String(format: "| %@ | %@ | %@ | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %@ |\n", a.model, a.method, a.matrix,
                        m["centered_cos"]!, m["centered_cos_median"]!, m["raw_cos"]!, m["rel_l2"]!, m["norm_ratio"]!,
                        m["top1"]!, m["top10"]!, m["mrr"]!, a.bound.map { String(format: "%.4f%%", $0 * 100) } ?? "-")
        }
        return s
    }

    public static func strataTable(_ rs: [ProbeResult]) -> String {
        var s = "| model | method | matrix | stratum | n | centered cos | top-10 |\n|---|---|---|---|---:|---:|---:|\n"
        for a in aggregate(rs) {
            for k in a.strata.keys.sorted() {
                let m = a.strata[k]!
                s += String(format: "| %@ | %@ | %@ | %@ | %.0f | %.3f | %.3f |\n", a.model, a.method, a.matrix, k, m["n"]!, m["centered_cos"]!, m["top10"]!)
            }
        }
        return s
    }

    public static func json(_ rs: [ProbeResult]) -> [UInt8] {
        var w = JSONWriter(pretty: true)
        w.beginObject()
        w.key("runs"); w.beginArray()
        for r in rs {
            w.beginObject()
            w.key("model"); w.string(r.model); w.key("method"); w.string(r.method); w.key("seed"); w.int(r.seed)
            w.key("matrix"); w.string(r.matrix); w.key("seconds"); w.double(r.seconds)
            if let b = r.boundExcess { w.key("bound_excess"); w.double(b) }
            w.key("overall"); w.beginObject(); for (k, v) in r.overall.summary.sorted(by: { $0.key < $1.key }) { w.key(k); w.double(v) }; w.endObject()
            w.key("strata"); w.beginObject()
            for (sn, sm) in r.strata.sorted(by: { $0.key < $1.key }) {
                w.key(sn); w.beginObject(); for (k, v) in sm.summary.sorted(by: { $0.key < $1.key }) { w.key(k); w.double(v) }; w.endObject()
            }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes + [0x0A]
    }

    /// A grouped bar chart (centered cosine and top-10 recovery per method; one panel per model, input matrix).
    public static func svg(_ rs: [ProbeResult]) -> String {
        let aggs = aggregate(rs).filter { $0.matrix == "input" }
        let models = aggs.reduce(into: [String]()) { if !$0.contains($1.model) { $0.append($1.model) } }
        let panelW = 520.0, panelH = 260.0, left = 50.0, top = 40.0
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(panelW * Double(max(models.count, 1)) + 20))\" height=\"\(Int(panelH + 120))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (mi, model) in models.enumerated() {
            let x0 = 10 + Double(mi) * panelW
            let rows = aggs.filter { $0.model == model }
            s += "<text x=\"\(x0 + left)\" y=\"20\" font-size=\"13\">\(model): hidden-token reconstruction (input embeddings, mean of seeds)</text>\n"
            s += "<line x1=\"\(x0 + left)\" y1=\"\(top + panelH - 60)\" x2=\"\(x0 + panelW - 20)\" y2=\"\(top + panelH - 60)\" stroke=\"black\"/>\n"
            let plotH = panelH - 60
            for t in stride(from: 0.0, through: 1.0, by: 0.25) {
                let y = top + plotH * (1 - t)
                s += "<text x=\"\(x0 + left - 28)\" y=\"\(y + 4)\">\(String(format: "%.2f", t))</text><line x1=\"\(x0 + left)\" y1=\"\(y)\" x2=\"\(x0 + panelW - 20)\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
            }
            let gw = (panelW - left - 30) / Double(max(rows.count, 1))
            for (i, r) in rows.enumerated() {
                let gx = x0 + left + Double(i) * gw + 4
                let c = max(0, r.metrics["centered_cos"]!), t10 = r.metrics["top10"]!
                let bw = (gw - 8) / 2
                s += "<rect x=\"\(gx)\" y=\"\(top + plotH * (1 - c))\" width=\"\(bw)\" height=\"\(plotH * c)\" fill=\"#3b6ea8\"/>\n"
                s += "<rect x=\"\(gx + bw)\" y=\"\(top + plotH * (1 - t10))\" width=\"\(bw)\" height=\"\(plotH * t10)\" fill=\"#e0903a\"/>\n"
                s += "<text x=\"\(gx)\" y=\"\(top + plotH + 14)\" transform=\"rotate(35 \(gx) \(top + plotH + 14))\">\(r.method)</text>\n"
            }
        }
        s += "<rect x=\"60\" y=\"\(panelH + 80)\" width=\"12\" height=\"12\" fill=\"#3b6ea8\"/><text x=\"76\" y=\"\(panelH + 90)\">centered cosine</text>\n"
        s += "<rect x=\"200\" y=\"\(panelH + 80)\" width=\"12\" height=\"12\" fill=\"#e0903a\"/><text x=\"216\" y=\"\(panelH + 90)\">top-10 nearest-neighbour recovery</text>\n"
        return s + "</svg>\n"
    }
}
