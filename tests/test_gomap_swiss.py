"""gomap_swiss against what Go 1.24's internal/runtime/maps predicts.

The Python model below (GoSwissModel) is written from the design rules of
map.go / table.go / group.go, not from the C file's output: the small-map
group, growToTable at the 9th PutSlot, growthLeft = 7/8 of capacity, the
triangular probe sequence over groups, tombstones only in groups without an
empty slot, rehash = double up to 1024 slots then split on the next hash bit
from the top, the directory doubling when a table at globalDepth splits,
NewMap's hint rule, Clear and the reseed on delete-to-empty.  Every test
replays the same ops through the C map (check() after every op, in the
driver) and through the model, and compares answers, capacity, tombstones,
grow events and bytes (which encode the number of tables, their sizes and
the directory length: every allocation is rounded to Go's size classes).

Keys are hashed as the map does: mb_hash_u64 of impls/mb_map.h with the
driver's default seed 0x5eed.
"""
import random
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MAP_NAMES, MAPBENCH, replay, run_driver
from test_gomap import M64, SEED, mb_hash_u64, parse_stats, roundupsize

pytestmark = pytest.mark.skipif("gomap_swiss" not in MAP_NAMES,
                                reason="gomap_swiss is not registered")

IMPL = "gomap_swiss"

# group.go / table.go / abi constants
SLOTS = 8                 # abi.SwissMapGroupSlots
MAX_AVG_GROUP_LOAD = 7    # of 8
MAX_TABLE_CAPACITY = 1024
CTRL_EMPTY, CTRL_DELETED = 0x80, 0xFE
TABLE_STRUCT_BYTES = 32   # Go's table struct on 64-bit
PTR = 8


def group_size(key_bytes=8, val_bytes=8):
    """8 control bytes, then 8 interleaved key/elem slots."""
    return 8 + SLOTS * (key_bytes + val_bytes)


def pow2ceil(n):
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def reseed(prev):
    """The map's stand-in for Go's rand() on delete-to-empty and Clear
    (deviation 3 of the C file's design comment)."""
    return mb_hash_u64((prev + 0x9E3779B97F4A7C15) & M64, 0x243F6A8885A308D3)


class Table:
    """One Swiss table: capacity slots in capacity/8 groups."""

    def __init__(self, capacity, local_depth, index=-1):
        self.capacity = pow2ceil(max(capacity, SLOTS))
        assert self.capacity <= MAX_TABLE_CAPACITY
        self.local_depth = local_depth
        self.index = index
        self.ctrl = [CTRL_EMPTY] * self.capacity
        self.key = [None] * self.capacity
        self.used = 0
        self.reset_growth_left()

    def reset_growth_left(self):
        # One group: all slots but one; else 7/8 of the slots.
        if self.capacity <= SLOTS:
            self.growth_left = self.capacity - 1
        else:
            self.growth_left = self.capacity * MAX_AVG_GROUP_LOAD // SLOTS

    def probe(self, h):
        """probeSeq: H1 & mask, then triangular steps; every group once."""
        mask = self.capacity // SLOTS - 1
        off, i = (h >> 7) & mask, 0
        for _ in range(mask + 1):
            yield off
            i += 1
            off = (off + i) & mask

    def slots(self, g):
        return range(SLOTS * g, SLOTS * g + SLOTS)

    def full(self, s):
        return self.ctrl[s] & 0x80 == 0

    def has_empty(self, g):
        return any(self.ctrl[s] == CTRL_EMPTY for s in self.slots(g))

    def put(self, m, k, h):
        """PutSlot: 'replaced', 'inserted', or None after a rehash."""
        first_deleted = None
        for g in self.probe(h):
            for s in self.slots(g):
                if self.full(s) and self.key[s] == k:
                    return "replaced"
            free = next((s for s in self.slots(g) if self.ctrl[s] & 0x80), None)
            if free is None:
                continue
            if self.ctrl[free] == CTRL_DELETED:
                if first_deleted is None:
                    first_deleted = free
                continue
            slot = free
            if first_deleted is not None:
                slot = first_deleted
                self.growth_left += 1
            if self.growth_left > 0:
                self.ctrl[slot], self.key[slot] = h & 0x7F, k
                self.growth_left -= 1
                self.used += 1
                m.used += 1
                return "inserted"
            m.rehash(self)
            return None
        raise AssertionError("a probe sequence without an empty slot")

    def unchecked_put(self, k, h):
        for g in self.probe(h):
            free = next((s for s in self.slots(g) if self.ctrl[s] & 0x80), None)
            if free is not None:
                self.ctrl[free], self.key[free] = h & 0x7F, k
                self.growth_left -= 1
                self.used += 1
                return
        raise AssertionError("no room in a fresh table")

    def delete(self, m, k, h):
        for g in self.probe(h):
            for s in self.slots(g):
                if self.full(s) and self.key[s] == k:
                    self.used -= 1
                    m.used -= 1
                    if self.has_empty(g):
                        self.ctrl[s] = CTRL_EMPTY
                        self.growth_left += 1
                    else:
                        self.ctrl[s] = CTRL_DELETED
                    self.key[s] = None
                    return True
            if self.has_empty(g):
                return False
        return False

    def clear(self):
        self.ctrl = [CTRL_EMPTY] * self.capacity
        self.key = [None] * self.capacity
        self.used = 0
        self.reset_growth_left()

    def tombstones(self):
        return self.ctrl.count(CTRL_DELETED)


class GoSwissModel:
    """Map: no group, one small group (dirLen 0), or a directory of tables."""

    def __init__(self, hint=0, key_bytes=8, val_bytes=8, seed=SEED):
        self.seed = seed
        self.used = 0
        self.small = None      # 8 keys or None, when the map is small
        self.dir = None        # list of Table, len 2^global_depth
        self.global_depth = 0
        self.grow_events = 0
        self.gsize = group_size(key_bytes, val_bytes)
        if hint > SLOTS:       # NewMap
            target = hint * SLOTS // MAX_AVG_GROUP_LOAD
            dir_size = pow2ceil(-(-target // MAX_TABLE_CAPACITY))
            self.global_depth = dir_size.bit_length() - 1
            self.dir = [Table(target // dir_size, self.global_depth, i) for i in range(dir_size)]

    def hash(self, k):
        return mb_hash_u64(k, self.seed)

    def table_for(self, h):
        return self.dir[0] if len(self.dir) == 1 else self.dir[h >> (64 - self.global_depth)]

    def tables(self):
        """Each table once, in directory order."""
        out, i = [], 0
        while self.dir and i < len(self.dir):
            t = self.dir[i]
            out.append(t)
            i += 1 << (self.global_depth - t.local_depth)
        return out

    # -- ops, answering as the driver prints --
    def insert(self, k):
        if self.small is None and self.dir is None:      # growToSmall
            self.small = [None] * SLOTS
            self.grow_events += 1
        if self.dir is None:
            if self.used < SLOTS:
                if k in self.small:
                    return "replaced"
                self.small[self.small.index(None)] = k
                self.used += 1
                return "inserted"
            self.grow_to_table()                          # even for a replace
        while True:
            h = self.hash(k)
            r = self.table_for(h).put(self, k, h)
            if r:
                return r

    def remove(self, k):
        if self.used == 0:
            return "notfound"
        if self.dir is None:
            found = k in self.small
            if found:
                self.small[self.small.index(k)] = None
                self.used -= 1
        else:
            h = self.hash(k)
            found = self.table_for(h).delete(self, k, h)
        if self.used == 0:
            self.seed = reseed(self.seed)
        return "found" if found else "notfound"

    def clear(self):
        if self.used == 0:
            return "ok"
        if self.dir is None:
            self.small = [None] * SLOTS
        else:
            for t in self.tables():
                t.clear()
        self.used = 0
        self.seed = reseed(self.seed)
        return "ok"

    # -- growth --
    def grow_to_table(self):
        t = Table(2 * SLOTS, 0, 0)
        for k in self.small:
            if k is not None:
                t.unchecked_put(k, self.hash(k))
        self.small, self.dir, self.global_depth = None, [t], 0
        self.grow_events += 1

    def move(self, old, left, right=None, mask=0):
        for s in range(old.capacity):
            if old.full(s):
                k = old.key[s]
                h = self.hash(k)
                (right if right is not None and h & mask else left).unchecked_put(k, h)

    def install(self, t):
        for i in range(1 << (self.global_depth - t.local_depth)):
            self.dir[t.index + i] = t

    def rehash(self, t):
        self.grow_events += 1
        if 2 * t.capacity <= MAX_TABLE_CAPACITY:
            nt = Table(2 * t.capacity, t.local_depth, t.index)
            self.move(t, nt)
            self.install(nt)
            return
        depth = t.local_depth + 1
        left, right = Table(MAX_TABLE_CAPACITY, depth), Table(MAX_TABLE_CAPACITY, depth)
        self.move(t, left, right, 1 << (64 - depth))
        if t.local_depth == self.global_depth:            # double the directory
            old = self.dir
            self.dir = [x for x in old for _ in (0, 1)]
            for i, x in enumerate(old):
                if x.index == i:
                    x.index = 2 * i
            self.global_depth += 1
        left.index = t.index
        self.install(left)
        right.index = left.index + (1 << (self.global_depth - depth))
        self.install(right)

    # -- what stats() should say --
    def capacity(self):
        if self.dir is not None:
            return sum(t.capacity for t in self.tables())
        return SLOTS if self.small is not None else 0

    def tombstones(self):
        return sum(t.tombstones() for t in self.tables())

    def bytes_over_header(self):
        """Bytes beyond the Map header, Go's size classes applied."""
        if self.dir is not None:
            return roundupsize(PTR * len(self.dir)) + sum(
                roundupsize(TABLE_STRUCT_BYTES) + roundupsize(t.capacity // SLOTS * self.gsize)
                for t in self.tables())
        return roundupsize(self.gsize) if self.small is not None else 0

    def apply(self, op):
        if op[0] == "i":
            return self.insert(op[1])
        if op[0] == "r":
            return self.remove(op[1])
        if op[0] == "c":
            return self.clear()
        raise ValueError(op)


def header_bytes(**cfg):
    """The Map header alone: bytes of a map made without a hint."""
    return parse_stats(run([("s",)], **cfg)[0])["bytes"]


def run(ops, **cfg):
    answers, live = replay(IMPL, ops, **cfg)
    assert live == 0, f"destroy left {live} bytes"
    assert len(answers) == len(ops)
    return answers


def replay_against_model(ops, hint=0, key_bytes=8, val_bytes=8):
    """Replays ops ('i' K V, 'r' K, 'c', 's', 'l' K) through the C map and the
    model; asserts every answer and every stats line agree.  Returns
    (model, [(stats, model snapshot)] per 's')."""
    base = header_bytes(key_bytes=key_bytes, val_bytes=val_bytes)
    answers = run(ops, hint=hint, key_bytes=key_bytes, val_bytes=val_bytes)
    model = GoSwissModel(hint, key_bytes, val_bytes)
    values, snaps = {}, []
    for op, got in zip(ops, answers):
        if op[0] == "s":
            s = parse_stats(got)
            want = {"count": model.used, "capacity": model.capacity(),
                    "tombstones": model.tombstones(), "grow_events": model.grow_events,
                    "bytes": base + model.bytes_over_header()}
            have = {k: s[k] for k in want}
            assert have == want, f"after {len(snaps)} stats: map {have} != model {want}"
            assert s["bytes"] == s["live_bytes"], "the byte account is off"
            assert s["overflow"] is None and s["shrink_events"] == 0 and s["rehash_events"] == 0
            snaps.append((s, [(t.capacity, t.local_depth) for t in model.tables()],
                          len(model.dir) if model.dir else 0))
        elif op[0] == "l":
            want = f"found {values[op[1]]}" if op[1] in values else "notfound"
            assert got == want, f"op {op}: {got!r}"
        else:
            want = model.apply(op)
            assert got == want, f"op {op}: map {got!r}, model {want!r}"
            if op[0] == "i":
                values[op[1]] = op[2]
            elif op[0] == "r":
                values.pop(op[1], None)
            elif op[0] == "c":
                values.clear()
    return model, snaps


def test_python_model_of_the_constants():
    assert group_size() == 136                       # 8 + 8 * (8 + 8)
    assert Table(16, 0).growth_left == 14            # 7/8 of 16
    assert Table(8, 0).growth_left == 7              # one group: all but one slot
    assert Table(1024, 0).growth_left == 896
    assert roundupsize(128 * group_size()) == 18432  # a full table's groups, size-classed
    # NewMap: hint 1000 -> 1142 slots -> 2 tables of 1024
    assert [t.capacity for t in GoSwissModel(1000).dir] == [1024, 1024]


def test_small_map_is_one_group_without_a_directory():
    """<= 8 entries live in one group (no table, no directory): capacity 8,
    the header plus one 136-byte group (144 in Go's size classes); deletes
    there never leave tombstones; the 9th key makes a table of 16 slots."""
    ops = [("s",)] + [x for k in range(8) for x in (("i", k, k), ("s",))]
    ops += [("r", 3), ("r", 5), ("s",), ("i", 3, 33), ("i", 5, 55), ("s",), ("l", 3)]
    ops += [("i", 100, 1), ("s",)]
    model, snaps = replay_against_model(ops)
    first = snaps[0][0]
    assert first["capacity"] == 0 and first["grow_events"] == 0     # nothing allocated yet
    for s, tables, dir_len in snaps[1:-1]:
        assert s["capacity"] == SLOTS and dir_len == 0 and tables == []
        assert s["bytes"] - first["bytes"] == roundupsize(group_size()) == 144
        assert s["tombstones"] == 0
    last, tables, dir_len = snaps[-1]
    assert last["count"] == 9 and tables == [(16, 0)] and dir_len == 1


def test_ninth_put_on_a_full_small_map_grows_even_for_a_replace():
    """Map.PutSlot converts a full small map to a table before it looks for
    the key (Go's TODO: "If this is an update to an existing key then we
    actually don't need to grow")."""
    ops = [("i", k, k) for k in range(8)] + [("s",), ("i", 4, 44), ("s",), ("l", 4)]
    _, snaps = replay_against_model(ops)
    assert snaps[0][0]["capacity"] == 8 and snaps[1][0]["capacity"] == 16
    assert snaps[1][0]["count"] == 8


@pytest.mark.parametrize("hint", [0, 1, 8])
def test_small_hint_allocates_nothing(hint):
    s = parse_stats(run([("s",)], hint=hint)[0])
    assert s["capacity"] == 0 and s["bytes"] == s["live_bytes"] == header_bytes()


def test_table_count_and_sizes_after_inserts():
    """Doubling 16 -> 1024 in one table, then splits into tables of 1024 at
    localDepth + 1 with the directory doubling when needed; at each point the
    map's capacity and bytes match the model's tables and directory."""
    points = {9, 14, 15, 28, 29, 56, 57, 448, 449, 896, 897, 1500, 2500, 4000, 6000}
    ops = []
    for k in range(max(points)):
        ops.append(("i", k, k))
        if k + 1 in points:
            ops.append(("s",))
    model, snaps = replay_against_model(ops)
    by_n = {s["count"]: (s, tables, dir_len) for s, tables, dir_len in snaps}
    # One table doubling from 16: the capacity after n inserts is the
    # smallest power of two >= 16 whose 7/8 holds n (up to 1024).
    for n in (9, 14, 15, 28, 29, 56, 57, 448, 449, 896):
        cap = 16
        while cap * 7 // 8 < n:
            cap *= 2
        assert by_n[n][1] == [(cap, 0)], f"n={n}"
    # The 897th key splits the full 1024 table: two tables, globalDepth 1.
    assert by_n[897][1] == [(1024, 1), (1024, 1)] and by_n[897][2] == 2
    for n in (1500, 2500, 4000, 6000):
        s, tables, dir_len = by_n[n]
        assert all(cap == 1024 for cap, _ in tables), "a table above 1024 slots or below after a split"
        assert len(tables) * 1024 == s["capacity"]
        # each table holds at most 7/8 of 1024 and the directory has room for all
        assert n <= 896 * len(tables) and len(tables) <= dir_len
        assert dir_len == 1 << max(d for _, d in tables)
    assert model.grow_events == by_n[6000][0]["grow_events"]


@pytest.mark.parametrize("hint", [9, 13, 100, 500, 1000, 5000])
def test_hint_follows_newmap_and_needs_no_grow(hint):
    ops = [("s",)] + [("i", k, k) for k in range(hint)] + [("s",)]
    model, snaps = replay_against_model(ops, hint=hint)
    target = hint * 8 // 7
    dir_size = pow2ceil(-(-target // 1024))
    per_table = pow2ceil(max(target // dir_size, 8))
    assert snaps[0][1] == [(per_table, dir_size.bit_length() - 1)] * dir_size
    assert snaps[1][0]["grow_events"] == 0, "hint entries made the map grow"


def test_hint_with_big_values():
    """hint 2000: 2285 slots over pow2ceil(3) = 4 tables of 1024; a group of
    u64 -> 64-byte values is 8 + 8 * 72 = 584 bytes, 128 of them 74752,
    page-rounded by Go's allocator to 81920."""
    _, snaps = replay_against_model([("s",)] + [("i", k, k) for k in range(2000)] + [("s",)],
                                    hint=2000, val_bytes=64)
    assert snaps[0][1] == [(1024, 2)] * 4
    assert snaps[0][0]["bytes"] - header_bytes(val_bytes=64) == \
        roundupsize(4 * PTR) + 4 * (32 + 81920)


def test_tombstones_after_churn_and_growth_clears_them():
    """400 keys in one table of 512 slots; deletes in full groups leave
    tombstones (the rest empty their slot); inserts reuse tombstones first;
    tombstones count against growthLeft, so the table doubles although the
    live count stays below 7/8 of 512, and the doubled table has none."""
    n = 400
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    ops += [("r", k) for k in range(0, n, 2)] + [("s",)]
    nxt = 10_000
    for _ in range(400):
        ops += [("i", nxt, 1), ("s",)]
        nxt += 1
    model, snaps = replay_against_model(ops)
    full, deleted = snaps[0][0], snaps[1][0]
    assert full["capacity"] == 512 and full["tombstones"] == 0
    assert deleted["count"] == n // 2 and 0 < deleted["tombstones"] < n // 2
    grew = next(i for i, (s, _, _) in enumerate(snaps) if s["capacity"] > 512)
    before, after = snaps[grew - 1][0], snaps[grew][0]
    # The rehash came with fewer than 448 live keys (7/8 of 512): tombstones ate growthLeft.
    assert before["count"] + 1 == after["count"] < 448
    assert before["tombstones"] > 0 and after["tombstones"] == 0
    assert after["capacity"] == 1024 and after["grow_events"] == before["grow_events"] + 1


def test_constant_size_churn_grows_the_table():
    """Go 1.24 has no rehash in place and no tombstone pruning (Go 1.25): a
    map churned at constant size keeps growing until its tables are sparse
    enough that deletes find empty slots in their groups."""
    live = 400
    ops = [("i", k, k) for k in range(live)] + [("s",)]
    for step in range(20 * live):
        ops += [("r", step), ("i", live + step, step)]
        if step % live == live - 1:
            ops.append(("s",))
    model, snaps = replay_against_model(ops)
    caps = [s["capacity"] for s, _, _ in snaps]
    assert all(s["count"] == live for s, _, _ in snaps)
    assert caps[0] == 512 and caps[-1] > 512, f"capacities {caps}"
    assert caps == sorted(caps), "capacity went down"


def test_delete_all_never_shrinks_and_clear_of_an_empty_map_keeps_tombstones():
    """Deleting every key keeps every table, group and the directory; a
    Clear of a map with used == 0 returns at once (Go 1.24), so the
    tombstones stay; a reinsert reuses the tables; Clear of a full map zeroes
    the tables in place."""
    n = 3000
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    ops += [("r", k) for k in range(n)] + [("s",), ("c",), ("s",)]
    ops += [("l", k) for k in range(0, n, 97)]
    ops += [("i", k, k) for k in range(n)] + [("s",), ("c",), ("s",)]
    _, snaps = replay_against_model(ops)
    full, emptied, cleared, again, cleared2 = (s for s, _, _ in snaps)
    assert emptied["count"] == 0
    assert emptied["capacity"] == full["capacity"] and emptied["bytes"] == full["bytes"]
    assert emptied["tombstones"] > 0
    assert cleared == emptied, "Clear of an empty map changed something"
    assert again["bytes"] >= full["bytes"]
    assert cleared2["tombstones"] == 0 and cleared2["capacity"] == again["capacity"]
    assert cleared2["bytes"] == again["bytes"]


map_ops = st.lists(
    st.one_of(
        st.tuples(st.just("i"), st.integers(0, 1200), st.integers(0, 2**64 - 1)),
        st.tuples(st.just("r"), st.integers(0, 1200)),
        st.tuples(st.just("l"), st.integers(0, 1200)),
        st.tuples(st.just("c")),
        st.tuples(st.just("s"))),
    min_size=1, max_size=400)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.integers(0, 1100), ops=map_ops, hint=st.sampled_from([0, 9, 300]))
def test_random_ops_match_the_model(prefix, ops, hint):
    """A map grown to a random size, then random inserts, deletes, clears:
    every answer, capacity, tombstone count and byte count as the model."""
    script = [("i", k, k) for k in range(prefix)] + ops + [("s",)]
    replay_against_model(script, hint=hint)


def mem_case_insert_bytes(n):
    out = subprocess.run([str(MAPBENCH), "mem-case", "--impl", IMPL, "--n", str(n)],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.startswith("M\t")]
    by_phase = {r[2]: r for r in rows}
    return {ph: (int(by_phase[ph][3]), int(by_phase[ph][4])) for ph in by_phase}


@pytest.mark.parametrize("n", [1000, 10_000, 100_000])
def test_bytes_per_entry_after_insert(n):
    """Exact against the model on the same (random) keys, without check()
    per op; then mapbench's memory script on its own key stream lands within
    15% of that, and keeps every byte after delete_all."""
    rng = random.Random(n)
    keys = rng.sample(range(1, 2**63), n)
    model = GoSwissModel()
    for k in keys:
        model.insert(k)
    text = "".join(f"i {k} 1\n" for k in keys) + "s\n"
    p = run_driver(["replay", "--impl", IMPL, "--no-check"], text)
    assert p.returncode == 0, p.stderr
    s = parse_stats(p.stdout.splitlines()[-2])
    assert s["count"] == n and s["capacity"] == model.capacity()
    assert s["bytes"] == header_bytes() + model.bytes_over_header()
    per_entry = s["bytes"] / n
    assert per_entry >= 16 * 8 / 7, "below the 7/8 load factor's floor for 16-byte slots"
    phases = mem_case_insert_bytes(n)
    entries, mem_bytes = phases["insert"]
    assert entries == n
    assert abs(mem_bytes / n - per_entry) <= 0.15 * per_entry, (mem_bytes / n, per_entry)
    assert phases["delete_all"][1] == mem_bytes, "bytes changed after deleting everything"
