#!/bin/sh
# Renders every plots/*.gp (except common.gp) into OUTDIR as PNG and SVG, for the
# latest complete run or run RUN.  The work is done by `mapbench plot`; this is the
# same thing for people who start from the scripts.
# usage: plots/render.sh MAPBENCH DB OUTDIR [RUN]
set -eu
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: plots/render.sh MAPBENCH DB OUTDIR [RUN]" >&2
    exit 2
fi
mapbench=$1 db=$2 outdir=$3
if [ ! -f "$db" ]; then
    echo "plots: no database at $db (run \`make bench\` first)" >&2
    exit 1
fi
exec "$mapbench" plot --db "$db" --out "$outdir" ${4:+--run "$4"}
