"""The thread-safe maps `sharded` (2^k shards, one lock each) and `locked` (one
global lock): concurrent use through `mbtest threads`, the same under
ThreadSanitizer, and where the keys go.  The conformance suite covers their
single-threaded behaviour like every other map's.

Builds: MB_BUILD_DIR (default build/) as in conftest.py; the TSan test runs the
build in MB_TSAN_BUILD_DIR (configured with -DMB_SANITIZE=thread) and is
skipped when that variable is not set."""
import os
import pathlib
import subprocess

import pytest

from conftest import MAP_NAMES, MAPS, ROOT, parse_stats, replay, run_driver

THREAD_MAPS = ["sharded", "locked"]


def traits(name):
    return dict(t.split("=", 1) if "=" in t else (t, "") for t in
                next(m[3] for m in MAPS if m[0] == name).split(","))


@pytest.mark.parametrize("impl", THREAD_MAPS)
def test_registered_with_a_registered_inner_map(impl):
    assert impl in MAP_NAMES, f"{impl} is not in the registry"
    inner = traits(impl).get("inner")
    assert inner, f"{impl}: traits do not name the inner map"
    assert inner in MAP_NAMES, (
        f"{impl}: inner map {inner!r} is not registered in this build; build with "
        f"-DCMAKE_C_FLAGS='-DSH_INNER_NAME=\\\"oa_linear\\\"' until it is")
    answers, live = replay(impl, [("i", 1, 2), ("l", 1), ("n",)])
    assert answers == ["inserted", "found 2", "count 1"]
    assert live == 0


@pytest.mark.parametrize("impl", THREAD_MAPS)
@pytest.mark.parametrize("kb,vb,n", [(8, 8, 20000), (48, 64, 3000)])
def test_threads(impl, kb, vb, n):
    p = run_driver(["threads", "--impl", impl, "--threads", "4", "--n", str(n),
                    "--key-bytes", str(kb), "--val-bytes", str(vb)])
    assert p.returncode == 0, p.stderr
    assert f"threads ok: {impl} threads=4 n={n}" in p.stdout


@pytest.mark.parametrize("impl", THREAD_MAPS)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_threads_small_with_shrink_release_and_revive(impl, seed):
    """Few keys per shard, low-water policy: shards empty out (their inner map
    is released) and are revived by later inserts while other threads work."""
    p = run_driver(["threads", "--impl", impl, "--threads", "4", "--n", "12", "--shrink",
                    "--seed", str(seed)])
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("impl", THREAD_MAPS)
def test_delete_all_under_low_water_releases_every_shard(impl):
    """After n inserts and n removes under --shrink, a shard still holding an
    inner map would show capacity > 0.  Every inner map is created at create()
    and released only when a remove empties it, so capacity 0 proves that every
    shard received keys (the high hash bits spread them) and was emptied."""
    n = 2000
    ops = [("i", k, k) for k in range(n)] + [("s",)]
    ops += [("r", k) for k in range(n)] + [("s",), ("n",)]
    ops += [("i", k, k + 1) for k in range(0, n, 7)] + [("l", 14), ("s",)]
    answers, live = replay(impl, ops, shrink=True)
    full, empty, revived = (parse_stats(l) for l in answers if l.startswith("stats "))
    assert full["count"] == n and full["capacity"] > 0
    assert empty["count"] == 0
    assert empty["capacity"] == 0, f"{impl}: a shard kept its inner map after delete-all"
    assert empty["bytes"] < 0.05 * full["bytes"]
    assert empty["shrink_events"] > full["shrink_events"]
    assert "count 0" in answers
    assert revived["count"] == len(range(0, n, 7)) and "found 15" in answers
    assert revived["grow_events"] > empty["grow_events"]
    assert live == 0


def test_hint_is_split_across_shards():
    """With a capacity hint of n and n uniform keys: each shard gets about n/16
    keys and a hint of n/16 + 3 sigma, so (almost) no shard grows.  Keys piled
    into one shard would grow it ~log2(16) times; a hint not split would give
    sharded ~16x the capacity of locked."""
    n = 8000
    text = "".join(f"i {k * 2654435761 % 2**61} {k}\n" for k in range(n)) + "s\n"

    def final_stats(impl):  # --no-check: check() after each of n ops is O(n^2)
        p = run_driver(["replay", "--impl", impl, "--hint", str(n), "--no-check"], text)
        assert p.returncode == 0, p.stderr
        return parse_stats(p.stdout.splitlines()[-2])

    sharded, locked = final_stats("sharded"), final_stats("locked")
    assert sharded["count"] == locked["count"] == n
    assert sharded["grow_events"] is None or sharded["grow_events"] <= 2
    assert sharded["capacity"] <= 2 * locked["capacity"]


@pytest.mark.parametrize("impl", THREAD_MAPS)
def test_under_thread_sanitizer(impl):
    tsan = os.environ.get("MB_TSAN_BUILD_DIR")
    if not tsan:
        pytest.skip("MB_TSAN_BUILD_DIR is not set (make test sets it after configuring "
                    "a -DMB_SANITIZE=thread build)")
    mbtest = pathlib.Path(tsan)
    if not mbtest.is_absolute():
        mbtest = ROOT / mbtest
    mbtest = mbtest / "mbtest"
    assert mbtest.exists(), f"MB_TSAN_BUILD_DIR is set but {mbtest} is missing: build it"
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1 exitcode=66")
    for args in (["--n", "20000"], ["--n", "12", "--shrink"]):
        p = subprocess.run([str(mbtest), "threads", "--impl", impl, "--threads", "4", *args],
                           capture_output=True, text=True, timeout=600, env=env)
        assert "ThreadSanitizer" not in p.stderr, p.stderr[-4000:]
        assert p.returncode == 0, p.stderr[-4000:]
        assert "threads ok" in p.stdout
