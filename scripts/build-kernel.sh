#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the guest kernel with the driver, out of tree in the
# cache (O=$KOUT), with LLVM 19 and rustc 1.86 (one LLVM: the kernel crate's C
# helpers inline into Rust code). Incremental: editing one .rs file rebuilds
# that module and nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bash "$REPO/scripts/prepare-kernel.sh"

export RUSTUP_TOOLCHAIN=$RUST_VER
JOBS=${JOBS:-3}
kmake() { make -s -C "$KSRC" O="$KOUT" LLVM="$LLVM_SUFFIX" "$@"; }

mkdir -p "$KOUT"
frag="$REPO/configs/xen-clock.config"
if [ "${XC_BUILTIN:-0}" = 1 ]; then
	# The same kernel with the driver built in, in its own build directory, and with the
	# kernel crate's doctests (the series' abstractions among them), which KUnit runs at boot:
	# in this tree only, because compiling them costs minutes.
	stage "kernel config (driver built in, kernel crate doctests)"
	{
		sed 's/^CONFIG_XEN_CLOCK_RUST=m$/CONFIG_XEN_CLOCK_RUST=y/' "$frag"
		echo CONFIG_RUST_KERNEL_DOCTESTS=y
	} >"$KOUT/xen-clock-y.config"
	frag=$KOUT/xen-clock-y.config
	grep -qx 'CONFIG_XEN_CLOCK_RUST=y' "$frag" || die "no CONFIG_XEN_CLOCK_RUST=m line in the config fragment"
elif [ "${XC_VANILLA:-0}" = 1 ]; then
	stage "kernel config (vanilla: no patches, no driver)"
	grep -v '^CONFIG_XEN_CLOCK_RUST' "$frag" >"$KOUT/xen-clock-vanilla.config"
	frag=$KOUT/xen-clock-vanilla.config
elif [ "${XC_DEBUG:-0}" = 1 ]; then
	stage "kernel config (debug)"
	cat "$frag" "$REPO/configs/debug.config" >"$KOUT/xen-clock-debug.config"
	frag=$KOUT/xen-clock-debug.config
else
	stage "kernel config"
fi
key=$(cat "$frag" | sha256sum | cut -c1-16)
if ! stamp_ok "config-${KOUT##*/}" "$key" || [ ! -f "$KOUT/.config" ]; then
	kmake rustavailable >/dev/null || die "Rust is not available to the kernel build: run scripts/setup-host.sh"
	kmake tinyconfig >/dev/null
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KOUT" "$KOUT/.config" "$frag" >/dev/null
	kmake olddefconfig >/dev/null
	bad=()
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$KOUT/.config" || bad+=("$line (got: $(grep "^${line%%=*}=" "$KOUT/.config" || echo unset))")
	done <"$frag"
	[ "${#bad[@]}" = 0 ] || die "config fragment not honoured: ${bad[*]}"
	stamp_set "config-${KOUT##*/}" "$key"
fi
# A Kconfig file of the tree or of the driver may have changed since: new symbols take their
# defaults instead of a question on the terminal.
kmake olddefconfig </dev/null >/dev/null
note "$(grep -c '=[ym]$' "$KOUT/.config") options set, XEN_CLOCK_RUST=$(sed -n 's/^CONFIG_XEN_CLOCK_RUST=//p' "$KOUT/.config")"

stage "kernel build (cold: about 10 minutes on 2 cores)"
t=$(date +%s)
kmake -j"$JOBS" bzImage modules
kmake headers_install INSTALL_HDR_PATH="$KOUT/usr" >/dev/null
note "built in $(($(date +%s) - t)) s: $(ls -s "$KOUT/arch/x86/boot/bzImage" | cut -d' ' -f1) KiB bzImage"
