#!/bin/sh
# Installs the Debian packages listed in ci/packages.txt that are missing.
# Fast when nothing is missing (one dpkg-query); says what it installs; fails
# with a clear message when it cannot (not root and no sudo, no network).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(sed -e 's/#.*//' "$here/packages.txt" | awk 'NF { print $1 }')

installed=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null |
            awk '$NF == "installed" { print $1 }' | sed 's/:.*//')
missing=""
for p in $pkgs; do
    echo "$installed" | grep -qx "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "mapbench: installing missing Debian packages:$missing"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        echo "mapbench: error: these Debian packages are missing and I am not root:$missing" >&2
        echo "mapbench: run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq; then
    echo "mapbench: error: apt-get update failed; cannot install:$missing" >&2
    exit 1
fi
if ! $sudo apt-get install -y -qq --no-install-recommends $missing >/tmp/mapbench-apt.log 2>&1; then
    tail -20 /tmp/mapbench-apt.log >&2
    echo "mapbench: error: apt-get install failed for:$missing (log: /tmp/mapbench-apt.log)" >&2
    exit 1
fi
echo "mapbench: installed:$missing"
