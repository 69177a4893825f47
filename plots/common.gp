# Shared by every plot script.  Variables set by plots/render.sh:
#   db   path of the results database      out  output file      term  png | svg
if (term eq "svg") {
    set terminal svg size 1400,900 dynamic noenhanced font "sans,12" background "white"
} else {
    set terminal pngcairo size 1400,900 noenhanced font "sans,11" background "white"
}
set output out
set grid lc rgb "#dddddd"
set key outside right top
set datafile separator "|"

# Rows of a query, through the sqlite3 shell ("|"-separated).
q(sql) = sprintf('< sqlite3 -batch -noheader "%s" "%s"', db, sql)
# One value of a query.
q1(sql) = system(sprintf('sqlite3 -batch -noheader "%s" "%s"', db, sql))

# One colour per map, the same in every plot.
color(m) = m eq "oa_linear" ? "#1f77b4" : m eq "oa_robinhood" ? "#aec7e8" : \
           m eq "swiss" ? "#d62728" : m eq "chained" ? "#2ca02c" : \
           m eq "chained_pool" ? "#98df8a" : m eq "sharded" ? "#9467bd" : \
           m eq "locked" ? "#c5b0d5" : m eq "arena" ? "#8c564b" : \
           m eq "gomap" ? "#17becf" : m eq "uthash" ? "#7f7f7f" : \
           m eq "stb_ds" ? "#bcbd22" : m eq "glib" ? "#e377c2" : \
           m eq "absl" ? "#ff7f0e" : "#000000"
