"""Design properties of the open-addressing maps beyond plain conformance:
Robin Hood never holds a tombstone and deletes as if the key had never been
inserted; swiss keeps tombstones bounded under churn by rehashing in place,
keeps its probes short, and exercises its in-place rehash with check() after
every op.  Every assertion is on counts the maps report (`s` in `mbtest
replay`), never on time."""
import re

import pytest

from conftest import MAP_NAMES, Model, parse_stats, replay, run_driver

pytestmark = pytest.mark.skipif(
    not {"oa_linear", "oa_robinhood", "swiss"} <= set(MAP_NAMES),
    reason="the open-addressing maps are not all registered")


def checked_replay(impl, ops, **cfg):
    """Replays ops (check() after each) and checks every answer against a dict.
    Returns the parsed stats of every `s` op, in order."""
    answers, live = replay(impl, ops, **cfg)
    model, stats = Model(), []
    for op, got in zip(ops, answers):
        if op[0] == "s":
            stats.append(parse_stats(got))
        else:
            assert got == model.apply(op), f"{impl}: op {op} answered {got!r}"
    assert live == 0, f"{impl}: destroy left {live} live bytes"
    return stats


def window_churn(live, steps, start=0):
    """Inserts keys [start, start+live), then `steps` times removes the oldest
    key and inserts a new one: constant size, maximal delete/insert mix."""
    ops = [("i", k, k * 7) for k in range(start, start + live)]
    for s in range(steps):
        ops.append(("r", start + s))
        ops.append(("i", start + live + s, s))
    return ops


# ---- Robin Hood ------------------------------------------------------------


@pytest.mark.parametrize("kb,vb", [(8, 8), (48, 64)])
def test_robinhood_never_holds_a_tombstone(kb, vb):
    ops = window_churn(200, 1500) + [("s",)]
    ops += [("r", k) for k in range(0, 1700, 3)] + [("s",)]
    for st in checked_replay("oa_robinhood", ops, key_bytes=kb, val_bytes=vb):
        assert st["tombstones"] == 0
        assert st["rehash_events"] == 0


def test_robinhood_delete_leaves_the_table_of_the_remaining_keys():
    # Backward-shift delete restores exactly the layout of the keys left, so
    # the longest probe equals that of a table built from those keys alone.
    n = 3000
    deleted = checked_replay("oa_robinhood", [("i", k, k) for k in range(n)] +
                             [("r", k) for k in range(1, n, 2)] + [("s",)], hint=n)[0]
    fresh = checked_replay("oa_robinhood", [("i", k, k) for k in range(0, n, 2)] + [("s",)],
                           hint=n)[0]
    assert deleted["capacity"] == fresh["capacity"]
    assert deleted["count"] == fresh["count"] == n // 2
    assert deleted["max_probe"] == fresh["max_probe"]


def test_robinhood_probes_stay_short_at_max_load():
    n = 3584  # 7/8 of 4096: the fullest a 4096-slot table gets
    st = checked_replay("oa_robinhood", [("i", k, k) for k in range(n)] + [("s",)])[0]
    assert st["capacity"] == 4096
    assert 1 <= st["max_probe"] <= 64, st


# ---- swiss -------------------------------------------------------------------


def churn_line(impl, *args):
    p = run_driver(["churn", "--impl", impl, *args])
    assert p.returncode == 0, p.stderr
    m = re.search(r"capacity=(\d+) max_tombstones_seen=(\d+) rehash_events=(\d+)", p.stdout)
    assert m, p.stdout
    return tuple(int(x) for x in m.groups())


@pytest.mark.parametrize("kb,vb", [(8, 8), (16, 8), (48, 64)])
def test_swiss_churn_keeps_capacity_and_bounds_tombstones(kb, vb):
    n = 3000
    cap, max_tombs, rehashes = churn_line("swiss", "--n", str(n), "--rounds", "20",
                                          "--key-bytes", str(kb), "--val-bytes", str(vb))
    assert cap == 4095  # the capacity n needs: churn never grows it
    assert rehashes > 0  # tombstones were reclaimed in place
    assert max_tombs <= cap - cap // 8 - n  # never more than the growth left over


@pytest.mark.parametrize("kb,vb", [(8, 8), (8, 64), (48, 8)])
def test_swiss_in_place_rehash_under_check(kb, vb):
    # 190 live keys in a 255-slot table: full groups make tombstones, and the
    # count stays under 25/32 of the capacity, so each time growth runs out the
    # table is rebuilt in place (check() runs after every op).
    ops = window_churn(190, 2500) + [("s",)]
    st = checked_replay("swiss", ops, key_bytes=kb, val_bytes=vb, hint=190)[-1]
    assert st["capacity"] == 255
    assert st["rehash_events"] > 0
    assert st["grow_events"] == 0


def test_swiss_reclaims_tombstones_when_growing_fails():
    # A full table (count above 25/32, so growth would double it) with
    # tombstones: with every allocation failing, inserts still succeed by
    # rebuilding in place, until the table is truly full; then ENOMEM.
    n = 3584
    ops = [("i", k, k) for k in range(n)] + [("r", k) for k in range(0, 1000, 10)]
    ops += [("s",), ("f", 0)] + [("i", n + k, 1) for k in range(100)] + [("s",)]
    answers, live = replay("swiss", ops + [("i", 10**9, 1)], hint=n)
    before, after = parse_stats(answers[len(ops) - 103]), parse_stats(answers[len(ops) - 1])
    assert before["tombstones"] > 0
    assert answers[len(ops) - 101:len(ops) - 1] == ["inserted"] * 100
    assert after["count"] == n and after["capacity"] == before["capacity"]
    assert after["rehash_events"] > 0 and after["tombstones"] == 0
    assert answers[-1] == "enomem"
    assert live == 0


def test_swiss_probes_stay_short_at_max_load():
    n = 3584  # growth of a 4095-slot table: 7/8 full
    st = checked_replay("swiss", [("i", k, k) for k in range(n)] + [("s",)])[0]
    assert st["capacity"] == 4095
    assert 1 <= st["max_probe"] <= 16, st  # groups of 16; 7 seen at this seed


def test_swiss_tombstones_only_where_a_group_was_full():
    # At 7/8 load many windows are full, so deletes leave tombstones; a table
    # of one group (cap <= 15) never does; clear drops them and keeps capacity.
    n = 3584
    ops = [("i", k, k) for k in range(n)] + [("r", k) for k in range(0, n, 2)] + [("s",)]
    ops += [("c",), ("s",)]
    ops += [("i", k, k) for k in range(10)] + [("r", k) for k in range(10)] + [("s",)]
    full, cleared, small = checked_replay("swiss", ops, hint=n)
    assert full["tombstones"] > 0
    assert full["count"] == n // 2
    assert cleared["tombstones"] == 0 and cleared["capacity"] == full["capacity"]
    assert small["tombstones"] == 0


def test_swiss_shrinks_to_no_table_when_emptied():
    n = 2000
    ops = [("i", k, k) for k in range(n)] + [("r", k) for k in range(n)] + [("s",)]
    ops += [("i", 5, 6), ("l", 5), ("s",)]
    empty, one = checked_replay("swiss", ops, shrink=True)
    assert empty["capacity"] == 0 and empty["shrink_events"] > 0
    assert one["capacity"] == 1 and one["count"] == 1


@pytest.mark.parametrize("impl", ["oa_linear", "oa_robinhood", "swiss"])
def test_absurd_capacity_hint_fails_create_cleanly(impl):
    p = run_driver(["replay", "--impl", impl, "--hint", str(2**64 - 1)], "")
    assert p.returncode == 1 and "create failed" in p.stderr
