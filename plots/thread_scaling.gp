# Thread scaling: throughput of the mixed read/write phase vs threads, one line per
# thread-safe map, C and real Go (view plot_thread_scaling), for one mix: 90/10 when the
# run has it, else the mix with the most lookups.  Mops/s = 1000 / (median ns per op over
# all threads' ops); bars span slowest..fastest.  The black dashed line is the ceiling: the
# same scripts run unsynchronized on a read-only swiss beside each repetition (each case's
# median, averaged over the cases of that thread count).  Thread counts above the run's
# online CPUs (run.cores) are shaded and marked "oversubscribed"; the grey dashed line and the
# "cores" tic mark run.cores.
load "plots/common.gp"
mix_pct = q1(sprintf("SELECT coalesce((SELECT lookup_percent FROM plot_thread_scaling WHERE run_id = %d ORDER BY lookup_percent = 90 DESC, lookup_percent DESC LIMIT 1), -1)", run)) + 0
mix = q1(sprintf("SELECT coalesce((SELECT mix FROM plot_thread_scaling WHERE run_id = %d AND lookup_percent = %d LIMIT 1), '')", run, mix_pct))
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_thread_scaling WHERE run_id = %d AND lookup_percent = %d ORDER BY impl)", run, mix_pct))
n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_thread_scaling WHERE run_id = %d", run)) + 0
tmax = q1(sprintf("SELECT coalesce(max(threads), 1) FROM plot_thread_scaling WHERE run_id = %d", run)) + 0
cores = q1(sprintf("SELECT coalesce(cores, 0) FROM complete_run WHERE run_id = %d", run)) + 0
height = 700
eval set_terminal
set output out
set title sprintf("thread scaling: mixed read/write (%s lookups)%s — %s", mix, n > 0 ? ", N = " . fmt_n(n) : "", run_label)
set xlabel "threads" offset 0,-0.8  # below the two-line "N\ncores" tic
set ylabel "throughput, million operations per second (Mops/s)"
if (words(impls) == 0) {
    eval empty_panel("no thread-safe map measured in this run (phase mixed_rw)")
} else {
    set xrange [0.5 : tmax + 0.5]
    # one tic per thread count; the machine's core count is named on its own tic, below
    # the axis, where no map's error bar can sit on it
    set xtics ()
    do for [t = 1:tmax] { set xtics add (t == cores ? sprintf("%d\ncores", t) : sprintf("%d", t) t) }
    set yrange [0:*]
    set key outside right top Left reverse
    if (cores > 0 && cores < tmax) {
        set object 1 rect from cores + 0.5, graph 0 to graph 1, graph 1 behind fc rgb "#f0e0e0" fs solid 0.6 noborder
        set label 1 sprintf("oversubscribed (> %d cores)", cores) at cores + 0.6, graph 0.97 left font ",9" tc rgb "#8a1c1c"
    }
    if (cores > 0 && cores <= tmax) {
        set arrow from cores, graph 0 to cores, graph 1 nohead dt 2 lc rgb "#888888"
    }
    plot q(sprintf("SELECT threads, avg(c) FROM (SELECT threads, ceiling_mops_per_s AS c FROM plot_thread_scaling WHERE run_id = %d AND lookup_percent = %d AND ceiling_mops_per_s IS NOT NULL) GROUP BY threads ORDER BY threads", run, mix_pct)) \
        using 1:2 with linespoints lw 3 dt 2 pt 6 lc rgb ref_color title "ceiling (same scripts, no locks, read-only table)", \
      for [m in impls] \
        q(sprintf("SELECT threads, mops_per_s, slowest_mops_per_s, fastest_mops_per_s FROM plot_thread_scaling WHERE run_id = %d AND impl = '%s' AND lookup_percent = %d", run, m, mix_pct)) \
        using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1 lc rgb color(m) title m
}
