/*
 * spawn.c — how `run` starts its children: through base's mb_child_run
 * (child.c: fork, exec, stdout line by line, the exit status), with the
 * run's environment (LD_PRELOAD set or removed), its worker slots and its
 * signal handling.
 *
 * Interruption.  Each child runs in its own process group (so a terminal's
 * ^C reaches only the parent) and dies with the parent (PR_SET_PDEATHSIG).
 * mb_spawn_trap_signals installs the run's SIGINT/SIGTERM handler: it kills
 * the current child's whole group, reaps it, removes the temporary file a
 * child was writing (callgrind's output), says "interrupted: nothing
 * stored" and exits 128 + the signal (130, 143).  Nothing is stored because
 * the store writes a run in one transaction at the end, and the signals are
 * blocked while it does (mb_spawn_hold_signals).
 *
 * The handler needs the current children and temporary files, so they are
 * the one piece of file-scope mutable state here: one entry per worker slot
 * (`run --jobs K` starts children from K threads, pool.c; the main thread is
 * slot 0), each written only by its slot's thread with the signals blocked,
 * read only by the handler, which kills every slot's child.
 *
 * Children are started from several threads at once: the environment is
 * built before mb_child_run forks (between fork and exec only
 * async-signal-safe calls).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_internal.h"

static volatile sig_atomic_t spawn_child_pid[MB_SPAWN_SLOTS]; /* each slot's running child
                                                                 * (= its group), 0: none */
static char spawn_temp_path[MB_SPAWN_SLOTS][256]; /* a slot's child's temporary file, "" = none */
static _Thread_local int spawn_slot;             /* the calling thread's slot */

void mb_spawn_set_slot(int slot)
{
    spawn_slot = slot >= 0 && slot < MB_SPAWN_SLOTS ? slot : 0;
}

static void spawn_say(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

/* Async-signal-safe only: kill, waitpid, unlink, write, _exit. */
static void spawn_on_signal(int sig)
{
    for (int s = 0; s < MB_SPAWN_SLOTS; s++) {
        pid_t pid = (pid_t)spawn_child_pid[s];
        if (pid > 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
    }
    for (int s = 0; s < MB_SPAWN_SLOTS; s++) {
        pid_t pid = (pid_t)spawn_child_pid[s];
        while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (spawn_temp_path[s][0])
            unlink(spawn_temp_path[s]);
    }
    spawn_say("\nmapbench: interrupted: nothing stored\n");
    _exit(128 + sig);
}

void mb_spawn_trap_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = spawn_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void mb_spawn_untrap_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

void mb_spawn_hold_signals(int hold)
{
    mb_child_block_signals(hold);
}

int mb_spawn_temp_file(const char *path)
{
    if (path && strlen(path) >= sizeof spawn_temp_path[0])
        return -1;
    mb_child_block_signals(1);
    snprintf(spawn_temp_path[spawn_slot], sizeof spawn_temp_path[0], "%s", path ? path : "");
    mb_child_block_signals(0);
    return 0;
}

/* This process's environment without LD_PRELOAD, plus LD_PRELOAD=preload
 * when preload is set (malloc'd, for execve), or NULL when out of memory.
 * The array ends in NULL; the one string it owns (LD_PRELOAD=...) is also
 * kept right after that NULL, for spawn_free_environment. */
static char **spawn_environment(const char *preload)
{
    extern char **environ;
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 3, sizeof *envp);
    if (!envp)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            envp[k++] = environ[i];
    if (preload) {
        size_t len = strlen(preload) + 12;
        if (!(envp[k] = malloc(len))) {
            free(envp);
            return NULL;
        }
        snprintf(envp[k], len, "LD_PRELOAD=%s", preload);
        envp[k + 2] = envp[k]; /* envp[k + 1] is the terminator */
    }
    return envp;
}

static void spawn_free_environment(char **envp)
{
    size_t t = 0;
    while (envp[t])
        t++;
    free(envp[t + 1]); /* NULL without a preload */
    free(envp);
}

static void spawn_ignore_line(void *ud, char *line)
{
    (void)ud;
    (void)line;
}

int mb_run_child_quiet(const char *path, char **args)
{
    return mb_run_child(path, args, spawn_ignore_line, NULL);
}

int mb_run_child(const char *path, char **args, mb_line_fn fn, void *ud)
{
    return mb_run_child_preload(path, args, NULL, fn, ud);
}

int mb_run_child_preload(const char *path, char **args, const char *preload, mb_line_fn fn,
                         void *ud)
{
    return mb_run_child_opts(path, args, preload, 0, fn, ud);
}

/* Starts path with args and exactly the environment envp (which the caller
 * keeps), feeds fn its stdout's lines, waits, the child kept in this
 * thread's slot for the handler.  As mb_run_child_opts. */
static int spawn_run(const char *path, char **args, char **envp, int quiet_stderr,
                     mb_line_fn fn, void *ud)
{
    mb_child c = { .path = path, .argv = args, .envp = envp, .quiet_stderr = quiet_stderr,
                   .on_line = fn, .ud = ud, .pid_out = &spawn_child_pid[spawn_slot] };
    return mb_child_run(&c);
}

int mb_run_child_opts(const char *path, char **args, const char *preload, int quiet_stderr,
                      mb_line_fn fn, void *ud)
{
    char **envp = spawn_environment(preload);
    if (!envp)
        return -1;
    int st = spawn_run(path, args, envp, quiet_stderr, fn, ud);
    spawn_free_environment(envp);
    return st;
}

int mb_run_child_env(const char *path, char **args, char **envp, mb_line_fn fn, void *ud)
{
    return spawn_run(path, args, envp, 0, fn, ud);
}
