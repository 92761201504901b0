#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# patch-workspace.sh [FILE...]: a git repository in which to edit the patch
# series. It holds the pristine 7.3 versions of the files the series touches
# (plus any FILE named), with patches/*.patch applied on top by `git am`.
# Edit, commit (or `git commit --fixup` and rebase), then regenerate with
#   bash scripts/format-series.sh
# (with --zero-commit, so that the headers do not change with every rebase).
# The repository is at ~/.cache/xen-clock/patchwork.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

W=$CACHE/patchwork
deb=$(ls "$DL/${LINUX_SOURCE_PKG}_"*.deb | head -1)
files=("$@")
for p in $(series_patches); do
	while read -r f; do files+=("$f"); done < <(grep '^+++ b/' "$p" | sed 's|^+++ b/||')
done
mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)

rm -rf "$W"
mkdir -p "$W"
t=$(mktemp -d)
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$LINUX_SOURCE_PKG.tar.xz" |
	tar -xJ -C "$t" --wildcards "${files[@]/#/$LINUX_SOURCE_PKG/}" 2>/dev/null || true
cp -a "$t/$LINUX_SOURCE_PKG/." "$W/"
rm -rf "$t"
cd "$W"
git init -q
git config user.name "xen-clock developers"
git config user.email "xen-clock@example.org"
git add -A
git commit -qm "Linux $LINUX_SOURCE_VER (the files the series touches)"
git tag base
for p in $(series_patches); do
	git am -q "$p"
done
git log --oneline | sed 's/^/    /'
echo "workspace: $W"
