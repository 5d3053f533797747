#!/usr/bin/env python3
"""Encode benchmark: Glossa and its peers on the same documents, same tokenizer, one run.

usage: python Tests/bench/encode_bench.py [--tok cl100k,o200k,llama3,llama3-hf,mistral,minilm] [--file F]
                                          [--threads 1] [--reps 3] [--rounds 1] [--lines 50] [--fresh-state]
                                          [--glossa .build/release/glossa]

Each library encodes the file split at '\n' (line ends kept) into documents of --lines lines, one call each;
with --fresh-state Glossa encodes each document with a new encoder state (the peers keep nothing per caller). Reported: load time,
MB (1e6 bytes of UTF-8) per CPU-second, wall MB/s, tokens, peak RSS (of that library's process), and an
order-dependent hash of the id stream; Glossa's hash must equal the reference peer's or the run fails.
Peers run in their own processes so RSS is per library.

With --rounds N, Glossa and the peers run in turn N times (Glossa, peer 1, peer 2, ..., Glossa, ...): each
library's figures are the medians over the rounds, and each ratio the median of the N ratios of a round's
Glossa to that round's peer, printed with their range. On a machine whose speed drifts over minutes (a shared VM),
this compares the libraries in the same minutes; one round is one pass, as before.
"""
import argparse, base64, json, os, subprocess, sys, time, statistics, resource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S = os.path.join(ROOT, '..', 'shared', 'tokenizers')
CL100K_CLASSIC = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# tokenizer key -> (glossa tokenizer path, [(peer lib, mode)] ; the first peer is the exactness reference)
TOKS = {
    'cl100k':    (f'{S}/cl100k_base/cl100k_base.tiktoken', [('tiktoken', 'cl100k'), ('rs_bpe', 'cl100k'), ('bpe_openai', 'cl100k')]),
    'o200k':     (f'{S}/o200k_base/o200k_base.tiktoken', [('tiktoken', 'o200k'), ('rs_bpe', 'o200k'), ('bpe_openai', 'o200k')]),
    'llama3':    (f'{S}/llama3.2/tokenizer.model', [('tiktoken', 'llama3')]),
    'llama3-hf': (f'{S}/llama3.2/tokenizer.json', [('hf', f'{S}/llama3.2/tokenizer.json')]),
    'mistral':   (f'{S}/mistral-7b-v0.3/tokenizer.json', [('hf', f'{S}/mistral-7b-v0.3/tokenizer.json')]),
    'mistral-sp': (f'{S}/mistral-7b-v0.3/tokenizer.model.v3', [('sp', f'{S}/mistral-7b-v0.3/tokenizer.model.v3')]),
    'minilm':    (f'{S}/all-MiniLM-L6-v2-wordpiece/tokenizer.json', [('hf', f'{S}/all-MiniLM-L6-v2-wordpiece/tokenizer.json')]),
}

P = 1_000_003
MASK = (1 << 64) - 1


def stream_hash(id_lists):
    import numpy as np
    parts = []
    for k, ids in enumerate(id_lists):
        if k:
            parts.append(np.zeros(1, dtype=np.uint64))
        parts.append(np.asarray(ids, dtype=np.int64).astype(np.uint64) + np.uint64(1))
    v = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    with np.errstate(over='ignore'):
        powers = np.cumprod(np.full(len(v), P, dtype=np.uint64), dtype=np.uint64)
        return format(int(np.sum(v * powers, dtype=np.uint64)), 'x')


def documents(path, lines):
    data = open(path, 'rb').read().decode('utf-8')
    ls = data.split('\n')
    ls = [l + '\n' for l in ls[:-1]] + ([ls[-1]] if ls[-1] else [])
    return [''.join(ls[i:i + lines]) for i in range(0, len(ls), lines)], len(data.encode('utf-8'))


def load_ranks(p):
    r = {}
    for line in open(p, 'rb'):
        if line.strip():
            t, k = line.split()
            r[base64.b64decode(t)] = int(k)
    return r


def tiktoken_pat(name):
    from tiktoken_ext import openai_public as op
    op.load_tiktoken_bpe = lambda *a, **k: {}
    op.data_gym_to_mergeable_bpe_ranks = lambda *a, **k: {}
    return getattr(op, name)()['pat_str']


def peer(lib, mode, path, threads, reps, lines):
    """Runs in a child process; prints one JSON line."""
    docs, nbytes = documents(path, lines)
    t0 = time.perf_counter()
    if lib == 'tiktoken':
        import tiktoken
        if mode == 'llama3':
            enc = tiktoken.Encoding('llama3', pat_str=CL100K_CLASSIC, mergeable_ranks=load_ranks(f'{S}/llama3.2/tokenizer.model'), special_tokens={})
        else:
            enc = tiktoken.Encoding(mode, pat_str=tiktoken_pat(mode + '_base'), mergeable_ranks=load_ranks(f'{S}/{mode}_base/{mode}_base.tiktoken'), special_tokens={})
        f = (lambda: [enc.encode_ordinary(d) for d in docs]) if threads == 1 else (lambda: enc.encode_ordinary_batch(docs, num_threads=threads))
    elif lib == 'hf':
        os.environ['TOKENIZERS_PARALLELISM'] = 'false' if threads == 1 else 'true'
        os.environ['RAYON_NUM_THREADS'] = str(threads)
        from tokenizers import Tokenizer
        tk = Tokenizer.from_file(mode)
        tk.no_truncation(); tk.no_padding()
        if threads == 1:
            f = lambda: [tk.encode(d, add_special_tokens=False).ids for d in docs]
        else:
            f = lambda: [e.ids for e in tk.encode_batch(docs, add_special_tokens=False)]
    elif lib == 'sp':
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=mode)
        f = lambda: sp.encode(docs, num_threads=threads)
    elif lib == 'rs_bpe':
        from rs_bpe.bpe import openai as o
        t = {'cl100k': o.cl100k_base, 'o200k': o.o200k_base}[mode]()
        f = lambda: [t.encode(d) for d in docs]
    elif lib == 'bpe_openai':
        from bpe_openai import _bindings as b
        p = b.tokenizer_for_encoding(mode + '_base')
        f = lambda: [p.encode(d) for d in docs]
    load_s = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(reps):
        c0 = time.process_time(); w0 = time.perf_counter(); out = f()
        walls.append(time.perf_counter() - w0); cpus.append(time.process_time() - c0)
    out = [list(x) for x in out]
    print(json.dumps(dict(lib=lib, threads=threads, bytes=nbytes, docs=len(docs), load_s=round(load_s, 3),
                          MB_per_cpu_s=round(nbytes / 1e6 / statistics.median(cpus), 2),
                          wall_MBps=round(nbytes / 1e6 / statistics.median(walls), 2),
                          rep_cpu_ms=[round(c * 1e3, 2) for c in cpus],
                          tokens=sum(map(len, out)), hash=stream_hash(out),
                          peak_rss_MB=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tok', default='cl100k,o200k,llama3,llama3-hf,mistral,minilm')
    ap.add_argument('--file', default=os.path.join(ROOT, '..', 'shared', 'bench', 'en_linux_docs.txt'))
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--rounds', type=int, default=1)
    ap.add_argument('--lines', type=int, default=50, help='lines per document (1: every line its own call)')
    ap.add_argument('--fresh-state', action='store_true', help="Glossa: a new encoder state per document (what a caller that keeps none gets)")
    ap.add_argument('--glossa', default=os.path.join(ROOT, '.build', 'release', 'glossa'))
    ap.add_argument('--peer', nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer:
        return peer(a.peer[0], a.peer[1], a.peer[2], a.threads, a.reps, a.lines)
    failed = 0
    rounds = max(1, a.rounds)
    print(f"file: {os.path.basename(a.file)}, lines per document: {a.lines}, threads: {a.threads}, reps: {a.reps} (median)"
          + (", Glossa with a fresh state per document" if a.fresh_state else "")
          + (f", rounds: {rounds} (medians; ratio range in brackets)" if rounds > 1 else ""))
    print(f"{'tokenizer':<11} {'library':<11} {'load s':>7} {'MB/CPU-s':>9} {'wall MB/s':>9} {'RSS MB':>7} {'tokens':>10}  ids      ratio (Glossa / lib, per CPU-s)")
    for key in a.tok.split(','):
        gpath, peers = TOKS[key]
        special = 'allowed' if peers[0][0] in ('hf',) else 'text'   # HF matches added tokens; tiktoken encode_ordinary does not
        runs = {'glossa': []}
        unavailable = {}
        for _ in range(rounds):
            runs['glossa'].append(json.loads(subprocess.run(
                [a.glossa, 'bench', '-t', gpath, '-i', a.file, '--threads', str(a.threads), '--reps', str(a.reps), '--special', special,
                 '--lines', str(a.lines)] + (['--fresh-state'] if a.fresh_state else []),
                check=True, capture_output=True, text=True).stdout))
            for lib, mode in peers:
                if lib in unavailable:
                    continue
                r = subprocess.run([sys.executable, __file__, '--peer', lib, mode, a.file, '--threads', str(a.threads), '--reps', str(a.reps),
                                    '--lines', str(a.lines)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    unavailable[lib] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode
                    continue
                runs.setdefault(lib, []).append(json.loads(r.stdout))
        g = runs['glossa']
        ref = runs[peers[0][0]] if peers[0][0] in runs else None
        for lib, _ in [('glossa', None)] + peers:
            if lib in unavailable:
                print(f"{key:<11} {lib:<11} unavailable: {unavailable[lib]}")
                continue
            rs = runs[lib]
            med = lambda k: statistics.median(r[k] for r in rs)
            # Every round's ids must be the reference's (Glossa's and each peer's).
            same = '' if ref is None else ('same' if all(r['hash'] == ref[0]['hash'] for r in rs + g) else 'DIFFERENT')
            ratio = ''
            if lib != 'glossa':
                ratios = sorted(gr['MB_per_cpu_s'] / r['MB_per_cpu_s'] for gr, r in zip(g, rs))
                ratio = f"{statistics.median(ratios):.2f}x" + (f" [{ratios[0]:.2f}-{ratios[-1]:.2f}]" if rounds > 1 else "")
            print(f"{key:<11} {lib:<11} {med('load_s'):>7.3f} {med('MB_per_cpu_s'):>9.2f} {med('wall_MBps'):>9.2f} "
                  f"{med('peak_rss_MB'):>7.1f} {rs[0]['tokens']:>10}  {same:<8} {ratio}")
        if ref is not None and not all(r['hash'] == ref[0]['hash'] for r in g):
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
