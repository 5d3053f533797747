#!/usr/bin/env python3
"""Regenerates the HF golden merges for GlossaTrainingTests (tokenizers 0.23.3).

  .venv/bin/python Tests/GlossaTrainingTests/Fixtures/make_golden.py

Corpus: the first 2,000 lines of ../shared/corpora/en/heldout.txt (not copied here; the test skips
when it is absent). HF reads a file line by line with line endings, so the sample is written to a
temporary file. Settings: ByteLevel(add_prefix_space=False, use_regex=True), BpeTrainer(vocab_size=500,
special_tokens=['<|endoftext|>'], initial_alphabet=ByteLevel.alphabet()). Output: one merge per line,
"left right" in byte-level spelling (byte-level tokens never contain a space).
"""
import json, os, tempfile
os.environ['TOKENIZERS_PARALLELISM'] = 'false'
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, '..', '..', '..', '..', 'shared', 'corpora', 'en', 'heldout.txt')
with open(CORPUS, 'rb') as f:
    lines = [next(f) for _ in range(2000)]
with tempfile.NamedTemporaryFile('wb', suffix='.txt', delete=False) as t:
    t.write(b''.join(lines))
tk = Tokenizer(models.BPE())
tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tk.decoder = decoders.ByteLevel()
tk.train([t.name], trainers.BpeTrainer(vocab_size=500, show_progress=False, special_tokens=['<|endoftext|>'],
                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
os.unlink(t.name)
doc = json.loads(tk.to_str())
merges = [m if isinstance(m, list) else m.split(' ') for m in doc['model']['merges']]
with open(os.path.join(HERE, 'hf_en_heldout2000_v500.merges.txt'), 'w', encoding='utf-8') as f:
    for a, b in merges:
        f.write(f'{a} {b}\n')
print(len(merges), 'merges,', len(doc['model']['vocab']), 'tokens')
