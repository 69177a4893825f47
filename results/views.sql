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
       p.phase_ns, p.capacity, p.tombstones, p.overflow, p.object_bytes,
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

-- ---- views the plots read (plots/*.gp) -------------------------------------------------

-- ns/op per map, phase and n in the latest run (u64->u64, uniform keys, no hint).
DROP VIEW IF EXISTS plot_ns_per_op;
CREATE VIEW plot_ns_per_op AS
SELECT impl, phase, n, median_ns_per_op, min_ns_per_op, max_ns_per_op
FROM latest_medians
WHERE blueprint = 'u64->u64' AND distribution = 'uniform' AND hint = 0 AND threads = 1
ORDER BY impl, phase, n;

-- The memory timeline of the largest n in the latest run (u64->u64, uniform, glibc).
DROP VIEW IF EXISTS plot_memory_timeline;
CREATE VIEW plot_memory_timeline AS
SELECT impl, n, phase_index, phase,
       map_live_bytes / 1048576.0 AS map_live_mib,
       (rss_bytes - (SELECT s.rss_bytes FROM latest_memory_by_phase s
                     WHERE s.mem_case_id = m.mem_case_id AND s.phase = 'start')) / 1048576.0
           AS rss_above_start_mib,
       alloc_held_bytes / 1048576.0 AS alloc_held_mib
FROM latest_memory_by_phase m
WHERE blueprint = 'u64->u64' AND distribution = 'uniform' AND allocator = 'glibc'
  AND n = (SELECT max(n) FROM latest_memory_by_phase WHERE blueprint = 'u64->u64')
ORDER BY impl, phase_index;

-- Instructions per operation of each measured phase (callgrind), complete runs.
DROP VIEW IF EXISTS icount_per_op;
CREATE VIEW icount_per_op AS
SELECT b.run_id, b.bench_id, b.impl, b.family, b.phase, b.blueprint, b.distribution, b.n,
       b.hint, b.allocator, i.instructions, i.ops, 1.0 * i.instructions / i.ops AS instructions_per_op
FROM icount i
JOIN bench b USING (bench_id)
JOIN complete_run USING (run_id);
