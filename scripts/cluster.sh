# scripts/cluster.sh - a private, throwaway PostgreSQL 15 cluster.
#
# Sourced by demo.sh and test.sh.  cluster_start initdb's into a fresh
# temporary directory, listens only on a Unix socket in that directory on a
# port of its own, and registers cluster_stop to run on every exit, so the
# cluster is stopped and removed also when a step fails.  The system cluster
# is never touched.
#
# After cluster_start: PGHOST, PGPORT, PGUSER are exported for psql, pg_prove
# and the careflags client; CLUSTER_DIR is the temporary directory.

PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}

# The server refuses to run as root: then run it as the postgres user.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cluster_stop() {
    if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then
        if [ -f "$CLUSTER_DIR/data/postmaster.pid" ]; then
            as_owner "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        if [ "${CAREFLAGS_KEEP_CLUSTER:-0}" = 1 ]; then
            echo "cluster kept in $CLUSTER_DIR"
        else
            rm -rf "$CLUSTER_DIR"
        fi
    fi
}

# cluster_start [extra postgresql.conf lines...]
cluster_start() {
    CLUSTER_DIR=$(mktemp -d /tmp/careflags-cluster.XXXXXX)
    chmod 755 "$CLUSTER_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR"
    trap 'rc=$?; cluster_stop; exit $rc' EXIT
    trap 'exit 130' INT TERM

    as_owner "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 ||
        { cat "$CLUSTER_DIR/initdb.log" >&2; return 1; }

    # A port nobody uses: try from a pseudo-random start.
    port=$(( 20000 + ($$ % 20000) ))
    while [ -e "/tmp/.s.PGSQL.$port" ] || [ -e "/var/run/postgresql/.s.PGSQL.$port" ] ||
          (ss -ltn 2>/dev/null | grep -q ":$port "); do
        port=$((port + 1))
    done

    {
        echo "listen_addresses = ''"
        echo "port = $port"
        echo "unix_socket_directories = '$CLUSTER_DIR${CLUSTER_EXTRA_SOCKET_DIRS:+,$CLUSTER_EXTRA_SOCKET_DIRS}'"
        echo "shared_preload_libraries = 'careflags'"
        echo "fsync = off"
        echo "max_connections = 100"
        echo "log_min_messages = warning"
        echo "timezone = 'UTC'"
        for line in "$@"; do echo "$line"; done
    } >>"$CLUSTER_DIR/data/postgresql.conf"

    as_owner "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w start >/dev/null ||
        { cat "$CLUSTER_DIR/server.log" >&2; return 1; }

    export PGHOST="$CLUSTER_DIR" PGPORT="$port" PGUSER=postgres
    unset PGDATABASE PGSERVICE PGPASSWORD
}
