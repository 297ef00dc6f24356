# tests/reliability/drivers/private_cluster.sh - a cluster that may be killed.
#
# Sourced by the drivers.  pc_start initdb's a fresh cluster in a temporary
# directory (socket there, no TCP, a free port), with careflags preloaded and
# its background worker on database $PC_DB every second; it exports PGHOST,
# PGPORT, PGUSER for it.  pc_stop stops it and removes the directory.  The
# caller owns the exit trap (these functions set none).  The server runs as
# the postgres user when we are root.

PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
PC_DB=${PC_DB:-careflags_rel}

pc_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pc_start [extra postgresql.conf lines...]
pc_start() {
    PC_DIR=$(mktemp -d /tmp/careflags-rel.XXXXXX)
    chmod 755 "$PC_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PC_DIR"
    pc_as_owner "$PGBIN/initdb" -D "$PC_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$PC_DIR/initdb.log" 2>&1 || { cat "$PC_DIR/initdb.log" >&2; return 1; }
    pc_port=$(( 40000 + ($$ % 9000) ))
    while [ -e "/tmp/.s.PGSQL.$pc_port" ] || (ss -ltnx 2>/dev/null | grep -q "PGSQL.$pc_port"); do
        pc_port=$((pc_port + 1))
    done
    {
        echo "listen_addresses = ''"
        echo "port = $pc_port"
        echo "unix_socket_directories = '$PC_DIR'"
        echo "shared_preload_libraries = 'careflags'"
        echo "careflags.worker_database = '$PC_DB'"
        echo "careflags.worker_interval = 1"
        echo "max_connections = 60"
        echo "restart_after_crash = on"
        echo "log_min_messages = warning"
        echo "timezone = 'UTC'"
        for line in "$@"; do echo "$line"; done
    } >>"$PC_DIR/data/postgresql.conf"
    pc_as_owner "$PGBIN/pg_ctl" -D "$PC_DIR/data" -l "$PC_DIR/server.log" -w start >/dev/null ||
        { cat "$PC_DIR/server.log" >&2; return 1; }
    export PGHOST="$PC_DIR" PGPORT="$pc_port" PGUSER=postgres
    unset PGDATABASE
}

pc_stop() {
    if [ -n "${PC_DIR:-}" ] && [ -d "$PC_DIR" ]; then
        pc_as_owner "$PGBIN/pg_ctl" -D "$PC_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        if [ "${CAREFLAGS_KEEP_CLUSTER:-0}" = 1 ]; then
            echo "# reliability cluster kept in $PC_DIR" >&2
        else
            rm -rf "$PC_DIR"
        fi
    fi
}

# pc_wait_ready SECONDS: wait until the server accepts connections again
# (after crash recovery); fails after SECONDS.
pc_wait_ready() {
    i=0
    while ! "$PGBIN/pg_isready" -q -d postgres; do
        i=$((i + 1))
        [ "$i" -gt $(( $1 * 10 )) ] && return 1
        sleep 0.1
    done
    # pg_isready answers before the worker is back; a real query tells more
    until psql -X -q -d "$PC_DB" -c 'SELECT 1' >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -gt $(( $1 * 10 )) ] && return 1
        sleep 0.1
    done
}
