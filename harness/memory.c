/*
 * memory.c — `mapbench mem-case`: the memory phase script of one case.
 *
 * `mapbench run` starts this in a fresh process per (map, n, blueprint,
 * distribution, allocator), so each case starts from a clean heap.  Script:
 *
 *   start               empty map created
 *   insert              keys [0, n)
 *   delete_half         keys [0, n/2) removed
 *   delete_all          keys [n/2, n) removed: the map is empty
 *   trim                the allocator's purge (glibc: malloc_trim(0)): it gives back what it can
 *   reinsert            n new keys [n, 2n)
 *   clear               clear(): the map is empty
 *   trim_after_clear    the allocator's purge
 *   destroy             the map is gone
 *   trim_after_destroy  the allocator's purge
 *
 * After each phase one sample: the map's live and peak bytes (counting
 * allocator), the allocator's in-use and held bytes (allocators.c), RSS
 * and anonymous bytes (/proc/self/smaps_rollup), cumulative minor faults,
 * the phase's wall time and the map's capacity/tombstones/overflow.
 * Every phase verifies its checksum and the map's count.
 *
 * Output: one line per sample,
 *   M phase_index phase entries map_live_bytes map_peak_bytes alloc_in_use_bytes
 *     alloc_held_bytes rss_bytes anon_bytes minor_faults phase_ns capacity tombstones overflow
 *     object_bytes (pointer-value blueprints: the live objects' bytes)
 *     peak_rss_bytes (the RSS high-water mark within the phase: VmHWM, reset
 *     through /proc/self/clear_refs before each phase)
 * tab-separated, "NA" for not measured.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../impls/counting_alloc.h"
#include "cli.h"

mb_smaps mb_read_smaps(void)
{
    mb_smaps s = { -1, -1 };
    char line[256];
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return s;
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "Rss: %lld kB", &kb) == 1)
            s.rss_bytes = kb * 1024;
        else if (sscanf(line, "Anonymous: %lld kB", &kb) == 1)
            s.anon_bytes = kb * 1024;
    }
    fclose(f);
    return s;
}

/* Resets the kernel's RSS high-water mark (VmHWM) to the current RSS, so the
 * next mem_peak_rss() is the peak within the phase.  Returns 0 on success. */
static int mem_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Returns VmHWM from /proc/self/status in bytes, or -1. */
static long long mem_peak_rss(void)
{
    char line[256];
    long long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static void put_num(long long v)
{
    if (v < 0)
        fputs("\tNA", stdout);
    else
        printf("\t%lld", v);
}

static void put_stat(size_t v)
{
    put_num(v == MB_NA ? -1 : (long long)v);
}

/* peak_ok: the high-water mark was reset before this phase (clear_refs worked). */
static void sample(int index, const char *phase, const mb_map_ops *ops, void *m,
                   const mb_counter *ctr, const mb_stream *s, const mb_counter *obj_ctr,
                   uint64_t phase_ns, int peak_ok)
{
    long long in_use, held;
    struct rusage ru;
    mb_smaps sm = mb_read_smaps();
    mb_map_stats st;

    mb_allocator_stats(&in_use, &held);
    getrusage(RUSAGE_SELF, &ru);
    if (m)
        ops->stats(m, &st);
    else
        mb_stats_init(&st), st.count = 0;
    printf("M\t%d\t%s", index, phase);
    put_stat(st.count);
    put_num(ctr->live_bytes);
    put_num(ctr->peak_bytes);
    put_num(in_use);
    put_num(held);
    put_num(sm.rss_bytes);
    put_num(sm.anon_bytes);
    put_num(ru.ru_minflt);
    put_num((long long)phase_ns);
    put_stat(st.capacity);
    put_stat(st.tombstones);
    put_stat(st.overflow);
    put_num(s->objects ? obj_ctr->live_bytes : -1);
    put_num(peak_ok ? mem_peak_rss() : -1);
    putchar('\n');
    fflush(stdout);
}

/* The instrument's own calibration: the RSS of this bare process (the floor
 * every small-N figure sits on), and the RSS growth measured for a 64 MiB
 * mapping with every page touched, which must read as 64 MiB.  Prints
 * "K <tab> rss_floor_bytes <tab> calib_64mib_rss_bytes". */
static int mem_calibrate(void)
{
    const size_t bytes = (size_t)64 << 20;
    mb_smaps before = mb_read_smaps();
    unsigned char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mapbench: calibration: mmap of 64 MiB failed\n");
        return 1;
    }
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < bytes; i += (size_t)page)
        p[i] = (unsigned char)i | 1;
    mb_smaps after = mb_read_smaps();
    munmap(p, bytes);
    if (before.rss_bytes < 0 || after.rss_bytes < 0) {
        fprintf(stderr, "mapbench: calibration: /proc/self/smaps_rollup is not readable\n");
        return 1;
    }
    printf("#\trss_floor_bytes\tcalib_64mib_rss_bytes\nK\t%lld\t%lld\n", before.rss_bytes,
           after.rss_bytes - before.rss_bytes);
    return 0;
}

int mb_cmd_mem_case(int argc, char **argv)
{
    const mb_map_ops *ops = NULL;
    const mb_blueprint *bp = &mb_blueprints[0];
    mb_dist dist = MB_DIST_UNIFORM;
    size_t n = 0;
    uint64_t seed = 0x6d61706265ULL;
    const char *want_allocator = NULL;

    for (int i = 2; i < argc; i++) {
        const char *v;
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, "mem-case");
            return 0;
        }
        if (strcmp(argv[i], "--calibrate") == 0) {
            if (argc != 3)
                mb_usage_error("mem-case", "--calibrate takes no other argument");
            return mem_calibrate();
        }
        if ((v = mb_flag_value(argc, argv, &i, "--impl", "mem-case"))) {
            if (!(ops = mb_registry_find(v)))
                mb_usage_error("mem-case", "no map named '%s'", v);
        } else if ((v = mb_flag_value(argc, argv, &i, "--n", "mem-case"))) {
            n = mb_parse_count(v, "--n", "mem-case");
        } else if ((v = mb_flag_value(argc, argv, &i, "--blueprint", "mem-case"))) {
            if (!(bp = mb_blueprint_find(v)))
                mb_usage_error("mem-case", "no blueprint named '%s'", v);
        } else if ((v = mb_flag_value(argc, argv, &i, "--dist", "mem-case"))) {
            int d = mb_dist_parse(v);
            if (d < 0)
                mb_usage_error("mem-case", "no key distribution named '%s'", v);
            dist = (mb_dist)d;
        } else if ((v = mb_flag_value(argc, argv, &i, "--seed", "mem-case"))) {
            seed = mb_parse_count(v, "--seed", "mem-case");
        } else if ((v = mb_flag_value(argc, argv, &i, "--allocator", "mem-case"))) {
            if (!mb_allocator_find(v))
                mb_usage_error("mem-case", "unknown allocator '%s' (known: %s)", v,
                               mb_allocator_names());
            want_allocator = v;
        } else {
            mb_usage_error("mem-case", "unknown argument '%s'", argv[i]);
        }
    }
    if (!ops || n < 2)
        mb_usage_error("mem-case", "needs --impl NAME and --n N (N >= 2)");
    mb_map_config cfg;
    if (!mb_case_config(ops, bp, 0, seed, &cfg))
        mb_usage_error("mem-case", "%s does not support blueprint %s", ops->name, bp->name);
    /* --allocator says what the parent preloaded; refuse to mislabel samples */
    if (want_allocator && strcmp(want_allocator, mb_allocator_detect()) != 0) {
        printf("E\t%s\tallocator is %s, not %s (LD_PRELOAD=%s)\n", ops->name,
               mb_allocator_detect(), want_allocator, getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
        fprintf(stderr, "mapbench: mem-case: the running allocator is %s, not %s; run through "
                "`mapbench run --allocator %s` or set LD_PRELOAD\n", mb_allocator_detect(),
                want_allocator, want_allocator);
        return 1;
    }

    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    mb_stream s;
    mb_objects objs;
    mb_counter obj_ctr;
    mb_counter_init(&obj_ctr);
    if (mb_stream_for(&s, &objs, &obj_ctr, bp, dist, seed, 2 * n) != 0) {
        fprintf(stderr, "mapbench: out of memory for the objects\n");
        return 1;
    }
    const char *err = NULL;
    int idx = 0;

    printf("#\tphase_index\tphase\tentries\tmap_live_bytes\tmap_peak_bytes\talloc_in_use_bytes"
           "\talloc_held_bytes\trss_bytes\tanon_bytes\tminor_faults\tphase_ns\tcapacity"
           "\ttombstones\toverflow\tobject_bytes\tpeak_rss_bytes\n");
    mb_allocator_trim();
    int peak_ok = mem_reset_peak() == 0;
    uint64_t t0 = mb_now_ns();
    void *m = ops->create(&a, &cfg);
    if (!m) {
        fprintf(stderr, "mapbench: %s: create failed\n", ops->name);
        return 1;
    }
    sample(idx++, "start", ops, m, &ctr, &s, &obj_ctr, mb_now_ns() - t0, peak_ok);

    static const struct {
        const char *name;
        mb_phase phase;
        int from, to;       /* key range in halves of n: [from*n/2, to*n/2) */
        size_t count_after; /* in halves of n */
    } script[] = {
        { "insert", MB_PHASE_INSERT, 0, 2, 2 },
        { "delete_half", MB_PHASE_DELETE_ALL, 0, 1, 1 },
        { "delete_all", MB_PHASE_DELETE_ALL, 1, 2, 0 },
        { "trim", MB_PHASE_COUNT_, 0, 0, 0 },
        { "reinsert", MB_PHASE_INSERT, 2, 4, 2 },
        { "clear", MB_PHASE_CLEAR, 0, 0, 0 },
        { "trim_after_clear", MB_PHASE_COUNT_, 0, 0, 0 },
    };
    for (size_t k = 0; k < sizeof script / sizeof *script && !err; k++) {
        size_t half = n / 2;
        size_t lo = (size_t)script[k].from * half, hi = (size_t)script[k].to * half;
        if (script[k].to == 2)
            hi = n; /* odd n: the second half is the larger */
        if (script[k].to == 4)
            hi = 2 * n, lo = n;
        size_t expect = script[k].count_after == 2 ? n : script[k].count_after == 1 ? n - half : 0;
        peak_ok = mem_reset_peak() == 0;
        t0 = mb_now_ns();
        if (script[k].phase == MB_PHASE_COUNT_) {
            mb_allocator_trim();
        } else {
            mb_phase_result r = mb_run_phase_range(ops, m, &s, script[k].phase, lo, hi);
            if (r.error)
                err = r.error;
        }
        uint64_t dt = mb_now_ns() - t0;
        if (!err && mb_map_count(ops, m) != expect)
            err = "wrong entry count after the phase";
        if (!err)
            err = ops->check(m);
        if (err) {
            printf("E\t%s\t%s: %s\n", ops->name, script[k].name, err);
            fprintf(stderr, "mapbench: %s n=%zu phase %s: %s\n", ops->name, n, script[k].name,
                    err);
            break;
        }
        sample(idx++, script[k].name, ops, m, &ctr, &s, &obj_ctr, dt, peak_ok);
    }
    peak_ok = mem_reset_peak() == 0;
    t0 = mb_now_ns();
    ops->destroy(m);
    if (s.objects)
        mb_objects_free_all(s.objects); /* the objects die with the map */
    sample(idx++, "destroy", ops, NULL, &ctr, &s, &obj_ctr, mb_now_ns() - t0, peak_ok);
    if (!err && ctr.live_bytes != 0) {
        err = "destroy left live bytes";
        printf("E\t%s\tdestroy: %lld bytes still live\n", ops->name, (long long)ctr.live_bytes);
    }
    peak_ok = mem_reset_peak() == 0;
    t0 = mb_now_ns();
    mb_allocator_trim();
    sample(idx++, "trim_after_destroy", ops, NULL, &ctr, &s, &obj_ctr, mb_now_ns() - t0,
           peak_ok);
    mb_stream_done(&s);
    return err ? 1 : 0;
}
