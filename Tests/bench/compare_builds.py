#!/usr/bin/env python3
"""Two Glossa builds on the same `glossa bench` command, alternating, to see whether a change is faster.

On a shared VM whose speed comes in phases of seconds, a build timed now and another timed a minute later compare
different phases. This runs build A then B, then B then A, and so on (the order swapped each round, so neither
always goes first), each as its own process with the same arguments, and compares each round's pair: per round the
steady repetitions' minimum CPU time (`rep_cpu_ms` without the first, which pays for tables built on first use;
the minimum is the repetition least disturbed by the host), then the median over the rounds of A's time ÷ B's
(above 1: B is faster) and in how many rounds B was faster. The two builds must give the same ids (the bench's
hash of the id stream), or the run fails.

  python Tests/bench/compare_builds.py OLD/glossa NEW/glossa --rounds 12 -- \\
      -t ../shared/tokenizers/o200k_base/o200k_base.tiktoken -i FILE --whole --reps 4 [--json]
"""
import argparse, json, statistics, subprocess, sys


def run(binary, args):
    p = subprocess.run([binary, "bench", *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"compare_builds: {binary} bench {' '.join(args)} failed (exit {p.returncode}): {p.stderr.strip()}")
    row = json.loads(p.stdout.strip().splitlines()[-1])
    steady = row["rep_cpu_ms"][1:] or row["rep_cpu_ms"]
    return min(steady), row["hash"]


def main():
    ap = argparse.ArgumentParser(usage="%(prog)s A B [--rounds N] [--json] -- BENCH-ARGS",
                                 description=__doc__.split("\n\n")[0],
                                 epilog="example: compare_builds.py old/glossa new/glossa --rounds 12 -- "
                                        "-t ../shared/tokenizers/cl100k_base/cl100k_base.tiktoken -i FILE --reps 4")
    ap.add_argument("a", help="the reference build (a glossa binary)")
    ap.add_argument("b", help="the build under test")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    args = argv[cut + 1:]
    if not args:
        ap.error("give the `glossa bench` arguments after --")
    rows = []
    for r in range(max(1, a.rounds)):
        if r % 2 == 0:
            (ta, ha), (tb, hb) = run(a.a, args), run(a.b, args)
        else:
            (tb, hb), (ta, ha) = run(a.b, args), run(a.a, args)
        if ha != hb:
            sys.exit(f"compare_builds: the builds gave other ids (hash {ha} against {hb})")
        rows.append((ta, tb))
        if not a.json:
            print(f"round {r + 1:2d}: A {ta:8.2f} ms  B {tb:8.2f} ms  A/B {ta / tb:.3f}", flush=True)
    ratios = [ta / tb for ta, tb in rows]
    summary = {"rounds": len(rows), "b_faster": sum(q > 1 for q in ratios), "median_a_over_b": statistics.median(ratios),
               "a_min_ms": min(t for t, _ in rows), "b_min_ms": min(t for _, t in rows)}
    if a.json:
        print(json.dumps(summary))
    else:
        print(f"B faster in {summary['b_faster']} of {summary['rounds']} rounds; median A/B {summary['median_a_over_b']:.3f}; "
              f"best repetition A {summary['a_min_ms']:.2f} ms, B {summary['b_min_ms']:.2f} ms")


if __name__ == "__main__":
    main()
