# Memory per entry vs N right after inserting N keys (view plot_bytes_per_entry): the map's
# own bytes per entry (the load-factor sawtooth: each doubling of capacity halves the load)
# and what the process's RSS grew by per entry.  The dotted line is the payload, 16 bytes.
# A map whose own bytes the counting allocator cannot see (trait table-bytes-uncounted,
# GLib) is drawn on the allocator's in-use growth instead (rank_bytes_per_entry), dashed.
load "plots/common.gp"
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_bytes_per_entry WHERE run_id = %d ORDER BY impl)", run))
nmin = q1(sprintf("SELECT coalesce(min(n), 1) FROM plot_bytes_per_entry WHERE run_id = %d", run)) + 0
nmax = q1(sprintf("SELECT coalesce(max(n), 1) FROM plot_bytes_per_entry WHERE run_id = %d", run)) + 0
sizes = q1(sprintf("SELECT count(DISTINCT n) FROM plot_bytes_per_entry WHERE run_id = %d", run)) + 0
ymax = q1(sprintf("SELECT coalesce(max(rank_bytes_per_entry), 16) FROM plot_bytes_per_entry WHERE run_id = %d", run)) + 0
uncounted = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_bytes_per_entry WHERE run_id = %d AND rank_basis != 'map')", run))
is_uncounted(m) = strstrt(' ' . uncounted . ' ', ' ' . m . ' ') > 0
rss_ymax = q1(sprintf("SELECT coalesce(max(rss_bytes_per_entry), 16) FROM plot_bytes_per_entry WHERE run_id = %d", run)) + 0
rss_points = q1(sprintf("SELECT count(rss_bytes_per_entry) FROM plot_bytes_per_entry WHERE run_id = %d", run)) + 0
# (macros: defined before the blocks that expand them)
pstyle = sizes > 8 ? "lines" : "linespoints"
height = words(impls) == 0 ? 500 : 620
eval set_terminal
set output out
set multiplot title sprintf("bytes per entry after inserting N keys (u64->u64, uniform keys) — %s", run_label)
set xlabel "entries in the map, N (log scale)"
set lmargin 10
set rmargin 3
set tmargin 3
set bmargin 4
set size 0.41, 0.94
set origin 0, 0
if (words(impls) == 0) {
    set size 1, 0.94
    set ylabel "bytes per entry"
    eval empty_panel("no memory measurements in this run")
} else {
    set logscale x 10
    set xrange [nmin / 1.5 : nmax * 1.5]
    eval set_n_tics
    set yrange [0 : (ymax > 16 ? ymax : 16) * 1.12]
    unset key
    set label 1 "payload, 16 B" at graph 0.98, first 16 right offset 0, 0.7 font ",9" tc rgb "#444444"
    set title "held by the map (counting allocator; dashed: allocator in-use, own bytes uncounted)" font ",11"
    set ylabel "map bytes per entry"
    plot for [m in impls] \
        q(sprintf("SELECT n, rank_bytes_per_entry FROM plot_bytes_per_entry WHERE run_id = %d AND impl = '%s'", run, m)) \
        using 1:2 with @pstyle lw 2 dt 1+is_uncounted(m) pt 7 ps 0.7 lc rgb color(m) title (is_uncounted(m) ? m . ' (allocator in-use)' : m), \
        16 with lines dt 3 lc rgb "#444444" notitle
    set origin 0.41, 0
    set title "process RSS growth (cases where RSS grew by 1 MiB or more)" font ",11"
    set ylabel "RSS bytes per entry"
    set yrange [0 : (rss_ymax > 16 ? rss_ymax : 16) * 1.12]
    if (rss_points == 0) {
        eval empty_panel("RSS grew by less than 1 MiB in every case")
    } else {
        plot for [m in impls] \
            q(sprintf("SELECT n, rss_bytes_per_entry FROM plot_bytes_per_entry WHERE run_id = %d AND impl = '%s' AND rss_bytes_per_entry IS NOT NULL", run, m)) \
            using 1:2 with @pstyle lw 2 pt 7 ps 0.7 lc rgb color(m) title m, \
            16 with lines dt 3 lc rgb "#444444" notitle
    }
    set origin 0.82, 0
    set size 0.18, 0.94
    eval key_setup
    if (sizes < 8) {
        set label 2 sprintf("%d size%s measured;\nthe full suite's dense\nsweep shows the\nload-factor sawtooth", sizes, sizes == 1 ? "" : "s") at graph 0.05, graph 0.12 left font ",9" tc rgb "#666666"
    }
    eval key_plot
}
unset multiplot
