#!/usr/bin/python3
"""Side by side in one run: `mapbench time` (one or more builds) against the
standalone minimal loop (bench/lookup_loop.c), interleaved round by round so
the machine's noise falls on all of them alike.  Prints, per (map, n, phase),
the min and median ns/op of every tool and the ratio of each mapbench build's
median to the loop's median, with a 95% bootstrap interval.  A measurement,
not a test.

Why many rounds: on a VM the ns/op of a large map moves with the process (one
process's lookup_miss at 1e6 reads 5 ns/op, the next one's 12, whichever tool
it is: where its pages landed), while the repetitions inside one process agree
far better.  So the samples are grouped by process, the ratio is taken of the
medians over all processes, and its interval comes from resampling whole
processes (BOOT_RESAMPLES times, seeded, so a rerun on the same samples prints
the same interval).  The interval says how far the ratio could move with
other processes; with 5 rounds it is wide, with 20 it is a few percent.

usage: bench/side_by_side.py --loop build/mb_lookup_loop --mapbench NAME=PATH [...]
           [--impl swiss,absl] [--n 1000,100000,1000000] [--phase lookup_hit,lookup_miss]
           [--rounds 20] [--reps 3] [--keys array]
"""
import argparse
import random
import statistics
import subprocess
import sys

BOOT_RESAMPLES = 2000
BOOT_SEED = 12


def pooled_median(groups):
    return statistics.median([x for g in groups for x in g])


def ratio_ci(num, den):
    """(ratio, lo, hi): the ratio of the pooled medians of two lists of
    per-process sample lists, and its 95% percentile interval from resampling
    processes with replacement in each list."""
    ratio = pooled_median(num) / pooled_median(den)
    rng = random.Random(BOOT_SEED)
    boot = sorted(pooled_median(rng.choices(num, k=len(num))) /
                  pooled_median(rng.choices(den, k=len(den))) for _ in range(BOOT_RESAMPLES))
    return ratio, boot[int(0.025 * BOOT_RESAMPLES)], boot[int(0.975 * BOOT_RESAMPLES) - 1]


def run_mapbench(exe, impl, n, phases, reps):
    p = subprocess.run([exe, "time", "--impl", impl, "--n", str(n), "--phase", ",".join(phases),
                        "--no-hint", "--reps", str(reps), "--emit-tsv", "--quiet"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{exe} failed: {p.stderr[-1000:]}")
    return parse_samples(p.stdout)


def parse_samples(tsv):
    """{phase: [ns_per_op, ...]} from the S records of `mapbench time --emit-tsv`."""
    got = {}
    for line in tsv.splitlines():
        f = line.split("\t")
        if f[0] == "S":
            got.setdefault(f[1].split("/")[1], []).append(float(f[4]))
    return got


def run_loop(exe, impl, n, reps, keys):
    p = subprocess.run([exe, "--impl", impl, "--n", str(n), "--reps", str(reps), "--keys", keys],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{exe} failed: {p.stderr[-1000:]}")
    got = {}
    for line in p.stderr.splitlines():  # every repetition: "  impl n=N phase keys rep r: X ns/op"
        f = line.split()
        if len(f) >= 7 and f[0] == impl and f[-1] == "ns/op":
            got.setdefault(f[2], []).append(float(f[-2]))
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loop", required=True)
    ap.add_argument("--mapbench", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--impl", default="swiss,absl")
    ap.add_argument("--n", default="1000,100000,1000000")
    ap.add_argument("--phase", default="lookup_hit,lookup_miss")
    ap.add_argument("--rounds", type=int, default=20, help="processes per tool and case")
    ap.add_argument("--reps", type=int, default=3, help="repetitions inside each process")
    ap.add_argument("--keys", default="array", choices=["inline", "array"])
    a = ap.parse_args()
    builds = [tuple(m.split("=", 1)) for m in a.mapbench]
    phases = a.phase.split(",")
    samples = {}  # (tool, impl, n, phase) -> [[ns of one process], ...]
    for r in range(a.rounds):
        for impl in a.impl.split(","):
            for n in map(int, a.n.split(",")):
                for name, exe in builds:
                    for ph, v in run_mapbench(exe, impl, n, phases, a.reps).items():
                        samples.setdefault((name, impl, n, ph), []).append(v)
                for ph, v in run_loop(a.loop, impl, n, a.reps, a.keys).items():
                    if ph in phases:
                        samples.setdefault(("loop", impl, n, ph), []).append(v)
        print(f"# round {r + 1}/{a.rounds} done", file=sys.stderr)
    tools = [b[0] for b in builds] + ["loop"]
    head = ["impl", "n", "phase"] + [f"{t}_{s}" for t in tools for s in ("min", "med")] + \
           [f"{b[0]}/loop{x}" for b in builds for x in ("", "_lo95", "_hi95")]
    print("\t".join(head))
    for impl in a.impl.split(","):
        for n in map(int, a.n.split(",")):
            for ph in phases:
                row = [impl, str(n), ph]
                for t in tools:
                    g = samples.get((t, impl, n, ph), [])
                    row += [f"{min(min(x) for x in g):.2f}", f"{pooled_median(g):.2f}"] if g else ["-", "-"]
                for b in builds:
                    num, den = samples.get((b[0], impl, n, ph)), samples.get(("loop", impl, n, ph))
                    row += [f"{x:.2f}" for x in ratio_ci(num, den)] if num and den else ["-"] * 3
                print("\t".join(row))


if __name__ == "__main__":
    main()
