#!/bin/sh
# bench/flagship_icount.sh — instructions per op of each map and phase of
# bench/flagship.cc, under callgrind (collection on around the phase only).
#   bench/flagship_icount.sh [BUILD_DIR] [N] [maps...]
# Prints "map phase N Ir/op".  Deterministic: the machine's load does not
# change the counts.
set -eu
build=${1:-build}
n=${2:-100000}
shift 2 2>/dev/null || shift $#
maps=${*:-flat15 swiss boost_xmx boost_mb}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for map in $maps; do
    for phase in insert hit miss delete; do
        out="$tmp/cg.$map.$phase"
        valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" \
            "$build/mb_flagship_bench" --icount "$map" "$phase" "$n" >"$tmp/stdout" 2>"$tmp/stderr" ||
            { cat "$tmp/stderr" >&2; exit 1; }
        ops=$(awk '/^ops /{print $2}' "$tmp/stdout")
        ir=$(awk '/^(summary|totals):/{print $2; exit}' "$out")
        awk -v m="$map" -v p="$phase" -v n="$ops" -v ir="$ir" \
            'BEGIN{printf "%-10s %-7s N=%-9s %8.1f Ir/op\n", m, p, n, ir / n}'
    done
done
