"""flat15 (impls/open_addressing/flat15.c) held against an independent Python
model of its design: the hash split, where every entry lands, which overflow
bits get set, the lost-slot budget, when it grows, rebuilds in place or
shrinks.  The model is written from the design comment, not from the C; every
`s` answer of `mbtest replay` (capacity, overflow groups, longest probe, grow /
rehash / shrink events, bytes) must equal the model's.  check() runs after
every op inside the driver.  Nothing here is timed."""
import random

import pytest

from conftest import MAP_NAMES, Model, parse_stats, replay

pytestmark = pytest.mark.skipif("flat15" not in MAP_NAMES, reason="flat15 is not registered")

M64 = (1 << 64) - 1
SEED = 0x5EED  # mbtest's default --seed
SLOTS, GROUP_BYTES = 15, 16


def mb_hash_u64(x, seed=SEED):
    """mb_map.h's mixer: one 64x64->128 multiply, halves xored."""
    p = ((x ^ seed ^ 0x243F6A8885A308D3) & M64) * 0x9DDFEA08EB382D69
    return ((p >> 64) ^ p) & M64


def max_load(g):
    return g * SLOTS * 7 // 8


def is_prime(n):
    return n >= 2 and all(n % d for d in range(2, int(n ** 0.5) + 1))


def groups_for(n):
    """The smallest group count, 0, 1 or a prime, whose max_load holds n; by
    search (the C uses a closed form, then steps to a prime)."""
    g = 0
    while max_load(g) < n or (g > 1 and not is_prime(g)):
        g += 1
    return g


class Flat15Model:
    """The table as the design describes it, for u64 keys."""

    def __init__(self, hint=0, shrink=False):
        self.shrink = shrink
        self.g = 0
        self.groups = []     # per group: 15 keys or None
        self.ob = []         # per group: the overflow byte
        self.count = self.lost = 0
        self.growth_left = 0
        self.grow_events = self.rehash_events = self.shrink_events = 0
        if hint:
            self._rebuild(groups_for(hint))
            self.grow_events = 0

    # -- hash split
    def home(self, h):
        return ((h >> 32) * self.g) >> 32

    def step(self, h):
        """Double hashing: 1 + the low half of h scaled to [0, g - 1)."""
        return 1 + (((h & 0xFFFFFFFF) * (self.g - 1)) >> 32)

    @staticmethod
    def obit(h):
        return 1 << (h & 7)

    # -- probe
    def probe(self, h):
        """The groups of h's probe, in order: every group once."""
        g, step = self.home(h), self.step(h)
        for _ in range(self.g):
            yield g
            g = (g + step) % self.g

    def find(self, k):
        """(group, slot) holding k, or None."""
        h = mb_hash_u64(k)
        for g in self.probe(h):
            grp = self.groups[g]
            for s in range(SLOTS):
                if grp[s] == k:
                    return g, s
            if not self.ob[g] & self.obit(h):
                return None
        return None

    def claim(self, h):
        for g in self.probe(h):
            grp = self.groups[g]
            for s in range(SLOTS):
                if grp[s] is None:
                    return g, s
            self.ob[g] |= self.obit(h)
        raise AssertionError("claim on a full table")

    def _rebuild(self, n_groups):
        old = [k for grp in self.groups for k in grp if k is not None]  # group, then slot order
        before = self.g
        self.g = n_groups
        self.groups = [[None] * SLOTS for _ in range(n_groups)]
        self.ob = [0] * n_groups
        for k in old:
            g, s = self.claim(mb_hash_u64(k))
            self.groups[g][s] = k
        self.lost = 0
        self.growth_left = max_load(n_groups) - self.count
        if n_groups > before:
            self.grow_events += 1
        elif n_groups < before:
            self.shrink_events += 1
        else:
            self.rehash_events += 1

    def make_room(self):
        g = self.g
        if self.count + 1 > max_load(g) // 8 * 7:
            g = max(groups_for(2 * (self.count + 1)), self.g)
        self._rebuild(g)

    # -- ops
    def insert(self, k):
        if self.find(k) is not None:
            return
        if self.growth_left == 0:
            self.make_room()
        h = mb_hash_u64(k)
        g, s = self.claim(h)
        self.groups[g][s] = k
        self.count += 1
        self.growth_left -= 1

    def remove(self, k):
        at = self.find(k)
        if at is None:
            return
        g, s = at
        self.groups[g][s] = None
        self.count -= 1
        if g == self.home(mb_hash_u64(k)):
            self.growth_left += 1
        else:
            self.lost += 1
        if self.shrink and self.count < max_load(self.g) // 8:
            ng = groups_for(2 * self.count)
            if ng < self.g:
                self._rebuild(ng)

    def clear(self):
        self.groups = [[None] * SLOTS for _ in range(self.g)]
        self.ob = [0] * self.g
        self.count = self.lost = 0
        self.growth_left = max_load(self.g)

    def stats(self):
        probes = []
        for g, grp in enumerate(self.groups):
            for k in grp:
                if k is not None:
                    probes.append(list(self.probe(mb_hash_u64(k))).index(g) + 1)
        return {
            "count": self.count,
            "capacity": self.g * SLOTS,
            "overflow": sum(1 for b in self.ob if b),
            "max_probe": max(probes, default=0),
            "grow_events": self.grow_events,
            "rehash_events": self.rehash_events,
            "shrink_events": self.shrink_events,
        }

    def apply(self, op):
        if op[0] == "i":
            self.insert(op[1])
        elif op[0] == "r":
            self.remove(op[1])
        elif op[0] == "c":
            self.clear()


def run_both(ops, hint=0, shrink=False, key_bytes=8, val_bytes=8):
    """Replays ops through flat15 and the dict; for 8-byte keys also through
    the model, asserting every `s` answer equals the model's.  Returns the
    driver's stats lines and the model."""
    answers, live = replay("flat15", ops, key_bytes=key_bytes, val_bytes=val_bytes, hint=hint,
                           shrink=shrink)
    assert live == 0, f"destroy left {live} live bytes"
    ref, model = Model(), Flat15Model(hint, shrink)
    got_stats = []
    for n, (op, got) in enumerate(zip(ops, answers)):
        if op[0] == "s":
            st = parse_stats(got)
            got_stats.append(st)
            assert st["tombstones"] is None, "flat15 has no tombstones: tombstones must be NA"
            assert st["bytes"] == st["live_bytes"], "stats bytes != the allocator's live bytes"
            if key_bytes == 8:
                want = model.stats()
                assert {k: st[k] for k in want} == want, f"after op {n}: driver {st} model {want}"
        else:
            assert got == ref.apply(op), f"op {op} answered {got!r}"
            if key_bytes == 8:
                model.apply(op)
    return got_stats, model


def block_bytes(capacity, slot_bytes):
    groups = capacity // SLOTS
    return groups * (GROUP_BYTES + SLOTS * slot_bytes)


def test_model_matches_while_growing_from_empty():
    rng = random.Random(1)
    keys = [rng.getrandbits(64) for _ in range(4000)]
    ops = []
    for i, k in enumerate(keys):
        ops.append(("i", k, i))
        if i % 97 == 0:
            ops.append(("s",))
    ops.append(("s",))
    stats, model = run_both(ops)
    # growth: the smallest prime group count holding twice the entries
    sizes, g = [], 0
    while max_load(g) < len(keys):
        g = groups_for(2 * (max_load(g) + 1))
        sizes.append(g)
    assert stats[-1]["capacity"] == SLOTS * sizes[-1]
    assert stats[-1]["grow_events"] == len(sizes)
    assert {st["capacity"] // SLOTS for st in stats} - {0} <= set(sizes)
    assert all(b >= 2 * a for a, b in zip(sizes, sizes[1:])), sizes
    assert model.lost == 0


@pytest.mark.parametrize("kb,vb", [(8, 8), (8, 64), (48, 64)])
def test_bytes_are_the_struct_plus_groups_and_slots(kb, vb):
    ops = []
    for i in range(3000):
        ops.append(("i", i * 7919, i))
        if i % 250 == 0:
            ops.append(("s",))
    stats, _ = run_both(ops, key_bytes=kb, val_bytes=vb)
    structs = {st["bytes"] - block_bytes(st["capacity"], kb + vb) for st in stats}
    assert len(structs) == 1, f"bytes are not a constant plus 16 + 15 * slot per group: {structs}"
    assert 0 < structs.pop() < 512


@pytest.mark.parametrize("hint", [1, 13, 14, 105, 1000, 5000])
def test_hint_sizes_the_table_exactly_and_holds_the_hint(hint):
    g = groups_for(hint)
    assert max_load(g) >= hint and (g == 1 or is_prime(g))
    ops = [("s",)] + [("i", k, k) for k in range(hint)] + [("s",), ("i", hint, 0), ("s",)]
    stats, _ = run_both(ops, hint=hint)
    assert stats[0]["capacity"] == stats[1]["capacity"] == SLOTS * g
    assert stats[1]["grow_events"] == 0, "inserting the hinted count grew the table"
    full = hint == max_load(g)
    assert (stats[2]["grow_events"] == 1) == full


def test_overflow_bits_outlive_deletes_until_a_rebuild_or_clear():
    n = max_load(61)  # a hinted table filled to its max load: groups overflow
    keys = list(range(1, n + 1))
    ops = [("i", k, k) for k in keys] + [("s",)]
    ops += [("r", k) for k in keys] + [("s",), ("c",), ("s",)]
    stats, _ = run_both(ops, hint=n)
    full, emptied, cleared = stats
    assert full["overflow"] > 0, "a table at 7/8 load should have overflowed groups"
    assert emptied["count"] == 0 and emptied["overflow"] == full["overflow"], \
        "overflow bits are cleared only by a rebuild or clear"
    assert cleared["overflow"] == 0 and cleared["capacity"] == full["capacity"]


def test_churn_at_max_load_rebuilds_in_place_and_matches_the_model():
    # Fill a hinted table to 7/8 of its max load, then remove-one/insert-one:
    # deleting displaced entries uses up the budget; with the live entries
    # under 7/8 of max_load the rebuild keeps the size (a rehash event).
    g = 31
    live = max_load(g) // 8 * 7 - 1
    rng = random.Random(7)
    pool = rng.sample(range(1, 1 << 40), live + 6000)
    ops = [("i", k, k) for k in pool[:live]] + [("s",)]
    for step in range(6000):
        ops.append(("r", pool[step]))
        ops.append(("i", pool[live + step], step))
        if step % 40 == 0:
            ops.append(("s",))
    ops.append(("s",))
    stats, model = run_both(ops, hint=max_load(g))
    assert stats[-1]["rehash_events"] > 0, "churn never rebuilt in place"
    assert stats[-1]["grow_events"] == 0 and stats[-1]["capacity"] == g * SLOTS
    assert max(st["max_probe"] for st in stats) <= 6, "probes grew long under churn"


def test_shrink_policy_follows_the_rule():
    n = 3000
    order = list(range(n))
    random.Random(3).shuffle(order)
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    for j, k in enumerate(order):
        ops.append(("r", k))
        if j % 50 == 0:
            ops.append(("s",))
    ops.append(("s",))
    stats, model = run_both(ops, shrink=True)
    assert stats[-1]["capacity"] == 0 and stats[-1]["count"] == 0
    assert stats[-1]["shrink_events"] >= 3
    assert stats[-1]["bytes"] < 512, "an empty shrinking map still holds a table"


def test_never_shrink_keeps_capacity_after_delete_all():
    ops = [("i", k, k) for k in range(2000)] + [("s",)]
    ops += [("r", k) for k in range(2000)] + [("s",)]
    stats, _ = run_both(ops)
    assert stats[1]["capacity"] == stats[0]["capacity"] and stats[1]["shrink_events"] == 0


def test_tag_collisions_and_zero_tags_are_told_apart_by_key():
    # Keys whose hashes share the low byte (same tag, same overflow bit) and
    # keys whose low byte is 0 (tag mapped to 1, shared with low byte 1).
    by_low = {}
    k = 0
    while len(by_low.get(0, [])) < 40 or len(by_low.get(1, [])) < 40:
        k += 1
        by_low.setdefault(mb_hash_u64(k) & 0xFF, []).append(k)
    keys = by_low[0][:40] + by_low[1][:40]
    ops = [("i", k, i) for i, k in enumerate(keys)] + [("s",)]
    ops += [("l", k) for k in keys] + [("l", k + 10**9) for k in keys]
    ops += [("r", k) for k in keys[::2]] + [("l", k) for k in keys] + [("s",)]
    run_both(ops)
