#!/bin/sh
# scripts/dev-cluster.sh - a long-lived private cluster for development.
#
#   eval "$(scripts/dev-cluster.sh start NAME)"   start (or reuse) /tmp/careflags-dev-NAME,
#                                                  print PGHOST/PGPORT/PGUSER exports
#   scripts/dev-cluster.sh stop NAME              stop and remove it
#   scripts/dev-cluster.sh restart NAME           restart (after make install of a new .so)
#
# Same settings as the test cluster (scripts/cluster.sh), but it stays up
# between commands.  Never touches the system cluster.
set -eu
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
cmd=${1:?usage: dev-cluster.sh start|stop|restart NAME}
name=${2:?usage: dev-cluster.sh start|stop|restart NAME}
dir=/tmp/careflags-dev-$name
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port=$(( 30000 + $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 20000 ))
case $cmd in
start)
    if [ ! -d "$dir/data" ]; then
        mkdir -p "$dir"; chmod 755 "$dir"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
        as_owner $PGBIN/initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'careflags'
fsync = off
timezone = 'UTC'
CONF
    fi
    if ! as_owner $PGBIN/pg_ctl -D "$dir/data" status >/dev/null 2>&1; then
        as_owner $PGBIN/pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    fi
    echo "export PGHOST=$dir PGPORT=$port PGUSER=postgres"
    ;;
restart)
    as_owner $PGBIN/pg_ctl -D "$dir/data" -l "$dir/server.log" -w restart >/dev/null
    echo "export PGHOST=$dir PGPORT=$port PGUSER=postgres"
    ;;
stop)
    as_owner $PGBIN/pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
