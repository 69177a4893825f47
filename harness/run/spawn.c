/*
 * spawn.c — the one place the harness starts a child process: fork, exec,
 * the child's stdout read line by line, its exit status returned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_internal.h"

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
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execv(path, args);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\n")] = 0;
        fn(ud, line);
    }
    free(line);
    fclose(f);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
