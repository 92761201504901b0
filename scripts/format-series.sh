#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# format-series.sh: writes patches/ anew from the patch workspace
# (scripts/patch-workspace.sh), cover letter included.
#
# Two of the series' patches carry the driver's files: the one that adds the
# driver, built in only (DRIVER_PATCH_SUBJECT), and the last one, which makes
# it a loadable module (MODULE_PATCH_SUBJECT). After the second, the driver's
# directory is this repository's driver files as they are now (driver_tree in
# lib.sh). The first gets them as well, without what the second adds: each of
# its files is this repository's, with the workspace's module patch taken out
# again (git merge-file of the workspace's two versions and the new one), and
# the files only the module patch adds are left out. A change to the lines
# that only the module patch has cannot be taken out that way: then nothing
# is written, and the module patch in the workspace must be edited first.
# A patch in between that changes an API the driver uses updates the driver
# too, as a kernel patch does; it is kept as it is.
#
# BUILTIN_DIR=DIR takes those of the first patch's files that DIR has from there instead, for
# when they cannot be made that way.
#
# The cover letter's subject, date and text are kept from the current
# patches/0000-cover-letter.patch; its shortlog and diffstat are made anew.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

W=$CACHE/patchwork
cover=$REPO/patches/0000-cover-letter.patch
[ -d "$W/.git" ] || die "no patch workspace at $W: run scripts/patch-workspace.sh"
[ -z "$(git -C "$W" status --porcelain -- . ":!$DRIVER_DIR")" ] ||
	die "the workspace has changes not committed: commit them first"
# commit_by_subject SUBJECT: the workspace's commit with that subject.
commit_by_subject() {
	git -C "$W" log --format='%H %s' base..HEAD | awk -v s="$1" 'substr($0, 42) == s { print $1 }'
}
drv=$(commit_by_subject "$DRIVER_PATCH_SUBJECT")
mod=$(commit_by_subject "$MODULE_PATCH_SUBJECT")
[ -n "$drv" ] || die "no commit '$DRIVER_PATCH_SUBJECT' in the workspace"
[ -n "$mod" ] || die "no commit '$MODULE_PATCH_SUBJECT' in the workspace"
git -C "$W" checkout -q -- "$DRIVER_DIR"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/old-builtin" "$t/old-module" "$t/builtin"
git -C "$W" archive "$drv" "$DRIVER_DIR" | tar -x -C "$t/old-builtin" --strip-components=3
git -C "$W" archive "$mod" "$DRIVER_DIR" | tar -x -C "$t/old-module" --strip-components=3
driver_tree "$t/module"
for f in $(cd "$t/module" && ls); do
	if [ -n "${BUILTIN_DIR:-}" ] && [ -f "$BUILTIN_DIR/$f" ]; then
		cp "$BUILTIN_DIR/$f" "$t/builtin/$f"
	elif [ -f "$t/old-builtin/$f" ] && [ -f "$t/old-module/$f" ]; then
		cp "$t/old-builtin/$f" "$t/builtin/$f"
		git merge-file -q "$t/builtin/$f" "$t/old-module/$f" "$t/module/$f" ||
			die "$f: the change to it touches what only '$MODULE_PATCH_SUBJECT' has: write the built-in version of $f into a directory and pass it as BUILTIN_DIR="
	elif [ ! -f "$t/old-module/$f" ]; then
		# New in the repository: the built-in driver has it too.
		cp "$t/module/$f" "$t/builtin/$f"
	fi
	# Otherwise only the module patch adds it.
done

# Both patches get their files anew: the driver's with the built-in files, the module's with the
# repository's. The patches in between do not touch the driver's directory.
set_dir() { echo "rm -rf $DRIVER_DIR && mkdir -p $DRIVER_DIR && cp -r $1/. $DRIVER_DIR/ && git add -A $DRIVER_DIR"; }
git -C "$W" log --reverse --format='%H' base..HEAD | while read -r c; do
	if [ "$c" = "$mod" ]; then
		echo "exec $(set_dir "$t/module") && git commit -q --allow-empty -C $mod"
	else
		echo "pick $c"
	fi
	if [ "$c" = "$drv" ]; then
		echo "exec $(set_dir "$t/builtin") && git commit -q --amend --no-edit"
	fi
done >"$t/todo"
(cd "$W" && GIT_SEQUENCE_EDITOR="cp $t/todo" git rebase -q -i base) || die "the rebase of the workspace failed"

old=$(mktemp)
if [ -f "$cover" ]; then cp "$cover" "$old"; fi
rm -f "$REPO"/patches/*.patch
git -C "$W" format-patch -q --zero-commit --cover-letter -o "$REPO/patches" base..HEAD
python3 - "$old" "$cover" <<'PY'
import re, sys
old_path, new_path = sys.argv[1:]
new = open(new_path).read()
try:
    old = open(old_path).read()
except OSError:
    old = ""
head, _, body = old.partition("\n\n")
m_subject = re.search(r"^Subject: \[PATCH [0-9]+/[0-9]+\] (.*(?:\n .*)*)", head, re.M)
m_date = re.search(r"^Date: .*$", head, re.M)
if m_subject and "*** SUBJECT HERE ***" not in m_subject.group(1):
    new = new.replace("*** SUBJECT HERE ***", m_subject.group(1), 1)
    new = re.sub(r"^Date: .*$", lambda _: m_date.group(0), new, count=1, flags=re.M)
    # The text: from the blank line after the headers to the shortlog's first line.
    m_short = re.search(r"^\S.* \([0-9]+\):$", body, re.M)
    blurb = body[: m_short.start()].rstrip("\n") if m_short else ""
    new = new.replace("*** BLURB HERE ***", blurb, 1)
open(new_path, "w").write(new)
PY
rm -f "$old"
git -C "$REPO" status --short patches
