"""The real Go runtime map as a peer: `mapbench go-mem-case` and libmbgort.so
(impls/peers/gort).

Go is a required package (ci/packages.txt: golang-go; `make test` installs it),
so a missing Go or an unbuilt library is a FAILURE with a message saying what
to do, not a skip: these tests must not pass silently on a machine that never
ran the real Go map.

What is held here: the script prints mem-case's phases in mem-case's order
with mem-case's columns; the numbers are sane for a Go map[uint64]uint64; every
sample is read after a runtime.GC() (the after-insert bytes are the live map,
within 5% of the gomap model's, and the before-GC values are kept); Go's map
never shrinks (HeapInuse after delete_all is HeapInuse after insert, and a full
GC leaves the emptied map's buckets in use); rebuild and m = nil + GC give it
back; the GC-cost lines (map[uint64]T against map[uint64]*T) are whole; the key
stream Go generates is C's; the clear idiom is compiled to runtime.mapclear;
bad arguments exit 2 with the usage.
"""
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import BUILD, MAPBENCH

LIB = BUILD.resolve() / "gort" / "libmbgort.so"
PHASES = ["start", "insert", "delete_half", "delete_all", "trim", "reinsert", "clear",
          "trim_after_clear", "rebuild", "trim_after_rebuild", "refill", "delete_all_again",
          "destroy", "trim_after_destroy"]
M_COLS = ["phase_index", "phase", "entries", "map_live_bytes", "map_peak_bytes",
          "alloc_in_use_bytes", "alloc_held_bytes", "rss_bytes", "anon_bytes", "minor_faults",
          "phase_ns", "capacity", "tombstones", "overflow", "object_bytes", "peak_rss_bytes"]
G_COLS = ["phase_index", "heap_alloc", "heap_inuse", "heap_idle", "heap_released", "heap_sys",
          "num_gc", "sys", "heap_alloc_before_gc", "heap_inuse_before_gc", "sample_gc_ns",
          "pause_total_ns"]
J_COLS = ["value_kind", "entries", "value_bytes", "forced_gcs", "gc_ns_median", "gc_ns_min",
          "pause_total_ns", "gc_cpu_fraction", "heap_inuse_bytes"]
N = 100_000


def mb(*args, env=None):
    return subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def gort():
    """Fails (does not skip) when Go or the Go peer is missing."""
    assert MAPBENCH.exists(), f"build first: {MAPBENCH} is missing"
    if not shutil.which("go"):
        pytest.fail("go is not installed: the real-Go peer needs Debian's golang-go "
                    "(ci/packages.txt; `make deps` installs it), then rebuild")
    if not LIB.exists():
        pytest.fail(f"{LIB} is missing: Go is installed but the peer was not built; "
                    f"re-run cmake (it looks for go when configuring) and build target mbgort")
    return LIB


def num(v):
    return None if v == "NA" else int(v) if v.lstrip("-").isdigit() else v


def parse(stdout, gc_cost=None):
    """Returns ({phase: M row}, [G rows]), each a dict by column name; the J rows
    go into the list gc_cost when one is given."""
    m, g = {}, []
    for line in stdout.splitlines():
        f = line.split("\t")
        if f[0] == "M":
            assert len(f) == 1 + len(M_COLS), line
            row = dict(zip(M_COLS, map(num, f[1:])))
            m[row["phase"]] = row
        elif f[0] == "G":
            assert len(f) == 1 + len(G_COLS), line
            g.append(dict(zip(G_COLS, map(int, f[1:]))))
        elif f[0] == "J":
            assert len(f) == 1 + len(J_COLS), line
            if gc_cost is not None:
                gc_cost.append(dict(zip(J_COLS, [f[1]] + [float(v) for v in f[2:]])))
        else:
            assert line.startswith("#"), f"unexpected line: {line}"
    return m, g


@pytest.fixture(scope="module")
def case(gort):
    p = mb("go-mem-case", "--n", N)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    return p.stdout, *parse(p.stdout)


@pytest.fixture(scope="module")
def gc_cost(case):
    rows = []
    parse(case[0], rows)
    return rows


# ---- the script and its columns ------------------------------------------------------

def test_same_phases_and_columns_as_mem_case(case):
    out, m, g = case
    assert list(m) == PHASES
    assert [r["phase_index"] for r in m.values()] == list(range(len(PHASES)))
    assert [r["phase_index"] for r in g] == list(range(len(PHASES)))
    c = mb("mem-case", "--impl", "oa_linear", "--n", 1000)
    assert c.returncode == 0, c.stderr
    c_phases = [l.split("\t")[2] for l in c.stdout.splitlines() if l.startswith("M\t")]
    assert c_phases == PHASES, "mem-case's script changed: go-mem-case must follow it"
    c_header = next(l for l in c.stdout.splitlines() if l.startswith("#\t"))
    assert c_header in out.splitlines(), "the M column header differs from mem-case's"
    assert "HeapInuse" in out and "cannot be told apart" in out


def test_numbers_are_sane(case):
    _, m, g = case
    entries = [m[p]["entries"] for p in PHASES]
    assert entries == [0, N, N - N // 2, 0, 0, N, 0, 0, 0, 0, N, 0, 0, 0]
    for p, row in m.items():
        assert row["capacity"] is row["tombstones"] is row["overflow"] is None, p
        assert row["object_bytes"] is row["peak_rss_bytes"] is None, p
        assert row["rss_bytes"] > 0 and row["anon_bytes"] > 0, p
        assert row["phase_ns"] >= 0 and row["minor_faults"] > 0, p
        assert row["alloc_in_use_bytes"] == row["map_live_bytes"], p
        assert row["alloc_held_bytes"] >= row["alloc_in_use_bytes"], p
        assert row["map_peak_bytes"] >= row["map_live_bytes"], p
    # The G line carries the same HeapInuse the M line reports.
    for row, gr in zip(m.values(), g):
        assert gr["heap_inuse"] == row["map_live_bytes"]
        assert gr["heap_sys"] == gr["heap_inuse"] + gr["heap_idle"]
        assert gr["heap_released"] <= gr["heap_idle"] and gr["sys"] >= gr["heap_sys"]
    # A map[uint64]uint64 spends at least its 16 bytes of key and value per entry.
    assert m["insert"]["map_live_bytes"] > N * 16
    assert m["insert"]["rss_bytes"] > m["start"]["rss_bytes"] + N * 16
    # Every sample is read after a GC of its own, and every trim adds two more
    # (runtime.GC and FreeOSMemory's own).
    gcs = [gr["num_gc"] for gr in g]
    assert all(b >= a + 1 for a, b in zip(gcs, gcs[1:])), gcs
    for p in ("trim", "trim_after_clear", "trim_after_destroy"):
        i = PHASES.index(p)
        assert gcs[i] >= gcs[i - 1] + 3, (p, gcs)
    for gr in g:
        assert gr["heap_inuse_before_gc"] > 0 and gr["sample_gc_ns"] > 0, gr
        assert gr["pause_total_ns"] > 0, gr


def test_samples_are_after_a_gc_and_true_to_the_model(case):
    """Read after a GC, the after-insert heap is the live map: the growth's
    old bucket arrays (garbage) are in the before-GC value only.  The live map
    is within 5% of the gomap model's bytes on the same keys."""
    _, m, g = case
    i = PHASES.index("insert")
    assert g[i]["heap_inuse_before_gc"] > g[i]["heap_inuse"], g[i]
    go_map = m["insert"]["map_live_bytes"] - m["start"]["map_live_bytes"]
    c = mb("mem-case", "--impl", "gomap", "--n", N)
    assert c.returncode == 0, c.stderr
    model = next(int(l.split("\t")[4]) for l in c.stdout.splitlines()
                 if l.startswith("M\t") and l.split("\t")[2] == "insert")
    assert abs(go_map / model - 1) <= 0.05, (go_map, model)


def test_go_maps_never_shrink(case):
    """The real-Go counterpart of the classic claim: deleting every key gives
    nothing back, not even after a full GC; the emptied buckets are reused."""
    _, m, _ = case
    inserted = m["insert"]["map_live_bytes"]
    emptied = m["delete_all"]["map_live_bytes"]
    assert abs(emptied - inserted) <= 0.10 * inserted, (inserted, emptied)
    # After the GC the garbage of growth (old bucket arrays) is gone, but the
    # live empty map still holds its buckets: at least 16 bytes per former key.
    trimmed = m["trim"]["map_live_bytes"]
    assert trimmed > N * 16, trimmed
    # Reinserting n new keys into the emptied map reuses those buckets: no
    # growth, only some overflow buckets for chains the old keys did not
    # have (about 11% of the first insert's bytes at n = 1e5, 0.3% at 1e6).
    first = trimmed - m["start"]["map_live_bytes"]
    again = m["reinsert"]["map_live_bytes"] - trimmed
    assert again < 0.25 * first, (first, again)
    # clear (runtime.mapclear) keeps the bucket array too.
    assert m["trim_after_clear"]["map_live_bytes"] > N * 16


def test_nil_and_gc_frees_what_deleting_did_not(case):
    """m = nil: before the sample's GC the emptied map is garbage still in use;
    after it, gone.  Rebuild (a new map, the entries copied) gives the cleared
    map's buckets back the same way."""
    _, m, g = case
    emptied = m["delete_all_again"]["map_live_bytes"]
    assert emptied > N * 16, emptied           # deleting kept the buckets
    d = PHASES.index("destroy")
    assert g[d]["heap_inuse_before_gc"] >= 0.9 * emptied, "m = nil freed the map without a GC?"
    after = m["destroy"]["map_live_bytes"]
    assert after < 0.2 * emptied, (emptied, after)
    assert after <= 2 * m["start"]["map_live_bytes"] + (1 << 20)
    cleared = m["trim_after_clear"]["map_live_bytes"]
    assert m["rebuild"]["map_live_bytes"] < 0.2 * cleared, (cleared, m["rebuild"])


def test_gc_cost_lines_inline_and_pointer(gc_cost):
    """One J line per value kind, whole: n entries of a 64-byte T, 5 forced
    GCs timed; the pointer map's heap holds the n objects besides the map."""
    kinds = {r["value_kind"]: r for r in gc_cost}
    assert set(kinds) == {"inline", "pointer"}
    for r in kinds.values():
        assert r["entries"] == N and r["value_bytes"] == 64 and r["forced_gcs"] == 5, r
        assert 0 < r["gc_ns_min"] <= r["gc_ns_median"], r
        assert r["heap_inuse_bytes"] >= N * 64, r
    assert kinds["pointer"]["heap_inuse_bytes"] >= N * (64 + 8), kinds


def test_sequential_keys_run_too(gort):
    p = mb("go-mem-case", "--n", 5000, "--dist", "sequential", "--seed", 7)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    m, _ = parse(p.stdout)
    assert list(m) == PHASES and m["insert"]["entries"] == 5000


# ---- the key stream --------------------------------------------------------------------

MASK = (1 << 64) - 1


def py_key_at(seed, dist, i):
    """workloads/workload.c's mb_key_at, a third, independent port."""
    if dist == "sequential":
        return i
    z = (seed + i * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def py_val_for(k):
    return (k * 0xD6E8FEB86659FD93 + 0x2545F4914F6CDD1D) & MASK


@pytest.mark.parametrize("dist,seed", [("uniform", None), ("uniform", 12345),
                                       ("sequential", None)])
def test_go_key_stream_is_c_key_stream(gort, dist, seed):
    args = ["go-mem-case", "--print-keys", 1000, "--dist", dist]
    if seed is not None:
        args += ["--seed", seed]
    p = mb(*args)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    rows = [list(map(int, l.split("\t")[1:])) for l in p.stdout.splitlines()
            if l.startswith("K\t")]
    assert [r[0] for r in rows] == list(range(1000))
    seed = 0x6D61706265 if seed is None else seed
    for i, go_key, c_key, go_val, c_val in rows:
        assert go_key == c_key == py_key_at(seed, dist, i), i
        assert go_val == c_val == py_val_for(c_key), i
    assert len({r[1] for r in rows}) == 1000


# ---- a wrong Go map must fail, not win -----------------------------------------------

DEFECTS = {
    # stream.go: Go's keys drift from C's from key 500 on: the key check stops it.
    "stream": ("stream.go", "state := seed + i*0x9e3779b97f4a7c15",
               "state := seed + i*0x9e3779b97f4a7c15 + i/500", "keys"),
    # gort.go: the insert loop stops one key short.
    "insert": ("gort.go", "m[k] = valFor(k)", "if i+1 < uint64(hi) { m[k] = valFor(k) }",
               "insert"),
    # gort.go: delete leaves the last key of each range in the map.
    "delete": ("gort.go", "delete(m, keyAt(s, d, i))",
               "if i+1 < uint64(hi) { delete(m, keyAt(s, d, i)) }", "delete_half"),
    # gort.go: lookups answer a wrong value for some keys.
    "lookup": ("gort.go", "acc = mix(acc, v)", "if i == uint64(lo)+7 { v ^= 1 }; acc = mix(acc, v)",
               "insert"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_planted_defect_fails_the_case(gort, tmp_path, defect):
    """A defective copy of the Go peer, built with the build's warm Go cache,
    loaded through MB_GORT_LIB: go-mem-case prints an E line for the first
    phase that sees it and exits 1."""
    src = pathlib.Path(__file__).resolve().parent.parent / "impls" / "peers" / "gort"
    pkg = tmp_path / "gort"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("*.cmake"))
    fname, old, new, phase = DEFECTS[defect]
    text = (pkg / fname).read_text()
    assert text.count(old) == 1, f"{fname} changed: update the planted defect {defect}"
    (pkg / fname).write_text(text.replace(old, new))
    lib = tmp_path / "libmbgort.so"
    env = dict(os.environ, GOCACHE=str((gort.parent / "gocache").resolve()), GOPATH=str(tmp_path / "gopath"),
               GOENV="off", GOFLAGS="", GOPROXY="off", GO111MODULE="on", GOTOOLCHAIN="local")
    b = subprocess.run(["go", "build", "-buildmode=c-shared", "-buildvcs=false", "-o", str(lib),
                        "."], cwd=pkg, capture_output=True, text=True, env=env, timeout=600)
    assert b.returncode == 0, b.stderr
    p = mb("go-mem-case", "--n", 2000, env=dict(os.environ, MB_GORT_LIB=str(lib)))
    assert p.returncode == 1, p.stdout[-2000:]
    errors = [l for l in p.stdout.splitlines() if l.startswith("E\t")]
    assert errors and errors[0].startswith(f"E\tgort\t{phase}: "), errors or p.stdout[-2000:]


# ---- the clear idiom, the library, the CLI ---------------------------------------------

def test_clear_compiles_to_mapclear(gort, tmp_path):
    env = dict(os.environ, GOCACHE=str(tmp_path / "gocache"), GOENV="off")
    p = subprocess.run(["go", "tool", "objdump", "-s", r"^main\.clearMap$", str(gort)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    calls = [l for l in p.stdout.splitlines() if "CALL" in l]
    assert any("runtime.mapclear" in l for l in calls), p.stdout
    assert not any("mapdelete" in l for l in calls), "the clear loop deletes key by key"


def test_missing_library_says_not_built(gort):
    env = dict(os.environ, MB_GORT_LIB="/nonexistent/libmbgort.so")
    p = mb("go-mem-case", "--n", 100, env=env)
    assert p.returncode == 3  # MB_CHILD_EXIT_NOT_BUILT: run says "not measured", not "failed"
    assert "the Go peer is not built" in p.stderr and "golang-go" in p.stderr
    assert not any(l.startswith("M\t") for l in p.stdout.splitlines())


@pytest.mark.parametrize("args", [
    ["--bogus"], [], ["--n", 1], ["--n", "ten"], ["--n", 100, "--dist", "zipf"],
    ["--n", 100, "--blueprint", "str16->u64"], ["--n"], ["--print-keys", 0],
])
def test_bad_arguments_exit_2_with_usage(args):
    assert MAPBENCH.exists(), f"build first: {MAPBENCH} is missing"
    p = mb("go-mem-case", *args)
    assert p.returncode == 2, (args, p.stderr)
    first, *rest = p.stderr.splitlines()
    assert first.startswith("mapbench: "), first
    assert any(l.startswith("usage: mapbench go-mem-case") for l in rest), p.stderr


def test_help():
    p = mb("go-mem-case", "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: mapbench go-mem-case")
    assert "go-mem-case" in mb("--help").stdout
