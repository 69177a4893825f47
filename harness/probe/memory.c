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
 *   rebuild             a new map, the live entries copied, the old destroyed
 *   trim_after_rebuild  the allocator's purge
 *   refill              keys [n, 2n) into the rebuilt map
 *   delete_all_again    keys [n, 2n) removed
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

#include "probe.h"

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

/* A map stat, NA where the map does not measure it. */
static void mem_put_stat(mb_rec_out *o, size_t v)
{
    mb_rec_count(o, v == MB_NA ? -1 : (long long)v);
}

/* peak_ok: the high-water mark was reset before this phase (clear_refs worked). */
static void mem_sample(int index, const char *phase, const mb_map_ops *ops, void *m,
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
    mb_rec_out o;
    mb_rec_begin(&o, stdout, &mb_rec_mem);
    mb_rec_int(&o, index);
    mb_rec_text(&o, phase);
    mem_put_stat(&o, st.count);
    mb_rec_count(&o, ctr->live_bytes);
    mb_rec_count(&o, ctr->peak_bytes);
    mb_rec_count(&o, in_use);
    mb_rec_count(&o, held);
    mb_rec_count(&o, sm.rss_bytes);
    mb_rec_count(&o, sm.anon_bytes);
    mb_rec_count(&o, ru.ru_minflt);
    mb_rec_count(&o, (long long)phase_ns);
    mem_put_stat(&o, st.capacity);
    mem_put_stat(&o, st.tombstones);
    mem_put_stat(&o, st.overflow);
    mb_rec_count(&o, s->objects ? obj_ctr->live_bytes : -1);
    mb_rec_count(&o, peak_ok ? mem_peak_rss() : -1);
    mb_rec_end(&o);
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
    mb_rec_out o;
    mb_rec_header(stdout, &mb_rec_calib);
    mb_rec_begin(&o, stdout, &mb_rec_calib);
    mb_rec_int(&o, before.rss_bytes);
    mb_rec_int(&o, after.rss_bytes - before.rss_bytes);
    mb_rec_end(&o);
    return 0;
}

/* The visitor of mem_rebuild: inserts each entry into the new map. */
static int mem_copy_entry(void *ud, const void *key, const void *val)
{
    void **dst = ud; /* { ops, map } */
    const mb_map_ops *ops = dst[0];
    return ops->insert(dst[1], key, val) != MB_INSERTED;
}

/* The remedy "rebuild the map": a new map with the same config (and the same
 * counting allocator), every live entry copied into it, the old one
 * destroyed.  Returns NULL, or what is wrong (the old map is kept then). */
static const char *mem_rebuild(mb_probe_case *pc)
{
    const mb_map_ops *ops = pc->ops;
    void *m2 = ops->create(&pc->alloc, &pc->cfg);
    if (!m2)
        return "rebuild: create failed";
    void *dst[] = { (void *)ops, m2 };
    if (ops->iterate(pc->map, mem_copy_entry, dst) != 0) {
        ops->destroy(m2);
        return "rebuild: an entry was not copied (out of memory or a duplicate)";
    }
    ops->destroy(pc->map);
    pc->map = m2;
    return NULL;
}

/* Runs one step of the script on pc's map.  Returns NULL, or what is wrong. */
static const char *mem_step(mb_probe_case *pc, const mb_mem_step *step)
{
    size_t lo = mb_mem_pos(step->from, pc->n), hi = mb_mem_pos(step->to, pc->n);
    static const mb_phase phase_of[] = {
        [MB_MEM_INSERT] = MB_PHASE_INSERT,
        [MB_MEM_DELETE] = MB_PHASE_DELETE_ALL,
        [MB_MEM_CLEAR] = MB_PHASE_CLEAR,
    };
    if (step->op == MB_MEM_TRIM) {
        mb_allocator_trim();
        return NULL;
    }
    if (step->op == MB_MEM_REBUILD)
        return mem_rebuild(pc);
    return mb_run_phase_range(pc->ops, pc->map, &pc->stream, phase_of[step->op], lo, hi).error;
}

/* Parses mem-case's arguments into a and *allocator; --calibrate sets *calibrate. */
static void mem_args(int argc, char **argv, mb_case_args *a, const char **allocator,
                     int *calibrate)
{
    const mb_command *cmd = &mb_command_mem_case;
    mb_case_args_init(a);
    for (int i = 2; i < argc; i++) {
        const char *v;
        mb_help_exit(argv[i], cmd);
        if (strcmp(argv[i], "--calibrate") == 0) {
            if (argc != 3)
                mb_usage_error(cmd, "--calibrate takes no other argument");
            *calibrate = 1;
            return;
        }
        if ((v = mb_flag_value(argc, argv, &i, "--allocator", cmd))) {
            if (!mb_allocator_find(v))
                mb_usage_error(cmd, "unknown allocator '%s' (known: %s)", v,
                               mb_allocator_names());
            *allocator = v;
        } else if (!mb_case_arg(a, argc, argv, &i, cmd)) {
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
        }
    }
    mb_map_config cfg;
    if (!a->ops || a->n < 2)
        mb_usage_error(cmd, "needs --impl NAME and --n N (N >= 2)");
    if (!mb_case_config(a->ops, a->bp, 0, a->shrink, a->seed, &cfg))
        mb_usage_error(cmd, "%s does not support blueprint %s with shrink %s", a->ops->name,
                       a->bp->name, mb_shrink_name(a->shrink));
}

/* Returns 0 when the allocator serving malloc is want (or want is NULL);
 * else prints why (E record and stderr) and returns 1: samples are never
 * stored under another allocator's name. */
static int mem_check_allocator(const mb_map_ops *ops, const char *want)
{
    if (!want || strcmp(want, mb_allocator_detect()) == 0)
        return 0;
    printf("E\t%s\tallocator is %s, not %s (LD_PRELOAD=%s)\n", ops->name, mb_allocator_detect(),
           want, getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
    fprintf(stderr, "mapbench: mem-case: the running allocator is %s, not %s; run through "
            "`mapbench run --allocator %s` or set LD_PRELOAD\n", mb_allocator_detect(), want,
            want);
    return 1;
}

/* Runs the script's table on pc's map, one sample after each step.  Returns
 * NULL, or what went wrong (an E record is printed). */
static const char *mem_run_script(mb_probe_case *pc, int *idx)
{
    const mb_map_ops *ops = pc->ops;
    for (size_t k = 0; k < mb_mem_script_len; k++) {
        const mb_mem_step *step = &mb_mem_script[k];
        size_t expect = mb_mem_pos(step->live_to, pc->n) - mb_mem_pos(step->live_from, pc->n);
        int peak_ok = mem_reset_peak() == 0;
        uint64_t t0 = mb_now_ns();
        const char *err = mem_step(pc, step);
        uint64_t dt = mb_now_ns() - t0;
        if (!err && mb_map_count(ops, pc->map) != expect)
            err = "wrong entry count after the phase";
        if (!err)
            err = ops->check(pc->map);
        if (err) {
            printf("E\t%s\t%s: %s\n", ops->name, step->name, err);
            fprintf(stderr, "mapbench: %s n=%zu phase %s: %s\n", ops->name, pc->n, step->name,
                    err);
            return err;
        }
        mem_sample((*idx)++, step->name, ops, pc->map, &pc->ctr, &pc->stream, &pc->obj_ctr, dt,
               peak_ok);
    }
    return NULL;
}

static int mb_cmd_mem_case(int argc, char **argv)
{
    mb_case_args a;
    const char *want_allocator = NULL;
    int calibrate = 0;
    mem_args(argc, argv, &a, &want_allocator, &calibrate);
    if (calibrate)
        return mem_calibrate();
    if (mem_check_allocator(a.ops, want_allocator))
        return 1;

    mb_probe_case pc;
    const char *err = mb_case_open(&pc, a.ops, a.bp, a.dist, a.n, 0, a.shrink, a.seed);
    if (err) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    mb_case_hugepages(&pc, a.hugepages);
    const mb_map_ops *ops = a.ops;
    int idx = 0;

    mb_rec_header(stdout, &mb_rec_mem);
    mb_allocator_trim();
    int peak_ok = mem_reset_peak() == 0;
    uint64_t t0 = mb_now_ns();
    if ((err = mb_case_build(&pc, MB_PHASE_INSERT))) { /* an empty map */
        fprintf(stderr, "mapbench: %s: %s\n", ops->name, err);
        return 1;
    }
    mem_sample(idx++, "start", ops, pc.map, &pc.ctr, &pc.stream, &pc.obj_ctr, mb_now_ns() - t0,
           peak_ok);
    err = mem_run_script(&pc, &idx);
    peak_ok = mem_reset_peak() == 0;
    t0 = mb_now_ns();
    mb_case_drop_map(&pc); /* the objects die with the map */
    mem_sample(idx++, "destroy", ops, NULL, &pc.ctr, &pc.stream, &pc.obj_ctr, mb_now_ns() - t0,
           peak_ok);
    if (!err && pc.ctr.live_bytes != 0) {
        err = "destroy left live bytes";
        printf("E\t%s\tdestroy: %lld bytes still live\n", ops->name, (long long)pc.ctr.live_bytes);
    }
    peak_ok = mem_reset_peak() == 0;
    t0 = mb_now_ns();
    mb_allocator_trim();
    mem_sample(idx++, "trim_after_destroy", ops, NULL, &pc.ctr, &pc.stream, &pc.obj_ctr,
           mb_now_ns() - t0, peak_ok);
    mb_case_close(&pc);
    return err ? 1 : 0;
}

const mb_command mb_command_mem_case = {
    "mem-case",
    "run the memory phase script for one case, print the samples",
    "usage: mapbench mem-case --impl NAME --n N [--blueprint B] [--dist D] [--seed S]\n"
    "                         [--allocator glibc|jemalloc|mimalloc|tcmalloc]\n"
    "                         [--shrink never|low-water] [--hugepages]\n"
    "       mapbench mem-case --calibrate\n"
    "  Runs the memory phase script once in this process and prints one tab-separated\n"
    "  sample per phase (map bytes, allocator bytes, RSS, faults, time).\n"
    "  --calibrate prints this process's bare RSS and the RSS growth measured for a\n"
    "  64 MiB touched mapping (the instrument's floor and its accuracy).\n",
    mb_cmd_mem_case,
};
