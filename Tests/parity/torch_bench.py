#!/usr/bin/env python3
"""Side-by-side speed: one training step (forward + backward + AdamW) of a small Llama, torch vs Glossa.

Same model as `glossa model bench` defaults: 4 layers, d=256, 4 heads, FFN 704, tied vocab 8192, seq 256, batch 8.
Runs torch, then Glossa (`glossa model bench`), with the same thread count; prints tokens/s for both and the ratio.
With --rounds R the two alternate R times (torch keeps its model and optimizer between rounds) and the ratio of each
round is printed with their median: on a shared machine, load that changes over a minute then hits both sides alike.
Optionally the SmolLM2 forward pass (--smollm2-dir, an exported HF directory; --no-train skips the training step).

  .venv/bin/python Tests/parity/torch_bench.py --glossa .build/release/glossa --threads 2 --rounds 5
  .venv/bin/python Tests/parity/torch_bench.py --threads 2 --no-train --smollm2-dir smollm2-hf
"""
import argparse
import re
import statistics
import subprocess
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def torch_trainer(threads, batch=8, seq=256):
    """Returns run(steps) -> step times; the model and optimizer persist across calls."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=8192, hidden_size=256, intermediate_size=704, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=seq,
                      tie_word_embeddings=True, attn_implementation="sdpa")
    model = LlamaForCausalLM(cfg).float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)

    def run(steps):
        times = []
        for _ in range(steps):
            ids = torch.randint(0, 8192, (batch, seq + 1))
            t0 = time.perf_counter()
            logits = model(ids[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 8192), ids[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            times.append(time.perf_counter() - t0)
        return times
    return run


def torch_forward(d, threads, steps, seq=256):
    torch.set_num_threads(threads)
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    ids = torch.randint(0, model.config.vocab_size, (1, seq))
    times = []
    with torch.no_grad():
        model(ids)  # warm-up: the first call includes one-time initialisation
        for _ in range(steps):
            t0 = time.perf_counter()
            model(ids)
            times.append(time.perf_counter() - t0)
    return times


def glossa_tokens_per_s(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"median ([\d.]+) s \((\d+) tokens/s\), best ([\d.]+) s \((\d+) tokens/s\)", out)
    return int(m.group(2)), int(m.group(4)), out.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glossa", default=".build/release/glossa")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="alternate torch and Glossa this many times")
    ap.add_argument("--smollm2-dir")
    ap.add_argument("--no-train", action="store_true", help="only the SmolLM2 forward comparison")
    a = ap.parse_args()
    if not a.no_train:
        run = torch_trainer(a.threads)
        ratios = []
        for r in range(a.rounds):
            t = run(a.steps)
            tm, tb = 8 * 256 / statistics.median(t), 8 * 256 / min(t)
            gm, gb, line = glossa_tokens_per_s([a.glossa, "model", "bench", "--threads", str(a.threads), "--steps",
                                                str(a.steps)])
            ratios.append(gm / tm)
            label = f"round {r + 1}: " if a.rounds > 1 else ""
            print(f"{label}train step, {a.threads} threads: torch median {tm:.0f} tok/s (best {tb:.0f}); glossa median "
                  f"{gm} tok/s (best {gb}); ratio glossa/torch median {gm / tm:.2f}, best {gb / tb:.2f}", flush=True)
            print("  glossa:", line)
        if a.rounds > 1:
            print(f"train step, {a.threads} threads, {a.rounds} rounds: ratio glossa/torch per round "
                  f"{' '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f}")
    if a.smollm2_dir:
        t = torch_forward(a.smollm2_dir, a.threads, a.steps)
        tm, tb = 256 / statistics.median(t), 256 / min(t)
        gm, gb, line = glossa_tokens_per_s([a.glossa, "model", "bench", "--threads", str(a.threads), "--steps",
                                            str(a.steps), "--forward-model", a.smollm2_dir, "--batch", "1", "--seq", "256"])
        print(f"SmolLM2 forward (1×256), {a.threads} threads: torch median {tm:.0f} tok/s (best {tb:.0f}); glossa median "
              f"{gm} tok/s (best {gb}); ratio median {gm / tm:.2f}, best {gb / tb:.2f}")


if __name__ == "__main__":
    main()
