/*
 * env.c — the environment recorded with every run, and the run's uuid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "gbench_shim.h"
#include "run_internal.h"

#ifndef MB_SOURCE_DIR
#define MB_SOURCE_DIR "."
#endif
#ifndef MB_COMPILER
#define MB_COMPILER "unknown"
#endif
#ifndef MB_CFLAGS
#define MB_CFLAGS "unknown"
#endif
#ifndef MB_BUILD_TYPE
#define MB_BUILD_TYPE "unknown"
#endif

void mb_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t s = mb_now_ns() ^ (uint64_t)getpid() << 32;
        for (int i = 0; i < 16; i += 8) {
            uint64_t w = mb_splitmix64(&s);
            memcpy(b + i, &w, 8);
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

/* What one git command printed: its first line and its line count. */
typedef struct env_lines {
    char *first;
    size_t len, count;
} env_lines;

/* Copies src into dst[size], or, when it does not fit, stores "" (unknown): a cut value
 * would read as a different, real one. */
static void env_text(char *dst, size_t size, const char *src)
{
    if ((size_t)snprintf(dst, size, "%s", src) >= size)
        dst[0] = 0;
}

static void env_on_line(void *ud, char *line)
{
    env_lines *l = ud;
    if (l->count++ == 0)
        env_text(l->first, l->len, line);
}

/* Runs `git -C MB_SOURCE_DIR <args...>` through mb_run_child_opts (base's
 * mb_child_run: an argument vector, no shell), its stderr discarded.
 * Returns its line count, or -1 when it failed; buf (if any) gets its first
 * line ("" on failure, or when it does not fit in len). */
static long env_git(char *buf, size_t len, const char *a1, const char *a2, const char *a3)
{
    char tmp[8];
    env_lines l = { buf ? buf : tmp, buf ? len : sizeof tmp, 0 };
    char *args[] = { "git", "-C", MB_SOURCE_DIR, (char *)a1, (char *)a2, (char *)a3, NULL };
    l.first[0] = 0;
    int st = mb_run_child_opts("git", args, NULL, 1, env_on_line, &l);
    if (st != 0) {
        l.first[0] = 0;
        return -1;
    }
    return (long)l.count;
}

static long env_cache_bytes(int level, const char *type)
{
    char path[128], buf[64], t[32];
    for (int idx = 0; idx < 8; idx++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        FILE *f = fopen(path, "r");
        if (!f)
            return -1;
        int lv = fgets(buf, sizeof buf, f) ? atoi(buf) : -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        f = fopen(path, "r");
        t[0] = 0;
        if (f) {
            if (fgets(t, sizeof t, f))
                t[strcspn(t, "\n")] = 0;
            fclose(f);
        }
        if (lv != level || (strcmp(t, type) != 0 && strcmp(t, "Unified") != 0))
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        f = fopen(path, "r");
        if (!f)
            return -1;
        long v = -1;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            v = strtol(buf, &end, 10);
            if (*end == 'K')
                v *= 1024;
            else if (*end == 'M')
                v *= 1024 * 1024;
        }
        fclose(f);
        return v;
    }
    return -1;
}

void mb_env_capture(mb_env *env)
{
    char buf[256];
    struct utsname u;

    memset(env, 0, sizeof *env);
    env_git(env->git_sha, sizeof env->git_sha, "rev-parse", "HEAD", NULL);
    long changed = env_git(NULL, 0, "status", "--porcelain", "--untracked-files=no");
    env->git_dirty = env->git_sha[0] && changed >= 0 ? changed > 0 : -1;
    env->compiler = MB_COMPILER;
    env->cflags = MB_CFLAGS;
    env->build_type = MB_BUILD_TYPE;
    env->benchmark_version = mbb_version();

    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(buf, sizeof buf, f))
            if (strncmp(buf, "model name", 10) == 0) {
                char *v = strchr(buf, ':');
                if (v) {
                    v += v[1] == ' ' ? 2 : 1;
                    v[strcspn(v, "\n")] = 0;
                    env_text(env->cpu_model, sizeof env->cpu_model, v);
                }
                break;
            }
        fclose(f);
    }
    env->cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0)
        snprintf(env->kernel, sizeof env->kernel, "%.64s %.64s %.64s", u.sysname, u.release,
                 u.machine);
    /* a name that does not fit is an error (ENAMETOOLONG) or comes back unterminated */
    if (gethostname(env->hostname, sizeof env->hostname) != 0 ||
        !memchr(env->hostname, 0, sizeof env->hostname))
        env->hostname[0] = 0;
    env->l1d_bytes = env_cache_bytes(1, "Data");
    env->l2_bytes = env_cache_bytes(2, "Unified");
    env->l3_bytes = env_cache_bytes(3, "Unified");
    /* Some VMs hide /sys/.../cache; glibc reads the sizes from CPUID. */
    if (env->l1d_bytes <= 0)
        env->l1d_bytes = sysconf(_SC_LEVEL1_DCACHE_SIZE) > 0 ? sysconf(_SC_LEVEL1_DCACHE_SIZE) : -1;
    if (env->l2_bytes <= 0)
        env->l2_bytes = sysconf(_SC_LEVEL2_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL2_CACHE_SIZE) : -1;
    if (env->l3_bytes <= 0)
        env->l3_bytes = sysconf(_SC_LEVEL3_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL3_CACHE_SIZE) : -1;
    /* what the memory system was: THP mode (workloads' mb_thp_mode; "" where unreadable) */
    if (mb_thp_mode("enabled", env->thp_enabled, sizeof env->thp_enabled) != 0)
        env->thp_enabled[0] = 0;
    if (mb_thp_mode("defrag", env->thp_defrag, sizeof env->thp_defrag) != 0)
        env->thp_defrag[0] = 0;
}
