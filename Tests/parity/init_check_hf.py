"""Checks a `glossa init-embeddings` output directory in transformers: loads it, checks the vocab size against the
tokenizer, runs a forward pass on text that uses new tokens, and requires finite logits. Optionally compares the
logits of old-token inputs with the base model (identical rows must give identical logits).
Usage: python init_check_hf.py OUT_DIR [BASE_DIR] [TEXT]"""
import sys, torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

out = sys.argv[1]
base = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
text = sys.argv[3] if len(sys.argv) > 3 else "Привет, как дела? The weather is nice today."
tok = PreTrainedTokenizerFast(tokenizer_file=out + "/tokenizer.json")
m = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
V = m.get_input_embeddings().weight.shape[0]
assert m.config.vocab_size == V, (m.config.vocab_size, V)
assert V >= len(tok), (V, len(tok))
ids = tok(text)["input_ids"]
new = [i for i in ids if i >= 49152]
with torch.no_grad():
    logits = m(torch.tensor([ids])).logits
assert torch.isfinite(logits).all(), "non-finite logits"
p_new = torch.softmax(logits[0], -1)[:, 49152:].sum(-1).mean().item()
print(f"ok: vocab {V}, tokens {len(ids)} ({len(new)} new), logits finite, mean prob mass on new ids {p_new:.4f}")
if base:
    b = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    old = [i for i in ids if i < 49152] or [1, 2, 3]
    with torch.no_grad():
        lo = m(torch.tensor([old])).logits[0, :, :b.config.vocab_size]
        lb = b(torch.tensor([old])).logits[0]
    d = (lo - lb).abs().max().item()
    print(f"old-token logits vs base: max |diff| {d:.2e}")
    assert d < 1e-4, f"old-token logits changed by {d}"
    assert d < 1e-3
