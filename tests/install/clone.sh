#!/bin/sh
# tests/install/clone.sh - the repository alone runs the demo and the suite.
#
# Clones the repository (its committed HEAD, as CI checks it out) into a fresh
# temporary directory that has nothing beside the clone (no project folder
# next to it), and there runs, as a DBA would from a clone:
#   ./scripts/demo.sh                  bootstrap, build, install, its own
#                                      throwaway cluster, every demo step
#   ./scripts/test.sh on a few files   the FHIR files that read data/ and
#                                      tools/fhir-validate, and the static
#                                      self-containment check
# both against the PostgreSQL PG_CONFIG names (the one the suite uses).
# Prints one line per fact for tests/install/50_clone.sql:
#   clone=ok|failed  beside=<entries beside the clone>  demo_exit=N
#   suite_exit=N  outside=<count of lines naming a missing file or the
#   folder beside the checkout>  demo_finished=yes|no  suite_result=PASS|...
# The logs stay in $PGHOST/clone-*.log (the test cluster's directory).
# Afterwards the working tree's own build is installed again, so the rest of
# the suite runs what it was started with, not the clone's HEAD.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
logs=${PGHOST:?PGHOST must name the test cluster}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

if ! git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "clone=not-a-git-checkout"
    exit 0
fi
base=$(mktemp -d "${TMPDIR:-/tmp}/careflags-clone.XXXXXX")
chmod 755 "$base"          # the clusters run as postgres when we are root
trap 'rm -rf "$base"' EXIT
if git clone -q "$ROOT" "$base/careflags" >"$logs/clone-git.log" 2>&1; then
    echo "clone=ok"
else
    echo "clone=failed"; cat "$logs/clone-git.log"; exit 0
fi
echo "beside=$(ls -A "$base" | tr '\n' ' ')"

# A clean environment for the clone's scripts: no libpq target, no test
# selection of the outer run; PG_CONFIG passed through.  The clone's build
# runs with make -j2 (CAREFLAGS_CLONE_MAKEFLAGS changes it) to keep the step
# near a minute.
run_in_clone() {
    (cd "$base/careflags" &&
        env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u ROOT -u CAREFLAGS_TESTS \
            -u PG_PROVE_OPTS -u CAREFLAGS_KEEP_CLUSTER PG_CONFIG="$PG_CONFIG" \
            MAKEFLAGS="${CAREFLAGS_CLONE_MAKEFLAGS:--j2}" "$@")
}
run_in_clone ./scripts/demo.sh >"$logs/clone-demo.log" 2>&1
echo "demo_exit=$?"
run_in_clone env CAREFLAGS_TESTS="tests/core/90_self_contained.sql tests/fhir/03_synthea_flags.sql tests/fhir/04_flag_writeback.sql tests/fhir/99_validate_flags.sql" \
    ./scripts/test.sh >"$logs/clone-suite.log" 2>&1
echo "suite_exit=$?"

# Anything read from outside the clone shows as a missing file there (the
# directory beside it is empty) or names the project folder.
echo "outside=$(cat "$logs/clone-demo.log" "$logs/clone-suite.log" |
    grep -c -E 'No such file or directory|\.\./shar[e]d|/work/shar[e]d')"
grep -q '^demo finished' "$logs/clone-demo.log" && echo "demo_finished=yes" || echo "demo_finished=no"
echo "suite_result=$(sed -n 's/^Result: //p' "$logs/clone-suite.log" | tail -1)"
echo "suite_files=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\).*/\1 files, \2 tests/p' "$logs/clone-suite.log" | tail -1)"

# The clone installed its HEAD into PG_CONFIG's PostgreSQL: put the working
# tree's build back (already built by scripts/test.sh; only files are copied).
$SUDO make -s PG_CONFIG="$PG_CONFIG" install >"$logs/clone-reinstall.log" 2>&1
echo "reinstalled_exit=$?"
