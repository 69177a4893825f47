#!/bin/sh
# ci/shards-parallel.sh — one plan in N shards on the hosts of a GNU parallel
# sshloginfile (Debian package parallel), then one merge into one run.
#
# usage: ci/shards-parallel.sh N SSHLOGINFILE OUTDIR [mapbench run flags...]
#   N             shards (`mapbench run --shard I/N`: LPT over the plan's cost)
#   SSHLOGINFILE  GNU parallel's: one host a line; ':' is this machine
#   OUTDIR        where shard-I.db (and its .progress) come back, and merged.db
# environment:
#   MAPBENCH  the mapbench binary, the same build at the same absolute path on
#             every host (default: this checkout's build/mapbench)
#   RUN_SET   the run set id every shard stores (default: ps-<time>-<pid>, so
#             two sharded runs of one plan stay two runs)
#   MERGE_FLAGS  e.g. --allow-mixed when the hosts differ in CPU or build
#
# One shard at a time per host (--jobs 1): a shard's timing units must run
# alone on their machine; give a shard `--jobs 2` among the run flags to run
# its memory and icount units two wide.  Shard I writes shard-I.db in the
# host's login directory; --return brings it (and shard-I.db.progress) back
# into OUTDIR.  While the shards run, `mapbench merge --progress` prints one
# line for the whole run every 30 s from the progress files it can see (the
# local host's as they change; a remote host's come back with its database).
set -eu
if [ $# -lt 3 ]; then
    echo "usage: ci/shards-parallel.sh N SSHLOGINFILE OUTDIR [mapbench run flags...]" >&2
    exit 2
fi
N=$1
LOGINS=$(realpath "$2")
OUT=$3
shift 3
HERE=$(cd "$(dirname "$0")/.." && pwd)
MB=$(realpath "${MAPBENCH:-$HERE/build/mapbench}")
RUN_SET=${RUN_SET:-ps-$(date +%s)-$$}
mkdir -p "$OUT"
cd "$OUT"
SHARDS=$(seq 1 "$N")
DBS=$(for i in $SHARDS; do printf 'shard-%s.db ' "$i"; done)
# -q: the run flags are passed as words (u64->u64 holds a '>')
parallel -q --sshloginfile "$LOGINS" --jobs 1 --halt now,fail=1 \
    --return 'shard-{}.db' --return 'shard-{}.db.progress' \
    "$MB" run --shard '{}'/"$N" --run-set "$RUN_SET" --db 'shard-{}.db' "$@" ::: $SHARDS &
PAR=$!
while kill -0 "$PAR" 2>/dev/null; do
    sleep 30
    # shellcheck disable=SC2086
    kill -0 "$PAR" 2>/dev/null && "$MB" merge --progress $DBS || true
done
wait "$PAR"
# shellcheck disable=SC2086
"$MB" merge ${MERGE_FLAGS:-} --db merged.db $DBS
