-- mapbench results schema.  STRICT tables; units in column names; NULL = not measured.
-- PRAGMA user_version holds the schema version (harness/db.c migrates older files).

CREATE TABLE IF NOT EXISTS run (               -- one `mapbench run`, with its environment
    run_id            INTEGER PRIMARY KEY,
    run_uuid          TEXT NOT NULL UNIQUE,    -- stable across merges of databases
    started_at        TEXT NOT NULL,           -- UTC, ISO 8601
    finished_at       TEXT,
    status            TEXT NOT NULL CHECK (status IN ('complete', 'failed')),
    suite             TEXT NOT NULL,           -- quick | full | custom
    seed              INTEGER NOT NULL,
    git_sha           TEXT,
    git_dirty         INTEGER,                 -- 1 = uncommitted changes when run
    compiler          TEXT,
    cflags            TEXT,
    build_type        TEXT,
    benchmark_version TEXT,                    -- Google Benchmark, and its library build type
    cpu_model         TEXT,
    cores             INTEGER,
    kernel            TEXT,
    hostname          TEXT,
    l1d_bytes         INTEGER,
    l2_bytes          INTEGER,
    l3_bytes          INTEGER,
    processes         INTEGER NOT NULL,        -- timing processes per case
    argv              TEXT,
    rss_floor_bytes   INTEGER,                 -- v2: RSS of a bare memory child (the instrument's floor)
    calib_64mib_rss_bytes INTEGER,             -- v2: RSS growth measured for 64 MiB touched (should be 67108864)
    thp_enabled       TEXT,                    -- v7: transparent hugepages: always | madvise | never
    thp_defrag        TEXT,                    -- v7: THP defrag: always | defer | defer+madvise | madvise | never
    run_set           TEXT,                    -- v8: the sharded run this is (part of): same for every shard of one plan (NULL: not sharded)
    shard_index       INTEGER,                 -- v8: this shard's I of I/N (NULL: the whole plan, or a merged set: see run_part)
    shard_count       INTEGER                  -- v8: ... and N
) STRICT;

CREATE TABLE IF NOT EXISTS bench (             -- one timed case of one run
    bench_id      INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    impl          TEXT NOT NULL,
    family        TEXT NOT NULL,
    traits        TEXT NOT NULL,
    phase         TEXT NOT NULL,               -- insert | lookup_hit | lookup_miss | delete_all | clear
    blueprint     TEXT NOT NULL,               -- u64->u64 | u64->64B | str16->u64 | str48->u64
    distribution  TEXT NOT NULL,               -- uniform | sequential
    n             INTEGER NOT NULL,            -- entries in the map
    hint          INTEGER NOT NULL,            -- capacity hint given at create (0 = none)
    threads       INTEGER NOT NULL DEFAULT 1,
    allocator     TEXT NOT NULL,
    shrink        TEXT NOT NULL DEFAULT 'never', -- v4: the map's shrink policy: never | low-water
    lookup_percent INTEGER,                    -- v6: mixed_rw's mix (100 read-only .. 0 write-only); NULL for other phases
    hugepages     INTEGER NOT NULL DEFAULT 0,  -- v7: 1 = run --hugepages (counting allocator madvises 2 MiB+ blocks)
    UNIQUE (run_id, impl, phase, blueprint, distribution, n, hint, threads, allocator, shrink,
            lookup_percent)
) STRICT;

CREATE TABLE IF NOT EXISTS sample (            -- one repetition of a timed case; every one is kept
    bench_id      INTEGER NOT NULL REFERENCES bench (bench_id) ON DELETE CASCADE,
    process_index INTEGER NOT NULL,            -- which timing process (interleaved)
    repetition    INTEGER NOT NULL,            -- Google Benchmark's repetition_index
    iterations    INTEGER NOT NULL,            -- phase runs averaged in this repetition
    ns_per_op     REAL NOT NULL,
    ceiling_ns_per_op REAL,                    -- v6: mixed_rw: the same scripts unsynchronized on a read-only swiss, run beside this repetition
    PRIMARY KEY (bench_id, process_index, repetition)
) STRICT;

CREATE TABLE IF NOT EXISTS mem_case (          -- one fresh child process running the phase script
    mem_case_id   INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    impl          TEXT NOT NULL,
    family        TEXT NOT NULL,
    traits        TEXT NOT NULL,
    blueprint     TEXT NOT NULL,
    distribution  TEXT NOT NULL,
    n             INTEGER NOT NULL,
    allocator     TEXT NOT NULL,
    shrink        TEXT NOT NULL DEFAULT 'never', -- v4: the map's shrink policy: never | low-water
    hugepages     INTEGER NOT NULL DEFAULT 0,  -- v7: 1 = run --hugepages
    UNIQUE (run_id, impl, blueprint, distribution, n, allocator, shrink)
) STRICT;

CREATE TABLE IF NOT EXISTS mem_phase (         -- a sample taken after each phase of a mem_case
    mem_case_id        INTEGER NOT NULL REFERENCES mem_case (mem_case_id) ON DELETE CASCADE,
    phase_index        INTEGER NOT NULL,       -- 0 = start, in script order
    phase              TEXT NOT NULL,          -- start | insert | delete_half | delete_all | trim | ...
    entries            INTEGER NOT NULL,       -- live entries after the phase
    map_live_bytes     INTEGER NOT NULL,       -- counting allocator: bytes the map holds
    map_peak_bytes     INTEGER NOT NULL,       -- counting allocator high-water mark so far
    alloc_in_use_bytes INTEGER,                -- allocator's view: bytes handed out (mallinfo2 uordblks+hblkhd)
    alloc_held_bytes   INTEGER,                -- allocator's view: bytes obtained from the OS (arena+hblkhd)
    rss_bytes          INTEGER,                -- /proc/self/smaps_rollup Rss
    anon_bytes         INTEGER,                -- /proc/self/smaps_rollup Anonymous
    minor_faults       INTEGER,                -- getrusage ru_minflt, cumulative
    phase_ns           INTEGER NOT NULL,       -- wall time of the phase
    capacity           INTEGER,                -- map stats (NULL = not measured)
    tombstones         INTEGER,
    overflow           INTEGER,
    object_bytes       INTEGER,                -- v2: pointer-value blueprints: live bytes of the pointed-to objects
    peak_rss_bytes     INTEGER,                -- v3: RSS high-water mark within the phase (VmHWM after clear_refs)
    PRIMARY KEY (mem_case_id, phase_index)
) STRICT;

CREATE TABLE IF NOT EXISTS icount (            -- instructions of one measured phase (callgrind)
    bench_id      INTEGER NOT NULL REFERENCES bench (bench_id) ON DELETE CASCADE,
    instructions  INTEGER NOT NULL,            -- Ir inside the toggled region
    ops           INTEGER NOT NULL,
    PRIMARY KEY (bench_id)
) STRICT;

CREATE TABLE IF NOT EXISTS gate_decision (     -- audit trail of every gate verdict
    decision_id     INTEGER PRIMARY KEY,
    decided_at      TEXT NOT NULL,
    run_id          INTEGER NOT NULL,          -- the run judged
    baseline_run_id INTEGER NOT NULL,
    case_key        TEXT NOT NULL,             -- impl/blueprint/distribution/n/allocator[/phase]
    metric          TEXT NOT NULL,             -- bytes_per_entry | ...
    baseline_value  REAL,
    current_value   REAL,
    delta_fraction  REAL,                      -- current / baseline - 1
    threshold       REAL NOT NULL,
    verdict         TEXT NOT NULL CHECK (verdict IN ('pass', 'improved', 'warn', 'fail', 'missing'))
) STRICT;

CREATE TABLE IF NOT EXISTS insert_latency (    -- v2: per-insert time while growing from empty to n
    latency_id        INTEGER PRIMARY KEY,
    run_id            INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    impl              TEXT NOT NULL,
    family            TEXT NOT NULL,
    blueprint         TEXT NOT NULL,
    distribution      TEXT NOT NULL,
    n                 INTEGER NOT NULL,
    hint              INTEGER NOT NULL,
    allocator         TEXT NOT NULL,
    p50_ns            REAL NOT NULL,
    p90_ns            REAL NOT NULL,
    p99_ns            REAL NOT NULL,
    p999_ns           REAL NOT NULL,
    max_ns            REAL NOT NULL,
    mean_ns           REAL NOT NULL,
    timer_overhead_ns REAL,
    grow_events       INTEGER,
    UNIQUE (run_id, impl, blueprint, distribution, n, hint, allocator)
) STRICT;

CREATE TABLE IF NOT EXISTS latency_bucket (    -- v2: log2 histogram of the single-insert times
    latency_id  INTEGER NOT NULL REFERENCES insert_latency (latency_id) ON DELETE CASCADE,
    low_ns      REAL NOT NULL,
    high_ns     REAL NOT NULL,
    inserts     INTEGER NOT NULL,
    PRIMARY KEY (latency_id, low_ns)
) STRICT;

CREATE TABLE IF NOT EXISTS churn_sample (      -- v2: constant-size churn, sampled along the way
    run_id           INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    impl             TEXT NOT NULL,
    blueprint        TEXT NOT NULL,
    distribution     TEXT NOT NULL,
    n                INTEGER NOT NULL,
    allocator        TEXT NOT NULL,
    ops_done         INTEGER NOT NULL,
    ns_per_op        REAL,                     -- over the chunk since the previous sample
    entries          INTEGER,
    capacity         INTEGER,
    tombstones       INTEGER,
    mean_probe       REAL,
    max_probe        INTEGER,
    map_live_bytes   INTEGER,
    shrink           TEXT NOT NULL DEFAULT 'never', -- v4
    grow_events      INTEGER,                  -- v4: the map's counters so far (NULL = not counted)
    shrink_events    INTEGER,                  -- v4
    PRIMARY KEY (run_id, impl, blueprint, distribution, n, allocator, shrink, ops_done)
) STRICT;

CREATE TABLE IF NOT EXISTS go_memstats (       -- v2: the real Go map's runtime.MemStats per phase
    mem_case_id    INTEGER NOT NULL REFERENCES mem_case (mem_case_id) ON DELETE CASCADE,
    phase_index    INTEGER NOT NULL,
    heap_alloc     INTEGER NOT NULL,
    heap_inuse     INTEGER NOT NULL,
    heap_idle      INTEGER NOT NULL,
    heap_released  INTEGER NOT NULL,
    heap_sys       INTEGER NOT NULL,
    num_gc         INTEGER NOT NULL,
    -- v4: every sample is read after a runtime.GC(); the values before it, labelled:
    heap_alloc_before_gc INTEGER,
    heap_inuse_before_gc INTEGER,
    sample_gc_ns   INTEGER,                    -- v4: wall time of that GC (not in phase_ns)
    pause_total_ns INTEGER,                    -- v4: MemStats.PauseTotalNs, cumulative
    PRIMARY KEY (mem_case_id, phase_index)
) STRICT;

CREATE TABLE IF NOT EXISTS go_gc_cost (        -- v4: forced GCs with a live Go map of inline or pointer values
    mem_case_id      INTEGER NOT NULL REFERENCES mem_case (mem_case_id) ON DELETE CASCADE,
    value_kind       TEXT NOT NULL,            -- inline (map[uint64]T) | pointer (map[uint64]*T)
    entries          INTEGER NOT NULL,
    value_bytes      INTEGER NOT NULL,         -- sizeof T
    forced_gcs       INTEGER NOT NULL,         -- runtime.GC() calls timed
    gc_ns_median     REAL NOT NULL,            -- wall time of one forced GC, median
    gc_ns_min        REAL NOT NULL,
    pause_total_ns   INTEGER NOT NULL,         -- PauseTotalNs over the forced GCs (stop-the-world)
    gc_cpu_fraction  REAL,                     -- MemStats.GCCPUFraction after them
    heap_inuse_bytes INTEGER NOT NULL,         -- with the map live
    PRIMARY KEY (mem_case_id, value_kind)
) STRICT;

CREATE TABLE IF NOT EXISTS thrash (            -- v4: churn oscillating around a map's shrink boundary
    run_id           INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    impl             TEXT NOT NULL,
    blueprint        TEXT NOT NULL,
    distribution     TEXT NOT NULL,
    n                INTEGER NOT NULL,         -- keys filled before walking down
    allocator        TEXT NOT NULL,
    shrink           TEXT NOT NULL,
    boundary         TEXT NOT NULL,            -- first-shrink (never: at n/8 live) | empty
    boundary_entries INTEGER NOT NULL,         -- live count at the boundary
    window           INTEGER NOT NULL,         -- keys removed and reinserted per cycle
    cycles           INTEGER NOT NULL,
    ns_per_op        REAL NOT NULL,            -- one op = one insert or one remove
    grow_events      INTEGER,                  -- during the oscillation (NULL = not counted)
    shrink_events    INTEGER,
    capacity_low     INTEGER,                  -- after the last remove / the last insert of a cycle
    capacity_high    INTEGER,
    PRIMARY KEY (run_id, impl, blueprint, distribution, n, allocator, shrink, boundary)
) STRICT;

CREATE INDEX IF NOT EXISTS bench_by_run ON bench (run_id);
CREATE INDEX IF NOT EXISTS mem_case_by_run ON mem_case (run_id);

CREATE TABLE IF NOT EXISTS not_measured (      -- v4: what a run left out because a package is missing
    run_id   INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    what     TEXT NOT NULL,                    -- "memory under jemalloc", "the real Go map (go_runtime)"
    package  TEXT NOT NULL,                    -- the Debian package that would make it measurable
    reason   TEXT NOT NULL                     -- "package libjemalloc2 not installed"
) STRICT;

CREATE TABLE IF NOT EXISTS run_unit (          -- v8: one unit of the run's plan (`mapbench plan`), as it ran
    run_id        INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    unit_id       TEXT NOT NULL,               -- the plan's stable id: time/swiss/p1, memory/swiss/u64->u64/uniform/n:1000/glibc/never, ...
    kind          TEXT NOT NULL,               -- time | floor | go-threads | calibrate | memory | go-memory | latency | churn | thrash | icount
    alone         INTEGER NOT NULL,            -- 1 = a timing unit: never runs beside another unit
    shard_index   INTEGER,                     -- the shard (I of I/N) it ran in; NULL: not sharded
    slot          INTEGER NOT NULL,            -- worker slot 0..K-1 of --jobs K
    start_s       REAL NOT NULL,               -- seconds from its (shard's) run start
    end_s         REAL NOT NULL,
    wall_s        REAL NOT NULL,               -- end_s - start_s
    cost_estimate_s REAL NOT NULL,             -- the plan's estimate (what sharding balanced)
    work_mops     REAL NOT NULL,               -- the cost model's work measure (million key-ops): ci/fit_costs.py fits wall_s on it
    overlapped    INTEGER NOT NULL,            -- 1 = another unit ran at some moment of its interval
    status        TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    PRIMARY KEY (run_id, unit_id)
) STRICT;

CREATE TABLE IF NOT EXISTS run_part (          -- v8: a merged sharded run: the shard runs it is made of
    run_id        INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,
    part_uuid     TEXT NOT NULL,               -- the shard run's run_uuid in its own database
    shard_index   INTEGER NOT NULL,
    shard_count   INTEGER NOT NULL,
    hostname      TEXT,
    cpu_model     TEXT,
    compiler      TEXT,
    git_sha       TEXT,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL,
    units         INTEGER NOT NULL,            -- run_unit rows of that shard
    PRIMARY KEY (run_id, shard_index)
) STRICT;
