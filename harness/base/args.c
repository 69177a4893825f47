/* args.c — see args.h. */
#include "args.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MB_FUZZ
/* The fuzz build (fuzz/fuzz_args.c): a usage error is a right answer to bad
 * input, so it returns to the fuzzer (longjmp) instead of ending the process. */
#include <setjmp.h>
extern jmp_buf mb_fuzz_usage_jmp;
extern FILE *mb_fuzz_usage_out; /* /dev/null: the message is still formatted */
#define ARGS_USAGE_EXIT() longjmp(mb_fuzz_usage_jmp, 2)
#define ARGS_ERR_OUT mb_fuzz_usage_out
#else
#define ARGS_USAGE_EXIT() exit(2)
#define ARGS_ERR_OUT stderr
#endif

void mb_print_usage(FILE *f, const mb_command *cmd)
{
    fputs(cmd->usage, f);
}

_Noreturn void mb_usage_error(const mb_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mapbench: ", ARGS_ERR_OUT);
    vfprintf(ARGS_ERR_OUT, fmt, ap);
    fputc('\n', ARGS_ERR_OUT);
    va_end(ap);
    mb_print_usage(ARGS_ERR_OUT, cmd);
    ARGS_USAGE_EXIT();
}

char *mb_errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, len, fmt, ap);
    va_end(ap);
    mb_mark_cut(err, len, n);
    return err;
}

void mb_mark_cut(char *buf, size_t len, int n)
{
    if (n >= 0 && (size_t)n >= len && len > 3)
        memcpy(buf + len - 4, "...", 4);
}

int mb_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

void mb_help_exit(const char *a, const mb_command *cmd)
{
    if (!mb_is_help(a))
        return;
    mb_print_usage(stdout, cmd);
    exit(0);
}

const char *mb_flag_value(int argc, char **argv, int *i, const char *flag, const mb_command *cmd)
{
    const char *a = argv[*i];
    size_t len = strlen(flag);
    if (strncmp(a, flag, len) != 0)
        return NULL;
    if (a[len] == '=')
        return a + len + 1;
    if (a[len] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        mb_usage_error(cmd, "%s needs a value", flag);
    return argv[++*i];
}

size_t mb_parse_count(const char *s, const char *flag, const mb_command *cmd)
{
    char *end;
    double v = strtod(s, &end); /* accepts 1e6 */
    /* written so that NaN fails too, before the cast (a NaN cast is undefined) */
    if (end == s || *end || !(v >= 0 && v <= 1e12) || v != (double)(size_t)v)
        mb_usage_error(cmd, "%s wants a whole number, got '%s'", flag, s);
    return (size_t)v;
}

size_t mb_parse_entries(const char *s, const char *flag, size_t entry_bytes,
                        const mb_command *cmd)
{
    size_t n = mb_parse_count(s, flag, cmd);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double ram_bytes = (double)pages * (double)page;
    if (pages > 0 && page > 0 && (double)n * (double)entry_bytes > ram_bytes)
        mb_usage_error(cmd, "%s %zu too large for this machine's memory (%zu entries x at least"
                       " %zu bytes each > %.1f GiB of RAM)", flag, n, n, entry_bytes,
                       ram_bytes / 1073741824.0);
    return n;
}
