#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel tree's own checks on the driver and the patch series, as TAP:
#  - rustfmt with the tree's .rustfmt.toml (what `make rustfmtcheck` runs), on the driver and
#    on the series' Rust files in rust/ (the kernel crate's abstractions);
#  - the module built again with CLIPPY=1, no warning allowed in the driver or in the
#    series' Rust files, and clippy on the driver as the built-in tree compiles it;
#  - rustdoc of the driver as a module and built in, and `make rustdoc` of the kernel crate,
#    no warning allowed in the series' Rust files;
#  - scripts/checkpatch.pl --strict on every patch of the series;
#  - the driver's files as the series leaves them are this repository's;
#  - Documentation/ built by Sphinx with every warning an error (as `make htmldocs` would
#    read it; the kernel's own extensions are not used by these files).
# Needs the module and the built-in trees built (scripts/build-kernel.sh, with XC_BUILTIN=1).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
export RUSTUP_TOOLCHAIN=$RUST_VER

n=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
echo "TAP version 13"
echo "1..7"
rs=$(cd "$REPO" && git ls-files '*.rs' ':!:host/*')
# The Rust files of the kernel tree that the series adds or changes.
series_rs=$(series_patches | xargs cat | sed -n 's|^+++ b/\(rust/.*\.rs\)$|\1|p' | sort -u)

out=$(cd "$KSRC" && rustfmt --check --config-path .rustfmt.toml --edition 2021 \
	$(printf "$REPO/%s " $rs) $series_rs 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out" | head -40 | sed 's/^/# /'
result $rc rustfmt

touch "$REPO/xen_clock.rs"
out=$(make -s -C "$KSRC" O="$KOUT" LLVM="$LLVM_SUFFIX" CLIPPY=1 drivers/clocksource/xen/ 2>&1)
rc=$?
# The build may recompile the kernel crate with clippy too (its command line changed); what
# this clippy says of the tree's own files is reported, not counted, unless the series wrote
# them. Any other warning, and any error, fails.
outside=$(printf '%s\n' "$out" | awk -v ksrc="$KSRC/" -v ours="$series_rs" '
	BEGIN { split(ours, f, "\n"); for (i in f) mine[ksrc f[i]] = 1 }
	/^warning: [0-9]+ warnings? emitted/ { next }
	/^(warning|error)/ { if (msg) bad++; msg = 1; next }
	msg && /^ *--> / {
		file = $2; sub(/:[0-9]+:[0-9]+$/, "", file)
		if (index(file, ksrc) == 1 && index(file, "/drivers/clocksource/xen/") == 0 && !(file in mine)) n++; else bad++
		msg = 0
	}
	END { if (msg) bad++; print n + 0, bad + 0 }')
read -r tree_warnings driver_warnings <<<"$outside"
if [ "$driver_warnings" != 0 ] || printf '%s\n' "$out" | grep -q '^error'; then rc=1; fi
[ -n "$out" ] && printf '%s\n' "$out" | head -40 | sed 's/^/# /'
[ "$tree_warnings" = 0 ] || echo "# $tree_warnings clippy warning(s) in the kernel tree's own files, not the driver's"
# What only the built-in driver compiles (cfg(not(MODULE))): clippy on the built-in tree's
# driver object, with the command Kbuild saved for it (scripts/driver-check.py).
obj=$DRIVER_DIR/xen_clock.o
if [ -f "$KOUT_BUILTIN/$DRIVER_DIR/.xen_clock.o.cmd" ]; then
	out=$(python3 "$REPO/scripts/driver-check.py" clippy "$KOUT_BUILTIN" "$obj" "$CACHE/clippy-builtin" 2>&1) || rc=1
	[ -n "$out" ] && printf '%s\n' "$out" | head -40 | sed 's/^/# built in: /'
else
	echo "# built in: no built-in tree yet ($KOUT_BUILTIN), not checked"
	rc=1
fi
result $rc "clippy (the module, and built in)"

# rustdoc of the driver crate, as a module and built in, with what Kbuild gives rustc.
rc=0
for tree in "$KOUT" "$KOUT_BUILTIN"; do
	doc=$CACHE/rustdoc/$(basename "$tree")
	rm -rf "$doc"
	out=$(python3 "$REPO/scripts/driver-check.py" rustdoc "$tree" "$obj" "$doc" 2>&1) || rc=1
	[ -n "$out" ] && printf '%s\n' "$out" | head -40 | sed 's/^/# /'
	[ -f "$doc/xen_clock/index.html" ] || { echo "# no docs written for $tree"; rc=1; }
done
result $rc "rustdoc (the module, and built in)"

# rustdoc of the kernel crate, where the series' abstractions are documented.
out=$(make -s -C "$KSRC" O="$KOUT" LLVM="$LLVM_SUFFIX" rustdoc 2>&1)
rc=$?
mine=$(printf '%s\n' "$out" | grep -A3 '^warning\|^error' | grep -F -f <(printf '%s\n' $series_rs) || true)
[ -n "$mine" ] && rc=1
[ -n "$out" ] && printf '%s\n' "$out" | head -40 | sed 's/^/# /'
result $rc "make rustdoc (the kernel crate; the series' files: $(echo $series_rs | wc -w))"

rc=0
for p in $(series_patches); do
	out=$(cd "$KSRC" && perl scripts/checkpatch.pl --strict --no-tree -q "$p" 2>&1)
	# A new file in rust/helpers/ is covered by the RUST entry of MAINTAINERS; --no-tree
	# cannot know that.
	out=$(printf '%s\n' "$out" | grep -v '^total:' |
		awk 'BEGIN{RS=""} !/does MAINTAINERS need updating/' )
	if [ -n "$out" ]; then
		rc=1
		printf '%s\n' "$(basename "$p")" "$out" | sed 's/^/# /'
	fi
done
result $rc "checkpatch --strict ($(series_patches | wc -l) patches)"

# The driver's directory, as the series leaves it, must be this repository's driver files:
# every patch's part in it applied in order to an empty tree (the driver patch, built in only,
# and the module patch; scripts/format-series.sh writes both).
rc=0
t=$(mktemp -d)
git -C "$t" init -q
subjects=$(for p in $(series_patches); do patch_subject "$p"; done)
for subject in "$DRIVER_PATCH_SUBJECT" "$MODULE_PATCH_SUBJECT"; do
	grep -q -x -F "$subject" <<<"$subjects" || { rc=1; echo "# no patch '$subject' in patches/"; }
done
for p in $(series_patches); do
	(cd "$t" && git apply --include="$DRIVER_DIR/*" "$p") ||
		{ rc=1; echo "# $(basename "$p") does not apply to the driver's files of the patches before it"; }
done
driver_tree "$t/want"
out=$(diff -r "$t/$DRIVER_DIR" "$t/want" 2>&1) ||
	{ rc=1; printf '%s\n' "$out" | head -20 | sed 's/^/# /'; echo "# run scripts/format-series.sh"; }
rm -rf "$t"
result $rc "the series leaves this repository's driver files"

# Sphinx on Documentation/, with a minimal conf.py and an index of its own: the kernel's
# Documentation/conf.py needs the whole tree's extensions, which these files do not use.
sph=$CACHE/sphinx
rm -rf "$sph"
mkdir -p "$sph/src"
cp "$REPO"/Documentation/*.rst "$sph/src/"
# The figures the documents show.
for f in "$REPO"/Documentation/*.png; do [ -e "$f" ] && cp "$f" "$sph/src/"; done
printf 'project = "xen-clock"\nmaster_doc = "index"\n' >"$sph/src/conf.py"
{
	printf 'xen-clock\n=========\n\n.. toctree::\n\n'
	for f in "$REPO"/Documentation/*.rst; do printf '   %s\n' "$(basename "$f" .rst)"; done
} >"$sph/src/index.rst"
out=$(sphinx-build -q -W --keep-going -b html "$sph/src" "$sph/out" 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out" | head -40 | sed 's/^/# /'
result $rc "sphinx-build -W Documentation/"
