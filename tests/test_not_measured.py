"""An optional dependency that is absent is "not measured: package X not installed".

In the run's output, in table not_measured and on the report page; never a
failure and never silent.  A missing package is simulated without touching the
system: the run is started in its own mount namespace where an overlay hides
the library (a whiteout), so only that process tree sees the package removed.
"""
import os
import shutil
import sqlite3
import subprocess
import tempfile

import pytest

from conftest import MAPBENCH

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def run(args, env=None, hide=None, timeout=600):
    """Runs mapbench; with hide=PATH, in a mount namespace where PATH does not exist."""
    cmd = [str(MAPBENCH), *map(str, args)]
    if hide is None:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    top = tempfile.mkdtemp(prefix="mb-hide-")
    try:
        d = os.path.dirname(hide)
        script = ('set -e; mkdir "$1/up" "$1/work"; mknod "$1/up/$(basename "$2")" c 0 0; '
                  'mount -t overlay overlay -o "lowerdir=$3,upperdir=$1/up,workdir=$1/work" "$3"; '
                  'shift 3; exec "$@"')
        return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", top, hide, d, *cmd],
                              capture_output=True, text=True, env=env, timeout=timeout)
    finally:
        shutil.rmtree(top, ignore_errors=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace needs root (CI is root)")


@needs_root
def test_hiding_works():
    p = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert run(["list", "--allocators"], hide=JEMALLOC).stdout.split("\n")[2].split()[:3] == \
        ["jemalloc", "libjemalloc2", "no"]


@needs_root
def test_a_missing_allocator_is_not_measured_not_failed(tmp_path):
    db = tmp_path / "r.db"
    p = run(["run", "--impl", "chained", "--n", 2000, "--metric", "memory", "--db", db],
            hide=JEMALLOC)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "not measured: memory under jemalloc (package libjemalloc2 not installed)" in p.stderr
    assert "FAILED" not in p.stderr
    c = sqlite3.connect(db)
    assert c.execute("SELECT status FROM run").fetchall() == [("complete",)]
    assert c.execute("SELECT what, package, reason FROM not_measured").fetchall() == [
        ("memory under jemalloc", "libjemalloc2", "package libjemalloc2 not installed")]
    allocs = {a for (a,) in c.execute("SELECT DISTINCT allocator FROM mem_case WHERE impl = 'chained'")}
    assert allocs == {"glibc"}
    out = tmp_path / "report.html"
    r = run(["report", "--db", db, "--out", out])
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "Not measured in this run" in page and "libjemalloc2" in page


@needs_root
def test_naming_a_missing_allocator_is_a_usage_error():
    p = run(["run", "--impl", "chained", "--n", 2000, "--metric", "memory", "--allocator",
             "jemalloc", "--db", "/nonexistent/x.db"], hide=JEMALLOC)
    assert p.returncode == 2
    assert "jemalloc" in p.stderr.splitlines()[0] and "libjemalloc2" in p.stderr.splitlines()[0]


def test_go_not_built_is_not_measured(tmp_path):
    db = tmp_path / "r.db"
    env = dict(os.environ, MB_GORT_LIB="/nonexistent/libmbgort.so")
    p = run(["run", "--impl", "gomap", "--n", 2000, "--metric", "memory", "--allocator", "glibc",
             "--db", db], env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "not measured: memory of the real Go map: go_runtime (package golang-go not installed)" \
        in p.stderr
    c = sqlite3.connect(db)
    assert c.execute("SELECT package FROM not_measured").fetchall() == [("golang-go",)]
    assert c.execute("SELECT count(*) FROM mem_case WHERE impl = 'go_runtime'").fetchone() == (0,)


def test_a_complete_run_says_nothing_was_left_out(tmp_path):
    db = tmp_path / "r.db"
    p = run(["run", "--impl", "chained", "--n", 2000, "--metric", "memory", "--allocator", "glibc",
             "--db", db])
    assert p.returncode == 0 and "not measured" not in p.stderr, p.stderr[-2000:]
    c = sqlite3.connect(db)
    assert c.execute("SELECT count(*) FROM not_measured").fetchone() == (0,)
    assert c.execute("SELECT what FROM report_table_not_measured").fetchall() == [
        ("nothing: every selected mode had its packages",)]
