/*
 * mapbench — benchmark and compare hash maps: time, memory by phase, results
 * in SQLite, plots and a regression gate.
 *
 * This is the top room: the one command table, `mapbench --help` and the
 * dispatch.  Each command (its name, summary, usage and code) is defined in
 * the room that implements it; this file only lists them, in the order
 * `mapbench --help` shows them.  Nothing below calls up into this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "present.h"
#include "probe.h"
#include "run.h"
#include "store.h"

static int mb_cmd_list(int argc, char **argv);

static const mb_command mb_command_list = {
    "list",
    "list the registered maps",
    "usage: mapbench list [--allocators]\n  Lists every registered map: name, family, traits.\n"
    "  --allocators  lists the allocators instead: name, Debian package, installed, LD_PRELOAD path.\n",
    mb_cmd_list,
};

static const mb_command *const commands[] = {
    &mb_command_run,          &mb_command_plan,         &mb_command_list,         &mb_command_time,
    &mb_command_mem_case,     &mb_command_go_mem_case,  &mb_command_latency_case,
    &mb_command_churn_case,   &mb_command_query,        &mb_command_runs,
    &mb_command_show,         &mb_command_merge,        &mb_command_export,
    &mb_command_gate,         &mb_command_plot,         &mb_command_report,
    &mb_command_icount_case,  &mb_command_go_threads_case,
};

/* `mapbench --help`: every listed command with its summary. */
static void cli_print_commands(FILE *f)
{
    int width = 0; /* the longest name, so no name runs into its summary */
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (commands[i]->summary && (int)strlen(commands[i]->name) > width)
            width = (int)strlen(commands[i]->name);
    fputs("usage: mapbench COMMAND [options]      (mapbench COMMAND --help for more)\n"
          "commands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (commands[i]->summary)
            fprintf(f, "  %-*s  %s\n", width, commands[i]->name, commands[i]->summary);
}

/* A wrong command: the message and the command list, exit 2. */
static _Noreturn void cli_usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "mapbench: %s%s%s\n", msg, arg ? arg : "", arg ? "'" : "");
    cli_print_commands(stderr);
    exit(2);
}

static int mb_cmd_list(int argc, char **argv)
{
    int allocators = 0;
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_list);
        if (strcmp(argv[i], "--allocators") == 0) {
            allocators = 1;
            continue;
        }
        mb_usage_error(&mb_command_list, "unknown argument '%s'", argv[i]);
    }
    if (allocators) {
        const mb_allocator_info *a;
        printf("%-9s %-22s %-10s %s\n", "name", "package", "installed", "preload");
        for (size_t k = 0; (a = mb_allocator_at(k)); k++)
            printf("%-9s %-22s %-10s %s\n", a->name, a->package,
                   mb_allocator_available(a) ? "yes" : "no", a->preload ? a->preload : "-");
        return 0;
    }
    printf("%-14s %-16s %s\n", "name", "family", "traits");
    for (const mb_map_ops *const *p = mb_registry; *p; p++)
        printf("%-14s %-16s %s%s\n", (*p)->name, (*p)->family, (*p)->traits,
               (*p)->flags & MB_F_THREAD_SAFE && !strstr((*p)->traits, "thread-safe") ? ",thread-safe" : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        cli_usage_error("missing command", NULL);
    if (mb_is_help(argv[1])) {
        cli_print_commands(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->run(argc, argv);
    cli_usage_error("unknown command '", argv[1]);
}
