#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""rustdoc-module.py KOUT OBJ DOCDIR: run rustdoc on a Rust module of the kernel build.

`make rustdoc` documents only the kernel crate. This takes the rustc command Kbuild saved for
OBJ (its .cmd file), keeps what rustdoc shares with rustc (edition, target, cfgs, externs,
crate attributes) and documents the module with warnings denied.
"""
import os
import re
import shlex
import subprocess
import sys

kout, obj, doc = sys.argv[1:4]
cmdfile = os.path.join(kout, os.path.dirname(obj), "." + os.path.basename(obj) + ".cmd")
saved = open(cmdfile).read()
cmd = re.search(r"^savedcmd_\S+ := (.*)$", saved, re.M).group(1).split(";")[0]
tokens = shlex.split(cmd)
keep = ["rustdoc", "-Dwarnings", "--document-private-items", "-o", doc]
i = 0
src = None
while i < len(tokens):
    t = tokens[i]
    if t in ("--cfg", "--extern", "-L", "--crate-type"):
        keep += [t, tokens[i + 1]]
        i += 2
        continue
    if (t.startswith(("--edition=", "--target=", "--sysroot=", "@", "-Zcrate-attr="))
            or t == "-Zunstable-options"):
        keep.append(t)
    elif t.endswith(".rs"):
        src = t
    i += 1
keep += ["--crate-name", os.path.basename(obj).removesuffix(".o"), src]
env = dict(os.environ, RUSTC_BOOTSTRAP="1")
for t in tokens:
    if re.match(r"^[A-Z_]+=", t):
        k, v = t.split("=", 1)
        env[k] = v
sys.exit(subprocess.run(keep, cwd=kout, env=env).returncode)
