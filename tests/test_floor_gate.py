"""Issue 12's harness half: the harness floor (the calibration map null_map timed on
the same phases and sizes in every run with timings) stored and shown, and never
ranked as a map; a gate whose wall-time check can decide with the default sample
counts (and says so when it cannot); Mann-Whitney p-values checked against exact
ones computed here by enumeration, ties included.  No assert is on a time."""
import itertools
import math
import os
import pathlib
import sqlite3
import subprocess

import pytest

from conftest import MAPBENCH, ROOT

PLANT_DIR = os.environ.get("MB_PLANT_BUILD_DIR")
needs_plant = pytest.mark.skipif(not PLANT_DIR, reason="MB_PLANT_BUILD_DIR not set (make test sets it)")


def mb(*args, exe=MAPBENCH, env=None, timeout=900):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def rows(db, sql, *params):
    with sqlite3.connect(db) as c:
        return c.execute(sql, params).fetchall()


# ---- the floor ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def floor_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("floor") / "floor.db"
    p = mb("run", "--impl", "swiss,chained", "--phase", "insert,lookup_hit,lookup_miss,delete_all",
           "--n", "1000,6000", "--processes", 2, "--reps", 2, "--metric", "time", "--db", db)
    assert p.returncode == 0, p.stderr[-3000:]
    return db


def test_every_timed_phase_and_n_has_a_stored_floor(floor_db):
    timed = set(rows(floor_db, "SELECT DISTINCT phase, n FROM case_medians"))
    floors = {(ph, n): (f, s) for ph, n, f, s in
              rows(floor_db, "SELECT phase, n, floor_ns_per_op, samples FROM phase_floor")}
    assert timed and set(floors) == timed
    # every repetition of every process, like the maps' cases (2 processes x 2 reps)
    assert all(f > 0 and s == 4 for f, s in floors.values())
    # stored as bench rows of the calibration map, one process index per timing process
    got = rows(floor_db, "SELECT DISTINCT s.process_index FROM sample s JOIN bench b"
                         " USING (bench_id) WHERE b.impl = 'null_map' ORDER BY 1")
    assert got == [(0,), (1,)]


def test_the_floor_is_never_ranked_or_listed_as_a_map(floor_db):
    for view in ("case_medians", "map_ranking", "report_table_maps", "report_table_speed",
                 "latest_medians", "plot_ns_per_op"):
        impls = {i for (i,) in rows(floor_db, f"SELECT DISTINCT impl FROM {view}")}
        assert impls == {"swiss", "chained"}, view
    findings = " ".join(f for (f,) in rows(floor_db, "SELECT finding FROM report_finding_fastest"))
    assert "null_map" not in findings
    # the run's count of timed cases is its maps' cases, the floor's left out
    assert rows(floor_db, "SELECT timed_cases FROM runs") == rows(floor_db, "SELECT count(*) FROM case_medians")
    assert rows(floor_db, "SELECT count(*) FROM bench WHERE impl = 'null_map'") == [(8,)]  # 4 phases x 2 n


def test_speed_table_shows_the_floor_and_the_maps_share(floor_db):
    fl = dict(((ph, n), f) for ph, n, f in rows(floor_db, "SELECT phase, n, floor_ns_per_op FROM phase_floor"))
    med = dict(((i, ph, n), m) for i, ph, n, m in
               rows(floor_db, "SELECT impl, phase, n, median_ns_per_op FROM plot_ns_per_op"))
    for impl, n, ns, floor, share in rows(floor_db, "SELECT impl, n, lookup_hit_ns, lookup_hit_floor_ns,"
                                          " lookup_hit_map_share FROM report_table_speed"):
        assert n == 6000
        assert floor == round(fl[("lookup_hit", n)], 1)
        m = med[(impl, "lookup_hit", n)]
        assert share == round((m - fl[("lookup_hit", n)]) / m, 2)


def test_the_floor_is_drawn_on_the_ns_per_op_plot_and_not_gated(floor_db, tmp_path):
    out = tmp_path / "r" / "report.html"
    p = mb("report", "--db", floor_db, "--out", out)
    assert p.returncode == 0, p.stderr
    svg = (out.parent / "plots" / "ns_per_op.svg").read_text()
    assert "floor: the loop with no map (null_map)" in svg
    db = tmp_path / "two.db"
    with sqlite3.connect(floor_db) as a, sqlite3.connect(db) as b:
        a.backup(b)
    p = mb("run", "--impl", "swiss,chained", "--phase", "insert,lookup_hit", "--n", "1000",
           "--processes", 3, "--metric", "time", "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    p = mb("gate", "--db", db)
    assert p.returncode in (0, 1), p.stdout + p.stderr
    keys = {k for (k,) in rows(db, "SELECT case_key FROM gate_decision")}
    assert keys and not any(k.startswith("null_map/") for k in keys)


def test_no_floor_without_timings_and_none_twice_when_null_map_is_named(tmp_path):
    db = tmp_path / "m.db"
    p = mb("run", "--impl", "oa_linear", "--n", 1000, "--metric", "memory", "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    assert rows(db, "SELECT count(*) FROM bench") == [(0,)]
    p = mb("run", "--impl", "oa_linear,null_map", "--phase", "lookup_hit", "--n", 1000,
           "--processes", 1, "--metric", "time", "--no-hint", "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    assert rows(db, "SELECT count(*) FROM bench WHERE impl = 'null_map'") == [(1,)]
    assert rows(db, "SELECT count(*) FROM phase_floor") == [(1,)]


# ---- Mann-Whitney U, exact with ties --------------------------------------------------

def exact_p_greater(base, cur):
    """P(U >= u_observed) over every split of the pooled values into len(base) and
    len(cur), counted one by one (U: pairs with cur > base, a tie counts one half)."""
    def u(b, c):
        return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in c for y in b)
    pool = list(base) + list(cur)
    obs = u(base, cur)
    hits = total = 0
    for idx in itertools.combinations(range(len(pool)), len(cur)):
        c = [pool[i] for i in idx]
        b = [pool[i] for i in range(len(pool)) if i not in idx]
        total += 1
        hits += u(b, c) >= obs - 1e-9
    return hits / total


MWU_CASES = [
    ([1, 2, 3], [4, 5, 6]),                       # 3 vs 3: at best 1/20
    ([1, 2, 2], [2, 3, 3]),                       # ties across the sides
    ([5, 5, 5], [5, 5, 5]),                       # all tied: p = 1
    ([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]),  # 6 vs 6: 1/924
    ([1, 1, 2, 3, 3, 4], [2, 3, 3, 5, 5, 6]),
    ([10.5, 10.25, 11, 10.5, 9], [10.5, 12, 12, 10.25, 13, 11]),
    ([3, 1, 4, 1, 5, 9, 2], [6, 5, 3, 5]),        # unequal sizes, ties
    ([7, 8, 9], [1, 2, 3]),                       # the other way: p = 1
    ([1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 6, 8, 8, 9, 10, 2]),
]


@pytest.mark.parametrize("base,cur", MWU_CASES)
def test_mwu_is_exact_including_ties(base, cur):
    p = mb("gate", "--mwu", ",".join(map(str, base)), ",".join(map(str, cur)))
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) == pytest.approx(exact_p_greater(base, cur), rel=1e-12, abs=1e-15)


def test_mwu_smallest_p_per_sample_count():
    # the reason the default sample count matters: every cur above every base
    for m in (3, 6):
        b = ",".join(str(i) for i in range(m))
        c = ",".join(str(100 + i) for i in range(m))
        p = float(mb("gate", "--mwu", b, c).stdout)
        assert p == pytest.approx(1 / math.comb(2 * m, m), rel=1e-12)
    assert mb("gate", "--mwu", "1,x", "2").returncode == 2


# ---- the gate says when it cannot judge wall time ----------------------------------------

def test_gate_says_it_cannot_judge_wall_time_with_3_vs_3_samples(tmp_path):
    db = tmp_path / "few.db"
    sel = ["--impl", "oa_linear", "--phase", "lookup_hit", "--n", 2000, "--no-hint",
           "--metric", "time", "--db", db]
    for _ in range(2):
        assert mb("run", *sel, "--processes", 3, "--reps", 1).returncode == 0
    g = mb("gate", "--db", db)
    assert g.returncode == 0, g.stdout + g.stderr
    assert "cannot judge wall time with 3 vs 3 samples on 1 case(s)" in g.stdout
    assert "0.05" in g.stdout
    # the defaults (3 processes x 2 repetitions) can reach time.p: no such note
    for _ in range(2):
        assert mb("run", *sel).returncode == 0
    g = mb("gate", "--db", db)
    assert "cannot judge wall time" not in g.stdout, g.stdout
    assert rows(db, "SELECT count(*) FROM sample s JOIN bench b USING (bench_id) WHERE b.run_id = 4"
                    " AND b.impl = 'oa_linear'") == [(6,)]


# ---- what the memory system was: THP mode with the run -----------------------------------

def thp(which):
    try:
        text = pathlib.Path(f"/sys/kernel/mm/transparent_hugepage/{which}").read_text()
    except OSError:
        return None
    return text[text.index("[") + 1:text.index("]")] if "[" in text else None


def test_thp_mode_is_stored_with_the_run_and_shown(tmp_path):
    db = tmp_path / "thp.db"
    p = mb("run", "--impl", "swiss", "--phase", "lookup_hit", "--n", 1000, "--no-hint",
           "--processes", 1, "--metric", "time", "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    assert rows(db, "SELECT thp_enabled, thp_defrag FROM run") == [(thp("enabled"), thp("defrag"))]
    env = dict(rows(db, "SELECT field, value FROM report_table_environment"))
    assert env["thp_enabled"] == thp("enabled") and env["thp_defrag"] == thp("defrag")
    assert "thp_enabled" in mb("show", 1, "--db", db).stdout


def test_a_version_6_file_is_upgraded_to_7_with_thp_columns(tmp_path):
    db = tmp_path / "v6.db"
    sel = ["--impl", "swiss", "--phase", "lookup_hit", "--n", 1000, "--no-hint", "--processes", 1,
           "--metric", "time", "--db", db]
    assert mb("run", *sel).returncode == 0
    with sqlite3.connect(db) as c:   # what version 6 had: no THP columns (nor views reading them)
        for (v,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
            c.execute(f"DROP VIEW {v}")
        c.execute("ALTER TABLE run DROP COLUMN thp_enabled")
        c.execute("ALTER TABLE run DROP COLUMN thp_defrag")
        c.execute("ALTER TABLE bench DROP COLUMN hugepages")
        c.execute("ALTER TABLE mem_case DROP COLUMN hugepages")
        for col in ("run_set", "shard_index", "shard_count"):   # nor version 8's (issue 18)
            c.execute(f"ALTER TABLE run DROP COLUMN {col}")
        c.execute("DROP TABLE run_unit")
        c.execute("DROP TABLE run_part")
        c.execute("PRAGMA user_version = 6")
    p = mb("run", *sel)
    assert p.returncode == 0, p.stderr[-2000:]
    assert rows(db, "PRAGMA user_version") == [(8,)]
    assert rows(db, "SELECT run_id, thp_enabled FROM run ORDER BY 1") == [(1, None), (2, thp("enabled"))]
    assert rows(db, "SELECT DISTINCT hugepages FROM bench") == [(0,)]   # the old rows: THP off


# ---- a failed allocation stops the phase (issue 17's leftover) ---------------------------

@pytest.mark.parametrize("impl", ["oa_linear", "swiss", "chained", "gomap"])
@pytest.mark.parametrize("config", [[], ["--key-bytes", "16"], ["--val-bytes", "64"]])
def test_an_insert_that_runs_out_of_memory_ends_the_phase_at_once(impl, config):
    from conftest import MBTEST
    p = subprocess.run([str(MBTEST), "enomem", "--impl", impl, "--n", "50000", *config],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = dict(l.split(" ", 1) for l in p.stdout.splitlines())
    # both forms of the insert phase: one failed allocation, then the phase stops and says so
    assert got == {"phase": "failed_calls=1 error=out of memory during the phase",
                   "lean": "failed_calls=1 error=out of memory during the phase"}, p.stdout


# ---- Google Benchmark conventions ---------------------------------------------------------

def gb_json(*args):
    import json
    p = mb("time", "--impl", "swiss", "--phase", "lookup_hit,insert", "--n", 1000, "--no-hint",
           "--benchmark_format=json", *args)
    assert p.returncode == 0, p.stderr[-2000:]
    return [b for b in json.loads(p.stdout)["benchmarks"] if b["run_type"] == "iteration"]


def test_benchmark_repetitions_works_and_names_do_not_carry_it():
    two = gb_json("--benchmark_repetitions=2")
    three = gb_json("--reps", 3)
    assert len(two) == 4 and len(three) == 6
    names = {b["name"] for b in two}
    assert names == {b["name"] for b in three}       # the same case, the same name
    assert all("repeats:" not in n and "/n:1000/" in n for n in names)
    for bad in ("--benchmark_repetitions=0", "--benchmark_repetitions=x", "--benchmark_repetitions"):
        p = mb("time", "--impl", "swiss", "--n", 100, bad)
        assert p.returncode == 2 and "--benchmark_repetitions wants" in p.stderr


def test_help_says_what_cpu_time_is():
    p = mb("time", "--help")
    assert "real_time is the timed region" in p.stdout
    assert "cpu_time is the library's CPU timer over the same region" in p.stdout


# ---- the hugepages axis ----------------------------------------------------------------------

def test_hugepages_is_an_axis_stored_on_the_case_and_compared(tmp_path):
    db = tmp_path / "hp.db"
    sel = ["--impl", "swiss,chained", "--phase", "insert,lookup_hit", "--n", 150000, "--no-hint",
           "--processes", 1, "--metric", "time,memory", "--allocator", "glibc", "--db", db]
    for extra in ([], ["--hugepages"]):
        p = mb("run", *sel, *extra)
        assert p.returncode == 0, p.stderr[-2000:]
    assert rows(db, "SELECT DISTINCT run_id, hugepages FROM bench WHERE impl != 'null_map' ORDER BY 1") == \
        [(1, 0), (2, 1)]
    assert rows(db, "SELECT DISTINCT run_id, hugepages FROM mem_case WHERE impl != 'go_runtime'"
                    " ORDER BY 1") == [(1, 0), (2, 1)]
    eff = rows(db, "SELECT impl, phase, n, baseline_run_id, thp_off_ns_per_op > 0,"
                   " hugepages_ns_per_op > 0 FROM hugepages_effect WHERE run_id = 2 ORDER BY 1, 2")
    assert eff == [(i, ph, 150000, 1, 1, 1) for i in ("chained", "swiss") for ph in ("insert", "lookup_hit")]
    # the name carries it, so a timing child's samples find their own case
    p = mb("time", "--impl", "swiss", "--phase", "lookup_hit", "--n", 1000, "--no-hint", "--hugepages",
           "--benchmark_list_tests=true")
    assert [n.split("/iterations:")[0] for n in p.stdout.split()] == \
        ["swiss/lookup_hit/u64->u64/uniform/n:1000/hint:0/hugepages"]
    p = mb("mem-case", "--impl", "swiss", "--n", 150000, "--hugepages")
    assert p.returncode == 0, p.stderr
