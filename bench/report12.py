#!/usr/bin/python3
"""The figures issue 12's Report asks for, measured in one run so they can be
rerun in a quiet moment (a measurement, not a test: nothing here asserts a time).

  (a) lookup_hit / lookup_miss at N = 1e3, 1e5, 1e6 for each map: `mapbench
      time`'s ns/op now (and before, from the build given by --before), the
      harness floor (null_map, the same phase and N), and the ratio of each to
      the standalone minimal loop (bench/lookup_loop.c, keys from an array),
      every tool interleaved round by round (bench/side_by_side.py's runners);
  (b) throughput (lookup_hit) against dependent lookups (lookup_hit_dependent)
      at 1e6;
  (c) transparent hugepages as the machine has them against --hugepages (the
      counting allocator's MADV_HUGEPAGE) at 1e6 and 1e7, insert and lookup_hit;
  (e) the standalone loop on one map for every repetition (its default)
      against a newly built map per repetition with one warm-up pass
      (--fresh --warm 1: `mapbench time`'s schedule before 2026-12-01) and
      with four (--fresh --warm 4: its schedule now, TC_WARM_PASSES in
      harness/probe/timing.c), swiss and absl at 1e6: how much of the suite's
      distance from the loop a young map explains;
  (d) excerpts of Google Benchmark's tools/compare.py (benchmarks, filters,
      benchmarksfiltered) on JSON this run writes, when compare.py is found
      (--compare PATH, $COMPARE_PY, or a few usual places).

Every figure is the median over rounds x repetitions of ns/op (each
repetition's median iteration, as `mapbench time` stores it).

usage: bench/report12.py [--now build/mapbench] [--before OLD/build/mapbench]
           [--loop build/mb_lookup_loop] [--impl swiss,absl,oa_linear,chained,gomap]
           [--rounds 10] [--reps 5] [--skip a,b,c,d,e] [--compare PATH] [--work DIR]
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import side_by_side  # noqa: E402  (run_loop, parse_samples, pooled_median, ratio_ci)

FLOOR = "null_map"
COMPARE_PLACES = ["/usr/share/benchmark/tools/compare.py", "/usr/lib/benchmark/tools/compare.py",
                  "/tmp/gb/compare.py"]


def med(v):
    return statistics.median(v) if v else float("nan")


def fmt(x, digits=2):
    return "-" if x != x else f"{x:.{digits}f}"


def mapbench_samples(exe, impl, n, phases, reps, extra=()):
    """{phase: [ns_per_op, ...]} from `mapbench time --emit-tsv`, or None when
    that build cannot run the case (e.g. a map or flag it did not have yet)."""
    p = subprocess.run([exe, "time", "--impl", impl, "--n", str(n), "--phase", ",".join(phases),
                        "--no-hint", "--shrink", "never", "--reps", str(reps), "--emit-tsv",
                        "--quiet", *extra], capture_output=True, text=True)
    if p.returncode != 0:
        # an older build has no --shrink: try once without it
        p = subprocess.run([exe, "time", "--impl", impl, "--n", str(n), "--phase",
                            ",".join(phases), "--no-hint", "--reps", str(reps), "--emit-tsv",
                            "--quiet", *extra], capture_output=True, text=True)
        if p.returncode != 0:
            return None
    return side_by_side.parse_samples(p.stdout)


def section_a(a, impls, builds):
    print("## (a) lookups: mapbench time against the standalone loop (keys from an array)")
    print("# ratio: of the medians over every process's samples; [lo, hi]: its 95% bootstrap "
          "interval over processes (bench/side_by_side.py says why)")
    sizes, phases = [1000, 100000, 1000000], ["lookup_hit", "lookup_miss"]
    s = {}  # (tool, impl, n, phase) -> [[ns of one process], ...]
    for r in range(a.rounds):
        for impl in impls + [FLOOR]:
            for n in sizes:
                for name, exe in builds:
                    got = mapbench_samples(exe, impl, n, phases, a.reps)
                    for ph, v in (got or {}).items():
                        s.setdefault((name, impl, n, ph), []).append(v)
                try:
                    for ph, v in side_by_side.run_loop(a.loop, impl, n, a.reps, "array").items():
                        s.setdefault(("loop", impl, n, ph), []).append(v)
                except SystemExit as e:
                    print(f"# loop failed for {impl} n={n}: {e}", file=sys.stderr)
        print(f"# (a) round {r + 1}/{a.rounds} done", file=sys.stderr)
    head = ["impl", "n", "phase", "loop_ns"]
    for name, _ in builds:
        head += [f"{name}_ns", f"{name}_floor_ns", f"{name}/loop", "[lo, hi]"]
    print("\t".join(head))
    pooled = lambda g: side_by_side.pooled_median(g) if g else float("nan")  # noqa: E731
    for impl in impls:
        for n in sizes:
            for ph in phases:
                den = s.get(("loop", impl, n, ph), [])
                row = [impl, str(n), ph, fmt(pooled(den))]
                for name, _ in builds:
                    num = s.get((name, impl, n, ph), [])
                    row += [fmt(pooled(num)), fmt(pooled(s.get((name, FLOOR, n, ph), [])))]
                    if num and den:
                        ratio, lo, hi = side_by_side.ratio_ci(num, den)
                        row += [fmt(ratio), f"[{fmt(lo)}, {fmt(hi)}]"]
                    else:
                        row += ["-", "-"]
                print("\t".join(row))
    print()


def section_b(a, impls):
    print("## (b) throughput (lookup_hit) against dependent lookups (lookup_hit_dependent), n = 1e6")
    s = {}
    for r in range(a.rounds):
        for impl in impls:
            got = mapbench_samples(a.now, impl, 1000000, ["lookup_hit", "lookup_hit_dependent"],
                                   a.reps) or {}
            for ph, v in got.items():
                s.setdefault((impl, ph), []).extend(v)
    print("impl\tlookup_hit_ns\tlookup_hit_dependent_ns\tdependent/hit")
    for impl in impls:
        hit, dep = med(s.get((impl, "lookup_hit"), [])), med(s.get((impl, "lookup_hit_dependent"), []))
        print(f"{impl}\t{fmt(hit)}\t{fmt(dep)}\t{fmt(dep / hit)}")
    print()


def thp_modes():
    out = []
    for which in ("enabled", "defrag"):
        try:
            t = pathlib.Path(f"/sys/kernel/mm/transparent_hugepage/{which}").read_text()
            out.append(f"{which}={t[t.index('[') + 1:t.index(']')]}")
        except (OSError, ValueError):
            out.append(f"{which}=unknown")
    return " ".join(out)


def section_c(a, impls):
    """Each process's first repetition apart from the rest: the first time a
    process faults in that much memory with MADV_HUGEPAGE the kernel has to
    assemble the 2 MiB pages, and later repetitions reuse what the last one
    freed (swiss insert at 1e7 on this VM: 129 and 62 ns/op first, 43-48
    after), so one repetition per process reads a different thing."""
    print(f"## (c) THP as the machine has it ({thp_modes()}) against --hugepages "
          "(MADV_HUGEPAGE on the counting allocator's blocks >= 2 MiB)")
    print("# first: each process's first repetition; later: its other repetitions")
    reps = max(3, a.reps // 2)
    s = {}
    for r in range(a.rounds):
        for impl in impls:
            for n in (1000000, 10000000):
                for hp in (0, 1):
                    got = mapbench_samples(a.now, impl, n, ["insert", "lookup_hit"], reps,
                                           ["--hugepages"] if hp else []) or {}
                    for ph, v in got.items():
                        s.setdefault((impl, n, ph, hp, "first"), []).extend(v[:1])
                        s.setdefault((impl, n, ph, hp, "later"), []).extend(v[1:])
        print(f"# (c) round {r + 1}/{a.rounds} done", file=sys.stderr)
    print("impl\tn\tphase\tthp_first\thugepages_first\tthp_later\thugepages_later"
          "\thugepages/thp_later")
    for impl in impls:
        for n in (1000000, 10000000):
            for ph in ("insert", "lookup_hit"):
                m = {(hp, w): med(s.get((impl, n, ph, hp, w), [])) for hp in (0, 1)
                     for w in ("first", "later")}
                print(f"{impl}\t{n}\t{ph}\t{fmt(m[0, 'first'])}\t{fmt(m[1, 'first'])}"
                      f"\t{fmt(m[0, 'later'])}\t{fmt(m[1, 'later'])}"
                      f"\t{fmt(m[1, 'later'] / m[0, 'later'])}")
    print()


def loop_samples(exe, impl, n, reps, extra):
    """{phase: [ns_per_op, ...]} of the standalone loop (keys from an array)."""
    p = subprocess.run([exe, "--impl", impl, "--n", str(n), "--reps", str(reps), "--keys", "array",
                        *extra], capture_output=True, text=True)
    got = {}
    for line in p.stderr.splitlines() if p.returncode == 0 else []:
        f = line.split()  # "  impl n=N phase keys rep r: X ns/op"
        if len(f) >= 7 and f[0] == impl and f[-1] == "ns/op":
            got.setdefault(f[2], []).append(float(f[-2]))
    return got


def section_e(a):
    print("## (e) the standalone loop: one map for every repetition against a new map per "
          "repetition + 1 warm-up pass (the suite's old schedule) and + 4 (its schedule now), "
          "n = 1e6")
    variants = (("one_map", []), ("fresh_warm1", ["--fresh", "--warm", "1"]),
                ("fresh_warm4", ["--fresh", "--warm", "4"]))
    s = {}
    for r in range(a.rounds):
        for impl in ("swiss", "absl"):
            for name, extra in variants:
                for ph, v in loop_samples(a.loop, impl, 1000000, a.reps, extra).items():
                    s.setdefault((impl, ph, name), []).extend(v)
    print("impl\tphase\tone_map_ns\tfresh_warm1_ns\tfresh_warm4_ns\twarm1/one\twarm4/one")
    for impl in ("swiss", "absl"):
        for ph in ("lookup_hit", "lookup_miss"):
            one, w1, w4 = (med(s.get((impl, ph, name), [])) for name, _ in variants)
            print(f"{impl}\t{ph}\t{fmt(one)}\t{fmt(w1)}\t{fmt(w4)}\t{fmt(w1 / one)}\t{fmt(w4 / one)}")
    print()


def find_compare(given):
    for c in [given, os.environ.get("COMPARE_PY")] + COMPARE_PLACES:
        if c and os.path.isfile(c):
            return c
    return None


def gb_json(exe, path, impls, reps):
    p = subprocess.run([exe, "time", "--impl", impls, "--n", "100000", "--phase",
                        "lookup_hit,lookup_miss", "--no-hint", "--reps", str(reps),
                        "--benchmark_format=json", f"--benchmark_out={path}"],
                       capture_output=True, text=True)
    return p.returncode == 0


def section_d(a, impls):
    print("## (d) Google Benchmark's tools/compare.py")
    cmp = find_compare(a.compare)
    if not cmp:
        print("compare.py not found (give --compare PATH or $COMPARE_PY): skipped")
        print()
        return
    work = pathlib.Path(a.work)
    one, two = work / "now_reps3.json", work / "now_reps5.json"
    names = ",".join(impls)
    if not (gb_json(a.now, one, names, 3) and gb_json(a.now, two, names, 5)):
        print("mapbench time --benchmark_format=json failed: skipped")
        return
    runs = [("benchmarks", [str(one), str(two)]),
            ("filters", [str(two), "swiss/", "absl/"]),
            ("benchmarksfiltered", [str(one), "oa_linear/", str(two), "chained/"])]
    if a.before:
        old = work / "before_reps5.json"
        if gb_json(a.before, old, names, 5):
            # its names carried /repeats:R/, so compare.py pairs none of them
            runs.append(("benchmarks", [str(old), str(two)]))
    print(f"# {cmp} (run with /usr/bin/python3, --no-utest: its U test needs scipy)")
    for mode, args in runs:
        cmd = ["/usr/bin/python3", cmp, "--no-color", "--no-utest", mode, *args]
        p = subprocess.run(cmd, capture_output=True, text=True)
        shown = [os.path.basename(x) if x.endswith(".json") else x for x in args]
        print("$ compare.py --no-utest " + mode + " " + " ".join(shown))
        lines = (p.stdout + p.stderr).splitlines()
        print("\n".join(lines[:14]) + (f"\n... ({len(lines) - 14} more lines)" if len(lines) > 14 else ""))
        print()


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--now", default=str(root / "build" / "mapbench"))
    ap.add_argument("--before", help="a mapbench built from an older commit (e.g. a2e6892)")
    ap.add_argument("--loop", default=str(root / "build" / "mb_lookup_loop"))
    ap.add_argument("--impl", default="swiss,absl,oa_linear,chained,gomap")
    ap.add_argument("--rounds", type=int, default=10, help="processes per tool and case")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--skip", default="", help="sections to leave out, e.g. c,d")
    ap.add_argument("--compare", help="path of Google Benchmark's tools/compare.py")
    ap.add_argument("--work", default=tempfile.mkdtemp(prefix="report12."))
    a = ap.parse_args()
    if a.rounds < 1 or a.reps < 1:
        ap.error("--rounds and --reps want >= 1")
    impls = a.impl.split(",")
    builds = [("now", a.now)] + ([("before", a.before)] if a.before else [])
    try:
        load = "load average " + " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "load average unknown"
    print(f"# report12: {a.rounds} rounds x {a.reps} reps; {load}; thp {thp_modes()}")
    print(f"# now={a.now}" + (f" before={a.before}" if a.before else "") + f" loop={a.loop}")
    print()
    skip = set(a.skip.split(",")) if a.skip else set()
    if "a" not in skip:
        section_a(a, impls, builds)
    if "b" not in skip:
        section_b(a, impls)
    if "c" not in skip:
        section_c(a, impls)
    if "e" not in skip:
        section_e(a)
    if "d" not in skip:
        section_d(a, impls)


if __name__ == "__main__":
    main()
