#!/usr/bin/python3
"""adapter_tax.icount.py — exact instructions per op for bench/adapter_tax.

Runs build/adapter_tax under valgrind --tool=callgrind, one process per
(peer, size) with only the chosen adapter side and the bare side, and sums
each phase function's inclusive cost (its own instructions plus everything it
calls) from the callgrind output file.  Instruction counts do not see cache
misses or the counting allocator's atomics as more than one instruction each,
but unlike the timings they do not move with the machine's load.

usage: adapter_tax.icount.py [--build DIR] [--side adapter|plain]
                             [--peers a,b] [--sizes n,n] [--ops N]
"""
import argparse
import collections
import pathlib
import re
import subprocess
import sys
import tempfile

PEERS = "uthash,stb_ds,glib,absl,boost_flat,dense_hash,sparse_hash,judy"
PHASES = [("insert", r"at_adapter_insert\(", r"::insert_all\("),
          ("hit", r"at_adapter_hit\(", r"bare_hit_all<"),
          ("miss", r"at_adapter_miss\(", r"bare_miss_all<"),
          ("delete", r"at_adapter_delete\(", r"::delete_all\(")]


def inclusive_costs(path):
    """{function name: inclusive Ir} from a callgrind out file (self lines
    plus the cost line after each calls= line, charged to the caller)."""
    names, incl, cur = {}, collections.Counter(), None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                m = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                cur = names[m.group(1)]
            elif line.startswith("cfn="):
                m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line)
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
            elif line and (line[0].isdigit() or line[0] in "+-*") and cur is not None:
                parts = line.split()
                if len(parts) >= 2:
                    incl[cur] += int(parts[1])
    return incl


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--side", default="adapter", choices=["adapter", "plain"])
    ap.add_argument("--peers", default=PEERS)
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--ops", type=int, default=20000, help="operations per phase (>= size)")
    a = ap.parse_args()
    exe = pathlib.Path(a.build) / "adapter_tax"
    if not exe.exists():
        sys.exit(f"adapter_tax.icount.py: {exe} is missing (build first)")
    print(f"# instructions per op (callgrind, inclusive); adapter side: {a.side}")
    print(f"{'peer':12s} {'n':>8s} {'phase':7s} {'adapter_Ir':>10s} {'bare_Ir':>9s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in map(int, a.sizes.split(",")):
            cycles = max(1, a.ops // n)
            for peer in a.peers.split(","):
                out = pathlib.Path(tmp) / f"cg.{peer}.{n}"
                subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                str(exe), "--peers", peer, "--sizes", str(n), "--reps", "1",
                                "--cycles", str(cycles), "--sides", f"{a.side},bare"],
                               check=True, capture_output=True)
                incl = inclusive_costs(out)
                ops = n * cycles
                for phase, ad, ba in PHASES:
                    adapter = sum(v for k, v in incl.items() if re.search(ad, k)) / ops
                    bare = sum(v for k, v in incl.items() if re.search(ba, k)) / ops
                    print(f"{peer:12s} {n:8d} {phase:7s} {adapter:10.1f} {bare:9.1f}"
                          f" {adapter / bare:6.2f}", flush=True)


if __name__ == "__main__":
    main()
