"""Beyond one machine (issue 18): the plan's units, --jobs K, --shard I/N, merge of
shards into one run, the progress line, and the two recipes (GNU parallel, a CI
matrix) run here in their local form.

Every run here is tiny (two maps, n = 1000, one process, one repetition)."""
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest
import yaml

from conftest import MAPBENCH, ROOT

TINY = ["--impl", "swiss,chained", "--n", "1000", "--processes", "1", "--reps", "1"]


def mb(*args, check=True, timeout=600, env=None):
    p = subprocess.run([str(MAPBENCH), *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    if check:
        assert p.returncode == 0, f"mapbench {' '.join(args)}: exit {p.returncode}\n{p.stderr[-3000:]}"
    return p


def rows(db, sql, *params):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute(sql, params).fetchall()


def plan_lines(*args):
    out = mb("plan", *args).stdout.splitlines()
    assert out[0].startswith("#id\tkind\tparallel\tcost_s\tcommand")
    return [l.split("\t") for l in out[1:]]


# ---- the plan ----------------------------------------------------------------------------

def test_plan_is_stable_and_unique():
    a, b = plan_lines(*TINY), plan_lines(*TINY)
    assert a == b, "same flags, same units in the same order"
    ids = [r[0] for r in a]
    assert len(ids) == len(set(ids)), "unit ids are unique"
    kinds = {r[1] for r in a}
    assert {"time", "floor", "calibrate", "memory", "latency", "churn", "thrash"} <= kinds
    for r in a:
        assert r[2] == ("K-wide" if r[1] in ("memory", "calibrate", "icount") else "alone"), r
        assert float(r[3]) > 0
    assert "time/swiss/p1" in ids and "time/chained/p1" in ids and "floor/p1" in ids
    # timing is one unit per map and process: --processes 2 doubles them
    two = [r[0] for r in plan_lines(*TINY[:-4], "--processes", "2", "--reps", "1")]
    assert {"time/swiss/p1", "time/swiss/p2", "floor/p2"} <= set(two)


def test_plan_summary_totals_its_lines():
    lines = mb("plan", *TINY, "--summary", "--jobs", "2").stdout.splitlines()
    per_kind = {l.split("\t")[0]: l.split("\t") for l in lines[1:] if not l.startswith("#")}
    total = per_kind.pop("total")
    assert int(total[1]) == sum(int(v[1]) for v in per_kind.values())
    assert abs(float(total[3]) - sum(float(r[3]) for r in plan_lines(*TINY))) <= len(per_kind)
    assert re.search(r"--jobs 2 [\d.]+ min", lines[-1])


def test_shards_partition_the_plan_by_cost():
    whole = plan_lines(*TINY)
    parts = [plan_lines(*TINY, "--shard", f"{i}/3") for i in (1, 2, 3)]
    ids = [r[0] for p in parts for r in p]
    assert sorted(ids) == sorted(r[0] for r in whole), "every unit in exactly one shard"
    order = [r[0] for r in whole]
    for p in parts:  # a shard runs its units in plan order
        assert [r[0] for r in p] == [i for i in order if i in {r[0] for r in p}]
    loads = [sum(float(r[3]) for r in p) for p in parts]
    biggest = max(float(r[3]) for r in whole)
    assert max(loads) - min(loads) <= biggest + 1e-9, f"LPT balance {loads}"


def test_bad_scale_flags_are_usage_errors():
    for args in (["--jobs", "0"], ["--shard", "4/3"], ["--shard", "1"], ["--shard", "0/2"],
                 ["--run-set", "x"]):
        p = mb("run", *TINY, *args, "--db", "/nonexistent/x.db", check=False)
        assert p.returncode == 2, (args, p.stderr)


# ---- run --jobs K ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jobs_dbs(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    sel = TINY + ["--phase", "insert,lookup_hit", "--metric", "memory,icount"]
    out = {}
    for k in (1, 2):
        db = d / f"j{k}.db"
        mb("run", *sel, "--jobs", str(k), "--db", str(db))
        out[k] = db
    return out


MEM_EXACT = ("entries", "map_live_bytes", "map_peak_bytes", "alloc_in_use_bytes",
             "alloc_held_bytes", "capacity", "tombstones", "overflow")


def test_memory_and_icount_identical_at_jobs_1_and_2(jobs_dbs):
    """Counting-allocator bytes (map_live, map_peak), the allocator's own figures (in use,
    held), entries and table shape, and callgrind's instruction counts do not depend on what
    runs beside a unit.  The OS figures (rss, anon, minor_faults, peak_rss) and phase_ns are
    the process's pages and a wall time: not compared (they differ run to run at --jobs 1
    too).  The real Go map's runs alone (its GC costs are timed), and its heap figures move
    with the collector, so it is left out."""
    q = ("SELECT c.impl, c.blueprint, c.n, c.allocator, c.shrink, p.phase_index, "
         + ", ".join(f"p.{c}" for c in MEM_EXACT)
         + " FROM mem_phase p JOIN mem_case c USING (mem_case_id) WHERE c.impl != 'go_runtime'"
         " ORDER BY 1, 2, 3, 4, 5, 6")
    a, b = rows(jobs_dbs[1], q), rows(jobs_dbs[2], q)
    assert a and len(a) == len(b)
    assert a == b
    qi = ("SELECT b.impl, b.phase, b.n, b.hint, i.ops, i.instructions FROM icount i"
          " JOIN bench b USING (bench_id) ORDER BY 1, 2, 3, 4")
    ia, ib = rows(jobs_dbs[1], qi), rows(jobs_dbs[2], qi)
    assert ia and ia == ib


def test_run_unit_records_slots_and_overlap(jobs_dbs):
    plan = [r[0] for r in plan_lines(*TINY, "--phase", "insert,lookup_hit", "--metric",
                                     "memory,icount")]
    for k, db in jobs_dbs.items():
        units = rows(db, "SELECT unit_id, kind, alone, slot, start_s, end_s, overlapped, status"
                         " FROM run_unit ORDER BY start_s, unit_id")
        assert sorted(u[0] for u in units) == sorted(plan), "run ran exactly the plan's units"
        assert all(u[7] == "ok" for u in units)
        assert {u[3] for u in units} <= set(range(k))
        for u in units:
            others = [o for o in units if o[0] != u[0] and o[4] < u[5] and u[4] < o[5]]
            assert bool(others) == bool(u[6]), f"overlapped flag of {u[0]}"
            if u[2]:
                assert not others, f"alone unit {u[0]} ran beside {others[:1]}"
        if k == 1:
            assert not any(u[6] for u in units)
    two = rows(jobs_dbs[2], "SELECT count(*) FROM run_unit WHERE overlapped = 1 AND alone = 0")
    assert two[0][0] > 0, "at --jobs 2 the K-wide units ran two at a time"


def test_interrupt_with_jobs_stores_nothing(tmp_path):
    db = tmp_path / "int.db"
    p = subprocess.Popen([str(MAPBENCH), "run", *TINY, "--metric", "memory,icount", "--jobs",
                          "2", "--db", str(db)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "int.db.progress").exists():
        time.sleep(0.1)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err[-2000:]
    assert "interrupted: nothing stored" in err
    assert rows(db, "SELECT count(*) FROM run") == [(0,)]
    # no child is left: nothing of the run's session (children have groups of their own)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout
    assert not left.strip(), f"children left behind: {left}"


# ---- shards and merge ----------------------------------------------------------------------

COUNTS = ("SELECT (SELECT count(*) FROM bench), (SELECT count(*) FROM sample),"
          " (SELECT count(*) FROM mem_case), (SELECT count(*) FROM mem_phase),"
          " (SELECT count(*) FROM insert_latency), (SELECT count(*) FROM churn_sample),"
          " (SELECT count(*) FROM thrash), (SELECT count(*) FROM run_unit)")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    sel = TINY[:-4] + ["--processes", "2", "--reps", "1"]
    mb("run", *sel, "--db", str(d / "one.db"))
    for i in (1, 2, 3):
        mb("run", *sel, "--shard", f"{i}/3", "--db", str(d / f"s{i}.db"))
    return d


def test_merged_shards_are_one_run_like_a_single_one(shards):
    d = shards
    sets = {rows(d / f"s{i}.db", "SELECT run_set, shard_index, shard_count FROM run")[0]
            for i in (1, 2, 3)}
    assert len({s[0] for s in sets}) == 1 and {s[1] for s in sets} == {1, 2, 3}
    out = mb("merge", "--db", str(d / "m.db"), *(str(d / f"s{i}.db") for i in (1, 2, 3)))
    assert "1 new sharded run" in out.stdout
    assert "3/3 shards stored" in out.stderr and "units" in out.stderr
    assert rows(d / "m.db", "SELECT count(*), min(shard_count) FROM run") == [(1, 3)]
    parts = rows(d / "m.db", "SELECT shard_index, units FROM run_part ORDER BY 1")
    assert [p[0] for p in parts] == [1, 2, 3]
    assert sum(p[1] for p in parts) == rows(d / "m.db", "SELECT count(*) FROM run_unit")[0][0]
    assert rows(d / "m.db", COUNTS) == rows(d / "one.db", COUNTS)
    # the case timed by process 1 in one shard and process 2 in another is one bench row
    assert rows(d / "m.db", "SELECT count(*) FROM (SELECT bench_id FROM sample GROUP BY"
                            " bench_id HAVING count(DISTINCT process_index) = 2)") == \
        rows(d / "one.db", "SELECT count(*) FROM bench")
    # merging twice adds nothing
    again = mb("merge", "--db", str(d / "m.db"), *(str(d / f"s{i}.db") for i in (1, 2, 3)))
    assert "0 new sharded run" in again.stdout
    # the report reads it as one suite: the same sections and tables as a single run's
    heads = []
    for name in ("one", "m"):
        html = d / f"r-{name}" / "index.html"
        mb("report", "--db", str(d / f"{name}.db"), "--out", str(html))
        heads.append(re.findall(r"<h[1-3][^>]*>([^<]*)|<table", html.read_text())[1:])
    assert heads[0] == heads[1]


def test_merge_refuses_a_missing_or_doubled_shard(shards):
    d = shards
    p = mb("merge", "--db", str(d / "x.db"), str(d / "s1.db"), str(d / "s3.db"), check=False)
    assert p.returncode == 1 and "shard 2/3 is missing" in p.stderr
    shutil.copy(d / "s1.db", d / "s1b.db")
    p = mb("merge", "--db", str(d / "x.db"), str(d / "s1.db"), str(d / "s1b.db"), str(d / "s2.db"),
           str(d / "s3.db"), check=False)
    assert p.returncode == 1 and "shard 1/3 given twice" in p.stderr
    assert rows(d / "x.db", "SELECT count(*) FROM run") == [(0,)], "nothing merged"


def test_merge_refuses_mixed_machines_unless_told(shards):
    d = shards
    shutil.copy(d / "s2.db", d / "s2-other.db")
    with sqlite3.connect(d / "s2-other.db") as c:
        c.execute("UPDATE run SET cpu_model = 'Another CPU 9000', run_uuid = run_uuid || 'x'")
    dbs = [str(d / "s1.db"), str(d / "s2-other.db"), str(d / "s3.db")]
    p = mb("merge", "--db", str(d / "mix.db"), *dbs, check=False)
    assert p.returncode == 1 and "different machines" in p.stderr and "--allow-mixed" in p.stderr
    mb("merge", "--allow-mixed", "--db", str(d / "mix.db"), *dbs)
    runs = rows(d / "mix.db", "SELECT r.run_id, group_concat(p.shard_index) FROM run r"
                              " JOIN run_part p USING (run_id) GROUP BY r.run_id ORDER BY 1")
    assert [r[1] for r in runs] == ["1,3", "2"], "each machine stays its own run"


def test_merge_progress_reads_progress_files_only(shards, tmp_path):
    d = shards
    before = [(d / f"s{i}.db").read_bytes() for i in (1, 2, 3)]
    line = (d / "s1.db.progress").read_text().splitlines()
    assert line[0].startswith("#run_set\tshard\tunits_done")
    f = line[1].split("\t")
    assert f[1] == "1/3" and f[2] == f[3] and f[7] == "stored"
    # a shard still running: its progress file says so, merge --progress adds it up
    (tmp_path / "run.db.progress").write_text(
        line[0] + "\n" + "\t".join([f[0], "2/3", "1", "4", "1.0", "4.0", "10.0", "running"]) + "\n")
    p = mb("merge", "--progress", str(d / "s1.db"), str(tmp_path / "run.db"))
    assert re.search(r"1/2 shards stored; units %d/%d" % (int(f[2]) + 1, int(f[3]) + 4), p.stderr)
    assert "ETA 30 s" in p.stderr, p.stderr  # 10 s for 1 of 4 cost-seconds: 30 s to go
    assert [(d / f"s{i}.db").read_bytes() for i in (1, 2, 3)] == before, "a read writes nothing"


# ---- the schema ------------------------------------------------------------------------

def test_migration_7_to_8_keeps_runs(tmp_path):
    db = tmp_path / "v7.db"
    mb("run", *TINY, "--metric", "memory", "--db", str(db))
    with sqlite3.connect(db) as c:  # back to what version 7 had
        c.execute("DROP TABLE run_unit")
        c.execute("DROP TABLE run_part")
        for col in ("run_set", "shard_index", "shard_count"):
            c.execute(f"ALTER TABLE run DROP COLUMN {col}")
        c.execute("PRAGMA user_version = 7")
    mb("runs", "--db", str(db))  # the read door upgrades it in place, once
    assert rows(db, "PRAGMA user_version") == [(8,)]
    assert rows(db, "SELECT count(*), min(run_set) FROM run") == [(1, None)]
    assert rows(db, "SELECT count(*) FROM run_unit") == [(0,)]
    assert rows(db, "SELECT count(*) FROM mem_case")[0][0] > 0
    cols = {r[1] for r in rows(db, "PRAGMA table_info(run)")}
    assert {"run_set", "shard_index", "shard_count"} <= cols


# ---- the recipes, locally --------------------------------------------------------------------

def test_gnu_parallel_recipe_on_localhost(tmp_path):
    """ci/shards-parallel.sh with the sshloginfile ':' (this machine): 4 shards through GNU
    parallel, merged into one run."""
    logins = tmp_path / "hosts"
    logins.write_text(":\n")
    env = dict(os.environ, MAPBENCH=str(MAPBENCH.resolve()), RUN_SET="test-parallel")
    p = subprocess.run([str(ROOT / "ci" / "shards-parallel.sh"), "4", str(logins),
                        str(tmp_path / "out"), *TINY], capture_output=True, text=True,
                       timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    merged = tmp_path / "out" / "merged.db"
    assert rows(merged, "SELECT count(*), min(run_set), min(shard_count) FROM run") == \
        [(1, "test-parallel", 4)]
    assert rows(merged, "SELECT count(*) FROM run_part") == [(4,)]
    plan = {r[0] for r in plan_lines(*TINY)}
    assert {r[0] for r in rows(merged, "SELECT unit_id FROM run_unit")} == plan


def _expand(text, env, matrix):
    text = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(matrix[m.group(1)]), text)
    text = re.sub(r"\$\{\{\s*github\.(\w+)\s*\}\}", lambda m: "local", text)
    return text


def test_ci_matrix_recipe_runs_locally(tmp_path):
    """ci/shards.yml: each shard job's steps, then the merge job's, as the CI would run them
    (checkout, install and build are this checkout's; artifacts are folders here)."""
    wf = yaml.safe_load((ROOT / "ci" / "shards.yml").read_text())
    jobs = wf["jobs"]
    assert jobs["merge"]["needs"] == "shard"
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(wf["env"]["SHARDS"]) + 1))
    env = {k: str(v) for k, v in wf["env"].items()}
    env.update(MAPBENCH=str(MAPBENCH.resolve()), RUN_FLAGS=" ".join(TINY))  # the tiny local form
    artifacts = tmp_path / "artifacts"

    def run_job(job, matrix, cwd):
        cwd.mkdir(parents=True, exist_ok=True)
        ran = 0
        for step in jobs[job]["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout") or step.get("name") in ("install packages",
                                                                            "build"):
                continue  # this checkout, its packages and its build
            if uses.startswith("actions/upload-artifact"):
                name = _expand(step["with"]["name"], env, matrix)
                for pat in _expand(step["with"]["path"], env, matrix).split():
                    for f in cwd.glob(pat):
                        dest = artifacts / name / f.relative_to(cwd)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        (shutil.copytree if f.is_dir() else shutil.copy)(f, dest)
                continue
            if uses.startswith("actions/download-artifact"):
                dest = cwd / step["with"]["path"]
                dest.mkdir(parents=True, exist_ok=True)
                for a in artifacts.glob(step["with"]["pattern"]):
                    for f in a.iterdir():
                        shutil.copy(f, dest / f.name)
                continue
            assert "run" in step, f"a step the local form cannot run: {step}"
            cmd = _expand(step["run"], env, matrix)
            p = subprocess.run(["/bin/sh", "-ec", cmd], cwd=cwd, capture_output=True, text=True,
                               timeout=600, env=dict(os.environ, **env))
            assert p.returncode == 0, f"{job} step {step.get('name')}: {p.stderr[-2000:]}"
            ran += 1
        return ran

    for s in shards:
        assert run_job("shard", {"shard": s}, tmp_path / f"shard-job-{s}") >= 1
    assert run_job("merge", {}, tmp_path / "merge-job") >= 2
    merged = tmp_path / "merge-job" / "merged.db"
    assert rows(merged, "SELECT count(*), min(shard_count) FROM run") == [(1, len(shards))]
    assert (tmp_path / "merge-job" / "report" / "index.html").exists()
    assert (artifacts / "merged" / "merged.db").exists()


def test_merge_wait_waits_for_a_shard_not_yet_stored(shards, tmp_path):
    d = shards
    late = tmp_path / "s3.db"
    p = subprocess.Popen([str(MAPBENCH), "merge", "--wait", "--poll", "1", "--db",
                          str(tmp_path / "w.db"), str(d / "s1.db"), str(d / "s2.db"), str(late)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    assert p.poll() is None, "a shard with neither database nor progress file is waited for"
    shutil.copy(d / "s3.db", late)
    shutil.copy(d / "s3.db.progress", str(late) + ".progress")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "2/3 shards stored" in err and "3/3 shards stored" in err
    assert rows(tmp_path / "w.db", "SELECT count(*) FROM run_part") == [(3,)]


def test_full_suite_keeps_every_axis_at_fewer_timed_points():
    """The re-scoped full suite (README: the full suite): every axis is still there."""
    names = subprocess.run([str(MAPBENCH), "time", "--suite", "full", "--benchmark_list_tests"],
                           capture_output=True, text=True, check=True).stdout.split()
    parts = [n.split("/") for n in names]
    assert {p[2] for p in parts} == {"u64->u64", "u64->64B", "u64->ptr64", "str16->u64",
                                     "str48->u64"}
    assert {p[3] for p in parts} == {"uniform", "sequential", "shuffled", "zipf"}
    phases = {p[1] for p in parts}
    assert {"insert", "lookup_hit", "lookup_miss", "delete_all", "clear", "mixed_rw",
            "lookup_half_hit", "delete_half", "iterate", "reinsert"} <= phases
    sizes = {int(p[4][2:]) for p in parts}
    assert {16, 256, 4096, 65536, 1000000, 3000000} == sizes
    hints = {(int(p[4][2:]), int(p[5][5:])) for p in parts if p[1] == "insert"}
    assert {(4096, 0), (4096, 4096), (4096, 1024), (4096, 16384)} <= hints  # none/right/small/big
    assert {p[1] for p in parts if p[4] == "n:3000000"} == {"insert"}
    mixed = {(p[6], p[7]) for p in parts if p[1] == "mixed_rw"}
    assert mixed == {(f"threads:{t}", f"mix:{m}") for t in (1, 2, 4)
                     for m in ("read-only", "90", "50", "write-only")}
    assert any("/shrink:low-water/" in n for n in names)
    units = plan_lines("--suite", "full")
    mem = [u[0].split("/") for u in units if u[1] == "memory"]
    assert len({m[4] for m in mem if m[2] == "u64->u64" and m[3] == "uniform"}) >= 25  # x1.6 sweep
    allocs = {m[5] for m in mem}
    assert "glibc" in allocs and len(allocs) >= 2
    ic = [u[0] for u in units if u[1] == "icount"]
    assert ic and all("/u64->u64/uniform/" in i for i in ic)
    assert max(int(re.search(r"/n:(\d+)/", i).group(1)) for i in ic) == 65536


def test_icount_does_not_depend_on_the_callers_environment(tmp_path):
    """Instruction counts are a deterministic figure: a shard started by GNU
    parallel (PARALLEL_* variables) or from a longer path must count what a
    plain run counts.  Before the callgrind child got a fixed, page-padded
    environment, one extra variable moved iterate's count (glibc's routines
    branch on where a load falls in its page)."""
    counts = []
    for extra in ({}, {"PARALLEL_SEQ": "3", "PARALLEL_PID": "123456", "X": "y" * 37}):
        db = tmp_path / f"ic{len(counts)}.db"
        mb("run", "--metric", "icount", "--impl", "arena,stb_ds", "--phase", "iterate,delete_all",
           "--n", "4096", "--db", str(db), env={**os.environ, **extra})
        counts.append(rows(db, "SELECT b.impl, b.phase, i.instructions FROM icount i"
                               " JOIN bench b USING (bench_id) ORDER BY 1, 2"))
    assert len(counts[0]) == 4 and counts[0] == counts[1], counts


def test_merge_wait_gives_up_at_timeout_on_a_shard_killed_outright(shards, tmp_path):
    """A shard killed with SIGKILL leaves 'running' in its progress file forever:
    --wait shows the file's age, and --timeout gives up with nothing merged."""
    d = shards
    line = (d / "s1.db.progress").read_text().splitlines()
    f = line[1].split("\t")
    dead = tmp_path / "s3.db"
    (tmp_path / "s3.db.progress").write_text(
        line[0] + "\n" + "\t".join([f[0], "3/3", "1", "4", "1.0", "4.0", "10.0", "running"]) + "\n")
    old = time.time() - 120
    os.utime(tmp_path / "s3.db.progress", (old, old))
    target = tmp_path / "w.db"
    t0 = time.time()
    p = mb("merge", "--wait", "--poll", "1", "--timeout", "2", "--db", str(target),
           str(d / "s1.db"), str(d / "s2.db"), str(dead), check=False, timeout=60)
    assert p.returncode == 1, p.stderr
    assert time.time() - t0 < 30
    assert re.search(r"3/3 running \(updated 1[2-9]\d s ago\)", p.stderr), p.stderr
    assert "gave up after --timeout 2 s: 1 shard(s) not stored" in p.stderr
    assert "nothing merged" in p.stderr and not target.exists()
    p = mb("merge", "--timeout", "5", str(d / "s1.db"), check=False)
    assert p.returncode == 2 and "give --wait too" in p.stderr and "usage:" in p.stderr
