// Truncation, padding and the post-processing entry point, mirroring Hugging Face `tokenizers`
// 0.23: `Encoding::truncate` / `Encoding::pad` (tokenizer/encoding.rs), `truncate_encodings` and
// `pad_encodings` (utils/truncation.rs, utils/padding.rs) and `TokenizerImpl::post_process`.

extension RangedEncoding {
    /// HF `Encoding::truncate`: keeps the first window, the following windows (each `maxLength`
    /// long, overlapping by `stride`) become `overflowing`. Sequence ranges are dropped.
    mutating func truncate(maxLength: Int, stride: Int, direction: Direction) throws(TokenizerError) {
        let n = count
        if maxLength >= n { return }
        if maxLength == 0 {
            let whole = self
            self = RangedEncoding()
            overflowing.append(whole)
            return
        }
        guard stride < maxLength else {
            throw .invalidArgument("`stride` must be strictly less than `max_len=\(maxLength)` (note that `max_len` may be shorter than the max length of the original model, as it subtracts the number of special characters")
        }
        ranges = [:]
        let step = maxLength - stride
        var parts = [Range<Int>]()
        switch direction {
        case .right:
            var start = 0
            while start < n {
                let stop = min(start + maxLength, n)
                parts.append(start..<stop)
                if stop == n { break }
                start += step
            }
        case .left:
            var stopIndex = n - 1
            while stopIndex >= 0 {
                let stop = stopIndex + 1
                let start = max(stop - maxLength, 0)
                parts.append(start..<stop)
                if start == 0 { break }
                stopIndex -= step
            }
        }
        func slice(_ r: Range<Int>) -> RangedEncoding {
            var e = RangedEncoding()
            e.ids = Array(ids[r]); e.typeIds = Array(typeIds[r]); e.tokens = Array(tokens[r])
            e.offsets = Array(offsets[r]); e.specialTokensMask = Array(specialTokensMask[r])
            e.attentionMask = Array(attentionMask[r])
            return e
        }
        var first = slice(parts[0])
        first.overflowing = parts.dropFirst().map(slice)
        self = first
    }

    /// HF `Encoding::pad`: overflowing pieces first, then this encoding if shorter than `length`.
    mutating func pad(to length: Int, padId: Int32, padTypeId: UInt32, padToken: String, direction: Direction) {
        for i in overflowing.indices {
            overflowing[i].pad(to: length, padId: padId, padTypeId: padTypeId, padToken: padToken, direction: direction)
        }
        guard count < length else { return }
        let k = length - count
        switch direction {
        case .left:
            ids = Array(repeating: padId, count: k) + ids
            typeIds = Array(repeating: padTypeId, count: k) + typeIds
            tokens = Array(repeating: padToken, count: k) + tokens
            attentionMask = Array(repeating: 0, count: k) + attentionMask
            specialTokensMask = Array(repeating: 1, count: k) + specialTokensMask
            offsets = Array(repeating: .zero, count: k) + offsets
            for (key, r) in ranges { ranges[key] = (r.lowerBound + k)..<(r.upperBound + k) }
        case .right:
            ids += Array(repeating: padId, count: k)
            typeIds += Array(repeating: padTypeId, count: k)
            tokens += Array(repeating: padToken, count: k)
            attentionMask += Array(repeating: 0, count: k)
            specialTokensMask += Array(repeating: 1, count: k)
            offsets += Array(repeating: .zero, count: k)
        }
    }
}

/// HF `truncate_encodings`: applies `truncation` to one sequence or a pair.
func truncateEncodings(_ a: inout RangedEncoding, _ b: inout RangedEncoding?,
                       _ t: TruncationConfig) throws(TokenizerError) {
    if t.maxLength == 0 {
        try a.truncate(maxLength: 0, stride: t.stride, direction: t.direction)
        try b?.truncate(maxLength: 0, stride: t.stride, direction: t.direction)
        return
    }
    let total = a.count + (b?.count ?? 0)
    guard total > t.maxLength else { return }
    let toRemove = total - t.maxLength
    switch t.strategy {
    case .longestFirst:
        if var pair = b {
            var n1 = a.count, n2 = pair.count
            let swap = n1 > n2
            if swap { Swift.swap(&n1, &n2) }
            if n1 > t.maxLength { n2 = n1 } else { n2 = max(n1, t.maxLength - n1) }
            if n1 + n2 > t.maxLength {
                n1 = t.maxLength / 2
                n2 = n1 + t.maxLength % 2
            }
            if swap { Swift.swap(&n1, &n2) }
            try a.truncate(maxLength: n1, stride: t.stride, direction: t.direction)
            try pair.truncate(maxLength: n2, stride: t.stride, direction: t.direction)
            b = pair
        } else {
            try a.truncate(maxLength: total - toRemove, stride: t.stride, direction: t.direction)
        }
    case .onlyFirst, .onlySecond:
        if t.strategy == .onlyFirst {
            guard a.count > toRemove else { throw .invalidArgument("Truncation error: Sequence to truncate too short to respect the provided max_length") }
            try a.truncate(maxLength: a.count - toRemove, stride: t.stride, direction: t.direction)
        } else {
            guard var pair = b else { throw .invalidArgument("Truncation error: Second sequence not provided") }
            guard pair.count > toRemove else { throw .invalidArgument("Truncation error: Sequence to truncate too short to respect the provided max_length") }
            try pair.truncate(maxLength: pair.count - toRemove, stride: t.stride, direction: t.direction)
            b = pair
        }
    }
}

/// The target length of HF `pad_encodings` for a batch whose longest encoding has `longest` ids.
func paddingLength(_ p: PaddingConfig, longest: Int) -> Int {
    var length: Int
    switch p.strategy {
    case let .fixed(n): length = n
    case .batchLongest: length = longest
    }
    if let m = p.padToMultipleOf, m > 0, length % m > 0 { length += m - length % m }
    return length
}

/// HF `Encoding::truncate` on a finished encoding: keeps the first `maxLength` ids (the last,
/// for `.left`) and moves the rest, in windows overlapping by `stride`, to `overflowing`
/// (previous overflowing pieces are dropped). Throws `invalidArgument` where HF panics
/// (`stride >= maxLength` when truncation is needed).
/// Like HF, truncation forgets which sequence each token came from: every token then reports
/// sequence 0.
public func truncate(_ e: inout Encoding, maxLength: Int, stride: Int, direction: Direction) throws(TokenizerError) {
    var r = RangedEncoding(processed: e, unranged: false)
    try r.truncate(maxLength: maxLength, stride: stride, direction: direction)
    e = r.toEncoding(sources: e.sources)
}

/// HF `Encoding::pad` on a finished encoding (its overflowing pieces too).
/// `hasPostProcessor`: whether the encoding went through a post-processor. HF gives pad tokens
/// no sequence id, except on encodings that carry no sequence ranges (no post-processor and a
/// single input), where every token, pads included, reports sequence 0.
public func pad(_ e: inout Encoding, to length: Int, padId: Int32, padTypeId: UInt32, padToken: String,
                direction: Direction, hasPostProcessor: Bool = true) {
    var r = RangedEncoding(processed: e, unranged: !hasPostProcessor && isUnranged(e))
    r.pad(to: length, padId: padId, padTypeId: padTypeId, padToken: padToken, direction: direction)
    e = r.toEncoding(sources: e.sources)
}

/// Without a post-processor HF only sets sequence ranges on pairs; an encoding whose tokens
/// all report sequence 0 then has none (or only sequence 1's, which reads the same).
private func isUnranged(_ e: Encoding) -> Bool {
    e.sequenceIds.allSatisfy { $0 == 0 }
}

/// HF `pad_encodings`: pads every encoding of a batch (and its overflowing pieces) to the
/// longest one (`batchLongest`) or to a fixed length, rounded up to `padToMultipleOf`.
/// `hasPostProcessor` as for `pad`.
public func padBatch(_ encodings: inout [Encoding], padding: PaddingConfig, hasPostProcessor: Bool = true) {
    guard !encodings.isEmpty else { return }
    let length = paddingLength(padding, longest: encodings.map(\.count).max() ?? 0)
    for i in encodings.indices {
        pad(&encodings[i], to: length, padId: padding.padId, padTypeId: padding.padTypeId,
            padToken: padding.padToken, direction: padding.direction, hasPostProcessor: hasPostProcessor)
    }
}

/// HF `TokenizerImpl::post_process`: truncation (its length reduced by the tokens the processor
/// adds when `addSpecialTokens`), then the processor (or, without one, a plain merge of the
/// pair), then padding. `a` and `b` are model outputs (`b` with type id 1); the result's
/// `sources` are `a.sources + b.sources`.
public func postProcess(_ a: Encoding, _ b: Encoding?, processor: PostProcessor?, truncation: TruncationConfig?,
                        padding: PaddingConfig?, addSpecialTokens: Bool) throws(TokenizerError) -> Encoding {
    let sources = a.sources + (b?.sources ?? [])
    var first = RangedEncoding(a)
    var second = b.map(RangedEncoding.init)

    if var t = truncation {
        let added = processor?.addedTokenCount(isPair: b != nil) ?? 0
        if addSpecialTokens && added > 0 {
            // HF computes `max_length - added` on usize; release builds wrap, so a length shorter
            // than the added tokens means no truncation at all.
            if t.maxLength < added { t.maxLength = Int.max } else { t.maxLength -= added }
        }
        try truncateEncodings(&first, &second, t)
    }

    var result: RangedEncoding
    if let processor {
        result = processor.processRanged(first, second, addSpecialTokens: addSpecialTokens)
    } else if var pairEncoding = second {
        // `default_process`: number the sequences and merge (a single input is left as is).
        first.setSequenceId(0)
        pairEncoding.setSequenceId(1)
        result = RangedEncoding.merged([first, pairEncoding])
    } else {
        result = first
    }

    if let p = padding {
        let length = paddingLength(p, longest: result.count)
        result.pad(to: length, padId: p.padId, padTypeId: p.padTypeId, padToken: p.padToken, direction: p.direction)
    }
    return result.toEncoding(sources: sources)
}
