/*
 * go_malloc.h — the part of Go's allocator both Go map models charge their
 * bytes through (gomap.c, gomap_swiss.c): malloc hands out a size class
 * below _MaxSmallSize and whole pages above (runtime/msize.go roundupsize,
 * runtime/sizeclasses.go class_to_size as of Go 1.19 on linux/amd64;
 * gomap_swiss.c takes the table to be unchanged in 1.24).  The
 * models count what Go's heap would really hold, so every allocation they
 * make is rounded up here first.
 */
#ifndef MB_GO_MALLOC_H
#define MB_GO_MALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Go's allocator rounds: size classes below _MaxSmallSize, pages above. */
#define GO_MAX_SMALL_SIZE 32768u
#define GO_PAGE_SIZE 8192u

static const uint16_t go_class_to_size[] = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,
    160,   176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,
    448,   480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,
    1536,  1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,
    6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384,
    18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
};

/* roundupsize (msize.go): the size Go's malloc really hands out for size
 * bytes (size itself when rounding would overflow). */
static inline size_t go_roundupsize(size_t size)
{
    if (size < GO_MAX_SMALL_SIZE) {
        size_t lo = 0, hi = sizeof go_class_to_size / sizeof go_class_to_size[0] - 1;
        while (lo < hi) { /* smallest class >= size */
            size_t mid = (lo + hi) / 2;
            if (go_class_to_size[mid] >= size)
                hi = mid;
            else
                lo = mid + 1;
        }
        return go_class_to_size[lo];
    }
    if (size + GO_PAGE_SIZE < size)
        return size;
    return (size + GO_PAGE_SIZE - 1) & ~(size_t)(GO_PAGE_SIZE - 1);
}

#endif
