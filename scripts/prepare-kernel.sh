#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Lay out the kernel tree in the cache: Linux 7.3 from the pinned Debian
# source package, the series under patches/ applied, and this repository
# linked in as drivers/clocksource/xen/. Idempotent: the tree is extracted
# once, the series is re-applied only when it changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stage "kernel tree $LINUX_SOURCE_VER"
deb=$(ls "$DL/${LINUX_SOURCE_PKG}_"*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || die "no $LINUX_SOURCE_PKG package in $DL: run scripts/setup-host.sh"

# What the patches change, not their messages or numbers; and of the driver patch only what it
# changes outside the driver's directory, which is a link to this repository.
series_key() {
	series_patches | xargs -r cat | without_driver_files | sed -n '/^diff --git /,/^-- $/p' |
		sha256sum | cut -c1-16
}

extract() {
	note "extracting $(basename "$deb") into $KSRC (about 1 minute)"
	rm -rf "$KSRC" "$KSRC.tmp"
	mkdir -p "$KSRC.tmp"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/$LINUX_SOURCE_PKG.tar.xz" |
		tar -xJ -C "$KSRC.tmp"
	mv "$KSRC.tmp/$LINUX_SOURCE_PKG" "$KSRC"
	rmdir "$KSRC.tmp"
	mkdir -p "$KSRC/.xen-clock-applied"
	stamp_set tree "$LINUX_SOURCE_VER"
	stamp_set series none
}

# The control tree of XC_VANILLA=1 stays as Debian ships it.
if [ "${XC_VANILLA:-0}" = 1 ]; then
	if ! stamp_ok tree-vanilla "$LINUX_SOURCE_VER" || [ ! -f "$KSRC/Makefile" ]; then
		extract
		stamp_set tree-vanilla "$LINUX_SOURCE_VER"
	fi
	note "$KSRC: no patches, no driver"
	exit 0
fi

stamp_ok tree "$LINUX_SOURCE_VER" && [ -f "$KSRC/Makefile" ] || extract

# Apply the series; a changed series is first reversed (the copies of what was
# applied are kept in the tree), and if that fails the tree is extracted anew.
want=$(series_key)
if ! stamp_ok series "$want"; then
	applied="$KSRC/.xen-clock-applied"
	for p in $(ls -r "$applied"/*.patch 2>/dev/null || true); do
		note "reversing $(basename "$p")"
		if grep -q '^diff --git ' "$p" && ! patch -s -R -p1 -d "$KSRC" <"$p"; then
			note "could not reverse $(basename "$p"): extracting the tree again"
			extract
			break
		fi
		rm -f "$p"
	done
	for p in $(series_patches); do
		note "applying $(basename "$p")"
		without_driver_files <"$p" >"$KSRC/.xen-clock-applying"
		# The module patch changes nothing but the driver's files.
		if grep -q '^diff --git ' "$KSRC/.xen-clock-applying"; then
			patch -s -p1 --forward -d "$KSRC" <"$KSRC/.xen-clock-applying" ||
				die "$(basename "$p") does not apply to $LINUX_SOURCE_VER"
		fi
		mv "$KSRC/.xen-clock-applying" "$KSRC/.xen-clock-applied/$(basename "$p")"
	done
	stamp_set series "$want"
fi

# The repository is the driver's directory inside the tree.
link="$KSRC/drivers/clocksource/xen"
if [ "$(readlink "$link" 2>/dev/null)" != "$REPO" ]; then
	rm -rf "$link"
	ln -s "$REPO" "$link"
fi
note "drivers/clocksource/xen -> $REPO"
