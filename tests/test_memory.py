"""Memory truth: the instrument's calibration, the allocator matrix, arena's
release to the OS, the retained-fraction views against hand-computed values,
and the schema migration from version 1."""
import os
import sqlite3
import subprocess

import pytest

from conftest import MAPBENCH, ROOT

MIB = 1 << 20


def mb(*args, env=None, timeout=600):
    return subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=env)


def mem_lines(out):
    cols = None
    rows = {}
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "#" and len(f) > 3:
            cols = f[1:]
        elif f[0] == "M":
            rows[f[2]] = {c: (None if v == "NA" else v if c == "phase" else int(v))
                          for c, v in zip(cols, f[1:])}
    return rows


def test_a_known_64_mib_allocation_is_measured_within_2_percent():
    p = mb("mem-case", "--calibrate")
    assert p.returncode == 0, p.stderr
    k = [l.split("\t") for l in p.stdout.splitlines() if l.startswith("K\t")]
    floor, measured = int(k[0][1]), int(k[0][2])
    assert abs(measured / (64 * MIB) - 1) < 0.02, measured / MIB
    assert 0 < floor < 64 * MIB


def test_arena_gives_its_pages_back_on_clear():
    rows = mem_lines(mb("mem-case", "--impl", "arena", "--n", 1000000).stdout)
    start, full, clear = rows["start"]["rss_bytes"], rows["insert"]["rss_bytes"], \
        rows["clear"]["rss_bytes"]
    assert full - start > 20 * MIB                     # the entries were really there
    assert abs(clear - start) <= 0.05 * start, (start, clear)   # and went back to the OS
    assert rows["clear"]["map_live_bytes"] < 4096


@pytest.mark.parametrize("allocator", ["glibc", "jemalloc", "mimalloc", "tcmalloc"])
def test_each_allocator_is_really_loaded_and_measured(tmp_path, allocator):
    db = tmp_path / "a.db"
    p = mb("run", "--impl", "chained", "--n", 20000, "--metric", "memory", "--allocator", allocator,
           "--db", db)
    assert p.returncode == 0, p.stderr
    with sqlite3.connect(db) as c:
        got = c.execute("SELECT phase, map_live_bytes, alloc_in_use_bytes, alloc_held_bytes"
                        " FROM memory_by_phase WHERE impl = 'chained' ORDER BY phase_index").fetchall()
    phases = {p: (live, use, held) for p, live, use, held in got}
    assert phases["insert"][0] > 20000 * 16 and phases["destroy"][0] == 0
    assert phases["insert"][2] is not None and phases["insert"][2] > 0
    if allocator != "mimalloc":                        # mimalloc does not expose bytes in use
        assert phases["insert"][1] >= phases["insert"][0]


def test_a_mislabelled_allocator_is_refused():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    p = mb("mem-case", "--impl", "chained", "--n", 100, "--allocator", "jemalloc", env=env)
    assert p.returncode == 1 and "not jemalloc" in p.stderr


def fixture_db(tmp_path):
    """A real (tiny) run for the schema, plus one hand-made memory case with round numbers."""
    db = tmp_path / "f.db"
    assert mb("run", "--impl", "oa_linear", "--n", 100, "--metric", "memory", "--allocator",
              "glibc", "--db", db).returncode == 0
    with sqlite3.connect(db) as c:
        run = c.execute("SELECT run_id FROM run").fetchone()[0]
        case = c.execute("INSERT INTO mem_case (run_id, impl, family, traits, blueprint,"
                         " distribution, n, allocator) VALUES (?, 'handmade', 'test', '',"
                         " 'u64->u64', 'uniform', 1000, 'glibc')", (run,)).lastrowid
        # phase: (map_live, rss): start 10 MiB RSS; insert +40 MiB (map 32 MiB);
        # delete_all: map 8 MiB, RSS unchanged; trim: RSS +12 MiB; destroy: map 0, RSS +2 MiB
        for i, (ph, live, rss) in enumerate([("start", 0, 10), ("insert", 32, 50),
                                             ("delete_all", 8, 50), ("trim", 8, 22),
                                             ("destroy", 0, 12)]):
            c.execute("INSERT INTO mem_phase (mem_case_id, phase_index, phase, entries,"
                      " map_live_bytes, map_peak_bytes, rss_bytes, phase_ns)"
                      " VALUES (?, ?, ?, 0, ?, ?, ?, 1)", (case, i, ph, live * MIB, 32 * MIB, rss * MIB))
    return db


def test_retained_views_match_hand_computed_values(tmp_path):
    db = fixture_db(tmp_path)
    with sqlite3.connect(db) as c:
        got = {ph: (round(m, 4), round(r, 4)) for ph, m, r in c.execute(
            "SELECT phase, map_retained_fraction, rss_retained_fraction FROM retained"
            " WHERE impl = 'handmade'")}
        split = {ph: tuple(round(x, 4) for x in xs) for ph, *xs in c.execute(
            "SELECT phase, held_by_map_fraction, held_by_allocator_fraction,"
            " returned_to_os_fraction FROM retained_split WHERE impl = 'handmade'")}
    assert got["delete_all"] == (0.25, 1.0)        # map 8 of 32 MiB; RSS 40 of 40 above start
    assert got["trim"] == (0.25, 0.3)              # RSS 12 of 40
    assert got["destroy"] == (0.0, 0.05)           # RSS 2 of 40
    assert split["delete_all"] == (0.2, 0.8, 0.0)  # of the 40 MiB: map 8, allocator 32, OS 0
    assert split["trim"] == (0.2, 0.1, 0.7)        # map 8, allocator 4, OS 28
    assert split["destroy"] == (0.0, 0.05, 0.95)


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    db = tmp_path / "v1.db"
    with sqlite3.connect(db) as c:
        c.executescript((ROOT / "tests" / "fixtures" / "schema_v1.sql").read_text())
        c.execute("PRAGMA user_version = 1")
        c.execute("INSERT INTO run (run_uuid, started_at, finished_at, status, suite, seed,"
                  " processes) VALUES ('old-run', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z',"
                  " 'complete', 'quick', 1, 3)")
    p = mb("query", "SELECT run_uuid, rss_floor_bytes FROM run", "--db", db, "--format", "csv")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "old-run,"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone() == (8,)
        cols = {r[1] for r in c.execute("PRAGMA table_info(mem_phase)")}
        assert {"object_bytes", "peak_rss_bytes"} <= cols
        assert c.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'insert_latency'").fetchone() == (1,)
    # and a run lands in it
    assert mb("run", "--impl", "oa_linear", "--n", 100, "--metric", "memory", "--db", db).returncode == 0


def test_a_newer_database_is_refused_untouched(tmp_path):
    db = tmp_path / "new.db"
    assert mb("run", "--impl", "oa_linear", "--n", 100, "--metric", "memory", "--db", db).returncode == 0
    c = sqlite3.connect(db)
    c.execute("PRAGMA user_version = 99")
    c.commit()
    c.execute("PRAGMA journal_mode = DELETE")     # everything in the main file, no WAL
    c.close()
    before = db.read_bytes()
    p = mb("query", "SELECT 1", "--db", db)
    assert p.returncode == 1 and "newer than this mapbench" in p.stderr
    assert db.read_bytes() == before


def test_the_peak_within_a_phase_is_seen():
    """oa_linear holds the old and the new table at once while it grows: the RSS
    high-water mark inside the insert phase is well above the RSS after it."""
    rows = mem_lines(mb("mem-case", "--impl", "oa_linear", "--n", 1000000).stdout)
    ins = rows["insert"]
    assert ins["peak_rss_bytes"] >= ins["rss_bytes"]
    assert ins["peak_rss_bytes"] - ins["rss_bytes"] > 10 * MIB
    # a phase that allocates nothing has its peak at its RSS
    assert rows["delete_half"]["peak_rss_bytes"] - rows["delete_half"]["rss_bytes"] < MIB
