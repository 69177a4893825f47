# Does memory come back?  One panel per map (and allocator) at the run's largest N: after
# each phase of the memory script, a bar as tall as the high-water mark so far, split into
# what the map holds, what the allocator holds for it (freed by the map, not yet given back
# to the OS), and what has been returned to the OS (view plot_memory_timeline).
load "plots/common.gp"
panels = q1(sprintf("SELECT group_concat(panel, ' ') FROM (SELECT DISTINCT panel FROM plot_memory_timeline WHERE run_id = %d ORDER BY panel)", run))
n = q1(sprintf("SELECT coalesce(max(n), 0) FROM plot_memory_timeline WHERE run_id = %d", run)) + 0
np = words(panels)
# one panel per map and one for the key: a single row while it fits
cols = np <= 3 ? np + 1 : np <= 5 ? 3 : 4
rows = int(ceil((np + 1) / (cols + 0.0)))
width = cols >= 4 ? 1800 : 1400
height = rows * 380 + 60
eval set_terminal
set output out

# phase names short enough for small panels; "+ trim" is malloc_trim(0) after the phase before
short_phase = "CASE phase WHEN 'delete_half' THEN 'delete half' WHEN 'delete_all' THEN 'delete all' WHEN 'trim' THEN '+ trim' WHEN 'trim_after_clear' THEN '+ trim' WHEN 'trim_after_destroy' THEN '+ trim' ELSE phase END"
os_color = "#d9d9d9"
alloc_color = "#404040"
set multiplot layout rows, cols title sprintf("does memory come back?%s u64->u64, uniform keys — %s", n > 0 ? " N = " . fmt_n(n) . "," : "", run_label)
if (np == 0) {
    eval empty_panel("no memory measurements in this run")
}
set style data histograms
set style histogram rowstacked gap 1
set boxwidth 0.75 relative
set xtics rotate by -40 left nomirror font ",9"
set ytics nomirror
set grid ytics
unset key
set yrange [0:*]
do for [p in panels] {
    m = p[1:strstrt(p, "/") - 1]
    a = p[strstrt(p, "/") + 1:]
    peak = q1(sprintf("SELECT max(high_water_mib) FROM plot_memory_timeline WHERE run_id = %d AND panel = '%s'", run, p)) + 0
    # small cases in KiB, so the axis does not read 0.02 0.04 ...
    sc = peak < 1 ? 1024 : 1
    unit = peak < 1 ? "KiB" : "MiB"
    set ylabel unit
    set title sprintf("%s (%s) — high-water %.1f %s", m, a, peak * sc, unit) font ",11"
    plot q(sprintf("SELECT %s, map_mib, allocator_mib, returned_mib FROM plot_memory_timeline WHERE run_id = %d AND panel = '%s' AND phase != 'start' ORDER BY phase_index", short_phase, run, p)) \
             using ($2 * sc):xtic(1) lc rgb color(m) fs solid 1.0 border lc rgb "#333333" title "held by the map", \
         '' using ($3 * sc) lc rgb alloc_color fs pattern 4 border lc rgb "#333333" title "held by the allocator", \
         '' using ($4 * sc) lc rgb os_color fs solid 1.0 border lc rgb "#999999" title "returned to the OS"
}
if (np > 0) {
    unset border; unset tics; unset ylabel; unset title; unset grid
    set xrange [0:1]; set yrange [0:1]
    set key left center vertical Left reverse nobox font ",10" samplen 2 spacing 1.5 maxcols 1
    set style fill solid 1.0 border lc rgb "#333333"
    plot -1 with boxes lc rgb "#888888" fs solid 1.0 title "held by the map (map's colour)", \
         -1 with boxes lc rgb alloc_color fs pattern 4 title "held by the allocator (freed, not given back)", \
         -1 with boxes lc rgb os_color fs solid 1.0 title "returned to the OS", \
         -1 with lines lc rgb "white" title "bar height: high-water mark so far", \
         -1 with lines lc rgb "white" title "+ trim: malloc_trim(0) after the previous phase"
}
unset multiplot
