#!/usr/bin/env python3
"""BPE training parity: HF `tokenizers` BpeTrainer vs `glossa train`, same corpus and settings.

Compares the vocabulary (token -> id) and the merge list exactly, and the rest of tokenizer.json
(normalizer, pre_tokenizer, decoder, added_tokens, model options). Prints one JSON line per run and
exits non-zero on any difference.

  .venv/bin/python Tests/parity/train_parity.py --glossa .build-h7/release/glossa \\
      --corpus ../shared/corpora/en/train.txt --vocab 32000
  .venv/bin/python Tests/parity/train_parity.py --glossa .build-h7/release/glossa --suite
      (en and ru at 1k and 32k, zh and ko at 8k)

HF is run as `Tokenizer(BPE())`, `ByteLevel(add_prefix_space=False, use_regex=True)` for the GPT-2
pattern or `Sequence[Split(Regex(p), "isolated"), ByteLevel(add_prefix_space=False, use_regex=False)]`
otherwise, decoder ByteLevel, `BpeTrainer(initial_alphabet=ByteLevel.alphabet(), ...)`,
`tokenizer.train([files])` (files read line by line, each line with its newline).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')

PATTERNS = {
    'gpt2': r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    'cl100k': r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    'o200k': r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
}

SUITE = [
    ('en', 1000), ('en', 32000), ('ru', 1000), ('ru', 32000), ('zh', 8000), ('ko', 8000),
]


def hf_train(files, a):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, trainers, Regex
    tk = Tokenizer(models.BPE())
    norms = []
    if a.normalization != 'none':
        norms.append(getattr(normalizers, a.normalization.upper())())
    if a.lowercase:
        norms.append(normalizers.Lowercase())
    if norms:
        tk.normalizer = norms[0] if len(norms) == 1 else normalizers.Sequence(norms)
    if a.pattern == 'gpt2':
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(PATTERNS.get(a.pattern, a.pattern)), behavior='isolated', invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tk.decoder = decoders.ByteLevel()
    kw = dict(vocab_size=a.vocab, min_frequency=a.min_frequency, show_progress=False,
              special_tokens=a.special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    if a.max_token_length:
        kw['max_token_length'] = a.max_token_length
    if a.limit_alphabet is not None:
        kw['limit_alphabet'] = a.limit_alphabet
    t0 = time.perf_counter()
    tk.train(files, trainers.BpeTrainer(**kw))
    return json.loads(tk.to_str()), time.perf_counter() - t0


def glossa_train(files, a, out):
    cmd = [a.glossa, 'train', '--corpus', *files, '--vocab-size', str(a.vocab),
           '--min-frequency', str(a.min_frequency), '--pattern', a.pattern,
           '--normalization', a.normalization, '-o', out, '--json', '--quiet']
    if a.special:
        cmd += ['--special-tokens', ','.join(a.special)]
    if a.lowercase:
        cmd.append('--lowercase')
    if a.max_token_length:
        cmd += ['--max-token-length', str(a.max_token_length)]
    if a.limit_alphabet is not None:
        cmd += ['--limit-alphabet', str(a.limit_alphabet)]
    if a.threads:
        cmd += ['--threads', str(a.threads)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f'glossa failed ({r.returncode}): {r.stderr.strip()}')
    with open(out, encoding='utf-8') as f:
        return json.load(f), wall


def merges_of(doc):
    return [tuple(m) if isinstance(m, list) else tuple(m.split(' ', 1)) for m in doc['model']['merges']]


def compare(hf, gl):
    res = {}
    hv, gv = hf['model']['vocab'], gl['model']['vocab']
    res['vocab_hf'], res['vocab_glossa'] = len(hv), len(gv)
    res['vocab_identical'] = hv == gv
    if hv != gv:
        hinv = sorted((i, t) for t, i in hv.items())
        ginv = sorted((i, t) for t, i in gv.items())
        first = next((k for k, (x, y) in enumerate(zip(hinv, ginv)) if x != y), min(len(hinv), len(ginv)))
        res['vocab_first_difference'] = {'id': first, 'hf': hinv[first][1] if first < len(hinv) else None,
                                         'glossa': ginv[first][1] if first < len(ginv) else None}
    hm, gm = merges_of(hf), merges_of(gl)
    res['merges_hf'], res['merges_glossa'] = len(hm), len(gm)
    res['merges_identical'] = hm == gm
    if hm != gm:
        first = next((k for k, (x, y) in enumerate(zip(hm, gm)) if x != y), min(len(hm), len(gm)))
        res['merges_first_difference'] = {'rank': first, 'hf': hm[first] if first < len(hm) else None,
                                          'glossa': gm[first] if first < len(gm) else None}
    other = []
    for k in sorted(set(hf) | set(gl)):
        if k == 'model':
            for mk in sorted(set(hf['model']) | set(gl['model'])):
                if mk not in ('vocab', 'merges') and hf['model'].get(mk) != gl['model'].get(mk):
                    other.append(f'model.{mk}')
        elif hf.get(k) != gl.get(k):
            other.append(k)
    res['other_differences'] = other
    res['identical'] = res['vocab_identical'] and res['merges_identical'] and not other
    return res


def run_one(files, a):
    with tempfile.TemporaryDirectory() as d:
        gl, gwall = glossa_train(files, a, os.path.join(d, 'glossa.json'))
    hf, hwall = hf_train(files, a)
    res = {'corpus': [os.path.relpath(f) for f in files], 'vocab_size': a.vocab, 'pattern': a.pattern,
           'special': a.special, 'min_frequency': a.min_frequency, 'normalization': a.normalization}
    res.update(compare(hf, gl))
    res['hf_train_s'] = round(hwall, 2)
    res['glossa_wall_s'] = round(gwall, 2)
    print(json.dumps(res, ensure_ascii=False), flush=True)
    return res['identical']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--glossa', default=os.path.join(ROOT, '.build', 'release', 'glossa'))
    ap.add_argument('--corpus', nargs='+')
    ap.add_argument('--suite', action='store_true', help='en/ru at 1k and 32k, zh/ko at 8k (shared/corpora/*/train.txt)')
    ap.add_argument('--vocab', type=int, default=1000)
    ap.add_argument('--min-frequency', type=int, default=0)
    ap.add_argument('--special', nargs='*', default=['<|endoftext|>'])
    ap.add_argument('--pattern', default='gpt2')
    ap.add_argument('--normalization', default='none', choices=['none', 'nfc', 'nfd', 'nfkc', 'nfkd'])
    ap.add_argument('--lowercase', action='store_true')
    ap.add_argument('--max-token-length', type=int)
    ap.add_argument('--limit-alphabet', type=int)
    ap.add_argument('--threads', type=int, default=0)
    a = ap.parse_args()
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'true')
    ok = True
    if a.suite:
        for lang, vocab in SUITE:
            a.vocab = vocab
            ok &= run_one([os.path.join(SHARED, 'corpora', lang, 'train.txt')], a)
    else:
        if not a.corpus:
            ap.error('--corpus or --suite')
        ok = run_one(a.corpus, a)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
