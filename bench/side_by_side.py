#!/usr/bin/python3
"""Side by side in one run: `mapbench time` (one or more builds) against the
standalone minimal loop (bench/lookup_loop.c), interleaved round by round so
the machine's noise falls on all of them alike.  Prints, per (map, n, phase),
the min and median ns/op of every tool and the ratio of each mapbench build's
median to the loop's median.  A measurement, not a test.

usage: bench/side_by_side.py --loop build/mb_lookup_loop --mapbench NAME=PATH [...]
           [--impl swiss,absl] [--n 1000,100000,1000000] [--phase lookup_hit,lookup_miss]
           [--rounds 3] [--reps 5] [--keys array]
"""
import argparse
import statistics
import subprocess
import sys


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
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--keys", default="array", choices=["inline", "array"])
    a = ap.parse_args()
    builds = [tuple(m.split("=", 1)) for m in a.mapbench]
    phases = a.phase.split(",")
    samples = {}  # (tool, impl, n, phase) -> [ns]
    for r in range(a.rounds):
        for impl in a.impl.split(","):
            for n in map(int, a.n.split(",")):
                for name, exe in builds:
                    for ph, v in run_mapbench(exe, impl, n, phases, a.reps).items():
                        samples.setdefault((name, impl, n, ph), []).extend(v)
                for ph, v in run_loop(a.loop, impl, n, a.reps, a.keys).items():
                    if ph in phases:
                        samples.setdefault(("loop", impl, n, ph), []).extend(v)
        print(f"# round {r + 1}/{a.rounds} done", file=sys.stderr)
    tools = [b[0] for b in builds] + ["loop"]
    head = ["impl", "n", "phase"] + [f"{t}_{s}" for t in tools for s in ("min", "med")] + \
           [f"{b[0]}/loop" for b in builds]
    print("\t".join(head))
    for impl in a.impl.split(","):
        for n in map(int, a.n.split(",")):
            for ph in phases:
                row = [impl, str(n), ph]
                med = {}
                for t in tools:
                    v = samples.get((t, impl, n, ph), [])
                    med[t] = statistics.median(v) if v else float("nan")
                    row += [f"{min(v):.2f}" if v else "-", f"{med[t]:.2f}"]
                row += [f"{med[b[0]] / med['loop']:.2f}" for b in builds]
                print("\t".join(row))


if __name__ == "__main__":
    main()
