"""gomap against what Go 1.19's map.go predicts: bucket counts from its
constants, makemap's hint rule, makeBucketArray's preallocated overflow
buckets, no shrinking, incremental evacuation (ops and iteration while a grow
is in progress), same-size grow, and allocation failure in the middle of a
grow.  check() runs after every op inside the driver (conftest.replay).

Some tests pick keys by bucket: they recompute the map's hash in Python
(mb_hash_u64 of impls/mb_map.h, with the driver's default seed 0x5eed).
"""
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MAP_NAMES, Model, parse_stats, replay

pytestmark = pytest.mark.skipif("gomap" not in MAP_NAMES, reason="gomap is not registered")

IMPL = "gomap"
SEED = 0x5EED  # mbtest's default --seed
M64 = (1 << 64) - 1

# map.go constants
BUCKET_CNT = 8
LOAD_FACTOR_NUM, LOAD_FACTOR_DEN = 13, 2
PTR_SIZE = 8

# runtime/sizeclasses.go (Go 1.19) class_to_size, and _PageSize
CLASS_TO_SIZE = [0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240,
                 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152,
                 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376,
                 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336,
                 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768]
PAGE_SIZE = 8192


def over_load_factor(count, b):
    """map.go overLoadFactor, integer math included (2^0/2 == 0)."""
    return count > BUCKET_CNT and count > LOAD_FACTOR_NUM * ((1 << b) // LOAD_FACTOR_DEN)


def b_for(n):
    """makemap's loop: the smallest B that holds n entries."""
    b = 0
    while over_load_factor(n, b):
        b += 1
    return b


def bucket_size(key_bytes=8, val_bytes=8):
    return 8 + BUCKET_CNT * (key_bytes + val_bytes) + PTR_SIZE


def roundupsize(size):
    if size < 32768:
        return min(c for c in CLASS_TO_SIZE if c >= size)
    return (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


def nbuckets_for(b, bsize):
    """makeBucketArray: 2^b buckets, plus 2^(b-4) preallocated overflow ones
    for b >= 4, rounded up to fill the malloc size class."""
    n = 1 << b
    if b >= 4:
        n += 1 << (b - 4)
        up = roundupsize(bsize * n)
        if up != bsize * n:
            n = up // bsize
    return n


def mb_hash_u64(x, seed=SEED):
    """mb_hash_u64 (impls/mb_map.h): the map's hash of an 8-byte key."""
    p = (x ^ seed ^ 0x243F6A8885A308D3) * 0x9DDFEA08EB382D69
    return ((p >> 64) ^ p) & M64


def keys_in_bucket(j, b, count, start=0):
    """count keys >= start whose hash picks bucket j of 2^b."""
    out, k = [], start
    while len(out) < count:
        if mb_hash_u64(k) & ((1 << b) - 1) == j:
            out.append(k)
        k += 1
    return out


def run(ops, **cfg):
    """Replays ops; returns (answers, live bytes after destroy)."""
    answers, live = replay(IMPL, ops, **cfg)
    assert live == 0, f"destroy left {live} bytes"
    assert len(answers) == len(ops)
    return answers


def test_python_model_of_the_constants():
    # The brief's figures: 144-byte buckets for u64->u64, B = 18 for 1e6.
    assert bucket_size() == 144
    assert b_for(10**6) == 18
    assert not over_load_factor(8, 0) and over_load_factor(9, 0)
    assert over_load_factor(833, 7) and not over_load_factor(832, 7)


def test_capacity_follows_load_factor_without_hint():
    """After n inserts, capacity == 8 * 2^B with B the smallest holding n at
    6.5 per bucket (a grow in progress counts its new size, as in Go), one
    doubling per step of B, and the map's byte count is exact."""
    n = 1700  # crosses B = 8 (1664)
    ops = []
    for k in range(n):
        ops += [("i", k, k), ("s",)]
    answers = run(ops)
    for idx in range(n):
        assert answers[2 * idx] == "inserted"
        st_ = parse_stats(answers[2 * idx + 1])
        b = b_for(idx + 1)
        assert st_["count"] == idx + 1
        assert st_["capacity"] == 8 << b, f"after {idx + 1} inserts"
        assert st_["grow_events"] == b, f"after {idx + 1} inserts"
        assert st_["rehash_events"] == 0
        assert st_["shrink_events"] == 0
        assert st_["bytes"] == st_["live_bytes"], f"bytes account is off after {idx + 1}"


@pytest.mark.parametrize("val_bytes", [8, 64])
@pytest.mark.parametrize("hint", [0, 1, 8, 9, 13, 14, 26, 27, 104, 105, 1000, 5000, 100000])
def test_hint_follows_makemap(hint, val_bytes):
    """makemap: B from the overLoadFactor loop; B == 0 allocates nothing
    before the first insert; the array has makeBucketArray's preallocated
    overflow buckets.  Exactly hint inserts never grow the map."""
    bsize = bucket_size(8, val_bytes)
    base = parse_stats(run([("s",)], val_bytes=val_bytes)[0])["bytes"]  # the hmap alone
    b = b_for(hint)
    n = min(hint, 2000)
    ops = [("s",)] + [("i", k, k) for k in range(n)] + [("s",)]
    answers = run(ops, hint=hint, val_bytes=val_bytes)
    first, last = parse_stats(answers[0]), parse_stats(answers[-1])
    assert first["capacity"] == 8 << b
    expect_arrays = 0 if b == 0 else nbuckets_for(b, bsize) * bsize
    assert first["bytes"] - base == expect_arrays
    assert first["bytes"] == first["live_bytes"]
    assert last["grow_events"] == 0 and last["capacity"] == 8 << b


def test_hint_exactly_at_the_threshold_grows_on_the_next_insert():
    b = 6
    hint = LOAD_FACTOR_NUM * (1 << b) // LOAD_FACTOR_DEN  # 416: B = 6 exactly full
    assert b_for(hint) == b and b_for(hint + 1) == b + 1
    ops = [("i", k, k) for k in range(hint)] + [("s",), ("i", hint, 0), ("s",)]
    answers = run(ops, hint=hint)
    full, grown = parse_stats(answers[hint]), parse_stats(answers[-1])
    assert full["capacity"] == 8 << b and full["grow_events"] == 0
    assert grown["capacity"] == 8 << (b + 1) and grown["grow_events"] == 1


def test_delete_all_never_shrinks():
    """Go's map never shrinks: deleting every key keeps every bucket, the
    overflow buckets included.  (1600 keys: B = 8, its grow long finished, so
    the deletes do no evacuation work that could free the old array.)"""
    n = 1600
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    ops += [("r", k) for k in range(n)] + [("s",)] + [("l", k) for k in range(0, n, 7)]
    answers = run(ops)
    before, after = parse_stats(answers[n]), parse_stats(answers[2 * n + 1])
    assert all(a == "found" for a in answers[n + 1:2 * n + 1])
    assert all(a == "notfound" for a in answers[2 * n + 2:])
    assert after["count"] == 0
    assert after["capacity"] == before["capacity"] == 8 << b_for(n)
    assert after["bytes"] == before["bytes"], "bytes changed after deleting everything"
    assert after["overflow"] == before["overflow"] > 0
    # Deleting everything turns every slot back into emptyRest: no tombstones.
    assert after["tombstones"] == 0


def test_clear_keeps_b_and_drops_old_and_overflow_buckets():
    """Go 1.19 mapclear during a grow: oldbuckets and all overflow buckets go,
    B and the (zeroed) bucket array stay."""
    base = parse_stats(run([("s",)])[0])["bytes"]
    n = 833  # the 833rd insert starts the grow from B = 7 to B = 8
    ops = [("i", k, k) for k in range(n)] + [("s",), ("c",), ("s",), ("n",)]
    ops += [("l", k) for k in range(0, n, 50)] + [("i", 5, 6), ("l", 5)]
    answers = run(ops)
    growing, cleared = parse_stats(answers[n]), parse_stats(answers[n + 2])
    old_and_new = (nbuckets_for(7, 144) + nbuckets_for(8, 144)) * 144
    assert growing["bytes"] - base >= old_and_new, "the grow should hold both arrays"
    assert cleared["capacity"] == growing["capacity"] == 8 << 8
    assert cleared["bytes"] - base == nbuckets_for(8, 144) * 144
    assert cleared["overflow"] == 0 and cleared["count"] == 0
    assert answers[n + 3] == "count 0"
    assert all(a == "notfound" for a in answers[n + 4:-2])
    assert answers[-2:] == ["inserted", "found 6"]


mid_grow_ops = st.lists(
    st.tuples(st.sampled_from(["i", "l", "r", "r", "it"]),
              st.one_of(st.integers(0, 832), st.integers(10_000, 10_400)),
              st.integers(0, 2**64 - 1)),
    min_size=150, max_size=300)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=mid_grow_ops)
def test_random_ops_during_an_evacuation_match_dict(script):
    """Grow to just past a threshold (833 keys: B 7 -> 8, 128 old buckets to
    evacuate, at most 2 per write), then interleave lookups, deletes, inserts
    and iterations and compare with a dict.  The byte count proves the old
    array was still held during the first writes and was freed later."""
    n = 833
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    model = Model()
    for op in ops[:-1]:
        model.apply(op)
    tail = []
    for kind, k, v in script:
        if kind == "i":
            tail.append(("i", k, v))
        elif kind == "it":
            tail.append(("it",))
        else:
            tail.append((kind, k))
        if kind in ("i", "r"):
            tail.append(("s",))
    answers = run(ops + tail)
    start = parse_stats(answers[n])
    old_array = nbuckets_for(7, 144) * 144
    assert start["grow_events"] == 8  # B 0 -> 8, the last one in progress

    freed_at, writes = None, 0
    for op, got in zip(tail, answers[n + 1:]):
        if op[0] == "s":
            st_ = parse_stats(got)
            assert st_["bytes"] == st_["live_bytes"]
            if freed_at is None and st_["bytes"] <= start["bytes"] - old_array:
                freed_at = writes
            continue
        if op[0] == "it":
            pairs = [tuple(map(int, kv.split(":"))) for kv in got.split()[1:]]
            assert len(pairs) == len({k for k, _ in pairs}), "iteration visited a key twice"
            assert dict(pairs) == model.d, "iteration during the grow disagrees with the dict"
            continue
        assert got == model.apply(op), f"op {op} answered {got!r}"
        if op[0] in ("i", "r"):
            writes += 1
    # 128 old buckets, at most 2 evacuated per write: >= 64 writes ran mid-grow.
    assert freed_at is None or freed_at >= 64
    if writes >= 128 + 1:
        assert freed_at is not None, "the grow never finished"


def test_iteration_during_a_doubling_visits_each_key_once():
    n = 833
    ops = [("i", k, k * 7) for k in range(n)] + [("it",)]
    ops += [("r", k) for k in range(0, 40, 3)] + [("it",)]
    answers = run(ops)
    expect = {k: k * 7 for k in range(n)}
    for idx in (n, len(ops) - 1):
        pairs = [tuple(map(int, kv.split(":"))) for kv in answers[idx].split()[1:]]
        assert len(pairs) == len(expect) and dict(pairs) == expect
        for k in range(0, 40, 3):
            expect.pop(k, None)


def test_same_size_grow_and_allocation_failure_mid_grow():
    """B = 3 (hint 50: no preallocated overflow buckets).  20 keys in bucket 0
    (2 overflow buckets), then 9 keys in and out of each of buckets 1..6 leave
    8 overflow buckets for a handful of keys: tooManyOverflowBuckets, and the
    next insert starts a same-size grow.  Allocation failures are injected at
    hashGrow, at the evacuation of bucket 0 (it needs 2 new overflow buckets)
    and while that bucket stays unevacuated."""
    b = 3
    perm = keys_in_bucket(0, b, 22)
    k0, k0b = perm[20], perm[21]
    churn = {j: keys_in_bucket(j, b, 10) for j in range(1, 7)}
    k5 = churn[5][9]
    model = {}
    script = []  # (op, expected answer or None)

    def op(o, expect=None):
        script.append((o, expect))

    for k in perm[:20]:
        op(("i", k, k), "inserted")
        model[k] = k
    op(("s",))  # 0: two overflow buckets in bucket 0
    for j in range(1, 7):
        for k in churn[j][:9]:
            op(("i", k, 1), "inserted")
        for k in churn[j][:9]:
            op(("r", k), "found")
    op(("s",))  # 1: 8 overflow buckets, no grow yet
    op(("f", 0), "ok")
    op(("i", k0, 1), "enomem")  # hashGrow cannot get its array
    op(("s",))  # 2
    op(("f", 1), "ok")
    op(("i", k0, 1), "enomem")  # array ok, evacuating bucket 0 fails: rolled back
    op(("s",))  # 3
    op(("f", 1), "ok")
    op(("i", k5, 5), "inserted")  # grow starts; bucket 5 needs nothing; bucket 0 skipped
    model[k5] = 5
    op(("s",))  # 4
    op(("f", 0), "ok")
    for k in perm[:20]:
        op(("l", k), f"found {k}")  # read from the unevacuated old bucket 0
    op(("r", perm[3]), "found")  # growWork fails: deleted in the old bucket
    del model[perm[3]]
    op(("l", perm[3]), "notfound")
    op(("i", k0, 1), "enomem")  # needs bucket 0 evacuated
    op(("i", perm[5], 99), "enomem")  # a replace too
    op(("r", churn[6][0]), "notfound")  # evacuates bucket 6 (no allocation)
    op(("it",))
    op(("f", -1), "ok")
    op(("i", k0, 1), "inserted")
    model[k0] = 1
    op(("i", k0b, 2), "inserted")
    model[k0b] = 2
    for j in range(8):  # deletes of absent keys still do growWork
        op(("r", keys_in_bucket(j, b, 1, start=10**6)[0]), "notfound")
    op(("s",))  # 5: grow finished
    op(("it",))
    for k in perm:
        op(("l", k), f"found {model[k]}" if k in model else "notfound")

    ops = [o for o, _ in script]
    answers = run(ops, hint=50)
    stats, iters = [], []
    for (o, expect), got in zip(script, answers):
        if o[0] == "s":
            stats.append(parse_stats(got))
        elif o[0] == "it":
            iters.append(got)
        else:
            assert got == expect, f"op {o} answered {got!r}, expected {expect!r}"

    bsize = bucket_size()
    s0, s1, s2, s3, s4, s5 = stats
    assert s0["capacity"] == 64 and s0["overflow"] == 2, "hash model disagrees with the map"
    assert s1["overflow"] == 8 and s1["count"] == 20 and s1["rehash_events"] == 0
    for s in (s2, s3):  # failed inserts left the map as it was
        assert (s["bytes"], s["live_bytes"], s["rehash_events"], s["overflow"]) == \
               (s1["bytes"], s1["live_bytes"], 0, 8)
    assert s4["rehash_events"] == 1 and s4["grow_events"] == 0 and s4["capacity"] == 64
    assert s4["bytes"] == s1["bytes"] + 8 * bsize  # the new array, nothing else yet
    # Grow done: old array and its 8 overflow buckets freed; bucket 0 now has
    # 21 keys (20 - 1 + 2) in 3 buckets, the other chains none.
    assert s5["rehash_events"] == 1 and s5["overflow"] == 2
    assert s5["bytes"] == s5["live_bytes"] < s1["bytes"]
    for got in iters:
        pairs = [tuple(map(int, kv.split(":"))) for kv in got.split()[1:]]
        assert len(pairs) == len({k for k, _ in pairs})
    assert dict(tuple(map(int, kv.split(":"))) for kv in iters[-1].split()[1:]) == model


def test_churned_overflow_buckets_are_compacted_by_same_size_grows():
    """Keys cycled through one bucket at a time pile up overflow buckets; Go
    answers with same-size grows, never with a bigger table.  (One key stays,
    so the count never reaches 0, where Go draws a new hash seed.)"""
    b = 4  # hint 100 -> B = 4
    assert b_for(100) == b
    ops = [("i", 10**9, 1)]
    for rnd in range(6):
        for j in range(16):
            ks = keys_in_bucket(j, b, 12, start=rnd * 100_000)
            ops += [("i", k, j) for k in ks] + [("r", k) for k in ks]
        ops.append(("s",))
    ops += [("i", 7, 7), ("l", 7), ("n",)]
    answers = run(ops, hint=100)
    stats = [parse_stats(a) for a in answers if a.startswith("stats")]
    # 6 rounds create 6 * 16 overflow buckets; without same-size grows they
    # would all stay.  With them, at most two generations of 2^B are held.
    assert stats[-1]["rehash_events"] >= 5
    assert all(s["overflow"] <= 2 << b for s in stats)
    assert all(s["grow_events"] == 0 and s["capacity"] == 8 << b for s in stats)
    assert answers[-3:] == ["inserted", "found 7", "count 2"]
