/* child.h — the one way mapbench starts a process (child.c).
 *
 * run/spawn.c starts the measured children through it (adding the run's
 * signal handling, worker slots and LD_PRELOAD), present/ starts gnuplot and
 * git through it, run/env.c git. */
#ifndef MB_CHILD_H
#define MB_CHILD_H

#include <signal.h>

typedef void (*mb_line_fn)(void *ud, char *line);

typedef struct mb_child {
    const char *path;      /* with a '/': that file; without: looked up on PATH */
    char **argv;           /* NULL-terminated, argv[0] included */
    char **envp;           /* NULL: this process's environment */
    const char *cwd;       /* NULL: this process's directory */
    int quiet_stderr;      /* 1: the child's stderr goes to /dev/null; 0: passes through */
    mb_line_fn on_line;    /* each line of its stdout, newline removed (NULL: discarded) */
    void *ud;
    /* Where the running child's pid is kept while it runs (0 before and
     * after), written with SIGINT/SIGTERM blocked, so that a signal handler
     * can kill it; NULL: not kept.  The child runs in its own process group
     * (its pid) either way and dies with this process (PR_SET_PDEATHSIG). */
    volatile sig_atomic_t *pid_out;
} mb_child;

/* Starts c->path and waits for it, reading its stdout line by line.  Safe to
 * call from several threads at once (between fork and exec the child calls
 * only async-signal-safe functions; the pipe is close-on-exec, so no child
 * holds another's open).  Returns its exit status (127: it could not be
 * executed, 126: not into c->cwd; 128 + signal when killed), or -1 when it
 * could not be started (pipe, fork). */
int mb_child_run(const mb_child *c);

/* block 1: blocks SIGINT and SIGTERM in the calling thread; 0: unblocks
 * them.  What mb_child_run does around fork; run/spawn.c also around the
 * state its handler reads. */
void mb_child_block_signals(int block);

#endif
