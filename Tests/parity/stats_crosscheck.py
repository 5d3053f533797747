"""Cross-check `glossa stats` token counts against the peers' encoders (HF tokenizers / tiktoken).

usage: python Tests/parity/stats_crosscheck.py GLOSSA [--langs L1,L2,...|all] [--max-lines N] [--hf LABEL=tokenizer.json ...]
  GLOSSA       path to the glossa binary
  --langs      NTREX-128 file names (default: a script-diverse sample; `all` for all 129)
  --max-lines  lines per language (default: all 1,997)
  --hf         more tokenizer.json files checked against HF tokenizers (e.g. SmolLM2's, extended tokenizers)

For every tokenizer (GPT-2, cl100k, o200k via tiktoken `encode_ordinary`; Llama-3.2 and Mistral v0.3 via
HF `tokenizers` from their tokenizer.json, add_special_tokens=False) the per-sentence token counts reported
by `glossa stats --json` (field line_tokens) must equal the peer's, sentence by sentence. Exit 1 on a mismatch.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

NTREX = os.path.join(peers.SHARED, 'corpora', 'parallel', 'ntrex128')
# label -> (glossa -t path, peer name in peers.py, peer mode)
TOKS = {
    'gpt2': (os.path.join(peers.TOK, 'gpt2', 'encoder.json'), 'gpt2', 'ordinary'),
    'cl100k': (os.path.join(peers.TOK, 'cl100k_base', 'cl100k_base.tiktoken'), 'cl100k_base', 'ordinary'),
    'o200k': (os.path.join(peers.TOK, 'o200k_base', 'o200k_base.tiktoken'), 'o200k_base', 'ordinary'),
    'llama3.2': (os.path.join(peers.TOK, 'llama3.2', 'tokenizer.json'), 'llama3.2-hf', 'no-special'),
    'mistral': (os.path.join(peers.TOK, 'mistral-7b-v0.3', 'tokenizer.json'), 'mistral-v0.3-hf', 'no-special'),
}
DEFAULT_LANGS = 'eng-US,rus,zho-CN,jpn,kor,hin,arb,amh,tha,swa,deu,ell,heb,mya,bod'


class HFFile:
    def __init__(self, path):
        from tokenizers import Tokenizer
        self.tk = Tokenizer.from_file(path)

    def encode_iter(self, texts):
        for i in range(0, len(texts), 256):
            for e in self.tk.encode_batch(texts[i:i + 256], add_special_tokens=False):
                yield e.ids, None


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument('glossa')
    ap.add_argument('--langs', default=DEFAULT_LANGS)
    ap.add_argument('--max-lines', type=int)
    ap.add_argument('--hf', action='append', default=[])
    a = ap.parse_args()
    glossa, max_lines = a.glossa, a.max_lines
    if a.langs == 'all':
        langs = sorted(f[:-4] for f in os.listdir(NTREX) if f.endswith('.txt'))
    else:
        langs = a.langs.split(',')
    for spec in a.hf:
        label, path = spec.split('=', 1)
        TOKS[label] = (os.path.abspath(path), None, path)
    cmd = [glossa, 'stats', '--parallel', NTREX, '--json'] + ([] if a.langs == 'all' else ['--only', ','.join(langs)])
    for label, (path, _, _) in TOKS.items():
        cmd += ['-t', f'{label}={path}']
    if max_lines:
        cmd += ['--max-lines', str(max_lines)]
    rows = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)['rows']
    by = {(r['tokenizer'], r['text']): r for r in rows}
    bad = 0
    for label, (_, peer_name, mode) in TOKS.items():
        peer = peers.Peer(peer_name, mode) if peer_name else HFFile(os.path.abspath(mode))
        for lang in langs:
            with open(os.path.join(NTREX, lang + '.txt'), encoding='utf-8') as f:
                lines = f.read().split('\n')
            if lines and lines[-1] == '':
                lines.pop()
            if max_lines:
                lines = lines[:max_lines]
            ref = [len(ids) for ids, _ in peer.encode_iter(lines)]
            got = by[(label, lang)]['line_tokens']
            diff = [i for i, (a, b) in enumerate(zip(ref, got)) if a != b]
            ok = len(ref) == len(got) and not diff
            bad += not ok
            print(f'{label:9} {lang:7} sentences {len(ref):5}  tokens glossa {sum(got):7} peer {sum(ref):7}  '
                  f'{"OK" if ok else "MISMATCH at lines " + str(diff[:5])}')
    print('all equal' if bad == 0 else f'{bad} mismatching (tokenizer, language) pairs')
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
