#!/bin/bash
# bash test/package.sh OUTDIR
#
# Builds the Debian package (postgresql-<major>-okra, see debian/) the way a
# release would, and copies the .deb files to OUTDIR:
#
#   1. the release archive: "make dist" of the working tree's tracked files
#      (DIST_TREE=$(git stash create), or HEAD when the tree is clean). New
#      files are in it only once tracked or staged ("git add");
#   2. that archive extracted in a temporary directory, and built there with
#      "dpkg-buildpackage -us -uc -b": the archive builds from its own
#      contents. It is also put next to the tree as the Debian upstream
#      tarball (<source>_<version>.orig.tar.gz; debian/source/format is
#      "3.0 (quilt)"), so "dpkg-buildpackage -S" works there too;
#   3. lintian on the .changes (and the .deb files it lists). Any E: or W:
#      tag fails the run, except the ones in LINTIAN_ALLOWED below. Tags that
#      are expected belong in debian/postgresql-PGVERSION-okra.lintian-overrides
#      (installed into each package, with why) rather than here.
#
# Quiet on success: one summary (package, version, lintian result, seconds).
# On failure: the end of the build log, the work directory is kept, exit 1.
# Needs: git, make, dpkg-dev, debhelper, lintian and the Build-Depends of
# debian/control. Writes nothing in the repository (no files, refs or stash
# entries) but the objects "git stash create" adds to .git.

set -euo pipefail

# E:/W: tags accepted without an override, each with why ("tag  # reason").
# Empty: everything expected is overridden in the package itself.
LINTIAN_ALLOWED=(
)

usage() { echo "usage: bash test/package.sh OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] && [ -n "$1" ] || usage
die() { echo "package.sh: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
start=$SECONDS

work=$(mktemp -d "${TMPDIR:-/tmp}/okra-package.XXXXXX")
keep=
cleanup() { if [ -z "$keep" ]; then rm -rf "$work"; else echo "package.sh: kept $work" >&2; fi; }
trap cleanup EXIT
log=$work/build.log

fail_with_log() {
	keep=1
	echo "package.sh: $1; the end of $log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}

# 1. the release archive ----------------------------------------------------
untracked=$(git -C "$repo" ls-files --others --exclude-standard -- debian test/package.sh)
if [ -n "$untracked" ]; then
	echo "package.sh: not in the archive (untracked; git add them):" $untracked >&2
fi
tree=$(git -C "$repo" stash create) || die "git stash create failed"
tree=${tree:-HEAD}
version=$(git -C "$repo" show "$tree:okra.control" |
	sed -n "s/^default_version = '\(.*\)'/\1/p")
[ -n "$version" ] || die "no default_version in okra.control of $tree"
# The Makefile's own dist target, run in the work directory so that the
# archive lands there and not in the repository (another "make dist" there
# would overwrite it); GIT_DIR points its "git archive" at the repository.
if ! GIT_DIR="$repo/.git" make -s -C "$work" -f "$repo/Makefile" dist \
	DIST_TREE="$tree" EXTVERSION="$version" >"$log" 2>&1; then
	fail_with_log "make dist failed"
fi
tarball=$work/okra-$version.tar.gz
[ -f "$tarball" ] || die "make dist made no okra-$version.tar.gz"

mkdir "$work/src"
tar -xzf "$tarball" -C "$work/src"
srcdir=$work/src/okra-$version
[ -f "$srcdir/debian/control" ] ||
	die "the release archive has no debian/ (commit or git add it)"

# debian/changelog's upstream version must be the extension's version
source=$(cd "$srcdir" && dpkg-parsechangelog -S Source)
debversion=$(cd "$srcdir" && dpkg-parsechangelog -S Version)
upstream=${debversion#*:}
upstream=${upstream%-*}
[ "$upstream" = "$version" ] ||
	die "debian/changelog is $debversion, okra.control's default_version $version"
cp "$tarball" "$work/src/${source}_$version.orig.tar.gz"

# 2. the build ------------------------------------------------------------------
build_start=$SECONDS
if ! (cd "$srcdir" && dpkg-buildpackage -us -uc -b) >>"$log" 2>&1; then
	fail_with_log "dpkg-buildpackage failed"
fi
build_seconds=$((SECONDS - build_start))

shopt -s nullglob
changes=("$work"/src/*.changes)
debs=("$work"/src/*.deb)
[ ${#changes[@]} -eq 1 ] || die "expected one .changes, found ${#changes[@]}"
[ ${#debs[@]} -gt 0 ] || die "the build made no .deb"

# 3. lintian ----------------------------------------------------------------------
# --fail-on none: the verdict is ours (below), lintian exits non-zero only
# when it could not run. --show-overrides: overridden tags are counted (O:)
# in the summary, not printed (nor their comments, N:). Its complaint about
# running as root is dropped.
if ! lintian --fail-on none --show-overrides "${changes[0]}" \
	>"$work/lintian.out" 2>"$work/lintian.err"; then
	cat "$work/lintian.out" "$work/lintian.err" >&2
	die "lintian failed to run"
fi
grep -v 'running with root privileges is not recommended' "$work/lintian.err" >&2 || true
grep -Ev '^(O|N): ' "$work/lintian.out" || true

allowed_re='^$'
for entry in "${LINTIAN_ALLOWED[@]}"; do
	allowed_re+="|^[EW]: [^ ]+: ${entry%%[[:space:]]*}( |$)"
done
bad=$(grep -E '^[EW]: ' "$work/lintian.out" | grep -Ev "$allowed_re" || true)
if [ -n "$bad" ]; then
	keep=1
	die "lintian: $(grep -c . <<<"$bad") error/warning tag(s) neither overridden nor allowed (above)"
fi
errors=$(grep -c '^E: ' "$work/lintian.out" || true)
warnings=$(grep -c '^W: ' "$work/lintian.out" || true)
overridden=$(sed -n 's/^O: [^ ]*: \([^ ]*\).*/\1/p' "$work/lintian.out" | sort -u | paste -sd ' ')
if [ "$errors$warnings" = 00 ]; then
	lintian_result="clean, no errors or warnings"
else
	lintian_result="$errors error(s), $warnings warning(s), all allowed in test/package.sh"
fi
[ -z "$overridden" ] || lintian_result+=" (overridden: $overridden)"

# 4. the .deb files -------------------------------------------------------------
cp "${debs[@]}" "$outdir/"

for d in "${debs[@]}"; do
	echo "$(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version): $outdir/${d##*/}"
done
echo "lintian: $lintian_result"
echo "build: ${build_seconds} s (dpkg-buildpackage), $((SECONDS - start)) s in all"
