/*
 * allocators.c — which malloc a memory child runs on, what it says it holds,
 * and how to make it give memory back.
 *
 * The parent picks the allocator per child with LD_PRELOAD (glibc: none).
 * The child finds out which one is really loaded by looking up each
 * allocator's own entry points with dlsym (no link-time dependency on any
 * of them), and uses that allocator's statistics and purge:
 *
 *   allocator  in-use bytes                    held bytes                       trim
 *   glibc      mallinfo2 uordblks + hblkhd     arena + hblkhd                   malloc_trim(0)
 *   jemalloc   stats.allocated                 stats.resident                   arena.<all>.purge
 *   mimalloc   (not exposed: NULL)             mi_process_info current_commit   mi_collect(true)
 *   tcmalloc   generic.current_allocated_bytes generic.heap_size - pageheap_unmapped_bytes
 *                                                                               MallocExtension_ReleaseFreeMemory
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void (*mi_collect_fn)(bool);
typedef void (*mi_process_info_fn)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
                                   size_t *, size_t *);
typedef int (*tc_prop_fn)(const char *, size_t *);
typedef void (*tc_release_fn)(void);

const char *mb_allocator_detect(void)
{
    if (dlsym(RTLD_DEFAULT, "mallctl"))
        return "jemalloc";
    if (dlsym(RTLD_DEFAULT, "mi_collect"))
        return "mimalloc";
    if (dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty"))
        return "tcmalloc";
    return "glibc";
}

void mb_allocator_stats(long long *in_use_bytes, long long *held_bytes)
{
    *in_use_bytes = *held_bytes = -1;
    mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl) {
        uint64_t epoch = 1;
        size_t v, len = sizeof v, elen = sizeof epoch;
        mallctl("epoch", &epoch, &elen, &epoch, elen); /* refresh the cached stats */
        if (mallctl("stats.allocated", &v, &len, NULL, 0) == 0)
            *in_use_bytes = (long long)v;
        len = sizeof v;
        if (mallctl("stats.resident", &v, &len, NULL, 0) == 0)
            *held_bytes = (long long)v;
        return;
    }
    mi_process_info_fn mpi = (mi_process_info_fn)dlsym(RTLD_DEFAULT, "mi_process_info");
    if (mpi) {
        size_t el, u, s, rss, peak_rss, commit, peak_commit, faults;
        mpi(&el, &u, &s, &rss, &peak_rss, &commit, &peak_commit, &faults);
        *held_bytes = (long long)commit;
        return;
    }
    tc_prop_fn prop = (tc_prop_fn)dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
    if (prop) {
        size_t alloc = 0, heap = 0, unmapped = 0;
        if (prop("generic.current_allocated_bytes", &alloc))
            *in_use_bytes = (long long)alloc;
        if (prop("generic.heap_size", &heap) && prop("tcmalloc.pageheap_unmapped_bytes", &unmapped))
            *held_bytes = (long long)(heap - unmapped);
        return;
    }
    struct mallinfo2 mi = mallinfo2();
    *in_use_bytes = (long long)(mi.uordblks + mi.hblkhd);
    *held_bytes = (long long)(mi.arena + mi.hblkhd);
}

void mb_allocator_trim(void)
{
    mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl) {
        char cmd[64];
        /* MALLCTL_ARENAS_ALL is 4096 in jemalloc 5 */
        snprintf(cmd, sizeof cmd, "arena.%u.purge", 4096u);
        mallctl(cmd, NULL, NULL, NULL, 0);
        return;
    }
    mi_collect_fn collect = (mi_collect_fn)dlsym(RTLD_DEFAULT, "mi_collect");
    if (collect) {
        collect(true);
        return;
    }
    tc_release_fn release = (tc_release_fn)dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
    if (release) {
        release();
        return;
    }
    malloc_trim(0);
}
