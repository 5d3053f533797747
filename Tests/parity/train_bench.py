#!/usr/bin/env python3
"""BPE training speed and memory, side by side: glossa train vs HF BpeTrainer vs SentencePiece BPE.

Each trainer runs as its own process under /usr/bin/time -v (wall time and peak RSS of the whole
process: start, read, train, save), with the settings of tokenizers.md §6.5 / §9.3:
  HF:  Tokenizer(BPE()), ByteLevel(add_prefix_space=False, use_regex=True), BpeTrainer(vocab,
       special_tokens=['<|endoftext|>'], initial_alphabet=ByteLevel.alphabet()), train([file])
  SP:  SentencePieceTrainer.train(model_type='bpe', byte_fallback=True, character_coverage=0.9995,
       input_sentence_size=0, max_sentence_length=65536, num_threads=THREADS)
  glossa: glossa train --corpus FILE --vocab-size VOCAB --special-tokens '<|endoftext|>' --threads THREADS
Runs are interleaved (glossa, hf, sp, glossa, hf, sp, ...) and the median of --reps is reported.

  .venv/bin/python Tests/parity/train_bench.py --glossa .build-h7/release/glossa \\
      --file ../shared/bench/en_linux_docs.txt --vocab 32000 --threads 1 --reps 3 [--skip sp]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

PEER = r'''
import sys, os, time
lib, vocab, threads, path, outdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
os.environ['TOKENIZERS_PARALLELISM'] = 'false' if threads == 1 else 'true'; os.environ['RAYON_NUM_THREADS'] = str(threads)
if lib == 'hf':
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    tk = Tokenizer(models.BPE()); tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = decoders.ByteLevel()
    tk.train([path], trainers.BpeTrainer(vocab_size=vocab, show_progress=False, special_tokens=['<|endoftext|>'],
                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tk.save(f'{outdir}/tokenizer.json')
elif lib == 'sp':
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(input=path, model_prefix=f'{outdir}/sp', model_type='bpe', vocab_size=vocab, num_threads=threads,
        byte_fallback=True, character_coverage=0.9995, input_sentence_size=0, max_sentence_length=1 << 16, minloglevel=2)
'''


def timed(cmd, env=None):
    r = subprocess.run(['/usr/bin/time', '-v', *cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f'{cmd[0]} failed: {r.stderr[-2000:]}')
    wall = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)', r.stderr).group(1)
    parts = [float(x) for x in wall.split(':')]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1)) / 1024
    user = float(re.search(r'User time \(seconds\): (\S+)', r.stderr).group(1))
    sys_ = float(re.search(r'System time \(seconds\): (\S+)', r.stderr).group(1))
    return {'wall_s': secs, 'cpu_s': user + sys_, 'rss_mib': rss}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--glossa', required=True)
    ap.add_argument('--file', required=True)
    ap.add_argument('--vocab', type=int, default=32000)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--reps', type=int, default=1)
    ap.add_argument('--skip', nargs='*', default=[], choices=['hf', 'sp'])
    a = ap.parse_args()
    py = sys.executable
    runs = {'glossa': [], 'hf': [], 'sp': []}
    with tempfile.TemporaryDirectory() as d:
        peer = os.path.join(d, 'peer.py')
        with open(peer, 'w') as f:
            f.write(PEER)
        for _ in range(a.reps):
            runs['glossa'].append(timed([a.glossa, 'train', '--corpus', a.file, '--vocab-size', str(a.vocab),
                                         '--special-tokens', '<|endoftext|>', '--threads', str(a.threads),
                                         '-o', os.path.join(d, 'glossa.json'), '--quiet']))
            for lib in ('hf', 'sp'):
                if lib not in a.skip:
                    runs[lib].append(timed([py, peer, lib, str(a.vocab), str(a.threads), a.file, d]))
    med = {k: {m: round(statistics.median(r[m] for r in v), 2) for m in ('wall_s', 'cpu_s', 'rss_mib')}
           for k, v in runs.items() if v}
    out = {'file': a.file, 'bytes': os.path.getsize(a.file), 'vocab': a.vocab, 'threads': a.threads, 'reps': a.reps, **med}
    g = med['glossa']
    for lib in ('hf', 'sp'):
        if lib in med:
            out[f'wall_ratio_vs_{lib}'] = round(g['wall_s'] / med[lib]['wall_s'], 3)
            out[f'rss_ratio_vs_{lib}'] = round(g['rss_mib'] / med[lib]['rss_mib'], 3)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
