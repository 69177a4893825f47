"""issue 15's peers (boost_flat, dense_hash, sparse_hash, judy) beyond the
conformance suite: what their flags and traits promise, the keys the
sparsehash libraries reserve, the memory shapes they are anchors for, the
sparse_hash adapter's own resizing, and bench/adapter_tax's verification.
The differential replay, churn and allocation-failure sweep run on these maps
from test_conformance.py, which iterates over every registered map."""
import subprocess

import pytest

from conftest import (BUILD, F_BIG_VALUES, F_OWN_ALLOC, F_SHRINK, F_STR_KEYS, FLAGS, MAPS,
                      Model, parse_stats, replay, run_driver)

NEW_PEERS = ["boost_flat", "dense_hash", "sparse_hash", "judy"]
TRAITS = {m[0]: set(m[3].split(",")) for m in MAPS}
FAMILY = {m[0]: m[1] for m in MAPS}
U64_MAX = 2**64 - 1
ADAPTER_TAX = BUILD / "adapter_tax"


@pytest.mark.parametrize("impl", NEW_PEERS)
def test_new_peer_is_registered_after_the_old_peers(impl):
    names = [m[0] for m in MAPS]
    assert impl in names
    assert FAMILY[impl] == "peer"
    assert names.index(impl) > names.index("absl"), "new peers are listed after the old ones"


@pytest.mark.parametrize("impl", ["boost_flat", "dense_hash", "sparse_hash"])
def test_allocator_taking_peers_count_every_byte_and_take_every_blueprint(impl):
    assert FLAGS[impl] & F_OWN_ALLOC
    assert FLAGS[impl] & F_STR_KEYS and FLAGS[impl] & F_BIG_VALUES
    assert not FLAGS[impl] & F_SHRINK


def test_judy_says_u64_only_and_how_it_counts():
    assert FLAGS["judy"] & (F_STR_KEYS | F_BIG_VALUES | F_SHRINK) == 0
    assert FLAGS["judy"] & F_OWN_ALLOC
    assert {"u64-only", "ordered", "thread-local-alloc-hook",
            "refused-blocks-from-malloc"} <= TRAITS["judy"]


@pytest.mark.parametrize("kb,vb", [(16, 8), (48, 8), (8, 64), (48, 64)])
def test_judy_refuses_every_non_u64_blueprint(kb, vb):
    p = run_driver(["replay", "--impl", "judy", "--key-bytes", str(kb), "--val-bytes", str(vb)])
    assert p.returncode == 2
    assert "only 8-byte" in p.stderr


def test_sparsehash_peers_say_how_they_shrink_and_that_keys_are_reserved():
    for impl in ("dense_hash", "sparse_hash"):
        assert {"shrinks-on-insert", "reserved-keys-beside", "tombstones"} <= TRAITS[impl]
    assert "adapter-grows-by-copy" in TRAITS["sparse_hash"]
    assert {"no-shrink", "clear-keeps-capacity"} <= TRAITS["boost_flat"]


@pytest.mark.parametrize("impl", NEW_PEERS)
def test_top_of_key_space_and_zero_round_trip(impl):
    # dense_hash reserves U64_MAX (empty) and U64_MAX - 1 (deleted), sparse_hash
    # U64_MAX (deleted): the adapter keeps those entries beside the table.
    special = [U64_MAX, U64_MAX - 1, U64_MAX - 2, 0]
    ops = [("i", k, k ^ 5) for k in special] + [("i", 7, 1)]
    ops += [("l", k) for k in special] + [("i", U64_MAX, 42), ("l", U64_MAX)]
    ops += [("r", U64_MAX - 1), ("l", U64_MAX - 1), ("r", U64_MAX - 1), ("n",)]
    ops += [("i", U64_MAX - 1, 9), ("it",), ("c",), ("n",), ("l", U64_MAX), ("it",)]
    answers, live = replay(impl, ops)
    model = Model()
    for op, got in zip(ops, answers):
        if op[0] == "it":
            pairs = dict(tuple(map(int, kv.split(":"))) for kv in got.split()[1:])
            assert pairs == model.d, f"{impl}: iteration {got!r}"
        else:
            assert got == model.apply(op), f"{impl}: {op} answered {got!r}"
    assert live == 0


def bytes_per_entry(impl, n):
    ops = [("i", k * 2654435761 % 2**61, k) for k in range(n)] + [("s",)]
    answers, _ = replay(impl, ops)
    st = parse_stats(answers[-1])
    assert st["count"] == n
    return st["bytes"] / n


def test_sparse_hash_is_the_memory_anchor():
    # u64 -> u64: each entry is a 16-byte pair.  sparse_hash packs only the
    # occupied buckets (a bitmap bit per bucket plus a group header per 48
    # buckets), so after inserts it holds little beyond the pairs; dense_hash
    # (max load 0.5) and boost_flat (0.875, plus a metadata byte per slot)
    # hold whole slot arrays.
    n = 20000
    sparse, dense, boost = (bytes_per_entry(i, n) for i in ("sparse_hash", "dense_hash", "boost_flat"))
    assert sparse < boost < dense, (sparse, boost, dense)
    assert sparse < 16 * 1.25, f"sparse_hash holds {sparse:.1f} bytes per 16-byte entry"
    assert dense >= 16 * 2, "dense_hash at max load 0.5 holds at least two slots per entry"


def test_judy_nodes_go_through_mb_alloc():
    # libJudy's JudyMalloc / JudyFree are the adapter's: the counting
    # allocator sees the tree (check() holds it against JudyLMemUsed after
    # every op), and a JudyL array gives its nodes back as it empties.
    n = 5000
    answers, live = replay("judy", [("i", k * 7919, k) for k in range(n)] + [("s",)] +
                           [("r", k * 7919) for k in range(n)] + [("s",)])
    full, empty = parse_stats(answers[n]), parse_stats(answers[-1])
    assert full["live_bytes"] >= n * 8, "at least a value word per entry is counted"
    assert full["bytes"] == full["live_bytes"]
    assert empty["live_bytes"] == empty["bytes"] < 100, "only the adapter struct is left"
    assert live == 0


def test_judy_iterates_in_key_order():
    keys = [(k * 0x9E3779B97F4A7C15) % 2**64 for k in range(1, 300)]
    answers, _ = replay("judy", [("i", k, 1) for k in keys] + [("it",)])
    visited = [int(kv.split(":")[0]) for kv in answers[-1].split()[1:]]
    assert visited == sorted(keys)


def test_sparse_hash_adapter_resizes_like_the_library():
    # Growth, then the library's shrink-on-insert after a mass erase: both are
    # done by the adapter (by copy) before the library would move the table;
    # check() after every op fails if the library resized by itself.
    n = 6000
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    ops += [("r", k) for k in range(n - 50)] + [("s",), ("i", n + 1, 1), ("s",)]
    ops += [("l", k) for k in range(n - 60, n + 2)]
    answers, live = replay("sparse_hash", ops)
    grown = parse_stats(answers[n])
    erased = parse_stats(answers[2 * n - 50 + 1])
    shrunk = parse_stats(answers[2 * n - 50 + 3])
    assert grown["grow_events"] > 0
    assert erased["capacity"] == grown["capacity"], "erase alone never shrinks"
    assert erased["tombstones"] == n - 50
    assert shrunk["capacity"] < grown["capacity"], "the next insert shrinks"
    assert shrunk["shrink_events"] == 1 and shrunk["tombstones"] == 0
    model = Model()
    for op, got in zip(ops, answers):
        if op[0] != "s":
            assert got == model.apply(op), f"{op} answered {got!r}"
    assert live == 0


def test_dense_hash_clear_shrinks_and_boost_clear_keeps_capacity():
    ops = [("i", k, k) for k in range(1000)] + [("c",), ("s",)]
    dense, _ = replay("dense_hash", ops)
    boost, _ = replay("boost_flat", ops)
    assert parse_stats(dense[-1])["capacity"] == 4, "dense_hash's clear() goes back to 4 buckets"
    assert parse_stats(boost[-1])["capacity"] >= 1000


@pytest.mark.parametrize("impl", ["boost_flat", "dense_hash", "sparse_hash"])
def test_failure_sweep_through_growth_with_wide_entries(impl):
    # test_conformance sweeps u64 -> u64 at n = 200; this one goes through
    # several growths of a 48 -> 64-byte map.
    p = run_driver(["sweep", "--impl", impl, "--n", "150", "--key-bytes", "48",
                    "--val-bytes", "64"])
    assert p.returncode == 0, p.stderr
    assert "sweep ok" in p.stdout


# ---- bench/adapter_tax -----------------------------------------------------------

needs_tax = pytest.mark.skipif(not ADAPTER_TAX.exists(), reason="bench/adapter_tax not built")


@needs_tax
def test_adapter_tax_runs_every_peer_and_verifies_its_phases():
    p = subprocess.run([str(ADAPTER_TAX), "--sizes", "300", "--reps", "1", "--cycles", "2"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines() if l and not l.startswith(("#", "peer"))]
    seen = {(r[0], r[2]) for r in rows}
    for peer in ("uthash", "stb_ds", "glib", "absl", "boost_flat", "dense_hash", "sparse_hash",
                 "judy"):
        for phase in ("insert", "hit", "miss", "delete"):
            assert (peer, phase) in seen, f"no {phase} row for {peer}"
    for r in rows:
        adapter, plain, bare = map(float, r[3:6])
        assert adapter > 0 and plain > 0 and bare > 0, r


@needs_tax
def test_adapter_tax_runs_only_the_sides_asked_for():
    p = subprocess.run([str(ADAPTER_TAX), "--sizes", "100", "--reps", "1", "--cycles", "1",
                        "--peers", "judy", "--sides", "adapter,bare"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines() if l.startswith("judy")]
    assert len(rows) == 4
    assert all(r[4] == "-" and r[7] == "-" and r[3] != "-" and r[5] != "-" for r in rows), rows


@needs_tax
@pytest.mark.parametrize("args", [["--peers", "nosuch"], ["--sizes", "0"], ["--bogus", "1"],
                                  ["--reps"], ["--sides", "adapter,nosuch"]])
def test_adapter_tax_rejects_bad_arguments(args):
    p = subprocess.run([str(ADAPTER_TAX), *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "usage:" in p.stderr


@needs_tax
def test_adapter_tax_help():
    p = subprocess.run([str(ADAPTER_TAX), "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "usage:" in p.stdout
