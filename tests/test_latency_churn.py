"""latency-case and churn-case: the line formats the orchestrator will parse, and
the counts behind them.  Timings are never asserted (a shared VM makes any
bound flaky): only structure, ordering of percentiles, counts, and that the
map's own statistics come through unchanged.

grow_events is cross-checked against the map itself: `mbtest replay` inserts
the same keys (sequential keys 0..n-1 are the same u64s in both tools) with
the same seed and hint, and its `s` op prints the map's stats."""
import os
import pathlib
import subprocess

import pytest

from conftest import MAP_NAMES, MAPBENCH, run_driver

SEED = 12345
L_COLS = ["n", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns",
          "timer_overhead_ns", "grow_events"]
H_COLS = ["low_ns", "high_ns", "count"]
C_COLS = ["ops_done", "ns_per_op_since_last", "count", "capacity", "tombstones", "mean_probe",
          "max_probe", "map_live_bytes", "grow_events", "shrink_events"]


def mb(*args, exe=MAPBENCH, env=None):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


def parse(out):
    """{tag: [fields...]} for data lines; '#X' headers under key '#X'."""
    recs = {}
    for line in out.splitlines():
        tag, *fields = line.split("\t")
        if tag.startswith("# "):
            continue  # free-text comment
        recs.setdefault(tag, []).append(fields)
    return recs


def num(s):
    return None if s == "NA" else float(s)


def map_grow_events(impl, n, hint):
    """grow_events as the map reports it after inserting keys 0..n-1 (via mbtest)."""
    ops = "".join(f"i {k} {k}\n" for k in range(n)) + "s\n"
    p = run_driver(["replay", "--impl", impl, "--no-check", "--seed", str(SEED),
                    "--hint", str(hint)], ops)
    assert p.returncode == 0, p.stderr
    stats = next(l for l in p.stdout.splitlines() if l.startswith("stats"))
    fields = dict(kv.split("=") for kv in stats.split()[1:])
    return fields["grow_events"]


# ---- latency-case --------------------------------------------------------------------

def run_latency(impl, n, hint=None):
    args = ["latency-case", "--impl", impl, "--n", n, "--dist", "sequential", "--seed", SEED]
    if hint is not None:
        args += ["--hint", hint]
    p = mb(*args)
    assert p.returncode == 0, p.stderr
    recs = parse(p.stdout)
    assert "E" not in recs, recs["E"]
    assert recs["#L"] == [L_COLS] and recs["#H"] == [H_COLS]
    assert len(recs["L"]) == 1
    return dict(zip(L_COLS, recs["L"][0])), [tuple(map(int, h)) for h in recs["H"]]


def check_latency_structure(impl, n, L, H):
    assert int(L["n"]) == n
    p50, p90, p99, p999, mx = (float(L[c]) for c in L_COLS[1:6])
    assert 0 <= p50 <= p90 <= p99 <= p999 <= mx, L
    assert 0 <= float(L["mean_ns"]) <= mx and float(L["timer_overhead_ns"]) >= 0
    # log2 buckets: [0,2) then [2^k, 2^(k+1)), ascending, non-empty, summing to n
    lows = [h[0] for h in H]
    assert lows == sorted(set(lows))
    for low, high, count in H:
        assert count > 0
        assert (low, high) == (0, 2) or (low >= 2 and low & (low - 1) == 0 and high == 2 * low)
    assert sum(h[2] for h in H) == n
    # the slowest insert falls in the highest bucket (0.05: the L line rounds to 0.1 ns)
    assert H[-1][0] - 0.05 <= mx < H[-1][1] + 0.05


@pytest.mark.parametrize("impl", MAP_NAMES)
def test_latency_case_structure_and_grow_events(impl):
    n = 20000
    L, H = run_latency(impl, n)
    check_latency_structure(impl, n, L, H)
    assert L["grow_events"] == map_grow_events(impl, n, 0)
    if L["grow_events"] != "NA":
        assert int(L["grow_events"]) > 0, "an empty map grew to 20000 entries without growing"


@pytest.mark.parametrize("impl", MAP_NAMES)
def test_latency_case_with_hint(impl):
    n = 20000
    L, H = run_latency(impl, n, hint=n)
    check_latency_structure(impl, n, L, H)
    assert L["grow_events"] == map_grow_events(impl, n, n)


def test_latency_case_sample_count_odd_sizes():
    for n in (1, 2, 3, 1001):
        L, H = run_latency("oa_linear", n)
        check_latency_structure("oa_linear", n, L, H)


# ---- churn-case ----------------------------------------------------------------------

def run_churn(impl, n, rounds=None, exe=MAPBENCH, env=None):
    args = ["churn-case", "--impl", impl, "--n", n, "--seed", SEED]
    if rounds is not None:
        args += ["--rounds", rounds]
    return mb(*args, exe=exe, env=env)


@pytest.mark.parametrize("impl", MAP_NAMES)
def test_churn_case_constant_count_and_progress(impl):
    n, rounds = 2000, 10  # rounds: the default
    p = run_churn(impl, n)
    assert p.returncode == 0, p.stderr
    recs = parse(p.stdout)
    assert "E" not in recs
    assert recs["#C"] == [C_COLS]
    rows = [dict(zip(C_COLS, c)) for c in recs["C"]]
    done = [int(r["ops_done"]) for r in rows]
    assert done == [i * (n // 4) for i in range(rounds * 4 + 1)]
    assert done[-1] == rounds * n
    assert rows[0]["ns_per_op_since_last"] == "NA"
    assert all(float(r["ns_per_op_since_last"]) >= 0 for r in rows[1:])
    assert all(int(r["count"]) == n for r in rows)
    assert all(int(r["map_live_bytes"]) > 0 for r in rows)
    tombs = {r["tombstones"] for r in rows}
    assert tombs == {"NA"} or "NA" not in tombs, "tombstones measured only sometimes"
    for r in rows:
        if r["capacity"] != "NA":
            assert int(r["capacity"]) > 0
        if r["mean_probe"] != "NA":
            assert float(r["mean_probe"]) >= 0 and int(r["max_probe"]) >= 0
    if impl == "oa_linear":
        assert any(int(r["tombstones"]) > 0 for r in rows), "no tombstone build-up"
        # a purge (same-size rehash) clears them again: some later sample has fewer
        t = [int(r["tombstones"]) for r in rows]
        assert any(b < a for a, b in zip(t, t[1:])), "tombstones never purged"
    if impl == "chained":
        assert tombs == {"NA"}


def test_churn_case_last_sample_off_the_grid():
    p = run_churn("oa_linear", 2003, rounds=1)
    assert p.returncode == 0, p.stderr
    done = [int(c[0]) for c in parse(p.stdout)["C"]]
    assert done == [0, 500, 1000, 1500, 2000, 2003]
    p = run_churn("chained", 3, rounds=2)  # n/4 == 0: a sample every step
    assert p.returncode == 0, p.stderr
    assert [int(c[0]) for c in parse(p.stdout)["C"]] == list(range(7))


PLANT_DIR = os.environ.get("MB_PLANT_BUILD_DIR")


@pytest.mark.skipif(not PLANT_DIR, reason="MB_PLANT_BUILD_DIR not set (make test sets it)")
def test_churn_case_wrong_value_fails_loudly():
    env = dict(os.environ, MB_PLANT="wrong_value")
    p = run_churn("oa_linear", 5000, rounds=1, exe=pathlib.Path(PLANT_DIR) / "mapbench", env=env)
    assert p.returncode == 1
    assert len(parse(p.stdout).get("E", [])) == 1
    assert "churn-case" in p.stderr and "lookup of the live window" in p.stderr


# ---- usage ---------------------------------------------------------------------------



@pytest.mark.parametrize("cmd", ["latency-case", "churn-case"])
@pytest.mark.parametrize("args", [
    [], ["--impl", "oa_linear"], ["--n", "100"], ["--impl", "no_such_map", "--n", "100"],
    ["--impl", "oa_linear", "--n", "ten"], ["--impl", "oa_linear", "--n", "0"],
    ["--impl", "oa_linear", "--n"], ["--impl", "oa_linear", "--n", "100", "--bogus"],
    ["--impl", "oa_linear", "--n", "100", "--blueprint", "u64->u65"],
    ["--impl", "oa_linear", "--n", "100", "--dist", "zipfy"],
    ["--impl", "oa_linear", "--n", "100", "--seed", "-1"],
])
def test_bad_arguments_exit_2(cmd, args):
    p = mb(cmd, *args)
    assert p.returncode == 2, (args, p.stderr)
    first, *rest = p.stderr.splitlines()
    assert first.startswith("mapbench: "), first
    assert any(line.startswith("usage: mapbench " + cmd) for line in rest), p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("cmd,args", [
    ("latency-case", ["--hint", "many"]), ("churn-case", ["--rounds", "0"]),
    ("churn-case", ["--rounds", "1.5"]), ("churn-case", ["--hint", "10"]),
])
def test_command_specific_bad_arguments_exit_2(cmd, args):
    p = mb(cmd, "--impl", "oa_linear", "--n", "100", *args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("mapbench: ")


@pytest.mark.parametrize("cmd", ["latency-case", "churn-case"])
def test_unsupported_blueprint_exit_2(cmd):
    p = mb(cmd, "--impl", "oa_linear", "--n", "100", "--blueprint", "u64->ptr64")
    assert p.returncode == 2 and "pointer-value blueprints" in p.stderr


@pytest.mark.parametrize("cmd", ["latency-case", "churn-case"])
def test_help(cmd):
    p = mb(cmd, "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: mapbench " + cmd)
    assert cmd in mb("--help").stdout
