#!/bin/sh
# scripts/bootstrap.sh - install what building and testing careflags needs.
#
# Installs, with apt-get, only the Debian packages that are missing:
# compiler and make, PostgreSQL 15 server and its headers, pgTAP, pg_prove,
# OpenSSL and libpq headers, and what builds the Debian package (debhelper,
# pg_buildext's postgresql-server-dev-all).  Safe to run again; does nothing when all is there.
set -eu

PACKAGES="build-essential postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
libtap-parser-sourcehandler-pgtap-perl libssl-dev libpq-dev debhelper postgresql-server-dev-all"
[ -n "${CAREFLAGS_EXTRA_PACKAGES:-}" ] && PACKAGES="$PACKAGES $CAREFLAGS_EXTRA_PACKAGES"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "bootstrap: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# postgresql-common would create and start a system cluster; we never use it.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "bootstrap: done"
