#!/usr/bin/env python3
"""A stand-in for the Glossa CLI's batch interface, answering with the reference libraries themselves.

Used only by `parity.py --self-test` to prove that the comparator passes a faithful implementation and catches
injected differences. Interface (the subset of the real CLI that parity.py uses):
  fake_glossa.py encode -t PATH [--encoding NAME] --jsonl IN -o OUT [--offsets char] [--no-special-tokens]
                 [--special allowed|text]
  fake_glossa.py decode -t PATH [--encoding NAME] --jsonl IN -o OUT [--skip-special-tokens]
GLOSSA_FAKE_INJECT=tok:mode:what:line[,...] (what = ids|offsets|decode, line = 0-based input line) corrupts the
answer for that line when the output goes to parity.py's work folder of (tok, mode).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['encode', 'decode'])
    ap.add_argument('-t', required=True)
    ap.add_argument('--encoding')
    ap.add_argument('--jsonl', required=True)
    ap.add_argument('-o', required=True)
    ap.add_argument('--offsets', choices=['char'])
    ap.add_argument('--no-special-tokens', action='store_true')
    ap.add_argument('--special', choices=['allowed', 'text'], default='allowed')
    ap.add_argument('--skip-special-tokens', action='store_true')
    a = ap.parse_args()
    cands = [t for t, (p, e, k) in peers.TOKENIZERS.items() if p == a.t and (a.encoding is None or e == a.encoding)]
    if len(cands) > 1:  # GPT-2 files: HF BPE.from_file when offsets are asked for, tiktoken otherwise
        cands = [t for t in cands if (peers.TOKENIZERS[t][2] == 'hf-gpt2') == (a.offsets is not None)]
    if len(cands) != 1:
        sys.exit(f'fake_glossa: unknown tokenizer {a.t}')
    tok = cands[0]
    kind = peers.TOKENIZERS[tok][2]
    if a.cmd == 'encode':
        mode = {'tiktoken': 'ordinary' if a.special == 'text' else 'ids',
                'hf': 'no-special' if a.no_special_tokens else 'special-text' if a.special == 'text' else 'ids',
                'hf-gpt2': 'ids', 'sp': 'ids'}[kind]
    else:
        mode = 'ids' if (a.skip_special_tokens or kind != 'hf') else 'no-special'
    peer = peers.Peer(tok, mode)
    work = os.path.basename(os.path.dirname(os.path.abspath(a.o)))
    inject = {}
    for item in filter(None, os.environ.get('GLOSSA_FAKE_INJECT', '').split(',')):
        t, m, what, line = item.split(':')
        if work == f'{t}.{m}':
            inject[(what, int(line))] = True
    with open(a.jsonl, encoding='utf-8') as f:
        items = [json.loads(line) for line in f]
    tmp = a.o + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        if a.cmd == 'encode':
            for i, (ids, offs) in enumerate(peer.encode_iter(items)):
                ids = list(ids)
                if ('ids', i) in inject:
                    ids = ids[:-1] + [ids[-1] ^ 1] if ids else [0]
                obj = {'ids': ids}
                if a.offsets:
                    offs = [list(o) for o in offs]
                    if ('offsets', i) in inject and offs:
                        offs[0][1] += 1
                    obj['offsets'] = offs
                f.write(json.dumps(obj) + '\n')
        else:
            for i, ids in enumerate(items):
                s = peer.decode(ids)
                if ('decode', i) in inject:
                    s += 'x'
                f.write(json.dumps(s, ensure_ascii=False) + '\n')
    os.replace(tmp, a.o)


if __name__ == '__main__':
    main()
