# Shared by every plot script.  Variables set by `mapbench plot` (or by hand with -e):
#   db    path of the results database      out  output file      term  png | svg
#   run   run_id to draw (optional; default: the latest complete run).  Every plot view
#         carries run_id and every query here filters on it, so `mapbench plot --run ID`
#         draws an older run exactly as it was drawn when it was the latest.
if (!exists("term")) term = "png"
if (!exists("width")) width = 1400
if (!exists("height")) height = 900
set_terminal = 'if (term eq "svg") { set terminal svg size width,height dynamic noenhanced font "sans,12" background "white" } else { set terminal pngcairo size width,height noenhanced font "sans,11" background "white" }'
eval set_terminal
set output out
set grid lc rgb "#dddddd"
set key outside right top
set datafile separator "|"

# Rows of a query, through the sqlite3 shell ("|"-separated).  Write SQL with single
# quotes only.
q(sql) = sprintf('< sqlite3 -batch -noheader "%s" "%s"', db, sql)
# One value of a query ("" when it returns no row).
q1(sql) = system(sprintf('sqlite3 -batch -noheader "%s" "%s"', db, sql))

if (!exists("run")) run = q1("SELECT coalesce((SELECT run_id FROM latest_run), 0)") + 0
run = int(run)

# One colour per map, the same in every plot: `mapbench plot` passes map_colors, "name colour
# name colour ...", one pair per registered map (by its place in the registry) and the real
# Go map (harness/present/report.c).  By hand: -e "map_colors='oa_linear #1f77b4 ...'";
# a map without a colour is drawn in no_color, which is neither a palette colour nor the
# reference lines' black.
# Reference lines that are not maps (ns_per_op's floor, thread_scaling's ceiling): black,
# a colour the palette never gives a map (tests/test_rooms.py holds both to that).
ref_color = "#000000"
no_color = "#ff00ff"
if (!exists("map_colors")) map_colors = ""
color_at(m, i) = i >= words(map_colors) ? no_color : \
                 word(map_colors, i) eq m ? word(map_colors, i + 1) : color_at(m, i + 2)
color(m) = color_at(m, 1)

# A panel with nothing to draw says why instead of failing:  eval empty_panel("…")
empty_panel(msg) = sprintf('set label 99 "%s" at graph 0.5, graph 0.5 center front font ",13" tc rgb "#666666"; unset logscale; unset xtics; unset ytics; set xrange [0:1]; set yrange [0:1]; plot -1 notitle; unset label 99; set autoscale; set xtics; set ytics', msg)

# Sizes for titles: 1000000 -> "1e+06"-free text.
fmt_n(n) = n >= 1e6 && int(n) % 1000000 == 0 ? sprintf("%dM", int(n) / 1000000) : \
           n >= 1e3 && int(n) % 1000 == 0 ? sprintf("%dk", int(n) / 1000) : sprintf("%d", int(n))
run_label = q1(sprintf("SELECT 'run ' || run_id || ', ' || suite || ' suite, ' || substr(finished_at, 1, 16) || ' UTC, ' || coalesce(cpu_model, '?') FROM complete_run WHERE run_id = %d", run))

# Log-scale tics for a size axis, labelled 1k / 1M rather than 1e+03.
set_n_tics = 'set xtics ("10" 10, "100" 100, "1k" 1e3, "10k" 1e4, "100k" 1e5, "1M" 1e6, "10M" 1e7, "100M" 1e8); set mxtics 10'
# A panel that shows only the key (one entry per map in `impls`), for multiplots.
key_setup = 'unset border; unset tics; unset xlabel; unset ylabel; unset title; unset arrow; unset label; unset logscale; unset grid; set xrange [0:1]; set yrange [0:1]; set key center center vertical Left reverse noopaque nobox font ",11"'
key_plot = 'plot for [m in impls] -1 with linespoints lw 2 pt 7 lc rgb color(m) title m; set border; set tics; set grid'
key_panel = key_setup . '; ' . key_plot
