#!/bin/sh
# scripts/citus-build.sh - build and install Citus from its source archive.
#
# Citus is not in Debian's packages; the Citus test suite (tests/citus) needs
# it in the PostgreSQL 15 that PG_CONFIG names.  This script builds it from
# the archive (default: the project's shared folder beside the checkout,
# which a plain clone does not have) and installs it there.
#
#   PG_CONFIG=.../pg_config   the PostgreSQL 15 to install into
#   CITUS_TARBALL=...         the archive (default: vendor/citus-13.2.2.tar.gz in the shared folder)
#   CITUS_COPT=...            compiler options added to Citus' own (default '-O1 -g0': a test
#                             build in about 2.5 CPU-minutes; CITUS_COPT= for Citus' -O2 build,
#                             as for bench/citus.sh figures)
#
# Cached: when this version is already installed into that PostgreSQL (a
# stamp file beside citus.control), it does nothing.  Exit status 0 when
# Citus is installed, 77 when the archive is absent (the caller skips), other
# non-zero on a build failure.
#
# Built without libcurl (anonymous statistics, never wanted in a test).  The
# columnar code includes zstd.h and lz4.h whenever PostgreSQL was built with
# them (Debian's is), and the server headers include gssapi.h: those and the
# other -dev packages the archive's build notes name are installed when missing
# (scripts/bootstrap.sh, apt-get).
# PostgreSQL 15.18 and newer export have_createdb_privilege(), which Citus
# 13.2.2 also defines as a static inline function: that copy is removed
# before building when the server headers declare it.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSION=13.2.2
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# The one optional reference to the shared folder (tests/core/90_self_contained.sql allows it).
CITUS_TARBALL=${CITUS_TARBALL:-$ROOT/../shared/vendor/citus-$VERSION.tar.gz}

sharedir=$("$PG_CONFIG" --sharedir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
stamp=$sharedir/extension/citus.careflags-build

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VERSION" ] && [ -f "$pkglibdir/citus.so" ] &&
   [ -f "$sharedir/extension/citus.control" ]; then
    exit 0
fi

if [ ! -f "$CITUS_TARBALL" ]; then
    echo "citus-build: $CITUS_TARBALL is absent: Citus $VERSION cannot be built here" >&2
    exit 77
fi

# The server headers are needed (postgresql-server-dev-15); autoconf and a
# compiler come with scripts/bootstrap.sh.
CAREFLAGS_EXTRA_PACKAGES="libzstd-dev liblz4-dev libkrb5-dev libpam0g-dev libselinux1-dev libxslt1-dev libxml2-dev libreadline-dev" "$ROOT/scripts/bootstrap.sh"
if [ ! -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ]; then
    echo "citus-build: no server headers for $PG_CONFIG (postgresql-server-dev-15)" >&2
    exit 1
fi

build=$(mktemp -d /tmp/careflags-citus-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
echo "citus-build: building Citus $VERSION into $("$PG_CONFIG" --bindir) (a few minutes)"
tar -xzf "$CITUS_TARBALL" -C "$build"
src=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -n 1)

compat=$src/src/include/pg_version_compat.h
if grep -q 'have_createdb_privilege' "$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h" 2>/dev/null; then
    # Delete 'static inline bool' + 'have_createdb_privilege(void)' ... up to its closing brace.
    awk '
        /^static inline bool$/ { held = $0; next }
        held != "" && /^have_createdb_privilege\(void\)$/ { skip = 1; held = ""; next }
        held != "" { print held; held = "" }
        skip { if ($0 ~ /^}$/) skip = 0; next }
        { print }
    ' "$compat" >"$compat.new"
    mv "$compat.new" "$compat"
fi

(
    cd "$src"
    ./configure PG_CONFIG="$PG_CONFIG" --without-libcurl \
        >"$build/configure.log" 2>&1 || { tail -n 30 "$build/configure.log" >&2; exit 1; }
    # with_llvm=no: no JIT bitcode (it would double the build time)
    make -s -j2 with_llvm=no COPT="${CITUS_COPT--O1 -g0}" >"$build/make.log" 2>&1 || { tail -n 40 "$build/make.log" >&2; exit 1; }
    make -s install with_llvm=no >"$build/install.log" 2>&1 || { tail -n 20 "$build/install.log" >&2; exit 1; }
)
echo "$VERSION" >"$stamp"
echo "citus-build: Citus $VERSION installed"
