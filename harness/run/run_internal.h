/* run_internal.h — what the files of the run room share. */
#ifndef MB_RUN_INTERNAL_H
#define MB_RUN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "plan.h"
#include "run.h"
#include "store.h"

/* callgrind's parent side runs this; without it, icount is "not measured"
 * (package valgrind). */
#define MB_VALGRIND_PATH "/usr/bin/valgrind"

/* ---- child processes (spawn.c: the one place a process is started) --------------- */

typedef void (*mb_line_fn)(void *ud, char *line);
/* Runs path with args (NULL-terminated), feeding each line of its stdout to
 * fn; its stderr passes through.  Returns its exit status (128+signal when
 * killed), or -1 if it could not start. */
int mb_run_child(const char *path, char **args, mb_line_fn fn, void *ud);
/* The same, discarding stdout (stderr still passes through). */
int mb_run_child_quiet(const char *path, char **args);
/* The same with LD_PRELOAD set to preload in the child (NULL: unset). */
int mb_run_child_preload(const char *path, char **args, const char *preload, mb_line_fn fn,
                         void *ud);

/* ---- instruction counts (icount.c) -------------------------------------------------- */

/* Counts the instructions of case c's measured phase under callgrind.
 * Returns 0 with *instructions and *ops, or -1 with err filled. */
int mb_icount_measure(const mb_case *c, uint64_t seed, long long *instructions, long long *ops,
                      char *err, size_t errlen);

/* ---- environment (env.c) ------------------------------------------------------------ */

void mb_env_capture(mb_env *env);
/* A random RFC 4122 version 4 UUID. */
void mb_uuid(char out[37]);

#endif
