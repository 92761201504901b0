#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-xen.sh: the hypervisor of the "stable-tsc" platform (XEN_PLATFORM=stable-tsc), built
# from Debian's own Xen source package, the one the registry serves (bookworm's
# $XEN_SRC_VER), with Debian's configuration plus CONFIG_SHADOW_PAGING=y, and one test-only
# change, scripts/xen/tsc-test-reliable.patch: a `tsc=test-reliable` value that makes Xen
# take QEMU TCG's TSC (one virtual clock for every vCPU, but without the invariant-TSC CPUID
# bit) as reliable, so that with `clocksource=tsc` Xen runs on it and promises guests a
# stable TSC (PVCLOCK_TSC_STABLE_BIT). The hypervisor only, not the tools: dom0 gets bookworm's
# xen-utils-4.17 of the same version (build-dom0.sh). Cached in $D0 (cold: a few minutes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$XEN_PLATFORM" = stable-tsc ] || exit 0
patchfile=$REPO/scripts/xen/tsc-test-reliable.patch
key="$XEN_SRC_VER $(sha256sum "$patchfile" "$0" | sha256sum | cut -c1-16)"
stage "Xen $XEN_SRC_VER from Debian's source, shadow paging, tsc=test-reliable (cold: a few minutes)"
mkdir -p "$D0"
if stamp_ok xen-src "$key" && [ -f "$D0/xen" ]; then
	note "cached: $(file -b "$D0/xen" | cut -d, -f1-2)"
	exit 0
fi

# The source package, through a private apt configuration with a deb-src entry: the host's
# own sources and package lists stay as they are. apt checks the files against the signed
# index (dpkg-source then warns that it cannot check the .dsc's own signature: no keyring).
A=$CACHE/xen-src/apt
mkdir -p "$A/lists/partial" "$A/parts" "$A/cache" "$DL"
printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n' \
	>"$A/sources.list"
apt_opts=(-o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts="$A/parts"
	-o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" -o Dir::Cache::pkgcache=
	-o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
dsc=$DL/xen_$XEN_SRC_VER.dsc
if [ ! -f "$dsc" ]; then
	note "apt-get source xen=$XEN_SRC_VER"
	apt-get -qq "${apt_opts[@]}" update
	(cd "$DL" && apt-get -qq "${apt_opts[@]}" source --download-only "xen=$XEN_SRC_VER") ||
		die "xen $XEN_SRC_VER source: not on the mirror; it has: $(apt-cache "${apt_opts[@]}" showsrc xen |
			sed -n 's/^Version: //p' | tr '\n' ' ')"
fi
src=$CACHE/xen-src/src
rm -rf "$src"
dpkg-source -q -x "$dsc" "$src" 2>&1 | grep -v -i 'signature\|gpgv' | sed 's/^/    /' || true
[ -f "$src/xen/arch/x86/time.c" ] || die "dpkg-source -x $dsc failed"
patch -d "$src" -p1 -s --forward <"$patchfile" || die "$patchfile does not apply"

# Debian's configuration (debian/rules: debian/xen-kconfig, then olddefconfig; the
# hypervisor without dpkg-buildflags), plus shadow paging.
cp "$src/debian/xen-kconfig" "$src/xen/.config"
echo 'CONFIG_SHADOW_PAGING=y' >>"$src/xen/.config"
xmake=(make -C "$src/xen" XEN_TARGET_ARCH=x86_64 XEN_COMPILE_ARCH=x86_64
	CC=x86_64-linux-gnu-gcc LD=x86_64-linux-gnu-ld PYTHON=/usr/bin/python3)
env -u CFLAGS -u CPPFLAGS -u LDFLAGS "${xmake[@]}" olddefconfig >"$CACHE/xen-src/build.log" 2>&1 ||
	{ tail -20 "$CACHE/xen-src/build.log"; die "olddefconfig failed"; }
grep -qx 'CONFIG_SHADOW_PAGING=y' "$src/xen/.config" || die "CONFIG_SHADOW_PAGING did not stay set"
t=$(date +%s)
# DEB_VERSION marks the build in Xen's banner ("Xen version ... (Debian ...+xen-clock)").
env -u CFLAGS -u CPPFLAGS -u LDFLAGS WGET=/bin/false GIT=/bin/false \
	DEB_VERSION="$XEN_SRC_VER+xen-clock" DEB_MAINTAINER="xen-clock harness" \
	"${xmake[@]}" -j"${JOBS:-3}" build >>"$CACHE/xen-src/build.log" 2>&1 ||
	{ tail -30 "$CACHE/xen-src/build.log"; die "the Xen build failed (log: $CACHE/xen-src/build.log)"; }
cp "$src/xen/xen" "$D0/xen"
cp "$src/xen/.config" "$D0/xen.config"
note "built in $(($(date +%s) - t)) s: $(file -b "$D0/xen" | cut -d, -f1-2)"
rm -rf "$src"
stamp_set xen-src "$key"
