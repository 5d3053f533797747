"""Inputs of the parity suite: deterministic groups of strings.

Text files are cut into documents of 50 lines (`splitlines(keepends=True)`, as in tokenizers.md §9.2), so joining a
group's documents gives back the file (or its prefix). Adversarial strings are generated from a fixed seed.

Groups:
  corpora/<lang>/<split>  every language in ../shared/corpora (train and heldout); all of it for the small languages,
                          the first >= 2,000,000 bytes (whole documents) of en/de/ru train and heldout
  ntrex/<file>            all 129 files of ../shared/corpora/parallel/ntrex128
  bench/<file>            the three ../shared/bench files, whole
  adv/<kind>              >= 100,000 generated adversarial strings, one string per input
"""
import hashlib
import os
import random
import sys
import unicodedata

from peers import SHARED

LARGE_LANGS = ('en', 'de', 'ru')
LARGE_PREFIX_BYTES = 2_000_000
DOC_LINES = 50
SEED = 20240611


def docs_of(path, limit_bytes=None):
    with open(path, encoding='utf-8', newline='') as f:
        text = f.read()
    lines = text.splitlines(keepends=True)
    docs = [''.join(lines[i:i + DOC_LINES]) for i in range(0, len(lines), DOC_LINES)]
    if limit_bytes is not None:
        out, n = [], 0
        for d in docs:
            if n >= limit_bytes:
                break
            out.append(d)
            n += len(d.encode('utf-8'))
        docs = out
    return docs


def text_groups():
    """[(group name, loader)] for every file-backed group, in a fixed order."""
    groups = []
    cdir = os.path.join(SHARED, 'corpora')
    for lang in sorted(os.listdir(cdir)):
        if lang == 'parallel' or not os.path.isdir(os.path.join(cdir, lang)):
            continue
        for split in ('train', 'heldout'):
            p = os.path.join(cdir, lang, split + '.txt')
            lim = LARGE_PREFIX_BYTES if lang in LARGE_LANGS else None
            groups.append((f'corpora/{lang}/{split}', (lambda p=p, lim=lim: docs_of(p, lim))))
    ndir = os.path.join(cdir, 'parallel', 'ntrex128')
    for fn in sorted(os.listdir(ndir)):
        if fn.endswith('.txt'):
            groups.append((f'ntrex/{fn[:-4]}', (lambda p=os.path.join(ndir, fn): docs_of(p))))
    bdir = os.path.join(SHARED, 'bench')
    for fn in sorted(os.listdir(bdir)):
        if fn.endswith('.txt'):
            groups.append((f'bench/{fn[:-4]}', (lambda p=os.path.join(bdir, fn): docs_of(p))))
    return groups


# ---------------------------------------------------------------------------------------------------------------
# Adversarial strings.
#
# Random code points are restricted to those *assigned* in the Unicode version of Python's unicodedata (14.0.0 for
# CPython 3.11, the venv's interpreter), i.e. general category != Cn, and never surrogates (Cs, not valid UTF-8).
# Reason: the engines under comparison ship different Unicode versions (Oniguruma in HF tokenizers, the Rust regex
# crate in tiktoken, ICU and Swift's own tables in Glossa); characters assigned after 14.0 get different \p{L}/\p{N}
# answers depending on the engine, which is a Unicode-version difference, not a tokenizer bug.

def _assigned_table():
    """{(plane, category): [code points]} over all assigned, non-surrogate code points."""
    table = {}
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if cat in ('Cn', 'Cs'):
            continue
        table.setdefault((cp >> 16, cat), []).append(cp)
    return table


CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
SPECIALS = ['<|endoftext|>', '<|startoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>',
            '<|endofprompt|>', '<|im_start|>', '<|im_end|>', '<|extra_0|>', '<|extra_204|>', '<|extra_205|>',
            '<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>',
            '<|reserved_special_token_0|>', '<|reserved_special_token_246|>', '<|reserved_special_token_247|>',
            '<|python_tag|>', '<|finetune_right_pad_id|>', '<|image|>',
            '<s>', '</s>', '<unk>', '[INST]', '[/INST]', '[TOOL_CALLS]', '[AVAILABLE_TOOLS]', '[control_8]',
            '[CLS]', '[SEP]', '[PAD]', '[UNK]', '[MASK]', '<pad>', '<mask>']
WS = [' ', '  ', '\t', '\n', '\r', '\r\n', '\n\n', '\u00a0', '\u2003', '\u3000', '\u000b', '\u000c', '\u0085',
      '\u2028', '\u2029', '\u200b', '\u1680', '\u202f', '\u205f', ' \n', '\n ', '\t\n']
WORDS = ['the', 'The', 'THE', 'hello', 'World', 'naïve', 'Straße', 'ŁÓDŹ', 'İstanbul', 'ıi', 'Ωmega', 'привет',
         'Москва', '日本語', '中文字符', '한국어', 'ελληνικά', 'עברית', 'العربية', 'हिन्दी', 'தமிழ்', 'ไทย', 'ქართული',
         'Ꭰꭰ', 'ǅungla', 'ﬁne', 'ｆｕｌｌ', 'x²', 'ⅻ', '½', 'co-op', "rock'n'roll", 'e.g.', 'U.S.A.', 'foo_bar',
         'fooBar', 'x86_64', 'http://example.com/a?b=c&d=1', 'a@b.c', '#hashtag', '@user', '$100', '99.9%', '3.14159']
DIGITS = ['0123456789', '٠١٢٣٤٥٦٧٨٩', '۰۱۲۳۴۵۶۷۸۹', '०१२३४५६७८९', '০১২৩৪৫৬৭৮৯', '０１２３４５６７８９', '๐๑๒๓๔๕๖๗๘๙',
          '𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗', '①②③④⑤', 'ⅠⅡⅢⅣⅤ', '¹²³⁴', '〇一二三']
EMOJI_BASE = ['👨', '👩', '👧', '👦', '🧑', '👶', '🏳', '🏴', '❤', '👁', '🐻', '🧔', '🤝', '🫱', '🐈', '🌈', '⚧', '☠']
SKIN = ['\U0001F3FB', '\U0001F3FC', '\U0001F3FD', '\U0001F3FE', '\U0001F3FF']
EMOJI_FIXED = ['👨\u200d👩\u200d👧\u200d👦', '🏳\ufe0f\u200d🌈', '🏴\u200d☠\ufe0f', '👩🏽\u200d💻', '🧑\u200d🤝\u200d🧑',
               '❤\ufe0f\u200d🔥', '👁\ufe0f\u200d🗨\ufe0f', '🇩🇪', '🇺🇸🇯🇵', '🇦', '1\ufe0f\u20e3', '#\ufe0f\u20e3',
               '🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F', '👍🏿', '\u200d', '\ufe0f']


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.table = _assigned_table()
        self.keys = sorted(self.table)
        self.planes = sorted({p for p, _ in self.keys})
        self.marks = [c for k in self.keys if k[1] in ('Mn', 'Mc', 'Me') for c in self.table[k]]
        self.letters = [c for k in self.keys if k[1] in ('Lu', 'Ll', 'Lt', 'Lm', 'Lo') and k[0] == 0
                        for c in self.table[k]]

    def cp(self):
        """A random assigned code point: uniform plane, then uniform category within it, then uniform."""
        r = self.r
        plane = r.choice(self.planes)
        cats = [k for k in self.keys if k[0] == plane]
        return chr(r.choice(self.table[r.choice(cats)]))

    def word(self, n=None):
        r = self.r
        n = n or r.randint(1, 12)
        alpha = r.choice(['abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'aAbBcCsStTlLvVdDmM',
                          'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГ', 'αβγδεζηθικλμνξοπρστυφχψωΣ', 'äöüßÄÖÜéèêçñ',
                          'あいうえおかきくけこアイウエオ漢字日本', '한국어문자가나다라', '中文字符汉语'])
        return ''.join(r.choice(alpha) for _ in range(n))

    # each generator returns one string
    def g_random_cp(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 40)):
            x = r.random()
            out.append(self.cp() if x < 0.7 else r.choice(WS) if x < 0.85 else r.choice(WORDS))
        return ''.join(out)

    def g_combining(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 8)):
            base = r.choice([r.choice('aeiouAEIOUnNcCsSzZ'), chr(r.choice(self.letters)), r.choice(WORDS), ' ', '',
                             r.choice('0123456789'), r.choice("'-.,!?")])
            marks = ''.join(chr(r.choice(self.marks)) for _ in range(r.randint(0, 5)))
            if r.random() < 0.3:
                marks = r.choice(['\u0301', '\u0308', '\u0327', '\u0303', '\u0300\u0301', '\u20dd', '\u0345'])
            s = base + marks
            if r.random() < 0.3:
                s = unicodedata.normalize(r.choice(['NFC', 'NFD', 'NFKC', 'NFKD']), s)
            out.append(s)
            if r.random() < 0.5:
                out.append(r.choice(WS[:3]))
        if r.random() < 0.2:  # Hangul: precomposed and conjoining jamo
            out.append(r.choice(['한국어', '\u1112\u1161\u11ab', '\u1100\u1161', '각\u11a8']))
        return ''.join(out)

    def g_emoji(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 8)):
            x = r.random()
            if x < 0.4:
                out.append(r.choice(EMOJI_FIXED))
            elif x < 0.8:
                seq = []
                for _ in range(r.randint(1, 4)):
                    e = r.choice(EMOJI_BASE)
                    if r.random() < 0.4:
                        e += r.choice(SKIN)
                    if r.random() < 0.3:
                        e += '\ufe0f'
                    seq.append(e)
                out.append('\u200d'.join(seq))
            else:
                out.append(r.choice(WORDS + [' ', '  ', '\n', "'s", '!']))
            if r.random() < 0.4:
                out.append(' ')
        return ''.join(out)

    def g_whitespace(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 20)):
            x = r.random()
            if x < 0.55:
                out.append(''.join(r.choice(WS) for _ in range(r.randint(1, 12))))
            elif x < 0.65:
                out.append(r.choice([' ', '\n', '\t', '\r\n']) * r.randint(2, 64))
            else:
                out.append(r.choice(WORDS + ['x', '1', '.', '!', "'s", '-', '—']))
        return ''.join(out)

    def g_crlf(self):
        r = self.r
        lines = []
        for _ in range(r.randint(1, 10)):
            words = [r.choice(WORDS + [self.word()]) for _ in range(r.randint(0, 6))]
            lines.append(' '.join(words) + r.choice(['', ' ', '  ', '\t', ' .', '!']))
        sep = r.choice(['\r\n', '\r\n\r\n', '\r', '\n\r', ' \r\n', '\r\n '])
        s = sep.join(lines)
        return s + r.choice(['', '\r\n', '\r\n\r\n', '\r', ' \r\n ', '\n'])

    def g_digits(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 8)):
            ds = r.choice(DIGITS)
            run = ''.join(r.choice(ds) for _ in range(r.choice([1, 2, 3, 4, 5, 6, 7, 9, 12, 17, 33, 64])))
            x = r.random()
            if x < 0.3:
                run = self.word(r.randint(1, 4)) + run + self.word(r.randint(0, 3))
            elif x < 0.5:
                run = r.choice(['$', '-', '+', '#', '(', '']) + run + r.choice(['.', ',', '%', 'px', 'th', ')', ''])
            elif x < 0.6:
                run = run + r.choice(['.', ',', ':', '/']) + run[::-1]
            out.append(run)
            out.append(r.choice([' ', '', '\n', '  ', ', ']))
        return ''.join(out)

    def g_contractions(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 10)):
            c = r.choice(CONTRACTIONS)
            c = ''.join(ch.upper() if r.random() < 0.5 else ch for ch in c)
            if r.random() < 0.15:
                c = c.replace("'", r.choice(['\u2019', '\u02bc', "''", ' \'']))
            w = r.choice(WORDS + [self.word(), '', ' ', 'I', 'we', 'THEY'])
            out.append(w + c + r.choice(['', '', 's', 'x', ' ', "'", '\n', '.']))
            out.append(r.choice([' ', '', '  ', '\n']))
        return ''.join(out)

    def g_long(self):
        r = self.r
        n = r.choice([101, 200, 500, 1000, 2000, 5000])
        x = r.random()
        if x < 0.2:
            s = r.choice('aAzZxщ日ŋ') * n
        elif x < 0.45:
            s = self.word(n)
        elif x < 0.55:
            s = ''.join(r.choice('!@#$%^&*()_+-=[]{};:,./<>?|~`"') for _ in range(n))
        elif x < 0.65:
            s = ''.join(r.choice('0123456789') for _ in range(n))
        elif x < 0.75:
            s = ''.join(chr(r.choice(self.letters)) for _ in range(n))
        elif x < 0.85:
            s = (r.choice(WORDS) + r.choice(['', '-', '_', "'"])) * (n // 8 + 1)
        else:
            s = ''.join(self.cp() for _ in range(n // 5))
        if r.random() < 0.5:
            s = r.choice(['', ' ', 'The ', '\n', '“']) + s + r.choice(['', ' ', '.', '\n', "'s"])
        return s

    def g_specials(self):
        r = self.r
        out = []
        for _ in range(r.randint(1, 6)):
            t = r.choice(SPECIALS)
            x = r.random()
            if x < 0.25:
                pass  # exact
            elif x < 0.4:
                t = t[:r.randint(1, len(t) - 1)] if r.random() < 0.5 else t[r.randint(1, len(t) - 1):]
            elif x < 0.5:
                i = r.randint(1, len(t) - 1)
                t = t[:i] + r.choice([' ', '\n', 'x', '|', '<', '>']) + t[i:]
            elif x < 0.6:
                t = r.choice([t.upper(), t.lower(), t.swapcase()])
            elif x < 0.7:
                t = t + t if r.random() < 0.5 else '<|' + t + '|>'
            elif x < 0.85:
                t = r.choice(['', 'x', ' ', '  ', '\n', 'hello', '<']) + t + r.choice(['', 'x', ' ', '  ', '\n', '>', '|>'])
            else:
                t = r.choice(['< s>', '<s >', '</ s>', '<|endoftext|', '|endoftext|>', '<|endoftext|>x', 'x<|endoftext|>',
                              '<|endoftext |>', '<||>', '<|>', '<|', '|>', '[CLS', 'CLS]', '[ CLS ]', '<s><s>',
                              '<|im_start|>user\n', '<|extra_999|>', '<|reserved_special_token_300|>'])
            out.append(t)
            out.append(r.choice(['', ' ', 'text', ' text ', '\n']))
        return ''.join(out)

    def g_mixed(self):
        r = self.r
        parts = []
        for _ in range(r.randint(1, 15)):
            x = r.random()
            if x < 0.3:
                parts.append(r.choice(WORDS))
            elif x < 0.45:
                parts.append(self.word())
            elif x < 0.55:
                parts.append(r.choice(['def f(x):\n    return x', '{"a": [1, 2]}', '<div class="x">', 'a->b', '==',
                                       '/usr/bin/env', 'C:\\Windows', '¯\\_(ツ)_/¯', '...', '—', '«»', '„“', '()']))
            elif x < 0.65:
                parts.append(self.cp())
            elif x < 0.75:
                parts.append(self.g_digits())
            else:
                parts.append(r.choice(WS))
        return ''.join(parts)

    def g_edge(self, i):
        # small deterministic cases first: every ASCII char alone, with a space, and a few classics
        fixed = ['', ' ', '  ', '\n', '\r\n', '\t', 'a', ' a', 'a ', "'", "'s", " 's", "'S", "''", '\u0301', '\u200d',
                 '\ufeff', '\x00', '\x7f', '\ufffd', '\U0010fffd', '\U000e0001', '\u00ad', '\u0600', '\u061c']
        ascii_cases = [chr(c) for c in range(128)] + [' ' + chr(c) for c in range(128)] + [chr(c) * 3 for c in range(128)]
        cases = fixed + ascii_cases
        if i < len(cases):
            return cases[i]
        return self.cp() + (self.cp() if self.r.random() < 0.5 else '')


ADV_KINDS = [  # (group name, count)
    ('edge', 4000), ('random_cp', 20000), ('combining', 10000), ('emoji_zwj', 8000), ('whitespace', 10000),
    ('crlf', 8000), ('digits', 10000), ('contractions', 12000), ('long_words', 2000), ('specials', 10000),
    ('mixed', 10000),
]


def adversarial_groups(seed=SEED):
    g = Gen(seed)
    fn = {'edge': None, 'random_cp': g.g_random_cp, 'combining': g.g_combining, 'emoji_zwj': g.g_emoji,
          'whitespace': g.g_whitespace, 'crlf': g.g_crlf, 'digits': g.g_digits, 'contractions': g.g_contractions,
          'long_words': g.g_long, 'specials': g.g_specials, 'mixed': g.g_mixed}
    groups = []
    for kind, n in ADV_KINDS:
        if kind == 'edge':
            strs = [g.g_edge(i) for i in range(n)]
        else:
            strs = [fn[kind]() for _ in range(n)]
        for s in strs:  # invariant: valid Unicode scalars only, assigned in this unicodedata version
            assert all(unicodedata.category(c) not in ('Cn', 'Cs') for c in s), (kind, s)
        groups.append((f'adv/{kind}', strs))
    return groups


def all_groups():
    """[(name, [str])] for the whole input set (loads every file)."""
    out = [(name, load()) for name, load in text_groups()]
    out += adversarial_groups()
    return out


def group_hash(strs):
    h = hashlib.sha256()
    for s in strs:
        b = s.encode('utf-8')
        h.update(len(b).to_bytes(8, 'little'))
        h.update(b)
    return h.hexdigest()[:20]


if __name__ == '__main__':
    tot_s = tot_b = 0
    for name, strs in all_groups():
        nb = sum(len(s.encode('utf-8')) for s in strs)
        tot_s += len(strs)
        tot_b += nb
        if '-v' in sys.argv:
            print(f'{name:40s} {len(strs):8d} strings {nb:12,d} bytes')
    print(f'total {tot_s:,} strings, {tot_b:,} bytes; unicodedata {unicodedata.unidata_version}')
