-- Claims people make about hash-map memory and speed, each checked against the
-- measurements.  Installed after views.sql (it reads those views) every time mapbench
-- opens a database, like the views.
--
--   claim_verdicts_by_run(run_id, claim_order, claim_id, claim, verdict, evidence)
--       one row per claim and complete run;
--   claim_verdicts(claim_id, claim, verdict, evidence)
--       the same for the latest complete run.
--
-- verdict is 'holds', 'does not hold' or 'not measured' (the run has no rows that can
-- decide it); evidence gives the numbers the verdict was taken from.  Unless a claim says
-- otherwise it is judged on the reference case of the plots (u64->u64, uniform keys,
-- glibc malloc) at the largest n that has the rows it needs.
--
-- To add a claim: one CTE that yields (run_id, verdict, evidence) for every complete run
-- (LEFT JOIN from complete_run, so a run without the rows says 'not measured'), and one
-- line in the UNION at the end.

DROP VIEW IF EXISTS claim_verdicts;
DROP VIEW IF EXISTS claim_verdicts_by_run;
CREATE VIEW claim_verdicts_by_run AS
WITH
-- (a) A Go-style map never shrinks after delete: gomap's table (capacity = 8 * 2^B)
--     after delete_half and after delete_all is at least its size after insert, in every
--     memory case.  Bytes are the evidence, not the test: when the inserts end in the
--     middle of a grow, the deletes' evacuation work finishes it and frees the OLD bucket
--     array (as Go does), so bytes can drop while the table itself never shrinks.
go_cases AS (
    SELECT ins.run_id, ins.n, ins.map_live_bytes AS insert_bytes,
           half.map_live_bytes AS half_bytes, del.map_live_bytes AS delete_all_bytes,
           ins.capacity AS insert_capacity, half.capacity AS half_capacity,
           del.capacity AS delete_all_capacity
    FROM memory_by_phase ins
    JOIN memory_by_phase half ON half.mem_case_id = ins.mem_case_id AND half.phase = 'delete_half'
    JOIN memory_by_phase del ON del.mem_case_id = ins.mem_case_id AND del.phase = 'delete_all'
    WHERE ins.impl = 'gomap' AND ins.phase = 'insert' AND ins.shrink = 'never'
),
claim_go AS (
    SELECT r.run_id,
           CASE WHEN count(g.n) = 0 THEN 'not measured'
                WHEN sum(g.half_capacity < g.insert_capacity
                         OR g.delete_all_capacity < g.insert_capacity) = 0
                    THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(g.n) = 0 THEN 'no gomap memory samples in this run'
                ELSE printf('%d of %d gomap memory cases kept their table size through ' ||
                            'delete_half and delete_all (%d of them also every byte; the others ' ||
                            'freed the old array of a grow in progress); ',
                            count(g.n) - sum(g.half_capacity < g.insert_capacity
                                             OR g.delete_all_capacity < g.insert_capacity),
                            count(g.n),
                            count(g.n) - sum(g.half_bytes < g.insert_bytes
                                             OR g.delete_all_bytes < g.insert_bytes))
                     || (SELECT printf('at n=%d: %.2f MiB after insert, %.2f MiB after deleting ' ||
                                       'every key (%.0f%%)', b.n, b.insert_bytes / 1048576.0,
                                       b.delete_all_bytes / 1048576.0,
                                       100.0 * b.delete_all_bytes / b.insert_bytes)
                         FROM go_cases b WHERE b.run_id = r.run_id ORDER BY b.n DESC LIMIT 1)
           END AS evidence
    FROM complete_run r LEFT JOIN go_cases g USING (run_id)
    GROUP BY r.run_id
),
-- (b) A capacity hint avoids rehashing and saves time: insert with hint = n is faster
--     than without a hint for most maps (more than half) at the largest n timed both ways.
hint_pairs AS (
    SELECT a.run_id, a.impl, a.n, a.median_ns_per_op AS no_hint_ns, b.median_ns_per_op AS hint_ns
    FROM case_medians a
    JOIN case_medians b
      ON b.run_id = a.run_id AND b.impl = a.impl AND b.n = a.n AND b.blueprint = a.blueprint
     AND b.distribution = a.distribution AND b.allocator = a.allocator AND b.threads = a.threads
     AND b.phase = 'insert' AND b.hint = b.n
    WHERE a.phase = 'insert' AND a.hint = 0 AND a.threads = 1 AND a.blueprint = 'u64->u64'
      AND a.distribution = 'uniform' AND a.allocator = 'glibc'
),
hint_top AS (
    SELECT p.* FROM hint_pairs p
    WHERE p.n = (SELECT max(q.n) FROM hint_pairs q WHERE q.run_id = p.run_id)
),
claim_hint AS (
    SELECT r.run_id,
           CASE WHEN count(h.impl) = 0 THEN 'not measured'
                WHEN 2 * sum(h.hint_ns < h.no_hint_ns) > count(h.impl) THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(h.impl) = 0 THEN 'no insert timed both with and without a capacity hint'
                ELSE printf('faster with a hint for %d of %d maps at n=%d (median ns/op, no hint -> ' ||
                            'hint): ', sum(h.hint_ns < h.no_hint_ns), count(h.impl), max(h.n))
                     || group_concat(printf('%s %.1f -> %.1f (%+.0f%%)', h.impl, h.no_hint_ns,
                                            h.hint_ns, 100.0 * (h.hint_ns / h.no_hint_ns - 1)), '; ')
           END AS evidence
    FROM complete_run r LEFT JOIN (SELECT * FROM hint_top ORDER BY impl) h USING (run_id)
    GROUP BY r.run_id
),
-- (c) Pointer values cost more bytes per entry than inline values: a blueprint whose
--     value is a pointer to a heap object (its name contains 'ptr' or '*', e.g. Go's
--     map[int]*T) against the same map with the 64-byte value inline (u64->64B), counting
--     the pointed-to objects too: the map's own bytes plus the objects' bytes (both from
--     counting allocators), per entry.
heap_per_entry AS (
    SELECT ins.run_id, ins.impl, ins.blueprint, ins.distribution, ins.n, ins.allocator,
           1.0 * (ins.map_live_bytes + coalesce(ins.object_bytes, 0)) / ins.n AS bytes_per_entry
    FROM memory_by_phase ins
    WHERE ins.phase = 'insert' AND ins.n > 0
),
pointer_pairs AS (
    SELECT p.run_id, p.impl, p.n, p.blueprint AS pointer_blueprint,
           p.bytes_per_entry AS pointer_bytes, i.bytes_per_entry AS inline_bytes
    FROM heap_per_entry p
    JOIN heap_per_entry i
      ON i.run_id = p.run_id AND i.impl = p.impl AND i.n = p.n
     AND i.distribution = p.distribution AND i.allocator = p.allocator AND i.blueprint = 'u64->64B'
    WHERE p.blueprint LIKE '%ptr%' OR p.blueprint LIKE '%*%'
),
pointer_top AS (
    SELECT p.* FROM pointer_pairs p
    WHERE p.n = (SELECT max(q.n) FROM pointer_pairs q WHERE q.run_id = p.run_id)
),
claim_pointer AS (
    SELECT r.run_id,
           CASE WHEN count(p.impl) = 0 THEN 'not measured'
                WHEN 2 * sum(p.pointer_bytes > p.inline_bytes) > count(p.impl) THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(p.impl) = 0
                    THEN 'no pointer-value blueprint (name with ''ptr'' or ''*'') measured next to u64->64B'
                ELSE printf('pointer values cost more for %d of %d maps at n=%d (map + object bytes per ' ||
                            'entry, inline -> pointer): ', sum(p.pointer_bytes > p.inline_bytes),
                            count(p.impl), max(p.n))
                     || group_concat(printf('%s %.1f -> %.1f', p.impl, p.inline_bytes,
                                            p.pointer_bytes), '; ')
           END AS evidence
    FROM complete_run r LEFT JOIN (SELECT * FROM pointer_top ORDER BY impl) p USING (run_id)
    GROUP BY r.run_id
),
-- (d) A sharded map beats one global lock under threads: mixed_rw throughput of
--     'sharded' above 'locked' at the highest thread count (>= 2) both ran, largest n.
thread_cases AS (
    SELECT run_id, impl, n, threads, median_ns_per_op
    FROM case_medians
    WHERE phase = 'mixed_rw' AND impl IN ('sharded', 'locked') AND hint = 0
      AND blueprint = 'u64->u64' AND distribution = 'uniform' AND allocator = 'glibc'
      AND lookup_percent = 90 -- the 90/10 mix the claim is about
),
thread_pairs AS (
    SELECT s.run_id, s.n, s.threads, s.median_ns_per_op AS sharded_ns, l.median_ns_per_op AS locked_ns
    FROM thread_cases s
    JOIN thread_cases l ON l.run_id = s.run_id AND l.n = s.n AND l.threads = s.threads
                       AND l.impl = 'locked'
    WHERE s.impl = 'sharded' AND s.threads >= 2
),
thread_top AS (
    SELECT p.* FROM thread_pairs p
    WHERE NOT EXISTS (SELECT 1 FROM thread_pairs q WHERE q.run_id = p.run_id
                      AND (q.threads > p.threads OR (q.threads = p.threads AND q.n > p.n)))
),
claim_sharded AS (
    SELECT r.run_id,
           CASE WHEN t.run_id IS NULL THEN 'not measured'
                WHEN t.sharded_ns < t.locked_ns THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN t.run_id IS NULL
                    THEN 'no mixed_rw timings of both sharded and locked at 2 or more threads'
                ELSE printf('%d threads, n=%d: sharded %.1f Mops/s, locked %.1f Mops/s ' ||
                            '(sharded/locked = %.2f)', t.threads, t.n, 1000.0 / t.sharded_ns,
                            1000.0 / t.locked_ns, t.locked_ns / t.sharded_ns)
           END AS evidence
    FROM complete_run r LEFT JOIN thread_top t USING (run_id)
),
-- (e) Chained maps return deleted memory to the allocator but not always to the OS:
--     after deleting every key, 'chained' has given at least half of its bytes back (the
--     nodes; the bucket array stays) while the process's RSS above its start is still at
--     least half of what it was after the inserts.  Judged at the largest n whose inserts
--     grew RSS by 1 MiB or more (below that, pages blur the picture).
chained_cases AS (
    SELECT ins.run_id, ins.n, ins.map_live_bytes AS insert_bytes, del.map_live_bytes AS delete_all_bytes,
           ins.rss_bytes - st.rss_bytes AS insert_rss, del.rss_bytes - st.rss_bytes AS delete_all_rss,
           tr.rss_bytes - st.rss_bytes AS trim_rss
    FROM memory_by_phase ins
    JOIN memory_by_phase st ON st.mem_case_id = ins.mem_case_id AND st.phase = 'start'
    JOIN memory_by_phase del ON del.mem_case_id = ins.mem_case_id AND del.phase = 'delete_all'
    LEFT JOIN memory_by_phase tr ON tr.mem_case_id = ins.mem_case_id AND tr.phase = 'trim'
    WHERE ins.impl = 'chained' AND ins.phase = 'insert' AND ins.blueprint = 'u64->u64'
      AND ins.distribution = 'uniform' AND ins.allocator = 'glibc' AND ins.shrink = 'never'
      AND ins.rss_bytes - st.rss_bytes >= 1048576
),
chained_top AS (
    SELECT c.* FROM chained_cases c
    WHERE c.n = (SELECT max(d.n) FROM chained_cases d WHERE d.run_id = c.run_id)
),
claim_chained AS (
    SELECT r.run_id,
           CASE WHEN c.run_id IS NULL THEN 'not measured'
                WHEN c.delete_all_bytes <= 0.5 * c.insert_bytes
                 AND c.delete_all_rss >= 0.5 * c.insert_rss THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN c.run_id IS NULL
                    THEN 'no chained memory case whose inserts grew RSS by 1 MiB or more'
                ELSE printf('n=%d: the map''s bytes went %.1f -> %.1f MiB when every key was ' ||
                            'deleted (%.0f%% given back to the allocator); RSS above start went ' ||
                            '%.1f -> %.1f MiB (%.0f%% still held)', c.n, c.insert_bytes / 1048576.0,
                            c.delete_all_bytes / 1048576.0,
                            100.0 * (1 - 1.0 * c.delete_all_bytes / c.insert_bytes),
                            c.insert_rss / 1048576.0, c.delete_all_rss / 1048576.0,
                            100.0 * c.delete_all_rss / c.insert_rss)
                     || coalesce(printf('; after malloc_trim(0): %.1f MiB', c.trim_rss / 1048576.0), '')
           END AS evidence
    FROM complete_run r LEFT JOIN chained_top c USING (run_id)
),
-- (f) Clear keeps capacity unless the design says otherwise: a map whose traits say
--     'clear-keeps…' has the same capacity after clear as after the reinsert before it
--     (its bytes within 10% where capacity is not reported), and a map whose traits say
--     only 'clear-frees…' does not.  Maps whose traits say neither are not judged.
clear_cases AS (
    SELECT c.run_id, c.impl, c.n, c.traits LIKE '%clear-keeps%' AS design_keeps,
           rein.capacity AS reinsert_capacity, clr.capacity AS clear_capacity,
           rein.map_live_bytes AS reinsert_bytes, clr.map_live_bytes AS clear_bytes
    FROM mem_case c
    JOIN complete_run USING (run_id)
    JOIN mem_phase rein ON rein.mem_case_id = c.mem_case_id AND rein.phase = 'reinsert'
    JOIN mem_phase clr ON clr.mem_case_id = c.mem_case_id AND clr.phase = 'clear'
    WHERE (c.traits LIKE '%clear-keeps%' OR c.traits LIKE '%clear-frees%')
      AND c.blueprint = 'u64->u64' AND c.distribution = 'uniform' AND c.allocator = 'glibc'
      AND c.shrink = 'never'
),
clear_top AS (
    SELECT c.*,
           CASE WHEN c.reinsert_capacity IS NOT NULL AND c.clear_capacity IS NOT NULL
                THEN c.clear_capacity >= c.reinsert_capacity
                ELSE c.clear_bytes >= 0.9 * c.reinsert_bytes END AS kept
    FROM clear_cases c
    WHERE c.n = (SELECT max(d.n) FROM clear_cases d WHERE d.run_id = c.run_id)
),
claim_clear AS (
    SELECT r.run_id,
           CASE WHEN count(c.impl) = 0 THEN 'not measured'
                WHEN sum(c.kept != c.design_keeps) = 0 THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(c.impl) = 0 THEN 'no map whose traits say what clear does'
                ELSE printf('%d of %d maps do what their traits say at n=%d: ',
                            sum(c.kept = c.design_keeps), count(c.impl), max(c.n))
                     || group_concat(printf('%s (design: %s) %s capacity %s -> %s, bytes %.0f%% of ' ||
                                            'after reinsert', c.impl,
                                            CASE WHEN c.design_keeps THEN 'keeps' ELSE 'frees' END,
                                            CASE WHEN c.kept THEN 'kept' ELSE 'dropped' END,
                                            coalesce(c.reinsert_capacity, '?'),
                                            coalesce(c.clear_capacity, '?'),
                                            100.0 * c.clear_bytes / nullif(c.reinsert_bytes, 0)), '; ')
           END AS evidence
    FROM complete_run r LEFT JOIN (SELECT * FROM clear_top ORDER BY impl) c USING (run_id)
    GROUP BY r.run_id
),
-- (g) Deleting every key frees nothing in Go until the map is dropped: the real Go map's
--     HeapInuse (read after a GC) after deleting every key is at least 90% of what it
--     was after the inserts, in every go_runtime case whose inserts grew the heap by
--     1 MiB or more (below that the runtime's own floor blurs it).
go_real AS (
    SELECT ins.run_id, ins.n, ins.distribution,
           ins.map_live_bytes - st.map_live_bytes AS insert_bytes,
           del.map_live_bytes - st.map_live_bytes AS delete_all_bytes,
           again.map_live_bytes - st.map_live_bytes AS emptied_bytes,
           des.map_live_bytes - st.map_live_bytes AS destroy_bytes,
           des.rss_bytes - st.rss_bytes AS destroy_rss, tad.rss_bytes - st.rss_bytes AS freed_rss,
           ins.rss_bytes - st.rss_bytes AS insert_rss,
           reb.map_live_bytes - st.map_live_bytes AS rebuild_bytes,
           clr.map_live_bytes - st.map_live_bytes AS cleared_bytes
    FROM memory_by_phase ins
    JOIN memory_by_phase st ON st.mem_case_id = ins.mem_case_id AND st.phase = 'start'
    JOIN memory_by_phase del ON del.mem_case_id = ins.mem_case_id AND del.phase = 'delete_all'
    LEFT JOIN memory_by_phase again ON again.mem_case_id = ins.mem_case_id
     AND again.phase = 'delete_all_again'
    LEFT JOIN memory_by_phase des ON des.mem_case_id = ins.mem_case_id AND des.phase = 'destroy'
    LEFT JOIN memory_by_phase tad ON tad.mem_case_id = ins.mem_case_id
     AND tad.phase = 'trim_after_destroy'
    LEFT JOIN memory_by_phase reb ON reb.mem_case_id = ins.mem_case_id AND reb.phase = 'rebuild'
    LEFT JOIN memory_by_phase clr ON clr.mem_case_id = ins.mem_case_id
     AND clr.phase = 'trim_after_clear'
    WHERE ins.impl = 'go_runtime' AND ins.phase = 'insert'
      AND ins.map_live_bytes - st.map_live_bytes >= 1048576
),
go_real_top AS (
    SELECT g.* FROM go_real g
    WHERE g.n = (SELECT max(h.n) FROM go_real h WHERE h.run_id = g.run_id)
      AND g.distribution = (SELECT min(h.distribution) FROM go_real h
                            WHERE h.run_id = g.run_id AND h.n = g.n)
),
claim_go_delete AS (
    SELECT r.run_id,
           CASE WHEN count(g.n) = 0 THEN 'not measured'
                WHEN sum(g.delete_all_bytes < 0.9 * g.insert_bytes) = 0 THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(g.n) = 0
                    THEN 'no real Go map case whose inserts grew the heap by 1 MiB or more'
                ELSE printf('%d of %d go_runtime cases kept at least 90%% of their heap after '
                            || 'deleting every key (read after a GC); ',
                            sum(g.delete_all_bytes >= 0.9 * g.insert_bytes), count(g.n))
                     || (SELECT printf('n=%d: %.2f MiB after insert, %.2f MiB after deleting every '
                                       || 'key, %s after m = nil + GC', t.n, t.insert_bytes / 1048576.0,
                                       t.delete_all_bytes / 1048576.0,
                                       coalesce(printf('%.2f MiB', t.destroy_bytes / 1048576.0), 'not measured'))
                         FROM go_real_top t WHERE t.run_id = r.run_id)
           END AS evidence
    FROM complete_run r LEFT JOIN go_real g USING (run_id)
    GROUP BY r.run_id
),
-- (h) m = nil + GC gives it back: after a map emptied by deletes is dropped and a GC has
--     run, the real Go map's heap is back within 10% of its growth (largest n with 1 MiB
--     or more); RSS follows only with debug.FreeOSMemory (trim_after_destroy), shown.
claim_go_nil AS (
    SELECT r.run_id,
           CASE WHEN t.run_id IS NULL OR t.destroy_bytes IS NULL THEN 'not measured'
                WHEN t.destroy_bytes <= 0.1 * t.insert_bytes THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN t.run_id IS NULL OR t.destroy_bytes IS NULL
                    THEN 'no real Go map case with a destroy after delete_all_again and 1 MiB of inserts'
                ELSE printf('n=%d: heap above start %.2f MiB after deleting every key, %.2f MiB '
                            || 'after m = nil + GC (%.0f%% of after-insert); RSS above start %.1f MiB '
                            || 'then, %.1f MiB after debug.FreeOSMemory', t.n,
                            t.emptied_bytes / 1048576.0, t.destroy_bytes / 1048576.0,
                            100.0 * t.destroy_bytes / t.insert_bytes, t.destroy_rss / 1048576.0,
                            t.freed_rss / 1048576.0)
           END AS evidence
    FROM complete_run r LEFT JOIN go_real_top t USING (run_id)
),
-- (i) Rebuilding the map gives it back: after the rebuild step (a new map, the live
--     entries copied, the old destroyed) every map at the largest n (u64->u64, uniform,
--     glibc; the real Go map on its own heap) holds at most 10% of its after-insert bytes
--     (above the empty map it started as; for a map whose own bytes are uncounted: its
--     allocator in-use growth).  The step runs on the cleared map (memscript.c).  Judged
--     on cases whose inserts grew those bytes by 1 MiB or more.
rebuild_cases AS (
    SELECT r.run_id, r.impl, r.shrink, r.n, r.bytes_counted,
           CASE WHEN r.bytes_counted THEN r.map_above_start_bytes
                ELSE r.alloc_in_use_above_start_bytes END AS rebuilt_bytes,
           CASE WHEN r.bytes_counted THEN r.map_above_start_after_insert_bytes
                ELSE r.alloc_in_use_above_start_after_insert_bytes END AS insert_bytes
    FROM remedies r
    WHERE r.phase = 'rebuild' AND r.blueprint = 'u64->u64' AND r.distribution = 'uniform'
      AND r.allocator IN ('glibc', 'go-runtime')
      AND CASE WHEN r.bytes_counted THEN r.map_above_start_after_insert_bytes
               ELSE r.alloc_in_use_above_start_after_insert_bytes END >= 1048576
      AND r.n = (SELECT max(q.n) FROM remedies q WHERE q.run_id = r.run_id AND q.phase = 'rebuild'
                 AND q.blueprint = 'u64->u64' AND q.distribution = 'uniform'
                 AND q.map_above_start_after_insert_bytes >= 1048576)
),
claim_rebuild AS (
    SELECT r.run_id,
           CASE WHEN count(c.impl) = 0 THEN 'not measured'
                WHEN sum(c.rebuilt_bytes > 0.1 * c.insert_bytes) = 0 THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(c.impl) = 0
                    THEN 'no memory case with a rebuild step whose inserts grew 1 MiB or more'
                ELSE printf('%d of %d map cases hold at most 10%% of their after-insert bytes once '
                            || 'rebuilt (n=%d)', sum(c.rebuilt_bytes <= 0.1 * c.insert_bytes),
                            count(c.impl), max(c.n))
                     || coalesce((SELECT '; not: ' || group_concat(printf('%s/%s %.0f%%', x.impl, x.shrink,
                                                     100.0 * x.rebuilt_bytes / x.insert_bytes), ', ')
                                  FROM rebuild_cases x WHERE x.run_id = r.run_id
                                   AND x.rebuilt_bytes > 0.1 * x.insert_bytes), '')
           END AS evidence
    FROM complete_run r LEFT JOIN rebuild_cases c USING (run_id)
    GROUP BY r.run_id
),
-- (j) Pointer values cost GC time (the GC must mark what map[int]*T points to; a
--     map[int]T of pointer-free values is never scanned): in real Go, a forced GC with
--     the pointer map live takes at least twice as long as with the inline map, at the
--     largest n of 100000 or more.
gc_top AS (
    SELECT g.* FROM go_gc_pointer_vs_inline g
    WHERE g.entries >= 100000
      AND g.entries = (SELECT max(h.entries) FROM go_gc_pointer_vs_inline h WHERE h.run_id = g.run_id)
),
claim_gc AS (
    SELECT r.run_id,
           CASE WHEN g.run_id IS NULL THEN 'not measured'
                WHEN g.pointer_gc_ns >= 2 * g.inline_gc_ns THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN g.run_id IS NULL THEN 'no real Go GC-cost case with 100000 entries or more'
                ELSE printf('%d entries, T = %d bytes: a forced GC takes %.3f ms with map[uint64]*T '
                            || 'and %.3f ms with map[uint64]T (%.1fx; median of %d); pauses %.3f vs '
                            || '%.3f ms in all', g.entries, g.value_bytes, g.pointer_gc_ns / 1e6,
                            g.inline_gc_ns / 1e6, g.pointer_gc_ns / g.inline_gc_ns, g.forced_gcs,
                            g.pointer_pause_total_ns / 1e6, g.inline_pause_total_ns / 1e6)
           END AS evidence
    FROM complete_run r LEFT JOIN gc_top g USING (run_id)
),
-- (k) A shrink policy costs time on delete: the maps that have low-water take longer on
--     the timed delete_all under it than under never (median of the maps' extra %, at
--     the largest n timed both ways, u64->u64, uniform, no hint).  The evidence gives X,
--     the measured cost per map.
shrink_top AS (
    SELECT s.* FROM shrink_cost s
    WHERE s.phase = 'delete_all' AND s.shrink = 'low-water' AND s.blueprint = 'u64->u64'
      AND s.distribution = 'uniform' AND s.hint = 0 AND s.threads = 1
      AND s.n = (SELECT max(q.n) FROM shrink_cost q WHERE q.run_id = s.run_id
                 AND q.phase = 'delete_all' AND q.shrink = 'low-water')
),
shrink_ranked AS (
    SELECT s.*, row_number() OVER (PARTITION BY run_id ORDER BY extra_pct) AS k,
           count(*) OVER (PARTITION BY run_id) AS maps
    FROM shrink_top s
),
claim_shrink AS (
    SELECT r.run_id,
           CASE WHEN count(s.impl) = 0 THEN 'not measured'
                WHEN avg(s.extra_pct) FILTER (WHERE s.k IN ((s.maps + 1) / 2, (s.maps + 2) / 2)) > 0
                    THEN 'holds'
                ELSE 'does not hold' END AS verdict,
           CASE WHEN count(s.impl) = 0 THEN 'no map timed on delete_all under both policies'
                ELSE printf('n=%d, delete_all under low-water against never: median %+.0f%% over %d '
                            || 'maps; ', max(s.n),
                            avg(s.extra_pct) FILTER (WHERE s.k IN ((s.maps + 1) / 2, (s.maps + 2) / 2)),
                            count(s.impl))
                     || group_concat(printf('%s %+.0f%% (%.1f -> %.1f ns)', s.impl, s.extra_pct,
                                            s.never_ns_per_op, s.ns_per_op), '; ')
           END AS evidence
    FROM complete_run r LEFT JOIN (SELECT * FROM shrink_ranked ORDER BY impl) s USING (run_id)
    GROUP BY r.run_id
),
all_claims AS (
    SELECT run_id, 1 AS claim_order, 'gomap_never_shrinks' AS claim_id,
           'A Go-style map (gomap) never shrinks after delete' AS claim, verdict, evidence
    FROM claim_go
    UNION ALL
    SELECT run_id, 2, 'hint_saves_time',
           'A capacity hint avoids rehashing and saves time on insert', verdict, evidence
    FROM claim_hint
    UNION ALL
    SELECT run_id, 3, 'pointer_values_cost_bytes',
           'Pointer values cost more bytes per entry than inline values', verdict, evidence
    FROM claim_pointer
    UNION ALL
    SELECT run_id, 4, 'sharded_beats_locked',
           'A sharded map beats one global lock under threads', verdict, evidence
    FROM claim_sharded
    UNION ALL
    SELECT run_id, 5, 'chained_frees_to_allocator_not_os',
           'Chained maps return deleted memory to the allocator but not always to the OS',
           verdict, evidence
    FROM claim_chained
    UNION ALL
    SELECT run_id, 6, 'clear_keeps_capacity',
           'Clear keeps capacity unless the design says otherwise', verdict, evidence
    FROM claim_clear
    UNION ALL
    SELECT run_id, 7, 'go_delete_frees_nothing',
           'Deleting every key frees nothing in Go until the map is dropped', verdict, evidence
    FROM claim_go_delete
    UNION ALL
    SELECT run_id, 8, 'go_nil_gc_gives_back', 'm = nil + GC gives it back (in Go)', verdict,
           evidence
    FROM claim_go_nil
    UNION ALL
    SELECT run_id, 9, 'rebuild_gives_back', 'Rebuilding the map gives it back', verdict, evidence
    FROM claim_rebuild
    UNION ALL
    SELECT run_id, 10, 'pointer_values_cost_gc', 'Pointer values cost GC time (Go)', verdict,
           evidence
    FROM claim_gc
    UNION ALL
    SELECT run_id, 11, 'shrink_costs_on_delete',
           'A shrink policy costs X% on delete (X measured)', verdict, evidence
    FROM claim_shrink
)
SELECT run_id, claim_order, claim_id, claim, verdict, evidence
FROM all_claims
ORDER BY run_id, claim_order;

CREATE VIEW claim_verdicts AS
SELECT claim_id, claim, verdict, evidence
FROM claim_verdicts_by_run
WHERE run_id = (SELECT run_id FROM latest_run)
ORDER BY claim_order;
