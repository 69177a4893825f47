/*
 * gort_load.c — loading libmbgort.so, the real Go map peer, for the children
 * that drive it (go-mem-case, go-threads-case).
 *
 * The library is dlopen()ed, not linked: mapbench builds and runs without Go.
 * Its path is $MB_GORT_LIB if set, else the one CMake built (MB_GORT_LIB,
 * compiled in; "" when the build had no Go).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#ifndef MB_GORT_LIB
#define MB_GORT_LIB "" /* Go was not found when configuring */
#endif

const char *mb_gort_lib_path(void)
{
    const char *env = getenv("MB_GORT_LIB");
    return env && *env ? env : MB_GORT_LIB;
}

int mb_gort_load(void *api, const mb_gort_sym *syms, size_t n_syms, char *err, size_t errlen)
{
    const char *path = mb_gort_lib_path();
    if (!*path) {
        mb_errf(err, errlen, "go was not found when mapbench was configured");
        return -1;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        mb_errf(err, errlen, "%s", dlerror());
        return -1;
    }
    for (size_t i = 0; i < n_syms; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p) {
            mb_errf(err, errlen, "%s: no symbol %s", path, syms[i].name);
            return -1;
        }
        /* POSIX: a data pointer from dlsym converts to the function pointer. */
        memcpy((char *)api + syms[i].offset, &p, sizeof p);
    }
    return 0;
}
