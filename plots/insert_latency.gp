# What does one insert cost while the map grows from empty to N?  The percentiles of
# the per-insert times, one line per map (view plot_insert_latency): a stop-the-world
# rehash shows as a huge max; an incremental design (gomap) spreads it out.
load "plots/common.gp"
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_insert_latency WHERE run_id = %d ORDER BY impl)", run))
n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_insert_latency WHERE run_id = %d", run)) + 0
height = 700
eval set_terminal
set output out
set title sprintf("single-insert latency while growing from empty%s — %s", n > 0 ? " to N = " . fmt_n(n) : "", run_label)
set xlabel "percentile of the per-insert times (TSC, timer overhead subtracted)"
set ylabel "ns per insert (log scale)"
if (words(impls) == 0) {
    eval empty_panel("no insert latency measured in this run (metric latency)")
} else {
    set logscale y 10
    set xtics ("p50" 0, "p90" 1, "p99" 2, "p99.9" 3, "max" 4)
    set xrange [-0.3 : 4.3]
    set key outside right top
    plot for [m in impls] \
        q(sprintf("SELECT 0, p50_ns FROM plot_insert_latency WHERE run_id = %d AND impl = '%s' UNION ALL SELECT 1, p90_ns FROM plot_insert_latency WHERE run_id = %d AND impl = '%s' UNION ALL SELECT 2, p99_ns FROM plot_insert_latency WHERE run_id = %d AND impl = '%s' UNION ALL SELECT 3, p999_ns FROM plot_insert_latency WHERE run_id = %d AND impl = '%s' UNION ALL SELECT 4, max_ns FROM plot_insert_latency WHERE run_id = %d AND impl = '%s'", run, m, run, m, run, m, run, m, run, m)) \
        using 1:2 with linespoints lw 2 pt 7 lc rgb color(m) title m
}
