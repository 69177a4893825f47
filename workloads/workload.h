/*
 * workload.h — deterministic key streams and the measured phases.
 *
 * Keys: key i of a stream is mb_key_at(seed, i), a bijection of i, so keys
 * 0..N-1 are distinct and keys N..2N-1 (the "miss" keys) never collide with
 * them.  Sequential keys are i itself.  Values are derived from keys, so a
 * phase's expected checksum is computed from the stream alone, without any
 * map: a map that returns a wrong value or count fails the phase.
 *
 * Keys wider than 8 bytes (string blueprints) and values wider than 8 bytes
 * are expanded from the u64 deterministically (mb_fill_bytes); mb_decode_bytes
 * recovers the u64 and says whether the expansion is intact.
 */
#ifndef MB_WORKLOAD_H
#define MB_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "../impls/mb_map.h"

typedef enum mb_dist {
    MB_DIST_UNIFORM = 0,     /* uniform 64-bit keys */
    MB_DIST_SEQUENTIAL = 1,  /* 0, 1, 2, ... in order */
    MB_DIST_SHUFFLED = 2,    /* 0, 1, 2, ... in a seeded random order (every phase) */
    MB_DIST_ZIPF = 3,        /* uniform keys; lookup_hit draws keys Zipf(0.99)-skewed */
    MB_DIST_COUNT_
} mb_dist;

/* Pointer values (Go's map[int]*T against map[int]T): the map stores an
 * 8-byte pointer, and the workload allocates the object it points to on
 * insert and frees it on delete and clear (the GC's part), through its own
 * counting allocator, so object bytes are counted apart from the map's. */
typedef struct mb_objects {
    mb_alloc alloc;          /* where the objects come from */
    void **by_index;         /* object of key index i, or NULL */
    size_t cap;              /* key indexes covered: [0, cap) */
    size_t object_bytes;     /* bytes of one object */
} mb_objects;

typedef struct mb_stream {
    mb_dist dist;
    uint64_t seed;
    size_t key_bytes, val_bytes;
    mb_objects *objects;     /* NULL: values are inline */
    const uint32_t *hot;     /* MB_DIST_ZIPF: lookup_hit's key indexes (mb_zipf_init) */
    size_t hot_len;
} mb_stream;

/* Draws n Zipf-distributed key indexes in [0, n) for lookup_hit.
 * Returns 0 or MB_ENOMEM.  mb_zipf_fini frees them. */
int mb_zipf_init(mb_stream *s, size_t n, double exponent, uint64_t seed);
void mb_zipf_fini(mb_stream *s);

/* Sets up objects for key indexes [0, cap).  Returns 0 or MB_ENOMEM. */
int mb_objects_init(mb_objects *o, const mb_alloc *a, size_t cap, size_t object_bytes);
/* Frees every live object (clear's and destroy's part of the work). */
void mb_objects_free_all(mb_objects *o);
/* Frees every live object and the index. */
void mb_objects_fini(mb_objects *o);

uint64_t mb_splitmix64(uint64_t *state);
/* Returns key i of the stream as a u64. */
uint64_t mb_key_at(const mb_stream *s, uint64_t i);
/* Returns the value stored for key k. */
uint64_t mb_val_for(uint64_t k);
/* Writes n bytes expanding x (n >= 8): the first 8 bytes are x itself. */
void mb_fill_bytes(uint64_t x, unsigned char *out, size_t n);
/* Returns 0 and sets *x when p holds mb_fill_bytes(*x, p, n), else -1. */
int mb_decode_bytes(const unsigned char *p, size_t n, uint64_t *x);

/* A phase runs over keys [begin, end) of a stream against one map. */
typedef enum mb_phase {
    MB_PHASE_INSERT = 0,     /* insert keys [0, N): every one must be new */
    MB_PHASE_LOOKUP_HIT,     /* look up keys [0, N): every one found, values right */
    MB_PHASE_LOOKUP_MISS,    /* look up keys [N, 2N): none found */
    MB_PHASE_DELETE_ALL,     /* remove keys [0, N): every one found, map empty after */
    MB_PHASE_CLEAR,          /* clear(): map empty after */
    MB_PHASE_MIXED_RW,       /* T threads: 90% lookup hit, 10% insert+delete (mb_run_mixed) */
    MB_PHASE_LOOKUP_HALF_HIT,/* keys [0, N): even ops hit, odd ops miss (50% hit) */
    MB_PHASE_DELETE_HALF,    /* remove keys [0, N/2): N - N/2 stay */
    MB_PHASE_ITERATE,        /* visit every entry once: sum of keys and values */
    MB_PHASE_REINSERT,       /* insert keys [0, N) into a map that held them and was cleared */
    MB_PHASE_LOOKUP_HIT_DEPENDENT, /* lookup_hit as a dependence chain: latency, not throughput */
    MB_PHASE_LOOKUP_HIT_COLD,      /* lookup_hit spread over many copies of the map: cold caches */
    MB_PHASE_COUNT_
} mb_phase;

const char *mb_phase_name(mb_phase p);
/* Returns the phase named s, or -1. */
int mb_phase_parse(const char *s);

/* What a phase saw.  ok == 0 names the first thing that was wrong. */
typedef struct mb_phase_result {
    uint64_t checksum;       /* what the map answered */
    uint64_t expected;       /* what the stream says it must answer */
    size_t ops;              /* operations performed: N (clear: entries cleared) */
    int enomem;              /* an insert returned MB_ENOMEM */
    const char *error;       /* NULL when checksum == expected and count is right */
} mb_phase_result;

/* Runs phase p for n keys against map m (built by ops).  Times nothing.
 * Insert, lookups and deletes use keys [0, n) (delete_half [0, n/2));
 * lookup_miss uses [n, 2n), and lookup_half_hit's misses come from there too. */
mb_phase_result mb_run_phase(const mb_map_ops *ops, void *m, const mb_stream *s, mb_phase p,
                             size_t n);
/* The same over keys [begin, end) of the stream (lookup_miss: keys that were
 * never inserted must be in that range). */
mb_phase_result mb_run_phase_range(const mb_map_ops *ops, void *m, const mb_stream *s,
                                   mb_phase p, size_t begin, size_t end);

/* Mixed read/write with `threads` threads on a map holding keys [0, n):
 * each thread does ops_per_thread operations, 90% lookups of random keys in
 * [0, n) (all hits, values checked) and 10% alternating insert / remove of
 * a key of its own (beyond 2n), so the map holds n keys again at the end.
 * Returns the checksum result; *wall_ns is the wall time from the release of
 * all threads to the last one finishing. */
mb_phase_result mb_run_mixed(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n,
                             unsigned threads, size_t ops_per_thread, uint64_t *wall_ns);

/* The mixed phase with its mix as a parameter (workloads/mixed.c).
 * lookup_percent of the ops are lookup hits, the rest alternate insert /
 * remove of an own key: 100 = read-only, 90 = mixed_rw's default, 50, and
 * 0 = write-only.  Each thread's keys and values are built before the timed
 * region; the timed loop touches only the op and a thread-local checksum. */
#define MB_MIX_DEFAULT_LOOKUP_PERCENT 90u
typedef struct mb_mixed_spec {
    unsigned threads;          /* 1..64 */
    size_t ops_per_thread;     /* ops each thread performs */
    unsigned lookup_percent;   /* 0..100 */
} mb_mixed_spec;

mb_phase_result mb_run_mixed_spec(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n,
                                  const mb_mixed_spec *spec, uint64_t *wall_ns);

/* The ceiling of a mixed run: the same per-thread scripts, run with no
 * synchronisation on a map nobody writes; every write slot becomes a lookup
 * of the (absent) own key it would have written.  PRECONDITION: m holds keys
 * [0, n) of s and only those, and ops->lookup may run concurrently with
 * itself on an unchanging map (true of every map in the suite).  Results and
 * *wall_ns as mb_run_mixed_spec. */
#define MB_CEILING_MAP "swiss"
mb_phase_result mb_run_mixed_ceiling(const mb_map_ops *ops, void *m, const mb_stream *s,
                                     size_t n, const mb_mixed_spec *spec, uint64_t *wall_ns);
/* The checksum a correct map gives for spec's scripts on keys [0, n) of s
 * (the sum over the threads; ceiling: the ceiling run's).  For a peer that
 * runs the same scripts outside C (the real Go maps, go-threads-case): its
 * checksum is held against this one, so its key stream and every answer are
 * verified by C.  Returns 0, or -1 when the scripts cannot be allocated. */
int mb_mixed_expected(const mb_stream *s, size_t n, const mb_mixed_spec *spec, int ceiling,
                      uint64_t *expected);
/* Returns a new MB_CEILING_MAP holding keys [0, n) of s (inserted untimed)
 * and sets *ops_out, or NULL with *error set. */
void *mb_ceiling_map_build(const mb_alloc *a, const mb_stream *s, size_t n,
                           const mb_map_ops **ops_out, const char **error);

/* ---- lean timed loops ----------------------------------------------------------
 *
 * mb_run_phase generates every key, expands its bytes and mixes every answer
 * into a serial checksum inside its loop: right for untimed uses, but around a
 * 10 ns lookup those ~80 instructions are most of what a clock would measure.
 * For timing, a phase is split in three:
 *
 *   mb_phase_prepare       untimed: the phase's keys, in operation order, into
 *                          an array (key bytes for string keys, the value bytes
 *                          an insert stores, the expected last value word of
 *                          wide values), and the answers the phase must give.
 *   mb_phase_run_prepared  timed: per operation, one array load and the map
 *                          call, plus bookkeeping with no serial chain.  u64
 *                          hits: the found values are summed and the sum is
 *                          compared with the keys' after the loop, nothing
 *                          else in the loop (a wrong or unwritten value moves
 *                          the sum; two wrong values cancel only by a 2^-64
 *                          accident); misses: OR |= the answer code
 *                          (MB_NOTFOUND is 0); half hits: counts.  Wide
 *                          values: their first word against mb_val_for(k) and
 *                          last word against the array.  Any wrong answer
 *                          leaves the OR nonzero, a sum or a count off.
 *                          With pp->check_each set (an untimed pass: timing
 *                          runs its warm-up passes so), u64 hits are checked
 *                          one by one instead: the value word is zeroed before
 *                          the call and OR |= value ^ mb_val_for(keys[j])
 *                          after it (prepare has checked no value is 0, so an
 *                          unwritten value is wrong too; otherwise the answer
 *                          code is checked as well).  Why not in the timed
 *                          loop: at 1e6 the per-answer check, one store and
 *                          four instructions per op, cost swiss's lookup_hit
 *                          12-25% in the standalone loop (bench/lookup_loop.c,
 *                          idle, 2026-12-01): a lookup there is a DRAM miss
 *                          and every instruction or store around it leaves
 *                          fewer of them in flight.
 *   mb_phase_verify        untimed: compares what the run saw with what the
 *                          phase must give; error names the first difference.
 *
 * A prepared phase may be run any number of times (a lookup phase on one map,
 * or an insert phase on a fresh map per run); verify after each run.
 *
 * lookup_hit_dependent: the key of operation j is keys[j] ^ (v_{j-1} ^
 * mb_val_for(k_{j-1})), which is keys[j] for a right answer, but the CPU can
 * only know that once the previous lookup returned: one lookup at a time, the
 * latency a chain of lookups in real code pays.  A wrong value makes the next
 * key wrong, so the run misses and fails.
 *
 * lookup_hit_cold: prepare builds extra copies of the map (same ops, same keys
 * [0, n), its own malloc-backed allocator that counts their bytes) until all copies together hold at least
 * mb_cold_target_bytes(); operation j of the r-th run looks up keys[j] in copy
 * (r n + j) mod copies, so consecutive lookups touch different maps and the
 * working set is larger than the last-level cache, as google/hashtable-
 * benchmarks' "cold" sets are.  Inline values only. */

typedef struct mb_prepared {
    const mb_map_ops *ops;
    const mb_stream *s;
    mb_phase phase;
    size_t begin, end;          /* the key range of mb_run_phase_range */
    size_t ops_count;           /* operations per run */
    unsigned char *keys;        /* ops_count keys of s->key_bytes, in operation order */
    uint32_t *index;            /* pointer values: key index per operation */
    uint64_t *tail;             /* wide values: expected last value word per operation */
    unsigned char *vals;        /* insert of wide values: the value bytes per operation */
    int zero_value;             /* some key's value is 0, so 0 cannot mark "not written" */
    int check_each;             /* u64 hits check each answer (see above): 1 from prepare,
                                 * a timed caller clears it for its timed passes */
    /* expected (computed in prepare) */
    size_t want_found;          /* lookups / removes that must answer MB_FOUND */
    uint64_t want_sum, want_tail_sum; /* iterate: sums over the entries; u64 lookup_hit:
                                       * want_sum, the sum of the values it must find */
    /* seen (set by each run) */
    size_t found, inserted, enomem, odd_found, bogus, visits;
    uint64_t bad, sum, tail_sum;
    /* lookup_hit_cold */
    void **copies;              /* copies[0] is the caller's map, set by each run */
    size_t n_copies, cursor;
    size_t cold_bytes;          /* bytes of all copies together (map bytes, or an estimate) */
    struct wl_cold_alloc *cold_alloc; /* the copies' allocator (malloc, counted) */
    const char *error;          /* prepare failed: why */
} mb_prepared;

/* Prepares phase p over keys [begin, end) of s for maps of ops (m: the map
 * the phase will run on; lookup_hit_cold copies its configuration from the
 * stream, not from m).  Returns 0, or MB_ENOMEM with pp->error set.
 * mb_phase_release frees what it holds, also after a failure. */
int mb_phase_prepare_range(mb_prepared *pp, const mb_map_ops *ops, const mb_stream *s,
                           mb_phase p, size_t begin, size_t end);
/* The same over the key range mb_run_phase uses for n keys. */
int mb_phase_prepare(mb_prepared *pp, const mb_map_ops *ops, const mb_stream *s, mb_phase p,
                     size_t n);
/* Runs the prepared phase once against map m: the timed loop.  Returns the
 * operations done (the ops of mb_phase_result). */
size_t mb_phase_run_prepared(mb_prepared *pp, void *m);
/* Compares the last run with what the phase must give (untimed). */
mb_phase_result mb_phase_verify(const mb_prepared *pp);
void mb_phase_release(mb_prepared *pp);

/* The working set lookup_hit_cold aims for: twice the last-level cache
 * (sysconf), clamped to [32 MiB, 256 MiB] so a VM that reports its host's
 * cache does not make the phase allocate gigabytes. */
size_t mb_cold_target_bytes(void);

/* ---- what the memory system was --------------------------------------------------- */

/* Writes the transparent-hugepage setting `which` ("enabled" or "defrag"),
 * the bracketed word of /sys/kernel/mm/transparent_hugepage/<which> (e.g.
 * "madvise", "never"), into out.  Returns 0, or -1 when the file is absent
 * or unreadable or holds no bracketed word (out then holds "unknown"). */
int mb_thp_mode(const char *which, char *out, size_t outlen);
/* The same from the text of such a file: "always [madvise] never" -> "madvise". */
int mb_thp_parse(const char *text, char *out, size_t outlen);

/* Returns the expected live count after phase p ran on a map of n entries. */
size_t mb_phase_count_after(mb_phase p, size_t n);
/* Returns the map's live count (through stats, which may walk the map:
 * never call it inside a timed region). */
size_t mb_map_count(const mb_map_ops *ops, void *m);

#endif
