// Byte-level BPE training (GPT-2 / Llama-3 style) with the exact merges and ids of HF `BpeTrainer`:
// special tokens first (in the order given), then the alphabet (the 256 ByteLevel characters plus any
// seen character, all byte-level here) sorted by code point, then one id per new merge.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GlossaFormats
import GlossaPatterns
import GlossaTokenizers

public enum TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidUTF8(path: String, line: Int)
    case invalidJSON(path: String, line: Int, reason: String)
    case emptyCorpus
    case vocabularyTooSmall(requested: Int, minimum: Int)
    case invalidOption(String)
    case output(String)

    public var description: String {
        switch self {
        case let .unreadable(p, r): return "\(p): cannot read: \(r)"
        case let .invalidUTF8(p, l): return "\(p):\(l): invalid UTF-8"
        case let .invalidJSON(p, l, r): return "\(p):\(l): invalid JSONL record: \(r)"
        case .emptyCorpus: return "the corpus is empty (no text to train on)"
        case let .vocabularyTooSmall(v, m):
            return "vocabulary size \(v) is below the initial vocabulary (\(m) = special tokens + alphabet); use at least \(m)"
        case let .invalidOption(s): return s
        case let .output(s): return s
        }
    }
}

public struct BPETrainingOptions: Sendable {
    /// Target vocabulary size, special tokens and alphabet included (HF `vocab_size`).
    public var vocabSize: Int
    /// Pairs seen fewer times are never merged (HF `min_frequency`).
    public var minFrequency: UInt64 = 0
    /// Special tokens, given ids 0, 1, … in this order.
    public var specialTokens: [String] = []
    public var pattern: TrainingPattern = .known(.gpt2)
    public var normalization: TrainingNormalization = .none
    /// HF `Lowercase` normalizer after the Unicode normalization.
    public var lowercase: Bool = false
    /// HF `max_token_length` (characters; byte-level characters are bytes).
    public var maxTokenLength: Int?
    /// HF `limit_alphabet`: keep only the most frequent characters (the 256 byte characters count as
    /// infinitely frequent). HF breaks count ties arbitrarily; Glossa drops the larger code point first.
    public var limitAlphabet: Int?
    /// Worker threads for counting (0: one per core). The result does not depend on it.
    public var threads: Int = 0
    /// Train on a sample of the corpus: keep each line (JSONL record) whose content hash falls in this
    /// fraction, in (0, 1]. Decided by a fixed hash of the line's bytes, so the sample is the same for any
    /// thread count and run (identical lines are kept or dropped together).
    public var sampleFraction: Double = 1

    public init(vocabSize: Int) { self.vocabSize = vocabSize }
}

public struct BPETrainingStatistics: Sendable {
    public var bytesRead: Int
    public var sequences: Int
    public var distinctPreTokens: Int
    public var preTokens: UInt64
    public var alphabetSize: Int
    /// Merges learned (HF's list, before a repeated pair is collapsed to its last rank).
    public var mergeSteps: Int
    public var merges: Int
    public var vocabularySize: Int
    public var countingSeconds: Double
    public var mergingSeconds: Double
    /// Distinct adjacent pairs ever counted.
    public var distinctPairs: Int
    /// Largest number of word references held for the heap entries (HF's `pos` sets), 4 bytes each.
    public var peakWordReferences: Int
}

public struct BPETrainingResult: Sendable {
    public var tokenizer: Tokenizer
    public var statistics: BPETrainingStatistics
    /// Token spellings by id (byte-level strings as UTF-8), special tokens included.
    public var tokens: [[UInt8]]
    /// The merges as HF writes them: (left, right, merged) ids in rank order.
    public var merges: [(Int32, Int32, Int32)]
    /// Ids of the special tokens.
    public var specialIds: [Int32]

    /// A tiktoken rank file: the vocabulary without the special tokens, ranks = ids minus the number
    /// of special tokens before them. The special tokens, which tiktoken keeps outside the file, follow
    /// the last rank in `specialRanks`.
    public func tiktoken() throws(TrainingError) -> (file: [UInt8], specialRanks: [(String, Int)]) {
        let specials = Set(specialIds)
        var newId = [Int32](repeating: -1, count: tokens.count)
        var kept: [[UInt8]] = []
        for (i, t) in tokens.enumerated() where !specials.contains(Int32(i)) {
            newId[i] = Int32(kept.count)
            kept.append(t)
        }
        var remapped: [(Int32, Int32, Int32)] = []
        for (a, b, m) in merges {
            guard newId[Int(a)] >= 0, newId[Int(b)] >= 0, newId[Int(m)] >= 0 else {
                throw .output("tiktoken output: a merge involves a special token")
            }
            remapped.append((newId[Int(a)], newId[Int(b)], newId[Int(m)]))
        }
        let alphabet = ByteLevelAlphabet.gpt2
        let keys: [[UInt8]?] = kept.map { t in t.withUnsafeBufferPointer { alphabet.decode(utf8: $0) } }
        do {
            let model = try BPEModel(vocabulary: Vocabulary(tokens: kept), modelKeys: keys, byteLevel: true,
                                     merges: remapped, options: BPEModel.Options())
            let t = try Tokenizer(model: .bpe(model), decoder: .byteLevel)
            let file = try t.tiktokenRanks()
            var ranks: [(String, Int)] = []
            for id in specialIds { ranks.append((String(decoding: tokens[Int(id)], as: UTF8.self), kept.count + ranks.count)) }
            return (file, ranks)
        } catch {
            throw .output("tiktoken output: \(error)")
        }
    }
}

public enum BPETrainer {
    /// Counts pre-tokens over `sources` and learns the merges.
    public static func train(sources: [CorpusSource], options: BPETrainingOptions,
                             progress: ((TrainingProgress) -> Void)? = nil) throws(TrainingError) -> BPETrainingResult {
        try validate(options)
        let t0 = monotonicSeconds()
        let counts = try PreTokenCounting.count(
            sources: sources,
            options: CountingOptions(pattern: options.pattern, normalization: options.normalization,
                                     lowercase: options.lowercase, threads: resolvedThreads(options.threads),
                                     sampleFraction: options.sampleFraction),
            progress: progress)
        let t1 = monotonicSeconds()
        var result = try learn(counts: counts, options: options, progress: progress)
        result.statistics.countingSeconds = t1 - t0
        return result
    }

    /// Only the counting stage: pre-token counts over `sources` with the normalization and pattern of `options`.
    public static func countPreTokens(sources: [CorpusSource], options: BPETrainingOptions,
                                      progress: ((TrainingProgress) -> Void)? = nil) throws(TrainingError) -> PreTokenCounts {
        try validate(options)
        return try PreTokenCounting.count(
            sources: sources,
            options: CountingOptions(pattern: options.pattern, normalization: options.normalization,
                                     lowercase: options.lowercase, threads: resolvedThreads(options.threads),
                                     sampleFraction: options.sampleFraction),
            progress: progress)
    }

    /// Learns the merges from already counted pre-tokens (raw bytes, before the byte-level mapping).
    public static func train(counts: PreTokenCounts, options: BPETrainingOptions,
                             progress: ((TrainingProgress) -> Void)? = nil) throws(TrainingError) -> BPETrainingResult {
        try validate(options)
        return try learn(counts: counts, options: options, progress: progress)
    }

    /// Takes the counts over: the pre-token table is released once the words are laid out as ids.
    static func learn(counts: consuming PreTokenCounts, options: BPETrainingOptions,
                      progress: ((TrainingProgress) -> Void)?) throws(TrainingError) -> BPETrainingResult {
        let t0 = monotonicSeconds()
        let bytesRead = counts.bytesRead, sequences = counts.sequences
        var words = counts.words
        counts = PreTokenCounts(words: WordCounter(capacity: 0), bytesRead: 0, sequences: 0)
        if words.count == 0 { throw .emptyCorpus }
        let alphabet = ByteLevelAlphabet.gpt2

        // 1. Special tokens (HF `add_special_tokens`: a repeated one keeps its first id).
        var tokens: [[UInt8]] = []
        var ids: [[UInt8]: Int32] = [:]
        for s in options.specialTokens {
            let b = Array(s.utf8)
            if ids[b] == nil { ids[b] = Int32(tokens.count); tokens.append(b) }
        }

        // 2. Alphabet: byte counts weighted by word counts; the 256 initial characters count as infinite.
        var byteCount = [UInt64](repeating: 0, count: 256)
        words.arena.withUnsafeBufferPointer { ar in
            for i in 0 ..< words.count {
                let c = words.counts[i]
                let s = words.starts[i]
                for k in 0 ..< Int(words.lengths[i]) { byteCount[Int(ar[s &+ k])] &+= c }
            }
        }
        var kept = Array(0 ..< 256)   // every byte is in the initial alphabet
        if let limit = options.limitAlphabet, kept.count > limit {
            // Rarest first; every byte is initial (count = ∞), so ties: drop the larger code point first.
            kept.sort { alphabet.byteToScalar[$0] > alphabet.byteToScalar[$1] }
            kept.removeFirst(kept.count - limit)
        }
        kept.sort { alphabet.byteToScalar[$0] < alphabet.byteToScalar[$1] }
        var byteId = [Int32](repeating: -1, count: 256)
        for b in kept {
            let t = Array(String(alphabet.scalar(for: UInt8(b))).utf8)
            if let existing = ids[t] {
                byteId[b] = existing
            } else {
                byteId[b] = Int32(tokens.count)
                ids[t] = Int32(tokens.count)
                tokens.append(t)
            }
        }
        let initial = tokens.count
        if options.vocabSize < initial { throw .vocabularyTooSmall(requested: options.vocabSize, minimum: initial) }
        var tokenChars = tokens.map { String(decoding: $0, as: UTF8.self).unicodeScalars.count }
        for b in kept { tokenChars[Int(byteId[b])] = 1 }

        // 3. Words as id sequences (HF `tokenize_words`; characters outside the alphabet are skipped).
        var symbols = [Int32]()
        symbols.reserveCapacity(words.arena.count)
        var wordStart = [Int](repeating: 0, count: words.count)
        var wordLength = [Int32](repeating: 0, count: words.count)
        var total: UInt64 = 0
        words.arena.withUnsafeBufferPointer { ar in
            for i in 0 ..< words.count {
                wordStart[i] = symbols.count
                let s = words.starts[i]
                for k in 0 ..< Int(words.lengths[i]) {
                    let id = byteId[Int(ar[s &+ k])]
                    if id >= 0 { symbols.append(id) }
                }
                wordLength[i] = Int32(truncatingIfNeeded: symbols.count &- wordStart[i])
                total &+= words.counts[i]
            }
        }
        let distinct = words.count
        var problem = MergeProblem(symbols: symbols, wordStart: wordStart, wordLength: wordLength,
                                   wordCount: words.counts, tokens: tokens, tokenChars: tokenChars)
        symbols = []
        wordStart = []
        wordLength = []
        words = WordCounter(capacity: 0)
        let outcome = MergeLearner.run(&problem, MergeSettings(vocabSize: options.vocabSize, minFrequency: options.minFrequency,
                                                                maxTokenLength: options.maxTokenLength),
                                       progress: progress)
        let merges = MergeLearner.deduplicated(outcome.merges)
        let tokenizer = try makeTokenizer(tokens: outcome.tokens, merges: merges, options: options)
        let t1 = monotonicSeconds()
        let stats = BPETrainingStatistics(bytesRead: bytesRead, sequences: sequences,
                                          distinctPreTokens: distinct, preTokens: total, alphabetSize: kept.count,
                                          mergeSteps: outcome.merges.count, merges: merges.count,
                                          vocabularySize: outcome.tokens.count, countingSeconds: 0, mergingSeconds: t1 - t0,
                                          distinctPairs: outcome.distinctPairs, peakWordReferences: outcome.finalPoolEntries)
        var specialIds: [Int32] = []
        for sp in options.specialTokens {
            if let id = ids[Array(sp.utf8)], !specialIds.contains(id) { specialIds.append(id) }
        }
        return BPETrainingResult(tokenizer: tokenizer, statistics: stats, tokens: outcome.tokens, merges: merges,
                                 specialIds: specialIds)
    }

    /// The pipeline HF users set up for this training: normalizer, ByteLevel (GPT-2) or Split + ByteLevel, ByteLevel decoder.
    static func makeTokenizer(tokens: [[UInt8]], merges: [(Int32, Int32, Int32)],
                              options: BPETrainingOptions) throws(TrainingError) -> Tokenizer {
        let alphabet = ByteLevelAlphabet.gpt2
        let keys: [[UInt8]?] = tokens.map { t in t.withUnsafeBufferPointer { alphabet.decode(utf8: $0) } }
        let normalizer = options.normalization.config(lowercase: options.lowercase)
        let pre: PreTokenizerConfig
        if options.pattern == .known(.gpt2) {
            pre = .byteLevel(addPrefixSpace: false, trimOffsets: true, useRegex: true)
        } else {
            pre = .sequence([.split(pattern: .regex(options.pattern.regex), behavior: .isolated, invert: false),
                             .byteLevel(addPrefixSpace: false, trimOffsets: true, useRegex: false)])
        }
        var seen = Set<String>()
        var added: [AddedToken] = []
        for s in options.specialTokens where seen.insert(s).inserted {
            guard let id = tokens.firstIndex(of: Array(s.utf8)) else { continue }
            added.append(AddedToken(id: Int32(id), content: s, special: true))
        }
        do {
            let model = try BPEModel(vocabulary: Vocabulary(tokens: tokens), modelKeys: keys, byteLevel: true,
                                     merges: merges, options: BPEModel.Options())
            return try Tokenizer(model: .bpe(model), normalizer: normalizer, preTokenizer: pre, decoder: .byteLevel,
                                 addedTokens: added, pattern: options.pattern.regex)
        } catch {
            throw .output("cannot build the tokenizer: \(error)")
        }
    }

    static func validate(_ o: BPETrainingOptions) throws(TrainingError) {
        if o.vocabSize <= 0 { throw .invalidOption("--vocab-size must be positive") }
        if let m = o.maxTokenLength, m <= 0 { throw .invalidOption("--max-token-length must be positive") }
        if let l = o.limitAlphabet, l < 0 { throw .invalidOption("--limit-alphabet must not be negative") }
        if o.specialTokens.contains(where: \.isEmpty) { throw .invalidOption("special tokens must not be empty") }
        if o.threads < 0 { throw .invalidOption("--threads must not be negative") }
    }

    static func resolvedThreads(_ t: Int) -> Int {
        if t > 0 { return t }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

extension TrainingNormalization {
    /// The tokenizer.json normalizer for this choice (plus HF `Lowercase`), nil for none.
    func config(lowercase: Bool) -> NormalizerConfig? {
        var steps: [NormalizerConfig] = []
        switch self {
        case .none: break
        case .nfc: steps.append(.nfc)
        case .nfd: steps.append(.nfd)
        case .nfkc: steps.append(.nfkc)
        case .nfkd: steps.append(.nfkd)
        }
        if lowercase { steps.append(.lowercase) }
        return steps.isEmpty ? nil : steps.count == 1 ? steps[0] : .sequence(steps)
    }
}
