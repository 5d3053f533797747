import Foundation
import GlossaFormats
import GlossaJSON
import GlossaTensor
import GlossaTokenizers
import GlossaWeights

public enum InitMethod: String, Sendable, CaseIterable {
    case random, mean, mvn, fvt, wechsel, focus, ofa, omp, cw2v

    /// Methods whose rows are convex combinations of old rows (spec §1): the output bound holds.
    public var inHull: Bool {
        switch self {
        case .mean, .fvt, .wechsel, .focus, .ofa, .cw2v: return true
        case .random, .mvn, .omp: return false
        }
    }
    /// Methods that need auxiliary (word or token) vectors.
    public var needsAux: Bool { self == .wechsel || self == .focus || self == .ofa || self == .omp }
}

/// Method options with the spec's defaults.
public struct InitOptions: Sendable {
    public var method: InitMethod
    public var fvtVariant: FVTVariant = .mean
    public var fallback: FallbackRule = .mean
    public var sampling = SamplingOptions()
    /// WECHSEL/OFA: neighbours and temperature.
    public var neighbors = 10
    public var temperature: Float = 0.1
    /// OMP: atoms per token (nil: min(64, d_aux/4)) and the pre-selection pool.
    public var ompK: Int? = nil
    public var ompPool = 1024
    /// OFA: coordinate dimension D' (nil or ≥ d: no factorization).
    public var ofaDim: Int? = nil
    /// CW2V: training options (the corpus comes with `PlanInputs.cw2v`).
    public var cw2v = CW2VOptions()
    public init(method: InitMethod) { self.method = method }
}

/// Everything a method may use about the new tokens, with the old vocabulary abstracted as "source rows".
public struct PlanInputs: Sendable {
    /// FVT decomposition of each new token into source rows.
    public var decompositions: [[Int]]
    /// Rows to copy verbatim (overlap by canonical form, or a special token's single-id encoding), per new token.
    public var copyFrom: [Int?]
    /// Aux vectors of the new tokens and of the anchors, with the anchors' source rows.
    public var queryAux: AuxVectors?
    public var anchorAux: AuxVectors?
    public var anchorIds: [Int]
    /// CW2V: the matrices and the tokenized corpus (nil for every other method).
    public var cw2v: CW2VInputs? = nil
    public init(decompositions: [[Int]], copyFrom: [Int?], queryAux: AuxVectors? = nil, anchorAux: AuxVectors? = nil,
                anchorIds: [Int] = []) {
        self.decompositions = decompositions; self.copyFrom = copyFrom; self.queryAux = queryAux
        self.anchorAux = anchorAux; self.anchorIds = anchorIds
    }
    public var count: Int { decompositions.count }
}

public enum EmbeddingInitializer {
    /// The row recipes for `inputs` under `options` (no matrices touched yet).
    public static func plan(_ inputs: PlanInputs, options o: InitOptions) throws(InitError) -> InitPlan {
        let n = inputs.count
        var plan: InitPlan
        func aux() throws(InitError) -> (AuxVectors, AuxVectors) {
            guard let q = inputs.queryAux, let a = inputs.anchorAux else {
                throw InitError("\(o.method.rawValue) needs auxiliary vectors (--token-vectors)")
            }
            guard q.dim == a.dim else {
                throw InitError("\(o.method.rawValue): the new tokens' vectors have dimension \(q.dim), the anchors' \(a.dim)")
            }
            guard a.present.contains(true) else { throw InitError("\(o.method.rawValue): no anchor token has a vector") }
            return (q, a)
        }
        switch o.method {
        case .random: plan = Planner.constant(.random, count: n)
        case .mean: plan = Planner.constant(.mean, count: n)
        case .mvn: plan = Planner.constant(.mvn, count: n)
        case .fvt: plan = Planner.fvt(inputs.decompositions, variant: o.fvtVariant, fallback: o.fallback)
        case .wechsel, .ofa:
            let (q, a) = try aux()
            plan = Planner.topKSoftmax(queries: q, anchors: a, anchorIds: inputs.anchorIds, k: o.neighbors,
                                       temperature: o.temperature, fallback: o.fallback, label: o.method.rawValue)
        case .focus:
            let (q, a) = try aux()
            plan = Planner.sparsemax(queries: q, anchors: a, anchorIds: inputs.anchorIds, fallback: o.fallback)
        case .omp:
            let (q, a) = try aux()
            let k = o.ompK ?? max(1, min(64, q.dim / 4))
            plan = Planner.omp(queries: q, anchors: a, anchorIds: inputs.anchorIds, k: k, pool: o.ompPool, fallback: o.fallback)
        case .cw2v:
            guard let c = inputs.cw2v else { throw InitError("cw2v needs a corpus (--corpus)") }
            plan = try CW2V.plan(inputs, c, options: o.cw2v)
        }
        // Overlap and special-token copies (not for the sampling baselines or WECHSEL, which has no explicit copy).
        if o.method != .random && o.method != .mean && o.method != .mvn && o.method != .wechsel {
            var copied = 0
            for i in 0..<n { if let c = inputs.copyFrom[i] { plan.input[i] = .combine(.uniform([c])); plan.output[i] = .combine(.uniform([c])); copied &+= 1 } }
            if copied > 0 { plan.notes.append("\(copied) tokens copied from an identical old token") }
        }
        return plan
    }

    /// The rank-`dim` reconstruction `P_s A` of a matrix (OFA's factorization, §5), from a thin SVD.
    public static func lowRank(_ m: Tensor, dim: Int) throws(InitError) -> Tensor {
        let d = m.shape[1], v = m.shape[0]
        guard dim < d else { return m }
        let (u, s, vt): (Tensor, [Float], Tensor)
        do { (u, s, vt) = try Linalg.svd(m) } catch { throw InitError("ofa: \(error)") }
        let r = s.count
        // P = U[:, :D'] scaled by S, times Vt[:D', :].
        var p = [Float](repeating: 0, count: v &* dim)
        for i in 0..<v { for j in 0..<dim { p[i &* dim &+ j] = u.data[i &* r &+ j] * s[j] } }
        var out = [Float](repeating: 0, count: v &* d)
        p.withUnsafeBufferPointer { pp in vt.data.withUnsafeBufferPointer { pv in out.withUnsafeMutableBufferPointer { po in
            BLAS.gemm(m: v, n: d, k: dim, a: pp.baseAddress!, lda: dim, b: pv.baseAddress!, ldb: d, c: po.baseAddress!, ldc: d)
        } } }
        return Tensor(shape: [v, d], data: out)
    }

    /// Extends `model` with the manifest's tokens.
    /// - Parameters:
    ///   - baseTokenizer: the model's tokenizer (surfaces of the old ids; special roles).
    ///   - extendedTokenizer: the new tokenizer (written as tokenizer.json; spellings of the new ids).
    ///   - tokenVectors: aux vectors indexed by extended id (for wechsel/focus/ofa/omp).
    ///   - padToMultipleOf: round the row count up; padding rows get the mean row.
    ///   - corpus: cw2v's training text as extended-tokenizer ids (token vectors, when given, add candidates).
    public static func extend(model: ModelWeights, manifest: ExtensionManifest, baseTokenizer: Tokenizer,
                              extendedTokenizer: Tokenizer?, tokenVectors: AuxVectors?, options: InitOptions,
                              padToMultipleOf: Int? = nil, corpus: [[Int32]]? = nil) throws(InitError) -> (ModelWeights, [String]) {
        let base = manifest.baseVocabSize
        let baseSize = baseTokenizer.vocabularySize
        guard base == baseSize else {
            throw InitError("the manifest's base_vocab_size \(base) does not match the model tokenizer's \(baseSize) ids")
        }
        guard base <= model.vocabRows else {
            throw InitError("the manifest's base_vocab_size \(base) exceeds the model's \(model.vocabRows) embedding rows")
        }
        let ext = manifest.extendedVocabSize
        if let t = extendedTokenizer, t.vocabularySize != ext {
            throw InitError("the extended tokenizer has \(t.vocabularySize) ids, the manifest describes \(ext)")
        }
        let newIds = (base..<ext).map { $0 }
        var entryById = [Int: ExtensionManifest.Entry]()
        for t in manifest.tokens { entryById[t.id] = t }
        let baseSurf = VocabularySurfaces(tokenizer: baseTokenizer)
        let statRows = (0..<base).filter { baseSurf[$0].kind != .special }
        // Copies: canonical overlap with an old token; new special tokens that the old tokenizer encodes as one id.
        var canon = [[UInt8]: Int]()
        for s in baseSurf.surfaces where s.kind != .special { if canon[s.canonicalKey] == nil { canon[s.canonicalKey] = s.id } }
        let extSurf = extendedTokenizer.map { VocabularySurfaces(tokenizer: $0) }
        var decs: [[Int]] = [], copies: [Int?] = []
        var specialCopies = 0, specialUnmatched = 0
        let opts = EncodeOptions(addSpecialTokens: false, specialTokens: .allowed, withTokens: false)
        for id in newIds {
            let e = entryById[id]
            decs.append(e?.baseIds ?? [])
            var copy: Int? = nil
            if let es = extSurf?[id] {
                if es.kind == .special {
                    if let enc = try? baseTokenizer.encode(bytes: es.bytes, options: opts), enc.ids.count == 1 {
                        copy = Int(enc.ids[0]); specialCopies &+= 1
                    } else { specialUnmatched &+= 1 }
                } else if let c = canon[es.canonicalKey] { copy = c }
            }
            copies.append(copy)
        }
        var inputs = PlanInputs(decompositions: decs, copyFrom: copies)
        if options.method.needsAux || (options.method == .cw2v && tokenVectors != nil) {
            guard let tv = tokenVectors else { throw InitError("\(options.method.rawValue) needs --token-vectors") }
            guard tv.count >= ext else {
                throw InitError("the token vectors cover \(tv.count) ids, the extended vocabulary has \(ext)")
            }
            var q = AuxVectors(dim: tv.dim, count: newIds.count)
            for (i, id) in newIds.enumerated() {
                q.present[i] = tv.present[id]
                for j in 0..<tv.dim { q.data[i &* tv.dim &+ j] = tv.data[id &* tv.dim &+ j] }
            }
            let anchorIds = statRows.filter { tv.present[$0] }
            var a = AuxVectors(dim: tv.dim, count: anchorIds.count)
            for (i, id) in anchorIds.enumerated() {
                a.present[i] = true
                for j in 0..<tv.dim { a.data[i &* tv.dim &+ j] = tv.data[id &* tv.dim &+ j] }
            }
            inputs.queryAux = q; inputs.anchorAux = a; inputs.anchorIds = anchorIds
        }
        if options.method == .cw2v {
            // Corpus ids come from the extended tokenizer: new ids are base..<ext, old ones the non-special rows.
            inputs.cw2v = CW2VInputs(input: model.embedding, output: model.head, sequences: corpus ?? [], newIds: newIds, oldRows: statRows)
        }
        var plan = try plan(inputs, options: options)
        // Special tokens never get random/MVN noise: copy by single-id encoding, otherwise the mean.
        for (i, id) in newIds.enumerated() where extSurf?[id].kind == .special {
            let r: RowRecipe = copies[i].map { .combine(.uniform([$0])) } ?? .mean
            plan.input[i] = r; plan.output[i] = r
        }
        var notes = plan.notes
        if specialCopies > 0 { notes.append("\(specialCopies) new special tokens copied from their single old id") }
        if specialUnmatched > 0 { notes.append("\(specialUnmatched) new special tokens took the mean (no single old id)") }
        let rows = padToMultipleOf.map { m in (ext &+ m &- 1) / m &* m } ?? ext
        var out = model
        var sampling = options.sampling
        sampling.randomStd = model.initializerRange
        func extendMatrix(_ m: Tensor, recipes: [RowRecipe], salt: UInt64) throws(InitError) -> Tensor {
            let d = m.shape[1]
            var src = m
            if options.method == .ofa, let dim = options.ofaDim, dim < d { src = try lowRank(m, dim: dim) }
            let (newRows, n2) = try PlanApplier.apply(recipes, matrix: src, statRows: statRows, options: sampling, salt: salt)
            notes.append(contentsOf: n2)
            let meanRow = RowStatistics(matrix: m, rows: statRows).mean
            var data = [Float](repeating: 0, count: rows &* d)
            data.replaceSubrange(0..<(base &* d), with: m.data[0..<(base &* d)])
            data.replaceSubrange((base &* d)..<(ext &* d), with: newRows.data)
            for r in ext..<rows { data.replaceSubrange((r &* d)..<((r &+ 1) &* d), with: meanRow) }
            return Tensor(shape: [rows, d], data: data)
        }
        func replace(_ name: String, _ t: Tensor) {
            if let i = out.tensors.firstIndex(where: { $0.0 == name }) { out.tensors[i].1 = t }
        }
        replace(model.embedName, try extendMatrix(model.embedding, recipes: plan.input, salt: 0))
        if let h = model.headName, let ht = model.head {
            replace(h, try extendMatrix(ht, recipes: plan.output, salt: 1))
        }
        for b in model.biasNames {
            guard let bt = model.tensor(b) else { continue }
            let bm = Tensor(shape: [bt.count, 1], data: bt.data)
            let recipes = plan.output.map { r -> RowRecipe in (r == .random || r == .mvn || r == .perDimensionNormal) ? .mean : r }
            let e = try extendMatrix(bm, recipes: recipes, salt: 2)
            replace(b, Tensor(shape: [rows], data: e.data))
        }
        out.config = out.config.setting("vocab_size", .int(rows))
        if let t = extendedTokenizer {
            do { out.tokenizerJSON = try t.huggingFaceJSON() } catch { throw InitError("writing tokenizer.json: \(error)") }
        }
        if options.method == .omp, let ht = out.head ?? Optional(out.embedding) {
            let rate = LogitBound.excessRate(head: ht, oldRows: statRows, newRows: Array(base..<ext), contexts: model.embedding, sampleContexts: 512, seed: 7)
            notes.append(String(format: "omp: %.2f%% of (context, new token) pairs outscore every old token (logit-bound check on 512 contexts)", rate * 100))
        }
        return (out, notes)
    }

    /// Writes a HF directory: safetensors, config.json (pretty), tokenizer.json; into a temporary directory
    /// renamed into place, so nothing is left behind on failure.
    public static func write(_ w: ModelWeights, directory: String) throws(InitError) {
        let fm = FileManager.default
        let tmp = directory + ".tmp-\(getpid())"
        do {
            try? fm.removeItem(atPath: tmp)
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            _ = try SafetensorsWriter.writeSharded(w.tensors, directory: tmp, dtype: .f32, maxShardBytes: 4_000_000_000)
            try BinaryFile.write(JSONWriter.serialize(w.config, pretty: true) + [0x0A], to: tmp + "/config.json")
            if let t = w.tokenizerJSON { try BinaryFile.write(t, to: tmp + "/tokenizer.json") }
            if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
            try fm.moveItem(atPath: tmp, toPath: directory)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw InitError("\(directory): \(error)")
        }
    }
}

/// The output-side check of spec §1: how often a new output row outscores every old row for a context `h`.
public enum LogitBound {
    /// Relative margin below which a new row's score is taken as a tie with the best old one (float32 dot
    /// products of a few hundred terms round at about 1e-6 of their size).
    public static let tolerance: Float = 1e-5

    /// Contexts are rows of `contexts` sampled uniformly (seeded). Returns the fraction of (context, new token)
    /// pairs with `h·o_new > max_{old} h·o_old` by more than `tolerance` of the two scores' size.
    public static func excessRate(head: Tensor, oldRows: [Int], newRows: [Int], contexts: Tensor, sampleContexts: Int,
                                  seed: UInt64) -> Double {
        let d = head.shape[1]
        guard !newRows.isEmpty, !oldRows.isEmpty else { return 0 }
        var rng = RandomGenerator(seed: seed)
        let nc = min(sampleContexts, contexts.shape[0])
        var h = [Float](repeating: 0, count: nc &* d)
        for c in 0..<nc {
            let r = rng.nextInt(contexts.shape[0])
            for j in 0..<d { h[c &* d &+ j] = contexts.data[r &* d &+ j] }
        }
        func scores(_ rows: [Int]) -> [Float] {
            var m = [Float](repeating: 0, count: rows.count &* d)
            for (i, r) in rows.enumerated() { for j in 0..<d { m[i &* d &+ j] = head.data[r &* d &+ j] } }
            var s = [Float](repeating: 0, count: nc &* rows.count)
            h.withUnsafeBufferPointer { ph in m.withUnsafeBufferPointer { pm in s.withUnsafeMutableBufferPointer { ps in
                BLAS.gemm(transB: true, m: nc, n: rows.count, k: d, a: ph.baseAddress!, lda: d, b: pm.baseAddress!, ldb: d,
                          c: ps.baseAddress!, ldc: rows.count)
            } } }
            return s
        }
        // Old and new rows in one product, so that their scores come from the same kernel, and an excess counts only
        // beyond float rounding (`tolerance` of the two scores' size): two products of different widths picked
        // different kernels on an AVX-512 host, and a new row that copies an old one "outscored" it by an ulp.
        let rows = oldRows + newRows, width = rows.count
        let all = scores(rows)
        var excess = 0
        for c in 0..<nc {
            var mx = -Float.infinity
            for j in 0..<oldRows.count { mx = max(mx, all[c &* width &+ j]) }
            for j in oldRows.count..<width {
                let sn = all[c &* width &+ j]
                if sn - mx > tolerance * (abs(sn) + abs(mx)) { excess &+= 1 }
            }
        }
        return Double(excess) / Double(nc &* newRows.count)
    }
}
