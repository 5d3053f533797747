#!/usr/bin/env python3
"""Adversarial inputs against English prose, per byte, in one process (issue 3: "within 3x of prose").

Writes four 1 MiB inputs (seed 1234, so anyone gets the same bytes): random a-z without whitespace, one letter
repeated, random digits, and the first ~1 MiB of the English bench file cut at a line end (the prose). Each
adversarial file is encoded as one document with `glossa bench --whole --against PROSE`, whose repetitions
alternate with the prose's, so both are timed in the same minutes of a shared machine; the ratio is the median
CPU time per byte of the input divided by that of the prose.

  python Tests/bench/adversarial.py --glossa .build/release/glossa [--tok cl100k,o200k,llama3] [--reps 7] [--json]
"""
import argparse, json, os, random, string, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))
TOKENIZERS = {
    "cl100k": "tokenizers/cl100k_base/cl100k_base.tiktoken",
    "o200k": "tokenizers/o200k_base/o200k_base.tiktoken",
    "llama3": "tokenizers/llama3.2/tokenizer.model",
    "llama3-hf": "tokenizers/llama3.2/tokenizer.json",
}
SIZE = 1 << 20


def inputs(folder, prose_source):
    def rand(alphabet):
        r = random.Random(1234)
        return "".join(r.choice(alphabet) for _ in range(SIZE)).encode()
    with open(prose_source, "rb") as f:
        head = f.read(SIZE)
    files = {
        "prose": head[: head.rfind(b"\n") + 1],
        "no whitespace (random a-z)": rand(string.ascii_lowercase),
        "one letter": b"a" * SIZE,
        "digits": rand(string.digits),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = os.path.join(folder, name.split()[0] + ".txt")
        with open(paths[name], "wb") as f:
            f.write(data)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glossa", required=True)
    ap.add_argument("--tok", default="cl100k,o200k,llama3")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--prose", default=os.path.join(SHARED, "bench", "en_linux_docs.txt"))
    ap.add_argument("--json", action="store_true", help="one JSON object per row instead of the table")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        paths = inputs(folder, a.prose)
        for tok in a.tok.split(","):
            path = os.path.join(SHARED, TOKENIZERS[tok])
            for name, file in paths.items():
                if name == "prose":
                    continue
                r = subprocess.run([a.glossa, "bench", "-t", path, "-i", file, "--whole", "--against", paths["prose"],
                                    "--reps", str(a.reps)], capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit(f"glossa bench failed for {tok} / {name}: {r.stderr.strip()}")
                j = json.loads(r.stdout)
                rows.append({"tokenizer": tok, "input": name, "MB_per_cpu_s": j["MB_per_cpu_s"],
                             "prose_MB_per_cpu_s": j["against_MB_per_cpu_s"], "per_byte_ratio": j["per_byte_ratio"],
                             "within_3x": j["per_byte_ratio"] <= 3.0})
    if a.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(f"{'tokenizer':10} {'input':28} {'MB/CPU-s':>9} {'prose':>7} {'time/byte ÷ prose':>18}")
    for row in rows:
        print(f"{row['tokenizer']:10} {row['input']:28} {row['MB_per_cpu_s']:9.1f} {row['prose_MB_per_cpu_s']:7.1f} "
              f"{row['per_byte_ratio']:17.2f}×{'' if row['within_3x'] else '  (over 3×)'}")


if __name__ == "__main__":
    main()
