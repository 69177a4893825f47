"""Results you can hand to someone else (issue 17): nothing lost, nothing altered,
nothing crashes.  Each test is one repro of the issue, asserting the clear error
and exit code, and that a read leaves the database byte-identical.

Runs against MB_BUILD_DIR's mapbench; `make test` also runs this file against
the ASan/UBSan build (MB_SANITIZED=1 there: the tests that set an address-space
limit skip, since ASan reserves terabytes of shadow memory)."""
import glob
import hashlib
import json
import os
import pathlib
import resource
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

import pytest

from conftest import MAPBENCH, ROOT

SANITIZED = os.environ.get("MB_SANITIZED") == "1"
TINY = ["--impl", "oa_linear,chained", "--n", "1000", "--processes", "1", "--reps", "1",
        "--allocator", "glibc"]
GO_BUILT = (MAPBENCH.parent / "gort" / "libmbgort.so").exists()


def mb(*args, timeout=600, limit_bytes=None, **kw):
    def preexec():
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, preexec_fn=preexec if limit_bytes else None,
                          **kw)


def ok(*args, **kw):
    p = mb(*args, **kw)
    assert p.returncode == 0, f"mapbench {' '.join(map(str, args))}: {p.stderr[-2000:]}"
    return p


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def rows(db, sql, *params):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql, params).fetchall()
    finally:
        c.close()


def usage_error(p, *words):
    assert p.returncode == 2, (p.returncode, p.stderr[-1500:])
    first = p.stderr.splitlines()[0]
    assert first.startswith("mapbench: "), p.stderr
    for w in words:
        assert w in first, (w, first)
    assert "usage:" in p.stderr


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A database with two complete runs, each with a row in every table that hangs
    off a run (icount through callgrind, latency, churn, memory and the Go map)."""
    db = tmp_path_factory.mktemp("safe") / "two.db"
    for seed in (1, 2):
        ok("run", "--impl", "oa_linear", "--n", "1000", "--processes", "1", "--reps", "1",
           "--allocator", "glibc", "--phase", "insert,lookup_hit", "--seed", seed,
           "--metric", "time,memory,latency,churn" + ("" if SANITIZED else ",icount"),
           "--db", db)
    return db


def copy_db(src, dst):
    shutil.copy(src, dst)
    return dst


# ---- memory safety -------------------------------------------------------------------

def test_a_command_line_over_8_kib_is_stored_whole(tmp_path):
    db = tmp_path / "long.db"
    args = ["run", *TINY, "--metric", "time", "--phase", "insert", "--db", db]
    args += ["--seed", "1"] * 1100            # > 8 KiB of argv: overflowed a stack buffer
    p = mb(*args)
    assert p.returncode == 0, p.stderr[-1500:]
    stored = rows(db, "SELECT argv FROM run")[0][0]
    assert stored.count("--seed 1") == 1100 and len(stored) > 8192


@pytest.mark.skipif(SANITIZED, reason="an address-space limit and ASan's shadow memory exclude each other")
def test_a_huge_query_result_streams_in_bounded_memory(two_runs):
    # 4e6 rows x 2 columns: buffered whole this needed several hundred MB (and crashed on
    # the unchecked realloc); streamed it needs the same few MB as one row
    sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 4000000)"
           " SELECT x, x * 2.5 AS y FROM c")
    for fmt in ("csv", "table"):
        p = subprocess.run([str(MAPBENCH), "query", sql, "--format", fmt, "--db", str(two_runs)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                                 (200 << 20, 200 << 20)))
        assert p.returncode == 0, p.stderr[-800:]
        lines = p.stdout.count(b"\n")
        assert lines >= 4000000, (fmt, lines)
        assert b"4000000" in p.stdout[-200:]


def test_a_table_wider_after_its_first_rows_still_prints_every_row(two_runs):
    sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1500)"
           " SELECT x, CASE WHEN x > 1200 THEN printf('%030d', x) ELSE 'a' END AS s FROM c")
    p = ok("query", sql, "--db", two_runs)
    assert p.stdout.rstrip().endswith("(1500 rows)")
    assert "000000000000000000000000001500" in p.stdout


def test_a_50_kb_benchmark_filter_is_a_usage_error_not_a_stack_overflow():
    p = mb("time", "--impl", "oa_linear", "--n", "100", "--benchmark_filter=" + "a" * 50000)
    usage_error(p, "--benchmark_filter", "at most")
    p = mb("time", "--impl", "oa_linear", "--n", "100", "--phase", "insert",
           "--benchmark_filter=" + "(a|" * 250 + "b" + ")" * 250)
    assert p.returncode == 0, p.stderr[-800:]


# ---- merge ----------------------------------------------------------------------------

def hanging_off_run(db):
    """Every table with a foreign key to run, or to a table found so, and so on —
    found from the schema, as merge must, not from a list."""
    found, edges = ["run"], rows(db, "SELECT m.name, f.\"table\" FROM sqlite_schema m,"
                                     " pragma_foreign_key_list(m.name) f WHERE m.type = 'table'")
    grew = True
    while grew:
        grew = False
        for child, parent in edges:
            if parent in found and child not in found:
                found.append(child)
                grew = True
    return found


def rows_per_run(db, table):
    """{run_uuid: row count} of table, following its foreign keys up to run."""
    path, t = [], table
    fks = {c: (p, f, to) for c, p, f, to in rows(
        db, "SELECT m.name, f.\"table\", f.\"from\", f.\"to\" FROM sqlite_schema m,"
            " pragma_foreign_key_list(m.name) f WHERE m.type = 'table'")
        if p in hanging_off_run(db)}
    joins, alias = [], "t0"
    while t != "run":
        parent, frm, to = fks[t]
        nxt = f"t{len(joins) + 1}"
        to = to or ("run_id" if parent == "run" else rows(
            db, f"SELECT name FROM pragma_table_info('{parent}') WHERE pk = 1")[0][0])
        joins.append(f"JOIN \"{parent}\" {nxt} ON {nxt}.\"{to}\" = {alias}.\"{frm}\"")
        alias, t = nxt, parent
    if table == "run":
        return dict(rows(db, "SELECT run_uuid, 1 FROM run"))
    return dict(rows(db, f"SELECT {alias}.run_uuid, count(*) FROM \"{table}\" t0 {' '.join(joins)}"
                         f" GROUP BY {alias}.run_uuid"))


def test_merge_copies_every_table_hanging_off_a_run_and_never_writes_the_source(two_runs, tmp_path):
    tables = hanging_off_run(two_runs)
    expected = {"run", "bench", "sample", "icount", "mem_case", "mem_phase", "insert_latency",
                "latency_bucket", "churn_sample"} | ({"go_memstats"} if GO_BUILT else set())
    if SANITIZED:   # callgrind cannot run an ASan binary: no icount rows there
        expected.discard("icount")
    assert expected <= set(tables), tables
    for t in expected:   # the fixture really filled them, for both runs
        assert len(rows_per_run(two_runs, t)) == 2, t
    # the target already holds a run of its own, so every id is renumbered
    target = tmp_path / "target.db"
    ok("run", *TINY, "--metric", "time", "--phase", "insert", "--db", target)
    src_before = digest(two_runs)
    p = ok("merge", two_runs, "--db", target)
    assert "merged 2 new run(s)" in p.stdout
    assert digest(two_runs) == src_before
    for t in tables:
        src, dst = rows_per_run(two_runs, t), rows_per_run(target, t)
        for uuid, n in src.items():
            assert dst.get(uuid) == n, (t, uuid, n, dst.get(uuid))
    assert rows(target, "PRAGMA foreign_key_check") == []
    # values travel with their rows: the same medians per run
    q = ("SELECT r.run_uuid, b.phase, sum(s.ns_per_op) FROM sample s JOIN bench b USING (bench_id)"
         " JOIN run r USING (run_id) GROUP BY 1, 2 ORDER BY 1, 2")
    assert set(rows(two_runs, q)) <= set(rows(target, q))
    # merging twice adds nothing
    p = ok("merge", two_runs, "--db", target)
    assert "merged 0 new run(s)" in p.stdout


# ---- reading never writes --------------------------------------------------------------

def read_commands(db, other):
    return [
        ["query", "SELECT count(*) FROM sample", "--db", db],
        ["query", "SELECT * FROM claim_verdicts", "--format", "json", "--db", db],
        ["runs", "--db", db],
        ["show", "1", "--db", db],
        ["export", "--db", db],
        ["export", "--what", "medians", "--format", "json", "--run", "2", "--db", db],
        ["export", "--what", "memory", "--db", db],
        ["gate", "--no-record", "--force", "--db", db],
        ["gate", "--no-record", "--force", "--baseline", other, "--db", db],
        ["merge", other, "--db", db],   # db is the target here: other is the file read
    ]


def test_every_read_command_leaves_the_database_byte_identical(two_runs, tmp_path):
    db = copy_db(two_runs, tmp_path / "r.db")
    other = copy_db(two_runs, tmp_path / "other.db")
    before, before_other = digest(db), digest(other)
    version = rows(db, "PRAGMA schema_version")
    for args in read_commands(db, other):
        p = mb(*args)
        assert p.returncode in (0, 1), (args, p.stderr[-800:])   # gate: 1 = regression
        assert digest(other) == before_other, args
        if args[0] != "merge":
            assert digest(db) == before, args
    assert rows(db, "PRAGMA schema_version") == version


def test_plot_and_report_leave_the_database_byte_identical(two_runs, tmp_path):
    if not shutil.which("gnuplot") or not shutil.which("sqlite3"):
        pytest.skip("gnuplot and sqlite3 (ci/packages.txt) are needed for plots")
    db = copy_db(two_runs, tmp_path / "p.db")
    before = digest(db)
    ok("plot", "--db", db, "--out", tmp_path / "plots", timeout=900)
    assert digest(db) == before
    ok("report", "--db", db, "--out", tmp_path / "report.html", timeout=900)
    assert digest(db) == before


def test_stale_stored_views_are_read_through_temp_views_without_writing(two_runs, tmp_path):
    db = copy_db(two_runs, tmp_path / "stale.db")
    with sqlite3.connect(db) as c:        # as an older build would have left it
        c.execute("DROP VIEW runs")
        c.execute("DROP VIEW complete_run")
        c.execute("CREATE VIEW complete_run AS SELECT * FROM run WHERE 0")
    c.close()
    before = digest(db)
    p = ok("runs", "--db", db)
    assert "complete" in p.stdout and "(2 rows)" in p.stdout
    assert digest(db) == before
    # a write brings the stored views up to date, once
    ok("query", "--write", "SELECT 1", "--db", db)
    assert rows(db, "SELECT count(*) FROM complete_run") == [(2,)]
    after = digest(db)
    ok("query", "--write", "SELECT 1", "--db", db)
    assert digest(db) == after


def as_other_user():
    return (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            if os.geteuid() == 0 else [])


def test_a_wal_database_in_a_directory_nobody_may_write_is_readable(two_runs):
    d = pathlib.Path(tempfile.mkdtemp(prefix="mb-rodir-"))
    try:
        os.chmod(d, 0o755)
        db = copy_db(two_runs, d / "ro.db")         # still in WAL mode, as mapbench leaves it
        assert rows(db, "PRAGMA journal_mode") == [("wal",)]
        exe = d / "mapbench"
        shutil.copy(MAPBENCH, exe)
        os.chmod(db, 0o444)
        os.chmod(d, 0o555)
        before = digest(db)
        for args in (["runs"], ["show", "1"], ["export", "--what", "medians"],
                     ["query", "SELECT count(*) AS n FROM sample"]):
            p = subprocess.run([*as_other_user(), str(exe), *args, "--db", str(db)],
                               capture_output=True, text=True, cwd="/", timeout=120)
            assert p.returncode == 0, (args, p.stderr)
        p = subprocess.run([*as_other_user(), str(exe), "run", *TINY, "--db", str(db)],
                           capture_output=True, text=True, cwd="/", timeout=120)
        assert p.returncode == 1 and "read-only" in p.stderr, p.stderr
        p = subprocess.run([*as_other_user(), str(exe), "gate", "--force", "--db", str(db)],
                           capture_output=True, text=True, cwd="/", timeout=300)
        assert p.returncode in (0, 1), p.stderr
        assert "NOT stored in gate_decision" in p.stdout and "every decision is stored" not in p.stdout
        assert digest(db) == before
        assert not (d / "ro.db-wal").exists() or (d / "ro.db-wal").stat().st_size == 0
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d)


def test_gate_records_its_decisions_when_it_may(two_runs, tmp_path):
    db = copy_db(two_runs, tmp_path / "g.db")
    p = mb("gate", "--force", "--db", db)
    assert p.returncode in (0, 1), p.stderr
    n = rows(db, "SELECT count(*) FROM gate_decision")[0][0]
    assert n > 0 and "every decision is stored" in p.stdout


# ---- query is read-only unless --write --------------------------------------------------

@pytest.mark.parametrize("sql", [
    "UPDATE sample SET ns_per_op = ns_per_op * 100",
    "DELETE FROM run",
    "PRAGMA user_version = 99",
    "DROP VIEW runs",
    "CREATE TABLE x (y)",
])
def test_query_refuses_to_change_results(two_runs, tmp_path, sql):
    db = copy_db(two_runs, tmp_path / "q.db")
    before = digest(db)
    p = mb("query", sql, "--db", db)
    assert p.returncode == 1 and "--write" in p.stderr, p.stderr
    assert digest(db) == before
    ok("runs", "--db", db)    # and every later command still works


def test_query_refuses_attach_and_vacuum_into(two_runs, tmp_path):
    db = copy_db(two_runs, tmp_path / "a.db")
    victim = copy_db(two_runs, tmp_path / "victim.db")
    before, before_victim = digest(db), digest(victim)
    p = mb("query", f"ATTACH '{victim}' AS v; DELETE FROM v.run", "--db", db)
    assert p.returncode == 1 and "SQL error" in p.stderr
    p = mb("query", f"ATTACH 'file:{tmp_path}/new.db?mode=rwc' AS n", "--db", db)
    assert p.returncode == 1
    p = mb("query", f"VACUUM INTO '{tmp_path}/copy.db'", "--db", db)
    assert p.returncode == 1 and "--write" in p.stderr
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "new.db").exists()
    assert digest(db) == before and digest(victim) == before_victim


def test_query_write_is_the_one_way_to_change_results_and_help_says_so(two_runs, tmp_path):
    assert "--write" in ok("query", "--help").stdout
    db = copy_db(two_runs, tmp_path / "w.db")
    ok("query", "--write", "DELETE FROM gate_decision; UPDATE run SET suite = 'custom'", "--db", db)
    assert rows(db, "SELECT DISTINCT suite FROM run") == [("custom",)]


def test_json_never_prints_a_bare_infinity_or_nan(two_runs):
    p = ok("query", "SELECT 1e999 AS inf, -1e999 AS ninf, 0.5 AS half", "--format", "json",
           "--db", two_runs)
    assert json.loads(p.stdout) == [{"inf": None, "ninf": None, "half": 0.5}]


# ---- damaged or unusable databases ---------------------------------------------------------

def test_a_database_with_corrupt_pages_is_refused_untouched_before_a_write(two_runs, tmp_path):
    db = copy_db(two_runs, tmp_path / "bad.db")
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA journal_mode = DELETE")   # every page in the main file
        page = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'sample'").fetchone()[0]
    c.close()
    with open(db, "r+b") as f:                    # garbage over the sample table's root page
        f.seek((root - 1) * page + 8)
        f.write(b"\xff\x13" * 200)
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert ro.execute("PRAGMA quick_check").fetchone()[0] != "ok"   # the damage is real
    ro.close()
    before = digest(db)
    for args in (["run", *TINY, "--metric", "time"], ["merge", two_runs],
                 ["query", "--write", "SELECT 1"]):
        p = mb(*args, "--db", db)
        assert p.returncode == 1 and "damaged" in p.stderr, (args, p.stderr[-600:])
        assert digest(db) == before


@pytest.mark.parametrize("path", ["", ":memory:", "file:x.db?mode=memory"])
def test_run_into_no_file_is_a_usage_error(path):
    usage_error(mb("run", *TINY, "--db", path), "--db")


def test_an_empty_metric_list_is_a_usage_error(tmp_path):
    usage_error(mb("run", *TINY, "--metric", "", "--db", tmp_path / "m.db"), "--metric")
    usage_error(mb("run", *TINY, "--metric", ",", "--db", tmp_path / "m.db"), "--metric")
    assert not (tmp_path / "m.db").exists()


def test_export_of_a_missing_run_is_refused_like_show(two_runs):
    p = mb("export", "--run", "999", "--db", two_runs)
    assert p.returncode == 1 and "no run 999" in p.stderr and p.stdout == ""
    p = mb("show", "999", "--db", two_runs)
    assert p.returncode == 1 and "no run 999" in p.stderr


def test_report_into_a_missing_folder_is_refused_and_creates_nothing(two_runs, tmp_path):
    out = tmp_path / "nonexistent" / "dir" / "x.html"
    p = mb("report", "--db", two_runs, "--out", out)
    assert p.returncode == 1 and "no such folder" in p.stderr
    assert not (tmp_path / "nonexistent").exists()


# ---- arguments --------------------------------------------------------------------------------

def test_a_size_beyond_this_machines_memory_is_refused_before_any_work(tmp_path):
    t0 = time.monotonic()
    p = mb("run", "--impl", "oa_linear", "--n", "1e12", "--db", tmp_path / "big.db")
    usage_error(p, "too large for this machine's memory")
    for cmd in ("mem-case", "latency-case", "churn-case"):
        usage_error(mb(cmd, "--impl", "oa_linear", "--n", "1e12"),
                    "too large for this machine's memory")
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "big.db").exists()


@pytest.mark.parametrize("flag,value", [
    ("--impl", "swiss,swiss"), ("--n", "1000,1000"), ("--n", "1000,1e3"),
    ("--phase", "insert,insert"), ("--allocator", "glibc,glibc"), ("--threads", "1,2,1"),
    ("--dist", "uniform,uniform"),
])
def test_duplicates_are_refused_at_parse_time(tmp_path, flag, value):
    p = mb("run", *TINY, flag, value, "--db", tmp_path / "d.db", timeout=30)
    usage_error(p, "twice")
    assert not (tmp_path / "d.db").exists()


def test_more_sizes_than_a_run_holds_is_an_error_not_a_cut(tmp_path):
    sizes = ",".join(str(100 + i) for i in range(40))
    usage_error(mb("run", *TINY[:2], "--n", sizes, "--db", tmp_path / "s.db"), "--n")


def test_a_metric_list_over_127_characters_is_read_whole(tmp_path):
    db = tmp_path / "ml.db"
    metrics = ",".join(["churn"] * 30 + ["time"])     # 'time' past the old 127-byte cut
    ok("run", *TINY, "--phase", "insert", "--metric", metrics, "--db", db)
    assert rows(db, "SELECT count(*) > 0 FROM sample") == [(1,)]


def test_a_baseline_never_reaches_a_shell(two_runs, tmp_path):
    marker = tmp_path / "pwned"
    for spec in (f"x'; touch {marker}; echo '", f"$(touch {marker})", "-h", "a" * 5000):
        p = mb("gate", "--baseline", spec, "--db", two_runs)
        assert p.returncode == 2 and "is not a run id, a results database or a git ref" in p.stderr, \
            p.stderr[-400:]
        assert "Unterminated" not in p.stderr
    assert not marker.exists()
    # a real ref still works
    p = mb("gate", "--baseline", "HEAD", "--db", two_runs)
    assert p.returncode == 2 and "not a run id" not in p.stderr, p.stderr


# ---- signals ----------------------------------------------------------------------------------

def processes_with(marker):
    """PIDs (other than ours) whose command line holds marker."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            cmd = pathlib.Path(d, "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if marker.encode() in cmd and int(d[6:]) != os.getpid():
            found.append(int(d[6:]))
    return found


@pytest.mark.parametrize("sig,code,metric", [(signal.SIGINT, 130, "icount"),
                                             (signal.SIGTERM, 143, "memory")])
def test_an_interrupted_run_kills_its_children_removes_its_files_and_stores_nothing(
        tmp_path, sig, code, metric):
    if metric == "icount" and (not shutil.which("valgrind") or SANITIZED):
        pytest.skip("icount needs valgrind (ci/packages.txt), which cannot run an ASan build")
    db = tmp_path / "i.db"
    ok("run", *TINY, "--metric", "time", "--phase", "insert", "--db", db)
    seed = str(900000000 + os.getpid() % 1000000 + code)   # marks this run's children
    n = "20000" if metric == "icount" else "3000000"
    p = subprocess.Popen([str(MAPBENCH), "run", "--impl", "oa_linear,chained", "--n", n,
                          "--allocator", "glibc", "--metric", metric, "--seed", seed,
                          "--db", str(db)], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    tmp_glob = f"/tmp/mapbench-callgrind-{p.pid}.*"
    while time.monotonic() < deadline:           # until a child is measuring
        if len(processes_with(seed)) >= 2 and (metric != "icount" or glob.glob(tmp_glob)):
            break
        time.sleep(0.05)
    else:
        p.kill()
        pytest.fail("the run never started a child")
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, (p.returncode, err[-800:])
    assert "interrupted: nothing stored" in err
    for _ in range(40):                          # reaped at once: allow the kernel a moment
        if not processes_with(seed):
            break
        time.sleep(0.05)
    assert processes_with(seed) == []
    assert glob.glob(tmp_glob) == []
    assert rows(db, "SELECT count(*) FROM run") == [(1,)]


# ---- messages ---------------------------------------------------------------------------------

@pytest.mark.skipif(SANITIZED, reason="an address-space limit and ASan's shadow memory exclude each other")
@pytest.mark.skipif(not GO_BUILT, reason="the real Go map is not built (golang-go)")
def test_the_go_probe_crashing_under_a_limit_is_not_called_a_missing_build(tmp_path):
    p = mb("run", *TINY[:2], "--n", "1000", "--allocator", "glibc", "--metric", "memory",
           "--db", tmp_path / "go.db", limit_bytes=400 << 20)
    assert "golang-go missing" not in p.stderr
    assert "FAILED the real Go map's probe" in p.stderr, p.stderr[-1500:]
    assert p.returncode == 1


@pytest.mark.skipif(SANITIZED, reason="an address-space limit and ASan's shadow memory exclude each other")
def test_an_out_of_memory_case_is_summed_up_as_out_of_memory(tmp_path):
    p = mb("run", "--impl", "oa_linear", "--n", "6000000", "--allocator", "glibc",
           "--metric", "memory", "--db", tmp_path / "oom.db", limit_bytes=300 << 20, timeout=300)
    assert p.returncode == 1, p.stderr[-1500:]
    summary = [l for l in p.stderr.splitlines() if "case(s) FAILED" in l]
    assert summary and "out of memory" in summary[0], p.stderr[-1500:]
