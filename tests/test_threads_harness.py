"""The threads harness (issue 14): mixed_rw's ceiling stored beside every
repetition, the mix as a case dimension (--mix), oversubscribed thread counts
flagged against the run's online CPUs, and the real Go maps under threads
(go_syncmap, go_rwmutex_map, go_sharded_map) stored beside the C rows, their
answers verified by C (a planted wrong answer fails the case).

Go is a required package (ci/packages.txt: golang-go), so a missing Go peer is
a failure here, as in test_gort.py."""
import os
import pathlib
import shutil
import sqlite3
import subprocess
from statistics import median

import pytest

from conftest import BUILD, MAPBENCH, ROOT

LIB = BUILD.resolve() / "gort" / "libmbgort.so"
GO_MAPS = {"go_syncmap", "go_rwmutex_map", "go_sharded_map"}
C_MAPS = ["sharded_seq", "sharded_vbucket", "syncmap"]
N = 3000
# one more thread than the machine has online CPUs: oversubscribed wherever this runs
CORES = os.sysconf("SC_NPROCESSORS_ONLN")
OVER = min(CORES + 1, 64)


def mb(*args, env=None, timeout=600):
    return subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def rows(db, sql, *params):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql, params).fetchall()
    finally:
        c.close()


def listed(*args):
    """The case names `mapbench time` would run (Google Benchmark's list)."""
    p = mb("time", *args, "--benchmark_list_tests=true")
    assert p.returncode == 0, p.stderr
    # the library appends "/iterations:N/repeats:R/manual_time"
    return [l.split("/iterations:")[0] for l in p.stdout.splitlines() if l.strip()]


@pytest.fixture(scope="module")
def go_built():
    assert MAPBENCH.exists(), f"build first: {MAPBENCH} is missing"
    if not shutil.which("go"):
        pytest.fail("go is not installed: the real-Go peer needs Debian's golang-go "
                    "(ci/packages.txt), then rebuild")
    if not LIB.exists():
        pytest.fail(f"{LIB} is missing: re-run cmake and build target mbgort")
    return LIB


@pytest.fixture(scope="module")
def run_db(tmp_path_factory, go_built):
    """One small stored run: two C thread-safe maps, mixed_rw at 1 and CORES+1
    threads, two mixes, two timing processes, plus lookup_hit (no ceiling)."""
    db = tmp_path_factory.mktemp("threads") / "t.db"
    p = mb("run", "--metric", "time", "--phase", "mixed_rw,lookup_hit", "--n", N,
           "--impl", ",".join(C_MAPS), "--threads", f"1,{OVER}", "--mix", "read-only,90",
           "--processes", 2, "--reps", 1, "--db", db)
    assert p.returncode == 0, p.stderr[-3000:]
    return db


# ---- the ceiling ---------------------------------------------------------------------

def test_every_mixed_rw_sample_has_its_ceiling(run_db):
    samples = rows(run_db, "SELECT b.impl, b.phase, b.threads, b.lookup_percent, s.ns_per_op,"
                           " s.ceiling_ns_per_op FROM sample s JOIN bench b USING (bench_id)")
    mixed = [r for r in samples if r[1] == "mixed_rw"]
    # 2 C maps + 3 Go maps, 2 thread counts, 2 mixes, 2 processes x 1 repetition
    assert len(mixed) == (len(C_MAPS) + len(GO_MAPS)) * 2 * 2 * 2, samples
    for impl, _, threads, mix, ns, ceiling in mixed:
        assert ceiling is not None and ceiling > 0, (impl, threads, mix)
        assert ns > 0
    # other phases have no ceiling
    others = [r for r in samples if r[1] != "mixed_rw"]
    assert others and all(r[5] is None for r in others)


def test_the_views_read_each_map_against_its_ceiling_and_its_one_thread(run_db):
    got = rows(run_db, "SELECT impl, threads, lookup_percent, mops_per_s, ceiling_mops_per_s,"
                       " of_ceiling, speedup FROM plot_thread_scaling")
    assert {r[0] for r in got} == set(C_MAPS) | GO_MAPS
    samples = {}
    for impl, threads, mix, ns, ceiling in rows(
            run_db, "SELECT b.impl, b.threads, b.lookup_percent, s.ns_per_op,"
                    " s.ceiling_ns_per_op FROM sample s JOIN bench b USING (bench_id)"
                    " WHERE b.phase = 'mixed_rw'"):
        samples.setdefault((impl, threads, mix), []).append((ns, ceiling))
    one = {(r[0], r[2]): r[3] for r in got if r[1] == 1}
    for impl, threads, mix, mops, ceil, of_ceil, speedup in got:
        pairs = samples[(impl, threads, mix)]
        assert ceil == pytest.approx(1000 / median(c for _, c in pairs))
        assert of_ceil == pytest.approx(median(c / ns for ns, c in pairs))
        assert speedup == pytest.approx(mops / one[(impl, mix)])
    table = rows(run_db, "SELECT mix, impl, threads, ratio_to_1_thread, ratio_to_ceiling"
                         " FROM report_table_threads")
    assert {r[0] for r in table} == {"read-only", "90/10"}
    assert all(r[3] is not None and r[4] is not None for r in table)


def test_the_share_of_the_ceiling_pairs_each_repetition_with_its_own_ceiling_run(
        run_db, tmp_path):
    """A repetition's ceiling runs right after it, on the machine of that moment, so the
    share of the ceiling is the median of each pair's ratio, not the ratio of medians:
    here 20 ns against a 10 ns ceiling (a fast moment) and 40 against 40 (a slow one)
    read 0.5 and 1.0, median 0.75, where the medians (30 and 25) would read 0.83."""
    db = tmp_path / "paired.db"
    shutil.copy(run_db, db)
    c = sqlite3.connect(db)
    bench = c.execute("SELECT bench_id FROM bench WHERE impl = 'sharded_seq' AND threads = 1"
                      " AND lookup_percent = 90").fetchone()[0]
    got = c.execute("SELECT process_index, repetition FROM sample WHERE bench_id = ?"
                    " ORDER BY 1, 2", (bench,)).fetchall()
    assert len(got) == 2, got
    for (proc, rep), (ns, ceiling) in zip(got, [(20.0, 10.0), (40.0, 40.0)]):
        c.execute("UPDATE sample SET ns_per_op = ?, ceiling_ns_per_op = ? WHERE bench_id = ?"
                  " AND process_index = ? AND repetition = ?", (ns, ceiling, bench, proc, rep))
    c.commit()
    c.close()
    (mops, ceil, of_ceil), = rows(db, "SELECT mops_per_s, ceiling_mops_per_s, of_ceiling"
                                      " FROM plot_thread_scaling WHERE impl = 'sharded_seq'"
                                      " AND threads = 1 AND lookup_percent = 90")
    assert (mops, ceil) == (pytest.approx(1000 / 30), pytest.approx(1000 / 25))
    assert of_ceil == pytest.approx(0.75)


# ---- the mix axis ----------------------------------------------------------------------

def test_the_mix_is_stored_with_the_case_and_names_it(run_db):
    mixes = rows(run_db, "SELECT DISTINCT phase, lookup_percent FROM bench ORDER BY 1, 2")
    assert mixes == [("lookup_hit", None), ("mixed_rw", 90), ("mixed_rw", 100)]


def test_mix_names_parse_into_case_names():
    names = listed("--phase", "mixed_rw", "--impl", "sharded", "--n", 1000, "--threads", 1,
                   "--mix", "read-only,90/10,50%,write-only")
    assert [n.rsplit("/mix:", 1)[1] for n in names] == ["read-only", "90", "50", "write-only"]
    assert listed("--phase", "mixed_rw", "--impl", "sharded", "--n", 1000, "--threads", 1,
                  "--mix", "100,0") == [names[0], names[3]]


def test_quick_suite_runs_90_10_and_full_suite_every_mix_at_1_2_4_threads():
    common = ["--phase", "mixed_rw", "--impl", "sharded", "--n", 1000,
              "--blueprint", "u64->u64", "--dist", "uniform"]
    quick = listed("--suite", "quick", *common)
    assert [n.split("/threads:")[1] for n in quick] == ["1/mix:90", "2/mix:90"]
    full = listed("--suite", "full", *common)
    assert sorted(n.split("/threads:")[1] for n in full) == sorted(
        f"{t}/mix:{m}" for t in (1, 2, 4) for m in ("read-only", "90", "50", "write-only"))


@pytest.mark.parametrize("bad", ["101", "90/20", "lots", "90,90", "-5", "50%%"])
def test_a_bad_mix_is_a_usage_error(bad):
    for cmd in (["time"], ["run", "--metric", "time", "--db", "/nonexistent/x.db"]):
        p = mb(*cmd, "--phase", "mixed_rw", "--mix", bad)
        assert p.returncode == 2, (cmd, bad, p.stderr)
        assert "--mix" in p.stderr


# ---- oversubscribed ----------------------------------------------------------------------

def test_threads_above_the_online_cpus_are_flagged(run_db):
    (cores,), = rows(run_db, "SELECT cores FROM run")
    assert cores == CORES
    got = rows(run_db, "SELECT threads, oversubscribed FROM plot_thread_scaling")
    assert {t for t, _ in got} == {1, OVER}
    assert all(o == (1 if t > cores else 0) for t, o in got), got
    table = rows(run_db, "SELECT threads, oversubscribed FROM report_table_threads")
    assert all(o == (f"yes ({cores} cores)" if t > cores else "no") for t, o in table)


# ---- the real Go maps ----------------------------------------------------------------------

def test_go_maps_are_stored_beside_the_c_rows(run_db):
    got = rows(run_db, "SELECT impl, family, allocator, threads, lookup_percent, count(*)"
                       " FROM bench JOIN sample USING (bench_id) WHERE impl LIKE 'go_%'"
                       " GROUP BY bench_id")
    assert {r[0] for r in got} == GO_MAPS
    assert all(r[1] == "peer" and r[2] == "go-runtime" and r[5] == 2 for r in got), got
    assert {(r[3], r[4]) for r in got} == {(t, m) for t in (1, OVER) for m in (100, 90)}


def test_go_threads_case_prints_verified_samples(go_built):
    for impl in sorted(GO_MAPS):
        p = mb("go-threads-case", "--impl", impl, "--n", 2000, "--threads", 2,
               "--mix", "write-only", "--reps", 2)
        assert p.returncode == 0, p.stdout + p.stderr
        s = [l.split("\t") for l in p.stdout.splitlines() if l.startswith("S\t")]
        assert len(s) == 2 and all(float(x[4]) > 0 and float(x[5]) > 0 for x in s)
        assert s[0][1].endswith("/threads:2/mix:write-only")


DEFECTS = {
    # a lookup answers a wrong value for one key in 64
    "lookup": ("\t\t\tif v, ok := m.load(k); ok {\n\t\t\t\tsum += v\n",
               "\t\t\tif v, ok := m.load(k); ok {\n\t\t\t\tsum += v\n"
               "\t\t\t\tif k%64 == 0 { sum++ }\n"),
    # Go's scripts drift from C's: other keys are looked up (each lookup still hits)
    "script": ("keyAt(seed, dist, (r>>8)%n)", "keyAt(seed, dist, (r>>7)%n)"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_planted_wrong_answer_fails_the_go_case(go_built, tmp_path, defect):
    src = ROOT / "impls" / "peers" / "gort"
    pkg = tmp_path / "gort"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("*.cmake"))
    old, new = DEFECTS[defect]
    text = (pkg / "threads.go").read_text()
    assert text.count(old) == 1, f"threads.go changed: update the planted defect {defect}"
    (pkg / "threads.go").write_text(text.replace(old, new))
    lib = tmp_path / "libmbgort.so"
    env = dict(os.environ, GOCACHE=str((go_built.parent / "gocache").resolve()),
               GOPATH=str(tmp_path / "gopath"), GOENV="off", GOFLAGS="", GOPROXY="off",
               GO111MODULE="on", GOTOOLCHAIN="local")
    b = subprocess.run(["go", "build", "-buildmode=c-shared", "-buildvcs=false", "-o", str(lib),
                        "."], cwd=pkg, capture_output=True, text=True, env=env, timeout=600)
    assert b.returncode == 0, b.stderr
    genv = dict(os.environ, MB_GORT_LIB=str(lib))
    p = mb("go-threads-case", "--impl", "go_rwmutex_map", "--n", 2000, "--threads", 2,
           "--mix", 50, env=genv)
    assert p.returncode == 1, p.stdout
    errors = [l for l in p.stdout.splitlines() if l.startswith("E\t")]
    assert errors and errors[0].endswith("\tchecksum mismatch"), p.stdout
    assert not any(l.startswith("S\t") for l in p.stdout.splitlines())
    # and a run with it fails: nothing of it is stored as complete
    db = tmp_path / "t.db"
    r = mb("run", "--metric", "time", "--phase", "mixed_rw", "--impl", "sharded", "--n", 2000,
           "--threads", 1, "--processes", 1, "--db", db, env=genv)
    assert r.returncode != 0
    assert rows(db, "SELECT count(*) FROM complete_run") == [(0,)]


def test_go_threads_case_usage_errors(go_built):
    for args in (["--n", 100], ["--impl", "go_nosuch", "--n", 100],
                 ["--impl", "go_syncmap", "--n", 100, "--mix", "200"],
                 ["--impl", "go_syncmap", "--n", 100, "--threads", 0]):
        p = mb("go-threads-case", *args)
        assert p.returncode == 2, (args, p.stderr)


# ---- the schema upgrade ---------------------------------------------------------------------

def test_an_older_database_keeps_its_samples_and_its_mixed_rw_rows_are_90_10(tmp_path):
    db = tmp_path / "old.db"
    c = sqlite3.connect(db)
    c.executescript((ROOT / "tests" / "fixtures" / "schema_v1.sql").read_text())
    c.execute("INSERT INTO run (run_uuid, started_at, finished_at, status, suite, seed,"
              " processes) VALUES ('old', 'a', 'b', 'complete', 'custom', 1, 1)")
    for i, (phase, threads) in enumerate([("mixed_rw", 2), ("insert", 1)], 1):
        c.execute("INSERT INTO bench (run_id, impl, family, traits, phase, blueprint,"
                  " distribution, n, hint, threads, allocator) VALUES (1, 'sharded', 'sharded',"
                  " 't', ?, 'u64->u64', 'uniform', 100, 0, ?, 'glibc')", (phase, threads))
        c.execute("INSERT INTO sample VALUES (?, 0, 0, 1, ?)", (i, 10.0 * i))
    c.commit()
    c.close()
    p = mb("runs", "--db", db)
    assert p.returncode == 0, p.stderr
    assert rows(db, "SELECT b.phase, b.lookup_percent, s.ns_per_op, s.ceiling_ns_per_op"
                    " FROM sample s JOIN bench b USING (bench_id) ORDER BY b.bench_id") == [
        ("mixed_rw", 90, 10.0, None), ("insert", None, 20.0, None)]
    assert rows(db, "PRAGMA foreign_key_check") == []
