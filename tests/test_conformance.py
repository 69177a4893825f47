"""Every registered map against a Python dict: random op sequences (hypothesis),
sizes around every resize point, hints, churn, iteration, allocation failure.
check() runs after every op inside the driver."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MAP_NAMES, FLAGS, F_SHRINK, Model, blueprints, replay, run_driver

CASES = [(n, kb, vb) for n in MAP_NAMES for kb, vb in blueprints(n)]


def test_replay_refuses_a_line_longer_than_its_buffer():
    """mbtest reads replay lines into a fixed buffer: a longer line is an error, not a
    tail that runs as a second op."""
    p = run_driver(["replay", "--impl", MAP_NAMES[0]], "i 1 2" + " " * 300 + "l 1\n")
    assert p.returncode == 1 and "line 1: longer than" in p.stderr, (p.returncode, p.stderr)
    assert "found" not in p.stdout, p.stdout     # the tail's lookup never ran


def test_registry_is_not_empty():
    assert len(MAP_NAMES) >= 2


def run_against_model(impl, ops, **cfg):
    answers, live = replay(impl, ops + [("it",), ("n",)], **cfg)
    model = Model()
    for op, got in zip(ops, answers):
        assert got == model.apply(op), f"{impl}: op {op} answered {got!r}"
    visited = answers[len(ops)].split()[1:]
    pairs = [tuple(map(int, kv.split(":"))) for kv in visited]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"{impl}: iteration visited a key twice"
    assert dict(pairs) == model.d, f"{impl}: iteration disagrees with the model"
    assert answers[len(ops) + 1] == f"count {len(model.d)}"
    assert live == 0, f"{impl}: destroy left {live} live bytes"


keys = st.integers(min_value=0, max_value=40)
op_strategy = st.one_of(
    st.tuples(st.just("i"), keys, st.integers(min_value=0, max_value=2**64 - 1)),
    st.tuples(st.just("l"), keys),
    st.tuples(st.just("r"), keys),
    st.tuples(st.just("c")),
    st.tuples(st.just("n")),
)


@pytest.mark.parametrize("impl,kb,vb", CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_strategy, max_size=120), hint=st.sampled_from([0, 1, 7, 100]))
def test_random_ops_match_dict(impl, kb, vb, ops, hint):
    run_against_model(impl, ops, key_bytes=kb, val_bytes=vb, hint=hint)


@pytest.mark.parametrize("impl", MAP_NAMES)
@pytest.mark.parametrize("hint", [0, 2, 5000])
def test_grow_through_every_resize_point_then_drain(impl, hint):
    n = 600
    ops = [("i", k, k * 3) for k in range(n)]
    ops += [("l", k) for k in range(n + 5)]
    ops += [("r", k) for k in range(0, n, 2)] + [("n",)]
    ops += [("i", k, k) for k in range(0, n, 2)]
    ops += [("r", k) for k in range(n)] + [("n",)]
    run_against_model(impl, ops, hint=hint)


@pytest.mark.parametrize("impl", [n for n in MAP_NAMES if FLAGS[n] & F_SHRINK])
def test_shrink_policy_matches_dict_and_gives_bytes_back(impl):
    n = 2000
    ops = [("i", k, k) for k in range(n)] + [("s",)] + [("r", k) for k in range(n)] + [("s",)]
    answers, live = replay(impl, ops, shrink=True)
    peak = int(dict(kv.split("=") for kv in answers[n].split()[1:])["bytes"])
    after = int(dict(kv.split("=") for kv in answers[-1].split()[1:])["bytes"])
    assert after <= 0.05 * peak, f"{impl}: holds {after} of {peak} bytes after deleting all"
    assert live == 0


@pytest.mark.parametrize("impl", MAP_NAMES)
def test_clear_then_reuse(impl):
    ops = [("i", k, k) for k in range(300)] + [("c",), ("n",)]
    ops += [("l", k) for k in range(300)] + [("i", k, k + 1) for k in range(150)]
    run_against_model(impl, ops)


@pytest.mark.parametrize("impl,kb,vb",
                         [(n, *bp) for n in MAP_NAMES for bp in {blueprints(n)[0], blueprints(n)[-1]}])
def test_churn_at_constant_size(impl, kb, vb):
    p = run_driver(["churn", "--impl", impl, "--n", "3000", "--rounds", "10",
                    "--key-bytes", str(kb), "--val-bytes", str(vb)])
    assert p.returncode == 0, p.stderr
    assert "churn ok" in p.stdout


@pytest.mark.parametrize("impl,shrink", [(n, s) for n in MAP_NAMES for s in (False, True)
                                          if not s or FLAGS[n] & F_SHRINK])
def test_allocation_failure_sweep(impl, shrink):
    # Maps whose library aborts on its own allocation failures (trait oom-unsafe:
    # GLib's g_malloc) are swept too: the injected failures hit only the
    # allocations routed through mb_alloc (GLib's nodes), which must fail cleanly.
    args = ["sweep", "--impl", impl, "--n", "200"] + (["--shrink"] if shrink else [])
    p = run_driver(args)
    assert p.returncode == 0, p.stderr
    assert "sweep ok" in p.stdout
