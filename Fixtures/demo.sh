#!/usr/bin/env bash
# `make demo`: the Glossa tokenizer runtime on the embedded fixtures (Fixtures/PROVENANCE.md).
# GLOSSA = path of the release binary (set by the Makefile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
G=${GLOSSA:-.build/release/glossa}
TOK=Fixtures/gpt2/encoder.json
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "1. inspect: GPT-2 byte-level BPE from OpenAI's encoder.json + vocab.bpe"
run "$G" inspect -t "$TOK"

say "2. encode: ids, tokens, character offsets, special-token mask"
TEXT='Glossa tokenizes naïve cafés, 東京 and 🤖 exactly.<|endoftext|>'
run "$G" encode -t "$TOK" --json "$TEXT"

say "3. decode gives the text back (byte-level BPE is lossless)"
IDS=$("$G" encode -t "$TOK" "$TEXT")
run "$G" decode -t "$TOK" $IDS
echo
"$G" decode -t "$TOK" $IDS > "$TMP/round.txt"
printf '%s' "$TEXT" | cmp -s - "$TMP/round.txt" && echo "round trip: identical" || { echo "round trip: DIFFERENT"; exit 1; }

say "4. count: the same NTREX-128 news sentence in 19 languages (GPT-2 is English-centric)"
printf '%-8s %6s %7s %12s\n' lang bytes tokens bytes/token
while IFS=$'\t' read -r lang sentence; do
  n=$("$G" count -t "$TOK" "$sentence")
  b=$(printf '%s' "$sentence" | wc -c)
  awk -v l="$lang" -v b="$b" -v n="$n" 'BEGIN { printf "%-8s %6d %7d %12.2f\n", l, b, n, b / n }'
done < Fixtures/text/ntrex128-line3.tsv

say "5. batch: JSONL in, JSONL out, all cores"
cut -f2 Fixtures/text/ntrex128-line3.tsv | head -3 | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' > "$TMP/in.jsonl"
run "$G" encode -t "$TOK" --jsonl "$TMP/in.jsonl" -o "$TMP/out.jsonl" --offsets char
cut -c1-110 "$TMP/out.jsonl"

say "6. convert: GPT-2 files -> HF tokenizer.json, which encodes to the same ids"
run "$G" convert -t "$TOK" --to hf -o "$TMP/gpt2.tokenizer.json"
A=$("$G" encode -t "$TOK" --special text "$TEXT")
B=$("$G" encode -t "$TMP/gpt2.tokenizer.json" --special text "$TEXT")
echo "encoder.json:   $A"
echo "tokenizer.json: $B"
[ "$A" = "$B" ] && echo "same ids" || { echo "DIFFERENT ids"; exit 1; }
