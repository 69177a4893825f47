"""Shared fixtures: where the built binaries are, and a replay helper."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("MB_BUILD_DIR", ROOT / "build"))
MBTEST = BUILD / "mbtest"
MAPBENCH = BUILD / "mapbench"


def list_maps():
    """[(name, family, flags, traits)] from the registry, via the test driver."""
    out = subprocess.run([str(MBTEST), "list"], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        name, family, flags, traits = line.split("\t")
        rows.append((name, family, int(flags), traits))
    return rows


F_THREAD_SAFE, F_STR_KEYS, F_BIG_VALUES, F_SHRINK, F_OWN_ALLOC, F_CALIBRATION = (
    1 << i for i in range(6))
# calibration instruments (impls/calibration/) answer only the harness's own key
# streams, not a dict's arbitrary keys: the generic tests leave them out
MAPS = [m for m in list_maps() if not m[2] & F_CALIBRATION] if MBTEST.exists() else []
MAP_NAMES = [m[0] for m in MAPS]
FLAGS = {m[0]: m[2] for m in MAPS}


def blueprints(name):
    """The (key_bytes, val_bytes) pairs a map supports."""
    key_sizes = [8, 16, 48] if FLAGS[name] & F_STR_KEYS else [8]
    val_sizes = [8, 64] if FLAGS[name] & F_BIG_VALUES else [8]
    return [(k, v) for k in key_sizes for v in val_sizes]


def run_driver(args, stdin=""):
    return subprocess.run([str(MBTEST), *args], input=stdin, capture_output=True, text=True,
                          timeout=600)


def replay(impl, ops, key_bytes=8, val_bytes=8, hint=0, shrink=False):
    """Runs ops (tuples) through `mbtest replay`; returns (answers, live_bytes_after_destroy)."""
    args = ["replay", "--impl", impl, "--key-bytes", str(key_bytes), "--val-bytes",
            str(val_bytes), "--hint", str(hint)]
    if shrink:
        args.append("--shrink")
    text = "".join(" ".join(str(x) for x in op) + "\n" for op in ops)
    p = run_driver(args, text)
    lines = p.stdout.splitlines()
    check_fail = [l for l in lines if l.startswith("CHECK")]
    assert not check_fail, f"{impl}: invariant broken: {check_fail[0]}"
    assert p.returncode == 0, f"{impl}: driver exit {p.returncode}: {p.stderr}"
    assert lines and lines[-1].startswith("live_bytes "), p.stdout[-500:]
    return lines[:-1], int(lines[-1].split()[1])


def parse_stats(line):
    """Parses a `stats k=v ...` answer of `mbtest replay` into {name: int} (NA -> None)."""
    assert line.startswith("stats "), line
    return {k: (None if v == "NA" else int(v))
            for k, v in (kv.split("=") for kv in line.split()[1:])}


class Model:
    """The reference: a Python dict, answering exactly as the driver prints."""

    def __init__(self):
        self.d = {}

    def apply(self, op):
        kind = op[0]
        if kind == "i":
            old = op[1] in self.d
            self.d[op[1]] = op[2]
            return "replaced" if old else "inserted"
        if kind == "l":
            return f"found {self.d[op[1]]}" if op[1] in self.d else "notfound"
        if kind == "r":
            return "found" if self.d.pop(op[1], None) is not None else "notfound"
        if kind == "c":
            self.d.clear()
            return "ok"
        if kind == "n":
            return f"count {len(self.d)}"
        raise ValueError(kind)


@pytest.fixture(scope="session")
def mapbench():
    assert MAPBENCH.exists(), f"build first: {MAPBENCH} is missing"
    return MAPBENCH


# ---- the sanitizer pass (`make test`: MB_BUILD_DIR=build-asan MB_SANITIZED=1) --------------
# The CLI tests also run against the ASan/UBSan build of mapbench.  There the one
# test fixture that runs the whole quick suite (every map up to n = 1e6, minutes in
# a Release build) would take far too long, so its tests are skipped; every other
# CLI test runs sanitized.
SANITIZED = os.environ.get("MB_SANITIZED") == "1"


def pytest_collection_modifyitems(config, items):
    if not SANITIZED:
        return
    slow = pytest.mark.skip(reason="the quick suite's run is too slow under ASan/UBSan")
    no_valgrind = pytest.mark.skip(reason="callgrind cannot run an ASan binary")
    for item in items:
        if "quick_db" in getattr(item, "fixturenames", ()):
            item.add_marker(slow)
        elif "icount" in item.name:
            item.add_marker(no_valgrind)
