/*
 * args.h — the ground floor: what every mapbench command shares to read its
 * arguments and to refuse a wrong one.
 *
 * A command is one mb_command value, defined in the room that implements it
 * (its name, its one-line summary and its usage text next to its code); the
 * CLI's table (cli/main.c) only lists them.  Everything here depends on the C
 * library alone, so every room may stand on it.
 */
#ifndef MB_ARGS_H
#define MB_ARGS_H

#include <stddef.h>
#include <stdio.h>

/* Room for one error message below the CLI layer ("errors returned, not printed"). */
#define MB_ERR_LEN 512
/* snprintf for those messages: one too long for err[len] ends in "..." instead of
 * being cut without a sign.  Returns err. */
char *mb_errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* n is what an snprintf-like call that wrote into buf[len] returned (the
 * whole length): when buf was too small, ends it in "..." so the cut shows. */
void mb_mark_cut(char *buf, size_t len, int n);

typedef struct mb_command {
    const char *name;     /* "latency-case": what argv[1] says */
    const char *summary;  /* one line for `mapbench --help`; NULL: not listed (internal) */
    const char *usage;    /* the full text of `mapbench NAME --help` */
    int (*run)(int argc, char **argv); /* argv[1] is the name */
} mb_command;

/* Prints "mapbench: <msg>" and cmd's usage to stderr, exits 2. */
_Noreturn void mb_usage_error(const mb_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints cmd's usage text to f. */
void mb_print_usage(FILE *f, const mb_command *cmd);
/* Returns 1 when a is --help / -h. */
int mb_is_help(const char *a);
/* When a is --help / -h: prints cmd's usage to stdout and exits 0. */
void mb_help_exit(const char *a, const mb_command *cmd);
/* Returns the value of a "--flag VALUE" or "--flag=VALUE" argument at argv[*i]
 * (advancing *i), or NULL when argv[*i] is not that flag.  A flag without its
 * value is a usage error. */
const char *mb_flag_value(int argc, char **argv, int *i, const char *flag, const mb_command *cmd);
/* Returns s as a whole number (1e6 is accepted); anything else is a usage error. */
size_t mb_parse_count(const char *s, const char *flag, const mb_command *cmd);
/* The least bytes one map entry can take (an 8-byte key and an 8-byte value,
 * no overhead at all): the lower bound behind mb_parse_entries. */
#define MB_MIN_ENTRY_BYTES 16
/* Returns s as an entry count (mb_parse_count); a count whose entries cannot
 * fit in this machine's physical memory at entry_bytes each is a usage error
 * ("too large for this machine's memory"), said before any work starts. */
size_t mb_parse_entries(const char *s, const char *flag, size_t entry_bytes,
                        const mb_command *cmd);

#endif
