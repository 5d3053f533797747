"""Acceptance experiments of `glossa extend` (Docs/extension.md): GPT-2 and SmolLM2 extended with 4k/8k/16k
Russian and 8k German/Korean/Swahili tokens from ../shared/corpora/*/train.txt.

usage: python Tests/parity/extension_experiments.py GLOSSA SMOLLM2_TOKENIZER_JSON OUTDIR [EXPERIMENT...]
  GLOSSA    a release build of glossa
  SMOLLM2_TOKENIZER_JSON  SmolLM2's tokenizer.json (from `glossa model convert`, see Vocab/README.md)
  OUTDIR    where the extended tokenizers, from-scratch ceilings and results.json go
  EXPERIMENT  names like gpt2-ru8k (default: all twelve)

For each experiment: extend (method continue, min frequency 2), train a from-scratch tokenizer on the same
target corpus with the extended vocabulary's size and the base's pre-tokenization (the ceiling), then measure
tokens per word on the target's heldout.txt for base / extended / ceiling, the fraction of English heldout
lines whose encoding changed, and check with HF tokenizers that the output loads and gives ids identical to
Glossa's on the target heldout text (extension_check_hf.py). Writes OUTDIR/results.json, a Markdown table
(OUTDIR/results.md) and a chart (OUTDIR/extension.svg).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared'))
CORP = os.path.join(SHARED, 'corpora')
GPT2 = os.path.join(SHARED, 'tokenizers', 'gpt2', 'encoder.json')
PLAN = [(lang, n) for lang, n in [('ru', 4000), ('ru', 8000), ('ru', 16000), ('de', 8000), ('ko', 8000), ('sw', 8000)]]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)}\n{r.stderr.strip()}')
    return r.stdout


def stats(glossa, toks, text):
    cmd = [glossa, 'stats', '--corpus', text, '--json']
    for label, path in toks:
        cmd += ['-t', f'{label}={path}']
    rows = json.loads(run(cmd))['rows']
    return {r['tokenizer']: r for r in rows}


def svg(results, path):
    """Grouped horizontal bars: tokens per word of base / extended / from-scratch ceiling per experiment."""
    series = [('base', '#bab0ac'), ('extended', '#4e79a7'), ('ceiling', '#59a14f')]
    bar, gap, left, top, width = 9, 8, 130, 60, 620
    h = top + len(results) * (3 * bar + gap) + 40
    vmax = max(max(r['tpw_base'], r['tpw_extended'], r['tpw_ceiling']) for r in results)
    step = 0.5 if vmax < 6 else 1.0
    axis = (int(vmax / step) + 1) * step
    x = lambda v: left + width * v / axis
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{h}" '
           f'font-family="Helvetica, Arial, sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="20" font-size="15" font-weight="bold">Tokens per word on held-out text: base, extended, from-scratch ceiling</text>']
    for i, (name, color) in enumerate(series):
        out.append(f'<rect x="{left + i * 120}" y="32" width="12" height="10" fill="{color}"/>'
                   f'<text x="{left + i * 120 + 16}" y="41">{name}</text>')
    t = 0.0
    while t <= axis + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 4}" x2="{x(t):.1f}" y2="{h - 40}" stroke="#ddd"/>'
                   f'<text x="{x(t):.1f}" y="{h - 26}" text-anchor="middle">{t:g}</text>')
        t += step
    out.append(f'<text x="{left + width / 2}" y="{h - 8}" text-anchor="middle">tokens per word</text>')
    for gi, r in enumerate(results):
        gy = top + gi * (3 * bar + gap)
        out.append(f'<text x="{left - 6}" y="{gy + 1.5 * bar + 4}" text-anchor="end">{r["name"]}</text>')
        for si, (key, color) in enumerate(series):
            v = r['tpw_' + key]
            out.append(f'<rect x="{left}" y="{gy + si * bar}" width="{max(0.5, x(v) - left):.1f}" height="{bar - 1}" '
                       f'fill="{color}"><title>{r["name"]} {key}: {v:.3f}</title></rect>')
    out.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{h - 40}" stroke="#333"/></svg>')
    with open(path + '.tmp', 'w') as f:
        f.write('\n'.join(out) + '\n')
    os.replace(path + '.tmp', path)


def main():
    glossa, smol, outdir = sys.argv[1:4]
    only = set(sys.argv[4:])
    bases = {'gpt2': GPT2, 'smollm2': smol}
    os.makedirs(outdir, exist_ok=True)
    res_path = os.path.join(outdir, 'results.json')
    results = json.load(open(res_path)) if os.path.exists(res_path) else []
    done = {r['name'] for r in results}
    en_held = os.path.join(CORP, 'en', 'heldout.txt')
    for bname, bpath in bases.items():
        for lang, n in PLAN:
            name = f'{bname}-{lang}{n // 1000}k'
            if (only and name not in only) or name in done:
                continue
            train = os.path.join(CORP, lang, 'train.txt')
            held = os.path.join(CORP, lang, 'heldout.txt')
            ext = os.path.join(outdir, name)
            print(f'== {name}', flush=True)
            try:
                e = json.loads(run([glossa, 'extend', '--base', bpath, '--corpus', train, '--add', str(n), '-o', ext,
                                    '--protect-corpus', en_held, '--protect', 'report', '--json']))
            except RuntimeError as err:
                print(f'   extend failed: {err}', flush=True)
                results.append({'name': name, 'error': str(err).splitlines()[-1]})
                continue
            size = e['base_vocab_size'] + e['added']
            scratch = os.path.join(outdir, f'scratch-{bname}-{lang}-{size}.json')
            if not os.path.exists(scratch):
                pattern = 'gpt2'
                run([glossa, 'train', '--corpus', train, '--vocab-size', str(size), '--pattern', pattern,
                     '--special-tokens', '<|endoftext|>', '-o', scratch, '--quiet'])
            s = stats(glossa, [('base', bpath), ('extended', ext), ('ceiling', scratch)], held)
            check = subprocess.run([sys.executable, os.path.join(HERE, 'extension_check_hf.py'), glossa, ext, bpath, held],
                                   capture_output=True, text=True)
            r = {'name': name, 'base': bname, 'lang': lang, 'add': n, 'seconds': e['seconds'],
                 'last_merge_count': e['last_merge_count'], 'skipped_unreachable': e['skipped_unreachable'],
                 'tpw_base': s['base']['tokens_per_word'], 'tpw_extended': s['extended']['tokens_per_word'],
                 'tpw_ceiling': s['ceiling']['tokens_per_word'], 'ceiling_vocab': size,
                 'ceiling_actual_vocab': json.load(open(scratch))['model']['vocab'].__len__(),
                 'new_token_rate': s['extended']['new_token_rate'],
                 'new_used': s['extended']['distinct_new_ids'],
                 'en_changed_fraction': e['protect']['changed_fraction'],
                 'en_tokens_base': e['protect']['base_tokens'], 'en_tokens_extended': e['protect']['extended_tokens'],
                 'hf_check': 'PASS' if check.returncode == 0 else 'FAIL',
                 'hf_check_output': check.stdout.strip().splitlines()}
            print('   ' + json.dumps({k: v for k, v in r.items() if k != 'hf_check_output'}), flush=True)
            results.append(r)
            with open(res_path + '.tmp', 'w') as f:
                json.dump(results, f, indent=1)
            os.replace(res_path + '.tmp', res_path)
    ok = [r for r in results if 'error' not in r]
    lines = ['| experiment | added | tokens/word base | extended | ceiling (from scratch, same vocab size) | gain captured | '
             'new-token share | English lines changed | HF ids identical |', '|---|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in results:
        if 'error' in r:
            lines.append(f'| {r["name"]} | — | error: {r["error"]} | | | | | | |')
            continue
        gain = (r['tpw_base'] - r['tpw_extended']) / max(1e-9, r['tpw_base'] - r['tpw_ceiling'])
        lines.append(f'| {r["name"]} | {r["add"]} | {r["tpw_base"]:.3f} | {r["tpw_extended"]:.3f} | {r["tpw_ceiling"]:.3f} | '
                     f'{100 * gain:.0f} % | {100 * r["new_token_rate"]:.1f} % | {100 * r["en_changed_fraction"]:.2f} % | {r["hf_check"]} |')
    with open(os.path.join(outdir, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    if ok:
        svg(ok, os.path.join(outdir, 'extension.svg'))
    print('\n'.join(lines))
    sys.exit(1 if any(r.get('hf_check') == 'FAIL' for r in ok) else 0)


if __name__ == '__main__':
    main()
