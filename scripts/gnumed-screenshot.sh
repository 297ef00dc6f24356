#!/bin/sh
# scripts/gnumed-screenshot.sh - pictures of the real GNUmed desktop client
# showing careflags' hints for a demo resident, in a database restored from a
# practice's backup (documentation: docs/img/, README.md, plugins/gnumed/README.md).
#
#   PG_CONFIG=.../pg_config scripts/gnumed-screenshot.sh [OUTDIR]   (default docs/img)
#
# Steps, all in a private throwaway cluster (the system cluster is not touched):
#   1. builds and installs careflags into PG_CONFIG (scripts/build.sh);
#   2. starts a cluster that also listens on 127.0.0.1 (the client logs in over
#      TCP) with fsync, track_commit_timestamp and connection logging on: the
#      client refuses a database with fsync off (it shows "Verifying database
#      settings" and goes back to its login dialog) and warns about the others;
#   3. builds gnumed_v22 with Debian's gnumed-server bootstrap and installs
#      careflags and careflags_gnumed (tests/gnumed/setup.sh; about 10 minutes);
#   4. writes the demo resident Ingrid Berg (scripts/gnumed-demo-patient.psql):
#      several careflags actions open (nutrition screening, medication review,
#      fall-risk assessment after a fall, fall-prevention plan);
#   5. backs gnumed_v22 up and restores it as a practice does with GNUmed's own
#      tools: gm-backup's pg_dump (as gm-dbo, directory format), DROP DATABASE,
#      gm-restore's "pg_restore --create | grep -v <read-only setting> | psql
#      template1", then the read-only default again; stops unless the
#      restore is free of errors and the resident's careflags hints are the
#      same as before the backup;
#   6. shoots the RESTORED database with ../shared/tools/gnumed-ui-shot.sh
#      (the real client under Xvfb): OUTDIR/gnumed-hints-restored-nb.png (the
#      Overview, its "Reminders" list) and OUTDIR/gnumed-hint-popup-restored-nb.png
#      (the "Dynamic hint" popup GNUmed opens when the chart is opened).
#
# Needs root (GNUmed's bootstrap runs psql through su -l postgres; the client is
# run as "nobody"), the Debian packages gnumed-server, gnumed-client, xvfb,
# xdotool, imagemagick, and the screenshot tool (GNUMED_UI_SHOT, default
# ../shared/tools/gnumed-ui-shot.sh next to the repository).  Takes 15-20
# minutes, mostly GNUmed's bootstrap.  Not part of the test suite (it needs an
# X server and minutes); tests/gnumed/90_dump_restore.sql tests the restore.
#
#   CAREFLAGS_KEEP_CLUSTER=1   keep the cluster directory afterwards
#   GNUMED_UI_TIMEOUT=SEC      time limit of one client run (default 480)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
PATH="$PGBIN:$PATH"
export ROOT PG_CONFIG PGBIN PATH
OUTDIR=${1:-docs/img}
case "$OUTDIR" in /*) ;; *) OUTDIR="$ROOT/$OUTDIR" ;; esac
SHOT=${GNUMED_UI_SHOT:-$ROOT/../shared/tools/gnumed-ui-shot.sh}
UI_TIMEOUT=${GNUMED_UI_TIMEOUT:-480}
start_ts=$(date +%s)
say() { echo "# [$(( $(date +%s) - start_ts ))s] $*"; }
fail() { echo "gnumed-screenshot: $*" >&2; exit 1; }

# ------------------------------------------------------------ preconditions
if [ ! -x "$SHOT" ]; then
    fail "the screenshot tool $SHOT is absent: this script needs it (it drives the real GNUmed client
under Xvfb); set GNUMED_UI_SHOT=/path/to/gnumed-ui-shot.sh.  Nothing was done."
fi
[ "$(id -u)" -eq 0 ] || fail "must run as root (GNUmed's bootstrap uses su -l postgres)"
for tool in Xvfb xdotool import gnumed timeout; do
    command -v "$tool" >/dev/null ||
        fail "missing $tool (apt-get install xvfb xdotool imagemagick gnumed-client coreutils)"
done
[ -x /var/lib/gnumed/server/bootstrap/bootstrap-latest.sh ] ||
    fail "missing Debian's gnumed-server (apt-get install --no-install-recommends gnumed-server)"
mkdir -p "$OUTDIR"

# ------------------------------------------------------------ 1. build
say "building and installing careflags into $PG_CONFIG"
./scripts/build.sh >/dev/null

# ------------------------------------------------------------ 2. cluster
. ./scripts/cluster.sh
mkdir -p /var/run/postgresql && chown postgres: /var/run/postgresql
CLUSTER_EXTRA_SOCKET_DIRS=/var/run/postgresql
cluster_start "listen_addresses = '127.0.0.1'" "fsync = on" "track_commit_timestamp = on" \
              "log_connections = on" "log_disconnections = on"
say "cluster $CLUSTER_DIR on port $PGPORT"
WORK=$CLUSTER_DIR/screenshot
mkdir -p "$WORK"; chmod 777 "$WORK"

# ------------------------------------------------------------ 3. GNUmed database
say "bootstrapping gnumed_v22 and installing careflags_gnumed (about 10 minutes)"
CAREFLAGS_GNUMED_REQUIRED=1 ./tests/gnumed/setup.sh
[ "$(cat "$PGHOST/careflags_gnumed.status")" = ready ] || fail "$(cat "$PGHOST/careflags_gnumed.status")"

# ------------------------------------------------------------ 4. demo resident
pk=$(psql -X -q -At -d gnumed_v22 -f scripts/gnumed-demo-patient.psql | sed -n 's/^demo_pk=//p')
[ -n "$pk" ] || fail "the demo resident was not written"
hints() {
    psql -X -q -At -F ' | ' -v ON_ERROR_STOP=1 -d gnumed_v22 -v pk="$pk" <<'SQL'
BEGIN READ ONLY;
SET LOCAL ROLE "any-doc";
SELECT title, recommendation FROM clin.get_hints_for_patient(:pk)
 WHERE title ~ 'careflags|ERROR' OR source ~ 'careflags' ORDER BY 1, 2;
ROLLBACK;
SQL
}
hints >"$WORK/hints-before.txt"
say "demo resident pk $pk, careflags hints before the backup:"
sed 's/^/#   /' "$WORK/hints-before.txt"
[ -s "$WORK/hints-before.txt" ] || fail "no careflags hint for the demo resident"

# ------------------------------------------------------------ 5. backup and restore
kick() {
    psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                               WHERE datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
}
say "backup as gm-backup does it (pg_dump as gm-dbo, directory format)"
pg_dump --format=directory --compress=0 --column-inserts --clean --if-exists --serializable-deferrable \
    --username=gm-dbo --file="$WORK/backup.dir" gnumed_v22 >"$WORK/dump.log" 2>&1 ||
    fail "pg_dump failed: $(tail -3 "$WORK/dump.log")"
say "the practice's database is lost: DROP DATABASE gnumed_v22"
kick gnumed_v22
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'DROP DATABASE gnumed_v22'
say "restore as gm-restore does it (pg_restore --create | psql template1)"
# gm-restore drops the dump's "ALTER DATABASE ... SET default_transaction_read_only
# TO 'on'" (else every later statement of the restore fails) and sets it again
# afterwards (gm-adjust_db_settings)
pg_restore --create --file=- "$WORK/backup.dir" 2>>"$WORK/restore.log" |
    grep --ignore-case --invert-match --regexp="alter database gnumed_v22 set default_transaction_read_only to.*on" - |
    psql --echo-errors --dbname=template1 --no-psqlrc >>"$WORK/restore.log" 2>&1
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'ALTER DATABASE gnumed_v22 SET default_transaction_read_only = on'
errors=$(grep -c 'ERROR' "$WORK/restore.log" || true)
[ "$errors" = 0 ] || fail "the restore reported $errors errors, e.g. $(grep -m3 ERROR "$WORK/restore.log")"
hints >"$WORK/hints-after.txt"
cmp -s "$WORK/hints-before.txt" "$WORK/hints-after.txt" ||
    fail "the restored database shows other hints: $(diff "$WORK/hints-before.txt" "$WORK/hints-after.txt")"
say "restored without errors; the resident's careflags hints are the same"

# ------------------------------------------------------------ 6. screenshots
# ImageMagick's import can block for good (holding the X server) when the
# window it is asked to capture disappears meanwhile, e.g. GNUmed's "configuring
# plugins" progress box: give every capture of the tool 10 seconds at most.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexec timeout -k 2 10 %s "$@"\n' "$(command -v import)" >"$WORK/bin/import"
chmod 755 "$WORK/bin/import"
shoot() {
    # shoot OUT [tool options...]
    out=$1; shift
    PATH="$WORK/bin:$PATH" GM_HOST=127.0.0.1 GM_PORT=$PGPORT GM_DB=gnumed_v22 \
        "$SHOT" --timeout "$UI_TIMEOUT" "$@" "$pk" "$out"
}
first_title=$(psql -X -q -At -d gnumed_v22 -c "
    SELECT title FROM clin.get_hints_for_patient($pk) WHERE source ~ 'careflags' AND popup_type > 0
     ORDER BY popup_type, title LIMIT 1")
say "shooting the popup GNUmed opens with the chart (hint \"$first_title\")"
shoot "$OUTDIR/gnumed-hint-popup-restored-nb.png" --hint "$first_title" || fail "the popup shot failed"
say "shooting the Overview after all popups"
shoot "$OUTDIR/gnumed-hints-restored-nb.png" || fail "the Overview shot failed"
say "done: $OUTDIR/gnumed-hint-popup-restored-nb.png $OUTDIR/gnumed-hints-restored-nb.png"
