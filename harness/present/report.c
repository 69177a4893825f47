/*
 * report.c — `mapbench plot` and `mapbench report`: the pictures and the page.
 *
 * plot: runs gnuplot on every plots/NAME.gp (except common.gp) of the source tree
 * (MB_SOURCE_DIR, set by CMake), once for PNG and once for SVG, into an output
 * folder.  The scripts read the database themselves through the sqlite3 shell;
 * this command first opens the database, which installs the current views and
 * claims, so the scripts never see stale ones.
 *
 * Which run is drawn: every plot view carries run_id, and every script filters
 * on the gnuplot variable `run` (default: the latest complete run).  `--run ID`
 * passes run=ID, so an older run is drawn exactly as it was when it was the
 * latest.  (A TEMP view shadowing latest_run cannot work: gnuplot reads through
 * its own sqlite3 connection.)
 *
 * report: renders the plots into <folder of the page>/plots/ and writes one
 * static HTML page — inline CSS, no scripts, no external files, images by
 * relative path plots/NAME.png — with the run's environment, the plain-language
 * findings (each with the query that produced it), the claims and their
 * verdicts (results/claims.sql), every plot, and the key tables.  Every value
 * taken from the database is HTML-escaped.  The page is written to a temporary
 * file and renamed into place, so a failed report never leaves half a page.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"
#include "present.h"
#include "store.h"

#define MB_PLOTS_DEFAULT "results/plots"
#define MB_REPORT_DEFAULT "results/report.html"
#define RP_MAX_SCRIPTS 64

/* ---- paths ------------------------------------------------------------------ */

/* Creates dir and its parents (mode 0755).  Returns 0, or -1 with err filled. */
static int rp_mkdirs(const char *dir, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%.300s: %s", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%.300s: %s", buf, strerror(errno));
        return -1;
    }
    return 0;
}

/* Returns 1 when s holds a character that the plot scripts could not pass
 * through gnuplot's strings and the shell that runs sqlite3. */
static int rp_unsafe_path(const char *s)
{
    return strpbrk(s, "'\"$`\\\n") != NULL;
}

/* ---- runs ------------------------------------------------------------------- */

/* Returns the run to draw: want (when it is a complete run) or the latest
 * complete run (want < 0); -1 with err filled when there is none. */
static long long rp_pick_run(sqlite3 *db, long long want, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    long long id = -1;
    const char *sql = want >= 0 ? "SELECT run_id FROM complete_run WHERE run_id = ?1"
                                : "SELECT run_id FROM latest_run";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, want);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (id < 0 && want >= 0)
        snprintf(err, errlen, "no complete run %lld in the database (`mapbench runs` lists them)",
                 want);
    else if (id < 0)
        snprintf(err, errlen, "the database holds no complete run (run `mapbench run` first)");
    return id;
}

/* ---- plots ------------------------------------------------------------------ */

static int rp_is_script(const struct dirent *e)
{
    size_t len = strlen(e->d_name);
    return len > 3 && strcmp(e->d_name + len - 3, ".gp") == 0 &&
           strcmp(e->d_name, "common.gp") != 0;
}

/* Fills names with the plot names (script file names without .gp), sorted.
 * Returns how many, or -1 with err filled. */
static int rp_plot_names(char names[][64], int max, char *err, size_t errlen)
{
    struct dirent **list;
    int n = scandir(MB_SOURCE_DIR "/plots", &list, rp_is_script, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "%s/plots: %s (the plot scripts live in the source tree)",
                 MB_SOURCE_DIR, strerror(errno));
        return -1;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list[i]->d_name) - 3;
        if (k < max && len < 64) {
            memcpy(names[k], list[i]->d_name, len);
            names[k++][len] = '\0';
        }
        free(list[i]);
    }
    free(list);
    return k;
}

/* One colour per map, by its place in the registry (the first thirteen are
 * the colours the plots always had), then the real Go map's.  A map added to
 * the registry gets the next colour; past the palette's end they repeat. */
static const char *const rp_palette[] = {
    "#1f77b4", "#aec7e8", "#d62728", "#2ca02c", "#98df8a", "#9467bd", "#c5b0d5", "#8c564b",
    "#17becf", "#7f7f7f", "#bcbd22", "#e377c2", "#ff7f0e", "#ffbb78", "#ff9896", "#f7b6d2",
    "#c49c94", "#dbdb8d", "#9edae5", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
};
#define RP_GO_COLOR "#0b6e79"

/* Returns "name colour name colour ..." for every registered map and the real
 * Go map (malloc'd): gnuplot's map_colors, which common.gp's color(m) reads. */
static char *rp_map_colors(void)
{
    size_t n = sizeof rp_palette / sizeof *rp_palette, len = strlen(MB_GO_IMPL) + 10;
    for (const mb_map_ops *const *p = mb_registry; *p; p++)
        len += strlen((*p)->name) + 10;
    char *s = malloc(len), *w = s;
    if (!s)
        return NULL;
    size_t i = 0;
    for (const mb_map_ops *const *p = mb_registry; *p; p++, i++)
        w += sprintf(w, "%s %s ", (*p)->name, rp_palette[i % n]);
    sprintf(w, "%s %s", MB_GO_IMPL, RP_GO_COLOR);
    return s;
}

/* Runs one script for one terminal.  Returns 0, or -1 with err filled. */
static int rp_gnuplot(const char *name, const char *term, const char *db_abs, const char *out_abs,
                      long long run, char *err, size_t errlen)
{
    char script[PATH_MAX];
    snprintf(script, sizeof script, "plots/%s.gp", name);
    char *colors = rp_map_colors();
    char *expr = colors ? sqlite3_mprintf("db='%s'; out='%s/%s.%s'; term='%s'; run=%lld;"
                                          " map_colors='%s'", db_abs, out_abs, name, term, term,
                                          run, colors)
                        : NULL;
    free(colors);
    if (!expr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        sqlite3_free(expr);
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (chdir(MB_SOURCE_DIR) != 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
        _exit(127);
    }
    sqlite3_free(expr);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(err, errlen, "cannot run gnuplot (install Debian's gnuplot-nox)");
    else
        snprintf(err, errlen, "gnuplot failed on plots/%s.gp (%s); its message is above", name,
                 term);
    return -1;
}

/* Renders every plot of run into out_dir as PNG and SVG.  Returns the number
 * of plots, or -1 with err filled. */
static int rp_render_plots(const char *db_path, const char *out_dir, long long run, char *err,
                           size_t errlen)
{
    char db_abs[PATH_MAX], out_abs[PATH_MAX], names[RP_MAX_SCRIPTS][64];
    if (!realpath(db_path, db_abs)) {
        snprintf(err, errlen, "%s: %s", db_path, strerror(errno));
        return -1;
    }
    if (rp_mkdirs(out_dir, err, errlen) != 0)
        return -1;
    if (!realpath(out_dir, out_abs)) {
        snprintf(err, errlen, "%s: %s", out_dir, strerror(errno));
        return -1;
    }
    if (rp_unsafe_path(db_abs) || rp_unsafe_path(out_abs)) {
        snprintf(err, errlen, "paths for plots may not contain quotes, $, ` or \\ "
                 "(gnuplot hands them to the shell): %.200s, %.200s", db_abs, out_abs);
        return -1;
    }
    int n = rp_plot_names(names, RP_MAX_SCRIPTS, err, errlen);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (rp_gnuplot(names[i], "png", db_abs, out_abs, run, err, errlen) != 0 ||
            rp_gnuplot(names[i], "svg", db_abs, out_abs, run, err, errlen) != 0)
            return -1;
    return n;
}

/* Opens the database (installing the current views and claims) and picks the
 * run.  Prints the error and returns NULL on failure. */
static sqlite3 *rp_open(const char *db_path, long long want, long long *run)
{
    char err[MB_ERR_LEN];
    sqlite3 *db = mb_db_open(db_path, 0, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return NULL;
    }
    *run = rp_pick_run(db, want, err, sizeof err);
    if (*run < 0) {
        fprintf(stderr, "mapbench: %s: %s\n", db_path, err);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* plot's and report's arguments: --db, --out, --run (and --help, exit 0). */
static void rp_args(int argc, char **argv, const mb_command *cmd, const char **db_path,
                    const char **out, long long *want)
{
    const char *v;
    for (int i = 2; i < argc; i++) {
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, cmd);
            exit(0);
        }
        if ((v = mb_flag_value(argc, argv, &i, "--db", cmd)))
            *db_path = v;
        else if ((v = mb_flag_value(argc, argv, &i, "--out", cmd)))
            *out = v;
        else if ((v = mb_flag_value(argc, argv, &i, "--run", cmd)))
            *want = (long long)mb_parse_count(v, "--run", cmd);
        else
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
    }
}

static int mb_cmd_plot(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *out_dir = MB_PLOTS_DEFAULT;
    long long want = -1, run;
    char err[MB_ERR_LEN];
    rp_args(argc, argv, &mb_command_plot, &db_path, &out_dir, &want);
    sqlite3 *db = rp_open(db_path, want, &run);
    if (!db)
        return 1;
    sqlite3_close(db);
    int n = rp_render_plots(db_path, out_dir, run, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "mapbench plot: %s\n", err);
        return 1;
    }
    printf("plots: rendered %d plots of run %lld (PNG and SVG) into %s/\n", n, run, out_dir);
    return 0;
}

/* ---- HTML --------------------------------------------------------------------- */

static void rp_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Prepares sql and binds :run.  Returns the statement, or NULL with err filled. */
static sqlite3_stmt *rp_prepare(sqlite3 *db, const char *sql, long long run, char *err,
                                size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s\n  in: %.200s", sqlite3_errmsg(db), sql);
        return NULL;
    }
    int k = sqlite3_bind_parameter_index(st, ":run");
    if (k > 0)
        sqlite3_bind_int64(st, k, run);
    return st;
}

/* The query as a reader can rerun it in the sqlite3 shell. */
static void rp_sql_details(FILE *f, const char *summary, const char *sql, long long run)
{
    fprintf(f, "<details><summary>%s</summary><pre>", summary);
    if (strstr(sql, ":run"))
        fprintf(f, "-- in the sqlite3 shell: .parameter set :run %lld\n", run);
    rp_esc(f, sql);
    fputs("</pre></details>\n", f);
}

/* Writes the rows of sql as an HTML table (numbers right-aligned, NULL as
 * "—", i.e. not measured).  Returns the number of rows, or -1 with err filled. */
static int rp_table(FILE *f, sqlite3 *db, const char *sql, long long run, const char *cls,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st = rp_prepare(db, sql, run, err, errlen);
    if (!st)
        return -1;
    int nc = sqlite3_column_count(st), rows = 0, rc;
    fprintf(f, "<table%s%s%s><thead><tr>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    for (int c = 0; c < nc; c++) {
        fputs("<th>", f);
        rp_esc(f, sqlite3_column_name(st, c));
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputs("<tr>", f);
        for (int c = 0; c < nc; c++) {
            int t = sqlite3_column_type(st, c);
            const char *name = sqlite3_column_name(st, c);
            if (t == SQLITE_NULL) {
                fputs("<td class=\"na\" title=\"not measured\">—</td>", f);
            } else if (t == SQLITE_INTEGER) {
                fprintf(f, "<td class=\"num\">%lld</td>", (long long)sqlite3_column_int64(st, c));
            } else if (t == SQLITE_FLOAT) {
                fprintf(f, "<td class=\"num\">%.6g</td>", sqlite3_column_double(st, c));
            } else if (strcmp(name, "verdict") == 0) {
                const char *v = (const char *)sqlite3_column_text(st, c);
                fprintf(f, "<td><span class=\"verdict %s\">",
                        strcmp(v, "holds") == 0 ? "holds"
                        : strcmp(v, "does not hold") == 0 ? "fails" : "unmeasured");
                rp_esc(f, v);
                fputs("</span></td>", f);
            } else {
                fputs("<td>", f);
                rp_esc(f, (const char *)sqlite3_column_text(st, c));
                fputs("</td>", f);
            }
        }
        fputs("</tr>\n", f);
        rows++;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s\n  in: %.200s", sqlite3_errmsg(db), sql);
        sqlite3_finalize(st);
        return -1;
    }
    if (rows == 0)
        fprintf(f, "<tr><td colspan=\"%d\" class=\"na\">no rows: not measured in this run</td></tr>\n",
                nc);
    fputs("</tbody></table>\n", f);
    sqlite3_finalize(st);
    return rows;
}

/* ---- findings ------------------------------------------------------------------- */

/* Each finding is one query that returns one text column, `finding`: the
 * sentence itself, built from the data; NULL (or no row) when the run lacks
 * what it needs, and then `missing` is shown instead.  The page shows each
 * query next to its sentence.  :run is the run being reported. */
typedef struct rp_finding {
    const char *title, *missing, *sql;
} rp_finding;

/* The reference case of every finding: u64->u64, uniform keys, glibc, at the
 * run's largest n. */
#define RP_REF "blueprint = 'u64->u64' AND distribution = 'uniform' AND allocator = 'glibc'"
#define RP_LARGEST_MEM "(SELECT max(n) FROM retained WHERE run_id = :run AND " RP_REF ")"

static const rp_finding rp_findings[] = {
    { "Who holds the memory after every key is deleted?",
      "no memory measurements in this run",
      "WITH d AS (\n"
      "  SELECT impl, n, map_retained_fraction AS map_kept, rss_retained_fraction AS rss_kept\n"
      "  FROM retained\n"
      "  WHERE run_id = :run AND phase = 'delete_all' AND " RP_REF "\n"
      "    AND n = " RP_LARGEST_MEM "\n"
      "), c AS (\n"
      "  SELECT impl, n, CASE WHEN map_kept >= 0.5 THEN 1 WHEN rss_kept >= 0.5 THEN 2 ELSE 3 END AS who\n"
      "  FROM d ORDER BY impl\n"
      "), g AS (\n"
      "  SELECT who, group_concat(impl, ', ') AS maps FROM c GROUP BY who ORDER BY who\n"
      ")\n"
      "SELECT printf('After deleting every key (n = %d), most of the memory is held by ', (SELECT max(n) FROM c))\n"
      "       || group_concat(CASE who WHEN 1 THEN 'the map itself for ' || maps\n"
      "                            WHEN 2 THEN 'the allocator (freed by the map, not returned to the OS) for ' || maps\n"
      "                            ELSE 'nobody: it went back to the OS, for ' || maps END, '; ') || '.'\n"
      "       AS finding\n"
      "FROM g" },
    { "How much of its bytes does each map keep after deleting every key?",
      "no memory measurements in this run",
      "WITH d AS (\n"
      "  SELECT impl, n, printf('%.0f%%', 100.0 * map_retained_fraction) AS pct,\n"
      "         map_retained_fraction AS f\n"
      "  FROM retained\n"
      "  WHERE run_id = :run AND phase = 'delete_all' AND " RP_REF "\n"
      "    AND n = " RP_LARGEST_MEM "\n"
      "  ORDER BY impl\n"
      "), g AS (\n"
      "  SELECT pct, group_concat(impl, ', ') AS maps, count(*) AS k, max(f) AS f FROM d\n"
      "  GROUP BY pct ORDER BY f DESC\n"
      ")\n"
      "SELECT printf('After deleting every key (n = %d), ', (SELECT max(n) FROM d))\n"
      "       || group_concat(maps || CASE WHEN k > 1 THEN ' still hold ' ELSE ' still holds ' END\n"
      "                       || pct, '; ')\n"
      "       || ' of the bytes held right after the inserts (the map''s own bytes).' AS finding\n"
      "FROM g" },
    { "Does malloc_trim give it back?",
      "no memory measurements in this run",
      "SELECT printf('Process RSS growth still held after deleting every key, and after malloc_trim(0) '\n"
      "              || 'on top (n = %d): ', max(d.n))\n"
      "       || group_concat(printf('%s %.0f%% -> %.0f%%', d.impl, 100.0 * d.rss_retained_fraction,\n"
      "                              100.0 * t.rss_retained_fraction), '; ') || '.' AS finding\n"
      "FROM (SELECT * FROM retained WHERE run_id = :run AND phase = 'delete_all' AND " RP_REF "\n"
      "      AND n = " RP_LARGEST_MEM " ORDER BY impl) d\n"
      "JOIN retained t ON t.run_id = d.run_id AND t.impl = d.impl AND t.n = d.n\n"
      " AND t.blueprint = d.blueprint AND t.distribution = d.distribution\n"
      " AND t.allocator = d.allocator AND t.phase = 'trim'" },
    { "What does clear keep?",
      "no memory measurements in this run",
      "WITH d AS (\n"
      "  SELECT impl, n, printf('%.0f%%', 100.0 * map_retained_fraction) AS pct,\n"
      "         map_retained_fraction AS f\n"
      "  FROM retained\n"
      "  WHERE run_id = :run AND phase = 'clear' AND " RP_REF "\n"
      "    AND n = " RP_LARGEST_MEM "\n"
      "  ORDER BY impl\n"
      "), g AS (\n"
      "  SELECT pct, group_concat(impl, ', ') AS maps, count(*) AS k, max(f) AS f FROM d\n"
      "  GROUP BY pct ORDER BY f DESC\n"
      ")\n"
      "SELECT printf('After clear (n = %d), ', (SELECT max(n) FROM d))\n"
      "       || group_concat(maps || CASE WHEN k > 1 THEN ' hold ' ELSE ' holds ' END || pct, '; ')\n"
      "       || ' of the bytes held after inserting n keys.' AS finding\n"
      "FROM g" },
    { "Is everything back after destroy?",
      "no memory measurements in this run",
      "WITH d AS (\n"
      "  SELECT m.impl, m.n, m.map_live_bytes, m.rss_bytes - s.rss_bytes AS rss_above_start\n"
      "  FROM memory_by_phase m\n"
      "  JOIN memory_by_phase s ON s.mem_case_id = m.mem_case_id AND s.phase = 'start'\n"
      "  WHERE m.run_id = :run AND m.phase = 'trim_after_destroy' AND m.blueprint = 'u64->u64'\n"
      "    AND m.distribution = 'uniform' AND m.allocator = 'glibc'\n"
      "    AND m.n = " RP_LARGEST_MEM "\n"
      ")\n"
      "SELECT CASE WHEN max(map_live_bytes) = 0 THEN 'After destroy every map holds 0 bytes'\n"
      "            ELSE 'After destroy some maps still hold bytes: '\n"
      "                 || (SELECT group_concat(printf('%s %d B', impl, map_live_bytes), ', ')\n"
      "                     FROM d WHERE map_live_bytes > 0) END\n"
      "       || printf('; after malloc_trim(0) the process is within %.1f MiB of its starting RSS '\n"
      "                 || '(n = %d; largest remainder: %s).', max(rss_above_start) / 1048576.0, max(n),\n"
      "                 (SELECT impl FROM d ORDER BY rss_above_start DESC LIMIT 1)) AS finding\n"
      "FROM d HAVING count(*) > 0" },
    { "Which map is fastest, phase by phase?",
      "no timings in this run",
      "WITH t AS (\n"
      "  SELECT phase, phase_order, impl, n, median_ns_per_op AS ns FROM plot_ns_per_op\n"
      "  WHERE run_id = :run AND n = (SELECT max(n) FROM plot_ns_per_op WHERE run_id = :run)\n"
      "), best AS (\n"
      "  SELECT phase, phase_order, n,\n"
      "         (SELECT impl FROM t b WHERE b.phase = t.phase ORDER BY ns LIMIT 1) AS fastest,\n"
      "         min(ns) AS fast_ns,\n"
      "         (SELECT impl FROM t b WHERE b.phase = t.phase ORDER BY ns DESC LIMIT 1) AS slowest,\n"
      "         max(ns) AS slow_ns, count(*) AS maps\n"
      "  FROM t GROUP BY phase ORDER BY phase_order\n"
      ")\n"
      "SELECT printf('At n = %d (median ns per operation): ', max(n))\n"
      "       || group_concat(printf('%s — fastest %s at %.3g ns, slowest %s at %.3g ns (%.3gx)',\n"
      "                              phase, fastest, fast_ns, slowest, slow_ns, slow_ns / fast_ns), '; ')\n"
      "       || '.' AS finding\n"
      "FROM best HAVING count(*) > 0" },
    { "How many bytes per entry?",
      "no memory measurements in this run",
      "WITH b AS (\n"
      "  SELECT impl, n, map_bytes_per_entry AS bpe FROM plot_bytes_per_entry\n"
      "  WHERE run_id = :run AND n = (SELECT max(n) FROM plot_bytes_per_entry WHERE run_id = :run)\n"
      "  ORDER BY bpe\n"
      ")\n"
      "SELECT printf('Right after inserting %d keys of 16 bytes (key + value), the maps hold '\n"
      "              || 'these bytes per entry, smallest first: ', max(n))\n"
      "       || group_concat(printf('%s %.1f', impl, bpe), '; ')\n"
      "       || printf(' — %.1fx the payload at best, %.1fx at worst.', min(bpe) / 16, max(bpe) / 16)\n"
      "       AS finding\n"
      "FROM b HAVING count(*) > 0" },
    { "Do threads help?",
      "no thread-safe map was measured in this run (phase mixed_rw)",
      "WITH t AS (\n"
      "  SELECT impl, n, threads, mops_per_s FROM plot_thread_scaling WHERE run_id = :run\n"
      "), top AS (\n"
      "  SELECT t.impl, t.n, t.threads, t.mops_per_s, o.mops_per_s AS one_thread\n"
      "  FROM t LEFT JOIN t o ON o.impl = t.impl AND o.threads = 1\n"
      "  WHERE t.threads = (SELECT max(threads) FROM t) ORDER BY t.mops_per_s DESC\n"
      ")\n"
      "SELECT printf('Mixed read/write at %d threads (n = %d), throughput and speed-up over one thread: ',\n"
      "              max(threads), max(n))\n"
      "       || group_concat(printf('%s %.1f Mops/s (%s)', impl, mops_per_s,\n"
      "                              coalesce(printf('%.2fx', mops_per_s / one_thread), 'no 1-thread run')),\n"
      "                       '; ') || '.' AS finding\n"
      "FROM top HAVING count(*) > 0" },
    { "How noisy are the timings?",
      "no timings in this run",
      "WITH s AS (\n"
      "  SELECT impl, phase, n, hint, threads, max_ns_per_op / min_ns_per_op AS spread, samples,\n"
      "         row_number() OVER (ORDER BY max_ns_per_op / min_ns_per_op) AS k,\n"
      "         count(*) OVER () AS cases\n"
      "  FROM case_medians WHERE run_id = :run AND samples > 1\n"
      ")\n"
      "SELECT printf('Across %d timed cases, the slowest repetition of the typical case is %.0f%% '\n"
      "              || 'slower than its fastest (median of max/min); the widest spread is %s %s at n = %d '\n"
      "              || '(%.1fx). Wall time alone cannot gate a change smaller than that; instruction '\n"
      "              || 'counts can.', max(cases),\n"
      "              100.0 * ((SELECT spread FROM s WHERE k = (cases + 1) / 2) - 1),\n"
      "              (SELECT impl FROM s ORDER BY spread DESC LIMIT 1),\n"
      "              (SELECT phase FROM s ORDER BY spread DESC LIMIT 1),\n"
      "              (SELECT n FROM s ORDER BY spread DESC LIMIT 1), max(spread)) AS finding\n"
      "FROM s HAVING count(*) > 0" },
    { "Has anything moved since the first run?",
      "no trended measurement in this run",
      "WITH sel AS (SELECT run_seq FROM run_sequence WHERE run_id = :run),\n"
      "p AS (\n"
      "  SELECT t.* FROM plot_trend t, sel WHERE t.run_id = :run\n"
      "), out AS (\n"
      "  SELECT * FROM p WHERE abs(ratio_to_baseline - 1) > threshold ORDER BY metric, impl, n\n"
      ")\n"
      "SELECT CASE WHEN (SELECT run_seq FROM sel) = 1\n"
      "            THEN printf('This is the first complete run in the database: it is the baseline '\n"
      "                        || 'of every trend (%d cases).', count(*))\n"
      "            WHEN (SELECT count(*) FROM out) = 0\n"
      "            THEN printf('All %d trended cases are inside the gate''s band around their '\n"
      "                        || 'first run.', count(*))\n"
      "            ELSE printf('%d of %d trended cases are outside the gate''s band around their first '\n"
      "                        || 'run: ', (SELECT count(*) FROM out), count(*))\n"
      "                 || (SELECT group_concat(printf('%s %s n=%d %+.1f%% (band %.0f%%)', impl, metric,\n"
      "                                                n, 100.0 * (ratio_to_baseline - 1),\n"
      "                                                100.0 * threshold), '; ') FROM out) || '.'\n"
      "       END AS finding\n"
      "FROM p HAVING count(*) > 0" },
};

/* Writes one finding.  Returns 0, or -1 with err filled. */
static int rp_finding_write(FILE *f, sqlite3 *db, const rp_finding *fd, long long run, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = rp_prepare(db, fd->sql, run, err, errlen);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    const char *text = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s\n  in finding: %s", sqlite3_errmsg(db), fd->title);
        sqlite3_finalize(st);
        return -1;
    }
    fputs("<div class=\"finding\"><h3>", f);
    rp_esc(f, fd->title);
    fputs("</h3>\n<p>", f);
    if (text) {
        rp_esc(f, text);
    } else {
        fputs("<span class=\"na\">Not measured: ", f);
        rp_esc(f, fd->missing);
        fputs(".</span>", f);
    }
    fputs("</p>\n", f);
    sqlite3_finalize(st);
    rp_sql_details(f, "the query behind this sentence", fd->sql, run);
    fputs("</div>\n", f);
    return 0;
}

/* ---- plots on the page ------------------------------------------------------------ */

/* Writes the leading comment block of plots/NAME.gp (what the plot shows) as
 * escaped text. */
static void rp_plot_caption(FILE *f, const char *name)
{
    char path[PATH_MAX + 80], line[512];
    snprintf(path, sizeof path, "%s/plots/%s.gp", MB_SOURCE_DIR, name);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    while (fgets(line, sizeof line, in) && line[0] == '#') {
        char *s = line + 1;
        while (*s == ' ')
            s++;
        s[strcspn(s, "\n")] = '\0';
        rp_esc(f, s);
        fputc(' ', f);
    }
    fclose(in);
}

/* ---- the page --------------------------------------------------------------------- */

static const char rp_css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0;"
    "background:#fafafa}\n"
    "main{max-width:1200px;margin:0 auto;padding:1em 2em 4em;background:#fff}\n"
    "h1{font-size:1.7em;margin:.6em 0 .1em}h2{border-bottom:2px solid #ddd;padding-top:1em}\n"
    "h3{font-size:1.02em;margin:.2em 0}\n"
    "nav a{margin-right:1.2em}.sub{color:#666}\n"
    "table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}\n"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}\n"
    "th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".na{color:#888}\n"
    ".verdict{padding:.1em .5em;border-radius:.8em;white-space:nowrap;font-weight:600}\n"
    ".verdict.holds{background:#d8f0d8;color:#185c18}.verdict.fails{background:#f7dada;color:#8a1c1c}\n"
    ".verdict.unmeasured{background:#eee;color:#555}\n"
    ".finding{border-left:4px solid #4a7fb5;padding:.2em .9em;margin:1em 0;background:#f6f9fc}\n"
    ".finding p{margin:.2em 0 .3em}\n"
    "details summary{cursor:pointer;color:#4a7fb5;font-size:.88em}\n"
    "pre{background:#f4f4f4;padding:.6em;overflow-x:auto;font-size:.85em}\n"
    "figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #ddd}\n"
    "figcaption{color:#444;font-size:.92em}\n";

/* Key tables: (title, query).  :run is the reported run. */
static const struct {
    const char *id, *title, *sql;
} rp_tables[] = {
    { "maps", "Maps measured in this run",
      "SELECT impl, family, traits FROM bench WHERE run_id = :run\n"
      "UNION SELECT impl, family, traits FROM mem_case WHERE run_id = :run\n"
      "ORDER BY impl" },
    { "speed", "Speed at the largest n: median ns per operation (u64->u64, uniform keys, no hint)",
      "SELECT impl, n,\n"
      "       round(max(CASE phase WHEN 'insert' THEN median_ns_per_op END), 1) AS insert_ns,\n"
      "       round(max(CASE phase WHEN 'lookup_hit' THEN median_ns_per_op END), 1) AS lookup_hit_ns,\n"
      "       round(max(CASE phase WHEN 'lookup_miss' THEN median_ns_per_op END), 1) AS lookup_miss_ns,\n"
      "       round(max(CASE phase WHEN 'delete_all' THEN median_ns_per_op END), 1) AS delete_all_ns,\n"
      "       round(max(CASE phase WHEN 'clear' THEN median_ns_per_op END), 2) AS clear_ns\n"
      "FROM plot_ns_per_op\n"
      "WHERE run_id = :run AND n = (SELECT max(n) FROM plot_ns_per_op WHERE run_id = :run)\n"
      "GROUP BY impl ORDER BY lookup_hit_ns" },
    { "hint", "Insert with and without a capacity hint (median ns per operation)",
      "SELECT a.impl, a.n, round(a.median_ns_per_op, 1) AS no_hint_ns,\n"
      "       round(b.median_ns_per_op, 1) AS hint_n_ns,\n"
      "       round(100.0 * (b.median_ns_per_op / a.median_ns_per_op - 1), 0) AS change_pct\n"
      "FROM case_medians a\n"
      "JOIN case_medians b ON b.run_id = a.run_id AND b.impl = a.impl AND b.n = a.n\n"
      " AND b.blueprint = a.blueprint AND b.distribution = a.distribution\n"
      " AND b.allocator = a.allocator AND b.threads = a.threads AND b.phase = 'insert' AND b.hint = b.n\n"
      "WHERE a.run_id = :run AND a.phase = 'insert' AND a.hint = 0 AND a.threads = 1\n"
      "  AND a.blueprint = 'u64->u64' AND a.distribution = 'uniform' AND a.allocator = 'glibc'\n"
      "ORDER BY a.n DESC, a.impl" },
    { "memory", "Memory at the largest n: bytes per entry, and what is kept after delete and clear",
      "SELECT b.impl, b.n,\n"
      "       round(b.map_bytes_per_entry, 1) AS map_bytes_per_entry,\n"
      "       round(b.rss_bytes_per_entry, 1) AS rss_bytes_per_entry,\n"
      "       round(100 * d.map_retained_fraction, 1) AS map_kept_after_delete_all_pct,\n"
      "       round(100 * d.rss_retained_fraction, 1) AS rss_kept_after_delete_all_pct,\n"
      "       round(100 * t.rss_retained_fraction, 1) AS rss_kept_after_trim_pct,\n"
      "       round(100 * c.map_retained_fraction, 1) AS map_kept_after_clear_pct\n"
      "FROM bytes_per_entry b\n"
      "LEFT JOIN retained d USING (run_id, impl, blueprint, distribution, n, allocator)\n"
      "LEFT JOIN retained t USING (run_id, impl, blueprint, distribution, n, allocator)\n"
      "LEFT JOIN retained c USING (run_id, impl, blueprint, distribution, n, allocator)\n"
      "WHERE b.run_id = :run AND d.phase = 'delete_all' AND t.phase = 'trim' AND c.phase = 'clear'\n"
      "  AND b.blueprint = 'u64->u64' AND b.distribution = 'uniform' AND b.allocator = 'glibc'\n"
      "  AND b.n = (SELECT max(n) FROM bytes_per_entry WHERE run_id = :run)\n"
      "ORDER BY b.map_bytes_per_entry" },
    { "threads", "Thread scaling (mixed read/write)",
      "SELECT impl, n, threads, round(median_ns_per_op, 1) AS median_ns_per_op,\n"
      "       round(mops_per_s, 2) AS mops_per_s\n"
      "FROM plot_thread_scaling WHERE run_id = :run ORDER BY impl, threads" },
    { "latency", "Single-insert latency while growing from empty (ns, TSC)",
      "SELECT impl, n, p50_ns, p90_ns, p99_ns, p999_ns, round(max_ns / 1000.0, 1) AS max_us,\n"
      "       mean_ns, grow_events\n"
      "FROM insert_latency WHERE run_id = :run ORDER BY max_ns" },
    { "churn", "Constant-size churn (10 N insert-one/remove-one steps): tombstones and cost",
      "SELECT impl, n, max(tombstones) AS max_tombstones, max(capacity) AS max_capacity,\n"
      "       round(avg(ns_per_op), 1) AS mean_ns_per_step, round(max(ns_per_op), 1) AS worst_chunk_ns\n"
      "FROM churn_sample WHERE run_id = :run GROUP BY impl, n ORDER BY mean_ns_per_step" },
    { "calibration", "The instrument: a bare memory child's RSS, and a 64 MiB touched mapping as measured",
      "SELECT round(rss_floor_bytes / 1048576.0, 2) AS rss_floor_mib,\n"
      "       round(calib_64mib_rss_bytes / 1048576.0, 2) AS measured_mib_for_64_mib,\n"
      "       round(100.0 * (calib_64mib_rss_bytes / 67108864.0 - 1), 2) AS error_pct\n"
      "FROM run WHERE run_id = :run" },
};

static const char rp_env_sql[] =
    "SELECT key AS field, value FROM run, json_each(json_object(\n"
    "  'run_id', run_id, 'run_uuid', run_uuid, 'suite', suite, 'started_at', started_at,\n"
    "  'finished_at', finished_at, 'seed', seed, 'git_sha', git_sha, 'git_dirty', git_dirty,\n"
    "  'compiler', compiler, 'cflags', cflags, 'build_type', build_type,\n"
    "  'benchmark_version', benchmark_version, 'cpu_model', cpu_model, 'cores', cores,\n"
    "  'kernel', kernel, 'hostname', hostname, 'l1d_bytes', l1d_bytes, 'l2_bytes', l2_bytes,\n"
    "  'l3_bytes', l3_bytes, 'timing_processes', processes, 'argv', argv,\n"
    "  'allocators', (SELECT group_concat(DISTINCT allocator) FROM mem_case c WHERE c.run_id = run.run_id)))\n"
    "WHERE run_id = :run";

static const char rp_claims_sql[] =
    "SELECT claim, verdict, evidence FROM claim_verdicts_by_run WHERE run_id = :run\n"
    "ORDER BY claim_order";

/* One text value of a query about the run (escaped into f), or "?". */
static void rp_value(FILE *f, sqlite3 *db, const char *sql, long long run)
{
    char err[MB_ERR_LEN];
    sqlite3_stmt *st = rp_prepare(db, sql, run, err, sizeof err);
    const char *v = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        v = (const char *)sqlite3_column_text(st, 0);
    rp_esc(f, v ? v : "?");
    sqlite3_finalize(st);
}

static int rp_write_page(FILE *f, sqlite3 *db, long long run, char names[][64], int n_plots,
                         const char *db_path, char *err, size_t errlen)
{
    char now[40];
    mb_now_iso(now, sizeof now);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n", f);
    fprintf(f, "<title>mapbench report — run %lld</title>\n<style>\n%s</style>\n</head>\n<body><main>\n",
            run, rp_css);
    fprintf(f, "<h1>mapbench report — run %lld</h1>\n<p class=\"sub\">", run);
    rp_value(f, db, "SELECT suite || ' suite, finished ' || finished_at || ', git ' ||"
                    " coalesce(substr(git_sha, 1, 12), '?') ||"
                    " CASE git_dirty WHEN 1 THEN ' (dirty)' ELSE '' END || ', ' ||"
                    " coalesce(cpu_model, '?') FROM run WHERE run_id = :run", run);
    fputs(". Database: <code>", f);
    rp_esc(f, db_path);
    fprintf(f, "</code>. Generated %s by <code>mapbench report --run %lld</code>.</p>\n", now, run);
    fputs("<nav><a href=\"#findings\">Findings</a><a href=\"#claims\">Claims</a>"
          "<a href=\"#plots\">Plots</a><a href=\"#tables\">Tables</a>"
          "<a href=\"#environment\">Environment</a></nav>\n", f);

    fputs("<h2 id=\"findings\">Findings</h2>\n<p class=\"sub\">Each sentence is computed from the "
          "database by the query under it. Unless it says otherwise: u64&rarr;u64 entries, uniform "
          "keys, glibc malloc, the run's largest n.</p>\n", f);
    for (size_t i = 0; i < sizeof rp_findings / sizeof *rp_findings; i++)
        if (rp_finding_write(f, db, &rp_findings[i], run, err, errlen) != 0)
            return -1;

    fputs("<h2 id=\"claims\">Claims</h2>\n<p class=\"sub\">Things people say about hash maps, "
          "checked against this run. Each check is a query in <code>results/claims.sql</code> "
          "(view <code>claim_verdicts</code>); <em>not measured</em> means the run has no rows "
          "that can decide it.</p>\n", f);
    if (rp_table(f, db, rp_claims_sql, run, "claims", err, errlen) < 0)
        return -1;
    rp_sql_details(f, "query", rp_claims_sql, run);

    fputs("<h2 id=\"plots\">Plots</h2>\n<p class=\"sub\">Each plot is a gnuplot script in "
          "<code>plots/</code> fed by a named SQL view; <code>mapbench plot --run ID</code> "
          "redraws them. Click a plot for its SVG.</p>\n", f);
    for (int i = 0; i < n_plots; i++) {
        fprintf(f, "<figure id=\"plot-%s\"><a href=\"plots/%s.svg\"><img src=\"plots/%s.png\" "
                "alt=\"plot %s\" loading=\"lazy\"></a>\n<figcaption><b>%s</b> — ",
                names[i], names[i], names[i], names[i], names[i]);
        rp_plot_caption(f, names[i]);
        fputs("</figcaption></figure>\n", f);
    }

    fputs("<h2 id=\"tables\">Tables</h2>\n", f);
    for (size_t i = 0; i < sizeof rp_tables / sizeof *rp_tables; i++) {
        fprintf(f, "<h3 id=\"table-%s\">", rp_tables[i].id);
        rp_esc(f, rp_tables[i].title);
        fputs("</h3>\n", f);
        if (rp_table(f, db, rp_tables[i].sql, run, NULL, err, errlen) < 0)
            return -1;
        rp_sql_details(f, "query", rp_tables[i].sql, run);
    }

    fputs("<h2 id=\"environment\">Environment</h2>\n", f);
    if (rp_table(f, db, rp_env_sql, run, "env", err, errlen) < 0)
        return -1;
    fputs("</main></body></html>\n", f);
    return 0;
}

static int mb_cmd_report(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *out = MB_REPORT_DEFAULT;
    long long want = -1, run;
    char err[MB_ERR_LEN], buf[PATH_MAX], plots[PATH_MAX + 8], tmp[PATH_MAX + 8];
    char names[RP_MAX_SCRIPTS][64];
    rp_args(argc, argv, &mb_command_report, &db_path, &out, &want);
    if (!*out || strlen(out) >= PATH_MAX || out[strlen(out) - 1] == '/')
        mb_usage_error(&mb_command_report, "--out wants a file name, got '%s'", out);
    snprintf(buf, sizeof buf, "%s", out);
    snprintf(plots, sizeof plots, "%s/plots", dirname(buf)); /* next to the page */
    snprintf(tmp, sizeof tmp, "%s.tmp", out);

    sqlite3 *db = rp_open(db_path, want, &run);
    if (!db)
        return 1;
    int n_plots = rp_render_plots(db_path, plots, run, err, sizeof err);
    if (n_plots < 0)
        goto fail;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, sizeof err, "%.300s: %s", tmp, strerror(errno));
        goto fail;
    }
    rp_plot_names(names, RP_MAX_SCRIPTS, err, sizeof err);
    int rc = rp_write_page(f, db, run, names, n_plots, db_path, err, sizeof err);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, sizeof err, "%.300s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, out) != 0) {
        snprintf(err, sizeof err, "%.300s: %s", out, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp);
        goto fail;
    }
    sqlite3_close(db);
    printf("report: %s (run %lld; %d plots in %s/)\n", out, run, n_plots, plots);
    return 0;
fail:
    fprintf(stderr, "mapbench report: %s\n", err);
    sqlite3_close(db);
    return 1;
}

const mb_command mb_command_plot = {
    "plot",
    "render the plots (PNG and SVG) of a run",
    "usage: mapbench plot [--run RUN_ID] [--db PATH] [--out DIR]\n"
    "  Renders every plots/*.gp script (one per question, each fed by a named SQL view)\n"
    "  as PNG and SVG into DIR (default results/plots).  --run draws an older complete\n"
    "  run as it was drawn when it was the latest (default: the latest).  Needs gnuplot.\n",
    mb_cmd_plot,
};

const mb_command mb_command_report = {
    "report",
    "write the HTML report of a run: findings, claims, plots, tables",
    "usage: mapbench report [--run RUN_ID] [--db PATH] [--out FILE]\n"
    "  Renders the plots into the page's folder (plots/) and writes a static, offline\n"
    "  HTML page (default results/report.html): findings in plain language with the\n"
    "  query behind each, the claims and their verdicts, every plot, the key tables and\n"
    "  the run's environment.\n",
    mb_cmd_report,
};
