#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""driver-check.py rustdoc|clippy KOUT OBJ OUTDIR: rustdoc or clippy on a Rust object of a
kernel build, with what Kbuild gave rustc for it.

`make rustdoc` documents only the kernel crate, and `make CLIPPY=1` checks only the objects a
tree builds: the module tree never compiles what the driver has only when built in. This takes
the rustc command Kbuild saved for OBJ (its .cmd file) and runs it again with warnings denied:
rustdoc with what rustdoc shares with rustc (edition, target, cfgs, externs, crate attributes),
documenting private items into OUTDIR; or clippy-driver with the whole command, its outputs
redirected into OUTDIR.
"""
import os
import re
import shlex
import subprocess
import sys

tool, kout, obj, out = sys.argv[1:5]
cmdfile = os.path.join(kout, os.path.dirname(obj), "." + os.path.basename(obj) + ".cmd")
saved = open(cmdfile).read()
cmd = re.search(r"^savedcmd_\S+ := (.*)$", saved, re.M).group(1).split(";")[0]
tokens = shlex.split(cmd)
env = dict(os.environ, RUSTC_BOOTSTRAP="1")
while tokens and re.match(r"^[A-Z_]+=", tokens[0]):
    k, v = tokens.pop(0).split("=", 1)
    env[k] = v
compiler, args = tokens[0], tokens[1:]
src = next(t for t in args if t.endswith(".rs"))
os.makedirs(out, exist_ok=True)

if tool == "rustdoc":
    run = ["rustdoc", "-Dwarnings", "--document-private-items", "-o", out]
    i = 0
    while i < len(args):
        t = args[i]
        if t in ("--cfg", "--extern", "-L", "--crate-type"):
            run += [t, args[i + 1]]
            i += 2
            continue
        if (t.startswith(("--edition=", "--target=", "--sysroot=", "@", "-Zcrate-attr="))
                or t == "-Zunstable-options"):
            run.append(t)
        i += 1
    run += ["--crate-name", os.path.basename(obj).removesuffix(".o"), src]
elif tool == "clippy":
    run = ["clippy-driver", "-Dwarnings"]
    i = 0
    while i < len(args):
        t = args[i]
        if t == "--out-dir":
            i += 2
            continue
        if not t.startswith("--emit="):
            run.append(t)
        i += 1
    run += ["--out-dir", out, "--emit=metadata"]
else:
    sys.exit(f"unknown tool {tool}")
sys.exit(subprocess.run(run, cwd=kout, env=env).returncode)
