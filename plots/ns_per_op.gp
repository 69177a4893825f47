# Speed: ns per operation vs N, one panel per phase, one line per map (view plot_ns_per_op).
# Points are medians over every repetition of every process; bars span min..max.
# The black dotted line is the harness floor (view plot_floor): the same timed loop with
# no map behind it (null_map), so the gap above it is what the map costs.
# Dashed lines mark where N entries of 16 bytes (u64 key + u64 value) fill L1d, L2 and L3.
load "plots/common.gp"
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_ns_per_op WHERE run_id = %d ORDER BY impl)", run))
phases = q1(sprintf("SELECT group_concat(phase, ' ') FROM (SELECT DISTINCT phase, phase_order FROM plot_ns_per_op WHERE run_id = %d ORDER BY phase_order, phase)", run))
nmin = q1(sprintf("SELECT coalesce(min(n), 1) FROM plot_ns_per_op WHERE run_id = %d", run)) + 0
nmax = q1(sprintf("SELECT coalesce(max(n), 1) FROM plot_ns_per_op WHERE run_id = %d", run)) + 0
l1 = q1(sprintf("SELECT coalesce(l1d_bytes, 0) FROM complete_run WHERE run_id = %d", run)) + 0
l2 = q1(sprintf("SELECT coalesce(l2_bytes, 0) FROM complete_run WHERE run_id = %d", run)) + 0
l3 = q1(sprintf("SELECT coalesce(l3_bytes, 0) FROM complete_run WHERE run_id = %d", run)) + 0
size_text(b) = b >= 1048576 ? sprintf("%g MiB", b / 1048576.0) : sprintf("%g KiB", b / 1024.0)
has_floor = q1(sprintf("SELECT count(*) FROM plot_floor WHERE run_id = %d", run)) + 0
floor_q(ph) = q(sprintf("SELECT n, floor_ns_per_op FROM plot_floor WHERE run_id = %d AND phase = '%s'", run, ph))
xlo = nmin / 2.0
xhi = nmax * 2.0

np = words(phases)
# one panel per phase and one for the key; a run without timings gets one message panel
cols = np == 0 ? 1 : np + 1 <= 2 ? 2 : 3
rows = np == 0 ? 1 : int(ceil((np + 1) / (cols + 0.0)))
height = np == 0 ? 500 : rows * 420 + 60
eval set_terminal
set output out
set multiplot layout rows, cols title sprintf("ns per operation vs N (u64->u64, uniform keys, no hint) — %s", run_label)
set xlabel "entries in the map, N (log scale)"
set ylabel "ns per operation"
if (np == 0) {
    eval empty_panel("no timed phases in this run")
}
do for [ph in phases] {
    set title ph
    set logscale x 10
    set logscale y 2
    set xrange [xlo:xhi]
    eval set_n_tics
    set format y "%.4g"
    unset key
    unset arrow
    unset label
    do for [c = 1:3] {
        b = c == 1 ? l1 : c == 2 ? l2 : l3
        if (b > 0 && b / 16.0 > xlo && b / 16.0 < xhi) {
            set arrow from b / 16.0, graph 0 to b / 16.0, graph 1 nohead dt 2 lc rgb "#888888"
            set label sprintf("%s %s", c == 1 ? "L1d" : c == 2 ? "L2" : "L3", size_text(b)) \
                at b / 16.0, graph 0.03 rotate by 90 left offset -0.7, 0 font ",8" tc rgb "#666666"
        }
    }
    ph_floor = q1(sprintf("SELECT count(*) FROM plot_floor WHERE run_id = %d AND phase = '%s'", run, ph)) + 0
    if (ph_floor > 0) {
        plot for [m in impls] \
            q(sprintf("SELECT n, median_ns_per_op, min_ns_per_op, max_ns_per_op FROM plot_ns_per_op WHERE run_id = %d AND impl = '%s' AND phase = '%s'", run, m, ph)) \
            using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.7 lc rgb color(m) title m, \
            floor_q(ph) using 1:2 with linespoints dt 3 lw 2 pt 1 lc rgb ref_color title "floor (null_map)"
    } else {
        plot for [m in impls] \
            q(sprintf("SELECT n, median_ns_per_op, min_ns_per_op, max_ns_per_op FROM plot_ns_per_op WHERE run_id = %d AND impl = '%s' AND phase = '%s'", run, m, ph)) \
            using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.7 lc rgb color(m) title m
    }
}
if (np > 0) {
    eval key_setup
    if (has_floor > 0) {
        plot for [m in impls] -1 with linespoints lw 2 pt 7 lc rgb color(m) title m, \
             -1 with linespoints dt 3 lw 2 pt 1 lc rgb ref_color title "floor: the loop with no map (null_map)"
        set border; set tics; set grid
    } else {
        eval key_plot
    }
}
unset multiplot
