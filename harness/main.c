/*
 * mapbench — benchmark and compare hash maps: time, memory by phase, results
 * in SQLite, plots and a regression gate.  This file is the command dispatch
 * and the usage texts; each subcommand lives in its own file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name, *usage;
} commands[] = {
    { "run",
      "usage: mapbench run [--suite quick|full] [selection] [--processes P] [--reps R]\n"
      "                    [--metric LIST] [--no-time] [--no-memory] [--db PATH]\n"
      "  Times every selected case in P fresh processes (interleaved), runs the memory\n"
      "  phase script in a fresh child per (map, n, blueprint, allocator), verifies every\n"
      "  phase's checksum, and writes the run into the database in one transaction.\n"
      "  --metric: any of time, memory, latency (every insert timed while growing to\n"
      "  min(largest n, 1e6)), churn (constant size, min(largest n, 1e5)), icount\n"
      "  (instructions of every phase under callgrind: slow, use a small --n).\n"
      "  Default: time,memory,latency,churn.\n"
      "selection (comma-separated lists; default: the suite's):\n"
      "  --impl NAMES  --phase insert,lookup_hit,lookup_miss,delete_all,clear,mixed_rw,\n"
      "                        lookup_half_hit,delete_half,iterate,reinsert,\n"
      "                        lookup_hit_dependent,lookup_hit_cold (by name only)\n"
      "  --hints none,right,small,big   capacity hints for insert/reinsert (quick: none,right)\n"
      "  --threads T,T mixed_rw thread counts (thread-safe maps only; default 1,2)\n"
      "  --n SIZES     --blueprint u64->u64,u64->64B,u64->ptr64,str16->u64,str48->u64\n"
      "  --dist uniform,sequential,shuffled,zipf  --seed S  --no-hint\n"
      "  --allocator glibc,jemalloc,mimalloc,tcmalloc  (memory phases; quick: glibc,jemalloc)\n"
      "  --db PATH     results database (default " MB_DEFAULT_DB ")\n" },
    { "list", "usage: mapbench list\n  Lists every registered map: name, family, traits.\n" },
    { "time",
      "usage: mapbench time [selection] [--reps R] [--benchmark_* flags]\n"
      "  Runs the timed cases in this process through Google Benchmark and prints its\n"
      "  report (--benchmark_format=json gives what tools/compare.py reads).\n" },
    { "mem-case",
      "usage: mapbench mem-case --impl NAME --n N [--blueprint B] [--dist D] [--seed S]\n"
      "                         [--allocator glibc|jemalloc|mimalloc|tcmalloc]\n"
      "       mapbench mem-case --calibrate\n"
      "  Runs the memory phase script once in this process and prints one tab-separated\n"
      "  sample per phase (map bytes, allocator bytes, RSS, faults, time).\n"
      "  --calibrate prints this process's bare RSS and the RSS growth measured for a\n"
      "  64 MiB touched mapping (the instrument's floor and its accuracy).\n" },
    { "go-mem-case",
      "usage: mapbench go-mem-case --n N [--dist uniform|sequential] [--seed S]\n"
      "                            [--blueprint u64->u64] [--print-keys K]\n"
      "  mem-case's phase script on the real Go runtime map (map[uint64]uint64 in\n"
      "  libmbgort.so, a Go c-shared library; blueprint u64->u64 only), each phase run\n"
      "  inside Go on the same key stream.  Prints mem-case's M lines, where the map's\n"
      "  bytes are Go's HeapInuse (the map cannot be told apart from the Go heap) and\n"
      "  trim is runtime.GC() + debug.FreeOSMemory(), and after each a G line of\n"
      "  runtime.MemStats.  --print-keys K prints the first K keys and values as Go and\n"
      "  as C generate them, side by side, and exits (1 if they differ).\n"
      "  MB_GORT_LIB=PATH loads another libmbgort.so.  Exit 1 when Go was not built.\n" },
    { "icount-case",
      "usage: mapbench icount-case --impl NAME --phase P --n N [--hint H] [--blueprint B]\n"
      "                            [--dist D] [--seed S]\n"
      "  One case's measured phase with callgrind collection toggled on around it;\n"
      "  `mapbench run --metric icount` runs it under valgrind.\n" },
    { "latency-case",
      "usage: mapbench latency-case --impl NAME --n N [--hint H] [--blueprint B] [--dist D]\n"
      "                             [--seed S]\n"
      "  Inserts N keys into an empty map (no hint unless --hint), timing every insert\n"
      "  with the timestamp counter; prints the percentiles (L line) and a log2\n"
      "  histogram (H lines) in ns, timer overhead subtracted.  Stop-the-world\n"
      "  rehashes show as single-insert outliers.\n" },
    { "churn-case",
      "usage: mapbench churn-case --impl NAME --n N [--rounds R] [--blueprint B] [--dist D]\n"
      "                           [--seed S]\n"
      "  Fills the map with N keys, then R*N steps (default R = 10) of insert-one-new,\n"
      "  remove-the-oldest at constant size; every N/4 steps prints ns per step and the\n"
      "  map's count, capacity, tombstones, probe lengths and live bytes (C lines).\n" },
    { "query",
      "usage: mapbench query \"SQL\" [--format table|csv|json] [--db PATH]\n"
      "  Runs SQL against the results database and prints the rows.\n" },
    { "runs", "usage: mapbench runs [--db PATH]\n  Lists the runs in the database, newest first.\n" },
    { "show",
      "usage: mapbench show RUN [--db PATH]\n"
      "  Prints a run's environment, its timed cases and its bytes per entry.\n" },
    { "merge",
      "usage: mapbench merge OTHER.db [--db PATH]\n"
      "  Copies the runs of OTHER.db that this database lacks (by run uuid), in one\n"
      "  transaction; merging twice adds nothing.\n" },
    { "export",
      "usage: mapbench export [--what samples|medians|memory] [--format csv|json]\n"
      "                       [--run RUN_ID] [--db PATH]\n"
      "  Writes complete runs' rows to standard output (default: every sample as CSV).\n" },
    { "gate",
      "usage: mapbench gate [--baseline RUN_ID|GIT-REF|OTHER.db] [--config FILE] [--force]\n"
      "                     [--trend K] [--db PATH]\n"
      "  Compares the latest complete run with a baseline (default: the complete run\n"
      "  before it), case by case: instructions per op (callgrind), map bytes per entry,\n"
      "  bytes retained after delete_all, and wall time (Mann-Whitney U over every\n"
      "  sample).  Thresholds: ci/gate.conf.  Refuses runs from another CPU, compiler,\n"
      "  flags or suite unless --force.  --trend K adds a step check over the last K\n"
      "  complete runs: a shift beyond the fail threshold that held for the last two\n"
      "  runs fails.  Every decision goes into gate_decision.\n"
      "  Exit 0 pass, 1 regression, 2 cannot judge.\n" },
    { "plot",
      "usage: mapbench plot [--run RUN_ID] [--db PATH] [--out DIR]\n"
      "  Renders every plots/*.gp script (one per question, each fed by a named SQL view)\n"
      "  as PNG and SVG into DIR (default results/plots).  --run draws an older complete\n"
      "  run as it was drawn when it was the latest (default: the latest).  Needs gnuplot.\n" },
    { "report",
      "usage: mapbench report [--run RUN_ID] [--db PATH] [--out FILE]\n"
      "  Renders the plots into the page's folder (plots/) and writes a static, offline\n"
      "  HTML page (default results/report.html): findings in plain language with the\n"
      "  query behind each, the claims and their verdicts, every plot, the key tables and\n"
      "  the run's environment.\n" },
};

void mb_print_usage(FILE *f, const char *cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (cmd && strcmp(cmd, commands[i].name) == 0) {
            fputs(commands[i].usage, f);
            return;
        }
    fputs("usage: mapbench COMMAND [options]      (mapbench COMMAND --help for more)\n"
          "commands:\n"
          "  run           time and measure the selected maps, store the run in SQLite\n"
          "  list          list the registered maps\n"
          "  time          run the timed cases through Google Benchmark, print its report\n"
          "  mem-case      run the memory phase script for one case, print the samples\n"
          "  go-mem-case   the memory phase script on the real Go runtime map\n"
          "  latency-case  time every insert while a map grows: percentiles, histogram\n"
          "  churn-case    insert+remove at constant size: tombstones, probes over time\n"
          "  query         run SQL against the results database\n"
          "  runs          list the runs in the database\n"
          "  show          one run: environment, cases, bytes per entry\n"
          "  merge         copy the runs of another results database into this one\n"
          "  export        write samples, medians or memory samples as CSV or JSON\n"
          "  gate          compare the latest run with a baseline; exit 1 on a regression\n"
          "  plot          render the plots (PNG and SVG) of a run\n"
          "  report        write the HTML report of a run: findings, claims, plots, tables\n",
          f);
}

_Noreturn void mb_usage_error(const char *cmd, const char *fmt, ...)
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

const char *mb_flag_value(int argc, char **argv, int *i, const char *flag, const char *cmd)
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

size_t mb_parse_count(const char *s, const char *flag, const char *cmd)
{
    char *end;
    double v = strtod(s, &end); /* accepts 1e6 */
    if (end == s || *end || v < 0 || v > 1e12 || v != (double)(size_t)v)
        mb_usage_error(cmd, "%s wants a whole number, got '%s'", flag, s);
    return (size_t)v;
}

int mb_cmd_list(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, "list");
            return 0;
        }
        mb_usage_error("list", "unknown argument '%s'", argv[i]);
    }
    printf("%-14s %-16s %s\n", "name", "family", "traits");
    for (const mb_map_ops *const *p = mb_registry; *p; p++)
        printf("%-14s %-16s %s%s\n", (*p)->name, (*p)->family, (*p)->traits,
               (*p)->flags & MB_F_THREAD_SAFE && !strstr((*p)->traits, "thread-safe") ? ",thread-safe" : "");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } table[] = {
        { "run", mb_cmd_run },     { "list", mb_cmd_list },   { "time", mb_cmd_time },
        { "mem-case", mb_cmd_mem_case }, { "query", mb_cmd_query }, { "runs", mb_cmd_runs },
        { "gate", mb_cmd_gate },   { "show", mb_cmd_show },   { "merge", mb_cmd_merge },
        { "export", mb_cmd_export }, { "icount-case", mb_cmd_icount_case },
        { "latency-case", mb_cmd_latency_case }, { "churn-case", mb_cmd_churn_case },
        { "go-mem-case", mb_cmd_go_mem_case },
        { "plot", mb_cmd_plot },   { "report", mb_cmd_report },
    };
    if (argc < 2)
        mb_usage_error(NULL, "missing command");
    if (mb_is_help(argv[1])) {
        mb_print_usage(stdout, NULL);
        return 0;
    }
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(argv[1], table[i].name) == 0)
            return table[i].fn(argc, argv);
    mb_usage_error(NULL, "unknown command '%s'", argv[1]);
}
