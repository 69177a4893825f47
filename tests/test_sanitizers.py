"""The same driver built with -fsanitize=address,undefined (every map: a seeded
random op sequence against a dict, the allocation-failure sweep, churn) and with
-fsanitize=thread (every thread-safe map under 4 threads).  `make test` builds
both and sets MB_ASAN_BUILD_DIR / MB_TSAN_BUILD_DIR."""
import os
import pathlib
import random
import subprocess

import pytest

from conftest import F_THREAD_SAFE, FLAGS, MAP_NAMES, Model, blueprints

ASAN = os.environ.get("MB_ASAN_BUILD_DIR")
TSAN = os.environ.get("MB_TSAN_BUILD_DIR")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1", TSAN_OPTIONS="halt_on_error=1")


def driver(build, args, stdin=""):
    exe = pathlib.Path(build) / "mbtest"
    assert exe.exists(), f"{exe} missing: run `make test` (it builds the sanitizer builds)"
    return subprocess.run([str(exe), *args], input=stdin, capture_output=True, text=True,
                          env=ENV, timeout=900)


def sanitizer_clean(p):
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-3000:]
    assert p.returncode == 0, p.stderr[-3000:]


needs_asan = pytest.mark.skipif(not ASAN, reason="MB_ASAN_BUILD_DIR not set (make test sets it)")
needs_tsan = pytest.mark.skipif(not TSAN, reason="MB_TSAN_BUILD_DIR not set (make test sets it)")


@needs_asan
@pytest.mark.parametrize("impl,kb,vb", [(n, *bp) for n in MAP_NAMES for bp in blueprints(n)])
def test_asan_random_ops_match_dict(impl, kb, vb):
    rng = random.Random(f"{impl}{kb}{vb}")
    ops = []
    for _ in range(3000):
        r, k = rng.random(), rng.randrange(400)
        ops.append(("i", k, rng.randrange(2**64)) if r < 0.5 else ("l", k) if r < 0.75
                   else ("r", k) if r < 0.995 else ("c",))
    text = "".join(" ".join(map(str, op)) + "\n" for op in ops) + "n\n"
    p = driver(ASAN, ["replay", "--impl", impl, "--key-bytes", str(kb), "--val-bytes", str(vb)],
               text)
    sanitizer_clean(p)
    model = Model()
    lines = p.stdout.splitlines()
    for op, got in zip(ops, lines):
        assert got == model.apply(op), (impl, op, got)
    assert lines[len(ops)] == f"count {len(model.d)}"
    assert lines[-1] == "live_bytes 0"


@needs_asan
@pytest.mark.parametrize("impl", MAP_NAMES)
def test_asan_allocation_failure_sweep_and_churn(impl):
    sanitizer_clean(driver(ASAN, ["sweep", "--impl", impl, "--n", "120"]))
    sanitizer_clean(driver(ASAN, ["churn", "--impl", impl, "--n", "500", "--rounds", "10"]))


@needs_tsan
@pytest.mark.parametrize("impl", [n for n in MAP_NAMES if FLAGS[n] & F_THREAD_SAFE])
def test_tsan_threads(impl):
    sanitizer_clean(driver(TSAN, ["threads", "--impl", impl, "--threads", "4", "--n", "5000"]))
