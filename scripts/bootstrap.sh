#!/bin/sh
# scripts/bootstrap.sh - install what building and testing careflags needs.
#
# Installs, with apt-get, only the Debian packages that are missing:
# compiler and make, PostgreSQL 15 server and its headers, pgTAP, pg_prove,
# OpenSSL and libpq headers, what builds the Debian package (debhelper,
# pg_buildext's postgresql-server-dev-all), and Node.js and npm when `node` is
# missing.  Then installs the FHIR validator's exact node packages
# (tools/fhir-validate, npm ci from its package-lock.json) when they are not
# there yet.  Safe to run again; does nothing when all is there.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)

PACKAGES="build-essential postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
libtap-parser-sourcehandler-pgtap-perl libssl-dev libpq-dev debhelper postgresql-server-dev-all"
[ -n "${CAREFLAGS_EXTRA_PACKAGES:-}" ] && PACKAGES="$PACKAGES $CAREFLAGS_EXTRA_PACKAGES"
# The FHIR validator runs on Node.js: Debian's packages only when there is
# no node at all (a newer Node.js already installed is kept).
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
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
fi

# The FHIR validator's node packages, exactly as locked (tools/fhir-validate).
fv=$ROOT/tools/fhir-validate
if [ ! -f "$fv/node_modules/.package-lock.json" ] || [ "$fv/package-lock.json" -nt "$fv/node_modules/.package-lock.json" ]; then
    echo "bootstrap: installing the FHIR validator's packages (npm ci in tools/fhir-validate)"
    (cd "$fv" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        { echo "bootstrap: npm ci in tools/fhir-validate failed" >&2; exit 1; }
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    echo "bootstrap: warning: Node.js $(node --version) is older than the FHIR validator needs (18 or newer)" >&2
