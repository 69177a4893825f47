-- Views for the common questions.  Only complete runs are visible through them.
DROP VIEW IF EXISTS complete_run;
CREATE VIEW complete_run AS
SELECT * FROM run WHERE status = 'complete';

DROP VIEW IF EXISTS latest_run;
CREATE VIEW latest_run AS
SELECT * FROM complete_run ORDER BY finished_at DESC, run_id DESC LIMIT 1;

-- One row per timed case of every complete run: median, min, max over all repetitions
-- of all processes.  mixed_rw cases also carry their mix (lookup_percent), the median
-- of the ceiling run beside each repetition, and median_of_ceiling: the median over
-- the repetitions of each one's ceiling_ns_per_op / ns_per_op, the map's share of the
-- ceiling run right after it (NULL for other phases).  Paired, because the two runs
-- see the machine in the same moment: on a shared host the speed moves by up to 2x
-- from one repetition to the next, mostly for both runs of a pair alike.
DROP VIEW IF EXISTS case_medians;
CREATE VIEW case_medians AS
WITH ranked AS (
    SELECT s.bench_id, s.ns_per_op, s.ceiling_ns_per_op,
           s.ceiling_ns_per_op / s.ns_per_op AS of_ceiling,
           row_number() OVER (PARTITION BY s.bench_id ORDER BY s.ns_per_op) AS k,
           row_number() OVER (PARTITION BY s.bench_id ORDER BY s.ceiling_ns_per_op) AS kc,
           row_number() OVER (PARTITION BY s.bench_id
                              ORDER BY s.ceiling_ns_per_op / s.ns_per_op) AS ko,
           count(*) OVER (PARTITION BY s.bench_id) AS cnt,
           count(s.ceiling_ns_per_op) OVER (PARTITION BY s.bench_id) AS cnt_c
    FROM sample s
)
SELECT b.run_id, b.bench_id, b.impl, b.family, b.phase, b.blueprint, b.distribution, b.n,
       b.hint, b.threads, b.allocator, b.shrink, b.hugepages,
       avg(r.ns_per_op) FILTER (WHERE r.k IN ((r.cnt + 1) / 2, (r.cnt + 2) / 2)) AS median_ns_per_op,
       min(r.ns_per_op) AS min_ns_per_op,
       max(r.ns_per_op) AS max_ns_per_op,
       max(r.cnt) AS samples,
       b.lookup_percent,
       -- NULLs sort first: the ceiling's rank counts past the samples without one
       avg(r.ceiling_ns_per_op) FILTER (WHERE r.kc - (r.cnt - r.cnt_c)
                                        IN ((r.cnt_c + 1) / 2, (r.cnt_c + 2) / 2))
           AS median_ceiling_ns_per_op,
    avg(r.of_ceiling) FILTER (WHERE r.ko - (r.cnt - r.cnt_c)
                              IN ((r.cnt_c + 1) / 2, (r.cnt_c + 2) / 2))
           AS median_of_ceiling
FROM ranked r
JOIN bench b USING (bench_id)
JOIN complete_run USING (run_id)
WHERE b.family != 'calibration' -- the floor's instrument is no map: view phase_floor
GROUP BY r.bench_id;

-- The harness floor: what each timed phase costs per operation with no map behind it
-- (the calibration map null_map, impls/calibration/null_map.c: it answers from the key),
-- timed by every run with timings on the phases and sizes it times, u64->u64 uniform keys,
-- no hint, in a process beside each timing process.  floor_ns_per_op is the median over
-- every repetition of every process; a figure's share that is the map is
-- (ns - floor) / ns.
DROP VIEW IF EXISTS phase_floor;
CREATE VIEW phase_floor AS
WITH ranked AS (
    SELECT s.bench_id, s.ns_per_op,
           row_number() OVER (PARTITION BY s.bench_id ORDER BY s.ns_per_op) AS k,
           count(*) OVER (PARTITION BY s.bench_id) AS cnt
    FROM sample s
)
SELECT b.run_id, b.phase, b.n, b.impl AS instrument,
       avg(r.ns_per_op) FILTER (WHERE r.k IN ((r.cnt + 1) / 2, (r.cnt + 2) / 2)) AS floor_ns_per_op,
       min(r.ns_per_op) AS floor_min_ns_per_op,
       max(r.ns_per_op) AS floor_max_ns_per_op,
       max(r.cnt) AS samples
FROM ranked r
JOIN bench b USING (bench_id)
JOIN complete_run USING (run_id)
WHERE b.family = 'calibration' AND b.blueprint = 'u64->u64' AND b.distribution = 'uniform'
  AND b.hint = 0 AND b.threads = 1 AND b.shrink = 'never'
GROUP BY r.bench_id;

DROP VIEW IF EXISTS latest_medians;
CREATE VIEW latest_medians AS
SELECT m.* FROM case_medians m JOIN latest_run USING (run_id);

-- Every memory sample of every complete run, with bytes per live entry.  shrink is the
-- map's policy (never | low-water): a map that has low-water runs the script under both.
DROP VIEW IF EXISTS memory_by_phase;
CREATE VIEW memory_by_phase AS
SELECT c.run_id, c.mem_case_id, c.impl, c.family, c.blueprint, c.distribution, c.n,
       c.allocator, c.shrink, c.traits, p.phase_index, p.phase, p.entries, p.map_live_bytes, p.map_peak_bytes,
       p.alloc_in_use_bytes, p.alloc_held_bytes, p.rss_bytes, p.anon_bytes, p.minor_faults,
       p.phase_ns, p.capacity, p.tombstones, p.overflow, p.object_bytes, p.peak_rss_bytes,
       CASE WHEN p.entries > 0 THEN 1.0 * p.map_live_bytes / p.entries END AS map_bytes_per_entry
FROM mem_phase p
JOIN mem_case c USING (mem_case_id)
JOIN complete_run USING (run_id);

DROP VIEW IF EXISTS latest_memory_by_phase;
CREATE VIEW latest_memory_by_phase AS
SELECT m.* FROM memory_by_phase m JOIN latest_run USING (run_id);

-- Bytes per entry right after inserting n keys (map's own bytes, the pointed-to
-- objects' bytes for pointer-value blueprints, and RSS growth).  Inserting does not
-- depend on the shrink policy: the 'never' case only.
--   bytes_counted        0 for a map whose own bytes the counting allocator cannot see
--                        (trait table-bytes-uncounted, e.g. GLib): map_bytes_per_entry is
--                        then a part of the truth, never a figure to rank on;
--   alloc_bytes_per_entry the allocator's in-use growth since start, per entry;
--   rank_bytes_per_entry / rank_basis  what maps are ranked on: the map's bytes where
--                        counted, else the allocator's in-use growth ('allocator-in-use').
DROP VIEW IF EXISTS bytes_per_entry;
CREATE VIEW bytes_per_entry AS
SELECT ins.run_id, ins.impl, ins.family, ins.blueprint, ins.distribution, ins.n, ins.allocator,
       1.0 * ins.map_live_bytes / ins.n AS map_bytes_per_entry,
       1.0 * coalesce(ins.object_bytes, 0) / ins.n AS object_bytes_per_entry,
       1.0 * (ins.map_live_bytes + coalesce(ins.object_bytes, 0)) / ins.n AS total_bytes_per_entry,
       1.0 * (ins.rss_bytes - st.rss_bytes) / ins.n AS rss_bytes_per_entry,
       ins.traits NOT LIKE '%table-bytes-uncounted%' AS bytes_counted,
       1.0 * (ins.alloc_in_use_bytes - st.alloc_in_use_bytes) / ins.n AS alloc_bytes_per_entry,
       CASE WHEN ins.traits LIKE '%table-bytes-uncounted%'
            THEN 1.0 * (ins.alloc_in_use_bytes - st.alloc_in_use_bytes) / ins.n
            ELSE 1.0 * ins.map_live_bytes / ins.n END AS rank_bytes_per_entry,
       CASE WHEN ins.traits LIKE '%table-bytes-uncounted%' THEN 'allocator-in-use'
            ELSE 'map' END AS rank_basis
FROM memory_by_phase ins
JOIN memory_by_phase st ON st.mem_case_id = ins.mem_case_id AND st.phase = 'start'
WHERE ins.phase = 'insert' AND ins.shrink = 'never';

-- How much of its peak each map (and the process) still holds after each phase:
-- held by the map = map_live_bytes; held by the allocator = allocator-held bytes the
-- map does not use; returned to the OS = what RSS gave back.
DROP VIEW IF EXISTS retained;
CREATE VIEW retained AS
SELECT m.run_id, m.impl, m.family, m.blueprint, m.distribution, m.n, m.allocator, m.shrink,
       m.phase_index, m.phase,
       m.map_live_bytes, pk.map_live_bytes AS map_bytes_after_insert,
       1.0 * m.map_live_bytes / NULLIF(pk.map_live_bytes, 0) AS map_retained_fraction,
       m.rss_bytes - st.rss_bytes AS rss_above_start_bytes,
       1.0 * (m.rss_bytes - st.rss_bytes) / NULLIF(pk.rss_bytes - st.rss_bytes, 0)
           AS rss_retained_fraction
FROM memory_by_phase m
JOIN memory_by_phase pk ON pk.mem_case_id = m.mem_case_id AND pk.phase = 'insert'
JOIN memory_by_phase st ON st.mem_case_id = m.mem_case_id AND st.phase = 'start';

-- Complete runs, newest first, with what they hold.
DROP VIEW IF EXISTS runs;
CREATE VIEW runs AS
SELECT r.run_id, r.run_uuid, r.started_at, r.finished_at, r.status, r.suite, r.git_sha,
       r.git_dirty, r.allocator_list AS allocators, r.cpu_model,
       (SELECT count(*) FROM bench b WHERE b.run_id = r.run_id AND b.family != 'calibration') AS timed_cases,
       (SELECT count(*) FROM mem_case c WHERE c.run_id = r.run_id) AS memory_cases
FROM (SELECT run.*, (SELECT group_concat(DISTINCT allocator) FROM mem_case c
                     WHERE c.run_id = run.run_id) AS allocator_list FROM run) r
ORDER BY r.run_id DESC;

-- Where the bytes went after each phase, as fractions of the process's RSS
-- growth after the inserts: held by the map (its live bytes, and its objects'
-- for pointer values), held by the allocator (resident but not the map's),
-- returned to the OS (RSS given back).
DROP VIEW IF EXISTS retained_split;
CREATE VIEW retained_split AS
WITH base AS (
    SELECT m.*, pk.rss_bytes - st.rss_bytes AS peak_rss_above_start_bytes,
           m.rss_bytes - st.rss_bytes AS rss_above_start_bytes
    FROM memory_by_phase m
    JOIN memory_by_phase pk ON pk.mem_case_id = m.mem_case_id AND pk.phase = 'insert'
    JOIN memory_by_phase st ON st.mem_case_id = m.mem_case_id AND st.phase = 'start'
)
SELECT run_id, impl, family, blueprint, distribution, n, allocator, shrink, phase_index, phase,
       peak_rss_above_start_bytes,
       1.0 * min(map_live_bytes + coalesce(object_bytes, 0), max(rss_above_start_bytes, 0))
           / NULLIF(peak_rss_above_start_bytes, 0) AS held_by_map_fraction,
       1.0 * max(rss_above_start_bytes - map_live_bytes - coalesce(object_bytes, 0), 0)
           / NULLIF(peak_rss_above_start_bytes, 0) AS held_by_allocator_fraction,
       1.0 * max(peak_rss_above_start_bytes - max(rss_above_start_bytes, 0), 0)
           / NULLIF(peak_rss_above_start_bytes, 0) AS returned_to_os_fraction
FROM base;

-- Insert latency while growing from empty (latency-case), complete runs.
DROP VIEW IF EXISTS insert_latency_percentiles;
CREATE VIEW insert_latency_percentiles AS
SELECT l.* FROM insert_latency l JOIN complete_run USING (run_id);

-- Constant-size churn along the way (churn-case), complete runs.
DROP VIEW IF EXISTS churn_timeline;
CREATE VIEW churn_timeline AS
SELECT c.* FROM churn_sample c JOIN complete_run USING (run_id);

-- One timed case across every complete run, oldest first: the trend of a case.
DROP VIEW IF EXISTS case_trend;
CREATE VIEW case_trend AS
SELECT r.finished_at, m.run_id, r.git_sha, m.impl, m.phase, m.blueprint, m.distribution, m.n,
       m.hint, m.threads, m.allocator, m.shrink, m.median_ns_per_op, m.min_ns_per_op,
       m.max_ns_per_op, m.lookup_percent
FROM case_medians m JOIN complete_run r USING (run_id)
ORDER BY m.impl, m.phase, m.blueprint, m.distribution, m.n, m.hint, m.threads, m.allocator,
         m.shrink, r.finished_at;

-- The latest complete run against the complete run before it, case by case.
DROP VIEW IF EXISTS latest_vs_previous;
CREATE VIEW latest_vs_previous AS
WITH two AS (SELECT run_id, row_number() OVER (ORDER BY finished_at DESC, run_id DESC) AS k
             FROM complete_run)
SELECT c.impl, c.phase, c.blueprint, c.distribution, c.n, c.hint, c.threads, c.allocator,
       c.shrink, b.median_ns_per_op AS previous_ns_per_op, c.median_ns_per_op AS latest_ns_per_op,
       c.median_ns_per_op / b.median_ns_per_op AS ratio
FROM case_medians c
JOIN two tc ON tc.run_id = c.run_id AND tc.k = 1
JOIN case_medians b ON b.impl = c.impl AND b.phase = c.phase AND b.blueprint = c.blueprint
 AND b.distribution = c.distribution AND b.n = c.n AND b.hint = c.hint
 AND b.threads = c.threads AND b.allocator = c.allocator AND b.shrink = c.shrink
 AND b.lookup_percent IS c.lookup_percent
JOIN two tb ON tb.run_id = b.run_id AND tb.k = 2;

-- Maps ranked per workload (phase, blueprint, distribution, n, hint, threads) in the
-- latest run, fastest first.
DROP VIEW IF EXISTS map_ranking;
CREATE VIEW map_ranking AS
SELECT phase, blueprint, distribution, n, hint, threads, shrink,
       rank() OVER (PARTITION BY phase, blueprint, distribution, n, hint, threads, shrink,
                    lookup_percent
                    ORDER BY median_ns_per_op) AS rank,
       impl, median_ns_per_op
FROM latest_medians;

-- Instructions per operation of each measured phase (callgrind), complete runs.
DROP VIEW IF EXISTS icount_per_op;
CREATE VIEW icount_per_op AS
SELECT b.run_id, b.bench_id, b.impl, b.family, b.phase, b.blueprint, b.distribution, b.n,
       b.hint, b.allocator, b.shrink, i.instructions, i.ops, 1.0 * i.instructions / i.ops AS instructions_per_op
FROM icount i
JOIN bench b USING (bench_id)
JOIN complete_run USING (run_id);

-- ---- views the plots and report read -------------------------------------------------
-- Every plot view covers all complete runs and carries run_id: a plot script (and
-- `mapbench plot --run ID`) picks its run with `WHERE run_id = …` (gnuplot variable
-- `run`, default the latest complete run).  The plots compare maps on one reference
-- case: u64->u64 blueprint, uniform keys, glibc malloc.

-- Complete runs in the order they finished: run_seq 1 is the first (the trend baseline).
DROP VIEW IF EXISTS run_sequence;
CREATE VIEW run_sequence AS
SELECT run_id, finished_at, row_number() OVER (ORDER BY finished_at, run_id) AS run_seq
FROM complete_run;

-- ns/op per map, phase and n (no hint, one thread), with the spread over repetitions.
DROP VIEW IF EXISTS plot_ns_per_op;
CREATE VIEW plot_ns_per_op AS
SELECT run_id, impl, phase,
       CASE phase WHEN 'insert' THEN 1 WHEN 'lookup_hit' THEN 2 WHEN 'lookup_miss' THEN 3
                  WHEN 'delete_all' THEN 4 WHEN 'clear' THEN 5 ELSE 9 END AS phase_order,
       n, median_ns_per_op, min_ns_per_op, max_ns_per_op
FROM case_medians
WHERE blueprint = 'u64->u64' AND distribution = 'uniform' AND allocator = 'glibc'
  AND hint = 0 AND threads = 1 AND phase != 'mixed_rw' AND shrink = 'never'
ORDER BY run_id, impl, phase_order, n;

-- THP off vs madvised hugepages: every case of a run made with --hugepages against the
-- same case (hugepages = 0) in the latest complete run without it; ratio > 1: slower
-- with hugepages.  Maps with their own allocator (MB_F_OWN_ALLOC) are not affected by
-- the flag and read as noise here.
DROP VIEW IF EXISTS hugepages_effect;
CREATE VIEW hugepages_effect AS
SELECT h.run_id, o.run_id AS baseline_run_id, h.impl, h.phase, h.blueprint, h.distribution,
       h.n, h.hint, h.threads, h.shrink, o.median_ns_per_op AS thp_off_ns_per_op,
       h.median_ns_per_op AS hugepages_ns_per_op,
       h.median_ns_per_op / o.median_ns_per_op AS ratio
FROM case_medians h
JOIN case_medians o ON o.hugepages = 0 AND o.impl = h.impl AND o.phase = h.phase
 AND o.blueprint = h.blueprint AND o.distribution = h.distribution AND o.n = h.n
 AND o.hint = h.hint AND o.threads = h.threads AND o.shrink = h.shrink
 AND o.run_id = (SELECT c.run_id FROM case_medians c JOIN complete_run r USING (run_id)
                 WHERE c.hugepages = 0 AND c.impl = h.impl AND c.phase = h.phase
                   AND c.blueprint = h.blueprint AND c.distribution = h.distribution
                   AND c.n = h.n AND c.hint = h.hint AND c.threads = h.threads
                   AND c.shrink = h.shrink
                 ORDER BY r.finished_at DESC, r.run_id DESC LIMIT 1)
WHERE h.hugepages = 1;

-- The floor beside plot_ns_per_op: the same phases and sizes with no map (phase_floor).
DROP VIEW IF EXISTS plot_floor;
CREATE VIEW plot_floor AS
SELECT run_id, phase, n, floor_ns_per_op, floor_min_ns_per_op, floor_max_ns_per_op
FROM phase_floor ORDER BY run_id, phase, n;

-- Does memory come back?  After each phase of the memory script at the run's largest n,
-- the high-water mark so far split three ways:
--   map_mib        held by the map: its live bytes (counting allocator);
--   allocator_mib  held by the allocator: what it holds above its start and the OS still
--                  backs (allocator-held bytes, capped at RSS growth), less the map's
--                  bytes, floor 0 (malloc headers, free chunks not yet given back);
--   returned_mib   returned to the OS: the high-water mark of map + allocator so far
--                  less what they hold now.
-- The cap at RSS growth matters: after malloc_trim, glibc's arena size (mallinfo2) stays
-- while the pages behind it are given back, and RSS shows it.
DROP VIEW IF EXISTS plot_memory_timeline;
CREATE VIEW plot_memory_timeline AS
WITH largest AS (
    SELECT run_id, max(n) AS n FROM memory_by_phase
    WHERE blueprint = 'u64->u64' AND distribution = 'uniform' GROUP BY run_id
), held AS (
    SELECT m.run_id, m.mem_case_id, m.impl, m.allocator, m.n, m.phase_index, m.phase,
           m.map_live_bytes,
           max(coalesce(m.rss_bytes - st.rss_bytes,
                        m.alloc_held_bytes - st.alloc_held_bytes, m.map_live_bytes), 0)
               AS footprint_bytes,
           max(coalesce(m.alloc_held_bytes - st.alloc_held_bytes, 0), 0) AS alloc_held_above_start
    FROM memory_by_phase m
    JOIN largest USING (run_id, n)
    JOIN memory_by_phase st ON st.mem_case_id = m.mem_case_id AND st.phase = 'start'
    WHERE m.blueprint = 'u64->u64' AND m.distribution = 'uniform' AND m.shrink = 'never'
), split AS (
    SELECT *, max(min(alloc_held_above_start, footprint_bytes) - map_live_bytes, 0)
                  AS allocator_bytes
    FROM held
)
SELECT run_id, impl, allocator, impl || '/' || allocator AS panel, n, phase_index, phase,
       map_live_bytes / 1048576.0 AS map_mib,
       allocator_bytes / 1048576.0 AS allocator_mib,
       (max(map_live_bytes + allocator_bytes) OVER running - map_live_bytes - allocator_bytes)
           / 1048576.0 AS returned_mib,
       max(map_live_bytes + allocator_bytes) OVER running / 1048576.0 AS high_water_mib,
       footprint_bytes / 1048576.0 AS rss_above_start_mib
FROM split
WINDOW running AS (PARTITION BY mem_case_id ORDER BY phase_index ROWS UNBOUNDED PRECEDING)
ORDER BY run_id, impl, allocator, phase_index;

-- Bytes per entry right after inserting n keys: the load-factor sawtooth.  RSS growth per
-- entry only where RSS grew by at least 1 MiB (below that, pages and allocator slack
-- dominate).  rank_bytes_per_entry / rank_basis: see bytes_per_entry (a map whose own
-- bytes are uncounted is ranked on the allocator's in-use growth, and says so).
DROP VIEW IF EXISTS plot_bytes_per_entry;
CREATE VIEW plot_bytes_per_entry AS
SELECT run_id, impl, n, map_bytes_per_entry, rank_bytes_per_entry, rank_basis,
       CASE WHEN rss_bytes_per_entry * n >= 1048576 THEN rss_bytes_per_entry END
           AS rss_bytes_per_entry
FROM bytes_per_entry
WHERE blueprint = 'u64->u64' AND distribution = 'uniform' AND allocator = 'glibc'
ORDER BY run_id, impl, n;

-- What each map (and the process) still holds after delete and clear, in % of what it
-- held after the inserts, at the run's largest n.
DROP VIEW IF EXISTS plot_retained;
CREATE VIEW plot_retained AS
SELECT r.run_id, r.impl, r.n, r.phase_index, r.phase,
       100.0 * r.map_retained_fraction AS map_retained_pct,
       100.0 * max(r.rss_retained_fraction, 0) AS rss_retained_pct
FROM retained r
JOIN (SELECT run_id, max(n) AS n FROM retained
      WHERE blueprint = 'u64->u64' AND distribution = 'uniform' GROUP BY run_id) USING (run_id, n)
WHERE r.blueprint = 'u64->u64' AND r.distribution = 'uniform' AND r.allocator = 'glibc'
  AND r.shrink = 'never'
  AND r.phase IN ('delete_half', 'delete_all', 'trim', 'clear', 'trim_after_clear')
ORDER BY r.run_id, r.impl, r.phase_index;

-- Thread scaling: mixed_rw throughput (ns_per_op is wall time over all threads' ops, so
-- Mops/s = 1000 / ns_per_op) at the run's largest mixed_rw n, per mix (lookup_percent,
-- mix: read-only / 90 / 50 / write-only), C maps (glibc) and the real Go maps
-- (go-runtime) side by side.  ceiling_mops_per_s: the same scripts unsynchronized on a
-- read-only swiss, run beside each repetition of this case (median); of_ceiling is the
-- map's share of it, paired: the median of each repetition's share of the ceiling run
-- right after it (case_medians.median_of_ceiling), so it need not equal the ratio of
-- the two medians; speedup is over the map's own 1-thread figure of the same mix;
-- oversubscribed: more threads than the run's online CPUs (run.cores).
DROP VIEW IF EXISTS plot_thread_scaling;
CREATE VIEW plot_thread_scaling AS
WITH t AS (
    SELECT m.run_id, m.impl, m.n, m.threads, m.lookup_percent, m.median_ns_per_op,
           1000.0 / m.median_ns_per_op AS mops_per_s,
           1000.0 / m.max_ns_per_op AS slowest_mops_per_s,
           1000.0 / m.min_ns_per_op AS fastest_mops_per_s,
           1000.0 / m.median_ceiling_ns_per_op AS ceiling_mops_per_s,
           m.median_of_ceiling
    FROM case_medians m
    JOIN (SELECT run_id, max(n) AS n FROM case_medians WHERE phase = 'mixed_rw'
          GROUP BY run_id) USING (run_id, n)
    WHERE m.phase = 'mixed_rw' AND m.blueprint = 'u64->u64' AND m.distribution = 'uniform'
      AND m.allocator IN ('glibc', 'go-runtime') AND m.hint = 0 AND m.shrink = 'never'
)
SELECT t.run_id, t.impl, t.n, t.threads, t.median_ns_per_op, t.mops_per_s,
       t.slowest_mops_per_s, t.fastest_mops_per_s, t.lookup_percent,
       CASE t.lookup_percent WHEN 100 THEN 'read-only' WHEN 0 THEN 'write-only'
            ELSE printf('%d/%d', t.lookup_percent, 100 - t.lookup_percent) END AS mix,
       t.ceiling_mops_per_s,
       t.median_of_ceiling AS of_ceiling,
       t.mops_per_s / o.mops_per_s AS speedup,
       r.cores,
       CASE WHEN r.cores IS NULL THEN NULL WHEN t.threads > r.cores THEN 1 ELSE 0 END
           AS oversubscribed
FROM t
JOIN run r USING (run_id)
LEFT JOIN t o ON o.run_id = t.run_id AND o.impl = t.impl AND o.threads = 1
             AND o.lookup_percent IS t.lookup_percent
ORDER BY t.run_id, t.lookup_percent DESC, t.impl, t.threads;

-- The gate's bands, one per trended metric (fraction around the baseline), read from
-- the gate's own thresholds: view gate_threshold is ci/gate.conf, compiled into mapbench
-- and installed with these views (one source; editing ci/gate.conf moves both).
DROP VIEW IF EXISTS trend_band;
CREATE VIEW trend_band (metric, threshold, meaning) AS
SELECT 'ns_per_op', round(value - 1, 12),
       printf('wall time: median ratio above %g warns', value)
FROM gate_threshold WHERE key = 'time.ratio'
UNION ALL
SELECT 'instructions_per_op', value,
       printf('instructions per op: above +%g%% fails', 100 * value)
FROM gate_threshold WHERE key = 'icount.fail'
UNION ALL
SELECT 'map_bytes_per_entry', value,
       printf('map bytes per entry after insert: above +%g%% fails', 100 * value)
FROM gate_threshold WHERE key = 'bytes.fail';

-- Trends across complete runs, per metric and case, relative to the first run that has
-- the case (its baseline): lookup_hit ns/op and instructions/op, and map bytes per entry
-- after insert (what the gate judges).
DROP VIEW IF EXISTS plot_trend;
CREATE VIEW plot_trend AS
WITH points AS (
    SELECT 'ns_per_op' AS metric, run_id, impl, n, median_ns_per_op AS value
    FROM case_medians
    WHERE phase = 'lookup_hit' AND hint = 0 AND threads = 1 AND shrink = 'never' AND blueprint = 'u64->u64'
      AND distribution = 'uniform' AND allocator = 'glibc'
    UNION ALL
    SELECT 'instructions_per_op', run_id, impl, n, instructions_per_op
    FROM icount_per_op
    WHERE phase = 'lookup_hit' AND hint = 0 AND blueprint = 'u64->u64'
      AND distribution = 'uniform' AND allocator = 'glibc'
    UNION ALL
    SELECT 'map_bytes_per_entry', run_id, impl, n, map_bytes_per_entry
    FROM bytes_per_entry
    WHERE blueprint = 'u64->u64' AND distribution = 'uniform' AND allocator = 'glibc'
), based AS (
    SELECT p.*, s.run_seq, s.finished_at,
           first_value(p.value) OVER first_run AS baseline_value,
           first_value(p.run_id) OVER first_run AS baseline_run_id
    FROM points p JOIN run_sequence s USING (run_id)
    WINDOW first_run AS (PARTITION BY p.metric, p.impl, p.n ORDER BY s.run_seq)
)
SELECT b.metric, b.impl, b.n, b.run_id, b.run_seq, b.finished_at, b.value,
       b.baseline_run_id, b.baseline_value, b.value / b.baseline_value AS ratio_to_baseline,
       t.threshold
FROM based b JOIN trend_band t USING (metric)
ORDER BY b.metric, b.impl, b.n, b.run_seq;

-- Single-insert latency percentiles while growing from empty (plots/insert_latency.gp),
-- u64->u64, no hint; floored at 1 ns for the log axis.
DROP VIEW IF EXISTS plot_insert_latency;
CREATE VIEW plot_insert_latency AS
SELECT run_id, impl, n, max(p50_ns, 1) AS p50_ns, max(p90_ns, 1) AS p90_ns,
       max(p99_ns, 1) AS p99_ns, max(p999_ns, 1) AS p999_ns, max(max_ns, 1) AS max_ns,
       grow_events
FROM insert_latency
WHERE blueprint = 'u64->u64' AND hint = 0 AND allocator = 'glibc';

-- ---- what a fix costs: shrink policies, remedies, thrash, the real Go map's GC ----------

-- The remedies: the memory script's steps once the map is empty, each as map / allocator /
-- OS bytes (allocator and RSS above the case's start) with its own time, per map, shrink
-- policy and allocator.  The steps run in order in one process (memscript.c): delete_all
-- (the 'none' row; under low-water the shrink-on-delete row), trim, then reinsert and
-- clear, clear + trim, rebuild (a new map, the live entries copied, the old destroyed),
-- rebuild + trim, destroy (Go: m = nil, sampled after the GC), destroy + trim.  For the
-- arena map, clear is its arena release.  Go's trim is runtime.GC + debug.FreeOSMemory.
DROP VIEW IF EXISTS remedies;
CREATE VIEW remedies AS
SELECT m.run_id, m.mem_case_id, m.impl, m.family, m.blueprint, m.distribution, m.n,
       m.allocator, m.shrink, m.phase_index, m.phase,
       m.traits NOT LIKE '%table-bytes-uncounted%' AS bytes_counted,
       CASE m.phase
         WHEN 'delete_all' THEN CASE WHEN m.shrink = 'never' THEN 'none (every key deleted)'
                                     ELSE 'shrink on delete (' || m.shrink || ')' END
         WHEN 'trim' THEN CASE WHEN m.allocator = 'go-runtime'
                               THEN 'runtime.GC + debug.FreeOSMemory' ELSE 'malloc trim' END
         WHEN 'clear' THEN CASE WHEN m.family = 'arena' THEN 'clear (arena release)'
                                ELSE 'clear' END
         WHEN 'trim_after_clear' THEN 'clear + trim'
         WHEN 'rebuild' THEN 'rebuild (copy live entries to a new map, drop the old)'
         WHEN 'trim_after_rebuild' THEN 'rebuild + trim'
         WHEN 'destroy' THEN CASE WHEN m.allocator = 'go-runtime' THEN 'm = nil + GC'
                                  ELSE 'destroy' END
         WHEN 'trim_after_destroy' THEN 'destroy + trim' END AS remedy,
       m.map_live_bytes AS map_bytes,
       m.map_live_bytes - st.map_live_bytes AS map_above_start_bytes, -- Go: the heap's floor off
       m.alloc_in_use_bytes - st.alloc_in_use_bytes AS alloc_in_use_above_start_bytes,
       m.alloc_held_bytes - st.alloc_held_bytes AS alloc_held_above_start_bytes,
       m.rss_bytes - st.rss_bytes AS rss_above_start_bytes,
       ins.map_live_bytes AS map_bytes_after_insert,
       ins.map_live_bytes - st.map_live_bytes AS map_above_start_after_insert_bytes,
       ins.alloc_in_use_bytes - st.alloc_in_use_bytes AS alloc_in_use_above_start_after_insert_bytes,
       ins.rss_bytes - st.rss_bytes AS rss_above_start_after_insert_bytes,
       m.phase_ns
FROM memory_by_phase m
JOIN memory_by_phase st ON st.mem_case_id = m.mem_case_id AND st.phase = 'start'
JOIN memory_by_phase ins ON ins.mem_case_id = m.mem_case_id AND ins.phase = 'insert'
WHERE m.phase IN ('delete_all', 'trim', 'clear', 'trim_after_clear', 'rebuild',
                  'trim_after_rebuild', 'destroy', 'trim_after_destroy');

-- What a shrink policy costs on the timed removing phases: each policy's median against
-- the same case under 'never' (0 for 'never' itself).
DROP VIEW IF EXISTS shrink_cost;
CREATE VIEW shrink_cost AS
SELECT p.run_id, p.impl, p.phase, p.blueprint, p.distribution, p.n, p.hint, p.threads,
       p.allocator, p.shrink, b.median_ns_per_op AS never_ns_per_op,
       p.median_ns_per_op AS ns_per_op, p.median_ns_per_op - b.median_ns_per_op AS extra_ns_per_op,
       100.0 * (p.median_ns_per_op / b.median_ns_per_op - 1) AS extra_pct
FROM case_medians p
JOIN case_medians b
  ON b.run_id = p.run_id AND b.impl = p.impl AND b.phase = p.phase AND b.blueprint = p.blueprint
 AND b.distribution = p.distribution AND b.n = p.n AND b.hint = p.hint AND b.threads = p.threads
 AND b.allocator = p.allocator AND b.shrink = 'never'
WHERE p.phase IN ('delete_all', 'delete_half');

-- The same for churn at constant size: mean ns per step (insert + remove) over the run's
-- chunks, and the map's grow/shrink events by the end, against 'never'.
DROP VIEW IF EXISTS churn_shrink_cost;
CREATE VIEW churn_shrink_cost AS
WITH c AS (
    SELECT run_id, impl, blueprint, distribution, n, allocator, shrink,
           avg(ns_per_op) AS ns_per_op, max(grow_events) AS grow_events,
           max(shrink_events) AS shrink_events
    FROM churn_timeline WHERE ns_per_op IS NOT NULL
    GROUP BY run_id, impl, blueprint, distribution, n, allocator, shrink
)
SELECT c.*, b.ns_per_op AS never_ns_per_op, c.ns_per_op - b.ns_per_op AS extra_ns_per_op,
       100.0 * (c.ns_per_op / b.ns_per_op - 1) AS extra_pct
FROM c JOIN c b ON b.run_id = c.run_id AND b.impl = c.impl AND b.blueprint = c.blueprint
 AND b.distribution = c.distribution AND b.n = c.n AND b.allocator = c.allocator
 AND b.shrink = 'never';

-- Thrash at a shrink boundary (churn-case --thrash), complete runs, with events per
-- cycle: a policy without hysteresis there grows and shrinks on every cycle.
DROP VIEW IF EXISTS thrash_events;
CREATE VIEW thrash_events AS
SELECT t.*, 1.0 * t.grow_events / t.cycles AS grows_per_cycle,
       1.0 * t.shrink_events / t.cycles AS shrinks_per_cycle,
       coalesce(t.shrink_events > 0 AND t.grow_events > 0 AND t.shrink_events >= t.cycles, 0)
           AS thrashes
FROM thrash t JOIN complete_run USING (run_id);

-- Retained vs cost (plots/retained_vs_cost.gp): per map and policy at the run's largest n
-- (u64->u64, uniform keys), the bytes still held after deleting every key against the
-- extra ns/op the policy costs on delete_all (timed, glibc, same n) and on churn.
-- held_mib is the map's own bytes, or for a map whose own bytes are uncounted (GLib) the
-- allocator's in-use bytes above start (held_basis says which; the label says so too).
DROP VIEW IF EXISTS plot_retained_vs_cost;
CREATE VIEW plot_retained_vs_cost AS
WITH largest AS (
    SELECT run_id, max(n) AS n FROM memory_by_phase
    WHERE blueprint = 'u64->u64' AND distribution = 'uniform' AND impl != 'go_runtime'
    GROUP BY run_id
)
SELECT r.run_id, r.impl, r.shrink,
       r.impl || '/' || r.shrink || CASE WHEN r.bytes_counted THEN '' ELSE ' (allocator in-use)' END
           AS label, r.allocator, r.n,
       CASE WHEN r.bytes_counted THEN r.map_bytes ELSE r.alloc_in_use_above_start_bytes END
           / 1048576.0 AS held_mib_after_delete_all,
       CASE WHEN r.bytes_counted THEN 'map' ELSE 'allocator-in-use' END AS held_basis,
       r.map_bytes / 1048576.0 AS map_mib_after_delete_all,
       r.alloc_in_use_above_start_bytes / 1048576.0 AS alloc_in_use_mib_after_delete_all,
       r.rss_above_start_bytes / 1048576.0 AS rss_mib_after_delete_all,
       d.extra_ns_per_op AS delete_extra_ns_per_op, d.extra_pct AS delete_extra_pct,
       c.extra_ns_per_op AS churn_extra_ns_per_op, c.extra_pct AS churn_extra_pct
FROM remedies r
JOIN largest USING (run_id, n)
LEFT JOIN shrink_cost d
  ON d.run_id = r.run_id AND d.impl = r.impl AND d.shrink = r.shrink AND d.n = r.n
 AND d.phase = 'delete_all' AND d.blueprint = r.blueprint AND d.distribution = r.distribution
 AND d.hint = 0 AND d.threads = 1 AND d.allocator = 'glibc'
LEFT JOIN churn_shrink_cost c
  ON c.run_id = r.run_id AND c.impl = r.impl AND c.shrink = r.shrink
 AND c.blueprint = r.blueprint AND c.distribution = r.distribution
WHERE r.phase = 'delete_all' AND r.blueprint = 'u64->u64' AND r.distribution = 'uniform'
  AND r.impl != 'go_runtime'
ORDER BY r.run_id, r.allocator, r.impl, r.shrink;

-- The real Go map's samples (every one after a runtime.GC()) with the values before that
-- GC, labelled: HeapInuse after - before is the growth garbage the GC took.
DROP VIEW IF EXISTS go_samples;
CREATE VIEW go_samples AS
SELECT m.run_id, m.mem_case_id, m.distribution, m.n, m.phase_index, m.phase, m.entries,
       g.heap_inuse AS heap_inuse_after_gc_bytes, g.heap_inuse_before_gc AS heap_inuse_before_gc_bytes,
       g.heap_alloc AS heap_alloc_after_gc_bytes, g.heap_alloc_before_gc AS heap_alloc_before_gc_bytes,
       g.heap_released, g.heap_sys, g.num_gc, g.sample_gc_ns, g.pause_total_ns, m.rss_bytes,
       m.phase_ns
FROM memory_by_phase m JOIN go_memstats g USING (mem_case_id, phase_index)
WHERE m.impl = 'go_runtime';

-- GC cost of a live Go map: map[uint64]T (inline 64-byte values: buckets without pointers,
-- never scanned) against map[uint64]*T (n pointers to mark), per run and n.
DROP VIEW IF EXISTS go_gc_pointer_vs_inline;
CREATE VIEW go_gc_pointer_vs_inline AS
SELECT c.run_id, i.entries, i.value_bytes,
       i.gc_ns_median AS inline_gc_ns, p.gc_ns_median AS pointer_gc_ns,
       p.gc_ns_median / i.gc_ns_median AS pointer_over_inline,
       i.pause_total_ns AS inline_pause_total_ns, p.pause_total_ns AS pointer_pause_total_ns,
       i.forced_gcs, i.gc_cpu_fraction AS inline_gc_cpu_fraction,
       p.gc_cpu_fraction AS pointer_gc_cpu_fraction,
       i.heap_inuse_bytes AS inline_heap_inuse_bytes, p.heap_inuse_bytes AS pointer_heap_inuse_bytes
FROM go_gc_cost i
JOIN go_gc_cost p ON p.mem_case_id = i.mem_case_id AND p.value_kind = 'pointer'
JOIN mem_case c ON c.mem_case_id = i.mem_case_id
JOIN complete_run USING (run_id)
WHERE i.value_kind = 'inline';
