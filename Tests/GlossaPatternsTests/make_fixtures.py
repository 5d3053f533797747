#!/usr/bin/env python3
"""Generates Fixtures/splits.tsv: reference splits from HF tokenizers 0.23.3 (Oniguruma) and
tiktoken 0.14 (fancy-regex) for the GlossaPatterns golden tests.

Run from the repository root:  .venv/bin/python Tests/GlossaPatternsTests/make_fixtures.py

Line format (tab-separated):  CASE <tab> hex(UTF-8 input) <tab> start:end,start:end,...
Offsets are UTF-8 byte offsets. CASE names a pattern / pre-tokenizer and its options.
Random code points are drawn only from those assigned in Python's unicodedata (Unicode 14.0 in
Python 3.11), a subset of what ICU 72 (Unicode 15.0), Oniguruma (16.0) and Rust regex all know.
"""
import os
import random
import unicodedata

import tiktoken
from tokenizers import Regex, pre_tokenizers

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "gpt2Possessive": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""",
    "cl100k": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "cl100kPossessive": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
    ]),
    "qwen": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "whitespace": r"""\w+|[^\w\s]+""",
}

TRICKY = [
    "", " ", "  ", "a", "Hello world", "Hello  world", "Hello   world  ", "It's", "IT'S", "they'RE",
    "we'Ve", "I'M", "you'LL", "he'D", "it'ſ", "'ſ'ſ", "x'K", "don't'''s", "'s's", "a's", "!'s",
    "  'll", " 's", "\t's", "123", "12345", "1234567", " 123", "x12345y", "²³¹¼½¾", "Ⅻ", "٣٤٥٦",
    "a\n", "a\n\n", "a\n  ", "a \n \t", "a\r\n", "a\r\n\r\n  b", "\n", "\r\n", "  \n  x", "x  \n  ",
    "x\t\ty", "x \u00a0y", "x\u3000y", "x\u2028y", "x\u0085y", "x\u000by", "x\u001cy", "x\u200by",
    "héllo wörld", "e\u0301", "\u0301\u0301ab", "a\u0301b \u0301x", "ÀÉÎõü", "Straße", "ǅemal",
    "ʰello", "CamelCaseWord", "HTTPServer", "iPhone", "ALLCAPS's", "McDonald's", "ΑΒΓαβγ", "Привет мир",
    "中文字符测试", " 中文", "日本語のテキスト", "한국어 텍스트", "مرحبا بالعالم", "हिन्दी पाठ", "ไทย",
    "👍🏽", "👨‍👩‍👧‍👦", "❤️", " 😀😀", "a😀b", "...", "!!!", " !!!", "a...b", "(x)", "[[", "--x",
    "a/b/c", "http://example.com/path?q=1", " //\n", "x.\n\n", "?!\r\n", "$100", "3.14159", "1,000,000",
    "snake_case_name", "__init__", "a_b", "‿x", "x‿y", "foo@bar.com", "#hashtag", "C++", "x\u200dy",
    "tab\there", "\t\t\t", "   leading", "trailing   ", "mixed \t \n\t text", "\u00a0\u00a0",
    "ﬁ ligature", "ǉubav", "İstanbul", "ıi", "K", "Å", "µ", "ª", "º",
]


def byte_ranges(s, pieces):
    """Char-offset pieces (from HF) -> UTF-8 byte ranges."""
    pos = [0]
    for ch in s:
        pos.append(pos[-1] + len(ch.encode("utf-8")))
    return [(pos[a], pos[b]) for _, (a, b) in pieces]


def hf_matches(pattern, s):
    sp = pre_tokenizers.Split(Regex(pattern), "removed", invert=True)
    return byte_ranges(s, sp.pre_tokenize_str(s))


def tiktoken_pieces(pattern, s):
    """tiktoken's regex pieces: with ranks holding every substring of the input (shorter first),
    BPE merges each piece into a single token, so tokens == pieces."""
    b = s.encode("utf-8")
    subs = {bytes([x]) for x in range(256)}
    for i in range(len(b)):
        for j in range(i + 1, len(b) + 1):
            subs.add(b[i:j])
    ranks = {t: i for i, t in enumerate(sorted(subs, key=lambda t: (len(t), t)))}
    enc = tiktoken.Encoding("glossa_fixture", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    out, pos = [], 0
    for tok in enc.encode_ordinary(s):
        n = len(enc.decode_single_token_bytes(tok))
        out.append((pos, pos + n))
        pos += n
    return out


def assigned(cp):
    return not (0xD800 <= cp < 0xE000) and unicodedata.category(chr(cp)) not in ("Cn", "Cs")


def random_string(rng):
    pools = [
        (30, lambda: chr(rng.choice(list(range(0x41, 0x5B)) + list(range(0x61, 0x7B))))),
        (6, lambda: chr(rng.randrange(0x30, 0x3A))),
        (8, lambda: rng.choice("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")),
        (12, lambda: rng.choice([" ", " ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028"])),
        (5, lambda: rng.choice(["'s", "'S", "'re", "'RE", "'ll", "'Ve", "'d", "'M", "'ſ", "'t"])),
        (5, lambda: chr(rng.randrange(0xA0, 0x100))),
        (5, lambda: chr(rng.randrange(0x300, 0x370))),
        (5, lambda: chr(rng.randrange(0x4E00, 0x9FA0))),
        (4, lambda: rng.choice(["😀", "👍🏽", "\u200d", "\ufe0f", "👨‍👩‍👧"])),
        (4, lambda: chr(rng.randrange(0x370, 0x530))),
        (6, lambda: chr(next(c for c in iter(lambda: rng.randrange(0, 0x30000), None) if assigned(c)))),
    ]
    total = sum(w for w, _ in pools)
    out = []
    for _ in range(rng.randrange(0, 30)):
        r = rng.randrange(total)
        for w, f in pools:
            if r < w:
                out.append(f())
                break
            r -= w
    return "".join(out)


def fmt(ranges):
    return ",".join(f"{a}:{b}" for a, b in ranges)


def main():
    rng = random.Random(20261129)
    inputs = TRICKY + [random_string(rng) for _ in range(160)]
    lines = []

    def emit(case, s, ranges):
        lines.append(f"{case}\t{s.encode('utf-8').hex()}\t{fmt(ranges)}")

    for s in inputs:
        for name in ("gpt2", "cl100k", "o200k", "qwen", "whitespace"):
            emit(f"hf:{name}", s, hf_matches(PATTERNS[name], s))
        for name in ("gpt2Possessive", "cl100kPossessive", "o200k"):
            emit(f"tiktoken:{name}", s, tiktoken_pieces(PATTERNS[name], s))

    behaviors = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]
    split_inputs = TRICKY[:36] + ["the-final--countdown", "-a-", "--", "How are you doing?", "a  b   c"]
    for s in split_inputs:
        for beh in behaviors:
            for inv in (False, True):
                for pname, pat in (("ws", Regex(r"\w+|[^\w\s]+")), ("dash", "-"), ("spaces", Regex(r"\s+"))):
                    sp = pre_tokenizers.Split(pat, beh, invert=inv)
                    emit(f"split:{pname}:{beh}:{int(inv)}", s, byte_ranges(s, sp.pre_tokenize_str(s)))
            emit(f"punctuation:{beh}", s, byte_ranges(s, pre_tokenizers.Punctuation(beh).pre_tokenize_str(s)))
    for s in inputs:
        emit("whitespaceSplit", s, byte_ranges(s, pre_tokenizers.WhitespaceSplit().pre_tokenize_str(s)))
        emit("whitespacePre", s, byte_ranges(s, pre_tokenizers.Whitespace().pre_tokenize_str(s)))
        emit("bert", s, byte_ranges(s, pre_tokenizers.BertPreTokenizer().pre_tokenize_str(s)))
        emit("digits:0", s, byte_ranges(s, pre_tokenizers.Digits(individual_digits=False).pre_tokenize_str(s)))
        emit("digits:1", s, byte_ranges(s, pre_tokenizers.Digits(individual_digits=True).pre_tokenize_str(s)))
        emit("charDelimiter:o", s, byte_ranges(s, pre_tokenizers.CharDelimiterSplit("o").pre_tokenize_str(s)))
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "Fixtures", "splits.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(len(lines), "lines")


if __name__ == "__main__":
    main()
