# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers of the xen-clock harness; sourced, not run.

# Pinned versions. When the mirror drops one, setup-host.sh names the one it has.
LINUX_SOURCE_PKG=linux-source-7.3
LINUX_SOURCE_VER=7.3.4-1~bpo13+1
XEN_HV_PKG=xen-hypervisor-4.20-amd64
XEN_VER=4.20.4+63-g7abfd2bce2-0+deb13u1
# The "stable-tsc" platform's Xen: built from the one Xen source package the registry serves
# (build-xen.sh), with bookworm's tools of the same version in its dom0.
XEN_SRC_VER=4.17.5+72-g01140da4e8-1
DOM0_KERNEL_PKG=linux-image-6.12.117+deb13-amd64
DOM0_KERNEL_VER=6.12.117-1
# rustc 1.86 is built on LLVM 19.1.7, clang 19's: CONFIG_RUST_INLINE_HELPERS needs one LLVM for both
# (rustc 1.87 and later have LLVM 20 and up). Linux 7.3 wants rustc >= 1.85.
RUST_VER=1.86.0
BINDGEN_VER=0.72.1
LLVM_SUFFIX=-19

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XEN_CLOCK_CACHE:-$HOME/.cache/xen-clock}
DL=$CACHE/downloads
KSRC=$CACHE/linux-7.3
# XC_BUILTIN=1 selects the kernel with the driver built in (CONFIG_XEN_CLOCK_RUST=y), XC_DEBUG=1
# the module kernel with configs/debug.config (lockdep, DEBUG_VM, ...), XC_VANILLA=1 Debian's
# tree without patches/ and without the driver (a control for the known failure of README.md),
# each in its own build directory.
if [ "${XC_VANILLA:-0}" = 1 ]; then
	KSRC=$CACHE/linux-7.3-vanilla
	KOUT=$CACHE/build-vanilla
elif [ "${XC_BUILTIN:-0}" = 1 ]; then
	KOUT=$CACHE/build-y
elif [ "${XC_DEBUG:-0}" = 1 ]; then
	KOUT=$CACHE/build-debug
else
	KOUT=$CACHE/build
fi
# XEN_PLATFORM: what the guests run on. "debian" (the default): Debian's Xen 4.20 hypervisor
# and a trixie dom0. "stable-tsc": Xen 4.17 built from Debian's source with shadow paging and
# the test-only tsc=test-reliable (build-xen.sh), booted with clocksource=tsc so that it
# promises a stable TSC, and a bookworm dom0 with its tools. Each has its own cache directory.
XEN_PLATFORM=${XEN_PLATFORM:-debian}
case "$XEN_PLATFORM" in
debian) D0=$CACHE/dom0 ;;
stable-tsc) D0=$CACHE/dom0-stable-tsc ;;
*) echo "error: XEN_PLATFORM=$XEN_PLATFORM: debian or stable-tsc" >&2; exit 1 ;;
esac
# The built-in tree, whichever tree KOUT is (lint checks the driver in both).
KOUT_BUILTIN=$CACHE/build-y
RESULTS=${RESULTS:-$REPO/results}
export PATH="$HOME/.cargo/bin:$PATH"

XC_T0=${XC_T0:-$(date +%s)}
export XC_T0

# stage NAME: announce a stage with the time elapsed since the run started.
stage() {
	local now
	now=$(date +%s)
	printf '\n==> [%4ss] %s\n' "$((now - XC_T0))" "$*"
}

note() { printf '    %s\n' "$*"; }

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# stamp_ok NAME KEY: true when stage NAME was completed with the same KEY.
stamp_ok() { [ -f "$CACHE/stamps/$1" ] && [ "$(cat "$CACHE/stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$CACHE/stamps"; printf '%s' "$2" >"$CACHE/stamps/$1"; }

# The series' two patches that carry the driver's files, both written by format-series.sh from
# this repository: the first adds the driver, built in only; the last makes it a loadable module
# (after the patches only the module needs), and the tree it leaves is driver_tree's.
DRIVER_PATCH_SUBJECT="clocksource: Add a Rust Xen guest clock"
MODULE_PATCH_SUBJECT="clocksource/xen: Let the Rust Xen guest clock be a loadable module"
# The driver's directory in the kernel tree, as the series' driver patch adds it.
DRIVER_DIR=drivers/clocksource/xen

# driver_tree DIR: writes the driver's files as the kernel tree has them into DIR: Kconfig
# and the Rust files of this repository (as committed or staged, with their current content),
# and of its Makefile the part above the harness's marker line.
driver_tree() {
	mkdir -p "$1"
	(cd "$REPO" && git ls-files Kconfig ':(glob)*.rs') | while read -r f; do cp "$REPO/$f" "$1/$f"; done
	sed '/^# --- the harness/,$d' "$REPO/Makefile" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$1/Makefile"
}

# without_driver_files: a patch on stdin without the parts that write $DRIVER_DIR/, which in
# the harness's tree is a link to this repository.
without_driver_files() {
	awk -v dir="a/$DRIVER_DIR/" '/^diff --git / { skip = (index($3, dir) == 1) } /^-- $/ { skip = 0 } !skip'
}

# patch_subject FILE: the subject of a patch file, its header unfolded, without "[PATCH n/m] ".
patch_subject() {
	awk '/^Subject: / { s = $0; on = 1; next } on && /^ / { s = s $0; next } on { exit } END {
		sub(/^Subject: (\[PATCH[^]]*\] )?/, "", s); print s }' "$1"
}

# The patch series in order, without its cover letter (0000-cover-letter.patch).
series_patches() { ls "$REPO"/patches/[0-9]*.patch 2>/dev/null | grep -v '/0000-cover-letter\.patch$' || true; }
