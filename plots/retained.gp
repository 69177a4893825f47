# What is still held after delete and clear, in % of what was held right after the
# inserts, at the run's largest N (view plot_retained): top, the map's own bytes; bottom,
# the process's RSS above its start.  "+ trim" is malloc_trim(0) after the phase.
load "plots/common.gp"
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_retained WHERE run_id = %d ORDER BY impl)", run))
n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_retained WHERE run_id = %d", run)) + 0
nm = words(impls)
# x position of each phase group, and its tic label
groups = sprintf("SELECT phase, dense_rank() OVER (ORDER BY phase_index) - 1 AS g FROM (SELECT DISTINCT phase, phase_index FROM plot_retained WHERE run_id = %d)", run)
tics = q1(sprintf("SELECT group_concat(printf('%%s%%s%%s %%d', char(39), CASE phase WHEN 'delete_half' THEN 'after deleting half' WHEN 'delete_all' THEN 'after deleting all' WHEN 'trim' THEN 'deleted all + trim' WHEN 'clear' THEN 'after clear' WHEN 'trim_after_clear' THEN 'clear + trim' ELSE phase END, char(39), g), ', ') FROM (%s)", groups))
ng = q1(sprintf("SELECT count(*) FROM (%s)", groups)) + 0
bw = nm > 0 ? 0.8 / nm : 0.8
ymax_map = q1(sprintf("SELECT coalesce(max(map_retained_pct), 100) FROM plot_retained WHERE run_id = %d", run)) + 0
ymax_rss = q1(sprintf("SELECT coalesce(max(rss_retained_pct), 100) FROM plot_retained WHERE run_id = %d", run)) + 0
# value labels on the bars while they fit (a macro: defined before the block using it)
vlabels = nm <= 8 ? ", for [i = 1:nm] rows(i) using ($1 + (i - 1 - (nm - 1) / 2.0) * bw):2:(sprintf('%.0f', $2)) with labels offset 0, 0.6 font ',8' tc rgb '#333333' notitle" : ""
height = nm == 0 ? 500 : 900
eval set_terminal
set output out
set multiplot title sprintf("retained after delete and clear%s (u64->u64, uniform keys) — %s", n > 0 ? ", N = " . fmt_n(n) : "", run_label)
if (nm == 0) {
    set size 1, 0.93
    set origin 0, 0
    set ylabel "% of after-insert"
    eval empty_panel("no memory measurements in this run")
} else {
    set style fill solid 1.0 border lc rgb "#333333"
    set boxwidth bw
    set xrange [-0.5 : ng - 0.5]
    set grid ytics
    unset key
    eval sprintf("set xtics (%s) nomirror scale 0 font ',11'", tics)
    set ytics nomirror
    set size 0.85, 0.47
    set origin 0, 0.48
    set title "held by the map: live bytes, % of after-insert" font ",11"
    set ylabel "% of after-insert bytes"
    set yrange [0 : (ymax_map > 100 ? ymax_map : 100) * 1.1]
    rows(i) = q(sprintf("SELECT g, p.map_retained_pct FROM plot_retained p JOIN (%s) USING (phase) WHERE p.run_id = %d AND p.impl = '%s'", groups, run, word(impls, i)))
    plot for [i = 1:nm] rows(i) \
        using ($1 + (i - 1 - (nm - 1) / 2.0) * bw):2 with boxes lc rgb color(word(impls, i)) title word(impls, i) @vlabels
    set origin 0, 0.0
    set title "held by the process: RSS above its start, % of after-insert" font ",11"
    set ylabel "% of after-insert RSS growth"
    set yrange [0 : (ymax_rss > 100 ? ymax_rss : 100) * 1.1]
    rows(i) = q(sprintf("SELECT g, p.rss_retained_pct FROM plot_retained p JOIN (%s) USING (phase) WHERE p.run_id = %d AND p.impl = '%s' AND p.rss_retained_pct IS NOT NULL", groups, run, word(impls, i)))
    plot for [i = 1:nm] rows(i) \
        using ($1 + (i - 1 - (nm - 1) / 2.0) * bw):2 with boxes lc rgb color(word(impls, i)) title word(impls, i) @vlabels
    set origin 0.85, 0.2
    set size 0.15, 0.6
    eval key_setup
    set style fill solid 1.0 border lc rgb "#333333"
    plot for [m in impls] -1 with boxes lc rgb color(m) title m
}
unset multiplot
