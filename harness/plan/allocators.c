/*
 * allocators.c (plan) — the allocators a run can choose between: their names
 * and the library the parent preloads into a memory child for each.  What a
 * child does with the allocator it runs on is probe/allocators.c.
 */
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

static const mb_allocator_info allocators[] = {
    { "glibc", NULL, "libc6" },
    { "jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "libjemalloc2" },
    { "mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "libmimalloc2.0" },
    { "tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4" },
    { NULL, NULL, NULL },
};

const mb_allocator_info *mb_allocator_find(const char *name)
{
    for (const mb_allocator_info *a = allocators; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

const mb_allocator_info *mb_allocator_at(size_t i)
{
    return i < sizeof allocators / sizeof *allocators - 1 ? &allocators[i] : NULL;
}

const char *mb_allocator_names(void)
{
    return "glibc, jemalloc, mimalloc, tcmalloc";
}

int mb_allocator_available(const mb_allocator_info *a)
{
    return !a->preload || access(a->preload, R_OK) == 0;
}
