"""Checks an extension written by `glossa extend` against HF `tokenizers`.

usage: python Tests/parity/extension_check_hf.py GLOSSA EXT_DIR BASE TEXT [TEXT...]
  GLOSSA   path to the glossa binary
  EXT_DIR  the output directory of `glossa extend` (tokenizer.json + extension.json)
  BASE     the base tokenizer: a tokenizer.json, or GPT-2's encoder.json (vocab.bpe beside it)
  TEXT     held-out text files (one sequence per line)

Verifies, with HF tokenizers as the reference implementation:
  1. every base token keeps its id, and the base merges are the first merges of the extension, unchanged;
  2. every manifest token is in the vocabulary at its id, new ids are contiguous from base_vocab_size,
     and HF encodes each new token's own text (when it is whole UTF-8 text) to that single id;
  3. on every line of each TEXT, HF's ids (add_special_tokens=False) equal Glossa's (`glossa encode --jsonl`).
Exit 1 on any failure.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, models, pre_tokenizers, decoders


def base_model(base):
    if base.endswith('encoder.json') or base.endswith('vocab.bpe'):
        d = os.path.dirname(base)
        vocab = json.load(open(os.path.join(d, 'encoder.json'), encoding='utf-8'))
        merges = [tuple(l.rstrip('\n').split(' ')) for l in open(os.path.join(d, 'vocab.bpe'), encoding='utf-8')
                  if l.strip() and not l.startswith('#version')]
        return vocab, merges
    j = json.load(open(base, encoding='utf-8'))
    return j['model']['vocab'], [tuple(m.split(' ')) if isinstance(m, str) else tuple(m) for m in j['model']['merges']]


def main():
    glossa, ext, base = sys.argv[1:4]
    texts = sys.argv[4:]
    ej = json.load(open(os.path.join(ext, 'tokenizer.json'), encoding='utf-8'))
    manifest = json.load(open(os.path.join(ext, 'extension.json'), encoding='utf-8'))
    fails = 0
    bvocab, bmerges = base_model(base)
    evocab = ej['model']['vocab']
    emerges = [tuple(m.split(' ')) if isinstance(m, str) else tuple(m) for m in ej['model']['merges']]
    changed = [t for t, i in bvocab.items() if evocab.get(t) != i]
    if changed:
        fails += 1
        print(f'FAIL base ids changed: {len(changed)} e.g. {changed[:3]}')
    if emerges[:len(bmerges)] != bmerges:
        fails += 1
        print('FAIL base merges changed')
    n_new = len(manifest['tokens'])
    print(f'base: {len(bvocab)} tokens, {len(bmerges)} merges; extension: {len(evocab)} tokens, '
          f'{len(emerges)} merges ({len(emerges) - len(bmerges)} new), {n_new} manifest tokens')

    tk = Tokenizer.from_file(os.path.join(ext, 'tokenizer.json'))
    base_size = manifest['base_vocab_size']
    ids = [t['id'] for t in manifest['tokens']]
    if ids != list(range(base_size, base_size + n_new)):
        fails += 1
        print('FAIL new ids are not contiguous from base_vocab_size')
    unreachable = []
    checked = 0
    metaspace = manifest.get('base_kind', '').startswith('SentencePiece')
    for t in manifest['tokens']:
        if tk.id_to_token(t['id']) != t['surface']:
            unreachable.append((t['id'], 'spelling'))
            continue
        # Model level: HF's BPE on the token's own symbols gives the token.
        got = [x.id for x in tk.model.tokenize(t['surface'])]
        if got != [t['id']]:
            unreachable.append((t['id'], t['surface'], 'model', got))
            continue
        # Whole pipeline, where the surface is whole text: byte-level tokens of complete characters, and
        # SentencePiece-style pieces that start with '▁' (the pre-tokenizer adds that '▁' itself).
        raw = base64.b64decode(t['bytes_b64'])
        try:
            text = raw.decode('utf-8')
        except UnicodeDecodeError:
            continue
        if metaspace:
            if not t['surface'].startswith('\u2581') or '\u2581' in t['surface'][1:]:
                continue
            text = text[1:]
        checked += 1
        got = tk.encode(text, add_special_tokens=False).ids
        if got != [t['id']]:
            unreachable.append((t['id'], t['surface'], 'text', got))
    print(f'reachability (HF): all {n_new - len(unreachable)}/{n_new} new tokens at the model level; '
          f'{checked} of them also as whole text through the full pipeline')
    if unreachable:
        fails += 1
        print('FAIL unreachable:', unreachable[:5])

    for path in texts:
        lines = [l for l in open(path, encoding='utf-8').read().split('\n') if l]
        with tempfile.NamedTemporaryFile('w', suffix='.jsonl', delete=False, encoding='utf-8') as f:
            for l in lines:
                f.write(json.dumps(l, ensure_ascii=False) + '\n')
            jl = f.name
        out = subprocess.run([glossa, 'encode', '-t', os.path.join(ext, 'tokenizer.json'), '--jsonl', jl,
                              '--no-special-tokens', '--special', 'text'], check=True, capture_output=True, text=True).stdout
        os.unlink(jl)
        g = [json.loads(l)['ids'] for l in out.splitlines() if l.strip()]
        h = [e.ids for e in tk.encode_batch(lines, add_special_tokens=False)]
        diff = [i for i, (a, b) in enumerate(zip(g, h)) if a != b]
        ok = len(g) == len(h) and not diff
        fails += not ok
        new = sum(1 for ids in h for i in ids if i >= base_size)
        print(f'{path}: {len(lines)} lines, {sum(map(len, h))} tokens ({new} new-token uses): '
              f'{"ids identical to HF" if ok else "MISMATCH at lines " + str(diff[:5])}')
    print('PASS' if fails == 0 else f'FAIL ({fails})')
    sys.exit(1 if fails else 0)


if __name__ == '__main__':
    main()
