#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build what runs under Xen besides the guest under test, all cached, for the platform
# XEN_PLATFORM (scripts/lib.sh) in its own directory $D0:
#  - the hypervisor: debian, unpacked from the pinned Debian package; stable-tsc, built by
#    build-xen.sh;
#  - dom0's kernel (Debian's trixie 6.12) and a debootstrapped userspace with the Xen tools
#    of the hypervisor's version (trixie's 4.20, or bookworm's 4.17), packed once as an
#    uncompressed cpio (uncompressed because QEMU's TCG is slow at gunzip, and the
#    archive is read exactly once per boot).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$D0"

if [ "$XEN_PLATFORM" = stable-tsc ]; then
	bash "$REPO/scripts/build-xen.sh"
	suite=bookworm tools=xen-utils-4.17 tools_ver=$XEN_SRC_VER sfx=-stable-tsc
else
	stage "Xen $XEN_VER"
	if ! stamp_ok xen "$XEN_VER" || [ ! -f "$D0/xen" ]; then
		t=$(mktemp -d)
		dpkg-deb -x "$DL/${XEN_HV_PKG}_"*.deb "$t"
		zcat "$t"/boot/xen-4.20-amd64.gz >"$D0/xen"
		rm -rf "$t"
		stamp_set xen "$XEN_VER"
	fi
	note "$(file -b "$D0/xen" | cut -d, -f1-2)"
	suite=trixie tools=xen-utils-4.20 tools_ver=$XEN_VER sfx=
fi

stage "dom0 kernel $DOM0_KERNEL_VER and $suite userspace (cold: about 2 minutes)"
key="$DOM0_KERNEL_VER $(sha256sum "$REPO/guest/dom0-init.sh" | cut -c1-16)"
if stamp_ok "dom0$sfx" "$key" && [ -f "$D0/rootfs.cpio" ] && [ -f "$D0/vmlinuz" ]; then
	note "cached"
	exit 0
fi
rootfs=$D0/rootfs
if ! stamp_ok "debootstrap$sfx" "$suite" || [ ! -x "$rootfs/usr/sbin/xl" ]; then
	rm -rf "$rootfs"
	note "debootstrap $suite (minbase + $tools)"
	debootstrap --variant=minbase \
		--include="$tools,xen-utils-common,busybox,kmod,procps" \
		"$suite" "$rootfs" http://deb.debian.org/debian >"$D0/debootstrap.log" 2>&1 ||
		{ tail -20 "$D0/debootstrap.log"; die "debootstrap failed (log: $D0/debootstrap.log)"; }
	stamp_set "debootstrap$sfx" "$suite"
fi
have=$(chroot "$rootfs" dpkg-query -W -f='${Version}' "$tools")
[ "$have" = "$tools_ver" ] || note "warning: dom0 $tools is $have, the hypervisor is $tools_ver"

t=$(mktemp -d)
dpkg-deb -x "$DL/${DOM0_KERNEL_PKG}_"*.deb "$t"
mods=$t/usr/lib/modules
[ -d "$mods" ] || mods=$t/lib/modules
kver=$(ls "$mods")
cp "$t/boot/vmlinuz-$kver" "$D0/vmlinuz"
# Only the Xen drivers dom0 needs (and what they depend on), not 100 MB of modules.
rm -rf "$rootfs/lib/modules" "$rootfs/usr/lib/modules"
mkdir -p "$rootfs/usr/lib/modules/$kver/kernel/drivers"
cp -a "$mods/$kver/kernel/drivers/xen" "$rootfs/usr/lib/modules/$kver/kernel/drivers/"
cp "$mods/$kver/modules.order" "$mods/$kver/modules.builtin"* "$rootfs/usr/lib/modules/$kver/"
depmod -b "$rootfs" "$kver"
rm -rf "$t"

install -m 0755 "$REPO/guest/dom0-init.sh" "$rootfs/init"
note "packing $(du -sm "$rootfs" | cut -f1) MB"
(cd "$rootfs" && find . -path ./usr/share/doc -prune -o -path ./usr/share/man -prune -o \
	-path ./usr/share/locale -prune -o -path ./var/cache/apt -prune -o \
	-path ./var/lib/apt/lists -prune -o -print | cpio -o -H newc --quiet) >"$D0/rootfs.cpio"
note "rootfs.cpio: $(du -m "$D0/rootfs.cpio" | cut -f1) MB, dom0 kernel $kver"
stamp_set "dom0$sfx" "$key"
