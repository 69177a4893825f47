"""The lean timed loops (issue 12): every phase that `mapbench time` runs
through mb_phase_prepare / mb_phase_run_prepared / mb_phase_verify still
proves every answer (a planted wrong map fails each one), the null map's
phases pass so its figures are the harness floor, the dependent and cold
lookups verify, and the standalone minimal loop (bench/lookup_loop.c) runs
and checks its answers.  No assert here is on a time."""
import os
import pathlib
import re
import subprocess

import pytest

from conftest import BUILD, MAP_NAMES, MAPBENCH, MBTEST, ROOT

PLANT_DIR = os.environ.get("MB_PLANT_BUILD_DIR")
needs_plant = pytest.mark.skipif(not PLANT_DIR, reason="MB_PLANT_BUILD_DIR not set (make test sets it)")
LOOP = BUILD / "mb_lookup_loop"

LEAN_PHASES = ["insert", "lookup_hit", "lookup_miss", "lookup_half_hit", "delete_all",
               "delete_half", "iterate", "clear", "reinsert", "lookup_hit_dependent"]


def time_cases(exe, *args, plant=None, timeout=600):
    env = dict(os.environ)
    env.pop("MB_PLANT", None)
    if plant:
        env["MB_PLANT"] = plant
    return subprocess.run([str(exe), "time", "--no-hint", "--emit-tsv", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


def samples(stdout):
    """{case name: [ns_per_op, ...]} from --emit-tsv's S lines."""
    got = {}
    for line in stdout.splitlines():
        f = line.split("\t")
        if f[0] == "S":
            got.setdefault(f[1], []).append(float(f[4]))
    return got


# ---- the null map -------------------------------------------------------------------

def test_null_map_is_registered_as_calibration_and_left_out_of_generic_lists():
    rows = [l.split("\t") for l in subprocess.run([str(MBTEST), "list"], check=True,
                                                  capture_output=True, text=True).stdout.splitlines()]
    null = [r for r in rows if r[0] == "null_map"]
    assert len(null) == 1 and null[0][1] == "calibration" and int(null[0][2]) & (1 << 5)
    assert "null_map" not in MAP_NAMES                  # not compared with a Python dict
    # the default selection (every map of the suite) leaves it out; by name it runs
    p = time_cases(MAPBENCH, "--phase", "clear", "--n", 100)
    assert p.returncode == 0, p.stderr[-2000:]
    names = {n.split("/")[0] for n in samples(p.stdout)}
    assert "swiss" in names and "null_map" not in names
    p = time_cases(MAPBENCH, "--impl", "null_map", "--phase", "clear", "--n", 100)
    assert p.returncode == 0 and {n.split("/")[0] for n in samples(p.stdout)} == {"null_map"}


@pytest.mark.parametrize("n", [1000, 30000])
def test_null_map_passes_every_lean_phase(n):
    phases = LEAN_PHASES + ["lookup_hit_cold"]
    p = time_cases(MAPBENCH, "--impl", "null_map", "--phase", ",".join(phases), "--n", n)
    assert p.returncode == 0, p.stderr[-2000:]
    got = samples(p.stdout)
    assert {k.split("/")[1] for k in got} == set(phases)
    assert all(v > 0 for vs in got.values() for v in vs)


def test_null_map_refuses_streams_its_range_model_cannot_answer():
    # shuffled order inserts out of index order: the map marks itself broken,
    # its answers stop being right, and the case fails instead of timing
    p = time_cases(MAPBENCH, "--impl", "null_map", "--phase", "lookup_hit,delete_all", "--n", 500,
                   "--dist", "shuffled")
    assert p.returncode == 1
    assert "FAILED null_map/lookup_hit" in p.stderr and "FAILED null_map/delete_all" in p.stderr


def test_null_map_agrees_with_a_real_map_on_the_untimed_phases():
    """Half hits, iterate and a half delete on an odd size with another seed:
    the null map's answers match what the stream says, as swiss's do."""
    for impl in ("null_map", "swiss"):
        p = time_cases(MAPBENCH, "--impl", impl, "--phase", "lookup_half_hit,iterate,delete_half",
                       "--n", 4097, "--seed", 12345)
        assert p.returncode == 0, (impl, p.stderr[-2000:])


# ---- dependent and cold lookups ---------------------------------------------------------

@pytest.mark.parametrize("dist", ["uniform", "sequential", "shuffled", "zipf"])
@pytest.mark.parametrize("blueprint", ["u64->u64", "u64->64B", "u64->ptr64", "str16->u64",
                                       "str48->u64"])
def test_dependent_lookups_verify(dist, blueprint):
    p = time_cases(MAPBENCH, "--impl", "swiss,chained,gomap,absl", "--phase",
                   "lookup_hit_dependent", "--n", 700, "--dist", dist, "--blueprint", blueprint)
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(samples(p.stdout)) >= 3


@pytest.mark.parametrize("blueprint", ["u64->u64", "u64->64B", "str16->u64"])
def test_cold_lookups_verify(blueprint):
    p = time_cases(MAPBENCH, "--impl", "swiss,oa_linear,absl", "--phase", "lookup_hit_cold",
                   "--n", 60000, "--blueprint", blueprint, "--dist", "uniform,zipf", timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(samples(p.stdout)) >= 4


def test_cold_lookups_refuse_pointer_values_loudly():
    p = time_cases(MAPBENCH, "--impl", "swiss", "--phase", "lookup_hit_cold", "--n", 1000,
                   "--blueprint", "u64->ptr64")
    assert p.returncode == 1 and "inline values only" in p.stderr


def test_new_phases_are_named_and_not_in_the_suites():
    p = subprocess.run([str(MAPBENCH), "run", "--help"], capture_output=True, text=True)
    assert "lookup_hit_dependent" in p.stdout and "lookup_hit_cold" in p.stdout
    p = time_cases(MAPBENCH, "--suite", "full", "--impl", "null_map", "--n", 100,
                   "--benchmark_list_tests=true")
    assert "lookup_hit_cold" not in p.stdout and "lookup_hit_dependent" not in p.stdout


# ---- a wrong map fails every lean phase -------------------------------------------------

@needs_plant
@pytest.mark.parametrize("phase,blueprint,n", [
    ("lookup_hit", "u64->u64", 5000), ("lookup_hit", "u64->64B", 5000),
    ("lookup_hit", "u64->ptr64", 5000), ("lookup_hit", "str16->u64", 5000),
    ("lookup_half_hit", "u64->u64", 5000), ("lookup_half_hit", "str48->u64", 5000),
    ("lookup_hit_dependent", "u64->u64", 5000), ("lookup_hit_dependent", "u64->64B", 5000),
    ("lookup_hit_cold", "u64->u64", 200000)])
def test_planted_wrong_value_fails_each_lookup_phase(phase, blueprint, n):
    exe = pathlib.Path(PLANT_DIR) / "mapbench"
    clean = time_cases(exe, "--impl", "oa_linear", "--phase", phase, "--blueprint", blueprint,
                       "--n", n)
    assert clean.returncode == 0, clean.stderr[-2000:]          # the wrapper alone is right
    p = time_cases(exe, "--impl", "oa_linear", "--phase", phase, "--blueprint", blueprint,
                   "--n", n, plant="wrong_value")
    assert p.returncode == 1, p.stdout[-2000:]
    assert "checksum mismatch" in p.stderr and "FAILED oa_linear/" + phase in p.stderr
    assert samples(p.stdout) == {}                               # no time for a wrong answer


@needs_plant
def test_the_timed_hit_loops_sum_alone_catches_a_planted_wrong_value():
    """mapbench time checks each answer in its untimed warm-up passes, so the
    test above fails there first; the timed passes check only the sum of the
    values found (workload.h).  The loop's --keys lean runs exactly those
    timed passes, with no warm-up check before them: the sum alone must fail."""
    loop = pathlib.Path(PLANT_DIR) / "mb_lookup_loop"
    args = [str(loop), "--impl", "oa_linear", "--n", "5000", "--reps", "2", "--keys", "lean",
            "--phase", "lookup_hit"]
    env = {k: v for k, v in os.environ.items() if k != "MB_PLANT"}
    clean = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert clean.returncode == 0, clean.stderr[-2000:]
    p = subprocess.run(args, capture_output=True, text=True,
                       env={**env, "MB_PLANT": "wrong_value"}, timeout=120)
    assert p.returncode == 1 and "lookup_hit: wrong answers" in p.stderr, p.stderr[-2000:]


@needs_plant
@pytest.mark.parametrize("phase", ["insert", "reinsert", "lookup_miss", "lookup_half_hit",
                                   "delete_all", "delete_half", "iterate"])
@pytest.mark.parametrize("blueprint", ["u64->u64", "str16->u64", "u64->ptr64"])
def test_planted_wrong_answers_fail_each_phase(phase, blueprint):
    exe = pathlib.Path(PLANT_DIR) / "mapbench"
    p = time_cases(exe, "--impl", "oa_linear", "--phase", phase, "--blueprint", blueprint,
                   "--n", 5000, plant="wrong_answer")
    assert p.returncode == 1, (phase, p.stdout[-2000:])
    assert "FAILED oa_linear/" + phase in p.stderr
    assert "checksum mismatch" in p.stderr or "wrong entry count" in p.stderr
    assert samples(p.stdout) == {}


# ---- the standalone loop and what the memory system was ----------------------------------

def test_standalone_loop_runs_checks_and_reports_thp():
    p = subprocess.run([str(LOOP), "--impl", "swiss,absl,null_map", "--n", "1000,20000",
                        "--reps", "2", "--keys", "all"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.splitlines()
    m = re.fullmatch(r"# thp enabled=(\S+) defrag=(\S+)", lines[0])
    assert m, lines[0]
    for which, got in zip(("enabled", "defrag"), m.groups()):
        path = pathlib.Path("/sys/kernel/mm/transparent_hugepage") / which
        want = re.search(r"\[(\w[\w+]*)\]", path.read_text()).group(1) if path.exists() else "unknown"
        assert got == want
    rows = [l.split("\t") for l in lines[2:]]
    assert {(r[0], r[1], r[2], r[3]) for r in rows} == {
        (i, n, ph, k) for i in ("swiss", "absl", "null_map") for n in ("1000", "20000")
        for ph in ("lookup_hit", "lookup_miss") for k in ("inline", "array", "lean")}
    assert all(0 < float(r[6]) <= float(r[7]) for r in rows)     # min <= median


def test_standalone_loop_with_hugepages_still_verifies():
    p = subprocess.run([str(LOOP), "--impl", "swiss,arena", "--n", "300000", "--reps", "1",
                        "--keys", "array", "--hugepages"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert all(l.split("\t")[4] == "1" for l in p.stdout.splitlines()[2:])


def test_standalone_loop_on_fresh_maps_with_warm_up_still_verifies():
    p = subprocess.run([str(LOOP), "--impl", "swiss,chained", "--n", "3000", "--reps", "3",
                        "--keys", "all", "--fresh", "--warm", "2", "--phase", "lookup_miss"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [l.split("\t") for l in p.stdout.splitlines()[2:]]
    assert {(r[0], r[2], r[3]) for r in rows} == {
        (i, "lookup_miss", k) for i in ("swiss", "chained") for k in ("inline", "array", "lean")}


def test_standalone_loop_rejects_bad_arguments():
    for args in (["--keys", "sideways"], ["--bogus"], ["--impl", "no_such_map", "--n", "10"],
                 ["--warm", "-1"], ["--warm", "x"], ["--phase", "lookup_sideways"]):
        p = subprocess.run([str(LOOP), *args], capture_output=True, text=True)
        assert p.returncode == 2, args


def test_icount_of_the_lean_only_phases_counts_the_loop_alone(tmp_path):
    """Instruction counts are deterministic: the dependent and cold phases,
    which exist only as lean loops, must count their timed part alone (not
    the prepared keys, not the cold phase's copies of the map), so per op
    they cost less than the classic lookup_hit loop with its key generation."""
    import sqlite3
    db = tmp_path / "ic.db"
    p = subprocess.run([str(MAPBENCH), "run", "--impl", "swiss", "--phase",
                        "lookup_hit,lookup_hit_dependent,lookup_hit_cold", "--n", "2000",
                        "--metric", "icount", "--db", str(db)],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    with sqlite3.connect(db) as c:
        ipo = dict(c.execute("SELECT phase, instructions_per_op FROM icount_per_op"))
    assert set(ipo) == {"lookup_hit", "lookup_hit_dependent", "lookup_hit_cold"}
    assert 0 < ipo["lookup_hit_dependent"] < ipo["lookup_hit"]
    assert 0 < ipo["lookup_hit_cold"] < ipo["lookup_hit"]


# ---- Google Benchmark's cpu_time and threads ---------------------------------------------

def gb_runs(*args, exe=MAPBENCH):
    """The iteration runs of `mapbench time ... --benchmark_format=json`."""
    import json
    p = subprocess.run([str(exe), "time", "--no-hint", "--benchmark_format=json", *map(str, args)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return [b for b in json.loads(p.stdout)["benchmarks"] if b["run_type"] == "iteration"]


# The CPU the library's own pause/resume adds per iteration (clock reads in a
# debug build of libbenchmark; ~10 us here): small against the untimed setup
# it once counted (clear: inserting 1e5 keys, milliseconds per iteration).
CPU_SLACK_NS = 50_000


def test_cpu_time_is_the_timed_regions_cpu():
    """clear's untimed setup (a map of n keys built per iteration) is hundreds
    of times its timed region and delete_all's a few times: with the library's
    timer running over the whole loop, cpu_time read the build (clear at 1e5:
    ~5-10 ms against ~5 us of real_time) and this fails.  One thread's CPU over
    a region cannot exceed its wall time, so the bound holds however loaded
    the machine is (preemption adds wall time, not CPU)."""
    runs = gb_runs("--impl", "swiss,chained", "--phase", "clear,delete_all", "--n", 100000,
                   "--shrink", "never", "--reps", 2)
    assert {(b["name"].split("/")[0], b["name"].split("/")[1]) for b in runs} == {
        (i, ph) for i in ("swiss", "chained") for ph in ("clear", "delete_all")}
    for b in runs:
        assert b["time_unit"] == "ns" and b["cpu_time"] > 0, b
        assert b["cpu_time"] <= b["real_time"] * 1.5 + CPU_SLACK_NS, \
            (b["name"], b["cpu_time"], b["real_time"])


def test_threads_are_reported_truly_and_names_stay_stable():
    runs = gb_runs("--impl", "sharded", "--phase", "mixed_rw,lookup_hit", "--threads", "1,2",
                   "--n", 2000, "--reps", 2)
    seen = set()
    for b in runs:
        m = re.search(r"/threads:(\d+)/", b["name"])
        want = int(m.group(1)) if "/mixed_rw/" in b["name"] else 1
        assert b["threads"] == want, (b["name"], b["threads"])
        seen.add(b["threads"])
        # mixed_rw's cpu_time is its threads' (the library's process_time)
        assert b["name"].endswith("/process_time/manual_time" if "/mixed_rw/" in b["name"]
                                  else "/manual_time") and "repeats:" not in b["name"]
    assert seen == {1, 2}
    names = {b["name"] for b in runs}
    assert names == {b["name"] for b in gb_runs("--impl", "sharded", "--phase",
                                                "mixed_rw,lookup_hit", "--threads", "1,2",
                                                "--n", 2000, "--reps", 1)}


def test_benchmark_out_file_reports_threads_too(tmp_path):
    import json
    out = tmp_path / "o.json"
    p = subprocess.run([str(MAPBENCH), "time", "--impl", "sharded", "--phase", "mixed_rw",
                        "--threads", "2", "--n", "1000", "--reps", "2", f"--benchmark_out={out}",
                        "--benchmark_out_format=json"], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "mixed_rw" in p.stdout                                # the console report as well
    got = json.loads(out.read_text())["benchmarks"]
    assert {b["run_type"] for b in got} == {"iteration", "aggregate"}
    assert all(b["threads"] == 2 for b in got)                   # aggregates too
    p = subprocess.run([str(MAPBENCH), "time", "--impl", "sharded", "--phase", "mixed_rw",
                        "--threads", "2", "--n", "1000", "--reps", "1", f"--benchmark_out={out}",
                        "--benchmark_out_format=csv"], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = out.read_text().splitlines()   # the library's csv (no threads column), after its context
    head = next(i for i, l in enumerate(lines) if l.startswith("name,iterations,real_time,cpu_time"))
    assert "mixed_rw" in lines[head + 1]
