"""Shrink as an axis, the remedies, thrash at a shrink boundary, uncounted bytes, and the
claims about what a fix costs (issue 13).

Held here:
  - a map that honours low-water (MB_F_SHRINK) is measured under both policies on the
    removing timed phases, the memory script and churn; the others under 'never' only;
    `--shrink never` narrows it; a bad policy is a usage error;
  - the policy does what it says in memory (low-water gives the table back on delete_all,
    never keeps it) and rebuild gives it back under either;
  - thrash: a window oscillated around the empty map makes swiss/low-water shrink and
    grow every cycle (no hysteresis there) while chained/low-water holds its buckets;
  - a map whose own bytes are uncounted (GLib) is ranked on the allocator's in-use bytes,
    labelled so, never on its counted part;
  - an old database (schema v1) upgrades: every old case is 'never', the new keys admit a
    low-water twin, foreign keys still cascade;
  - the claims (g)-(k) of results/claims.sql take their expected verdicts on a fixture of
    two hand-made runs whose answers are known (one where each holds, one where not).
No timing is asserted: times are stored and reported, never judged here.
"""
import sqlite3
import subprocess

import pytest

from conftest import FLAGS, F_SHRINK, MAPBENCH, ROOT

MIB = 1 << 20


def mb(*args, check=True, timeout=900):
    p = subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if check:
        assert p.returncode == 0, f"mapbench {' '.join(map(str, args))}: {p.stdout}{p.stderr}"
    return p


def rows(db, sql, *params):
    with sqlite3.connect(db) as c:
        return c.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def run_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("shrink") / "run.db"
    mb("run", "--impl", "swiss,chained,glib,gomap", "--n", "20000", "--processes", "1",
       "--phase", "insert,delete_all,delete_half", "--allocator", "glibc", "--db", db)
    return db


# ---- the axis ---------------------------------------------------------------------------

def test_policies_follow_the_map_flags(run_db):
    assert FLAGS["swiss"] & F_SHRINK and FLAGS["chained"] & F_SHRINK
    assert not FLAGS["gomap"] & F_SHRINK and not FLAGS["glib"] & F_SHRINK
    timed = set(rows(run_db, "SELECT impl, phase, shrink FROM bench"))
    for impl in ("swiss", "chained"):
        for phase in ("delete_all", "delete_half"):
            assert {(impl, phase, "never"), (impl, phase, "low-water")} <= timed
        assert (impl, "insert", "low-water") not in timed   # inserting does not depend on it
    assert not {t for t in timed if t[0] in ("gomap", "glib") and t[2] != "never"}
    mem = set(rows(run_db, "SELECT impl, shrink FROM mem_case"))
    assert mem == {("swiss", "never"), ("swiss", "low-water"), ("chained", "never"),
                   ("chained", "low-water"), ("glib", "never"), ("gomap", "never"),
                   ("go_runtime", "never")}
    churn = set(rows(run_db, "SELECT impl, shrink FROM churn_sample"))
    assert {("swiss", "low-water"), ("chained", "low-water"), ("swiss", "never")} <= churn
    # retained has rows for both policies of the shrink-capable maps
    ret = set(rows(run_db, "SELECT impl, shrink FROM retained WHERE phase = 'delete_all'"))
    assert {("swiss", "low-water"), ("chained", "low-water")} <= ret


def test_shrink_flag_narrows_and_rejects(tmp_path):
    db = tmp_path / "never.db"
    mb("run", "--impl", "swiss", "--n", "1000", "--processes", "1", "--phase", "delete_all",
       "--allocator", "glibc", "--metric", "time,memory", "--shrink", "never", "--db", db)
    assert rows(db, "SELECT DISTINCT shrink FROM bench") == [("never",)]
    assert rows(db, "SELECT DISTINCT shrink FROM mem_case") == [("never",)]
    for args in (["run", "--shrink", "sometimes"], ["mem-case", "--impl", "swiss", "--n", "10",
                                                    "--shrink", "bogus"],
                 ["mem-case", "--impl", "gomap", "--n", "10", "--shrink", "low-water"]):
        p = mb(*args, check=False)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "usage:" in p.stderr.lower() or "shrink" in p.stderr, p.stderr


# ---- the remedies in memory ---------------------------------------------------------------

def memory(db, impl, shrink):
    return dict(rows(db, "SELECT phase, map_live_bytes FROM memory_by_phase WHERE impl = ?"
                         " AND shrink = ?", impl, shrink))


def test_low_water_gives_the_table_back_and_rebuild_does_under_both(run_db):
    for impl in ("swiss", "chained"):
        never, low = memory(run_db, impl, "never"), memory(run_db, impl, "low-water")
        assert never["insert"] == low["insert"], impl          # same inserts, same bytes
        assert never["delete_all"] >= 0.1 * never["insert"], impl
        assert low["delete_all"] <= 0.1 * low["insert"], (impl, low)
        for m in (never, low):                                  # rebuild of the cleared map
            assert m["rebuild"] <= 0.1 * m["insert"], (impl, m)
            assert m["destroy"] == 0
    phases = [p for (p,) in rows(run_db, "SELECT phase FROM memory_by_phase WHERE impl = 'swiss'"
                                         " AND shrink = 'never' ORDER BY phase_index")]
    assert phases == ["start", "insert", "delete_half", "delete_all", "trim", "reinsert", "clear",
                      "trim_after_clear", "rebuild", "trim_after_rebuild", "refill",
                      "delete_all_again", "destroy", "trim_after_destroy"]
    rem = rows(run_db, "SELECT DISTINCT remedy FROM remedies WHERE impl = 'go_runtime'")
    assert ("m = nil + GC",) in rem and ("runtime.GC + debug.FreeOSMemory",) in rem


def test_thrash_shows_a_boundary_without_hysteresis(run_db):
    t = {(i, s, b): (g, sh, c) for i, s, b, g, sh, c in rows(
        run_db, "SELECT impl, shrink, boundary, grow_events, shrink_events, cycles FROM thrash")}
    # swiss drops its table when it empties and needs one for the next key: every cycle
    g, sh, cycles = t[("swiss", "low-water", "empty")]
    assert sh >= cycles and g >= cycles, (g, sh, cycles)
    # chained keeps a floor of buckets, and at its first shrink the 2x target holds
    assert t[("chained", "low-water", "empty")][:2] == (0, 0)
    assert t[("chained", "low-water", "first-shrink")][:2] == (0, 0)
    assert t[("swiss", "never", "empty")][:2] == (0, 0)
    thrashing = {(i, s, b) for i, s, b in rows(
        run_db, "SELECT impl, shrink, boundary FROM thrash_events WHERE thrashes")}
    assert ("swiss", "low-water", "empty") in thrashing
    assert not {x for x in thrashing if x[1] == "never"}


def test_uncounted_bytes_are_ranked_on_the_allocator(run_db):
    b = {i: (basis, m, r) for i, basis, m, r in rows(
        run_db, "SELECT impl, rank_basis, map_bytes_per_entry, rank_bytes_per_entry"
                " FROM bytes_per_entry WHERE n = 20000 AND allocator = 'glibc'")}
    assert b["glib"][0] == "allocator-in-use" and b["swiss"][0] == "map"
    assert b["glib"][2] > b["glib"][1]          # its counted part is not the whole
    assert b["swiss"][2] == b["swiss"][1]
    mb("query", "SELECT 1", "--db", run_db)
    (finding,), = rows(run_db, "SELECT finding FROM report_finding_bytes_per_entry")
    assert "glib %.1f (allocator in-use" % b["glib"][2] in finding
    assert "glib 16.0" not in finding
    labels = [l for (l,) in rows(run_db, "SELECT label FROM plot_retained_vs_cost")]
    assert "glib/never (allocator in-use)" in labels


def test_go_runtime_is_read_after_a_gc_and_close_to_gomap(run_db):
    (go, gomap), = rows(run_db, "SELECT g.map_bytes_per_entry, m.map_bytes_per_entry"
                                " FROM bytes_per_entry g JOIN bytes_per_entry m USING (run_id, n)"
                                " WHERE g.impl = 'go_runtime' AND m.impl = 'gomap'"
                                " AND m.allocator = 'glibc'")
    (floor,), = rows(run_db, "SELECT map_live_bytes FROM memory_by_phase WHERE impl = 'go_runtime'"
                             " AND phase = 'start'")
    # at 2e4 the runtime's floor is a large part: compare what the inserts added
    assert abs((go * 20000 - floor) / (gomap * 20000) - 1) <= 0.10, (go, gomap, floor)
    (before, after), = rows(run_db, "SELECT heap_inuse_before_gc_bytes, heap_inuse_after_gc_bytes"
                                    " FROM go_samples WHERE phase = 'insert'")
    assert before >= after
    kinds = {k for (k,) in rows(run_db, "SELECT value_kind FROM go_gc_cost")}
    assert kinds == {"inline", "pointer"}


def test_report_has_the_remedies_panel(run_db, tmp_path):
    out = tmp_path / "r" / "report.html"
    mb("report", "--db", run_db, "--out", out)
    text = out.read_text()
    for title in ("What gives the memory back once every key is deleted?",
                  "What does a shrink policy cost, and what does it give back?",
                  "Does a shrink policy thrash at its boundary?",
                  "Do pointer values cost GC time in real Go?", "Remedies at the largest n"):
        assert title in text, title
    assert (out.parent / "plots" / "retained_vs_cost.png").stat().st_size > 1000
    assert "m = nil + GC" in text and "rebuild + trim" in text


# ---- the schema -----------------------------------------------------------------------------

def test_a_v1_database_upgrades_with_every_case_never(tmp_path):
    db = tmp_path / "v1.db"
    with sqlite3.connect(db) as c:
        c.executescript((ROOT / "tests" / "fixtures" / "schema_v1.sql").read_text())
        c.execute("PRAGMA user_version = 1")
        c.execute("INSERT INTO run (run_id, run_uuid, started_at, status, suite, seed, processes)"
                  " VALUES (1, 'u1', 't', 'complete', 'quick', 1, 1)")
        c.execute("INSERT INTO bench (bench_id, run_id, impl, family, traits, phase, blueprint,"
                  " distribution, n, hint, threads, allocator) VALUES (1, 1, 'swiss', 'f', 't',"
                  " 'delete_all', 'u64->u64', 'uniform', 10, 0, 1, 'glibc')")
        c.execute("INSERT INTO sample VALUES (1, 0, 0, 1, 5.0)")
        c.execute("INSERT INTO mem_case (mem_case_id, run_id, impl, family, traits, blueprint,"
                  " distribution, n, allocator) VALUES (1, 1, 'swiss', 'f', 't', 'u64->u64',"
                  " 'uniform', 10, 'glibc')")
        c.execute("INSERT INTO mem_phase (mem_case_id, phase_index, phase, entries, map_live_bytes,"
                  " map_peak_bytes, phase_ns) VALUES (1, 0, 'start', 0, 8, 8, 1)")
    mb("query", "SELECT 1", "--db", db)
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone() == (8,)  # 6: the mix and the ceiling (issue 14); 7: THP and hugepages; 8: shards, run_unit, run_part (issue 18)
        assert c.execute("SELECT shrink FROM bench").fetchall() == [("never",)]
        assert c.execute("SELECT shrink FROM mem_case").fetchall() == [("never",)]
        assert c.execute("SELECT count(*) FROM sample").fetchone() == (1,)   # kept, linked
        assert c.execute("SELECT count(*) FROM memory_by_phase").fetchone() == (1,)
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        # the new key admits the low-water twin of the old case
        c.execute("INSERT INTO bench (run_id, impl, family, traits, phase, blueprint,"
                  " distribution, n, hint, threads, allocator, shrink) VALUES (1, 'swiss', 'f',"
                  " 't', 'delete_all', 'u64->u64', 'uniform', 10, 0, 1, 'glibc', 'low-water')")
        cols = {r[1] for r in c.execute("PRAGMA table_info(go_memstats)")}
        assert {"heap_inuse_before_gc", "sample_gc_ns", "pause_total_ns"} <= cols
    # foreign keys are on again: deleting the run cascades
    mb("query", "PRAGMA foreign_keys", "--db", db)
    p = mb("query", "--write", "DELETE FROM run; SELECT count(*) AS left FROM sample", "--db", db,
           "--format", "csv")
    assert p.stdout.strip().splitlines()[-1] == "0", p.stdout


# ---- the claims on a fixture with known answers ------------------------------------------------

NEW_CLAIMS = ["go_delete_frees_nothing", "go_nil_gc_gives_back", "rebuild_gives_back",
              "pointer_values_cost_gc", "shrink_costs_on_delete"]


def add_run(c, tag, good):
    """One hand-made complete run: where good, every new claim holds; else none does."""
    run = c.execute("INSERT INTO run (run_uuid, started_at, finished_at, status, suite, seed,"
                    " processes) VALUES (?, ?, ?, 'complete', 'custom', 1, 1)",
                    (tag, f"2999-0{1 + good}-01", f"2999-0{1 + good}-01")).lastrowid
    n = 1_000_000

    def mem(impl, allocator, traits, phases):
        mc = c.execute("INSERT INTO mem_case (run_id, impl, family, traits, blueprint,"
                       " distribution, n, allocator, shrink) VALUES (?, ?, 'f', ?, 'u64->u64',"
                       " 'uniform', ?, ?, 'never')", (run, impl, traits, n, allocator)).lastrowid
        for i, (ph, live, rss) in enumerate(phases):
            c.execute("INSERT INTO mem_phase (mem_case_id, phase_index, phase, entries,"
                      " map_live_bytes, map_peak_bytes, alloc_in_use_bytes, alloc_held_bytes,"
                      " rss_bytes, phase_ns) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, 1000)",
                      (mc, i, ph, live, live, live, live, 8 * MIB + rss))
        return mc

    floor, full = MIB // 4, 40 * MIB
    kept_on_delete = full if good else 2 * MIB          # good: Go keeps it all on delete
    nil_gc = floor if good else full                    # good: m = nil + GC frees it
    go = mem("go_runtime", "go-runtime", "real-go-map", [
        ("start", floor, 0), ("insert", floor + full, full),
        ("delete_all", floor + kept_on_delete, full), ("trim_after_clear", floor + full, full),
        ("rebuild", floor, full), ("delete_all_again", floor + full, full),
        ("destroy", nil_gc, full), ("trim_after_destroy", nil_gc, 0)])
    rebuilt = 64 if good else full // 2                 # good: rebuild gives it back
    mem("swiss", "glibc", "clear-keeps-capacity", [
        ("start", 136, 0), ("insert", 136 + full, full), ("delete_all", 136 + full, full),
        ("rebuild", 136 + rebuilt, full)])
    inline, pointer = 0.2e6, (5e6 if good else 0.25e6)  # good: the pointer GC is 25x
    for kind, ns in (("inline", inline), ("pointer", pointer)):
        c.execute("INSERT INTO go_gc_cost VALUES (?, ?, ?, 64, 5, ?, ?, 1000, 0.1, ?)",
                  (go, kind, n, ns, ns, 100 * MIB))
    for impl, extra in (("swiss", 0.4), ("chained", 0.1), ("sharded", -0.05)):
        for shrink, f in (("never", 1.0), ("low-water", 1 + (extra if good else -abs(extra)))):
            b = c.execute("INSERT INTO bench (run_id, impl, family, traits, phase, blueprint,"
                          " distribution, n, hint, threads, allocator, shrink) VALUES (?, ?, 'f',"
                          " 't', 'delete_all', 'u64->u64', 'uniform', ?, 0, 1, 'glibc', ?)",
                          (run, impl, n, shrink)).lastrowid
            c.execute("INSERT INTO sample (bench_id, process_index, repetition, iterations,"
                      " ns_per_op) VALUES (?, 0, 0, 1, ?)", (b, 20.0 * f))
    return run


@pytest.fixture(scope="module")
def claims_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("claims") / "claims.db"
    mb("run", "--impl", "oa_linear", "--n", "8", "--metric", "memory", "--allocator", "glibc",
       "--shrink", "never", "--db", db)                  # a real, small run: the schema
    with sqlite3.connect(db) as c:
        good = add_run(c, "good", True)
        bad = add_run(c, "bad", False)
    return db, good, bad


def verdicts(db, run):
    return dict(rows(db, "SELECT claim_id, verdict FROM claim_verdicts_by_run WHERE run_id = ?",
                     run))


def test_new_claims_hold_on_the_good_run_and_not_on_the_bad(claims_db):
    db, good, bad = claims_db
    mb("query", "SELECT 1", "--db", db)
    g, b = verdicts(db, good), verdicts(db, bad)
    assert {k: g[k] for k in NEW_CLAIMS} == dict.fromkeys(NEW_CLAIMS, "holds")
    assert {k: b[k] for k in NEW_CLAIMS} == dict.fromkeys(NEW_CLAIMS, "does not hold")
    ev = dict(rows(db, "SELECT claim_id, evidence FROM claim_verdicts_by_run WHERE run_id = ?",
                   good))
    assert "n=1000000: 40.00 MiB after insert, 40.00 MiB after deleting every key" \
        in ev["go_delete_frees_nothing"]
    assert "0.00 MiB after m = nil + GC (0% of after-insert)" in ev["go_nil_gc_gives_back"]
    assert "2 of 2 map cases" in ev["rebuild_gives_back"]
    assert "(25.0x; median of 5)" in ev["pointer_values_cost_gc"]
    assert "median +10% over 3 maps" in ev["shrink_costs_on_delete"]
    assert "swiss +40% (20.0 -> 28.0 ns)" in ev["shrink_costs_on_delete"]
    # the small real run has none of it
    (real,), = rows(db, "SELECT min(run_id) FROM run")
    r = verdicts(db, real)
    assert {k: r[k] for k in NEW_CLAIMS} == dict.fromkeys(NEW_CLAIMS, "not measured")
