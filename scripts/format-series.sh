#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# format-series.sh: writes patches/ anew from the patch workspace
# (scripts/patch-workspace.sh), cover letter included. First the driver's
# patch in the workspace gets this repository's driver files, as they are
# now (driver_tree in lib.sh). The cover letter's subject, date and text are
# kept from the current patches/0000-cover-letter.patch; its shortlog and
# diffstat are made anew.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

W=$CACHE/patchwork
cover=$REPO/patches/0000-cover-letter.patch
[ -d "$W/.git" ] || die "no patch workspace at $W: run scripts/patch-workspace.sh"
[ -z "$(git -C "$W" status --porcelain -- . ":!$DRIVER_DIR")" ] ||
	die "the workspace has changes not committed: commit them first"
drv=$(git -C "$W" log --format='%H %s' base..HEAD |
	awk -v s="$DRIVER_PATCH_SUBJECT" 'substr($0, 42) == s { print $1 }')
[ -n "$drv" ] || die "no commit '$DRIVER_PATCH_SUBJECT' in the workspace"
rm -rf "${W:?}/$DRIVER_DIR"
driver_tree "$W/$DRIVER_DIR"
if [ -n "$(git -C "$W" status --porcelain -- "$DRIVER_DIR")" ]; then
	note "the driver's files changed: amending '$DRIVER_PATCH_SUBJECT'"
	git -C "$W" add -A -- "$DRIVER_DIR"
	git -C "$W" commit -q --fixup="$drv"
	GIT_SEQUENCE_EDITOR=: git -C "$W" rebase -q -i --autosquash base
fi

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
