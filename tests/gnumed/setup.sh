#!/bin/sh
# tests/gnumed/setup.sh - prepares the GNUmed suite: the real GNUmed database
# gnumed_v22, built by Debian's gnumed-server bootstrap in the running
# (private) cluster, with pgtap, careflags and careflags_gnumed installed.
#
# Run by scripts/test.sh after the cluster started (PGHOST, PGPORT, PGUSER
# set; ROOT is the repository root).  GNUmed's bootstrap runs psql through
# `su -l postgres` on port GM_DB_PORT, so the cluster's socket must also be
# in /var/run/postgresql (scripts/test.sh arranges that when run as root).
#
# The outcome goes to "$PGHOST/careflags_gnumed.status": "ready", or the
# reason the GNUmed tests cannot run; the test files then plan a visible
# skip with that reason.  With CAREFLAGS_GNUMED_REQUIRED=1 (CI) a failure
# exits non-zero instead.
#
#   CAREFLAGS_GNUMED_TEMPLATE=db   copy gnumed_v22 from an already bootstrapped
#                                  database of the cluster instead of
#                                  bootstrapping (development); the copy is
#                                  made read-only by default, as GNUmed's
#                                  bootstrap leaves gnumed_v22 (a copy does
#                                  not inherit database settings)
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
STATUS="$PGHOST/careflags_gnumed.status"
LOG="$PGHOST/careflags_gnumed.log"
BOOTSTRAP_DIR=/var/lib/gnumed/server/bootstrap
: >"$LOG"

unavailable() {
    echo "# GNUmed suite unavailable: $1" >&2
    printf 'unavailable: %s\n' "$1" >"$STATUS"
    if [ "${CAREFLAGS_GNUMED_REQUIRED:-0}" = 1 ]; then
        echo "--- $LOG (last 40 lines) ---" >&2
        tail -n 40 "$LOG" >&2
        exit 1
    fi
    exit 0
}

psql_gm() { psql -X -q -v ON_ERROR_STOP=1 -d gnumed_v22 "$@"; }

echo "not prepared: tests/gnumed/setup.sh did not finish" >"$STATUS"

if [ -n "${CAREFLAGS_GNUMED_TEMPLATE:-}" ]; then
    psql -X -q -v ON_ERROR_STOP=1 -d postgres \
         -c 'DROP DATABASE IF EXISTS gnumed_v22' \
         -c "CREATE DATABASE gnumed_v22 TEMPLATE \"$CAREFLAGS_GNUMED_TEMPLATE\"" \
         -c 'ALTER DATABASE gnumed_v22 SET default_transaction_read_only = on' >>"$LOG" 2>&1 ||
        unavailable "cannot copy $CAREFLAGS_GNUMED_TEMPLATE (see $LOG)"
else
    # 1. Debian's gnumed-server, without starting or creating a system cluster.
    if [ ! -x "$BOOTSTRAP_DIR/bootstrap-latest.sh" ]; then
        [ "$(id -u)" -eq 0 ] || unavailable "gnumed-server is not installed and installing it needs root"
        if ! grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*false' \
                /etc/postgresql-common/createcluster.conf 2>/dev/null; then
            mkdir -p /etc/postgresql-common
            echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
        fi
        echo "# installing gnumed-server"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
            --no-install-recommends gnumed-server >>"$LOG" 2>&1 ||
            unavailable "apt-get install gnumed-server failed (see $LOG)"
    fi
    [ "$(id -u)" -eq 0 ] || unavailable "GNUmed's bootstrap must run as root (it uses su -l postgres)"
    [ -S "/var/run/postgresql/.s.PGSQL.$PGPORT" ] ||
        unavailable "the cluster's socket is not in /var/run/postgresql (GNUmed's bootstrap needs it there)"

    # 2. The bootstrap: builds gnumed_v2 and upgrades it step by step to v22.
    echo "# bootstrapping gnumed_v22 (takes a few minutes)"
    start=$(date +%s)
    (cd "$BOOTSTRAP_DIR" && GM_DB_PORT=$PGPORT GM_LOG_BASE=$PGHOST ./bootstrap-latest.sh quiet) \
        </dev/null >>"$LOG" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    echo "# GNUmed bootstrap: exit $rc after ${secs}s"
    psql -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'gnumed_v22'" 2>>"$LOG" | grep -q 1 ||
        unavailable "GNUmed bootstrap did not create gnumed_v22 (exit $rc; see $LOG and $PGHOST/bootstrap-latest.log)"
    # The previous version's staging database is left behind by the bootstrap.
    psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS gnumed_v21' >>"$LOG" 2>&1
fi

# 3. GNUmed data written before careflags is installed (backfill test): an
#    existing test patient, Laborata Testwoman, is admitted to a nursing home
#    by GNUmed's test doctor, the way the client writes a stay.
psql_gm >>"$LOG" 2>&1 <<'SQL' || unavailable "writing the pre-install GNUmed data failed (see $LOG)"
SET default_transaction_read_only = off;
BEGIN;
SET LOCAL ROLE "any-doc";
INSERT INTO dem.org_category (description) VALUES ('Nursing Home');
INSERT INTO dem.org (description, fk_category)
    VALUES ('Enterprise Nursing Home', (SELECT pk FROM dem.org_category WHERE description = 'Nursing Home'));
INSERT INTO dem.org_unit (description, fk_org)
    VALUES ('Long-term Ward', (SELECT pk FROM dem.org WHERE description = 'Enterprise Nursing Home'));
INSERT INTO clin.episode (fk_encounter, description, is_open)
    VALUES ((SELECT max(pk) FROM clin.encounter WHERE fk_patient = 13), 'nursing home stay', true);
INSERT INTO clin.hospital_stay (fk_encounter, fk_episode, fk_org_unit)
    VALUES ((SELECT max(pk) FROM clin.encounter WHERE fk_patient = 13),
            (SELECT max(pk) FROM clin.episode WHERE description = 'nursing home stay'),
            (SELECT pk FROM dem.org_unit WHERE description = 'Long-term Ward'));
UPDATE clin.hospital_stay SET clin_when = now() - interval '20 days'
 WHERE fk_org_unit = (SELECT pk FROM dem.org_unit WHERE description = 'Long-term Ward');
COMMIT;
SQL

# 4. pgTAP, careflags and the plugin (the plugin backfills at CREATE EXTENSION).
start=$(date +%s)
psql_gm >>"$LOG" 2>&1 <<'SQL' || unavailable "CREATE EXTENSION careflags_gnumed failed in gnumed_v22 (see $LOG)"
SET default_transaction_read_only = off;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS careflags;
CREATE EXTENSION careflags_gnumed;
SQL
echo "# careflags and careflags_gnumed installed into gnumed_v22 in $(( $(date +%s) - start ))s"
echo ready >"$STATUS"
