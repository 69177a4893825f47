# Thread scaling: throughput of the mixed read/write phase (90% lookups, 10% inserts and
# deletes) vs threads, one line per thread-safe map (view plot_thread_scaling).
# Mops/s = 1000 / (median ns per op over all threads' ops); bars span slowest..fastest.
load "plots/common.gp"
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_thread_scaling WHERE run_id = %d ORDER BY impl)", run))
n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_thread_scaling WHERE run_id = %d", run)) + 0
tmax = q1(sprintf("SELECT coalesce(max(threads), 1) FROM plot_thread_scaling WHERE run_id = %d", run)) + 0
cores = q1(sprintf("SELECT coalesce(cores, 0) FROM complete_run WHERE run_id = %d", run)) + 0
height = 700
eval set_terminal
set output out
set title sprintf("thread scaling: mixed read/write (90%% lookup)%s — %s", n > 0 ? ", N = " . fmt_n(n) : "", run_label)
set xlabel "threads"
set ylabel "throughput, million operations per second (Mops/s)"
if (words(impls) == 0) {
    eval empty_panel("no thread-safe map measured in this run (phase mixed_rw)")
} else {
    set xrange [0.5 : tmax + 0.5]
    set xtics 1
    set yrange [0:*]
    set key outside right top Left reverse
    if (cores > 0 && cores <= tmax) {
        set arrow from cores, graph 0 to cores, graph 1 nohead dt 2 lc rgb "#888888"
        set label sprintf("%d cores", cores) at cores, graph 0.97 right offset -0.5, 0 font ",9" tc rgb "#666666"
    }
    plot for [m in impls] \
        q(sprintf("SELECT threads, mops_per_s, slowest_mops_per_s, fastest_mops_per_s FROM plot_thread_scaling WHERE run_id = %d AND impl = '%s'", run, m)) \
        using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1 lc rgb color(m) title m
}
