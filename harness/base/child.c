/*
 * child.c — fork, exec, the child's stdout read line by line, its exit
 * status returned: the one place a process is started (child.h).
 *
 * The child gets its own process group, so a terminal's ^C reaches only
 * mapbench, whose handler (run/spawn.c) decides what to kill; and
 * PR_SET_PDEATHSIG, so it never outlives mapbench.  SIGINT and SIGTERM are
 * blocked from before the fork until the pid is kept in c->pid_out, so a
 * handler never misses a child that exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

void mb_child_block_signals(int block)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

int mb_child_run(const mb_child *c)
{
    extern char **environ;
    char **envp = c->envp ? c->envp : environ;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    fflush(NULL);
    mb_child_block_signals(1);
    pid_t pid = fork();
    if (pid < 0) {
        mb_child_block_signals(0);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the parent died before the line above */
            _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        mb_child_block_signals(0);
        dup2(fds[1], STDOUT_FILENO); /* the copy is not close-on-exec */
        if (c->quiet_stderr) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0)
                dup2(devnull, STDERR_FILENO);
        }
        if (c->cwd && chdir(c->cwd) != 0)
            _exit(126);
        if (strchr(c->path, '/'))
            execve(c->path, c->argv, envp);
        else
            execvpe(c->path, c->argv, envp);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever of the two runs first */
    if (c->pid_out)
        *c->pid_out = pid;
    mb_child_block_signals(0);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        if (c->on_line)
            c->on_line(c->ud, line);
    }
    free(line);
    if (f)
        fclose(f);
    else
        close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (c->pid_out) {
        mb_child_block_signals(1);
        *c->pid_out = 0;
        mb_child_block_signals(0);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
