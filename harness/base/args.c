/* args.c — see args.h. */
#include "args.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void mb_print_usage(FILE *f, const mb_command *cmd)
{
    fputs(cmd->usage, f);
}

_Noreturn void mb_usage_error(const mb_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mapbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    mb_print_usage(stderr, cmd);
    exit(2);
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
    if (end == s || *end || v < 0 || v > 1e12 || v != (double)(size_t)v)
        mb_usage_error(cmd, "%s wants a whole number, got '%s'", flag, s);
    return (size_t)v;
}
