"""The workload catalogue and the timing front end: every phase, key
distribution, blueprint and hint runs with verified checksums; filters select
exactly what they say; Google Benchmark's own flags and JSON keep working."""
import json
import sqlite3
import subprocess

import pytest

from conftest import MAPBENCH, ROOT

PHASES = ["insert", "lookup_hit", "lookup_miss", "delete_all", "clear", "lookup_half_hit",
          "delete_half", "iterate", "reinsert"]


def mb(*args, timeout=900):
    return subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def rows(db, sql):
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


@pytest.mark.parametrize("dist", ["uniform", "sequential", "shuffled", "zipf"])
@pytest.mark.parametrize("blueprint", ["u64->u64", "u64->64B", "u64->ptr64", "str16->u64",
                                       "str48->u64"])
def test_every_phase_distribution_and_blueprint_verifies(tmp_path, dist, blueprint):
    db = tmp_path / "w.db"
    p = mb("run", "--impl", "swiss,chained,gomap", "--n", 700, "--phase", ",".join(PHASES),
           "--hints", "none,right,small,big", "--dist", dist, "--blueprint", blueprint,
           "--processes", 1, "--metric", "time", "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    got = rows(db, "SELECT phase, hint, count(*) FROM latest_medians WHERE shrink = 'never'"
                   " GROUP BY phase, hint")
    by_phase = {}
    for phase, hint, count in got:
        by_phase.setdefault(phase, set()).add(hint)
        assert count == 3, (phase, hint)             # one row per map
    assert set(by_phase) == set(PHASES)
    assert by_phase["insert"] == {0, 700, 175, 2800}  # none, right, 4x too small, 4x too big
    assert by_phase["reinsert"] == {0, 700, 175, 2800}
    # the removing phases also under low-water, for the maps that have it (not gomap)
    low = rows(db, "SELECT phase, group_concat(impl) FROM (SELECT * FROM latest_medians"
                   " WHERE shrink = 'low-water' ORDER BY impl) GROUP BY phase")
    assert dict(low) == {p: "chained,swiss" for p in ("delete_all", "delete_half") if p in PHASES}


def test_filters_select_exactly_what_they_say(tmp_path):
    db = tmp_path / "f.db"
    p = mb("run", "--impl", "oa_robinhood,absl", "--phase", "lookup_miss,clear", "--n",
           "500,2000", "--no-hint", "--processes", 2, "--reps", 2, "--metric", "time,memory",
           "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    cases = rows(db, "SELECT impl, phase, n, hint, blueprint, distribution FROM bench"
                     " WHERE family != 'calibration' ORDER BY 1, 2, 3")
    assert cases == [(i, ph, n, 0, "u64->u64", "uniform") for i in ("absl", "oa_robinhood")
                     for ph in ("clear", "lookup_miss") for n in (500, 2000)]
    # and the harness floor on the same phases and sizes (view phase_floor)
    floor = rows(db, "SELECT impl, phase, n FROM bench WHERE family = 'calibration' ORDER BY 2, 3")
    assert floor == [("null_map", ph, n) for ph in ("clear", "lookup_miss") for n in (500, 2000)]
    # every repetition of every process is kept, with its index
    reps = rows(db, "SELECT DISTINCT process_index, repetition FROM sample ORDER BY 1, 2")
    assert reps == [(0, 0), (0, 1), (1, 0), (1, 1)]
    mem = rows(db, "SELECT DISTINCT impl, n FROM mem_case WHERE impl != 'go_runtime' ORDER BY 1, 2")
    assert mem == [("absl", 500), ("absl", 2000), ("oa_robinhood", 500), ("oa_robinhood", 2000)]


def test_google_benchmark_json_has_what_compare_py_reads():
    p = mb("time", "--impl", "oa_linear", "--phase", "insert,lookup_hit", "--n", 1000, "--reps", 2,
           "--benchmark_format=json", "--benchmark_filter=lookup")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    runs = [b for b in data["benchmarks"] if b["run_type"] == "iteration"]
    assert len(runs) == 2 and all("lookup_hit" in b["name"] for b in runs)  # the filter worked
    for b in runs:
        for field in ("name", "run_type", "real_time", "cpu_time", "time_unit", "iterations",
                      "repetition_index"):
            assert field in b, field
        assert b["time_unit"] == "ns" and b["real_time"] > 0
    assert sorted(b["repetition_index"] for b in runs) == [0, 1]
    assert "context" in data


def test_unknown_google_benchmark_flag_is_a_usage_error():
    p = mb("time", "--benchmark_nonsense=1")
    assert p.returncode == 2 and p.stderr.startswith("mapbench: ")


def test_mixed_threads_only_for_thread_safe_maps(tmp_path):
    db = tmp_path / "t.db"
    p = mb("run", "--impl", "sharded,locked,swiss", "--phase", "mixed_rw", "--threads", "1,2,4",
           "--n", 5000, "--processes", 1, "--metric", "time", "--db", db)
    assert p.returncode == 0, p.stderr[-2000:]
    # the real Go thread rows (go_*, allocator go-runtime) come with every mixed_rw run
    got = rows(db, "SELECT impl, threads FROM bench WHERE allocator != 'go-runtime' ORDER BY 1, 2")
    assert got == [(i, t) for i in ("locked", "sharded") for t in (1, 2, 4)]
