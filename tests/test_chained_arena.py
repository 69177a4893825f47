"""Memory behaviour specific to chained_pool and arena, through `mbtest replay`
and its `s` (stats) op.  check() runs after every op inside the driver.

chained_pool: delete and clear keep the slabs; freed nodes are reused; with the
low-water policy the slabs are compacted and memory comes back; a compaction
that cannot allocate leaves the map valid and larger.
arena: delete keeps the chunks; freed entries are reused; clear gives every
chunk and the index back (live bytes fall to the bare header)."""
import pytest

from conftest import MAP_NAMES, parse_stats, replay

pytestmark = pytest.mark.skipif(not {"chained_pool", "arena"} <= set(MAP_NAMES),
                                reason="chained_pool / arena not built")


def run(impl, ops, **cfg):
    """Replays ops; returns (the stats of every 's' op in order, all answers)."""
    answers, live = replay(impl, ops, **cfg)
    assert live == 0, f"{impl}: destroy left {live} live bytes"
    return [parse_stats(a) for a in answers if a.startswith("stats ")], answers


def inserts(keys):
    return [("i", k, k + 1) for k in keys]


def removes(keys):
    return [("r", k) for k in keys]


# ---- chained_pool -------------------------------------------------------------

def test_pool_delete_all_keeps_slabs_and_reuses_them():
    n = 1000
    ops = [("s",)] + inserts(range(n)) + [("s",)] + removes(range(n)) + [("s",)]
    ops += inserts(range(n, 2 * n)) + [("s",)]
    empty, full, drained, refilled = run("chained_pool", ops)[0]
    assert full["bytes"] > empty["bytes"] + n * 16
    assert drained["count"] == 0
    assert drained["bytes"] == full["bytes"], "delete gave slab memory back"
    assert drained["live_bytes"] == full["live_bytes"]
    assert refilled["count"] == n
    assert refilled["bytes"] == full["bytes"], "reinsert after delete allocated new slabs"
    assert refilled["live_bytes"] == full["live_bytes"]


def test_pool_clear_keeps_slabs_and_reuses_them():
    n = 700
    ops = inserts(range(n)) + [("s",), ("c",), ("s",)] + inserts(range(5000, 5000 + n)) + [("s",)]
    full, cleared, refilled = run("chained_pool", ops)[0]
    assert cleared["count"] == 0
    assert cleared["bytes"] == full["bytes"] == refilled["bytes"]
    assert cleared["live_bytes"] == full["live_bytes"] == refilled["live_bytes"]


def test_pool_slabs_grow_geometrically():
    # u64 -> u64 nodes are 32 bytes, slab headers 16.  The first insert maps a
    # 64-node slab, the 65th a 128-node one, the 193rd a 256-node one.
    node, header = 32, 16
    ops = [("s",)] + inserts(range(64)) + [("s",)] + inserts([64]) + [("s",)]
    ops += inserts(range(65, 192)) + [("s",)] + inserts([192]) + [("s",)]
    empty, s64, s65, s192, s193 = run("chained_pool", ops, hint=4096)[0]  # no bucket growth
    assert s64["bytes"] - empty["bytes"] == header + 64 * node
    assert s65["bytes"] - s64["bytes"] == header + 128 * node
    assert s192["bytes"] == s65["bytes"], "the second slab did not hold 128 nodes"
    assert s193["bytes"] - s192["bytes"] == header + 256 * node


def test_pool_chains_match_chained():
    """Same hash, same bucket rule: chained and chained_pool build the same
    chains, so their shape statistics agree exactly."""
    ops = inserts(range(3000)) + [("s",)] + removes(range(0, 3000, 3)) + [("s",)]
    shape = ("count", "capacity", "overflow", "max_probe", "grow_events")
    a, _ = run("chained", ops)
    b, _ = run("chained_pool", ops)
    for sa, sb in zip(a, b):
        assert {k: sa[k] for k in shape} == {k: sb[k] for k in shape}
    assert b[0]["overflow"] > 0


def test_pool_shrink_compacts_slabs():
    n = 4000
    ops = inserts(range(n)) + [("s",)] + removes(range(n - 10)) + [("s",)]
    ops += [("l", k) for k in range(n - 10, n)]
    (full, low), answers = run("chained_pool", ops, shrink=True)
    assert low["count"] == 10
    assert low["shrink_events"] > 0
    assert low["bytes"] < full["bytes"] // 20, "compaction did not give slabs back"
    assert answers[-10:] == [f"found {k + 1}" for k in range(n - 10, n)]


def test_pool_failed_compaction_leaves_map_valid_and_larger():
    n = 2000
    ops = inserts(range(n)) + [("s",), ("f", 0)] + removes(range(n - 5)) + [("s",)]
    ops += [("l", k) for k in range(n - 5, n)] + [("f", -1), ("r", n - 5), ("s",)]
    (full, failed, after), answers = run("chained_pool", ops, shrink=True)
    assert failed["count"] == 5
    assert failed["shrink_events"] == 0
    assert failed["bytes"] == full["bytes"], "a failed shrink changed the bytes"
    first_lookup = n + 2 + (n - 5) + 1
    assert answers[first_lookup:first_lookup + 5] == [f"found {k + 1}" for k in range(n - 5, n)]
    assert after["count"] == 4 and after["shrink_events"] > 0
    assert after["bytes"] < full["bytes"] // 20


def test_pool_insert_fails_cleanly_when_a_slab_is_needed():
    # 64 nodes fit the first slab; with allocation off, insert 65 must fail
    # and insert into a freed node must still succeed.
    ops = inserts(range(64)) + [("s",), ("f", 0), ("i", 64, 1), ("r", 3), ("i", 64, 1), ("s",)]
    (before, after), answers = run("chained_pool", ops, hint=1000)
    assert answers[65:69] == ["ok", "enomem", "found", "inserted"]
    assert after["bytes"] == before["bytes"]


# ---- arena --------------------------------------------------------------------

@pytest.mark.parametrize("kb,vb", [(8, 8), (16, 64), (48, 8)])
def test_arena_clear_gives_everything_back(kb, vb):
    n = 6000  # several chunks for every blueprint
    ops = [("s",)]
    for _ in range(2):
        ops += inserts(range(n)) + [("s",), ("c",), ("s",)]
    empty, full1, clear1, full2, clear2 = run("arena", ops, key_bytes=kb, val_bytes=vb)[0]
    assert full1["live_bytes"] > empty["live_bytes"] + n * (kb + vb)
    for c in (clear1, clear2):
        assert c["count"] == 0 and c["capacity"] == 0
        assert c["live_bytes"] == empty["live_bytes"], "clear kept chunks or the index"
        assert c["bytes"] == empty["bytes"] == empty["live_bytes"]
    assert full2["bytes"] == full1["bytes"]


def test_arena_clear_after_hint_drops_to_header():
    ops = [("s",)] + inserts(range(10)) + [("c",), ("s",)]
    created, cleared = run("arena", ops, hint=100000)[0]
    assert created["capacity"] >= 100000
    assert cleared["live_bytes"] < created["live_bytes"] // 100
    assert cleared["capacity"] == 0


def test_arena_delete_keeps_chunks_and_reuses_entries():
    n = 5000
    ops = inserts(range(n)) + [("s",)] + removes(range(n)) + [("s",)]
    ops += inserts(range(n, 2 * n)) + [("s",)]
    full, drained, refilled = run("arena", ops)[0]
    assert drained["count"] == 0
    assert drained["bytes"] == full["bytes"] == refilled["bytes"]
    assert drained["live_bytes"] == full["live_bytes"] == refilled["live_bytes"]


def test_arena_chunks_are_64k_then_double():
    # u64 -> u64 entries are 16 bytes: 4096 fill the first 64 KiB chunk
    # exactly; entry 4097 maps a 128 KiB chunk.
    ops = [("s",)] + inserts(range(4096)) + [("s",)] + inserts([4096]) + [("s",)]
    empty, s4096, s4097 = run("arena", ops, hint=8192)[0]
    # the index was sized at create and does not grow here; the first chunk
    # also brings the 16-segment directory (16 pointers)
    assert s4097["capacity"] == s4096["capacity"] == empty["capacity"]
    assert s4096["bytes"] - empty["bytes"] == 65536 + 16 * 8
    assert s4097["bytes"] - s4096["bytes"] == 131072


def test_arena_insert_fails_cleanly_when_a_chunk_is_needed():
    ops = inserts(range(4096)) + [("s",), ("f", 0), ("i", 4096, 7), ("l", 4096), ("r", 5),
                                  ("i", 4096, 7), ("l", 4096), ("s",)]
    (before, after), answers = run("arena", ops, hint=8192)
    assert answers[4097:4103] == ["ok", "enomem", "notfound", "found", "inserted", "found 7"]
    assert after["bytes"] == before["bytes"] and after["count"] == 4096
