#!/usr/bin/env python3
"""Glossa parity suite: Glossa's CLI against the reference tokenizers, on the same inputs, exact.

usage (from anywhere; paths are resolved from the project root):
  .venv/bin/python Tests/parity/parity.py [--glossa CMD] [--only a,b] [--jobs N] [--quick] [--self-test]

For every tokenizer in peers.TOKENIZERS and every mode in MODES it runs
  glossa encode -t PATH [--encoding NAME] --jsonl IN.jsonl -o OUT.jsonl FLAGS...
once over the mode's input set, compares every output line with the reference library (ids; char offsets for the
HF references), then feeds Glossa's ids back through
  glossa decode -t PATH --jsonl IDS.jsonl -o TEXT.jsonl [--skip-special-tokens]
and requires the text to equal the input (byte-level tokenizers: decode(encode(x)) == x) or the reference decode of
the same ids (HF tokenizer.json, SentencePiece).

Reference results are cached per (input group hash, tokenizer, mode, peer versions, suite version) under
.cache/parity/ref/ as per-string 64-bit digests (ids, offsets, expected decode), so re-runs only run Glossa; on a
mismatch the reference is recomputed for that one string to print the details.

A check = one (tokenizer, mode, input group); the last line printed is "N passed, N failed" over these checks.
Exit status 1 if anything failed. Results go to Tests/parity/last_run.json.
"""
import argparse
import hashlib
import itertools
import json
import multiprocessing as mp
import os
import shlex
import subprocess
import sys
import time
import unicodedata
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, HERE)

import inputs  # noqa: E402
import peers  # noqa: E402

SUITE_VERSION = 1  # bump when the reference side of a check changes meaning
CACHE = os.path.join(ROOT, '.cache', 'parity')

# kind -> [(mode, input set, glossa encode flags, glossa decode flags, expected decode)]
# input set: 'full' = every group, 'slice' = SLICE_GROUPS. expected decode: 'input' (must give back the input
# text) or 'ref' (the reference library's decode of the same ids, with the same skip_special_tokens setting).
MODES = {
    'tiktoken': [
        # tiktoken encode(text, allowed_special="all"): special tokens in the text are recognized
        ('ids', 'full', [], [], 'input'),
        # tiktoken encode_ordinary: special tokens in the text are ordinary text
        ('ordinary', 'slice', ['--special', 'text'], [], 'input'),
    ],
    # GPT-2 through HF (BPE.from_file + ByteLevel): HF knows no added tokens here, so "<|endoftext|>" is text.
    'hf-gpt2': [
        ('ids', 'full', ['--special', 'text', '--offsets', 'char'], [], 'input'),
    ],
    'hf': [
        # encode(text) (add_special_tokens=True); decode(ids) (HF Python default skip_special_tokens=True)
        ('ids', 'full', ['--offsets', 'char'], ['--skip-special-tokens'], 'ref'),
        # encode(text, add_special_tokens=False); decode(ids, skip_special_tokens=False)
        ('no-special', 'slice', ['--no-special-tokens', '--offsets', 'char'], [], 'ref'),
        # tk.encode_special_tokens = True (split_special_tokens): special tokens in the text are ordinary text
        ('special-text', 'slice', ['--special', 'text', '--offsets', 'char'], ['--skip-special-tokens'], 'ref'),
        # as no-special, without offsets: Glossa's ids-only path (encodeIdsBatch), which the modes with offsets skip
        ('no-special-ids', 'slice', ['--no-special-tokens'], [], 'ref'),
    ],
    # SentencePieceProcessor.encode(text) (no BOS/EOS: the library default) and .decode(ids)
    'sp': [
        ('ids', 'full', ['--no-special-tokens'], [], 'ref'),
    ],
}

# Per-tokenizer mode lists where they differ from the kind's: MiniLM's shipped file (pads/truncates to 128) on the
# slice only; its untruncated copy on everything.
MODES_FOR = {
    'minilm-wordpiece': [(m, 'slice', *rest) for m, _, *rest in MODES['hf']],
    'minilm-untruncated': [MODES['hf'][0]],
}


def modes_of(tok):
    return MODES_FOR.get(tok, MODES[peers.TOKENIZERS[tok][2]])


SLICE_PREFIXES = ('adv/', 'corpora/fi/heldout', 'corpora/ja/heldout', 'corpora/ko/heldout', 'corpora/sw/heldout',
                  'corpora/tr/heldout', 'corpora/zh/heldout', 'bench/multi_nonlatin_mix')
QUICK_GROUPS = ('adv/', 'corpora/ja/heldout', 'ntrex/deu', 'ntrex/amh', 'bench/multi_nonlatin_mix')


def in_slice(name):
    return name.startswith(SLICE_PREFIXES)


def digest(b):
    return int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), 'little')


def ids_digest(ids):
    return digest(array('q', ids).tobytes())


def offs_digest(offs):
    return digest(array('q', itertools.chain.from_iterable(offs)).tobytes())


def text_digest(s):
    return digest(s.encode('utf-8', 'surrogatepass'))


# ----------------------------------------------------------------------------------------------------- input sets

def build_inputs(quick=False):
    """Writes the input sets as JSONL (one JSON string per line) under .cache/parity/inputs/ and returns
    {'groups': [{name, hash, n, bytes}], 'sets': {set: {'path', 'groups': [(name, start, n)]}}}."""
    t0 = time.time()
    groups = inputs.all_groups()
    if quick:  # development and self-test: a few files and the first 1,000 strings of each adversarial kind
        groups = [(n, s[:1000] if n.startswith('adv/') else s) for n, s in groups if n.startswith(QUICK_GROUPS)]
    meta = [{'name': n, 'hash': inputs.group_hash(s), 'n': len(s), 'bytes': sum(len(x.encode('utf-8')) for x in s)}
            for n, s in groups]
    set_hash = hashlib.sha256(json.dumps(meta).encode()).hexdigest()[:16]
    d = os.path.join(CACHE, 'inputs', set_hash)
    os.makedirs(d, exist_ok=True)
    sets = {}
    for set_name, pred in (('full', lambda n: True), ('slice', in_slice)):
        path = os.path.join(d, set_name + '.jsonl')
        layout, line = [], 0
        chosen = [(n, s) for n, s in groups if pred(n)]
        for n, s in chosen:
            layout.append((n, line, len(s)))
            line += len(s)
        if not os.path.exists(path):
            tmp = path + '.tmp'
            with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
                for _, s in chosen:
                    for x in s:
                        f.write(json.dumps(x, ensure_ascii=False))
                        f.write('\n')
            os.replace(tmp, path)
        sets[set_name] = {'path': path, 'groups': layout, 'lines': line}
    return {'groups': meta, 'sets': sets, 'set_hash': set_hash, 'seconds': round(time.time() - t0, 1),
            'unicodedata': unicodedata.unidata_version}


def read_set(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


# ------------------------------------------------------------------------------------------------ reference side

def ref_cache_path(tok, mode, group, ghash, versions):
    key = hashlib.sha256(json.dumps([SUITE_VERSION, tok, mode, ghash, peers.TOKENIZERS[tok], versions,
                                     MODES_BY[tok][mode][1:]]).encode()).hexdigest()[:16]
    return os.path.join(CACHE, 'ref', tok, mode, group.replace('/', '__') + '.' + key + '.json')


def compute_ref(peer, texts, expect):
    ids_d, n_ids, offs_d, dec_d = [], [], [], []
    pending = []

    def flush():
        if expect == 'ref':
            for s in peer.decode_batch(pending):
                dec_d.append(text_digest(s))
        pending.clear()

    for text, (ids, offs) in zip(texts, peer.encode_iter(texts)):
        ids = list(ids)
        ids_d.append(ids_digest(ids))
        n_ids.append(len(ids))
        offs_d.append(offs_digest(offs) if offs is not None else 0)
        if expect == 'input':
            dec_d.append(text_digest(text))
        else:
            pending.append(ids)
            if len(pending) >= 256:
                flush()
    flush()
    return {'ids': ids_d, 'n': n_ids, 'offs': offs_d, 'dec': dec_d}


# ------------------------------------------------------------------------------------------------------ a task

MODES_BY = {tok: {m[0]: m for m in modes_of(tok)} for tok in peers.TOKENIZERS}


def glossa_base(glossa, tok):
    path, enc, _ = peers.TOKENIZERS[tok]
    cmd = shlex.split(glossa)
    return cmd, ['-t', path] + (['--encoding', enc] if enc else [])


def run_cmd(argv, timeout):
    t0 = time.time()
    try:
        p = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        rc, err = p.returncode, (p.stderr.decode('utf-8', 'replace') + p.stdout.decode('utf-8', 'replace'))
    except FileNotFoundError as e:
        rc, err = 127, str(e)
    except subprocess.TimeoutExpired:
        rc, err = 124, f'timed out after {timeout}s'
    if len(err) > 2400:  # the cause (e.g. a Swift fatal error) comes first, the backtrace after it
        err = err[:1600] + '\n[...]\n' + err[-800:]
    return rc, err, time.time() - t0


def window(a, i, w=6):
    lo = max(0, i - w)
    return lo, a[lo:i + w + 1]


def describe_ids(peer, tok, mode, group, idx, line, text, exp_ids, got_ids, exp_offs=None, got_offs=None):
    out = [f'MISMATCH {tok} [{mode}] {group} #{idx} (input line {line + 1}): '
           f'{len(text)} chars {text[:120]!r}{"..." if len(text) > 120 else ""}']
    if exp_ids != got_ids:
        k = next((i for i, (a, b) in enumerate(zip(exp_ids, got_ids)) if a != b), min(len(exp_ids), len(got_ids)))
        out.append(f'  ids differ at position {k} (reference {len(exp_ids)} ids, glossa {len(got_ids)} ids)')
        for label, a in (('reference', exp_ids), ('glossa   ', got_ids)):
            lo, win = window(a, k)
            out.append(f'  {label} [{lo}:] {win}')
            out.append(f'  {" " * len(label)}        {" ".join(peer.token_str(t) for t in win)}')
        if exp_offs is not None and k < len(exp_offs):
            s = exp_offs[k][0]
            out.append(f'  text near reference offset {s}: {text[max(0, s - 20):s + 40]!r}')
    elif exp_offs is not None:
        go = [tuple(x) for x in got_offs] if got_offs is not None else []
        eo = [tuple(x) for x in exp_offs]
        k = next((i for i, (a, b) in enumerate(zip(eo, go)) if a != b), min(len(eo), len(go)))
        out.append(f'  ids equal; char offsets differ at token {k} (reference {len(eo)}, glossa {len(go)} pairs)')
        lo, win = window(eo, k)
        out.append(f'  reference [{lo}:] {win}')
        lo, win = window(go, k)
        out.append(f'  glossa    [{lo}:] {win}')
        lo, win = window(exp_ids, k)
        out.append(f'  tokens    [{lo}:] {" ".join(peer.token_str(t) for t in win)}')
    return '\n'.join(out)


def describe_decode(tok, mode, group, idx, line, text, expected, got):
    k = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    return (f'MISMATCH {tok} [{mode}] decode {group} #{idx} (input line {line + 1}): decoded text differs at char {k} '
            f'(expected {len(expected)} chars, glossa {len(got)})\n'
            f'  input     {text[max(0, k - 30):k + 30]!r}\n'
            f'  expected  {expected[max(0, k - 30):k + 30]!r}\n'
            f'  glossa    {got[max(0, k - 30):k + 30]!r}')


def run_task(args):
    tok, mode, set_info, group_meta, versions, glossa, max_report, timeout = args
    os.environ.setdefault('RAYON_NUM_THREADS', '1')
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    _, set_name, enc_flags, dec_flags, expect = MODES_BY[tok][mode]
    log = []
    t_start = time.time()
    texts = read_set(set_info['path'])
    peer = None

    def get_peer():
        nonlocal peer
        if peer is None:
            peer = peers.Peer(tok, mode)
        return peer

    # 1. reference digests, per group (cached)
    ref = {'ids': [], 'n': [], 'offs': [], 'dec': []}
    t_ref, computed = time.time(), 0
    for name, start, n in set_info['groups']:
        cp = ref_cache_path(tok, mode, name, group_meta[name]['hash'], versions)
        r = None
        if os.path.exists(cp):
            try:
                r = json.load(open(cp))
            except ValueError:
                r = None
        if r is None or len(r['ids']) != n:
            r = compute_ref(get_peer(), texts[start:start + n], expect)
            computed += 1
            os.makedirs(os.path.dirname(cp), exist_ok=True)
            with open(cp + '.tmp', 'w') as f:
                json.dump(r, f)
            os.replace(cp + '.tmp', cp)
        for k in ref:
            ref[k].extend(r[k])
    t_ref = time.time() - t_ref

    # line -> group
    owner = []
    for gi, (name, start, n) in enumerate(set_info['groups']):
        owner.extend([gi] * n)
    ngroups = len(set_info['groups'])
    g_fail = [0] * ngroups       # failing strings per group
    g_fail_dec = [0] * ngroups
    g_fail_ids_only = [0] * ngroups  # of g_fail: the ids differ (the rest differ only in offsets)
    reports = []
    errors = []
    tokens = 0

    work = os.path.join(CACHE, 'work', f'{tok}.{mode}')
    os.makedirs(work, exist_ok=True)
    out_enc, in_dec, out_dec = (os.path.join(work, x) for x in ('encode.jsonl', 'decode_in.jsonl', 'decode.jsonl'))
    for p in (out_enc, in_dec, out_dec):
        if os.path.exists(p):
            os.remove(p)

    if glossa is None:  # --ref-only: fill the reference cache, compare nothing
        return {'tokenizer': tok, 'mode': mode, 'set': set_name, 'groups': [], 'reports': [], 'errors': [],
                'tokens': sum(ref['n']), 'ref_groups_computed': computed, 'seconds': {'reference': round(t_ref, 1)}}

    # 2. glossa encode
    cmd, base = glossa_base(glossa, tok)
    argv = cmd + ['encode'] + base + ['--jsonl', set_info['path'], '-o', out_enc] + enc_flags
    rc, err, t_enc = run_cmd(argv, timeout)
    with_offs = '--offsets' in enc_flags
    got_lines = 0
    ids_ok = [False] * len(texts)
    if rc != 0 or not os.path.exists(out_enc):
        errors.append(f'glossa encode failed (exit {rc}): {" ".join(shlex.quote(a) for a in argv)}\n{err}')
    else:
        with open(out_enc, encoding='utf-8') as f, open(in_dec, 'w', encoding='utf-8') as fd:
            for i, line in enumerate(f):
                if i >= len(texts):
                    got_lines += 1
                    continue
                got_lines += 1
                try:
                    obj = json.loads(line)
                    ids = obj['ids']
                    offs = obj.get('offsets') if with_offs else None
                except (ValueError, KeyError, TypeError) as e:
                    errors.append(f'glossa encode: bad output line {i + 1}: {e}: {line[:200]!r}')
                    ids, offs = [], None
                tokens += len(ids)
                fd.write(json.dumps(ids))
                fd.write('\n')
                ok = ids_digest(ids) == ref['ids'][i]
                if not ok:
                    g_fail_ids_only[owner[i]] += 1
                if ok and with_offs:
                    ok = offs is not None and offs_digest(offs) == ref['offs'][i]
                ids_ok[i] = ok
                if not ok:
                    g = owner[i]
                    g_fail[g] += 1
                    if len(reports) < max_report:
                        name, start, _ = set_info['groups'][g]
                        p = get_peer()
                        exp_ids, exp_offs = p.encode_batch([texts[i]])[0]
                        reports.append(describe_ids(p, tok, mode, name, i - start, i, texts[i], list(exp_ids), ids,
                                                    exp_offs if with_offs else None, offs))
        if got_lines != len(texts):
            errors.append(f'glossa encode wrote {got_lines} lines for {len(texts)} inputs')
            for i in range(got_lines, len(texts)):
                g_fail[owner[i]] += 1

    # 3. glossa decode of glossa's own ids (only judged where the ids matched the reference)
    t_dec = 0.0
    if os.path.exists(in_dec) and not errors:
        argv = cmd + ['decode'] + base + ['--jsonl', in_dec, '-o', out_dec] + dec_flags
        rc, err, t_dec = run_cmd(argv, timeout)
        if rc != 0 or not os.path.exists(out_dec):
            errors.append(f'glossa decode failed (exit {rc}): {" ".join(shlex.quote(a) for a in argv)}\n{err}')
            for i in range(len(texts)):
                g_fail_dec[owner[i]] += 1
        else:
            n_dec = 0
            with open(out_dec, encoding='utf-8') as f:
                for i, line in enumerate(f):
                    n_dec += 1
                    if i >= len(texts) or not ids_ok[i]:
                        continue
                    try:
                        s = json.loads(line)
                        ok = isinstance(s, str) and text_digest(s) == ref['dec'][i]
                    except ValueError:
                        s, ok = line, False
                    if not ok:
                        g = owner[i]
                        g_fail_dec[g] += 1
                        if len(reports) < max_report:
                            name, start, _ = set_info['groups'][g]
                            if expect == 'input':
                                exp = texts[i]
                            else:
                                p = get_peer()
                                exp = p.decode(list(p.encode_batch([texts[i]])[0][0]))
                            reports.append(describe_decode(tok, mode, name, i - start, i, texts[i], exp, str(s)))
            if n_dec != len(texts):
                errors.append(f'glossa decode wrote {n_dec} lines for {len(texts)} inputs')
                for i in range(n_dec, len(texts)):
                    g_fail_dec[owner[i]] += 1
    elif os.path.exists(in_dec):
        for i in range(len(texts)):
            g_fail_dec[owner[i]] += 1
    for p in (out_enc, in_dec, out_dec):  # large; keep the cache small
        if os.path.exists(p):
            os.remove(p)

    groups = []
    for gi, (name, start, n) in enumerate(set_info['groups']):
        groups.append({'group': name, 'strings': n, 'bytes': group_meta[name]['bytes'],
                       'ref_tokens': sum(ref['n'][start:start + n]),
                       'failed_ids': g_fail_ids_only[gi], 'failed_offsets': g_fail[gi] - g_fail_ids_only[gi],
                       'failed_decode': g_fail_dec[gi],
                       'passed': g_fail[gi] == 0 and g_fail_dec[gi] == 0 and not errors})
    return {'tokenizer': tok, 'mode': mode, 'set': set_name, 'encode_flags': enc_flags, 'decode_flags': dec_flags,
            'groups': groups, 'reports': reports, 'errors': errors, 'tokens': tokens,
            'ref_groups_computed': computed, 'seconds': {'reference': round(t_ref, 1), 'glossa_encode': round(t_enc, 1),
                                                         'glossa_decode': round(t_dec, 1),
                                                         'total': round(time.time() - t_start, 1)}}


# ------------------------------------------------------------------------------------------------------ driver

def fmt_b(n):
    return f'{n / 1e6:.1f} MB'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--glossa', default=os.environ.get('GLOSSA', '.build/release/glossa'),
                    help='command that runs the Glossa CLI, relative to the project root (default %(default)s)')
    ap.add_argument('--only', default='', help='comma-separated tokenizer names (default: all)')
    ap.add_argument('--modes', default='', help='comma-separated modes (default: all)')
    ap.add_argument('--jobs', type=int, default=int(os.environ.get('PARITY_JOBS', '2')))
    ap.add_argument('--quick', action='store_true', help='adversarial strings and a few files only (development)')
    ap.add_argument('--max-report', type=int, default=4, help='detailed mismatch reports per tokenizer and mode')
    ap.add_argument('--timeout', type=int, default=1800, help='seconds per glossa invocation')
    ap.add_argument('--json-out', default=os.path.join(HERE, 'last_run.json'))
    ap.add_argument('--self-test', action='store_true',
                    help='prove the comparator: run the fake glossa (the peers themselves) cleanly and with '
                         'injected differences, and check exactly those are reported')
    ap.add_argument('--ref-only', action='store_true', help='only compute (and cache) the reference results')
    ap.add_argument('--markdown', metavar='LAST_RUN_JSON', help='print Docs/parity.md tables from a last_run.json')
    a = ap.parse_args(argv)
    if a.markdown:
        return markdown(a.markdown)
    if a.self_test:
        return self_test(a)
    if a.ref_only:
        a.glossa = None

    t0 = time.time()
    toks = [t for t in peers.TOKENIZERS if not a.only or t in a.only.split(',')]
    unknown = set(a.only.split(',')) - set(peers.TOKENIZERS) if a.only else set()
    if unknown:
        ap.error(f'unknown tokenizer(s) {sorted(unknown)}; known: {", ".join(peers.TOKENIZERS)}')
    if a.glossa and not os.path.exists(os.path.join(ROOT, shlex.split(a.glossa)[0])):
        print(f'parity: {a.glossa} not found (build it with `make release`); every check will fail', flush=True)
    versions = peers.peer_versions()
    peers.ensure_derived()
    inp = build_inputs(quick=a.quick)
    group_meta = {g['name']: g for g in inp['groups']}
    tasks = []
    for tok in toks:
        for mode, set_name, *_ in modes_of(tok):
            if a.modes and mode not in a.modes.split(','):
                continue
            tasks.append((tok, mode, inp['sets'][set_name], group_meta, versions, a.glossa, a.max_report, a.timeout))
    # longest first: HF references are the slowest, full sets before slices
    cost = {'hf': 4, 'hf-gpt2': 4, 'sp': 2, 'tiktoken': 1}
    tasks.sort(key=lambda t: -(cost[peers.TOKENIZERS[t[0]][2]] * t[2]['lines'] *
                               (10 if t[2] is inp['sets']['full'] else 1)))
    print(f'parity: {len(tasks)} runs over {len(toks)} tokenizers; inputs {inp["sets"]["full"]["lines"]:,} strings '
          f'({fmt_b(sum(g["bytes"] for g in inp["groups"]))}), slice {inp["sets"]["slice"]["lines"]:,} strings; '
          f'glossa = {a.glossa}; peers {versions}; unicodedata {inp["unicodedata"]}; jobs {a.jobs}', flush=True)

    results = []
    ctx = mp.get_context('fork')
    with ctx.Pool(max(1, a.jobs)) as pool:
        for r in pool.imap_unordered(run_task, tasks):
            results.append(r)
            npass = sum(g['passed'] for g in r['groups'])
            nstr = sum(g['strings'] for g in r['groups'])
            nb = sum(g['bytes'] for g in r['groups'])
            bad_ids = sum(g['failed_ids'] for g in r['groups'])
            bad_offs = sum(g['failed_offsets'] for g in r['groups'])
            bad_dec = sum(g['failed_decode'] for g in r['groups'])
            s = r['seconds']
            if a.ref_only:
                print(f'ref  {r["tokenizer"]:18s} {r["mode"]:12s} {r["tokens"]:>11,d} tokens, {s["reference"]}s '
                      f'({r["ref_groups_computed"]} groups computed)', flush=True)
                continue
            status = 'ok  ' if npass == len(r['groups']) else 'FAIL'
            print(f'{status} {r["tokenizer"]:18s} {r["mode"]:12s} {nstr:8,d} strings {fmt_b(nb):>9s} '
                  f'{r["tokens"]:>11,d} tokens | groups {npass}/{len(r["groups"])} | mismatching strings: '
                  f'ids {bad_ids}, offsets only {bad_offs}, decode {bad_dec} | ref {s["reference"]}s '
                  f'({r["ref_groups_computed"]} computed), glossa encode {s["glossa_encode"]}s '
                  f'decode {s["glossa_decode"]}s', flush=True)
            for e in r['errors']:
                print('  ERROR ' + e.replace('\n', '\n        '), flush=True)
            for rep in r['reports']:
                print(rep, flush=True)

    if a.ref_only:
        print(f'reference cache filled in {round(time.time() - t0, 1)}s')
        return 0
    results.sort(key=lambda r: (list(peers.TOKENIZERS).index(r['tokenizer']), r['mode']))
    passed = sum(g['passed'] for r in results for g in r['groups'])
    failed = sum(not g['passed'] for r in results for g in r['groups'])
    per_tok = {}
    for r in results:
        d = per_tok.setdefault(r['tokenizer'], {'strings': 0, 'bytes': 0, 'tokens': 0, 'checks_passed': 0,
                                                'checks_failed': 0, 'modes': []})
        d['strings'] += sum(g['strings'] for g in r['groups'])
        d['bytes'] += sum(g['bytes'] for g in r['groups'])
        d['tokens'] += r['tokens']
        d['checks_passed'] += sum(g['passed'] for g in r['groups'])
        d['checks_failed'] += sum(not g['passed'] for g in r['groups'])
        d['modes'].append(r['mode'])
    print('\nper tokenizer (strings and bytes encoded, summed over modes; every string also decoded):')
    for tok, d in per_tok.items():
        print(f'  {tok:18s} {d["strings"]:9,d} strings {fmt_b(d["bytes"]):>9s} {d["tokens"]:>12,d} tokens  '
              f'modes {",".join(d["modes"]):28s} checks {d["checks_passed"]} passed, {d["checks_failed"]} failed')
    tot_s = sum(d['strings'] for d in per_tok.values())
    tot_b = sum(d['bytes'] for d in per_tok.values())
    elapsed = round(time.time() - t0, 1)
    print(f'  total: {len(per_tok)} tokenizers, {tot_s:,} string encodings, {fmt_b(tot_b)}; distinct inputs '
          f'{inp["sets"]["full"]["lines"]:,} strings, {fmt_b(sum(g["bytes"] for g in inp["groups"]))}; {elapsed}s')
    summary = {
        'when': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'glossa': a.glossa, 'peers': versions,
        'unicodedata': inp['unicodedata'], 'quick': a.quick, 'seconds': elapsed, 'jobs': a.jobs,
        'inputs': {'strings': inp['sets']['full']['lines'], 'bytes': sum(g['bytes'] for g in inp['groups']),
                   'slice_strings': inp['sets']['slice']['lines'],
                   'slice_bytes': sum(g['bytes'] for g in inp['groups'] if in_slice(g['name'])),
                   'groups': len(inp['groups']),
                   'adversarial_strings': sum(g['n'] for g in inp['groups'] if g['name'].startswith('adv/'))},
        'tokenizers': per_tok, 'passed': passed, 'failed': failed,
        'runs': [{k: v for k, v in r.items() if k != 'reports'} | {'reports': r['reports'][:2]} for r in results],
    }
    if a.json_out:
        with open(a.json_out, 'w') as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
            f.write('\n')
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 and passed > 0 else 1


def markdown(path):
    """Tables for Docs/parity.md from a last_run.json."""
    r = json.load(open(path))
    inp = r['inputs']
    print(f"Run {r['when']} ({r['seconds']} s, {r['jobs']} jobs), peers "
          + ', '.join(f'{k} {v}' for k, v in r['peers'].items()) + f", unicodedata {r['unicodedata']}.\n")
    print(f"Distinct inputs: {inp['strings']:,} strings, {inp['bytes']:,} bytes in {inp['groups']} groups "
          f"({inp['adversarial_strings']:,} adversarial strings); slice: {inp['slice_strings']:,} strings, "
          f"{inp['slice_bytes']:,} bytes.\n")
    print('| tokenizer | reference | modes | strings encoded | bytes encoded | tokens | checks passed | failed |')
    print('|---|---|---|---:|---:|---:|---:|---:|')
    for tok, d in r['tokenizers'].items():
        print(f"| {tok} | {peers.TOKENIZERS[tok][2]} | {', '.join(d['modes'])} | {d['strings']:,} | {d['bytes']:,} | "
              f"{d['tokens']:,} | {d['checks_passed']} | {d['checks_failed']} |")
    ts = sum(d['strings'] for d in r['tokenizers'].values())
    tb = sum(d['bytes'] for d in r['tokenizers'].values())
    tt = sum(d['tokens'] for d in r['tokenizers'].values())
    print(f"| **total** ({len(r['tokenizers'])} tokenizers) | | | {ts:,} | {tb:,} | {tt:,} | {r['passed']} | "
          f"{r['failed']} |")
    print('\n| tokenizer | mode | failing groups (strings with different ids, with only different offsets, '
          'with a different decode) |')
    print('|---|---|---|')
    for run in r['runs']:
        bad = [f"{g['group']} ({g['failed_ids']}, {g.get('failed_offsets', 0)}, {g['failed_decode']})"
               for g in run['groups'] if not g['passed']]
        if bad or run['errors']:
            print(f"| {run['tokenizer']} | {run['mode']} | {'; '.join(bad[:12])}{' …' if len(bad) > 12 else ''} "
                  f"{'errors: ' + run['errors'][0][:100] if run['errors'] else ''} |")
    return 0


def self_test(a):
    """The fake glossa (Tests/parity/fake_glossa.py) answers with the peers themselves. A clean run must pass
    everything; a run with injected differences must fail exactly the injected (tokenizer, mode, group)s."""
    fake = f'{sys.executable} {os.path.relpath(os.path.join(HERE, "fake_glossa.py"), ROOT)}'
    toks = 'cl100k_base,gpt2-hf,minilm-wordpiece,llama2-sp'
    common = ['--glossa', fake, '--only', toks, '--quick', '--json-out', '', '--jobs', str(a.jobs)]
    print('self-test 1/2: clean fake glossa, must pass', flush=True)
    os.environ.pop('GLOSSA_FAKE_INJECT', None)
    rc1 = main(common)
    # line numbers are lines of the quick 'full' / 'slice' input sets
    inject = ['cl100k_base:ids:ids:5', 'gpt2-hf:ids:offsets:40', 'minilm-wordpiece:no-special:decode:7',
              'llama2-sp:ids:ids:5000', 'cl100k_base:ordinary:decode:3']
    os.environ['GLOSSA_FAKE_INJECT'] = ','.join(inject)
    print(f'self-test 2/2: injected {inject}, must fail exactly those', flush=True)
    out = os.path.join(CACHE, 'selftest.json')
    rc2 = main(common[:-4] + ['--json-out', out, '--jobs', str(a.jobs)])
    res = json.load(open(out))
    failed = {(r['tokenizer'], r['mode'], g['group']) for r in res['runs'] for g in r['groups'] if not g['passed']}
    print('failed checks:', sorted(failed))
    want = len(inject)
    ok = rc1 == 0 and rc2 == 1 and len(failed) == want
    print('SELF-TEST ' + ('PASSED' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
