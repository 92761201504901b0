#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-series.sh: every prefix of the patch series builds (the series is
# bisectable). A separate tree in the cache gets the patches one at a time
# and is rebuilt after each, with the guest config; the driver
# (XEN_CLOCK_RUST) is built from the patch that adds it on, from the files
# the patches give it, not from this repository: built in (=y) while its
# Kconfig allows only that, as a module (=m) from the patch that makes it
# one. Prints TAP, one result per patch. Slow: 10 to 15 minutes on 2 cores,
# so it is `make series-check`, not part of `make check`.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
export RUSTUP_TOOLCHAIN=$RUST_VER

S=$CACHE/series-check
src=$S/linux-7.3
out=$S/build
deb=$(ls "$DL/${LINUX_SOURCE_PKG}_"*.deb | head -1)
mapfile -t series < <(series_patches)

stage "series check: ${#series[@]} patches, each built on its own"
rm -rf "$src"
mkdir -p "$S" "$out"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$LINUX_SOURCE_PKG.tar.xz" | tar -xJ -C "$S"
mv "$S/$LINUX_SOURCE_PKG" "$src"
cp "$KOUT/.config" "$out/.config"

echo "TAP version 13"
echo "1..${#series[@]}"
i=0
for p in "${series[@]}"; do
	i=$((i + 1))
	name=$(basename "$p")
	if ! patch -s -p1 -d "$src" <"$p"; then
		echo "not ok $i - $name # does not apply"
		continue
	fi
	# The driver is built from the prefix that adds it on, from the patches' own files, with
	# the options the guest kernel has (the earlier prefixes' configs cannot keep them: the
	# symbols do not exist there): built in while its Kconfig says bool, as a module once it
	# says tristate.
	val=n
	if [ -f "$src/$DRIVER_DIR/Kconfig" ]; then
		val=y
		grep -q '^[[:space:]]*tristate' "$src/$DRIVER_DIR/Kconfig" && val=m
	fi
	sed -i '/^CONFIG_XEN_CLOCK_RUST/d; /^# CONFIG_XEN_CLOCK_RUST/d' "$out/.config"
	[ $val != n ] && grep '^CONFIG_XEN_CLOCK_RUST' "$KOUT/.config" | sed "s/=m\$/=$val/" >>"$out/.config"
	want=$DRIVER_DIR/xen_clock.ko
	[ $val = y ] && want=$DRIVER_DIR/xen_clock.o
	rm -f "$out/$DRIVER_DIR/xen_clock.ko" "$out/$DRIVER_DIR/xen_clock.o"
	t=$(date +%s)
	if make -s -C "$src" O="$out" LLVM="$LLVM_SUFFIX" olddefconfig >/dev/null &&
		{ [ $val = n ] || grep -q "^CONFIG_XEN_CLOCK_RUST=$val\$" "$out/.config"; } &&
		make -s -C "$src" O="$out" LLVM="$LLVM_SUFFIX" -j"${JOBS:-3}" bzImage modules >"$S/build-$i.log" 2>&1 &&
		! grep -q '^warning\|^error' "$S/build-$i.log" &&
		{ [ $val = n ] || [ -s "$out/$want" ] ||
			{ echo "no $want was built" >>"$S/build-$i.log"; false; }; }; then
		echo "ok $i - $name # XEN_CLOCK_RUST=$val, $(($(date +%s) - t)) s"
	else
		echo "not ok $i - $name # XEN_CLOCK_RUST=$val"
		tail -20 "$S/build-$i.log" | sed 's/^/# /'
	fi
done
