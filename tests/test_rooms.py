"""The harness's rooms (ARCHITECTURE.md): the build keeps probe code away from
SQLite and the run; one case setup serves every child (icount's reinsert
included); the child protocol prints reals that read back exactly."""
import re
import sqlite3
import subprocess

import pytest

from conftest import BUILD, MAPBENCH, ROOT


def mb(*args, timeout=600):
    return subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


# ---- the build's edges -------------------------------------------------------------------

def undefined_symbols(archive):
    p = subprocess.run(["nm", "-u", "--format=posix", str(archive)], capture_output=True,
                       text=True, check=True)
    return {line.split()[0] for line in p.stdout.splitlines() if line and not line.endswith(":")}


@pytest.mark.parametrize("room", ["mb_base", "mb_plan", "mb_probe"])
def test_probe_side_rooms_do_not_use_sqlite_or_the_parent(room):
    lib = BUILD / f"lib{room}.a"
    assert lib.exists(), f"{lib} not built"
    undef = undefined_symbols(lib)
    assert undef, "nm found no undefined symbols at all: the check checks nothing"
    wrong = sorted(s for s in undef
                   if s.startswith(("sqlite3_", "mb_db_", "mb_store_", "mb_run_child",
                                    "mb_icount_measure", "mb_sql_print")))
    assert not wrong, f"{room} calls into SQLite or a parent room: {wrong}"


def test_probe_room_links_alone_without_sqlite():
    """mb_check_mb_probe is the probe library linked whole and alone: it exists
    only if every probe symbol resolved without the store, and its link line
    names no SQLite."""
    exe = BUILD / "mb_check_mb_probe"
    assert exe.exists()
    link = (BUILD / "CMakeFiles" / "mb_check_mb_probe.dir" / "link.txt").read_text()
    assert "--whole-archive" in link and "libmb_probe.a" in link
    assert "sqlite" not in link.lower(), link
    ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert "libsqlite3" not in ldd
    # the store's check does link SQLite: the test can tell the two apart
    store_link = (BUILD / "CMakeFiles" / "mb_check_mb_store.dir" / "link.txt").read_text()
    assert "sqlite" in store_link.lower()


# ---- one case setup: icount's reinsert ----------------------------------------------------

@pytest.mark.parametrize("impl", ["oa_linear", "chained", "gomap"])
def test_icount_case_reinsert_builds_the_cleared_map(impl):
    """Without valgrind the collection toggles do nothing: the child still
    builds the case as timing does (n keys, then clear) and checks the phase."""
    p = mb("icount-case", "--impl", impl, "--phase", "reinsert", "--n", 2000)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert "#I\tops" in lines
    assert "I\t2000" in lines


def test_run_metric_icount_phase_reinsert_succeeds(tmp_path):
    db = tmp_path / "r.db"
    p = mb("run", "--metric", "icount", "--phase", "reinsert", "--impl", "oa_linear,chained",
           "--n", 1000, "--db", db)
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(db) as c:
        got = c.execute("SELECT impl, hint, instructions, ops FROM icount JOIN bench"
                        " USING (bench_id) WHERE phase = 'reinsert' ORDER BY impl, hint"
                        ).fetchall()
        assert c.execute("SELECT status FROM run").fetchone()[0] == "complete"
    assert [(i, h) for i, h, _, _ in got] == [("chained", 0), ("chained", 1000),
                                              ("oa_linear", 0), ("oa_linear", 1000)]
    assert all(ops == 1000 and ins > 10 * ops for _, _, ins, ops in got)


# ---- the child protocol -------------------------------------------------------------------

REAL = re.compile(r"^-?[0-9.]+(e[-+][0-9]+)?$")


def test_reals_are_printed_to_read_back_exactly():
    """Every real a child prints is %.17g: formatting the value read back gives
    the same text, so nothing is lost between child and database."""
    p = mb("time", "--emit-tsv", "--quiet", "--impl", "oa_linear", "--phase", "insert",
           "--n", 1000, "--no-hint", "--reps", 2)
    assert p.returncode == 0, p.stderr
    header = next(l for l in p.stdout.splitlines() if l.startswith("#S\t"))
    cols = header.split("\t")[1:]
    assert cols == ["case", "repetition", "iterations", "ns_per_op", "ceiling_ns_per_op"]
    reals = [l.split("\t")[1 + cols.index("ns_per_op")] for l in p.stdout.splitlines()
             if l.startswith("S\t")]
    assert len(reals) == 2
    for s in reals:
        assert REAL.match(s), s
        assert "%.17g" % float(s) == s
    p = mb("latency-case", "--impl", "oa_linear", "--n", 3000)
    assert p.returncode == 0, p.stderr
    L = next(l for l in p.stdout.splitlines() if l.startswith("L\t")).split("\t")
    for s in L[2:9]:
        assert "%.17g" % float(s) == s


# ---- single sources ------------------------------------------------------------------------

def test_plot_colours_come_from_the_registry_and_the_go_map_has_its_own(tmp_path):
    """mapbench plot hands gnuplot one colour per registered map and one for the
    real Go map (go_runtime was drawn black when the colour key said 'go')."""
    db, out = tmp_path / "c.db", tmp_path / "plots"
    p = mb("run", "--metric", "memory", "--impl", "oa_linear,chained", "--n", 1000,
           "--allocator", "glibc", "--db", db)
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(db) as c:
        go = c.execute("SELECT count(*) FROM mem_case WHERE impl = 'go_runtime'").fetchone()[0]
    p = mb("plot", "--db", db, "--out", out)
    if p.returncode != 0 and "gnuplot" in p.stderr:
        pytest.skip("gnuplot is not installed")
    assert p.returncode == 0, p.stderr
    svg = (out / "memory_by_phase.svg").read_text()
    # the palette (present/report.c) indexed by the map's place in the registry
    src = (ROOT / "harness" / "present" / "report.c").read_text()
    palette = re.findall(r'"#([0-9a-f]{6})"', src[src.index("rp_palette[]"):src.index("RP_GO_COLOR")])
    names = [l.split()[0] for l in mb("list").stdout.splitlines()[1:]]

    def rgb(h):
        return "rgb(%3d,%4d,%4d)" % tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
    assert rgb(palette[0]) == "rgb( 31, 119, 180)" and names[0] == "oa_linear"
    assert rgb(palette[0]) in svg                                        # oa_linear
    assert rgb(palette[names.index("chained") % len(palette)]) in svg    # chained
    if go:
        assert "rgb( 11, 110, 121)" in svg  # go_runtime


def test_reference_lines_have_a_colour_no_map_gets():
    """The ceiling was drawn #777777 beside sharded_seq's #7f7f7f, so the map read
    against the ceiling looked like the ceiling.  Reference lines take ref_color from
    common.gp, and every map's colour (report.c) is far from it; so is no_color, what a
    map without a colour is drawn in."""
    src = (ROOT / "harness" / "present" / "report.c").read_text()
    start = src.index("rp_palette[]")
    colours = re.findall(r'"#([0-9a-f]{6})"', src[start:src.index("/* Returns", start)])
    assert len(colours) >= 13, colours
    common = (ROOT / "plots" / "common.gp").read_text()
    ref = re.search(r'^ref_color = "#([0-9a-f]{6})"', common, re.M).group(1)
    # a map without a colour (drawn by hand without map_colors) must not look like one
    none = re.search(r'^no_color = "#([0-9a-f]{6})"', common, re.M).group(1)
    assert re.search(r'\? no_color :', common), "color_at must fall back to no_color"

    def rgb(h):
        return [int(h[i:i + 2], 16) for i in (0, 2, 4)]

    def far(a, b):    # some channel differs by more than 3/8 of its range
        return max(abs(x - y) for x, y in zip(rgb(a), rgb(b))) > 0x60
    for c in colours:
        assert far(c, ref), (c, ref)
        assert far(c, none), (c, none)
    assert far(none, ref), (none, ref)
    for gp in ("ns_per_op.gp", "thread_scaling.gp"):
        text = (ROOT / "plots" / gp).read_text()
        assert "lc rgb ref_color" in text and "#777777" not in text, gp


def test_trend_bands_are_the_gate_thresholds(tmp_path):
    """trend_band reads view gate_threshold, which is ci/gate.conf compiled in."""
    conf = {}
    for line in (ROOT / "ci" / "gate.conf").read_text().splitlines():
        f = line.split("#")[0].split()
        if len(f) == 2:
            conf[f[0]] = float(f[1])
    db = tmp_path / "t.db"
    p = mb("run", "--metric", "memory", "--impl", "oa_linear", "--n", 100, "--allocator",
           "glibc", "--db", db)
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(db) as c:
        got = dict(c.execute("SELECT key, value FROM gate_threshold").fetchall())
        band = dict(c.execute("SELECT metric, threshold FROM trend_band").fetchall())
    assert got == {k: v for k, v in conf.items() if k in got} and len(got) == len(conf)
    assert band["instructions_per_op"] == conf["icount.fail"]
    assert band["map_bytes_per_entry"] == conf["bytes.fail"]
    assert abs(band["ns_per_op"] - (conf["time.ratio"] - 1)) < 1e-12


def test_report_queries_are_views_that_plain_sqlite_reads(tmp_path):
    """results/report.sql is installed with the views: every finding and table
    of the page is a view keyed by run_id, so sqlite3 alone gives what the page
    says, and report.c only renders them."""
    db = tmp_path / "r.db"
    p = mb("run", "--metric", "time,memory", "--impl", "oa_linear,chained", "--n", 1000,
           "--processes", 1, "--allocator", "glibc", "--db", db)
    assert p.returncode == 0, p.stderr
    sql_text = (ROOT / "results" / "report.sql").read_text()
    with sqlite3.connect(db) as c:
        run = c.execute("SELECT run_id FROM run").fetchone()[0]
        findings = c.execute("SELECT id, title FROM report_findings ORDER BY finding_order").fetchall()
        tables = [r[0] for r in c.execute("SELECT id FROM report_tables ORDER BY table_order")]
        fastest = c.execute("SELECT finding FROM report_finding_fastest WHERE run_id = ?",
                            (run,)).fetchone()[0]
        speed = c.execute("SELECT impl FROM report_table_speed WHERE run_id = ?", (run,)).fetchall()
    assert len(findings) >= 8 and "speed" in tables and "memory" in tables
    for fid, _ in findings:
        assert f"CREATE VIEW report_finding_{fid} " in sql_text
    assert fastest.startswith("At n = 1000 (median ns per operation): insert")
    assert sorted(i for (i,) in speed) == ["chained", "oa_linear"]
    src = (ROOT / "harness" / "present" / "report.c").read_text()
    assert "FROM plot_ns_per_op" not in src and "FROM retained" not in src


def test_one_place_starts_a_process():
    """ARCHITECTURE: base's child.c is the one way mapbench starts a process
    (run's children, gnuplot, git): no other object of the program calls
    fork or an exec."""
    starters = {"fork", "vfork", "execve", "execvpe", "execvp", "execv", "execl", "execlp",
                "execle", "posix_spawn", "posix_spawnp", "popen", "system"}
    main_o = BUILD / "CMakeFiles" / "mapbench.dir" / "harness" / "cli" / "main.c.o"
    objs = sorted(BUILD.glob("libmb_*.a")) + [main_o]  # what mapbench links (CMakeLists.txt)
    assert main_o.exists() and any(o.name == "libmb_base.a" for o in objs), objs
    p = subprocess.run(["nm", "-u", "--format=posix", *map(str, objs)], capture_output=True,
                       text=True, check=True)
    calls, member = set(), None
    for line in p.stdout.splitlines():
        if line.endswith(":"):
            member = line[:-1]
        elif line and line.split()[0].split("@")[0] in starters:
            calls.add((member.rsplit("/", 1)[-1], line.split()[0].split("@")[0]))
    where = {m for m, _ in calls}
    assert where == {"libmb_base.a[child.c.o]"}, sorted(calls)
