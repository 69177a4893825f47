"""Concurrency (issue 14): Go's sync.Map mechanics in syncmap (promotion after
len(dirty) misses, expunged entries, memory given back after deletes),
readers racing a writer for every thread-safe map (`mbtest stress`: every
stable key always found, with a value that was written and never older than
one already seen), the same under TSan/ASan when those builds are given, and
the mixed workload's mixes and ceiling through bench/threads.c."""
import os
import pathlib
import random
import re
import subprocess

import pytest

from conftest import (BUILD, F_THREAD_SAFE, FLAGS, MAP_NAMES, Model, blueprints, parse_stats,
                      replay, run_driver)

THREAD_SAFE = [n for n in MAP_NAMES if FLAGS[n] & F_THREAD_SAFE]
MB_THREADS = BUILD / "mb_threads"
TSAN = os.environ.get("MB_TSAN_BUILD_DIR")
ASAN = os.environ.get("MB_ASAN_BUILD_DIR")
SAN_ENV = dict(os.environ, TSAN_OPTIONS="halt_on_error=1",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")


def test_thread_safe_maps_include_the_new_designs_and_peers():
    assert {"syncmap", "sharded_seq", "sharded_vbucket", "sharded_rw", "cuckoo", "tbb",
            "ck"} <= set(THREAD_SAFE)


# ---- syncmap: Go's sync.Map mechanics -------------------------------------------------

def test_syncmap_promotes_dirty_after_len_dirty_misses():
    # 3 stores go to dirty (read is empty, amended); each Load misses read and
    # counts a miss; the 3rd miss (= len(dirty)) promotes dirty to read.
    ops = [("i", k, k) for k in (1, 2, 3)] + [("s",)]
    ops += [("l", 1), ("l", 2), ("s",), ("l", 3), ("s",), ("l", 1), ("l", 2), ("s",)]
    answers, live = replay("syncmap", ops)
    promotions = [parse_stats(a)["rehash_events"] for a in answers if a.startswith("stats")]
    assert promotions == [0, 0, 1, 1], answers     # hits in read count no misses
    assert live == 0


def test_syncmap_expunges_deleted_entries_and_drops_them_at_promotion():
    ops = [("i", k, k) for k in (1, 2, 3)] + [("l", 1), ("l", 2), ("l", 3)]  # promoted
    ops += [("r", 1), ("s",)]          # deleted in read: p = nil, its slot stays
    ops += [("i", 9, 9), ("s",)]       # dirtyLocked: key 1's entry is expunged, not copied
    ops += [("l", 9), ("l", 9), ("l", 9), ("s",)]  # 3 misses = len(dirty): promotion
    ops += [("l", 1), ("n",)]
    answers, live = replay("syncmap", ops)
    st = [parse_stats(a) for a in answers if a.startswith("stats")]
    assert [s["tombstones"] for s in st] == [1, 1, 0], answers
    assert [s["rehash_events"] for s in st] == [1, 1, 2]
    assert answers[-2:] == ["notfound", "count 3"]
    assert live == 0


def test_syncmap_unexpunges_a_key_stored_again():
    ops = [("i", k, k) for k in (1, 2, 3)] + [("l", 1), ("l", 2), ("l", 3)]
    ops += [("r", 1), ("i", 9, 9), ("s",)]  # key 1 expunged
    ops += [("i", 1, 5), ("s",), ("l", 1), ("it",), ("n",)]
    answers, live = replay("syncmap", ops)   # check() runs after every op
    st = [parse_stats(a) for a in answers if a.startswith("stats")]
    assert [s["tombstones"] for s in st] == [1, 0], answers
    assert answers[-3] == "found 5"
    visited = dict(kv.split(":") for kv in answers[-2].split()[1:])
    assert visited == {"1": "5", "2": "2", "3": "3", "9": "9"}
    assert answers[-1] == "count 4"
    assert live == 0


def test_syncmap_gives_deleted_boxes_and_entries_back():
    # Deletes retire value boxes (a reader may hold them) and promotions
    # retire expunged entries and old read tables; the epochs must free them
    # while the map lives, not only at destroy.
    n = 2000
    ops = [("i", k, k) for k in range(n)] + [("l", k) for k in range(n)] + [("s",)]
    ops += [("r", k) for k in range(n)] + [("s",)]
    ops += [("i", n + k, k) for k in range(3)] + [("l", n) for _ in range(3)]  # expunge, promote
    ops += [("i", 10 * n + k, k) for k in range(200)] + [("r", 10 * n + k) for k in range(200)]
    ops += [("s",)]
    answers, live = replay("syncmap", ops)
    full, deleted, later = (parse_stats(a) for a in answers if a.startswith("stats"))
    assert full["count"] == n and deleted["count"] == 0
    for s in (full, deleted, later):
        assert s["bytes"] == s["live_bytes"], s   # stats.bytes counts every byte held
    box_and_entry = 24 + 8 + 32 + 8               # sm_box + value, sm_entry + p + key
    assert full["bytes"] - deleted["bytes"] > 0.9 * n * (24 + 8), (full, deleted)
    assert later["bytes"] < full["bytes"] - 0.9 * n * box_and_entry, (full, later)
    assert live == 0


# ---- sharded_vbucket: overflow counts instead of tombstones -------------------------------

def test_vbucket_displaced_keys_stay_reachable_through_deletes_in_any_order():
    # Small tables, so many keys are displaced past full buckets and the
    # buckets' passed counts matter; deletes in shuffled order must keep every
    # remaining key reachable (check() after every op walks the counts, the
    # kept tables' moved marks and the empty slots' key).  Keys 0..3 are what
    # the shards' empty slots hold: they must behave as keys like any other.
    rng = random.Random(14)
    keys = [0, 1, 2, 3] + rng.sample(range(1 << 40), 1500)
    ops = [("i", k, k + 1) for k in keys] + [("s",)]
    order = keys[:]
    rng.shuffle(order)
    ops += [("r", k) for k in order[::2]] + [("l", k) for k in keys] + [("s",)]
    ops += [("i", k, 7) for k in order[::4]] + [("l", k) for k in keys] + [("n",)]
    answers, live = replay("sharded_vbucket", ops)
    model = Model()
    expect = [model.apply(op) if op[0] != "s" else None for op in ops]
    for op, want, got in zip(ops, expect, answers):
        assert want is None or got == want, (op, got, want)
    full, half = (parse_stats(a) for a in answers if a.startswith("stats"))
    assert full["max_probe"] >= 2, full   # the test really displaced keys
    assert full["grow_events"] > 0 and full["count"] == len(keys) and half["count"] == 752
    assert live == 0


# ---- readers racing a writer ------------------------------------------------------------

def stress_cases():
    for n in THREAD_SAFE:
        bps = blueprints(n)
        for kb, vb in {bps[0], bps[-1]}:
            yield n, kb, vb


@pytest.mark.parametrize("impl,kb,vb", list(stress_cases()))
def test_readers_always_see_a_written_value(impl, kb, vb):
    p = run_driver(["stress", "--impl", impl, "--threads", "3", "--n", "3000", "--rounds", "12",
                    "--key-bytes", str(kb), "--val-bytes", str(vb)])
    assert p.returncode == 0, p.stderr
    m = re.search(r"\breads=(\d+)", p.stdout)
    assert m and int(m.group(1)) >= 2 * 3000, p.stdout   # the readers really ran


def test_stress_refuses_a_single_threaded_map_and_one_thread():
    assert run_driver(["stress", "--impl", "swiss", "--threads", "3", "--n", "10"]).returncode == 2
    assert run_driver(["stress", "--impl", "syncmap", "--threads", "1", "--n", "10"]).returncode == 2


def sanitized(build, args):
    exe = pathlib.Path(build) / "mbtest"
    assert exe.exists(), f"{exe} missing"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=SAN_ENV,
                          timeout=900)


@pytest.mark.skipif(not TSAN, reason="MB_TSAN_BUILD_DIR not set (make test sets it)")
@pytest.mark.parametrize("impl", THREAD_SAFE)
def test_tsan_stress(impl):
    p = sanitized(TSAN, ["stress", "--impl", impl, "--threads", "3", "--n", "1500",
                         "--rounds", "4"])
    assert "Sanitizer" not in p.stderr, p.stderr[-3000:]
    assert p.returncode == 0, p.stderr[-3000:]


@pytest.mark.skipif(not ASAN, reason="MB_ASAN_BUILD_DIR not set (make test sets it)")
@pytest.mark.parametrize("impl", ["syncmap", "sharded_seq", "sharded_vbucket", "ck"])
def test_asan_stress_reclamation(impl):
    # the maps that defer frees (epochs, kept tables): a use-after-free shows here
    p = sanitized(ASAN, ["stress", "--impl", impl, "--threads", "3", "--n", "1500",
                         "--rounds", "6"])
    assert "Sanitizer" not in p.stderr, p.stderr[-3000:]
    assert p.returncode == 0, p.stderr[-3000:]


# ---- the mixed workload: mixes and the ceiling --------------------------------------------

needs_mb_threads = pytest.mark.skipif(not MB_THREADS.exists(), reason="mb_threads not built")


@needs_mb_threads
def test_every_mix_and_the_ceiling_verify_their_checksums():
    p = subprocess.run([str(MB_THREADS), "--n", "2000", "--ops", "20000", "--reps", "1",
                        "--mixes", "100,90,50,0", "--threads", "1,2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines() if not l.startswith("#")]
    got = {(r[0], r[1], r[2]) for r in rows}
    for name in THREAD_SAFE:
        for mix in ("100/0", "90/10", "50/50", "0/100"):
            for t in ("1", "2"):
                assert (name, mix, t) in got, (name, mix, t)
    for r in rows:   # the ceiling ran beside every cell: its rate and the ratio are numbers
        fields = dict(re.findall(r"(\w+)=\s*([0-9.]+)", " ".join(r)))
        assert float(fields["ceil"]) > 0 and float(fields["xceil"]) >= 0, r


@needs_mb_threads
def test_mb_threads_gives_the_medians_a_95_percent_interval_from_6_repetitions():
    # Below 6 repetitions no two order statistics cover the median with 95%
    # (min..max of 5: 1 - 2/32), so none is printed; from 6 on, x1 and xceil
    # carry [lo..hi] around their median, and at the first T every
    # repetition's x1 is exactly 1.
    def rows(reps):
        p = subprocess.run([str(MB_THREADS), "--n", "2000", "--ops", "20000", "--reps", str(reps),
                            "--mixes", "90", "--threads", "1,2", "--impl", "sharded_seq"],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        return [l for l in p.stdout.splitlines() if l.startswith("sharded_seq")]

    for line in rows(5):
        assert "[" not in line.split("x1=")[1], line
    for reps in (6, 15):
        got = rows(reps)
        assert len(got) == 2, got
        for t, line in enumerate(got):
            for col in ("x1", "xceil"):
                m = re.search(col + r"=\s*([0-9.]+) \[([0-9.]+)\.\.([0-9.]+)\]", line)
                assert m, (col, line)
                med, lo, hi = map(float, m.groups())
                assert lo <= med <= hi, (col, line)
                if col == "x1" and t == 0:
                    assert lo == med == hi == 1.0, line


@needs_mb_threads
def test_mb_threads_usage():
    assert subprocess.run([str(MB_THREADS), "--help"], capture_output=True).returncode == 0
    p = subprocess.run([str(MB_THREADS), "--mixes", "101"], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr
    p = subprocess.run([str(MB_THREADS), "--impl", "swiss"], capture_output=True, text=True)
    assert p.returncode == 2 and "not thread-safe" in p.stderr
    p = subprocess.run([str(MB_THREADS), "--impl", "sharded_seq,swiss", "--threads", "1,2"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "not thread-safe" in p.stderr and "swiss" in p.stderr


@needs_mb_threads
def test_mb_threads_runs_a_map_that_is_not_thread_safe_at_one_thread():
    # the unsynchronized reference: swiss doing the mix's real writes, its
    # checksum verified like every map's (exit 1 on a mismatch)
    p = subprocess.run([str(MB_THREADS), "--n", "2000", "--ops", "20000", "--reps", "1",
                        "--mixes", "90,0", "--threads", "1", "--impl", "swiss,sharded_seq"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    rows = {tuple(l.split()[:3]) for l in p.stdout.splitlines() if not l.startswith("#")}
    assert rows == {(m, x, "1") for m in ("swiss", "sharded_seq") for x in ("90/10", "0/100")}
