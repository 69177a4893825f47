#!/usr/bin/python3
"""Fits the plan's cost model (harness/run/units.c, unit_costs) to measured unit walls.

usage: ci/fit_costs.py RESULTS.db [MORE.db ...]

Reads table run_unit (every unit of every complete run: its kind, the cost model's
work measure work_mops, its measured wall_s) and fits, per kind, by least squares

    wall_s = c0 + c1 * work_mops        (c0 >= 0, c1 >= 0)

then prints the C initializers to paste into unit_costs, with each kind's unit count,
measured total, fitted total and the median relative error of one unit's estimate.
Fit on runs made at --jobs 1 on an otherwise idle machine: a K-wide unit's wall beside
a neighbour is longer than alone (the fit says so: overlapped units are left out unless
--all).  Reading only: the databases are opened read-only."""
import sqlite3
import statistics
import sys


def fit(points):
    n = len(points)
    if n == 0:
        return 0.0, 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    c1 = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx > 0 else 0.0
    c1 = max(c1, 0.0)
    c0 = my - c1 * mx
    if c0 < 0:  # through the origin instead
        c0 = 0.0
        sx2 = sum(x * x for x in xs)
        c1 = sum(x * y for x, y in points) / sx2 if sx2 > 0 else 0.0
    return c0, c1


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if not args or "--help" in argv:
        print(__doc__.strip())
        return 0 if "--help" in argv else 2
    every = "--all" in argv
    by_kind = {}
    for path in args:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
            for kind, work, wall, over in c.execute(
                    "SELECT u.kind, u.work_mops, u.wall_s, u.overlapped FROM run_unit u"
                    " JOIN run r USING (run_id) WHERE r.status = 'complete' AND u.status = 'ok'"):
                if over and not every:
                    continue
                by_kind.setdefault(kind, []).append((work, wall))
    print("kind        units  measured_s  fitted_s  median_rel_err")
    lines = []
    for kind, pts in sorted(by_kind.items()):
        c0, c1 = fit(pts)
        est = [c0 + c1 * w for w, _ in pts]
        rel = [abs(e - y) / y for e, (_, y) in zip(est, pts) if y > 0]
        print(f"{kind:<10} {len(pts):6} {sum(y for _, y in pts):11.1f} {sum(est):9.1f}"
              f"  {statistics.median(rel) if rel else 0:.2f}")
        lines.append(f"    [MB_UNIT_{kind.upper().replace('-', '_')}] = {{ ., {c0:.3f}, {c1:.4f} }},")
    print("\n/* c0_s, c1_s_per_mop (alone flags unchanged) */")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
