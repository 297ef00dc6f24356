#!/bin/sh
# scripts/build.sh - build and install careflags, its plugins and its client.
set -eu
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
make -s PG_CONFIG="$PG_CONFIG" all
$SUDO make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
