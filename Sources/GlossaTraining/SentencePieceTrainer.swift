// SentencePiece-style BPE training (`spm_train --model_type=bpe` behaviour, HF `tokenizer.json` output):
//
// * input: each line (without its newline) → normalizer (NFKC by default) → Metaspace: space → "▁", a "▁"
//   dummy prefix → words split before every "▁" (`split_by_whitespace`); empty lines are skipped; the meta
//   pieces (`<unk>`, `<s>`, `</s>`, other special tokens, `<0xHH>`) are replaced by a space first, as
//   SentencePiece does, so they are never learned as normal pieces;
// * `character_coverage`: characters sorted by count (descending, then code point), kept until the kept
//   share of all character occurrences reaches the coverage; the others are rare: no piece contains them
//   and they are encoded by byte fallback (or `<unk>`);
// * piece validity (SentencePiece `IsValidSentencePiece`): at most `max_sentencepiece_length` characters,
//   "▁" only as the first character, one Unicode script per piece (Inherited joins its neighbour, Hiragana /
//   Katakana count as Han, digits and punctuation are Common). Equivalently each word is cut into segments
//   at rare characters and script changes ("▁" stays with the first segment), and merges happen inside
//   segments only;
// * merges: the most frequent adjacent pair (all occurrences, weighted by word counts) is merged until the
//   vocabulary is full — the same incremental engine as the byte-level trainer (`MergeLearner`); ties go to
//   the smaller ids (alphabet ids follow character frequency), where SentencePiece's order is unspecified;
// * vocabulary: `<unk>`, `<s>`, `</s>`, extra special tokens, `<0x00>`…`<0xFF>` (byte fallback), the kept
//   characters by frequency, then the merged pieces in merge order. `vocab_size` counts all of them, as
//   SentencePiece does.
//
// Output pipeline: normalizer (NFKC), `Metaspace(replacement "▁", prepend_scheme "always", split true)`,
// BPE (`unk_token <unk>`, `fuse_unk`, `byte_fallback`), decoder `Sequence[Replace ▁→" ", ByteFallback, Fuse,
// Strip(" ", 1, 0)]`, the special tokens as added tokens.

import GlossaTokenizers
import GlossaUnicode

public struct SentencePieceTrainingOptions: Sendable {
    /// Target vocabulary size: special tokens, byte pieces, characters and merged pieces together.
    public var vocabSize: Int
    /// Pairs seen fewer times are never merged.
    public var minFrequency: UInt64 = 0
    /// Special tokens after `<unk>`, `<s>`, `</s>` (SentencePiece control symbols).
    public var specialTokens: [String] = []
    public var normalization: TrainingNormalization = .nfkc
    public var lowercase: Bool = false
    /// SentencePiece `character_coverage` (0 < c ≤ 1).
    public var characterCoverage: Double = 0.9995
    /// `<0x00>`…`<0xFF>` pieces for characters outside the vocabulary (otherwise they become `<unk>`).
    public var byteFallback: Bool = true
    /// SentencePiece `max_sentencepiece_length` (characters, "▁" included).
    public var maxPieceLength: Int = 16
    /// SentencePiece `split_by_unicode_script`.
    public var splitByUnicodeScript: Bool = true
    /// Counting threads (0: one per core). The result does not depend on it.
    public var threads: Int = 0

    public init(vocabSize: Int) { self.vocabSize = vocabSize }

    public static let unk = "<unk>", bos = "<s>", eos = "</s>"

    /// `<unk>`, `<s>`, `</s>`, then the extra special tokens (first occurrence kept).
    var allSpecials: [String] {
        var out = [Self.unk, Self.bos, Self.eos]
        for s in specialTokens where !out.contains(s) { out.append(s) }
        return out
    }
}

public enum SentencePieceTrainer {
    static let metaspace: [UInt8] = [0xE2, 0x96, 0x81]

    public static func train(sources: [CorpusSource], options: SentencePieceTrainingOptions,
                             progress: ((TrainingProgress) -> Void)? = nil) throws(TrainingError) -> BPETrainingResult {
        try validate(options)
        let t0 = monotonicSeconds()
        let specials = options.allSpecials
        let counts = try MetaspaceCounting.count(
            sources: sources,
            options: MetaspaceCountingOptions(normalization: options.normalization, lowercase: options.lowercase,
                                              threads: BPETrainer.resolvedThreads(options.threads),
                                              escaped: specials.map { Array($0.utf8) },
                                              escapeBytePieces: options.byteFallback),
            progress: progress)
        let t1 = monotonicSeconds()
        var result = try learn(counts: counts, options: options, progress: progress)
        result.statistics.countingSeconds = t1 - t0
        return result
    }

    static func validate(_ o: SentencePieceTrainingOptions) throws(TrainingError) {
        if o.vocabSize <= 0 { throw .invalidOption("--vocab-size must be positive") }
        if !(o.characterCoverage > 0 && o.characterCoverage <= 1) {
            throw .invalidOption("--character-coverage must be in (0, 1]")
        }
        if o.maxPieceLength < 1 { throw .invalidOption("--max-token-length must be positive") }
        if o.specialTokens.contains(where: \.isEmpty) { throw .invalidOption("special tokens must not be empty") }
        if o.threads < 0 { throw .invalidOption("--threads must not be negative") }
    }

    static func learn(counts: consuming PreTokenCounts, options: SentencePieceTrainingOptions,
                      progress: ((TrainingProgress) -> Void)?) throws(TrainingError) -> BPETrainingResult {
        let t0 = monotonicSeconds()
        let bytesRead = counts.bytesRead, sequences = counts.sequences
        var words = counts.words
        counts = PreTokenCounts(words: WordCounter(capacity: 0), bytesRead: 0, sequences: 0)
        if words.count == 0 { throw .emptyCorpus }

        // 1. Character counts, weighted by word counts ("▁" once per word).
        let metaCp: UInt32 = 0x2581
        var charCount: [UInt32: UInt64] = [:]
        var asciiCount = [UInt64](repeating: 0, count: 128)
        var totalWords: UInt64 = 0
        words.arena.withUnsafeBufferPointer { ar in
            for i in 0 ..< words.count {
                let c = words.counts[i]
                totalWords &+= c
                guard let base = ar.baseAddress else { continue }
                let s = words.starts[i], n = Int(words.lengths[i])
                var k = 0
                while k < n {
                    let b = base[s &+ k]
                    if b < 0x80 { asciiCount[Int(b)] &+= c; k &+= 1; continue }
                    let (cp, len) = UTF8Scan.decode(base + s, k)
                    charCount[cp, default: 0] &+= c
                    k &+= len
                }
            }
        }
        charCount[metaCp, default: 0] &+= totalWords
        for b in 0 ..< 128 where asciiCount[b] > 0 { charCount[UInt32(b)] = asciiCount[b] }
        var byCount = charCount.map { ($0.key, $0.value) }
        byCount.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        var allChars: UInt64 = 0
        for (_, c) in byCount { allChars &+= c }
        // SentencePiece compares a double share with the float `character_coverage`.
        let coverage = Double(Float(options.characterCoverage))
        var alphabet: [UInt32] = []
        var accumulated: UInt64 = 0
        for (cp, c) in byCount {
            if options.characterCoverage < 1 && Double(accumulated) / Double(allChars) >= coverage { break }
            accumulated &+= c
            alphabet.append(cp)
        }

        // 2. Initial vocabulary: specials, byte pieces, the alphabet (by frequency).
        let specials = options.allSpecials
        var prefix: [[UInt8]] = specials.map { Array($0.utf8) }
        if options.byteFallback {
            for b in 0 ..< 256 {
                let hex = String(b, radix: 16, uppercase: true)
                prefix.append(Array(("<0x" + (hex.count == 1 ? "0" + hex : hex) + ">").utf8))
            }
        }
        let base = prefix.count
        let minimum = base + alphabet.count
        if options.vocabSize < minimum {
            throw .invalidOption("vocabulary size \(options.vocabSize) is below the initial vocabulary (\(minimum) = "
                + "\(specials.count) special tokens + \(base - specials.count) byte pieces + \(alphabet.count) characters "
                + "at character coverage \(options.characterCoverage)); use at least \(minimum) or lower --character-coverage")
        }
        let scripts = options.splitByUnicodeScript ? UnicodeScripts.classify(alphabet) : alphabet.map { _ in UnicodeScripts.common }
        var charId: [UInt32: Int32] = [:]
        charId.reserveCapacity(alphabet.count * 2)
        var asciiId = [Int32](repeating: -1, count: 128)
        for (i, cp) in alphabet.enumerated() {
            if cp < 0x80 { asciiId[Int(cp)] = Int32(i) } else { charId[cp] = Int32(i) }
        }
        let metaId = charId[metaCp] ?? -1

        // 3. Words → segments of alphabet ids (cut at rare characters and script changes; "▁" joins the first
        //    segment). Segments are keyed by their id bytes and counted; single-symbol segments have no pairs.
        var segments = WordCounter(capacity: max(16, words.count))
        var seg: [Int32] = []
        seg.reserveCapacity(64)
        let canMerge = options.maxPieceLength >= 2
        @inline(__always) func flush(_ seg: inout [Int32], _ c: UInt64) {
            if seg.count >= 2 && canMerge {
                seg.withUnsafeBytes { raw in
                    let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    segments.add(p, raw.count, count: c)
                }
            }
            seg.removeAll(keepingCapacity: true)
        }
        words.arena.withUnsafeBufferPointer { ar in
            for i in 0 ..< words.count {
                let c = words.counts[i]
                seg.removeAll(keepingCapacity: true)
                var script = UnicodeScripts.inherited   // "▁" and leading marks: no script yet
                if metaId >= 0 { seg.append(metaId) }
                guard let b0 = ar.baseAddress else { flush(&seg, c); continue }
                let base = b0 + words.starts[i]
                let n = Int(words.lengths[i])
                var k = 0
                while k < n {
                    let id: Int32
                    if base[k] < 0x80 {
                        id = asciiId[Int(base[k])]
                        k &+= 1
                    } else {
                        let (cp, len) = UTF8Scan.decode(base, k)
                        id = charId[cp] ?? -1
                        k &+= len
                    }
                    if id < 0 {   // rare character: never part of a piece
                        flush(&seg, c)
                        script = UnicodeScripts.inherited
                        continue
                    }
                    let s = scripts[Int(id)]
                    if s != UnicodeScripts.inherited {
                        if script == UnicodeScripts.inherited {
                            script = s
                        } else if s != script {
                            flush(&seg, c)
                            script = s
                        }
                    }
                    seg.append(id)
                }
                flush(&seg, c)
            }
        }
        let distinctWords = words.count
        words = WordCounter(capacity: 0)

        // 4. The merge loop on the segments.
        var symbols = [Int32]()
        symbols.reserveCapacity(segments.arena.count / 4)
        var wordStart = [Int](repeating: 0, count: segments.count)
        var wordLength = [Int32](repeating: 0, count: segments.count)
        segments.arena.withUnsafeBytes { raw in
            for i in 0 ..< segments.count {
                wordStart[i] = symbols.count
                let s = segments.starts[i], n = Int(segments.lengths[i]) / 4
                for k in 0 ..< n { symbols.append(raw.loadUnaligned(fromByteOffset: s &+ 4 &* k, as: Int32.self)) }
                wordLength[i] = Int32(truncatingIfNeeded: n)
            }
        }
        var alphabetTokens: [[UInt8]] = []
        alphabetTokens.reserveCapacity(alphabet.count)
        for cp in alphabet {
            var t: [UInt8] = []
            UTF8Scan.append(cp, to: &t)
            alphabetTokens.append(t)
        }
        var problem = MergeProblem(symbols: symbols, wordStart: wordStart, wordLength: wordLength,
                                   wordCount: segments.counts, tokens: alphabetTokens,
                                   tokenChars: [Int](repeating: 1, count: alphabet.count))
        symbols = []
        wordStart = []
        wordLength = []
        segments = WordCounter(capacity: 0)
        let outcome = MergeLearner.run(&problem, MergeSettings(vocabSize: options.vocabSize - base,
                                                                minFrequency: options.minFrequency,
                                                                maxTokenLength: options.maxPieceLength + 1),
                                       progress: progress)
        let learned = MergeLearner.deduplicated(outcome.merges)

        // 5. Final ids: prefix, then the learner's tokens shifted by `base`.
        var tokens = prefix
        tokens.append(contentsOf: outcome.tokens)
        var seen = Set<[UInt8]>()
        for t in tokens where !seen.insert(t).inserted {
            throw .output("the learned vocabulary repeats the token \"\(String(decoding: t, as: UTF8.self))\"")
        }
        let shift = Int32(base)
        let merges = learned.map { ($0.0 + shift, $0.1 + shift, $0.2 + shift) }
        let tokenizer = try makeTokenizer(tokens: tokens, base: base, merges: merges, options: options)
        let t1 = monotonicSeconds()
        let stats = BPETrainingStatistics(bytesRead: bytesRead, sequences: sequences,
                                          distinctPreTokens: distinctWords, preTokens: totalWords,
                                          alphabetSize: alphabet.count, mergeSteps: outcome.merges.count,
                                          merges: merges.count, vocabularySize: tokens.count, countingSeconds: 0,
                                          mergingSeconds: t1 - t0, distinctPairs: outcome.distinctPairs,
                                          peakWordReferences: outcome.finalPoolEntries)
        return BPETrainingResult(tokenizer: tokenizer, statistics: stats, tokens: tokens, merges: merges,
                                 specialIds: (0 ..< specials.count).map { Int32($0) })
    }

    static func makeTokenizer(tokens: [[UInt8]], base: Int, merges: [(Int32, Int32, Int32)],
                              options: SentencePieceTrainingOptions) throws(TrainingError) -> Tokenizer {
        var keys: [[UInt8]?] = Array(repeating: nil, count: base)
        for t in tokens[base...] { keys.append(t) }
        let normalizer = options.normalization.config(lowercase: options.lowercase)
        let specials = options.allSpecials
        let added = specials.enumerated().map { AddedToken(id: Int32($0.offset), content: $0.element, special: true) }
        let decoder: DecoderConfig = .sequence([.replace(pattern: .string("▁"), content: " "), .byteFallback, .fuse,
                                                .strip(content: " ", start: 1, stop: 0)])
        do {
            let model = try BPEModel(vocabulary: Vocabulary(tokens: tokens), modelKeys: keys, byteLevel: false,
                                     merges: merges, options: BPEModel.Options(unkToken: SentencePieceTrainingOptions.unk,
                                                                                fuseUnk: true, byteFallback: options.byteFallback))
            return try Tokenizer(model: .bpe(model), normalizer: normalizer,
                                 preTokenizer: .metaspace(replacement: "▁", prependScheme: .always, split: true),
                                 decoder: decoder, addedTokens: added)
        } catch {
            throw .output("cannot build the tokenizer: \(error)")
        }
    }
}
