#!/bin/sh
# scripts/build-deb.sh - build the Debian package postgresql-15-careflags.
#
#   scripts/build-deb.sh OUTDIR
#
# Copies the working tree's files (tracked and new, not ignored) to a
# scratch directory, builds there with dpkg-buildpackage and pg_buildext
# (debian/), and leaves the .deb (and the build log) in OUTDIR; prints the
# .deb's path.  The package's own installcheck is left to the caller
# (DEB_BUILD_OPTIONS=nocheck): it needs the package installed.  Needs
# debhelper and postgresql-server-dev-all (scripts/bootstrap.sh installs them).
set -eu
cd "$(dirname "$0")/.."
out=${1:?usage: build-deb.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/careflags-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/careflags"
git ls-files -z --cached --others --exclude-standard | xargs -0 sh -c \
    'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf - | tar -C "$work/careflags" -xf -
(cd "$work/careflags" &&
    DEB_BUILD_OPTIONS="nocheck parallel=${CAREFLAGS_DEB_JOBS:-2}" \
        dpkg-buildpackage -b -uc -us >"$out/build-deb.log" 2>&1) ||
    { echo "build-deb.sh: dpkg-buildpackage failed (last lines of $out/build-deb.log):" >&2
      tail -n 30 "$out/build-deb.log" >&2; exit 1; }
for deb in "$work"/*.deb; do
    case $deb in *dbgsym*) continue ;; esac
    cp "$deb" "$out/"
    echo "$out/$(basename "$deb")"
done
