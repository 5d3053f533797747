"""Reference ("peer") tokenizers for the parity suite.

Every Glossa tokenizer is checked against the reference library of its own file format:

* tiktoken rank files and GPT-2 encoder.json/vocab.bpe -> tiktoken 0.14 (`tiktoken.Encoding` built from the files
  in ../shared/tokenizers, pattern and special tokens as tiktoken_ext.openai_public / Qwen / Llama-3 define them);
* GPT-2 encoder.json/vocab.bpe also -> HF tokenizers `models.BPE.from_file` + ByteLevel (ids and char offsets);
* HF tokenizer.json -> HF tokenizers 0.23 (ids, char offsets, decode);
* SentencePiece .model -> sentencepiece 0.2 `SentencePieceProcessor`.

Nothing here downloads anything.
"""
import base64
import json
import os

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared'))
TOK = os.path.join(SHARED, 'tokenizers')
# MiniLM's tokenizer.json pads and truncates to 128 tokens (HF applies that in encode), so on 50-line documents only
# the first 126 tokens would be compared. A derived copy with "truncation": null, "padding": null (written by
# ensure_derived) is checked on every input; the shipped file is checked on the slice (short strings).
MINILM_UNTRUNCATED = '.cache/parity/derived/all-MiniLM-L6-v2.untruncated.tokenizer.json'

# Classic (non-possessive) cl100k pattern: Llama-3 tokenizer.json Split regex (tokenizers.md §2).
CL100K_CLASSIC = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen (Qwen2 family; qwen_tokenizer.py / tokenization_qwen.py PAT_STR; tokenizers.md §2).
QWEN_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen special tokens (tokenization_qwen.py): <|endoftext|>, <|im_start|>, <|im_end|>, <|extra_0|>..<|extra_204|>
# with consecutive ids from SPECIAL_START_ID = 151643.
QWEN_SPECIALS = {t: 151643 + i for i, t in enumerate(
    ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] + [f'<|extra_{i}|>' for i in range(205)])}

# name -> (glossa -t path relative to the project root, glossa --encoding, reference kind)
# Reference kinds: tiktoken, hf (tokenizer.json), hf-gpt2 (BPE.from_file + ByteLevel), sp.
TOKENIZERS = {
    'gpt2':              ('../shared/tokenizers/gpt2/encoder.json', 'gpt2', 'tiktoken'),
    'gpt2-hf':           ('../shared/tokenizers/gpt2/encoder.json', 'gpt2', 'hf-gpt2'),
    'cl100k_base':       ('../shared/tokenizers/cl100k_base/cl100k_base.tiktoken', 'cl100k_base', 'tiktoken'),
    'o200k_base':        ('../shared/tokenizers/o200k_base/o200k_base.tiktoken', 'o200k_base', 'tiktoken'),
    'llama3.2-tiktoken': ('../shared/tokenizers/llama3.2/tokenizer.model', 'llama3', 'tiktoken'),
    'qwen':              ('../shared/tokenizers/qwen-tiktoken/qwen.tiktoken', 'qwen', 'tiktoken'),
    'llama3.2-hf':       ('../shared/tokenizers/llama3.2/tokenizer.json', None, 'hf'),
    'mistral-v0.3-hf':   ('../shared/tokenizers/mistral-7b-v0.3/tokenizer.json', None, 'hf'),
    'minilm-wordpiece':  ('../shared/tokenizers/all-MiniLM-L6-v2-wordpiece/tokenizer.json', None, 'hf'),
    'minilm-untruncated': (MINILM_UNTRUNCATED, None, 'hf'),
    'llama2-sp':         ('../shared/tokenizers/llama2-sentencepiece/tokenizer.model', None, 'sp'),
}

BYTE_LEVEL = {'gpt2', 'gpt2-hf', 'cl100k_base', 'o200k_base', 'llama3.2-tiktoken', 'qwen'}


def ensure_derived():
    dst = os.path.join(ROOT, MINILM_UNTRUNCATED)
    if not os.path.exists(dst):
        j = json.load(open(os.path.join(TOK, 'all-MiniLM-L6-v2-wordpiece', 'tokenizer.json'), encoding='utf-8'))
        j['truncation'] = None
        j['padding'] = None
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst + '.tmp', 'w', encoding='utf-8') as f:
            json.dump(j, f, ensure_ascii=False)
        os.replace(dst + '.tmp', dst)


def resolve(path):
    """A TOKENIZERS path (relative to the project root) as an absolute path."""
    return os.path.normpath(os.path.join(ROOT, path))


def peer_versions():
    from importlib.metadata import version  # without importing the libraries (keeps the parent process light)
    return {p: version(p) for p in ('tiktoken', 'tokenizers', 'sentencepiece')}


def load_ranks(path):
    ranks = {}
    with open(path, 'rb') as f:
        for line in f:
            if line.strip():
                t, k = line.split()
                ranks[base64.b64decode(t)] = int(k)
    return ranks


def _openai_spec(name):
    """tiktoken 0.14's own pattern and special tokens for an OpenAI encoding, without downloading rank files."""
    from tiktoken_ext import openai_public as op
    saved = op.load_tiktoken_bpe, op.data_gym_to_mergeable_bpe_ranks
    op.load_tiktoken_bpe = lambda *a, **k: {}
    op.data_gym_to_mergeable_bpe_ranks = lambda *a, **k: {}
    try:
        spec = getattr(op, name)()
    finally:
        op.load_tiktoken_bpe, op.data_gym_to_mergeable_bpe_ranks = saved
    return spec['pat_str'], dict(spec['special_tokens'])


def llama3_specials():
    cfg = json.load(open(os.path.join(TOK, 'llama3.2', 'tokenizer_config.json'), encoding='utf-8'))
    # Llama-3's 256 special tokens 128000..128255 (the file also lists <|image|> 128256 of Llama-3.2-Vision:
    # not part of the tiktoken-format text model, excluded).
    return {v['content']: int(k) for k, v in cfg['added_tokens_decoder'].items() if 128000 <= int(k) <= 128255}


def tiktoken_encoding(name):
    import tiktoken
    if name == 'gpt2':
        from tiktoken.load import data_gym_to_mergeable_bpe_ranks
        pat, specials = _openai_spec('gpt2')
        ranks = data_gym_to_mergeable_bpe_ranks(os.path.join(TOK, 'gpt2', 'vocab.bpe'),
                                                os.path.join(TOK, 'gpt2', 'encoder.json'))
        return tiktoken.Encoding('gpt2', pat_str=pat, mergeable_ranks=ranks, special_tokens=specials)
    if name in ('cl100k_base', 'o200k_base'):
        pat, specials = _openai_spec(name)
        return tiktoken.Encoding(name, pat_str=pat, special_tokens=specials,
                                 mergeable_ranks=load_ranks(os.path.join(TOK, name, name + '.tiktoken')))
    if name == 'llama3.2-tiktoken':
        return tiktoken.Encoding('llama3', pat_str=CL100K_CLASSIC, special_tokens=llama3_specials(),
                                 mergeable_ranks=load_ranks(os.path.join(TOK, 'llama3.2', 'tokenizer.model')))
    if name == 'qwen':
        return tiktoken.Encoding('qwen', pat_str=QWEN_PAT, special_tokens=QWEN_SPECIALS,
                                 mergeable_ranks=load_ranks(os.path.join(TOK, 'qwen-tiktoken', 'qwen.tiktoken')))
    raise KeyError(name)


def hf_tokenizer(name):
    from tokenizers import Tokenizer
    if name == 'gpt2-hf':
        from tokenizers import models, pre_tokenizers, decoders
        tk = Tokenizer(models.BPE.from_file(os.path.join(TOK, 'gpt2', 'encoder.json'),
                                            os.path.join(TOK, 'gpt2', 'vocab.bpe')))
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tk.decoder = decoders.ByteLevel()
        return tk
    return Tokenizer.from_file(resolve(TOKENIZERS[name][0]))


def sp_processor(name):
    import sentencepiece as spm
    return spm.SentencePieceProcessor(model_file=resolve(TOKENIZERS[name][0]))


class Peer:
    """A reference tokenizer in one mode. encode_batch(texts) -> list of (ids, offsets-or-None);
    decode(ids) -> str (the reference decode Glossa's decode must equal; for byte-level tokenizers the input
    text itself is required instead, see parity.py); token_str(id) -> printable token."""

    def __init__(self, name, mode):
        self.name, self.mode = name, mode
        self.kind = TOKENIZERS[name][2]
        if self.kind == 'tiktoken':
            self.enc = tiktoken_encoding(name)
        elif self.kind in ('hf', 'hf-gpt2'):
            self.tk = hf_tokenizer(name)
            if mode == 'special-text':
                self.tk.encode_special_tokens = True
        else:
            self.sp = sp_processor(name)

    def encode_iter(self, texts):
        """Yields (ids, offsets or None) per text, in order."""
        if self.kind == 'tiktoken':
            if self.mode == 'ordinary':
                for t in texts:
                    yield self.enc.encode_ordinary(t), None
            else:
                for t in texts:
                    yield self.enc.encode(t, allowed_special='all'), None
        elif self.kind in ('hf', 'hf-gpt2'):
            add = not self.mode.startswith('no-special')
            for i in range(0, len(texts), 256):
                for e in self.tk.encode_batch(texts[i:i + 256], add_special_tokens=add):
                    yield e.ids, e.offsets
        else:
            for t in texts:
                yield self.sp.encode(t), None

    def encode_batch(self, texts):
        return list(self.encode_iter(texts))

    def decode_batch(self, id_lists):
        if self.kind in ('hf', 'hf-gpt2'):
            return self.tk.decode_batch(id_lists, skip_special_tokens=(not self.mode.startswith('no-special')))
        return [self.decode(ids) for ids in id_lists]

    def decode(self, ids):
        """Reference decode, mirroring the flags Glossa's decode is run with (parity.DECODE_FLAGS)."""
        if self.kind == 'tiktoken':
            return self.enc.decode_bytes(ids).decode('utf-8', errors='replace')
        if self.kind in ('hf', 'hf-gpt2'):
            # HF Python `Tokenizer.decode` defaults to skip_special_tokens=True; passed explicitly.
            return self.tk.decode(ids, skip_special_tokens=(not self.mode.startswith('no-special')))
        return self.sp.decode(ids)

    def token_str(self, i):
        try:
            if self.kind == 'tiktoken':
                return repr(self.enc.decode_single_token_bytes(i))[1:]
            if self.kind in ('hf', 'hf-gpt2'):
                return repr(self.tk.id_to_token(i))
            return repr(self.sp.id_to_piece(i))
        except Exception:
            return '<?>'
