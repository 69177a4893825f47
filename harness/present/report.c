/*
 * report.c — `mapbench plot` and `mapbench report`: the pictures and the page.
 *
 * plot: runs gnuplot on every plots/NAME.gp (except common.gp) of the source tree
 * (MB_SOURCE_DIR, set by CMake), once for PNG and once for SVG, into an output
 * folder.  The scripts read the database themselves through the sqlite3 shell;
 * this command first opens the database read-only, and only when its stored
 * views are not this build's refreshes them through the write door, so the
 * scripts never see stale ones and a current file is never written.
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
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "plan.h"
#include "present.h"
#include "store.h"

#define MB_PLOTS_DEFAULT "results/plots"
#define MB_REPORT_DEFAULT "results/report.html"
#define RP_MAX_SCRIPTS 64
#define RP_NAME_BYTES 64 /* a plot's name (its script's file name without .gp), NUL included */

/* ---- paths ------------------------------------------------------------------ */

/* Creates dir and its parents (mode 0755).  Returns 0, or -1 with err filled. */
static int rp_mkdirs(const char *dir, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        mb_errf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            mb_errf(err, errlen, "%.300s: %s", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        mb_errf(err, errlen, "%.300s: %s", buf, strerror(errno));
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
        mb_errf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, want);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (id < 0 && want >= 0)
        mb_errf(err, errlen, "no complete run %lld in the database (`mapbench runs` lists them)",
                 want);
    else if (id < 0)
        mb_errf(err, errlen, "the database holds no complete run (run `mapbench run` first)");
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
 * Returns how many, or -1 with err filled: a name too long or a script past
 * max is an error, not a plot left off the page. */
static int rp_plot_names(char names[][RP_NAME_BYTES], int max, char *err, size_t errlen)
{
    struct dirent **list;
    int n = scandir(MB_SOURCE_DIR "/plots", &list, rp_is_script, alphasort);
    if (n < 0) {
        mb_errf(err, errlen, "%s/plots: %s (the plot scripts live in the source tree)",
                 MB_SOURCE_DIR, strerror(errno));
        return -1;
    }
    int k = 0, i = 0;
    for (; i < n; i++) {
        size_t len = strlen(list[i]->d_name) - 3;
        if (len >= RP_NAME_BYTES) {
            mb_errf(err, errlen, "%s/plots/%.200s: a plot name is at most %d characters",
                     MB_SOURCE_DIR, list[i]->d_name, RP_NAME_BYTES - 1);
            goto fail;
        }
        if (k == max) {
            mb_errf(err, errlen, "%s/plots: more than %d plot scripts", MB_SOURCE_DIR, max);
            goto fail;
        }
        memcpy(names[k], list[i]->d_name, len);
        names[k++][len] = '\0';
        free(list[i]);
    }
    free(list);
    return k;
fail:
    for (; i < n; i++)
        free(list[i]);
    free(list);
    return -1;
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
/* the real Go maps under threads, in mb_go_thread_maps order */
static const char *const rp_go_thread_palette[] = { "#00838f", "#6a1b9a", "#ef6c00" };

/* Returns "name colour name colour ..." for every registered map and the real
 * Go map (sqlite3_free it; NULL when out of memory): gnuplot's map_colors,
 * which common.gp's color(m) reads. */
static char *rp_map_colors(void)
{
    size_t n = sizeof rp_palette / sizeof *rp_palette;
    size_t n_go = sizeof rp_go_thread_palette / sizeof *rp_go_thread_palette, i = 0;
    sqlite3_str *s = sqlite3_str_new(NULL);
    for (const mb_map_ops *const *p = mb_registry; *p; p++, i++)
        sqlite3_str_appendf(s, "%s %s ", (*p)->name, rp_palette[i % n]);
    i = 0;
    for (const mb_go_thread_map *g = mb_go_thread_maps; g->impl; g++, i++)
        sqlite3_str_appendf(s, "%s %s ", g->impl, rp_go_thread_palette[i % n_go]);
    sqlite3_str_appendf(s, "%s %s", MB_GO_IMPL, RP_GO_COLOR);
    return sqlite3_str_finish(s);
}

/* Runs one script for one terminal, colors from rp_map_colors.  Returns 0,
 * or -1 with err filled. */
static int rp_gnuplot(const char *name, const char *term, const char *db_abs, const char *out_abs,
                      long long run, const char *colors, char *err, size_t errlen)
{
    char script[PATH_MAX];
    snprintf(script, sizeof script, "plots/%s.gp", name);
    char *expr = sqlite3_mprintf("db='%s'; out='%s/%s.%s'; term='%s'; run=%lld; map_colors='%s'",
                                 db_abs, out_abs, name, term, term, run, colors);
    if (!expr) {
        mb_errf(err, errlen, "out of memory");
        return -1;
    }
    char *argv[] = { "gnuplot", "-e", expr, script, NULL };
    mb_child c = { .path = "gnuplot", .argv = argv, .cwd = MB_SOURCE_DIR };
    int st = mb_child_run(&c); /* its stdout is empty: the terminals write files */
    sqlite3_free(expr);
    if (st < 0) {
        mb_errf(err, errlen, "cannot start gnuplot: %s", strerror(errno));
        return -1;
    }
    if (st == 0)
        return 0;
    if (st == 127)
        mb_errf(err, errlen, "cannot run gnuplot (install Debian's gnuplot-nox)");
    else
        mb_errf(err, errlen, "gnuplot failed on plots/%s.gp (%s); its message is above", name,
                 term);
    return -1;
}

/* Renders every plot of run into out_dir as PNG and SVG, their names into
 * names.  Returns the number of plots, or -1 with err filled. */
static int rp_render_plots(const char *db_path, const char *out_dir, long long run,
                           char names[RP_MAX_SCRIPTS][RP_NAME_BYTES], char *err, size_t errlen)
{
    char db_abs[PATH_MAX], out_abs[PATH_MAX];
    if (!realpath(db_path, db_abs)) {
        mb_errf(err, errlen, "%s: %s", db_path, strerror(errno));
        return -1;
    }
    if (rp_mkdirs(out_dir, err, errlen) != 0)
        return -1;
    if (!realpath(out_dir, out_abs)) {
        mb_errf(err, errlen, "%s: %s", out_dir, strerror(errno));
        return -1;
    }
    if (rp_unsafe_path(db_abs) || rp_unsafe_path(out_abs)) {
        mb_errf(err, errlen, "paths for plots may not contain quotes, $, ` or \\ "
                 "(gnuplot hands them to the shell): %.200s, %.200s", db_abs, out_abs);
        return -1;
    }
    int n = rp_plot_names(names, RP_MAX_SCRIPTS, err, errlen);
    if (n < 0)
        return -1;
    char *colors = rp_map_colors(); /* the same for every plot: built once */
    if (!colors) {
        mb_errf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) /* n = -1 ends it */
        if (rp_gnuplot(names[i], "png", db_abs, out_abs, run, colors, err, errlen) != 0 ||
            rp_gnuplot(names[i], "svg", db_abs, out_abs, run, colors, err, errlen) != 0)
            n = -1;
    sqlite3_free(colors);
    return n;
}

/* Opens the database (installing the current views and claims) and picks the
 * run.  Prints the error and returns NULL on failure. */
static sqlite3 *rp_open(const char *db_path, long long want, long long *run)
{
    char err[MB_ERR_LEN];
    sqlite3 *db = mb_db_open_read(db_path, err, sizeof err);
    if (db && mb_db_has_temp_views(db)) {
        /* The stored views are not this build's, and the plot scripts read
         * the file's own views through the sqlite3 shell: refresh them once
         * through the write door (a file written by this build is never
         * touched here). */
        sqlite3_close(db);
        sqlite3 *w = mb_db_open(db_path, 0, err, sizeof err);
        sqlite3_close(w);
        db = w ? mb_db_open_read(db_path, err, sizeof err) : NULL;
    }
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
        mb_help_exit(argv[i], cmd);
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
    char err[MB_ERR_LEN], names[RP_MAX_SCRIPTS][RP_NAME_BYTES];
    rp_args(argc, argv, &mb_command_plot, &db_path, &out_dir, &want);
    sqlite3 *db = rp_open(db_path, want, &run);
    if (!db)
        return 1;
    sqlite3_close(db);
    int n = rp_render_plots(db_path, out_dir, run, names, err, sizeof err);
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
        mb_errf(err, errlen, "%s\n  in: %.200s", sqlite3_errmsg(db), sql);
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

/* Returns 1 for column c of a report view that is not shown: run_id (every
 * report view carries it; the page is about one run). */
static int rp_hidden(sqlite3_stmt *st, int c)
{
    return strcmp(sqlite3_column_name(st, c), "run_id") == 0;
}

/* Writes the rows of sql as an HTML table (numbers right-aligned, NULL as
 * "—", i.e. not measured).  Returns the number of rows, or -1 with err filled. */
static int rp_table(FILE *f, sqlite3 *db, const char *sql, long long run, const char *cls,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st = rp_prepare(db, sql, run, err, errlen);
    if (!st)
        return -1;
    int nc = sqlite3_column_count(st), rows = 0, rc, shown = 0;
    /* in a box that scrolls sideways: the speed table is wider than the page */
    fprintf(f, "<div class=\"wide\"><table%s%s%s><thead><tr>", cls ? " class=\"" : "",
            cls ? cls : "", cls ? "\"" : "");
    for (int c = 0; c < nc; c++) {
        if (rp_hidden(st, c))
            continue; /* the run the page is about */
        shown++;
        fputs("<th>", f);
        rp_esc(f, sqlite3_column_name(st, c));
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputs("<tr>", f);
        for (int c = 0; c < nc; c++) {
            if (rp_hidden(st, c))
                continue;
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
        mb_errf(err, errlen, "%s\n  in: %.200s", sqlite3_errmsg(db), sql);
        sqlite3_finalize(st);
        return -1;
    }
    if (rows == 0)
        fprintf(f, "<tr><td colspan=\"%d\" class=\"na\">no rows: not measured in this run</td></tr>\n",
                shown);
    fputs("</tbody></table></div>\n", f);
    sqlite3_finalize(st);
    return rows;
}

/* ---- findings ------------------------------------------------------------------- */

/* Each finding is a view in results/report.sql, report_finding_<id> (run_id,
 * finding): the sentence itself, built from the data; NULL (or no row) when
 * the run lacks what it needs, and then `missing` is shown instead.  View
 * report_findings lists them in page order with their titles.  The page shows
 * each query next to its sentence, and the view's definition. */
typedef struct rp_finding {
    const char *title, *missing, *sql, *view;
} rp_finding;

/* Writes a view's definition (from the database, as installed from
 * results/report.sql) in a <details>. */
static void rp_view_details(FILE *f, sqlite3 *db, const char *view)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE type = 'view' AND name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, view, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        fputs("<details><summary>the view (results/report.sql)</summary><pre>", f);
        rp_esc(f, (const char *)sqlite3_column_text(st, 0));
        fputs("</pre></details>\n", f);
    }
    sqlite3_finalize(st);
}

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
        mb_errf(err, errlen, "%s\n  in finding: %s", sqlite3_errmsg(db), fd->title);
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
    rp_view_details(f, db, fd->view);
    fputs("</div>\n", f);
    return 0;
}

/* ---- plots on the page ------------------------------------------------------------ */

/* Writes the leading comment block of plots/NAME.gp (what the plot shows) as
 * escaped text. */
static void rp_plot_caption(FILE *f, const char *name)
{
    char path[PATH_MAX + RP_NAME_BYTES + 16], *line = NULL;
    size_t cap = 0;
    snprintf(path, sizeof path, "%s/plots/%s.gp", MB_SOURCE_DIR, name);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    while (getline(&line, &cap, in) > 0 && line[0] == '#') { /* whole lines, any length */
        char *s = line + 1;
        while (*s == ' ')
            s++;
        s[strcspn(s, "\n")] = '\0';
        rp_esc(f, s);
        fputc(' ', f);
    }
    free(line);
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
    "table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}.wide{overflow-x:auto}\n"
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

static const char rp_env_sql[] =
    "SELECT * FROM report_table_environment WHERE run_id = :run";

static const char rp_claims_sql[] = "SELECT * FROM report_table_claims WHERE run_id = :run";

/* Is id a plain identifier (it is pasted into a view's name)? */
static int rp_is_ident(const char *id)
{
    if (!*id)
        return 0;
    for (; *id; id++)
        if (!(*id == '_' || (*id >= 'a' && *id <= 'z') || (*id >= '0' && *id <= '9')))
            return 0;
    return 1;
}

/* The Findings section: every row of view report_findings.  Returns 0, or -1. */
static int rp_write_findings(FILE *f, sqlite3 *db, long long run, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, title, missing FROM report_findings"
                               " ORDER BY finding_order", -1, &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "report_findings: %s", sqlite3_errmsg(db));
        return -1;
    }
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!rp_is_ident(id)) {
            mb_errf(err, errlen, "report_findings: bad id '%s'", id);
            rc = -1;
            break;
        }
        char *sql = sqlite3_mprintf("SELECT finding FROM report_finding_%s WHERE run_id = :run", id);
        char *view = sqlite3_mprintf("report_finding_%s", id);
        rp_finding fd = { (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2), sql, view };
        rc = sql && view ? rp_finding_write(f, db, &fd, run, err, errlen) : -1;
        sqlite3_free(sql);
        sqlite3_free(view);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The Tables section: every row of view report_tables.  Returns 0, or -1. */
static int rp_write_tables(FILE *f, sqlite3 *db, long long run, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, title FROM report_tables ORDER BY table_order", -1,
                           &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "report_tables: %s", sqlite3_errmsg(db));
        return -1;
    }
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (!rp_is_ident(id)) {
            mb_errf(err, errlen, "report_tables: bad id '%s'", id);
            rc = -1;
            break;
        }
        fprintf(f, "<h3 id=\"table-%s\">", id);
        rp_esc(f, (const char *)sqlite3_column_text(st, 1));
        fputs("</h3>\n", f);
        char *sql = sqlite3_mprintf("SELECT * FROM report_table_%s WHERE run_id = :run", id);
        char *view = sqlite3_mprintf("report_table_%s", id);
        rc = sql && view && rp_table(f, db, sql, run, NULL, err, errlen) >= 0 ? 0 : -1;
        if (rc == 0) {
            rp_sql_details(f, "query", sql, run);
            rp_view_details(f, db, view);
        }
        sqlite3_free(sql);
        sqlite3_free(view);
    }
    sqlite3_finalize(st);
    return rc;
}

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

static int rp_write_page(FILE *f, sqlite3 *db, long long run, char names[][RP_NAME_BYTES], int n_plots,
                         const char *db_path, char *err, size_t errlen)
{
    char now[40];
    mb_now_iso(now, sizeof now);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n", f);
    fprintf(f, "<title>mapbench report — run %lld</title>\n<style>\n%s</style>\n</head>\n<body><main>\n",
            run, rp_css);
    fprintf(f, "<h1>mapbench report — run %lld</h1>\n<p class=\"sub\">", run);
    rp_value(f, db, "SELECT line FROM report_header WHERE run_id = :run", run);
    fputs(". Database: <code>", f);
    rp_esc(f, db_path);
    fprintf(f, "</code>. Generated %s by <code>mapbench report --run %lld</code>.</p>\n", now, run);
    fputs("<nav><a href=\"#findings\">Findings</a><a href=\"#claims\">Claims</a>"
          "<a href=\"#plots\">Plots</a><a href=\"#tables\">Tables</a>"
          "<a href=\"#environment\">Environment</a></nav>\n", f);

    fputs("<h2 id=\"findings\">Findings</h2>\n<p class=\"sub\">Each sentence is computed from the "
          "database by the query under it. Unless it says otherwise: u64&rarr;u64 entries, uniform "
          "keys, glibc malloc, the run's largest n.</p>\n", f);
    if (rp_write_findings(f, db, run, err, errlen) != 0)
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
    if (rp_write_tables(f, db, run, err, errlen) != 0)
        return -1;

    fputs("<h2 id=\"environment\">Environment</h2>\n", f);
    if (rp_table(f, db, rp_env_sql, run, "env", err, errlen) < 0)
        return -1;
    fputs("</main></body></html>\n", f);
    return 0;
}

/* Makes sure the page's folder exists: creates it when its parent exists (one
 * level, as `run` makes results/), never a tree of made-up folders.  Returns
 * 0, or -1 when it is not there and cannot be made that way. */
static int rp_page_folder(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return S_ISDIR(sb.st_mode) ? 0 : -1;
    char *copy = strdup(dir);
    if (!copy)
        return -1;
    int parent_ok = stat(dirname(copy), &sb) == 0 && S_ISDIR(sb.st_mode);
    free(copy);
    return parent_ok && mkdir(dir, 0755) == 0 ? 0 : -1;
}

static int mb_cmd_report(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *out = MB_REPORT_DEFAULT;
    long long want = -1, run;
    char err[MB_ERR_LEN], buf[PATH_MAX], plots[PATH_MAX + 8], tmp[PATH_MAX + 8];
    char names[RP_MAX_SCRIPTS][RP_NAME_BYTES];
    rp_args(argc, argv, &mb_command_report, &db_path, &out, &want);
    if (!*out || strlen(out) >= PATH_MAX || out[strlen(out) - 1] == '/')
        mb_usage_error(&mb_command_report, "--out wants a file name, got '%s'", out);
    snprintf(buf, sizeof buf, "%s", out);
    snprintf(plots, sizeof plots, "%s/plots", dirname(buf)); /* next to the page */
    if (rp_page_folder(buf) != 0) { /* one level at most, as `run` makes results/ */
        fprintf(stderr, "mapbench report: %s: no such folder for the page, and its parent does"
                " not exist either (create it first)\n", buf);
        return 1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", out);

    sqlite3 *db = rp_open(db_path, want, &run);
    if (!db)
        return 1;
    int n_plots = rp_render_plots(db_path, plots, run, names, err, sizeof err);
    if (n_plots < 0)
        goto fail;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        mb_errf(err, sizeof err, "%.300s: %s", tmp, strerror(errno));
        goto fail;
    }
    int rc = rp_write_page(f, db, run, names, n_plots, db_path, err, sizeof err);
    if (fclose(f) != 0 && rc == 0) {
        mb_errf(err, sizeof err, "%.300s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, out) != 0) {
        mb_errf(err, sizeof err, "%.300s: %s", out, strerror(errno));
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
