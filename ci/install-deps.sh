#!/bin/sh
# Installs the Debian packages listed in ci/packages.txt that are missing.
# Fast when nothing is missing (one dpkg-query); says what it installs and why
# (the list's `why` column); fails with a clear message when it cannot (not
# root and no sudo, no network).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
list="$here/packages.txt"
pkgs=$(sed -e 's/#.*//' "$list" | awk 'NF { print $1 }')

installed=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null |
            awk '$NF == "installed" { print $1 }' | sed 's/:.*//')
missing=""
for p in $pkgs; do
    echo "$installed" | grep -qx "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

# One line per missing package: its name and why mapbench needs it.
why() {
    for p in $missing; do
        sed -e 's/#.*//' "$list" | awk -v p="$p" '$1 == p { $1 = ""; sub(/^ +/, ""); printf "  %-22s %s\n", p, $0 }'
    done
}
echo "mapbench: these Debian packages are missing (ci/packages.txt):"
why
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        echo "mapbench: error: cannot install them: I am not root and sudo needs a password" >&2
        echo "mapbench: run:  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/mapbench-apt.XXXXXX")
if ! $sudo apt-get update -qq >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "mapbench: error: apt-get update failed (log: $log); cannot install:$missing" >&2
    exit 1
fi
if ! $sudo apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "mapbench: error: apt-get install failed for:$missing (log: $log)" >&2
    exit 1
fi
rm -f "$log"
echo "mapbench: installed:$missing"
