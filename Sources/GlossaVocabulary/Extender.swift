// Append-only vocabulary extension: `continue` (resume BPE from the base's merges) and `merge`
// (train a target tokenizer, add its tokens and the merges that build them, skipping what the base has).

import Foundation
import GlossaFormats
import GlossaJSON
import GlossaTokenizers
import GlossaTraining

public enum ExtensionMethod: String, Sendable, CaseIterable {
    case `continue`
    case merge
}

public enum ProtectMode: String, Sendable, CaseIterable {
    /// Measure how the protected text's encoding changes.
    case report
    /// Never learn a merge that would change the protected text's encoding.
    case forbid
}

public struct ExtensionOptions: Sendable {
    public var add: Int
    public var method: ExtensionMethod = .continue
    /// Pairs seen fewer times are never merged.
    public var minFrequency: UInt64 = 2
    /// Longest new token, in characters (a partial UTF-8 sequence counts as one).
    public var maxTokenLength: Int?
    public var protectLines: [[UInt8]] = []
    public var protect: ProtectMode = .report
    /// SentencePiece style: new characters (at most half of `add`) are added, most frequent first, until this
    /// share of the corpus's characters is covered.
    public var characterCoverage: Double = 0.9999
    public var threads: Int = 2
    public init(add: Int) { self.add = add }
}

public struct ProtectReport: Sendable {
    public var lines: Int
    public var changedLines: Int
    public var baseTokens: Int
    public var extendedTokens: Int
    public var changedFraction: Double { lines == 0 ? 0 : Double(changedLines) / Double(lines) }
}

public struct ExtensionStatistics: Sendable {
    public var corpusLines: Int
    public var corpusBytes: Int
    public var distinctPreTokens: Int
    public var newCharacters: Int
    public var newMerges: Int
    public var skippedExisting: Int
    public var skippedLength: Int
    public var skippedProtected: Int
    public var skippedUnreachable: Int
    public var lastMergeCount: UInt64
    public var seconds: Double
}

public struct ExtensionResult: Sendable {
    public var base: ExtensionBase
    public var tokenizer: Tokenizer
    public var manifest: ExtensionManifest
    /// The new merges (left, right, merged) in rank order, after every base merge.
    public var newMerges: [(Int32, Int32, Int32)]
    public var statistics: ExtensionStatistics
    public var protect: ProtectReport?
}

public enum VocabularyExtender {
    public static func extend(base: ExtensionBase, corpus: [[UInt8]], options o: ExtensionOptions,
                              targetCorpusPaths: [String] = []) throws(VocabularyError) -> ExtensionResult {
        let t0 = Date()
        guard o.add > 0 else { throw .invalidOption("--add must be positive") }
        if let m = o.maxTokenLength, m < 2 { throw .invalidOption("--max-token-length must be at least 2") }
        if corpus.isEmpty { throw .invalidOption("the target corpus is empty") }
        let splitter = try PreTokenSplitter(base: base)
        let words = splitter.count(corpus, threads: o.threads)
        var encoder = ExtensionEncoder(base: base)
        var learner = ContinueLearner(keys: base.keys)
        // Every spelling the base model can look up (special and fallback pieces too) is taken.
        for i in 0..<base.tokens.count where !base.holes.contains(i) {
            if let k = base.model.modelKey(Int32(i)), learner.index[k] == nil { learner.index[k] = Int32(i) }
        }
        // Bases that keep digits apart (SentencePiece `split_digits`, SmolLM2's Digits pre-tokenizer: no mergeable
        // token of two or more characters holds a digit, in a base with real merges) keep them apart in the extension too.
        let hasDigit = { (k: [UInt8]) -> Bool in k.contains { $0 >= 0x30 && $0 <= 0x39 } }
        if base.merges.count >= 1000, !base.keys.contains(where: { k in k.map { ContinueLearner.characters($0) > 1 && hasDigit($0) } ?? false }) {
            for i in learner.keys.indices where learner.keys[i].map(hasDigit) ?? false { learner.keys[i] = nil }
        }
        var nextId = Int32(base.firstNewId)
        var charTokens: [(id: Int32, key: [UInt8], count: UInt64)] = []

        // SentencePiece style: characters the base lacks (byte fallback) become tokens first, most frequent first.
        if base.kind == .sentencePiece && !base.fallbackIds.isEmpty {
            var missing: [[UInt8]: UInt64] = [:]
            var totalChars: UInt64 = 0
            words.forEachKey { k, c in
                var i = 0
                while i < k.count {
                    let b0 = k[i]
                    let len = b0 < 0x80 ? 1 : b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2
                    let ch = Array(k[i..<min(k.count, i + len)])
                    totalChars &+= c
                    if base.model.vocabulary.id(of: ch) == nil { missing[ch, default: 0] &+= c }
                    i += len
                }
            }
            let ranked = missing.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.lexicographicallyPrecedes($1.key) }
            var uncovered = ranked.reduce(UInt64(0)) { $0 &+ $1.value }
            let allowedUncovered = Double(totalChars) * (1 - o.characterCoverage)
            // At most half of the new tokens are characters; the rest are merges.
            let maxChars = max(1, o.add / 2)
            for (ch, c) in ranked {
                if charTokens.count >= maxChars || c < max(1, o.minFrequency) || Double(uncovered) <= allowedUncovered { break }
                encoder.newChars[ch] = nextId
                learner.index[ch] = nextId
                charTokens.append((nextId, ch, c))
                nextId += 1
                uncovered -= c
            }
            while learner.keys.count < Int(base.firstNewId) { learner.keys.append(nil); learner.chars.append(0) }
            for t in charTokens { learner.keys.append(t.key); learner.chars.append(1) }
        }

        // Protected text: the adjacent pairs of its base encodings.
        var forbidden = Set<UInt64>()
        if o.protect == .forbid && !o.protectLines.isEmpty {
            let pw = splitter.count(o.protectLines, threads: o.threads)
            pw.forEachKey { k, _ in
                let ids = encoder.baseIds(k)
                if ids.count > 1 { for i in 1..<ids.count { forbidden.insert(ExtensionEncoder.key(ids[i - 1], ids[i])) } }
            }
        }

        var outcome: LearnOutcome
        let remaining = o.add - charTokens.count
        let alwaysReachable = base.model.options.ignoreMerges
        switch o.method {
        case .continue:
            words.forEachKey { k, c in learner.addWord(encoder.baseIds(k), count: c) }
            if remaining > 0 {
                outcome = learner.learn(LearnSettings(add: remaining, minFrequency: o.minFrequency, maxTokenLength: o.maxTokenLength,
                                                      forbidden: forbidden, alwaysReachable: alwaysReachable),
                                        encoder: &encoder, firstId: nextId)
            } else {
                outcome = LearnOutcome()
            }
        case .merge:
            outcome = try mergeMethod(base: base, paths: targetCorpusPaths, corpus: corpus, options: o, remaining: remaining,
                                      forbidden: forbidden, learner: &learner, encoder: &encoder, firstId: nextId,
                                      alwaysReachable: alwaysReachable)
        }

        let added = charTokens.count + outcome.tokens.count
        let detail = outcome.skippedUnreachable + outcome.skippedProtected + outcome.skippedLength > 0
            ? "skipped: \(outcome.skippedUnreachable) unreachable, \(outcome.skippedProtected) protected, \(outcome.skippedLength) too long"
            : ""
        if added == 0 { throw .nothingToAdd(minFrequency: max(1, o.minFrequency), detail: detail) }
        if added < o.add {
            throw .tooFew(requested: o.add, available: added, minFrequency: max(1, o.minFrequency), detail: detail)
        }

        // The extended tokenizer.
        let allNew = charTokens + outcome.tokens
        let tokenizer = try build(base: base, newTokens: allNew.map { ($0.id, $0.key) }, newMerges: outcome.merges)

        // Manifest: each new token's bytes and its base decomposition.
        let alphabet = ByteLevelAlphabet.gpt2
        var entries: [ExtensionManifest.Entry] = []
        var plain = ExtensionEncoder(base: base)   // base ids only: no new characters substituted
        for t in allNew {
            let raw: [UInt8]
            let spelled: [UInt8]
            if base.kind == .byteLevel {
                raw = t.key
                spelled = alphabet.encodeUTF8(t.key)
            } else {
                // The text the piece stands for: "▁" is a space.
                raw = Array(String(decoding: t.key, as: UTF8.self).replacingOccurrences(of: "\u{2581}", with: " ").utf8)
                spelled = t.key
            }
            let baseIds = t.key.withUnsafeBufferPointer { plain.baseIds($0) }
            entries.append(.init(id: Int(t.id), bytes: raw, surface: String(decoding: spelled, as: UTF8.self),
                                 baseIds: baseIds.map(Int.init), count: t.count))
        }
        let manifest = ExtensionManifest(baseVocabSize: base.firstNewId, tokens: entries,
                                         provenance: .init(method: o.method.rawValue, base: base.path,
                                                           baseKind: base.kind.rawValue))

        var protect: ProtectReport?
        if !o.protectLines.isEmpty {
            protect = try compare(base: base.tokenizer, extended: tokenizer, lines: o.protectLines)
        }
        let stats = ExtensionStatistics(corpusLines: corpus.count, corpusBytes: corpus.reduce(0) { $0 + $1.count + 1 },
                                        distinctPreTokens: words.count, newCharacters: charTokens.count,
                                        newMerges: outcome.merges.count, skippedExisting: outcome.skippedExisting,
                                        skippedLength: outcome.skippedLength, skippedProtected: outcome.skippedProtected,
                                        skippedUnreachable: outcome.skippedUnreachable, lastMergeCount: outcome.lastCount,
                                        seconds: Date().timeIntervalSince(t0))
        return ExtensionResult(base: base, tokenizer: tokenizer, manifest: manifest, newMerges: outcome.merges,
                               statistics: stats, protect: protect)
    }

    /// Base spellings, keys and merges plus the new ones, in the base's pipeline.
    static func build(base: ExtensionBase, newTokens: [(Int32, [UInt8])], newMerges: [(Int32, Int32, Int32)]) throws(VocabularyError) -> Tokenizer {
        let alphabet = ByteLevelAlphabet.gpt2
        let total = base.firstNewId + newTokens.count
        var tokens = [[UInt8]](repeating: [], count: total)
        var keys = [[UInt8]?](repeating: nil, count: total)
        var holes = Set<Int>()
        for i in 0..<total where i < base.tokens.count {
            if base.holes.contains(i) { holes.insert(i); continue }
            tokens[i] = base.tokens[i]
            keys[i] = base.model.modelKey(Int32(i))
        }
        for i in base.tokens.count..<base.firstNewId { holes.insert(i) }
        // Added tokens past the model vocabulary (Llama-3's specials, tiktoken specials) go into the written vocab
        // at their ids: HF gives an added token that is not in the vocab the id `vocab.len()` on load, which would
        // collide with the appended ids. The model never produces them (no model key, no merge).
        for t in base.tokenizer.addedVocabulary.tokens where Int(t.id) >= base.tokens.count && Int(t.id) < base.firstNewId {
            tokens[Int(t.id)] = Array(t.content.utf8)
            holes.remove(Int(t.id))
        }
        for (id, key) in newTokens {
            tokens[Int(id)] = base.kind == .byteLevel ? alphabet.encodeUTF8(key) : key
            keys[Int(id)] = key
        }
        let t = base.tokenizer
        do {
            let model = try BPEModel(vocabulary: Vocabulary(tokens: tokens, holes: holes), modelKeys: keys,
                                     byteLevel: base.kind == .byteLevel, merges: base.merges + newMerges,
                                     options: base.model.options)
            return try Tokenizer(model: .bpe(model), normalizer: t.normalizerConfig, preTokenizer: t.preTokenizerConfig,
                                 postProcessor: t.postProcessorConfig, decoder: t.decoderConfig,
                                 addedTokens: t.addedVocabulary.tokens, truncation: t.truncation, padding: t.padding,
                                 source: .huggingFace, pattern: t.pattern)
        } catch {
            throw .output("cannot build the extended tokenizer: \(error)")
        }
    }

    /// How many lines encode differently under `extended` than under `base`.
    public static func compare(base: Tokenizer, extended: Tokenizer, lines: [[UInt8]]) throws(VocabularyError) -> ProtectReport {
        var r = ProtectReport(lines: 0, changedLines: 0, baseTokens: 0, extendedTokens: 0)
        var s1 = EncoderState(), s2 = EncoderState()
        for l in lines {
            do {
                let a = try base.encodeIds(bytes: l, specialTokens: .text, state: &s1)
                let b = try extended.encodeIds(bytes: l, specialTokens: .text, state: &s2)
                r.lines += 1
                r.baseTokens += a.count
                r.extendedTokens += b.count
                if a != b { r.changedLines += 1 }
            } catch {
                throw .invalidOption("protected text: \(error)")
            }
        }
        return r
    }

    /// The `merge` method: a target tokenizer trained from scratch on the corpus; its merges, in rank order,
    /// are appended when the base lacks the merged token and has (or has gained) both parts.
    static func mergeMethod(base: ExtensionBase, paths: [String], corpus: [[UInt8]], options o: ExtensionOptions,
                            remaining: Int, forbidden: Set<UInt64>, learner: inout ContinueLearner,
                            encoder: inout ExtensionEncoder, firstId: Int32, alwaysReachable: Bool) throws(VocabularyError) -> LearnOutcome {
        guard base.kind == .byteLevel else {
            throw .unextendable(kind: base.kind.rawValue, reason: "--method merge trains a byte-level target tokenizer; use --method continue for SentencePiece-style bases")
        }
        var topt = BPETrainingOptions(vocabSize: 256 + 3 * remaining)
        topt.minFrequency = o.minFrequency
        topt.maxTokenLength = o.maxTokenLength
        topt.threads = o.threads
        topt.pattern = trainingPattern(base.tokenizer.preTokenizerConfig)
        var text: [UInt8] = []
        for l in corpus { text.append(contentsOf: l); text.append(0x0A) }
        let trained: BPETrainingResult
        do { trained = try BPETrainer.train(sources: [CorpusSource(name: "target", bytes: text)], options: topt) } catch {
            throw .invalidOption("training the target tokenizer: \(error)")
        }
        let alphabet = ByteLevelAlphabet.gpt2
        let raw: [[UInt8]?] = trained.tokens.map { t in t.withUnsafeBufferPointer { alphabet.decode(utf8: $0) } }
        var out = LearnOutcome()
        while learner.keys.count < Int(firstId) { learner.keys.append(nil); learner.chars.append(0) }
        var nextId = firstId
        for (a, b, _) in trained.merges {
            if out.tokens.count >= remaining { break }
            guard let ka = raw[Int(a)], let kb = raw[Int(b)], let ia = learner.index[ka], let ib = learner.index[kb],
                  learner.mergeable(ia), learner.mergeable(ib) else { continue }
            let merged = ka + kb
            if learner.index[merged] != nil { out.skippedExisting += 1; continue }
            if let m = o.maxTokenLength, ContinueLearner.characters(merged) > m { out.skippedLength += 1; continue }
            let key = ExtensionEncoder.key(ia, ib)
            if forbidden.contains(key) { out.skippedProtected += 1; continue }
            encoder.addMerge(ia, ib, nextId)
            if !alwaysReachable {
                let got = merged.withUnsafeBufferPointer { encoder.encode($0) }
                if got != [nextId] {
                    encoder.newMerges[key] = nil
                    encoder.mergeCount -= 1
                    out.skippedUnreachable += 1
                    continue
                }
            }
            learner.keys.append(merged)
            learner.chars.append(Int32(ContinueLearner.characters(merged)))
            learner.index[merged] = nextId
            out.merges.append((ia, ib, nextId))
            out.tokens.append((nextId, merged, 0))
            nextId += 1
        }
        return out
    }

    static func trainingPattern(_ p: PreTokenizerConfig?) -> TrainingPattern {
        guard let p else { return .known(.gpt2) }
        switch p {
        case .split(.regex(let r), _, _): return TrainingPattern(argument: r)
        case .sequence(let l):
            for c in l { if case .split(.regex(let r), _, _) = c { return TrainingPattern(argument: r) } }
            return .known(.gpt2)
        default: return .known(.gpt2)
        }
    }
}
