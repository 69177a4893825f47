# Trends across complete runs, up to the drawn run, with the gate's band (view plot_trend,
# bands from view trend_band): each point is a map's value divided by its value in the first
# run that measured the same case (the baseline), so every map shares one band around 1.
# Panels: lookup_hit ns/op (band ±15%: wall time only warns), lookup_hit instructions per op
# (band ±2%: callgrind, deterministic) and map bytes per entry after insert (band ±1%), each
# at the largest N measured for that metric.  Maps are dodged sideways a little so equal
# values stay visible.
load "plots/common.gp"
seq = q1(sprintf("SELECT coalesce(run_seq, 0) FROM run_sequence WHERE run_id = %d", run)) + 0
nruns = seq
metrics = "ns_per_op instructions_per_op map_bytes_per_entry"
metric_title(k) = k == 1 ? "lookup_hit, wall time" : k == 2 ? "lookup_hit, instructions (callgrind)" : "map bytes per entry after insert"
metric_unit(k) = k == 1 ? "ns/op" : k == 2 ? "instructions/op" : "bytes/entry"
empty_reason(k) = k == 1 ? "no timed lookup_hit in these runs" : k == 2 ? "no instruction counts in these runs (mapbench run --metric icount)" : "no memory measurements in these runs"
tics = q1(sprintf("SELECT group_concat(printf('%%s#%%d%%s %%d', char(39), run_id, char(39), run_seq), ', ') FROM run_sequence WHERE run_seq <= %d", seq))
height = 1000
eval set_terminal
set output out
set multiplot layout 3, 1 title sprintf("trends across %d run%s, relative to each case's first run; grey band: the gate's threshold — up to %s", nruns, nruns == 1 ? "" : "s", run_label)
set xlabel "run (oldest first)"
set key outside right top Left reverse font ",10"
set lmargin 12
set rmargin 24
do for [k = 1:3] {
    metric = word(metrics, k)
    band = q1(sprintf("SELECT threshold FROM trend_band WHERE metric = '%s'", metric)) + 0
    n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_trend WHERE metric = '%s' AND run_seq <= %d", metric, seq)) + 0
    impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_trend WHERE metric = '%s' AND n = %d AND run_seq <= %d ORDER BY impl)", metric, n, seq))
    set title sprintf("%s, N = %s (band ±%g%%)", metric_title(k), fmt_n(n), band * 100) font ",11"
    set ylabel sprintf("%s / baseline", metric_unit(k))
    unset object
    if (words(impls) == 0) {
        set title sprintf("%s", metric_title(k)) font ",11"
        eval empty_panel(empty_reason(k))
    } else {
        lo = q1(sprintf("SELECT min(ratio_to_baseline) FROM plot_trend WHERE metric = '%s' AND n = %d AND run_seq <= %d", metric, n, seq)) + 0
        hi = q1(sprintf("SELECT max(ratio_to_baseline) FROM plot_trend WHERE metric = '%s' AND n = %d AND run_seq <= %d", metric, n, seq)) + 0
        lo = lo < 1 - band ? lo : 1 - band
        hi = hi > 1 + band ? hi : 1 + band
        pad = (hi - lo) * 0.15
        set yrange [lo - pad : hi + pad]
        set xrange [0.5 : seq + 0.5]
        eval sprintf("set xtics (%s) nomirror", tics)
        set ytics nomirror
        set format y "%.4g"
        set object 1 rectangle from graph 0, first (1 - band) to graph 1, first (1 + band) fc rgb "#e4e4e4" fs solid 1.0 noborder behind
        # maps with equal values would hide each other: dodge each map a little in x
        nm = words(impls)
        dodge(i) = nm > 1 ? (i - 1 - (nm - 1) / 2.0) * 0.3 / nm : 0
        plot for [i = 1:nm] \
            q(sprintf("SELECT run_seq, ratio_to_baseline FROM plot_trend WHERE metric = '%s' AND n = %d AND impl = '%s' AND run_seq <= %d", metric, n, word(impls, i), seq)) \
            using ($1 + dodge(i)):2 with linespoints lw 2 pt 7 ps 0.9 lc rgb color(word(impls, i)) title word(impls, i), \
            1 with lines dt 2 lc rgb "#888888" notitle
        set autoscale y
    }
}
unset multiplot
