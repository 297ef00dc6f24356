#!/bin/sh
# tests/install/package.sh - the Debian package, as the install suite tests it.
#
#   tests/install/package.sh build     build it (scripts/build-deb.sh) into the
#                                      suite's state directory; prints the .deb
#   tests/install/package.sh install   install that .deb into the PostgreSQL
#                                      PG_CONFIG names: the system's with dpkg -i
#                                      (as root; CI), a copy laid out like it
#                                      (ROOT/usr/lib/postgresql/15/...) with
#                                      dpkg-deb -x into ROOT, as dpkg would place
#                                      the files, without touching the system's
#   tests/install/package.sh verify    every file of the .deb is installed,
#                                      byte for byte; prints the count
set -eu
cd "$(dirname "$0")/../.."
state=${PGHOST:?PGHOST must name the test cluster}/install-suite
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
major=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
root=${bindir%/usr/lib/postgresql/$major/bin}
deb() { ls "$state"/deb/postgresql-"$major"-careflags_*.deb 2>/dev/null | head -1; }

case ${1:?usage: package.sh build|install|verify} in
build)
    scripts/build-deb.sh "$state/deb" | grep "postgresql-$major-careflags_"
    ;;
install)
    d=$(deb); [ -n "$d" ] || { echo "no package built" >&2; exit 1; }
    if [ "$root" = "$bindir" ]; then
        echo "the PostgreSQL of $PG_CONFIG is not laid out as Debian's (/usr/lib/postgresql/$major/bin)" >&2; exit 1
    elif [ -z "$root" ]; then
        dpkg -i "$d" >"$state/deb/dpkg.log" 2>&1 || { cat "$state/deb/dpkg.log" >&2; exit 1; }
        echo "installed with dpkg -i: $(dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}' "postgresql-$major-careflags")"
    else
        dpkg-deb -x "$d" "$root"
        echo "installed with dpkg-deb -x into $root"
    fi
    ;;
verify)
    d=$(deb); [ -n "$d" ] || { echo "no package built" >&2; exit 1; }
    x=$(mktemp -d "${TMPDIR:-/tmp}/careflags-deb-x.XXXXXX")
    trap 'rm -rf "$x"' EXIT
    dpkg-deb -x "$d" "$x"
    n=0; bad=0
    for f in $(cd "$x" && find . -type f | sed 's|^\./||'); do
        n=$((n + 1))
        cmp -s "$x/$f" "$root/$f" || { echo "differs or missing: /$f"; bad=$((bad + 1)); }
    done
    echo "$n files of the package, $bad differ"
    ;;
esac
