#!/bin/sh
# scripts/demo.sh - the main job: see careflags work, from a clean machine.
#
# Installs what is missing, builds and installs careflags, starts a private
# throwaway cluster, creates the extension in a database "careflags_demo",
# loads a generated demo population and runs each step of scripts/demo.d/ in
# name order (each prints what there is to see).  The cluster is stopped and
# removed at the end, also when a step fails.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export ROOT

./scripts/bootstrap.sh
./scripts/build.sh

. ./scripts/cluster.sh
cluster_start "careflags.worker_database = 'careflags_demo'" "careflags.worker_interval = 5"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE careflags_demo" >/dev/null
export PGDATABASE=careflags_demo
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION careflags" >/dev/null

for step in scripts/demo.d/*; do
    [ -f "$step" ] || continue
    case $step in
        *.sql) psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f "$step" ;;
        *.sh)  sh "$step" ;;
    esac
done
echo
echo "demo finished; the throwaway cluster is removed now."
