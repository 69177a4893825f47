-- results/report.sql — the report's queries, as views (compiled into mapbench and
-- installed with views.sql and claims.sql, like them; `mapbench report` only renders
-- them).  Every view carries run_id, so from plain sqlite3:
--   SELECT finding FROM report_finding_fastest WHERE run_id = 3;
--   SELECT * FROM report_table_speed WHERE run_id = 3;
-- report_findings and report_tables list them, in page order, with their titles.
--
-- A finding is one sentence built from the data, NULL when the run lacks what it needs
-- (the page then shows `missing`).  Unless it says otherwise a finding is about the
-- reference case: u64->u64, uniform keys, glibc, the run's largest n.  Each finding's
-- body is a query about one run, rr.run_id, evaluated for every run.

-- The memory findings' reference case: the retained rows (views.sql) of u64->u64,
-- uniform keys, glibc, shrink policy never, at the largest n the run measured it.
DROP VIEW IF EXISTS report_ref_retained;
CREATE VIEW report_ref_retained AS
SELECT r.* FROM retained r
WHERE r.shrink = 'never' AND r.blueprint = 'u64->u64' AND r.distribution = 'uniform'
  AND r.allocator = 'glibc'
  AND r.n = (SELECT max(n) FROM retained x
             WHERE x.run_id = r.run_id AND x.shrink = 'never' AND x.blueprint = 'u64->u64'
               AND x.distribution = 'uniform' AND x.allocator = 'glibc');

-- Who holds the memory after every key is deleted?
DROP VIEW IF EXISTS report_finding_who_holds;
CREATE VIEW report_finding_who_holds (run_id, finding) AS
SELECT rr.run_id, (
    WITH d AS (
      SELECT impl, n, map_retained_fraction AS map_kept, rss_retained_fraction AS rss_kept
      FROM report_ref_retained WHERE run_id = rr.run_id AND phase = 'delete_all'
    ), c AS (
      SELECT impl, n, CASE WHEN map_kept >= 0.5 THEN 1 WHEN rss_kept >= 0.5 THEN 2 ELSE 3 END AS who
      FROM d ORDER BY impl
    ), g AS (
      SELECT who, group_concat(impl, ', ') AS maps FROM c GROUP BY who ORDER BY who
    )
    SELECT printf('After deleting every key (n = %d), most of the memory is held by ', (SELECT max(n) FROM c))
           || group_concat(CASE who WHEN 1 THEN 'the map itself for ' || maps
                                WHEN 2 THEN 'the allocator (freed by the map, not returned to the OS) for ' || maps
                                ELSE 'nobody: it went back to the OS, for ' || maps END, '; ') || '.'
           AS finding
    FROM g
) FROM run rr;

-- How much of its bytes does each map keep after deleting every key?
DROP VIEW IF EXISTS report_finding_map_kept;
CREATE VIEW report_finding_map_kept (run_id, finding) AS
SELECT rr.run_id, (
    WITH d AS (
      SELECT impl, n, printf('%.0f%%', 100.0 * map_retained_fraction) AS pct,
             map_retained_fraction AS f
      FROM report_ref_retained WHERE run_id = rr.run_id AND phase = 'delete_all'
      ORDER BY impl
    ), g AS (
      SELECT pct, group_concat(impl, ', ') AS maps, count(*) AS k, max(f) AS f FROM d
      GROUP BY pct ORDER BY f DESC
    )
    SELECT printf('After deleting every key (n = %d), ', (SELECT max(n) FROM d))
           || group_concat(maps || CASE WHEN k > 1 THEN ' still hold ' ELSE ' still holds ' END
                           || pct, '; ')
           || ' of the bytes held right after the inserts (the map''s own bytes).' AS finding
    FROM g
) FROM run rr;

-- Does malloc_trim give it back?
DROP VIEW IF EXISTS report_finding_trim;
CREATE VIEW report_finding_trim (run_id, finding) AS
SELECT rr.run_id, (
    SELECT printf('Process RSS growth still held after deleting every key, and after malloc_trim(0) '
                  || 'on top (n = %d): ', max(d.n))
           || group_concat(printf('%s %.0f%% -> %.0f%%', d.impl, 100.0 * d.rss_retained_fraction,
                                  100.0 * t.rss_retained_fraction), '; ') || '.' AS finding
    FROM (SELECT * FROM report_ref_retained WHERE run_id = rr.run_id AND phase = 'delete_all'
          ORDER BY impl) d
    JOIN retained t ON t.run_id = d.run_id AND t.impl = d.impl AND t.n = d.n
     AND t.blueprint = d.blueprint AND t.distribution = d.distribution
     AND t.allocator = d.allocator AND t.shrink = d.shrink AND t.phase = 'trim'
) FROM run rr;

-- What does clear keep?
DROP VIEW IF EXISTS report_finding_clear;
CREATE VIEW report_finding_clear (run_id, finding) AS
SELECT rr.run_id, (
    WITH d AS (
      SELECT impl, n, printf('%.0f%%', 100.0 * map_retained_fraction) AS pct,
             map_retained_fraction AS f
      FROM report_ref_retained WHERE run_id = rr.run_id AND phase = 'clear'
      ORDER BY impl
    ), g AS (
      SELECT pct, group_concat(impl, ', ') AS maps, count(*) AS k, max(f) AS f FROM d
      GROUP BY pct ORDER BY f DESC
    )
    SELECT printf('After clear (n = %d), ', (SELECT max(n) FROM d))
           || group_concat(maps || CASE WHEN k > 1 THEN ' hold ' ELSE ' holds ' END || pct, '; ')
           || ' of the bytes held after inserting n keys.' AS finding
    FROM g
) FROM run rr;

-- Is everything back after destroy?
DROP VIEW IF EXISTS report_finding_destroy;
CREATE VIEW report_finding_destroy (run_id, finding) AS
SELECT rr.run_id, (
    WITH d AS (
      SELECT m.impl, m.n, m.map_live_bytes, m.rss_bytes - s.rss_bytes AS rss_above_start
      FROM memory_by_phase m
      JOIN memory_by_phase s ON s.mem_case_id = m.mem_case_id AND s.phase = 'start'
      WHERE m.run_id = rr.run_id AND m.phase = 'trim_after_destroy' AND m.shrink = 'never'
        AND m.blueprint = 'u64->u64'
        AND m.distribution = 'uniform' AND m.allocator = 'glibc'
        AND m.n = (SELECT max(n) FROM report_ref_retained WHERE run_id = rr.run_id)
    )
    SELECT CASE WHEN max(map_live_bytes) = 0 THEN 'After destroy every map holds 0 bytes'
                ELSE 'After destroy some maps still hold bytes: '
                     || (SELECT group_concat(printf('%s %d B', impl, map_live_bytes), ', ')
                         FROM d WHERE map_live_bytes > 0) END
           || printf('; after malloc_trim(0) the process is within %.1f MiB of its starting RSS '
                     || '(n = %d; largest remainder: %s).', max(rss_above_start) / 1048576.0, max(n),
                     (SELECT impl FROM d ORDER BY rss_above_start DESC LIMIT 1)) AS finding
    FROM d HAVING count(*) > 0
) FROM run rr;

-- Which map is fastest, phase by phase?
DROP VIEW IF EXISTS report_finding_fastest;
CREATE VIEW report_finding_fastest (run_id, finding) AS
SELECT rr.run_id, (
    WITH t AS (
      SELECT phase, phase_order, impl, n, median_ns_per_op AS ns FROM plot_ns_per_op
      WHERE run_id = rr.run_id AND n = (SELECT max(n) FROM plot_ns_per_op WHERE run_id = rr.run_id)
    ), best AS (
      SELECT phase, phase_order, n,
             (SELECT impl FROM t b WHERE b.phase = t.phase ORDER BY ns LIMIT 1) AS fastest,
             min(ns) AS fast_ns,
             (SELECT impl FROM t b WHERE b.phase = t.phase ORDER BY ns DESC LIMIT 1) AS slowest,
             max(ns) AS slow_ns, count(*) AS maps
      FROM t GROUP BY phase ORDER BY phase_order
    )
    SELECT printf('At n = %d (median ns per operation): ', max(n))
           || group_concat(printf('%s — fastest %s at %.3g ns, slowest %s at %.3g ns (%.3gx)',
                                  phase, fastest, fast_ns, slowest, slow_ns, slow_ns / fast_ns), '; ')
           || '.' AS finding
    FROM best HAVING count(*) > 0
) FROM run rr;

-- How many bytes per entry?
DROP VIEW IF EXISTS report_finding_bytes_per_entry;
CREATE VIEW report_finding_bytes_per_entry (run_id, finding) AS
SELECT rr.run_id, (
    WITH b AS (
      SELECT impl, n, rank_bytes_per_entry AS bpe, rank_basis FROM plot_bytes_per_entry
      WHERE run_id = rr.run_id AND n = (SELECT max(n) FROM plot_bytes_per_entry WHERE run_id = rr.run_id)
      ORDER BY bpe
    )
    SELECT printf('Right after inserting %d keys of 16 bytes (key + value), the maps hold '
                  || 'these bytes per entry, smallest first (a map whose own bytes are not '
                  || 'counted is ranked on the allocator''s in-use growth, and marked so): ', max(n))
           || group_concat(printf('%s %.1f%s', impl, bpe,
                                  CASE WHEN rank_basis = 'map' THEN ''
                                       ELSE ' (allocator in-use: own bytes uncounted)' END), '; ')
           || printf(' — %.1fx the payload at best, %.1fx at worst.', min(bpe) / 16, max(bpe) / 16)
           AS finding
    FROM b HAVING count(*) > 0
) FROM run rr;

-- Do threads help?
DROP VIEW IF EXISTS report_finding_threads;
CREATE VIEW report_finding_threads (run_id, finding) AS
SELECT rr.run_id, (
    WITH p AS (SELECT * FROM plot_thread_scaling WHERE run_id = rr.run_id),
    -- the 90/10 mix when it ran, else the mix with the most lookups
    t AS (
      SELECT * FROM p WHERE lookup_percent IS (
        SELECT lookup_percent FROM p ORDER BY lookup_percent = 90 DESC, lookup_percent DESC LIMIT 1)
    ), top AS (
      SELECT * FROM t WHERE threads = (SELECT max(threads) FROM t) ORDER BY mops_per_s DESC
    )
    SELECT printf('Mixed read/write (%s) at %d threads%s (n = %d), throughput, speed-up over one'
                  || ' thread and share of the unsynchronized ceiling: ',
                  max(mix), max(threads),
                  CASE WHEN max(oversubscribed) = 1 THEN printf(', more than the %d cores', max(cores))
                       ELSE '' END, max(n))
           || group_concat(printf('%s %.1f Mops/s (%s, %s of the ceiling)', impl, mops_per_s,
                                  coalesce(printf('%.2fx', speedup), 'no 1-thread run'),
                                  coalesce(printf('%.0f%%', 100 * of_ceiling), 'no ceiling')),
                           '; ') || '.' AS finding
    FROM top HAVING count(*) > 0
) FROM run rr;

-- How noisy are the timings?
DROP VIEW IF EXISTS report_finding_noise;
CREATE VIEW report_finding_noise (run_id, finding) AS
SELECT rr.run_id, (
    WITH s AS (
      SELECT impl, phase, n, hint, threads, max_ns_per_op / min_ns_per_op AS spread, samples,
             row_number() OVER (ORDER BY max_ns_per_op / min_ns_per_op) AS k,
             count(*) OVER () AS cases
      FROM case_medians WHERE run_id = rr.run_id AND samples > 1
    )
    SELECT printf('Across %d timed cases, the slowest repetition of the typical case is %.0f%% '
                  || 'slower than its fastest (median of max/min); the widest spread is %s %s at n = %d '
                  || '(%.1fx). Wall time alone cannot gate a change smaller than that; instruction '
                  || 'counts can.', max(cases),
                  100.0 * ((SELECT spread FROM s WHERE k = (cases + 1) / 2) - 1),
                  (SELECT impl FROM s ORDER BY spread DESC LIMIT 1),
                  (SELECT phase FROM s ORDER BY spread DESC LIMIT 1),
                  (SELECT n FROM s ORDER BY spread DESC LIMIT 1), max(spread)) AS finding
    FROM s HAVING count(*) > 0
) FROM run rr;

-- Has anything moved since the first run?
DROP VIEW IF EXISTS report_finding_trend;
CREATE VIEW report_finding_trend (run_id, finding) AS
SELECT rr.run_id, (
    WITH sel AS (SELECT run_seq FROM run_sequence WHERE run_id = rr.run_id),
    p AS (
      SELECT t.* FROM plot_trend t, sel WHERE t.run_id = rr.run_id
    ), out AS (
      SELECT * FROM p WHERE abs(ratio_to_baseline - 1) > threshold ORDER BY metric, impl, n
    )
    SELECT CASE WHEN (SELECT run_seq FROM sel) = 1
                THEN printf('This is the first complete run in the database: it is the baseline '
                            || 'of every trend (%d cases).', count(*))
                WHEN (SELECT count(*) FROM out) = 0
                THEN printf('All %d trended cases are inside the gate''s band around their '
                            || 'first run.', count(*))
                ELSE printf('%d of %d trended cases are outside the gate''s band around their first '
                            || 'run: ', (SELECT count(*) FROM out), count(*))
                     || (SELECT group_concat(printf('%s %s n=%d %+.1f%% (band %.0f%%)', impl, metric,
                                                    n, 100.0 * (ratio_to_baseline - 1),
                                                    100.0 * threshold), '; ') FROM out) || '.'
           END AS finding
    FROM p HAVING count(*) > 0
) FROM run rr;

-- What gives the memory back once every key is deleted?  (remedies, view remedies)
DROP VIEW IF EXISTS report_finding_remedies;
CREATE VIEW report_finding_remedies (run_id, finding) AS
SELECT rr.run_id, (
    WITH r AS (
      SELECT * FROM remedies
      WHERE run_id = rr.run_id AND blueprint = 'u64->u64' AND distribution = 'uniform'
        AND allocator = 'glibc'
        AND n = (SELECT max(n) FROM remedies WHERE run_id = rr.run_id AND blueprint = 'u64->u64'
                 AND distribution = 'uniform' AND allocator = 'glibc')
    ), g AS (
      SELECT remedy, min(phase_index) AS k, count(*) AS cases,
             sum(rss_above_start_bytes <= 0.1 * rss_above_start_after_insert_bytes) AS os_back,
             sum(CASE WHEN bytes_counted THEN map_bytes <= 0.1 * map_bytes_after_insert
                      ELSE alloc_in_use_above_start_bytes
                           <= 0.1 * alloc_in_use_above_start_after_insert_bytes END) AS map_back,
             avg(phase_ns) / 1e6 AS ms
      FROM r GROUP BY remedy ORDER BY k, remedy
    )
    SELECT printf('Of %d map cases (map x shrink policy, n = %d, glibc), after each step of the '
                  || 'script (in order, on the emptied map): the map holds at most 10%% of its '
                  || 'after-insert bytes / the process RSS is within 10%% of its start, and the '
                  || 'step''s mean time (a map whose own bytes are uncounted is judged on its '
                  || 'allocator in-use bytes): ', max(cases), (SELECT max(n) FROM r))
           || group_concat(printf('%s %d / %d, %.2f ms', remedy, map_back, os_back, ms), '; ')
           || '.' AS finding
    FROM g HAVING count(*) > 0
) FROM run rr;

-- What does a shrink policy cost, and what does it give back?  (plot_retained_vs_cost)
DROP VIEW IF EXISTS report_finding_shrink_cost;
CREATE VIEW report_finding_shrink_cost (run_id, finding) AS
SELECT rr.run_id, (
    WITH p AS (
      SELECT lw.impl, lw.n, lw.held_mib_after_delete_all AS lw_mib, nv.held_mib_after_delete_all AS nv_mib,
             lw.rss_mib_after_delete_all AS lw_rss, nv.rss_mib_after_delete_all AS nv_rss,
             lw.delete_extra_pct, lw.churn_extra_pct
      FROM plot_retained_vs_cost lw
      JOIN plot_retained_vs_cost nv ON nv.run_id = lw.run_id AND nv.impl = lw.impl
       AND nv.allocator = lw.allocator AND nv.shrink = 'never'
      WHERE lw.run_id = rr.run_id AND lw.allocator = 'glibc' AND lw.shrink = 'low-water'
      ORDER BY lw.impl
    )
    SELECT printf('After deleting every key (n = %d, glibc), low-water against never: ', max(n))
           || group_concat(printf('%s holds %.2f MiB instead of %.2f (RSS above start %.1f vs %.1f MiB) '
                                  || 'for %s on delete_all and %s on churn', impl, lw_mib, nv_mib,
                                  lw_rss, nv_rss,
                                  coalesce(printf('%+.0f%%', delete_extra_pct), 'untimed'),
                                  coalesce(printf('%+.0f%%', churn_extra_pct), 'unmeasured')), '; ')
           || ' (timings on a shared machine: compare with the noise finding).' AS finding
    FROM p HAVING count(*) > 0
) FROM run rr;

-- Which policies thrash at a shrink boundary?  (thrash_events)
DROP VIEW IF EXISTS report_finding_thrash;
CREATE VIEW report_finding_thrash (run_id, finding) AS
SELECT rr.run_id, (
    WITH t AS (SELECT * FROM thrash_events WHERE run_id = rr.run_id),
    bad AS (SELECT * FROM t WHERE thrashes ORDER BY impl, boundary)
    SELECT CASE WHEN (SELECT count(*) FROM bad) = 0
                THEN printf('No policy grows and shrinks on every cycle at the boundaries measured '
                            || '(%d cases: the first shrink on the way down, and the empty map).', count(*))
                ELSE printf('%d of %d cases grow and shrink on every cycle of a small window '
                            || 'oscillated at a boundary (no hysteresis there): ', (SELECT count(*) FROM bad), count(*))
                     || (SELECT group_concat(printf('%s/%s at the %s boundary (%d live): %.1f grows and '
                                                    || '%.1f shrinks per cycle, %.0f ns/op', impl, shrink,
                                                    boundary, boundary_entries, grows_per_cycle,
                                                    shrinks_per_cycle, ns_per_op), '; ') FROM bad)
                     || '; the others hold their capacity there.' END AS finding
    FROM t HAVING count(*) > 0
) FROM run rr;

-- Are the real Go map's rows true?  (every sample after runtime.GC())
DROP VIEW IF EXISTS report_finding_go_true;
CREATE VIEW report_finding_go_true (run_id, finding) AS
SELECT rr.run_id, (
    SELECT printf('The real Go map (go_runtime) after inserting %d keys, read after a GC: %.2f bytes '
                  || 'per entry (HeapInuse), against the gomap model''s %.2f (%+.1f%%); before that GC '
                  || 'the heap held %.2f per entry, the growth''s old bucket arrays being garbage.',
                  g.n, g.map_bytes_per_entry, m.map_bytes_per_entry,
                  100.0 * (g.map_bytes_per_entry / m.map_bytes_per_entry - 1),
                  1.0 * s.heap_inuse_before_gc_bytes / g.n)
    FROM bytes_per_entry g
    JOIN bytes_per_entry m ON m.run_id = g.run_id AND m.impl = 'gomap' AND m.n = g.n
     AND m.blueprint = g.blueprint AND m.distribution = g.distribution AND m.allocator = 'glibc'
    JOIN go_samples s ON s.run_id = g.run_id AND s.n = g.n AND s.distribution = g.distribution
     AND s.phase = 'insert'
    WHERE g.run_id = rr.run_id AND g.impl = 'go_runtime' AND g.distribution = 'uniform'
    ORDER BY g.n DESC LIMIT 1
) FROM run rr;

-- Do pointer values cost GC time in real Go?  (go_gc_pointer_vs_inline)
DROP VIEW IF EXISTS report_finding_go_gc;
CREATE VIEW report_finding_go_gc (run_id, finding) AS
SELECT rr.run_id, (
    SELECT printf('Real Go (go_runtime): a forced GC with a live map of %d entries takes %.3f ms with '
                  || 'map[uint64]*T and %.3f ms with map[uint64]T (T = %d bytes): %.0fx; the '
                  || 'stop-the-world pauses of %d such GCs add up to %.3f and %.3f ms: marking runs '
                  || 'concurrently, so the pointer map''s cost is GC work (its buckets hold pointers '
                  || 'to mark), not pause.', entries, pointer_gc_ns / 1e6, inline_gc_ns / 1e6,
                  value_bytes, pointer_over_inline, forced_gcs, pointer_pause_total_ns / 1e6,
                  inline_pause_total_ns / 1e6)
    FROM go_gc_pointer_vs_inline WHERE run_id = rr.run_id ORDER BY entries DESC LIMIT 1
) FROM run rr;

-- The findings in page order: the page shows `title`, then the sentence of
-- report_finding_<id>, or "Not measured: <missing>".
DROP VIEW IF EXISTS report_findings;
CREATE VIEW report_findings (finding_order, id, title, missing) AS VALUES
    (1, 'who_holds', 'Who holds the memory after every key is deleted?', 'no memory measurements in this run'),
    (2, 'map_kept', 'How much of its bytes does each map keep after deleting every key?', 'no memory measurements in this run'),
    (3, 'trim', 'Does malloc_trim give it back?', 'no memory measurements in this run'),
    (4, 'clear', 'What does clear keep?', 'no memory measurements in this run'),
    (5, 'destroy', 'Is everything back after destroy?', 'no memory measurements in this run'),
    (6, 'fastest', 'Which map is fastest, phase by phase?', 'no timings in this run'),
    (7, 'bytes_per_entry', 'How many bytes per entry?', 'no memory measurements in this run'),
    (8, 'threads', 'Do threads help?', 'no thread-safe map was measured in this run (phase mixed_rw)'),
    (9, 'noise', 'How noisy are the timings?', 'no timings in this run'),
    (10, 'trend', 'Has anything moved since the first run?', 'no trended measurement in this run'),
    (11, 'remedies', 'What gives the memory back once every key is deleted?', 'no memory measurements in this run'),
    (12, 'shrink_cost', 'What does a shrink policy cost, and what does it give back?', 'no map ran under both shrink policies in this run'),
    (13, 'thrash', 'Does a shrink policy thrash at its boundary?', 'no thrash cases in this run (metric churn)'),
    (14, 'go_true', 'Are the real Go map''s rows true?', 'no real Go map and gomap at the same n in this run'),
    (15, 'go_gc', 'Do pointer values cost GC time in real Go?', 'no real Go map in this run');
-- ---- the key tables ------------------------------------------------------------------
-- One view per table, run_id first (the page leaves that column out), rows in page order.

DROP VIEW IF EXISTS report_table_maps;
CREATE VIEW report_table_maps AS
SELECT run_id, impl, family, traits FROM bench WHERE family != 'calibration'
UNION SELECT run_id, impl, family, traits FROM mem_case
ORDER BY run_id, impl;

DROP VIEW IF EXISTS report_table_speed;
CREATE VIEW report_table_speed AS
WITH f AS (
    SELECT p.run_id, p.impl, p.n, p.phase, p.median_ns_per_op AS ns, fl.floor_ns_per_op AS floor
    FROM plot_ns_per_op p
    LEFT JOIN phase_floor fl ON fl.run_id = p.run_id AND fl.phase = p.phase AND fl.n = p.n
    WHERE p.n = (SELECT max(n) FROM plot_ns_per_op q WHERE q.run_id = p.run_id)
)
-- beside each figure the harness floor (phase_floor) and the share of the figure that is
-- the map, (ns - floor) / ns
SELECT run_id, impl, n,
       round(max(CASE phase WHEN 'insert' THEN ns END), 1) AS insert_ns,
       round(max(CASE phase WHEN 'insert' THEN floor END), 1) AS insert_floor_ns,
       round(max(CASE phase WHEN 'insert' THEN (ns - floor) / ns END), 2) AS insert_map_share,
       round(max(CASE phase WHEN 'lookup_hit' THEN ns END), 1) AS lookup_hit_ns,
       round(max(CASE phase WHEN 'lookup_hit' THEN floor END), 1) AS lookup_hit_floor_ns,
       round(max(CASE phase WHEN 'lookup_hit' THEN (ns - floor) / ns END), 2) AS lookup_hit_map_share,
       round(max(CASE phase WHEN 'lookup_miss' THEN ns END), 1) AS lookup_miss_ns,
       round(max(CASE phase WHEN 'lookup_miss' THEN floor END), 1) AS lookup_miss_floor_ns,
       round(max(CASE phase WHEN 'lookup_miss' THEN (ns - floor) / ns END), 2) AS lookup_miss_map_share,
       round(max(CASE phase WHEN 'delete_all' THEN ns END), 1) AS delete_all_ns,
       round(max(CASE phase WHEN 'delete_all' THEN floor END), 1) AS delete_all_floor_ns,
       round(max(CASE phase WHEN 'delete_all' THEN (ns - floor) / ns END), 2) AS delete_all_map_share,
       round(max(CASE phase WHEN 'clear' THEN ns END), 2) AS clear_ns,
       round(max(CASE phase WHEN 'clear' THEN floor END), 2) AS clear_floor_ns
FROM f
GROUP BY run_id, impl ORDER BY run_id, lookup_hit_ns;

DROP VIEW IF EXISTS report_table_hint;
CREATE VIEW report_table_hint AS
SELECT a.run_id, a.impl, a.n, round(a.median_ns_per_op, 1) AS no_hint_ns,
       round(b.median_ns_per_op, 1) AS hint_n_ns,
       round(100.0 * (b.median_ns_per_op / a.median_ns_per_op - 1), 0) AS change_pct
FROM case_medians a
JOIN case_medians b ON b.run_id = a.run_id AND b.impl = a.impl AND b.n = a.n
 AND b.blueprint = a.blueprint AND b.distribution = a.distribution
 AND b.allocator = a.allocator AND b.threads = a.threads AND b.phase = 'insert' AND b.hint = b.n
WHERE a.phase = 'insert' AND a.hint = 0 AND a.threads = 1
  AND a.blueprint = 'u64->u64' AND a.distribution = 'uniform' AND a.allocator = 'glibc'
ORDER BY a.run_id, a.n DESC, a.impl;

DROP VIEW IF EXISTS report_table_memory;
CREATE VIEW report_table_memory AS
SELECT b.run_id, b.impl, b.n,
       round(b.map_bytes_per_entry, 1) AS map_bytes_per_entry,
       round(b.rank_bytes_per_entry, 1) AS ranked_bytes_per_entry, b.rank_basis,
       round(b.rss_bytes_per_entry, 1) AS rss_bytes_per_entry,
       round(100 * d.map_retained_fraction, 1) AS map_kept_after_delete_all_pct,
       round(100 * d.rss_retained_fraction, 1) AS rss_kept_after_delete_all_pct,
       round(100 * t.rss_retained_fraction, 1) AS rss_kept_after_trim_pct,
       round(100 * c.map_retained_fraction, 1) AS map_kept_after_clear_pct
FROM bytes_per_entry b
LEFT JOIN retained d USING (run_id, impl, blueprint, distribution, n, allocator)
LEFT JOIN retained t USING (run_id, impl, blueprint, distribution, n, allocator)
LEFT JOIN retained c USING (run_id, impl, blueprint, distribution, n, allocator)
WHERE d.phase = 'delete_all' AND t.phase = 'trim' AND c.phase = 'clear'
  AND d.shrink = 'never' AND t.shrink = 'never' AND c.shrink = 'never'
  AND b.blueprint = 'u64->u64' AND b.distribution = 'uniform' AND b.allocator = 'glibc'
  AND b.n = (SELECT max(n) FROM bytes_per_entry x WHERE x.run_id = b.run_id)
ORDER BY b.run_id, b.rank_bytes_per_entry;

DROP VIEW IF EXISTS report_table_threads;
CREATE VIEW report_table_threads AS
SELECT run_id, mix, impl, n, threads, round(median_ns_per_op, 1) AS median_ns_per_op,
       round(mops_per_s, 2) AS mops_per_s, round(speedup, 2) AS ratio_to_1_thread,
       round(ceiling_mops_per_s, 2) AS ceiling_mops_per_s,
       round(of_ceiling, 2) AS ratio_to_ceiling,
       CASE oversubscribed WHEN 1 THEN printf('yes (%d cores)', cores) WHEN 0 THEN 'no' END
           AS oversubscribed
FROM plot_thread_scaling ORDER BY run_id, lookup_percent DESC, impl, threads;

DROP VIEW IF EXISTS report_table_latency;
CREATE VIEW report_table_latency AS
SELECT run_id, impl, n, p50_ns, p90_ns, p99_ns, p999_ns, round(max_ns / 1000.0, 1) AS max_us,
       mean_ns, grow_events
FROM insert_latency ORDER BY run_id, max_ns;

DROP VIEW IF EXISTS report_table_churn;
CREATE VIEW report_table_churn AS
SELECT run_id, impl, shrink, n, max(tombstones) AS max_tombstones, max(capacity) AS max_capacity,
       round(avg(ns_per_op), 1) AS mean_ns_per_step, round(max(ns_per_op), 1) AS worst_chunk_ns,
       max(grow_events) AS grow_events, max(shrink_events) AS shrink_events
FROM churn_sample GROUP BY run_id, impl, shrink, n ORDER BY run_id, mean_ns_per_step;

-- Remedies at the largest n (u64->u64, uniform keys): map / allocator / OS bytes after each
-- step once the map is empty, with the step's time, per map, allocator and shrink policy;
-- the real Go map's rows (allocator go-runtime) beside gomap's.
DROP VIEW IF EXISTS report_table_remedies;
CREATE VIEW report_table_remedies AS
SELECT r.run_id, r.impl, r.allocator, r.shrink, r.remedy,
       round(r.map_bytes / 1048576.0, 2) AS map_mib,
       round(r.alloc_in_use_above_start_bytes / 1048576.0, 2) AS alloc_in_use_mib,
       round(r.alloc_held_above_start_bytes / 1048576.0, 2) AS alloc_held_mib,
       round(r.rss_above_start_bytes / 1048576.0, 2) AS rss_above_start_mib,
       round(r.phase_ns / 1e6, 3) AS step_ms
FROM remedies r
JOIN (SELECT run_id, max(n) AS n FROM remedies WHERE blueprint = 'u64->u64'
      AND distribution = 'uniform' GROUP BY run_id) USING (run_id, n)
WHERE r.blueprint = 'u64->u64' AND r.distribution = 'uniform'
ORDER BY r.run_id, r.impl = 'go_runtime' DESC, r.impl = 'gomap' DESC, r.allocator, r.impl,
         r.shrink, r.phase_index;

DROP VIEW IF EXISTS report_table_shrink_cost;
CREATE VIEW report_table_shrink_cost AS
SELECT run_id, impl, phase, n, shrink, round(never_ns_per_op, 1) AS never_ns,
       round(ns_per_op, 1) AS policy_ns, round(extra_pct, 0) AS extra_pct
FROM shrink_cost WHERE shrink != 'never' AND blueprint = 'u64->u64' AND distribution = 'uniform'
  AND hint = 0 AND threads = 1
UNION ALL
SELECT run_id, impl, 'churn', n, shrink, round(never_ns_per_op, 1), round(ns_per_op, 1),
       round(extra_pct, 0)
FROM churn_shrink_cost WHERE shrink != 'never'
ORDER BY 1, 2, 3, 4;

DROP VIEW IF EXISTS report_table_thrash;
CREATE VIEW report_table_thrash AS
SELECT run_id, impl, shrink, boundary, boundary_entries, window, cycles,
       round(ns_per_op, 1) AS ns_per_op, round(grows_per_cycle, 2) AS grows_per_cycle,
       round(shrinks_per_cycle, 2) AS shrinks_per_cycle, capacity_low, capacity_high
FROM thrash_events ORDER BY run_id, impl, shrink, boundary;

DROP VIEW IF EXISTS report_table_go_gc;
CREATE VIEW report_table_go_gc AS
SELECT run_id, entries, value_bytes, round(inline_gc_ns / 1e6, 3) AS inline_gc_ms,
       round(pointer_gc_ns / 1e6, 3) AS pointer_gc_ms, round(pointer_over_inline, 1) AS ratio,
       round(inline_pause_total_ns / 1e6, 3) AS inline_pause_ms,
       round(pointer_pause_total_ns / 1e6, 3) AS pointer_pause_ms, forced_gcs,
       round(inline_heap_inuse_bytes / 1048576.0, 1) AS inline_heap_mib,
       round(pointer_heap_inuse_bytes / 1048576.0, 1) AS pointer_heap_mib
FROM go_gc_pointer_vs_inline ORDER BY run_id, entries;

DROP VIEW IF EXISTS report_table_go_samples;
CREATE VIEW report_table_go_samples AS
SELECT s.run_id, s.n, s.phase, s.entries,
       round(s.heap_inuse_after_gc_bytes / 1048576.0, 2) AS heap_inuse_after_gc_mib,
       round(s.heap_inuse_before_gc_bytes / 1048576.0, 2) AS heap_inuse_before_gc_mib,
       round(s.rss_bytes / 1048576.0, 1) AS rss_mib, round(s.sample_gc_ns / 1e6, 3) AS sample_gc_ms
FROM go_samples s
JOIN (SELECT run_id, max(n) AS n FROM go_samples WHERE distribution = 'uniform' GROUP BY run_id)
  USING (run_id, n)
WHERE s.distribution = 'uniform'
ORDER BY s.run_id, s.phase_index;

DROP VIEW IF EXISTS report_table_calibration;
CREATE VIEW report_table_calibration AS
SELECT run_id, round(rss_floor_bytes / 1048576.0, 2) AS rss_floor_mib,
       round(calib_64mib_rss_bytes / 1048576.0, 2) AS measured_mib_for_64_mib,
       round(100.0 * (calib_64mib_rss_bytes / 67108864.0 - 1), 2) AS error_pct
FROM run;

-- What the run left out because a package is missing (an optional mode absent
-- on purpose: never a failure, never silent).
DROP VIEW IF EXISTS report_table_not_measured;
CREATE VIEW report_table_not_measured AS
SELECT run_id, what, package, reason FROM not_measured
UNION ALL
SELECT run_id, 'nothing: every selected mode had its packages', NULL, NULL FROM run r
WHERE NOT EXISTS (SELECT 1 FROM not_measured m WHERE m.run_id = r.run_id);

DROP VIEW IF EXISTS report_table_claims;
CREATE VIEW report_table_claims AS
SELECT run_id, claim, verdict, evidence FROM claim_verdicts_by_run
ORDER BY run_id, claim_order;

DROP VIEW IF EXISTS report_table_environment;
CREATE VIEW report_table_environment AS
SELECT run_id, key AS field, value FROM run, json_each(json_object(
  'run_id', run_id, 'run_uuid', run_uuid, 'suite', suite, 'started_at', started_at,
  'finished_at', finished_at, 'seed', seed, 'git_sha', git_sha, 'git_dirty', git_dirty,
  'compiler', compiler, 'cflags', cflags, 'build_type', build_type,
  'benchmark_version', benchmark_version, 'cpu_model', cpu_model, 'cores', cores,
  'kernel', kernel, 'hostname', hostname, 'l1d_bytes', l1d_bytes, 'l2_bytes', l2_bytes,
  'l3_bytes', l3_bytes, 'thp_enabled', thp_enabled, 'thp_defrag', thp_defrag,
  'timing_processes', processes, 'argv', argv,
  'allocators', (SELECT group_concat(DISTINCT allocator) FROM mem_case c WHERE c.run_id = run.run_id)));

-- The line under the page's title.
DROP VIEW IF EXISTS report_header;
CREATE VIEW report_header (run_id, line) AS
SELECT run_id, suite || ' suite, finished ' || finished_at || ', git ' ||
       coalesce(substr(git_sha, 1, 12), '?') ||
       CASE git_dirty WHEN 1 THEN ' (dirty)' ELSE '' END || ', ' || coalesce(cpu_model, '?')
FROM run;

-- The Tables section in page order (claims and environment have sections of their own).
DROP VIEW IF EXISTS report_tables;
CREATE VIEW report_tables (table_order, id, title) AS VALUES
    (1, 'maps', 'Maps measured in this run'),
    (2, 'speed', 'Speed at the largest n: median ns per operation (u64->u64, uniform keys, no hint)'),
    (3, 'hint', 'Insert with and without a capacity hint (median ns per operation)'),
    (4, 'memory', 'Memory at the largest n: bytes per entry, and what is kept after delete and clear'),
    (5, 'threads', 'Thread scaling (mixed read/write); ratio to the ceiling: the median of each repetition''s ratio to the ceiling run right after it'),
    (6, 'latency', 'Single-insert latency while growing from empty (ns, TSC)'),
    (7, 'churn', 'Constant-size churn (10 N insert-one/remove-one steps): tombstones and cost'),
    (8, 'calibration', 'The instrument: a bare memory child''s RSS, and a 64 MiB touched mapping as measured'),
    (9, 'remedies', 'Remedies at the largest n: bytes held once every key is deleted, step by step, and what each step took (real Go beside gomap)'),
    (10, 'shrink_cost', 'What a shrink policy costs: median ns per operation against never'),
    (11, 'thrash', 'Thrash at a shrink boundary: a small window of keys removed and reinserted over and over'),
    (12, 'go_gc', 'Real Go: forced GC time with a live map of pointer vs inline values'),
    (13, 'go_samples', 'Real Go: HeapInuse after each phase, read after a GC, and before it'),
    (14, 'not_measured', 'Not measured in this run, and why');
