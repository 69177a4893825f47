#!/bin/sh
# The CI recipe: quick bench with instruction counts -> gate against a stored
# baseline database -> plots, report and database kept as artifacts.
#
# usage: ci/gate.sh BASELINE.db [ARTIFACTS_DIR]
#   BASELINE.db    the baseline results database, kept by the CI system between
#                  runs (a cache, or an artifact of the main branch's last run).
#                  If it does not exist yet, this run becomes the baseline.
#   ARTIFACTS_DIR  where the plots, report.html and ci.db go (default: artifacts)
# Exit status: the gate's (0 pass, 1 regression, 2 cannot judge); 3 when the
# bench itself failed (a wrong checksum fails the run before any gate).
# MB_CI_SELECTION replaces the default selection (e.g. "--impl swiss --n 5000").
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
    echo "usage: ci/gate.sh BASELINE.db [ARTIFACTS_DIR]" >&2
    [ $# -ge 1 ] && [ "$1" != "--help" ] && [ "$1" != "-h" ] && exit 2
    [ $# -ge 1 ] && exit 0
    exit 2
fi
baseline=$1 artifacts=${2:-artifacts}
cd "$(dirname "$0")/.."
make --no-print-directory build >/dev/null || exit 3
mapbench=build/mapbench
mkdir -p "$artifacts" results
db=results/ci.db
rm -f "$db" "$db-wal" "$db-shm"

# Quick suite at sizes callgrind gets through in minutes; wall time, memory,
# latency and churn too, so the artifacts show everything.
selection=${MB_CI_SELECTION:---n 1000,20000}
# shellcheck disable=SC2086 # the selection is a list of flags
"$mapbench" run --suite quick $selection --metric time,memory,icount --db "$db" || exit 3

status=0
if [ -f "$baseline" ]; then
    "$mapbench" gate --db "$db" --baseline "$baseline"
    status=$?
else
    echo "ci/gate.sh: no baseline at $baseline yet: this run becomes the baseline"
    cp "$db" "$baseline"
fi
"$mapbench" report --db "$db" --out "$artifacts/report.html" >/dev/null || true
cp "$db" "$artifacts/ci.db"
echo "ci/gate.sh: gate exit $status; artifacts in $artifacts/ (report.html, plots/, ci.db)"
exit $status
