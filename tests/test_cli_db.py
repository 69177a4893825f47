"""The mapbench CLI and its database, end to end: a real quick-suite run, the
schema and views it fills, queries, robustness (kill, concurrency, corrupt
files, bad SQL), usage errors, and the plots rendered from it."""
import json
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

import pytest

from conftest import F_SHRINK, F_THREAD_SAFE, FLAGS, MAPBENCH, MAP_NAMES, ROOT

SMALL = ["--impl", "oa_linear,chained", "--n", "1000,5000", "--processes", "2", "--reps", "2"]


def mb(*args, check=False, timeout=900):
    p = subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if check:
        assert p.returncode == 0, f"mapbench {' '.join(map(str, args))}: {p.stderr}"
    return p


@pytest.fixture(scope="session")
def quick_db(tmp_path_factory):
    """One real `mapbench run --quick` (every registered map, N up to 1e6)."""
    db = tmp_path_factory.mktemp("quick") / "mapbench.db"
    p = mb("run", "--quick", "--db", db, check=True, timeout=1800)
    assert "complete" in p.stderr
    return db


def rows(db, sql, *params):
    with sqlite3.connect(db) as c:
        return c.execute(sql, params).fetchall()


# ---- the quick run and its tables -------------------------------------------------

def test_quick_run_is_one_complete_run_with_every_table_and_view(quick_db):
    assert rows(quick_db, "SELECT count(*), min(status) FROM run") == [(1, "complete")]
    names = {r[0] for r in rows(quick_db, "SELECT name FROM sqlite_schema")}
    for t in ["run", "bench", "sample", "mem_case", "mem_phase", "icount", "gate_decision",
              "latest_run", "case_medians", "latest_medians", "memory_by_phase",
              "bytes_per_entry", "retained", "runs"]:
        assert t in names, t
    env = rows(quick_db, "SELECT git_sha, compiler, cflags, cpu_model, cores, kernel, suite,"
                         " started_at <= finished_at FROM run")[0]
    assert all(v is not None for v in env), env
    assert env[6] == "quick" and env[7] == 1


def test_quick_run_times_every_map_phase_and_size(quick_db):
    got = rows(quick_db, "SELECT impl, phase, n, count(*) FROM latest_medians WHERE hint = 0"
                         " AND phase != 'mixed_rw' GROUP BY impl, phase, n")
    assert {(i, p, n) for i, p, n, _ in got} == {
        (i, p, n) for i in MAP_NAMES
        for p in ["insert", "lookup_hit", "lookup_miss", "delete_all", "clear"]
        for n in [1000, 100000, 1000000]}
    # every repetition of every process is kept
    per_case = rows(quick_db, "SELECT min(samples), max(samples) FROM latest_medians")[0]
    assert per_case[0] == per_case[1] == 6   # quick: 3 processes x 2 repetitions (the gate can decide)
    # the harness floor, on every phase and size the loops time (not mixed_rw's threads)
    floor = set(rows(quick_db, "SELECT phase, n FROM phase_floor"))
    assert floor == {(p, n) for p in ["insert", "lookup_hit", "lookup_miss", "delete_all", "clear"]
                     for n in [1000, 100000, 1000000]}
    procs = rows(quick_db, "SELECT DISTINCT process_index FROM sample ORDER BY 1")
    assert procs == [(0,), (1,), (2,)]
    # inserts are also timed with a right-sized capacity hint
    hinted = rows(quick_db, "SELECT count(*) FROM latest_medians WHERE phase = 'insert' AND hint = n")
    assert hinted == [(3 * len(MAP_NAMES),)]


def test_quick_run_times_thread_safe_maps_at_1_and_2_threads(quick_db):
    # the C thread-safe maps and, beside them, the real Go maps (issue 14)
    safe = sorted([n for n in MAP_NAMES if FLAGS[n] & F_THREAD_SAFE] +
                  ["go_rwmutex_map", "go_sharded_map", "go_syncmap"])
    got = rows(quick_db, "SELECT DISTINCT impl, threads FROM latest_medians WHERE phase = 'mixed_rw'"
                         " ORDER BY impl, threads")
    assert got == [(i, t) for i in safe for t in (1, 2)]


def test_quick_run_memory_phases_for_every_map(quick_db):
    phases = [r[0] for r in rows(
        quick_db, "SELECT phase FROM memory_by_phase WHERE impl = 'oa_linear' AND n = 1000"
                  " AND shrink = 'never'"
                  " AND allocator = 'glibc' ORDER BY phase_index")]
    assert phases[:4] == ["start", "insert", "delete_half", "delete_all"]
    assert phases[-2:] == ["destroy", "trim_after_destroy"]
    for impl in MAP_NAMES:
        after = dict(rows(quick_db, "SELECT phase, map_live_bytes FROM memory_by_phase"
                                    " WHERE impl = ? AND n = 1000000 AND allocator = 'glibc'"
                                    " AND shrink = 'never'", impl))
        assert after["insert"] > 1000000 * 8, impl      # at least the keys themselves
        assert after["destroy"] == 0, impl               # destroy frees everything
    bpe = rows(quick_db, "SELECT impl, map_bytes_per_entry FROM bytes_per_entry WHERE n = 1000000"
                         " AND allocator = 'glibc'")
    assert {i for i, _ in bpe} == set(MAP_NAMES)
    assert all(16 <= b < 200 for _, b in bpe), bpe


# ---- query -------------------------------------------------------------------------

def test_query_formats(quick_db):
    sql = "SELECT impl, n, median_ns_per_op FROM latest_medians WHERE phase = 'insert' LIMIT 3"
    table = mb("query", sql, "--db", quick_db, check=True).stdout
    assert table.splitlines()[0].split() == ["impl", "n", "median_ns_per_op"]
    assert "(3 rows)" in table
    csv = mb("query", sql, "--db", quick_db, "--format", "csv", check=True).stdout
    assert csv.splitlines()[0] == "impl,n,median_ns_per_op" and len(csv.splitlines()) == 4
    data = json.loads(mb("query", sql, "--db", quick_db, "--format=json", check=True).stdout)
    assert len(data) == 3 and isinstance(data[0]["n"], int)
    assert isinstance(data[0]["median_ns_per_op"], float)


def test_query_prints_every_real_at_full_precision_and_json_reals_as_floats(quick_db):
    """A figure must not lose a digit between the database and the reader, and a REAL that
    happens to be whole (a median of exactly 20 ns) must still read back as a float."""
    values = [20.0, 0.1, 1.0 / 3, 46.867234567891234, 1.25266789e7, 5e-324, -0.0, 1e300]
    sql = "SELECT " + ", ".join(f"CAST({v!r} AS REAL) AS c{i}" for i, v in enumerate(values))
    data = json.loads(mb("query", sql, "--db", quick_db, "--format=json", check=True).stdout)
    assert [data[0][f"c{i}"] for i in range(len(values))] == values
    assert all(isinstance(data[0][f"c{i}"], float) for i in range(len(values)))
    csv = mb("query", sql, "--db", quick_db, "--format", "csv", check=True).stdout
    assert [float(x) for x in csv.splitlines()[1].split(",")] == values
    table = mb("query", sql, "--db", quick_db, check=True).stdout
    assert [float(x) for x in table.splitlines()[2].split()] == values
    assert repr(values[3]) in table.split() and "20" in table.split()   # shortest, unpadded


def test_bad_sql_gets_sqlite_message_and_exit_1(quick_db):
    p = mb("query", "SELEC nonsense", "--db", quick_db)
    assert p.returncode == 1
    assert "syntax error" in p.stderr
    p = mb("query", "SELECT * FROM no_such_table", "--db", quick_db)
    assert p.returncode == 1 and "no such table: no_such_table" in p.stderr


def test_readme_queries_work_as_printed(quick_db):
    readme = (ROOT / "README.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", readme, re.S)
    assert len(queries) >= 8
    for q in queries:
        p = mb("query", q, "--db", quick_db)
        assert p.returncode == 0, f"README query failed: {q}\n{p.stderr}"
        assert "(0 rows)" not in p.stdout, f"README query returns nothing: {q}"


# ---- usage errors --------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["run", "--bogus"], ["run", "--impl", "no_such_map"],
    ["run", "--n", "ten"], ["run", "--phase", "dance"], ["query"], ["query", "--format", "xml", "x"],
    ["gate", "--threshold", "lots"], ["mem-case", "--impl", "oa_linear"], ["run", "--n"],
])
def test_bad_arguments_exit_2_with_one_line_and_usage(args):
    p = mb(*args)
    assert p.returncode == 2, (args, p.stderr)
    first, *rest = p.stderr.splitlines()
    assert first.startswith("mapbench: "), first
    assert any(line.startswith("usage: mapbench") for line in rest), p.stderr


@pytest.mark.parametrize("cmd", ["run", "list", "time", "mem-case", "query", "runs", "gate",
                                 "plot", "report"])
def test_help_everywhere(cmd):
    p = mb(cmd, "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: mapbench " + cmd)
    assert mb("--help").stdout.startswith("usage: mapbench")


def test_command_list_names_every_command_apart_from_its_summary():
    """`mapbench --help` lists each command as "  NAME  summary": every listed
    name is a command (its own --help works), never run into its summary."""
    lines = mb("--help").stdout.splitlines()
    listed = [ln for ln in lines[lines.index("commands:") + 1:] if ln.startswith("  ")]
    assert len(listed) >= 10, lines
    for ln in listed:
        name, gap, summary = re.match(r"  (\S+)(\s+)(.*)", ln).groups()
        assert len(gap) >= 2 and summary, ln
        assert mb(name, "--help").stdout.startswith("usage: mapbench " + name), ln


# ---- robustness ------------------------------------------------------------------------

def test_killed_run_leaves_nothing(tmp_path):
    db = tmp_path / "k.db"
    mb("run", *SMALL, "--db", db, check=True)
    before = rows(db, "SELECT count(*) FROM run")[0][0]
    p = subprocess.Popen([str(MAPBENCH), "run", "--impl", "oa_linear,chained", "--n", "1e6",
                          "--processes", "3", "--db", str(db)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(2.0)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert rows(db, "SELECT count(*) FROM run")[0][0] == before
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "SELECT count(*) FROM bench WHERE run_id NOT IN (SELECT run_id FROM run)") == [(0,)]


def test_two_runs_at_once_both_land(tmp_path):
    db = tmp_path / "c.db"
    procs = [subprocess.Popen([str(MAPBENCH), "run", *SMALL, "--db", str(db)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    assert rows(db, "SELECT count(*), count(DISTINCT run_uuid) FROM complete_run") == [(2, 2)]


def test_corrupt_or_foreign_file_is_refused_and_untouched(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE notes (x)")
    for f in [junk, other]:
        before = f.read_bytes()
        for args in (["query", "SELECT 1"], ["run", *SMALL]):
            p = mb(*args, "--db", f)
            assert p.returncode == 1, (f, args, p.stderr)
            assert p.stderr.startswith("mapbench: ") and str(f) in p.stderr
        assert f.read_bytes() == before


def test_missing_database_is_a_clear_error(tmp_path):
    p = mb("query", "SELECT 1", "--db", tmp_path / "nope.db")
    assert p.returncode == 1 and "no such database" in p.stderr
    assert not (tmp_path / "nope.db").exists()


def test_an_error_too_long_for_its_buffer_says_it_was_cut(tmp_path):
    """Errors below the CLI fill an MB_ERR_LEN (512) buffer: one longer ends in '...'
    (mb_errf), so a cut message never reads as a whole one."""
    far = tmp_path.joinpath(*["d" * 100] * 6, "nope.db")     # a 600+ byte path
    p = mb("query", "SELECT 1", "--db", far)
    line = p.stderr.splitlines()[0]
    assert p.returncode == 1 and line.startswith("mapbench: " + str(tmp_path)), p.stderr
    assert line.endswith("...") and len(line) == len("mapbench: ") + 511, line[-80:]


def test_read_only_database_gets_a_clear_error(tmp_path):
    """A database the user may read but not write: queries work, a run is refused
    with a clear message.  As root (CI), the commands run as `nobody`, since
    file modes do not stop root."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="mb-ro-"))
    os.chmod(d, 0o755)
    db = d / "ro.db"
    mb("run", *SMALL, "--db", db, check=True)
    subprocess.run(["sqlite3", str(db), "PRAGMA journal_mode=DELETE"], check=True,
                   capture_output=True)
    os.chmod(db, 0o444)
    as_user = (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
               if os.geteuid() == 0 else [])
    exe = d / "mapbench"   # a copy `nobody` can reach wherever the checkout lives
    shutil.copy(MAPBENCH, exe)
    before = db.read_bytes()
    p = subprocess.run([*as_user, str(exe), "run", *SMALL, "--db", str(db)],
                       capture_output=True, text=True, cwd="/")
    assert p.returncode == 1 and "read-only" in p.stderr, p.stderr
    q = subprocess.run([*as_user, str(exe), "query", "SELECT count(*) AS runs FROM run",
                        "--db", str(db)], capture_output=True, text=True, cwd="/")
    assert q.returncode == 0 and "1" in q.stdout.split(), q.stderr
    assert db.read_bytes() == before


# ---- gate ----------------------------------------------------------------------------------

def test_gate_needs_two_runs_then_passes_a_rerun_and_catches_a_memory_regression(tmp_path):
    db = tmp_path / "g.db"
    args = ["run", "--impl", "oa_linear,chained", "--n", "5000", "--no-time", "--db", db]
    mb(*args, check=True)
    assert mb("gate", "--db", db).returncode == 2
    mb(*args, check=True)
    p = mb("gate", "--db", db)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PASS" in p.stdout
    # inflate one map's bytes in a third run by 5%: the gate must fail on exactly that case
    mb(*args, check=True)
    with sqlite3.connect(db) as c:
        c.execute("""UPDATE mem_phase SET map_live_bytes = map_live_bytes * 105 / 100
                     WHERE phase = 'insert' AND mem_case_id = (SELECT mem_case_id FROM mem_case
                     WHERE impl = 'chained' AND shrink = 'never'
                     AND run_id = (SELECT max(run_id) FROM run))""")
    p = mb("gate", "--db", db)
    assert p.returncode == 1, p.stdout
    fails = rows(db, "SELECT case_key FROM gate_decision WHERE verdict = 'fail'")
    assert [k for (k,) in fails] == ["chained/u64->u64/uniform/n:5000/glibc"]


# ---- plots -------------------------------------------------------------------------------

def test_plots_render_as_valid_png_and_svg(quick_db, tmp_path):
    out = tmp_path / "plots"
    p = subprocess.run(["sh", "plots/render.sh", str(MAPBENCH), str(quick_db), str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    scripts = [s.stem for s in (ROOT / "plots").glob("*.gp") if s.stem != "common"]
    assert len(scripts) >= 2
    for name in scripts:
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, name
        svg = (out / f"{name}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg, name
        # every map is a series, labelled in the key; thread scaling draws the
        # thread-safe maps only, retained vs cost the maps with two shrink policies
        # (tests/test_report.py counts the series exactly)
        only = {"thread_scaling": F_THREAD_SAFE, "retained_vs_cost": F_SHRINK}
        drawn = [i for i in MAP_NAMES if name not in only or FLAGS[i] & only[name]]
        for impl in drawn:
            assert impl in svg, (name, impl)


# ---- instruction counts ---------------------------------------------------------------------

def test_icount_is_identical_across_runs_and_counts_only_the_phase(tmp_path):
    db = tmp_path / "i.db"
    args = ["run", "--metric", "icount", "--impl", "oa_linear,chained", "--phase",
            "insert,lookup_hit", "--n", "3000", "--db", db]
    mb(*args, check=True)
    mb(*args, check=True)
    got = rows(db, "SELECT run_id, impl, phase, hint, instructions, ops FROM icount_per_op"
                   " ORDER BY impl, phase, hint, run_id")
    assert len(got) == 2 * 2 * 3          # 2 runs x 2 maps x (insert, insert+hint, lookup_hit)
    for a, b in zip(got[::2], got[1::2]):
        assert a[1:4] == b[1:4] and a[0] != b[0]
        assert a[4] == b[4], f"icount differs between runs: {a} vs {b}"
        assert a[5] == 3000
    per_op = {(i, p, h): ins / ops for _, i, p, h, ins, ops in got}
    # the build of the map is outside the measured region: a lookup pass costs far
    # less than the inserts that built the map
    for impl in ["oa_linear", "chained"]:
        assert 10 < per_op[(impl, "lookup_hit", 0)] < per_op[(impl, "insert", 0)]
        assert per_op[(impl, "insert", 3000)] < per_op[(impl, "insert", 0)]  # a hint saves work
