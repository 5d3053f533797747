#!/usr/bin/env python3
"""SentencePiece-style BPE: `glossa train --model sentencepiece` vs `sentencepiece --model_type=bpe`.

For each (language, vocab) both trainers run on shared/corpora/LANG/train.txt as their own process under
/usr/bin/time -v (wall time and peak RSS of the whole process), then both tokenizers encode every line of
the matching heldout.txt (without its newline, no BOS/EOS) and the script reports compression as
UTF-8 bytes per token (higher is better). Glossa's tokenizer.json is loaded and run with HF `tokenizers`
(so the check also proves the file loads and decodes there: decode(encode(line)) == NFKC(line) is counted).

SentencePiece settings (tokenizers.md §6.5): model_type=bpe, byte_fallback=True, character_coverage=0.9995,
input_sentence_size=0, max_sentence_length=65536, num_threads=THREADS, everything else default
(nmt_nfkc normalization, add_dummy_prefix, remove_extra_whitespaces, split_by_whitespace,
split_by_unicode_script, max_sentencepiece_length 16).
Glossa: glossa train --model sentencepiece --corpus FILE --vocab-size V --threads THREADS
(NFKC, Metaspace dummy prefix, byte_fallback, character_coverage 0.9995, max piece length 16).

  .venv/bin/python Tests/parity/train_sp_compare.py --glossa .build-h11/release/glossa            # the suite
  .venv/bin/python Tests/parity/train_sp_compare.py --glossa ... --only en:32000 --threads 1
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPORA = os.path.join(os.path.dirname(ROOT), 'shared', 'corpora')
SUITE = [('en', 32000), ('ru', 32000), ('zh', 8000), ('ko', 8000)]

SP_TRAIN = r'''
import sys
import sentencepiece as spm
path, prefix, vocab, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
spm.SentencePieceTrainer.train(input=path, model_prefix=prefix, model_type='bpe', vocab_size=vocab,
    num_threads=threads, byte_fallback=True, character_coverage=0.9995, input_sentence_size=0,
    max_sentence_length=1 << 16, minloglevel=2)
'''


def timed(cmd):
    r = subprocess.run(['/usr/bin/time', '-v', *cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'{cmd[0]} failed: {r.stderr[-2000:]}')
    wall = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)', r.stderr).group(1)
    parts = [float(x) for x in wall.split(':')]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1)) / 1024
    user = float(re.search(r'User time \(seconds\): (\S+)', r.stderr).group(1))
    sys_ = float(re.search(r'System time \(seconds\): (\S+)', r.stderr).group(1))
    return {'wall_s': round(secs, 2), 'cpu_s': round(user + sys_, 2), 'rss_mib': round(rss, 1)}


def heldout_lines(lang):
    with open(os.path.join(CORPORA, lang, 'heldout.txt'), encoding='utf-8') as f:
        return [line.rstrip('\n') for line in f]


def evaluate(lines, glossa_json, sp_model):
    from tokenizers import Tokenizer
    import sentencepiece as spm
    nbytes = sum(len(s.encode('utf-8')) for s in lines)
    tk = Tokenizer.from_file(glossa_json)
    enc = tk.encode_batch(lines, add_special_tokens=False)
    g_tokens = sum(len(e.ids) for e in enc)
    unk = tk.token_to_id('<unk>')
    g_unk = sum(e.ids.count(unk) for e in enc)
    decoded = tk.decode_batch([e.ids for e in enc], skip_special_tokens=False)
    g_lossless = sum(d == unicodedata.normalize('NFKC', s) for d, s in zip(decoded, lines))
    sp = spm.SentencePieceProcessor(model_file=sp_model)
    ids = sp.encode(lines)
    s_tokens = sum(len(x) for x in ids)
    s_unk = sum(x.count(sp.unk_id()) for x in ids)
    return {'heldout_bytes': nbytes, 'lines': len(lines),
            'glossa_tokens': g_tokens, 'sp_tokens': s_tokens,
            'glossa_bytes_per_token': round(nbytes / g_tokens, 4), 'sp_bytes_per_token': round(nbytes / s_tokens, 4),
            'glossa_vs_sp': round((nbytes / g_tokens) / (nbytes / s_tokens), 4),
            'glossa_unk': g_unk, 'sp_unk': s_unk, 'glossa_roundtrip_lines': g_lossless,
            'glossa_vocab': tk.get_vocab_size(), 'sp_vocab': sp.get_piece_size()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--glossa', required=True)
    ap.add_argument('--only', nargs='*', help='LANG:VOCAB items (default: en:32000 ru:32000 zh:8000 ko:8000)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--workdir', help='keep models here (default: a temporary directory)')
    ap.add_argument('--reuse-sp', action='store_true', help='reuse an existing SentencePiece model in --workdir (no timing)')
    a = ap.parse_args()
    items = [(x.split(':')[0], int(x.split(':')[1])) for x in a.only] if a.only else SUITE
    tmp = None
    work = a.workdir
    if not work:
        tmp = tempfile.TemporaryDirectory()
        work = tmp.name
    os.makedirs(work, exist_ok=True)
    peer = os.path.join(work, 'sp_train.py')
    with open(peer, 'w') as f:
        f.write(SP_TRAIN)
    rows = []
    for lang, vocab in items:
        train = os.path.join(CORPORA, lang, 'train.txt')
        out = os.path.join(work, f'glossa-{lang}-{vocab}.json')
        prefix = os.path.join(work, f'sp-{lang}-{vocab}')
        row = {'lang': lang, 'vocab': vocab, 'train_bytes': os.path.getsize(train), 'threads': a.threads}
        row['glossa'] = timed([a.glossa, 'train', '--model', 'sentencepiece', '--corpus', train,
                               '--vocab-size', str(vocab), '--threads', str(a.threads), '-o', out, '--quiet'])
        if not (a.reuse_sp and os.path.exists(prefix + '.model')):
            row['sp'] = timed([sys.executable, peer, train, prefix, str(vocab), str(a.threads)])
        row.update(evaluate(heldout_lines(lang), out, prefix + '.model'))
        print(json.dumps(row), flush=True)
        rows.append(row)
    print('\n| corpus | vocab | Glossa B/tok | SP B/tok | Glossa/SP | Glossa wall s | SP wall s | Glossa RSS MiB | SP RSS MiB |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        g, s = r['glossa'], r.get('sp', {})
        print(f"| {r['lang']} | {r['vocab']:,} | {r['glossa_bytes_per_token']:.3f} | {r['sp_bytes_per_token']:.3f} | "
              f"{r['glossa_vs_sp']:.4f} | {g['wall_s']} | {s.get('wall_s', '-')} | {g['rss_mib']} | {s.get('rss_mib', '-')} |")
    bad = [r for r in rows if r['glossa_vs_sp'] < 0.99]
    if tmp:
        tmp.cleanup()
    if bad:
        print('FAIL: Glossa compression more than 1% below SentencePiece for ' +
              ', '.join(f"{r['lang']}:{r['vocab']}" for r in bad))
        sys.exit(1)
    print('OK: Glossa within 1% of SentencePiece or better on every corpus')


if __name__ == '__main__':
    main()
