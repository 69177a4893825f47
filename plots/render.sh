#!/bin/sh
# Renders every plots/*.gp (except common.gp) into OUTDIR as PNG and SVG.
# usage: plots/render.sh MAPBENCH DB OUTDIR
set -eu
if [ $# -ne 3 ]; then
    echo "usage: plots/render.sh MAPBENCH DB OUTDIR" >&2
    exit 2
fi
mapbench=$1 db=$2 outdir=$3
cd "$(dirname "$0")/.."
if [ ! -f "$db" ]; then
    echo "plots: no database at $db (run \`make bench\` first)" >&2
    exit 1
fi
runs=$("$mapbench" query "SELECT count(*) AS n FROM complete_run" --db "$db" --format csv | tail -1 | tr -d '\r')
if [ "$runs" = "0" ]; then
    echo "plots: $db holds no complete run" >&2
    exit 1
fi
mkdir -p "$outdir"
count=0
for script in plots/*.gp; do
    name=$(basename "$script" .gp)
    [ "$name" = common ] && continue
    for term in png svg; do
        gnuplot -e "db='$db'; out='$outdir/$name.$term'; term='$term'" "$script"
    done
    count=$((count + 1))
done
echo "plots: rendered $count plots (PNG and SVG) into $outdir/"
