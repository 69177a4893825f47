-- Views for the common questions.  Only complete runs are visible through them.
DROP VIEW IF EXISTS complete_run;
CREATE VIEW complete_run AS
SELECT * FROM run WHERE status = 'complete';

DROP VIEW IF EXISTS latest_run;
CREATE VIEW latest_run AS
SELECT * FROM complete_run ORDER BY finished_at DESC, run_id DESC LIMIT 1;

-- One row per timed case of every complete run: median, min, max over all repetitions
-- of all processes.
DROP VIEW IF EXISTS case_medians;
CREATE VIEW case_medians AS
WITH ranked AS (
    SELECT s.bench_id, s.ns_per_op,
           row_number() OVER (PARTITION BY s.bench_id ORDER BY s.ns_per_op) AS k,
           count(*) OVER (PARTITION BY s.bench_id) AS cnt
    FROM sample s
)
SELECT b.run_id, b.bench_id, b.impl, b.family, b.phase, b.blueprint, b.distribution, b.n,
       b.hint, b.threads, b.allocator,
       avg(r.ns_per_op) FILTER (WHERE r.k IN ((r.cnt + 1) / 2, (r.cnt + 2) / 2)) AS median_ns_per_op,
       min(r.ns_per_op) AS min_ns_per_op,
       max(r.ns_per_op) AS max_ns_per_op,
       max(r.cnt) AS samples
FROM ranked r
JOIN bench b USING (bench_id)
JOIN complete_run USING (run_id)
GROUP BY r.bench_id;

DROP VIEW IF EXISTS latest_medians;
CREATE VIEW latest_medians AS
SELECT m.* FROM case_medians m JOIN latest_run USING (run_id);

-- Every memory sample of every complete run, with bytes per live entry.
DROP VIEW IF EXISTS memory_by_phase;
CREATE VIEW memory_by_phase AS
SELECT c.run_id, c.mem_case_id, c.impl, c.family, c.blueprint, c.distribution, c.n,
       c.allocator, p.phase_index, p.phase, p.entries, p.map_live_bytes, p.map_peak_bytes,
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
-- objects' bytes for pointer-value blueprints, and RSS growth).
DROP VIEW IF EXISTS bytes_per_entry;
CREATE VIEW bytes_per_entry AS
SELECT ins.run_id, ins.impl, ins.family, ins.blueprint, ins.distribution, ins.n, ins.allocator,
       1.0 * ins.map_live_bytes / ins.n AS map_bytes_per_entry,
       1.0 * coalesce(ins.object_bytes, 0) / ins.n AS object_bytes_per_entry,
       1.0 * (ins.map_live_bytes + coalesce(ins.object_bytes, 0)) / ins.n AS total_bytes_per_entry,
       1.0 * (ins.rss_bytes - st.rss_bytes) / ins.n AS rss_bytes_per_entry
FROM memory_by_phase ins
JOIN memory_by_phase st ON st.mem_case_id = ins.mem_case_id AND st.phase = 'start'
WHERE ins.phase = 'insert';

-- How much of its peak each map (and the process) still holds after each phase:
-- held by the map = map_live_bytes; held by the allocator = allocator-held bytes the
-- map does not use; returned to the OS = what RSS gave back.
DROP VIEW IF EXISTS retained;
CREATE VIEW retained AS
SELECT m.run_id, m.impl, m.family, m.blueprint, m.distribution, m.n, m.allocator,
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
       (SELECT count(*) FROM bench b WHERE b.run_id = r.run_id) AS timed_cases,
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
SELECT run_id, impl, family, blueprint, distribution, n, allocator, phase_index, phase,
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
       m.hint, m.threads, m.allocator, m.median_ns_per_op, m.min_ns_per_op, m.max_ns_per_op
FROM case_medians m JOIN complete_run r USING (run_id)
ORDER BY m.impl, m.phase, m.blueprint, m.distribution, m.n, m.hint, m.threads, m.allocator,
         r.finished_at;

-- The latest complete run against the complete run before it, case by case.
DROP VIEW IF EXISTS latest_vs_previous;
CREATE VIEW latest_vs_previous AS
WITH two AS (SELECT run_id, row_number() OVER (ORDER BY finished_at DESC, run_id DESC) AS k
             FROM complete_run)
SELECT c.impl, c.phase, c.blueprint, c.distribution, c.n, c.hint, c.threads, c.allocator,
       b.median_ns_per_op AS previous_ns_per_op, c.median_ns_per_op AS latest_ns_per_op,
       c.median_ns_per_op / b.median_ns_per_op AS ratio
FROM case_medians c
JOIN two tc ON tc.run_id = c.run_id AND tc.k = 1
JOIN case_medians b ON b.impl = c.impl AND b.phase = c.phase AND b.blueprint = c.blueprint
 AND b.distribution = c.distribution AND b.n = c.n AND b.hint = c.hint
 AND b.threads = c.threads AND b.allocator = c.allocator
JOIN two tb ON tb.run_id = b.run_id AND tb.k = 2;

-- Maps ranked per workload (phase, blueprint, distribution, n, hint, threads) in the
-- latest run, fastest first.
DROP VIEW IF EXISTS map_ranking;
CREATE VIEW map_ranking AS
SELECT phase, blueprint, distribution, n, hint, threads,
       rank() OVER (PARTITION BY phase, blueprint, distribution, n, hint, threads
                    ORDER BY median_ns_per_op) AS rank,
       impl, median_ns_per_op
FROM latest_medians;

-- Instructions per operation of each measured phase (callgrind), complete runs.
DROP VIEW IF EXISTS icount_per_op;
CREATE VIEW icount_per_op AS
SELECT b.run_id, b.bench_id, b.impl, b.family, b.phase, b.blueprint, b.distribution, b.n,
       b.hint, b.allocator, i.instructions, i.ops, 1.0 * i.instructions / i.ops AS instructions_per_op
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
  AND hint = 0 AND threads = 1 AND phase != 'mixed_rw'
ORDER BY run_id, impl, phase_order, n;

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
    WHERE m.blueprint = 'u64->u64' AND m.distribution = 'uniform'
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
-- dominate).
DROP VIEW IF EXISTS plot_bytes_per_entry;
CREATE VIEW plot_bytes_per_entry AS
SELECT run_id, impl, n, map_bytes_per_entry,
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
  AND r.phase IN ('delete_half', 'delete_all', 'trim', 'clear', 'trim_after_clear')
ORDER BY r.run_id, r.impl, r.phase_index;

-- Thread scaling: mixed_rw throughput (ns_per_op is wall time over all threads' ops, so
-- Mops/s = 1000 / ns_per_op) at the run's largest mixed_rw n.
DROP VIEW IF EXISTS plot_thread_scaling;
CREATE VIEW plot_thread_scaling AS
SELECT m.run_id, m.impl, m.n, m.threads, m.median_ns_per_op,
       1000.0 / m.median_ns_per_op AS mops_per_s,
       1000.0 / m.max_ns_per_op AS slowest_mops_per_s,
       1000.0 / m.min_ns_per_op AS fastest_mops_per_s
FROM case_medians m
JOIN (SELECT run_id, max(n) AS n FROM case_medians WHERE phase = 'mixed_rw'
      GROUP BY run_id) USING (run_id, n)
WHERE m.phase = 'mixed_rw' AND m.blueprint = 'u64->u64' AND m.distribution = 'uniform'
  AND m.allocator = 'glibc' AND m.hint = 0
ORDER BY m.run_id, m.impl, m.threads;

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
    WHERE phase = 'lookup_hit' AND hint = 0 AND threads = 1 AND blueprint = 'u64->u64'
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
