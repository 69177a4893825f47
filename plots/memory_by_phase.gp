# Does memory come back?  The map's own bytes and the process's RSS above its
# start, after each phase of the memory script (view plot_memory_timeline).
load "plots/common.gp"
impls = q1("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_memory_timeline)")
n = q1("SELECT max(n) FROM plot_memory_timeline")
set xtics rotate by -30
set xlabel "phase"
set multiplot layout 1,2 title sprintf("memory after each phase, N = %s, u64->u64, glibc malloc", n)
set title "held by the map (counting allocator)"
set ylabel "MiB"
plot for [m in impls] \
    q(sprintf("SELECT phase_index, map_live_mib, phase FROM plot_memory_timeline WHERE impl = '%s'", m)) \
    using 1:2:xtic(3) with linespoints lw 2 pt 7 lc rgb color(m) title m
set title "process RSS above its start (map + allocator + OS)"
plot for [m in impls] \
    q(sprintf("SELECT phase_index, rss_above_start_mib, phase FROM plot_memory_timeline WHERE impl = '%s'", m)) \
    using 1:2:xtic(3) with linespoints lw 2 pt 7 lc rgb color(m) title m
unset multiplot
