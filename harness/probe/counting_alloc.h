/*
 * counting_alloc.h — the allocator every own map is given.
 *
 * Counts live, peak and total bytes and calls, and can fail on purpose:
 * with fail_after = k, the first k allocations succeed and every later one
 * returns NULL (k = MB_COUNTER_NEVER_FAIL disables injection).  Counters are
 * updated atomically so a thread-safe map may allocate from many threads.
 *
 * Small requests come from malloc / aligned_alloc.  Requests with
 * align >= MB_PAGE_BYTES come straight from mmap and go back with munmap,
 * so a map that asks for pages really returns them to the OS.
 */
#ifndef MB_COUNTING_ALLOC_H
#define MB_COUNTING_ALLOC_H

#include <stdint.h>
#include "mb_map.h"

#define MB_COUNTER_NEVER_FAIL INT64_MAX

typedef struct mb_counter {
    int64_t live_bytes;    /* allocated and not yet freed */
    int64_t peak_bytes;    /* high-water mark of live_bytes */
    int64_t total_bytes;   /* sum of every successful allocation */
    int64_t alloc_calls;   /* successful allocations */
    int64_t free_calls;    /* frees of non-NULL pointers */
    int64_t failed_calls;  /* allocations refused by injection or by the system */
    int64_t fail_after;    /* allocations left before injected failures start */
    int hugepages;         /* 1: blocks of MB_HUGE_BYTES or more come from mmap, 2 MiB-aligned,
                              madvise(MADV_HUGEPAGE)'d (THP in madvise mode); 0: off.
                              PRECONDITION: set before the first allocation, never changed */
} mb_counter;

#define MB_HUGE_BYTES ((size_t)2 << 20) /* one x86-64 transparent huge page */

/* Zeroes the counters; injection off. */
void mb_counter_init(mb_counter *c);
/* Returns an mb_alloc that counts into c.  c must outlive every map using it. */
mb_alloc mb_counter_alloc(mb_counter *c);
/* Makes the next k allocations succeed and every later one fail. */
void mb_counter_fail_after(mb_counter *c, int64_t k);
/* Resets the peak to the current live bytes. */
void mb_counter_reset_peak(mb_counter *c);

#endif
