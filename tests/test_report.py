"""Plots, the HTML report and the claims, on a fixture database whose answers are known.

The fixture is one real run (`mapbench run --n 1000 --impl oa_linear --no-time`: memory
only, one map) plus two hand-made runs written with sqlite3, so every plot has known
series and every claim a known verdict:

  run A (older):  hint saves time for every map; sharded loses to locked at 4 threads;
                  oa_linear keeps capacity on clear, as its traits say.
  run B (latest): hint is slower for 2 of 3 maps; sharded beats locked; oa_linear drops
                  capacity on clear although its traits say it keeps it; chained's
                  lookup_hit is 30% slower and gomap's instructions 5% higher than in run A.
"""
import html
import html.parser
import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import MAPBENCH, ROOT

PLOTS = sorted(p.stem for p in (ROOT / "plots").glob("*.gp") if p.stem != "common")
TIMED = ["oa_linear", "chained", "gomap"]          # timed and measured in runs A and B
THREADED = ["sharded", "locked"]                   # mixed_rw only
ANY_MAP = set(TIMED + THREADED + ["chained_pool", "arena", "swiss", "oa_robinhood",
                                  "uthash", "stb_ds", "glib", "absl"])
PHASES = ["insert", "lookup_hit", "lookup_miss", "delete_all", "clear"]
SIZES = [1000, 100000]
MIB = 1 << 20


def mb(*args, check=True, timeout=600):
    p = subprocess.run([str(MAPBENCH), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if check:
        assert p.returncode == 0, f"mapbench {' '.join(map(str, args))}: {p.stdout}{p.stderr}"
    return p


# ---- the fixture ----------------------------------------------------------------------

def memory_script(kind, n, drop_capacity_on_clear=False):
    """(phase, entries, map_live, rss_above_start, alloc_held_above_start, capacity) rows."""
    half = n // 2
    if kind == "chained":          # nodes go back to malloc, buckets stay; RSS stays until trim
        live = [0, 40 * n, 24 * n, 8 * n, 8 * n, 40 * n, 8 * n, 8 * n, 0, 0]
        rss = [0, 56 * n, 56 * n, 56 * n, 9 * n, 56 * n, 56 * n, 9 * n, n, 0]
        cap = [8] + [n] * 7 + [None, None]
    elif kind == "gomap":          # never shrinks; clear keeps the buckets
        live = [0] + [50 * n] * 7 + [0, 0]
        rss = [0] + [51 * n] * 7 + [51 * n, 0]
        cap = [8] + [2 * n] * 7 + [None, None]
    else:                          # oa_linear
        live = [0, 36 * n, 36 * n, 36 * n, 36 * n, 36 * n, 36 * n, 36 * n, 0, 0]
        cap = [8] + [2 * n] * 7 + [None, None]
        if drop_capacity_on_clear:
            live[6] = live[7] = 64
            cap[6] = cap[7] = 8
        rss = [max(x, 0) + (n if x else 0) for x in live]
    phases = ["start", "insert", "delete_half", "delete_all", "trim", "reinsert", "clear",
              "trim_after_clear", "destroy", "trim_after_destroy"]
    entries = [0, n, half, 0, 0, n, 0, 0, 0, 0]
    return [(p, e, l, r, r, c) for p, e, l, r, c in zip(phases, entries, live, rss, cap)]


TRAITS = {"oa_linear": "tombstones,clear-keeps-capacity",
          "chained": "node-per-entry,clear-frees-nodes,clear-keeps-buckets",
          "gomap": "buckets,no-shrink", "sharded": "thread-safe", "locked": "thread-safe"}
FAMILY = {"oa_linear": "open-addressing", "chained": "chained", "gomap": "bucketed",
          "sharded": "sharded", "locked": "sharded"}


def add_run(c, tag, finished_at, *, hint_factor, sharded_ns_at_4, chained_lookup,
            gomap_instructions, oa_drops_capacity, hostname="fixture"):
    cur = c.execute(
        "INSERT INTO run (run_uuid, started_at, finished_at, status, suite, seed, git_sha,"
        " git_dirty, compiler, cpu_model, cores, kernel, hostname, l1d_bytes, l2_bytes, l3_bytes,"
        " processes, argv) VALUES (?, ?, ?, 'complete', 'custom', 1, 'f1x7ure', 0, 'cc',"
        " 'Fixture CPU & co', 2, 'linux', ?, 32768, 1048576, 33554432, 3, 'fixture')",
        (f"fixture-{tag}", finished_at, finished_at, hostname))
    run = cur.lastrowid

    def bench(impl, phase, n, hint, threads, ns, instructions=None):
        mixed = phase == "mixed_rw"  # the 90/10 mix, with a ceiling beside each sample
        b = c.execute("INSERT INTO bench (run_id, impl, family, traits, phase, blueprint,"
                      " distribution, n, hint, threads, allocator, lookup_percent) VALUES"
                      " (?, ?, ?, ?, ?, 'u64->u64', 'uniform', ?, ?, ?, 'glibc', ?)",
                      (run, impl, FAMILY[impl], TRAITS[impl], phase, n, hint, threads,
                       90 if mixed else None)).lastrowid
        for proc, f in enumerate([0.95, 1.0, 1.1]):
            c.execute("INSERT INTO sample (bench_id, process_index, repetition, iterations,"
                      " ns_per_op, ceiling_ns_per_op) VALUES (?, ?, 0, 10, ?, ?)",
                      (b, proc, ns * f, 20.0 / threads if mixed else None))
        if instructions is not None:
            c.execute("INSERT INTO icount VALUES (?, ?, ?)", (b, int(instructions * n), n))

    base = {"oa_linear": 20.0, "chained": 35.0 * chained_lookup, "gomap": 28.0}
    per_phase = {"insert": 4.0, "lookup_hit": 1.0, "lookup_miss": 0.8, "delete_all": 1.5,
                 "clear": 0.05}
    instr = {"oa_linear": 50.0, "chained": 60.0, "gomap": 70.0 * gomap_instructions}
    for impl in TIMED:
        for n in SIZES:
            grow = 1.0 if n == 1000 else 2.0
            for ph in PHASES:
                ns = base[impl] * per_phase[ph] * grow
                bench(impl, ph, n, 0, 1, ns, instr[impl] if ph == "lookup_hit" else None)
            bench(impl, "insert", n, n, 1, base[impl] * 4.0 * grow * hint_factor[impl])
            mc = c.execute("INSERT INTO mem_case (run_id, impl, family, traits, blueprint,"
                           " distribution, n, allocator) VALUES (?, ?, ?, ?, 'u64->u64',"
                           " 'uniform', ?, 'glibc')",
                           (run, impl, FAMILY[impl], TRAITS[impl], n)).lastrowid
            start_rss, start_held = 4 * MIB, 128 * 1024
            rows = memory_script(impl, n, drop_capacity_on_clear=oa_drops_capacity)
            peak = 0
            for i, (ph, entries, live, rss, held, cap) in enumerate(rows):
                peak = max(peak, live)
                c.execute("INSERT INTO mem_phase (mem_case_id, phase_index, phase, entries,"
                          " map_live_bytes, map_peak_bytes, alloc_in_use_bytes, alloc_held_bytes,"
                          " rss_bytes, anon_bytes, minor_faults, phase_ns, capacity) VALUES"
                          " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1000, ?)",
                          (mc, i, ph, entries, live, peak, start_held + live,
                           start_held + held, start_rss + rss, start_rss + rss, cap))
    for impl in THREADED:
        for t in (1, 2, 4):
            if impl == "sharded":
                ns = 100.0 / t if t < 4 else sharded_ns_at_4
            else:
                ns = 100.0 * (1 + 0.2 * t)
            bench(impl, "mixed_rw", 100000, 0, t, ns)
    return run


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    """(bare, fixture, runs): bare holds only the real one-map run; fixture adds runs A, B."""
    d = tmp_path_factory.mktemp("report")
    bare = d / "bare.db"
    mb("run", "--n", "1000", "--impl", "oa_linear", "--no-time", "--db", bare)
    fixture = d / "fixture.db"
    shutil.copy(bare, fixture)
    with sqlite3.connect(fixture) as c:
        real = c.execute("SELECT run_id FROM run").fetchone()[0]
        a = add_run(c, "A", "2999-01-01T00:00:00.000Z",
                    hint_factor={"oa_linear": 0.6, "chained": 0.7, "gomap": 0.8},
                    sharded_ns_at_4=200.0, chained_lookup=1.0, gomap_instructions=1.0,
                    oa_drops_capacity=False)
        b = add_run(c, "B", "2999-02-01T00:00:00.000Z",
                    hint_factor={"oa_linear": 0.6, "chained": 1.2, "gomap": 1.1},
                    sharded_ns_at_4=20.0, chained_lookup=1.3, gomap_instructions=1.05,
                    oa_drops_capacity=True, hostname="<script>alert('x')</script>")
    return bare, fixture, {"real": real, "A": a, "B": b}


def query(db, sql, *params):
    mb("query", "SELECT 1", "--db", db)     # install the current views and claims first
    with sqlite3.connect(db) as c:
        return c.execute(sql, params).fetchall()


# ---- plots --------------------------------------------------------------------------------

def svg_map_names(path):
    """The map names that appear as whole words in the SVG's text elements (legend
    entries and panel titles)."""
    root = ET.parse(path).getroot()
    words = set()
    for el in root.iter():
        if el.tag.endswith("}text") or el.tag == "text":
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "".join(el.itertext())))
    return words & ANY_MAP


def svg_text(path):
    root = ET.parse(path).getroot()
    return " ".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))


def check_images(out, expected):
    for name in PLOTS:
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, name
        svg = out / f"{name}.svg"
        ET.parse(svg)                                   # well-formed XML
        assert svg.read_text().rstrip().endswith("</svg>"), name
        if name in expected:
            assert svg_map_names(svg) == set(expected[name]), name


def test_plot_scripts_cover_every_question():
    assert set(PLOTS) >= {"ns_per_op", "memory_by_phase", "bytes_per_entry", "retained",
                          "thread_scaling", "trends", "insert_latency"}
    for name in PLOTS:                # each reads a named view and filters on the run
        text = (ROOT / "plots" / f"{name}.gp").read_text()
        assert re.search(r"FROM plot_\w+ WHERE", text), name
        assert "run_id = %d" in text or "run_seq <= %d" in text, name


def test_every_plot_renders_with_one_series_per_map(dbs, tmp_path):
    _, fixture, _ = dbs
    out = tmp_path / "plots"
    p = mb("plot", "--db", fixture, "--out", out)
    assert f"rendered {len(PLOTS)} plots" in p.stdout
    check_images(out, {"ns_per_op": TIMED, "memory_by_phase": TIMED, "bytes_per_entry": TIMED,
                       "retained": TIMED, "thread_scaling": THREADED, "trends": TIMED})
    trends = svg_text(out / "trends.svg")
    assert "±15%" in trends and "±2%" in trends and "±1%" in trends


def test_plot_run_flag_draws_an_older_run(dbs, tmp_path):
    _, fixture, runs = dbs
    out = tmp_path / "old"
    mb("plot", "--db", fixture, "--out", out, "--run", runs["real"])
    # the real run: memory of oa_linear only, no timings, no threads
    check_images(out, {"ns_per_op": [], "memory_by_phase": ["oa_linear"],
                       "bytes_per_entry": ["oa_linear"], "retained": ["oa_linear"],
                       "thread_scaling": [], "trends": ["oa_linear"],
                       "insert_latency": ["oa_linear"]})
    assert "no thread-safe map measured" in svg_text(out / "thread_scaling.svg")
    assert "no timed phases" in svg_text(out / "ns_per_op.svg")
    assert f"run {runs['real']}," in svg_text(out / "memory_by_phase.svg")


def test_plots_render_on_a_database_with_one_run_and_one_map(dbs, tmp_path):
    bare, _, _ = dbs
    out = tmp_path / "bare"
    p = subprocess.run(["sh", "plots/render.sh", str(MAPBENCH), str(bare), str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    check_images(out, {"memory_by_phase": ["oa_linear"], "thread_scaling": []})
    assert "no instruction counts" in svg_text(out / "trends.svg")


def test_plots_render_for_a_run_with_timings_only(tmp_path):
    db = tmp_path / "time-only.db"
    mb("run", "--n", "1000", "--impl", "oa_linear", "--no-memory", "--no-hint",
       "--processes", "1", "--db", db)
    out = tmp_path / "plots"
    mb("plot", "--db", db, "--out", out)
    check_images(out, {"ns_per_op": ["oa_linear"], "memory_by_phase": [], "retained": [],
                       "bytes_per_entry": [], "thread_scaling": [], "trends": ["oa_linear"]})
    for name in ("memory_by_phase", "retained", "bytes_per_entry"):
        assert "no memory measurements in this run" in svg_text(out / f"{name}.svg"), name
    p = mb("report", "--db", db, "--out", tmp_path / "report.html")
    assert "Not measured" in (tmp_path / "report.html").read_text()


def test_plot_refuses_bad_runs_and_arguments(dbs, tmp_path):
    _, fixture, _ = dbs
    p = mb("plot", "--db", fixture, "--out", tmp_path, "--run", 999, check=False)
    assert p.returncode == 1 and "no complete run 999" in p.stderr
    for args in (["plot", "--bogus"], ["report", "--run", "x"], ["plot", "--run"]):
        p = mb(*args, check=False)
        assert p.returncode == 2 and p.stderr.startswith("mapbench: "), args
        assert "usage: mapbench " + args[0] in p.stderr
    for cmd in ("plot", "report"):
        assert mb(cmd, "--help").stdout.startswith("usage: mapbench " + cmd)


# ---- claims -------------------------------------------------------------------------------

EXPECTED_CLAIMS = {
    "B": {"gomap_never_shrinks": "holds", "hint_saves_time": "does not hold",
          "pointer_values_cost_bytes": "not measured", "sharded_beats_locked": "holds",
          "chained_frees_to_allocator_not_os": "holds", "clear_keeps_capacity": "does not hold",
          "go_delete_frees_nothing": "not measured", "go_nil_gc_gives_back": "not measured",
          "rebuild_gives_back": "not measured", "pointer_values_cost_gc": "not measured",
          "shrink_costs_on_delete": "not measured"},
    "A": {"gomap_never_shrinks": "holds", "hint_saves_time": "holds",
          "pointer_values_cost_bytes": "not measured", "sharded_beats_locked": "does not hold",
          "chained_frees_to_allocator_not_os": "holds", "clear_keeps_capacity": "holds",
          "go_delete_frees_nothing": "not measured", "go_nil_gc_gives_back": "not measured",
          "rebuild_gives_back": "not measured", "pointer_values_cost_gc": "not measured",
          "shrink_costs_on_delete": "not measured"},
    # the real run: oa_linear memory at n = 1000 only (and the real Go map's): below the
    # 1 MiB the Go, rebuild and GC claims need; no timings for the shrink claim.  The new
    # claims are pinned on their own fixture in tests/test_shrink.py.
    "real": {"gomap_never_shrinks": "not measured", "hint_saves_time": "not measured",
             "pointer_values_cost_bytes": "not measured", "sharded_beats_locked": "not measured",
             "chained_frees_to_allocator_not_os": "not measured", "clear_keeps_capacity": "holds",
             "go_delete_frees_nothing": "not measured", "go_nil_gc_gives_back": "not measured",
             "rebuild_gives_back": "not measured", "pointer_values_cost_gc": "not measured",
             "shrink_costs_on_delete": "not measured"},
}


def test_claims_evaluate_to_their_expected_verdicts(dbs):
    _, fixture, runs = dbs
    latest = dict((i, v) for i, _, v, _ in query(fixture, "SELECT * FROM claim_verdicts"))
    assert latest == EXPECTED_CLAIMS["B"]
    assert {"holds", "does not hold", "not measured"} <= set(latest.values())
    for tag in ("A", "real"):
        got = dict(query(fixture, "SELECT claim_id, verdict FROM claim_verdicts_by_run"
                                  " WHERE run_id = ?", runs[tag]))
        assert got == EXPECTED_CLAIMS[tag], tag
    # every verdict carries its evidence, with the numbers it was judged on
    for claim_id, claim, verdict, evidence in query(fixture, "SELECT * FROM claim_verdicts"):
        assert claim and evidence, claim_id
    ev = dict((i, e) for i, _, _, e in query(fixture, "SELECT * FROM claim_verdicts"))
    assert "sharded 50.0 Mops/s, locked 5.6 Mops/s" in ev["sharded_beats_locked"]
    assert "faster with a hint for 1 of 3 maps at n=100000" in ev["hint_saves_time"]
    assert "oa_linear (design: keeps) dropped" in ev["clear_keeps_capacity"]


def test_claims_are_installed_from_results_claims_sql(dbs):
    _, fixture, _ = dbs
    text = (ROOT / "results" / "claims.sql").read_text()
    assert "CREATE VIEW claim_verdicts AS" in text
    names = {r[0] for r in query(fixture, "SELECT name FROM sqlite_schema WHERE type = 'view'")}
    assert {"claim_verdicts", "claim_verdicts_by_run", "plot_ns_per_op", "plot_memory_timeline",
            "plot_bytes_per_entry", "plot_retained", "plot_thread_scaling", "plot_trend",
            "trend_band", "run_sequence"} <= names


# ---- the report ---------------------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """Collects every tag, image source and link target of a page."""

    def __init__(self):
        super().__init__()
        self.imgs, self.links, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(a["src"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])


@pytest.fixture(scope="module")
def report(dbs, tmp_path_factory):
    _, fixture, runs = dbs
    out = tmp_path_factory.mktemp("site") / "results" / "report.html"
    p = mb("report", "--db", fixture, "--out", out)
    assert str(out) in p.stdout
    return out, out.read_text(), runs


def test_report_shows_every_plot_with_no_broken_link(report):
    out, text, _ = report
    page = Page()
    page.feed(text)
    assert sorted(page.imgs) == sorted(f"plots/{name}.png" for name in PLOTS)
    for ref in page.imgs + page.links:
        if ref.startswith("#"):
            assert f'id="{ref[1:]}"' in text, ref
            continue
        assert "://" not in ref and not ref.startswith("/"), ref     # offline, relative
        target = out.parent / ref
        assert target.is_file(), ref
        if ref.endswith(".png"):
            assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # static and self-contained: no scripts, no external stylesheets or fonts
    assert "script" not in page.tags and "link" not in page.tags
    assert "@import" not in text and "url(" not in text


def test_report_tables_scroll_in_their_own_box_not_the_page(report):
    # the speed table is wider than the page (2297 px at 1400): each table sits in
    # a box that scrolls sideways, so the findings and plots keep the page's width
    _, text, _ = report
    assert text.count("<table") >= 8
    assert text.count("<table") == text.count('<div class="wide"><table')
    assert text.count("</table>") == text.count("</table></div>")
    assert ".wide{overflow-x:auto}" in text


def test_report_escapes_what_it_takes_from_the_database(report):
    _, text, _ = report
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "Fixture CPU &amp; co" in text


def test_report_shows_claims_environment_and_tables(dbs, report):
    _, fixture, _ = dbs
    _, text, runs = report
    for verdict in ("holds", "does not hold", "not measured"):
        assert f">{verdict}</span>" in text
    for (claim,) in query(fixture, "SELECT claim FROM claim_verdicts"):
        assert html.escape(claim) in text
    assert f"mapbench report — run {runs['B']}" in text
    for table in ("table-speed", "table-memory", "table-threads", "table-hint", "table-latency",
                  "table-churn", "table-calibration"):
        assert f'id="{table}"' in text


def test_each_finding_is_what_its_query_returns(dbs, report):
    _, fixture, runs = dbs
    _, text, _ = report
    blocks = re.findall(r'<div class="finding"><h3>(.*?)</h3>\n<p>(.*?)</p>\n'
                        r'<details><summary>[^<]*</summary><pre>(.*?)</pre>', text, re.S)
    assert len(blocks) >= 8
    sentences = []
    for title, sentence, sql in blocks:
        sql = html.unescape(sql)
        with sqlite3.connect(fixture) as c:
            row = c.execute(sql, {"run": runs["B"]}).fetchone()
        if row is None or row[0] is None:
            assert "Not measured" in sentence, title
        else:
            assert html.unescape(sentence) == row[0], title
            sentences.append(row[0])
    joined = " ".join(sentences)
    # plain-language answers the fixture fixes
    assert "gomap, oa_linear still hold 100%; chained still holds 20%" in joined
    assert "the allocator (freed by the map, not returned to the OS) for chained" in joined
    assert re.search(r"chained ns_per_op n=100000 \+30\.0%", joined), joined
    assert re.search(r"gomap instructions_per_op n=100000 \+5\.0%", joined), joined


def test_report_for_an_older_run(dbs, tmp_path):
    _, fixture, runs = dbs
    out = tmp_path / "old" / "report.html"
    mb("report", "--db", fixture, "--out", out, "--run", runs["A"])
    text = out.read_text()
    assert f"mapbench report — run {runs['A']}" in text
    assert ">does not hold</span>" in text    # sharded loses in run A
    assert (tmp_path / "old" / "plots" / "trends.png").is_file()
