"""Builds an extended byte-level BPE tokenizer for tests of `glossa init-embeddings` (stand-in for `glossa extend`).

Trains a byte-level BPE on a corpus with HF `tokenizers`, then appends its merges (in rank order) whose two parts are
already in the growing vocabulary and whose result is new, until N new tokens. Usage:
  python init_make_extended.py BASE_tokenizer.json CORPUS N OUT_tokenizer.json
"""
import json, sys
from tokenizers import Tokenizer, models, trainers, pre_tokenizers

base_path, corpus, n_new, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = json.load(open(base_path))
vocab = base["model"]["vocab"]
merges = base["model"]["merges"]
merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tr = trainers.BpeTrainer(vocab_size=n_new * 3 + 300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
lines = open(corpus, encoding="utf-8").read().splitlines()[:20000]
tok.train_from_iterator(lines, tr)
new_merges = json.loads(tok.to_str())["model"]["merges"]
next_id = max(max(vocab.values()), max((t["id"] for t in base.get("added_tokens", [])), default=-1)) + 1
added = 0
for m in new_merges:
    a, b = (m.split(" ") if isinstance(m, str) else m)
    if a in vocab and b in vocab and (a + b) not in vocab:
        vocab[a + b] = next_id; next_id += 1; added += 1
        merges.append(a + " " + b)
        if added >= n_new:
            break
base["model"]["merges"] = merges
json.dump(base, open(out, "w"), ensure_ascii=False)
print(f"added {added} tokens; vocabulary {next_id}")
