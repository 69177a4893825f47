# ns per operation vs N, one panel per phase, one line per map (view plot_ns_per_op).
# The dashed lines mark where N entries of 16 bytes fill L1d, L2 and L3.
load "plots/common.gp"
impls = q1("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_ns_per_op)")
phases = "insert lookup_hit lookup_miss delete_all clear"
l1 = q1("SELECT coalesce(l1d_bytes, 0) FROM latest_run") + 0
l2 = q1("SELECT coalesce(l2_bytes, 0) FROM latest_run") + 0
l3 = q1("SELECT coalesce(l3_bytes, 0) FROM latest_run") + 0
cpu = q1("SELECT cpu_model FROM latest_run")

set logscale x 10
set logscale y 2
set format x "%.0e"
set xlabel "entries in the map (N)"
set ylabel "ns per operation (median of all repetitions)"
set multiplot layout 2,3 title sprintf("ns/op vs N, u64->u64, uniform keys — %s", cpu)
do for [ph in phases] {
    set title ph
    unset arrow
    if (l1 > 0) { set arrow from l1/16.0, graph 0 to l1/16.0, graph 1 nohead dt 2 lc rgb "#999999" }
    if (l2 > 0) { set arrow from l2/16.0, graph 0 to l2/16.0, graph 1 nohead dt 2 lc rgb "#999999" }
    if (l3 > 0) { set arrow from l3/16.0, graph 0 to l3/16.0, graph 1 nohead dt 2 lc rgb "#999999" }
    plot for [m in impls] \
        q(sprintf("SELECT n, median_ns_per_op FROM plot_ns_per_op WHERE impl = '%s' AND phase = '%s'", m, ph)) \
        using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb color(m) title m
}
unset multiplot
