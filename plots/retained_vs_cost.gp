# Retained vs cost (view plot_retained_vs_cost): per map and shrink policy at the run's
# largest N (u64->u64, uniform keys, glibc), what is still held after deleting every key
# (y: the map's own bytes, filled — for a map whose own bytes are uncounted, GLib, the
# allocator's in-use bytes, labelled so; the process's RSS above its start, open) against the
# extra ns per operation the policy costs over 'never' (x: left on the timed delete_all,
# right on constant-size churn).  'never' sits at x = 0 by definition; a policy is worth
# it when it moves a point down by much for a small step right.  Only the maps that ran
# under more than one policy are drawn.
load "plots/common.gp"
multi = "impl IN (SELECT impl FROM plot_retained_vs_cost WHERE shrink != 'never')"
impls = q1(sprintf("SELECT group_concat(impl, ' ') FROM (SELECT DISTINCT impl FROM plot_retained_vs_cost WHERE run_id = %d AND allocator = 'glibc' AND %s ORDER BY impl)", run, multi))
n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_retained_vs_cost WHERE run_id = %d", run)) + 0
nm = words(impls)
height = 700
eval set_terminal
set output out
set multiplot title sprintf("retained after deleting every key vs what the shrink policy costs%s (u64->u64, uniform keys, glibc) — %s", n > 0 ? ", N = " . fmt_n(n) : "", run_label)
if (nm == 0) {
    set size 1, 0.93
    set origin 0, 0
    eval empty_panel("no map ran under more than one shrink policy in this run")
} else {
    unset key
    set grid
    set ylabel "MiB still held after delete_all"
    set yrange [0 : *]
    pts(col) = q(sprintf("SELECT coalesce(%s, 0), held_mib_after_delete_all, rss_mib_after_delete_all, label, impl FROM plot_retained_vs_cost WHERE run_id = %d AND allocator = 'glibc' AND %s", col, run, multi))
    set size 0.43, 0.93
    set origin 0, 0
    set title "cost on delete_all (timed, median)" font ",11"
    set xlabel "extra ns per delete over 'never'"
    plot for [m in impls] pts("delete_extra_ns_per_op") using 1:(strcol(5) eq m ? $2 : 1/0) with points pt 7 ps 1.6 lc rgb color(m) notitle, \
         for [m in impls] pts("delete_extra_ns_per_op") using 1:(strcol(5) eq m ? $3 : 1/0) with points pt 6 ps 1.6 lc rgb color(m) notitle, \
         pts("delete_extra_ns_per_op") using 1:2:4 with labels offset 0, 1 font ",8" tc rgb "#333333" notitle
    set origin 0.43, 0
    set title "cost on churn (constant size, mean per step)" font ",11"
    set xlabel "extra ns per step over 'never'"
    plot for [m in impls] pts("churn_extra_ns_per_op") using 1:(strcol(5) eq m ? $2 : 1/0) with points pt 7 ps 1.6 lc rgb color(m) notitle, \
         for [m in impls] pts("churn_extra_ns_per_op") using 1:(strcol(5) eq m ? $3 : 1/0) with points pt 6 ps 1.6 lc rgb color(m) notitle, \
         pts("churn_extra_ns_per_op") using 1:2:4 with labels offset 0, 1 font ",8" tc rgb "#333333" notitle
    set origin 0.86, 0.1
    set size 0.14, 0.8
    eval key_setup
    plot for [m in impls] -1 with points pt 7 ps 1.6 lc rgb color(m) title m, \
         -1 with points pt 7 lc rgb "#333333" title "held (map bytes)", \
         -1 with points pt 6 lc rgb "#333333" title "RSS above start"
}
unset multiplot
