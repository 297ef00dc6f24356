#!/bin/sh
# tests/gnumed/dump_restore.sh - a GNUmed practice's backup and restore with
# careflags_gnumed installed (issue 17, problem 2), driven by
# tests/gnumed/90_dump_restore.sql against the test cluster (PGHOST, PGPORT).
#
#   dump_restore.sh prepare   gnumed_practice: a copy of gnumed_v22 with a
#                             practice's state (tests/gnumed/practice.psql)
#   dump_restore.sh plain     pg_dump -Fc gnumed_practice, pg_restore into the
#                             new database gnumed_restored section by section
#                             (pre-data, data, post-data); after each section
#                             every person's hints are read as any-doc.
#                             Prints "restore_errors=N hints_pre-data=E
#                             hints_data=E hints_post-data=E" (E: how many
#                             hints GNUmed shows as "ERROR checking ...", or
#                             "failed" when reading hints failed)
#   dump_restore.sh gnumed    GNUmed's own commands: gm-backup's pg_dump (as
#                             gm-dbo, directory format, --column-inserts
#                             --clean --if-exists) and gm-restore's
#                             "pg_restore --create | psql" into template1.
#                             The source is renamed gnumed_practice_src first
#                             (the dump re-creates gnumed_practice).  Prints
#                             "dump_rc=N restore_errors=N"
#   dump_restore.sh clean     drops what the steps made
#
# gm-restore itself is interactive (it opens an editor on the roles file and
# asks for confirmation) and reads its port from /etc/gnumed: its commands
# are run here as it runs them.
set -u
cmd=${1:?usage: dump_restore.sh prepare|plain|gnumed|clean}
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
work=${PGHOST:?}/gnumed-dump
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# A database can only be copied while nobody is connected to it.
kick() {
    psql_q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
}
hint_errors() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" 2>/dev/null <<'SQL' || echo failed
BEGIN READ ONLY;
SET LOCAL ROLE "any-doc";
SELECT count(*) FROM dem.identity i, clin.get_hints_for_patient(i.pk) h WHERE h.title LIKE 'ERROR%';
ROLLBACK;
SQL
}
case $cmd in
prepare)
    kick gnumed_v22
    psql_q -d postgres -c 'DROP DATABASE IF EXISTS gnumed_practice' -c 'DROP DATABASE IF EXISTS gnumed_practice_src' \
           -c 'CREATE DATABASE gnumed_practice TEMPLATE gnumed_v22' >/dev/null &&
    # A practice's database is read-only by default, as GNUmed's bootstrap
    # leaves gnumed_v22 (a copy made from a template does not inherit it).
    psql_q -d gnumed_practice -f "$here/practice.psql" >/dev/null &&
    psql_q -d postgres -c 'ALTER DATABASE gnumed_practice SET default_transaction_read_only = on' >/dev/null &&
    echo "prepared read_only=$(psql -X -At -d gnumed_practice -c 'SHOW default_transaction_read_only')"
    ;;
plain)
    rm -rf "$work"; mkdir -p "$work"
    "$PGBIN/pg_dump" -Fc -f "$work/practice.dump" gnumed_practice || { echo "dump failed"; exit 0; }
    psql_q -d postgres -c 'DROP DATABASE IF EXISTS gnumed_restored' -c 'CREATE DATABASE gnumed_restored' >/dev/null
    errors=0
    out="restore_errors"
    for section in pre-data data post-data; do
        "$PGBIN/pg_restore" --section=$section -d gnumed_restored "$work/practice.dump" >>"$work/plain.log" 2>&1
        errors=$(grep -c 'error' "$work/plain.log")
        out="$out hints_$section=$(hint_errors gnumed_restored)"
    done
    echo "$out" | sed "s/^restore_errors/restore_errors=$errors/"
    ;;
gnumed)
    rm -rf "$work/gm"; mkdir -p "$work/gm"; chmod 777 "$work" "$work/gm"
    # gm-backup, as it runs pg_dump (its stderr goes to /dev/null there)
    "$PGBIN/pg_dump" --format=directory --compress=0 --column-inserts --clean --if-exists --serializable-deferrable \
        --username=gm-dbo --file="$work/gm/backup.dir" gnumed_practice >"$work/gm/dump.log" 2>&1
    dump_rc=$?
    kick gnumed_practice
    psql_q -d postgres -c 'ALTER DATABASE gnumed_practice RENAME TO gnumed_practice_src' >/dev/null
    # gm-restore, as it runs pg_restore: without the dump's read-only
    # default (every later statement of the restore would fail), set again
    # once the restore is done
    "$PGBIN/pg_restore" --create --file=- "$work/gm/backup.dir" 2>>"$work/gm/restore.log" |
        grep --ignore-case --invert-match --regexp="alter database gnumed_practice set default_transaction_read_only to.*on" |
        psql --echo-errors --dbname=template1 --no-psqlrc >>"$work/gm/restore.log" 2>&1
    psql_q -d postgres -c 'ALTER DATABASE gnumed_practice SET default_transaction_read_only = on' >>"$work/gm/restore.log" 2>&1
    echo "dump_rc=$dump_rc restore_errors=$(grep -c 'ERROR' "$work/gm/restore.log") read_only=$(psql -X -At -d gnumed_practice -c 'SHOW default_transaction_read_only')"
    ;;
clean)
    for db in gnumed_practice gnumed_practice_src gnumed_restored; do kick $db; done
    psql_q -d postgres -c 'DROP DATABASE IF EXISTS gnumed_practice' -c 'DROP DATABASE IF EXISTS gnumed_practice_src' \
           -c 'DROP DATABASE IF EXISTS gnumed_restored' >/dev/null
    rm -rf "$work"
    ;;
esac
