#!/usr/bin/env python3
"""Glossa's Llama against transformers' LlamaForCausalLM on tiny random configurations.

Builds the torch model (2 layers, d=64, GQA 4 query / 2 KV heads; untied and tied heads), saves it with
save_pretrained (config.json + model.safetensors), runs `glossa model forward --grads` on the same token rows and
compares logits, loss and every parameter gradient: max |glossa − torch| / max |torch| ≤ 1e-4 per tensor.
Exit status 0 only when everything matches. Needs torch==2.13.0 (CPU) and transformers in the venv.

  .venv/bin/python Tests/parity/torch_llama_parity.py --glossa .build/debug/glossa
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

TOL = 1e-4


def run_case(glossa, tied, workdir, seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      rms_norm_eps=1e-5, rope_theta=10000.0 if tied else 500000.0, tie_word_embeddings=tied,
                      attn_implementation="eager", bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(cfg).float()
    with torch.no_grad():  # non-trivial norm weights so their gradients are exercised
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    d = os.path.join(workdir, f"tiny-{'tied' if tied else 'untied'}")
    model.save_pretrained(d, safe_serialization=True)
    ids = torch.randint(0, cfg.vocab_size, (2, 17))
    model.zero_grad()
    logits = model(ids[:, :-1]).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), ids[:, 1:].reshape(-1))
    loss.backward()
    out = os.path.join(workdir, f"glossa-{'tied' if tied else 'untied'}.safetensors")
    rows = ";".join(",".join(str(int(t)) for t in r) for r in ids)
    subprocess.run([glossa, "model", "forward", "-m", d, "--ids", rows, "-o", out, "--grads"], check=True)
    got = load_file(out)
    failures = []

    def cmp(name, mine, ref):
        ref = ref.detach().float()
        err = (mine.reshape(ref.shape) - ref).abs().max().item()
        rel = err / max(ref.abs().max().item(), 1e-12)
        ok = rel <= TOL
        if not ok:
            failures.append(name)
        return rel

    worst = {}
    worst["logits"] = cmp("logits", got["logits"], logits)
    worst["loss"] = cmp("loss", got["loss"], loss)
    for n, p in model.named_parameters():
        key = "grad." + n
        if key not in got:
            failures.append(key + " (missing)")
            continue
        worst[key] = cmp(key, got[key], p.grad)
    label = "tied" if tied else "untied"
    top = max(worst.items(), key=lambda kv: kv[1])
    print(f"{label}: loss torch {loss.item():.6f} glossa {got['loss'].item():.6f}; logits rel {worst['logits']:.2e}; "
          f"{len(worst) - 2} gradients, worst {top[0]} rel {top[1]:.2e}")
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glossa", default=".build/debug/glossa")
    args = ap.parse_args()
    torch.set_num_threads(1)
    failures = []
    with tempfile.TemporaryDirectory() as w:
        failures += run_case(args.glossa, tied=False, workdir=w, seed=0)
        failures += run_case(args.glossa, tied=True, workdir=w, seed=1)
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)
    print("llama parity: all logits, losses and gradients within 1e-4 relative")


if __name__ == "__main__":
    main()
