#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the harness needs on a Debian 12 (bookworm) host, as root.
# Idempotent: a second run checks and returns in seconds.
#
# Suites beyond bookworm are added with a low pin, so that nothing of the
# host's base system is ever replaced: bookworm-backports (QEMU, priority 100,
# the backports default) and trixie / trixie-backports (priority 1: only ever
# fetched by explicit version with `apt-get download`, never installed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HOST_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev
	   cpio busybox-static debootstrap xz-utils zstd make gcc libc6-dev patch rsync
	   python3 kmod file python3-sphinx python3-matplotlib dpkg-dev)
QEMU_PKGS=(qemu-system-x86)

[ "$(id -u)" = 0 ] || die "setup-host.sh installs packages and must run as root"

stage "host packages"
src=/etc/apt/sources.list.d/xen-clock.sources
pref=/etc/apt/preferences.d/xen-clock.pref
want_src='Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
want_pref='Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: *
Pin: release n=trixie-backports
Pin-Priority: 1'
need_update=0
if [ "$(cat "$src" 2>/dev/null)" != "$want_src" ] || [ "$(cat "$pref" 2>/dev/null)" != "$want_pref" ]; then
	printf '%s\n' "$want_pref" >"$pref"
	printf '%s\n' "$want_src" >"$src"
	need_update=1
fi
# The package lists must know the pinned trixie versions.
apt-cache show "$XEN_HV_PKG=$XEN_VER" >/dev/null 2>&1 || need_update=1

missing=()
for p in "${HOST_PKGS[@]}" "${QEMU_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "$need_update" = 1 ] || [ "${#missing[@]}" -gt 0 ]; then
	note "apt-get update"
	apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
	note "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${HOST_PKGS[@]}" >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports "${QEMU_PKGS[@]}" >/dev/null
fi
note "$(qemu-system-x86_64 --version | head -1)"
note "$(clang-19 --version | head -1)"

stage "rust $RUST_VER, rust-src, bindgen $BINDGEN_VER"
command -v rustup >/dev/null || die "rustup not found: install rustup first (https://rustup.rs)"
if ! rustup component list --toolchain "$RUST_VER" --installed 2>/dev/null | grep -q '^rust-src'; then
	rustup toolchain install "$RUST_VER" --profile minimal -c rust-src -c rustfmt -c clippy
fi
for c in rustfmt clippy; do
	rustup component list --toolchain "$RUST_VER" --installed | grep -q "^$c" ||
		rustup component add --toolchain "$RUST_VER" "$c"
done
if [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VER" ]; then
	note "cargo install bindgen-cli $BINDGEN_VER (about 70 s)"
	cargo +"$RUST_VER" install --locked --quiet bindgen-cli --version "$BINDGEN_VER"
fi
rust_llvm=$(rustc +"$RUST_VER" -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
[ "$rust_llvm" = "${LLVM_SUFFIX#-}" ] ||
	die "rustc $RUST_VER is built on LLVM $rust_llvm, clang on ${LLVM_SUFFIX#-}: CONFIG_RUST_INLINE_HELPERS needs one"
note "$(rustc +"$RUST_VER" --version) on LLVM $rust_llvm, $(bindgen --version)"

stage "pinned Debian packages (kernel source, Xen, dom0 kernel)"
mkdir -p "$DL"
# fetch PKG VERSION: download one .deb by exact version into $DL.
fetch() {
	local pkg=$1 ver=$2 deb
	deb=$(ls "$DL/${pkg}_"*.deb 2>/dev/null | head -1 || true)
	if [ -n "$deb" ] && [ "$(dpkg-deb -f "$deb" Version)" = "$ver" ]; then
		return 0
	fi
	if ! apt-cache show "$pkg=$ver" >/dev/null 2>&1; then
		die "$pkg $ver is no longer on the mirror; it has: $(apt-cache madison "$pkg" |
			awk -F'|' '{gsub(/ /,"",$2); printf "%s ", $2}'). Update the pin in scripts/lib.sh."
	fi
	note "downloading $pkg $ver"
	rm -f "$DL/${pkg}_"*.deb
	(cd "$DL" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$ver")
}
fetch "$LINUX_SOURCE_PKG" "$LINUX_SOURCE_VER"
fetch "$XEN_HV_PKG" "$XEN_VER"
fetch "$DOM0_KERNEL_PKG" "$DOM0_KERNEL_VER"
ls -s "$DL" | sed 's/^/    /'
