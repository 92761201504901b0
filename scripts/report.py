#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn one harness run into a verdict.

Reads the domU's TAP (domu.log), the whole console, QEMU's exit status and
the host tests' cargo output, prints every result and, for a guest that did
not finish (panic, hang, timeout, no end marker), the domU's last console lines,
what a hung one printed when asked for backtraces, and the console's end.
Tests the plan names but the guest never reported count as failed, and so
does a skip the plan does not expect. Ends with the line
"N passed, N failed, N skipped"; exits 1 on any failure.

A plan (guest/plans/*.txt) names one test per line; "#" starts a comment
line. A test whose skip is expected says so, with the reason, after its
name: "ce_hotplug expect-skip: the domU has one vCPU". A plan that names a
test twice is an error.
"""
import argparse
import re
import sys

END_MARKER = "# xen-clock: end of plan"
# What a failed guest run shows of its console (guest_tail).
DOMU_TAIL = 30
SYSRQ_LINES = 90
CONSOLE_TAIL = 10
# Kernel splats on the domU console (warnings and worse reach it whatever the log level).
SPLAT = re.compile(
    r"WARNING:|BUG:|Oops|Call Trace|RCU stall|detected stalls|possible (circular|recursive) locking"
    r"|inconsistent lock state|suspicious RCU usage|UBSAN|KASAN|segfault at|traps:"
)
RESULT = re.compile(r"^(ok|not ok) (\d+) - (\S+)(?: # (.*))?$")
CARGO = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")


EXPECT_SKIP = "expect-skip:"


def parse_plan(lines):
    """Return (tests, expected_skips, problems) of a plan file's lines."""
    tests = []
    expected = {}
    problems = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if name in tests:
            problems.append(f"the plan names {name} twice")
            continue
        tests.append(name)
        if rest.startswith(EXPECT_SKIP):
            reason = rest[len(EXPECT_SKIP):].strip()
            if not reason:
                problems.append(f"the plan expects {name} to skip but gives no reason")
            expected[name] = reason
        elif rest:
            problems.append(f"the plan line of {name} has more than a name: {rest}")
    return tests, expected, problems


def parse_tap(lines, plan):
    """Return (results, problems): results maps test name -> (status, note)."""
    results = {}
    problems = []
    diag = []
    declared = None
    for line in lines:
        m = RESULT.match(line)
        if m:
            ok, _, name, directive = m.groups()
            directive = directive or ""
            if ok == "ok" and directive.startswith("SKIP"):
                results[name] = ("skip", directive[4:].strip())
            elif ok == "ok":
                results[name] = ("pass", directive)
            else:
                results[name] = ("fail", "\n".join(diag[-40:]))
            diag = []
        elif line.startswith("1.."):
            declared = int(line[3:] or 0)
        elif line.startswith("#"):
            diag.append(line)
    if declared is None:
        problems.append("the guest printed no TAP plan line")
    elif declared != len(plan):
        problems.append(f"the guest planned {declared} tests, the host plan has {len(plan)}")
    if END_MARKER not in lines:
        problems.append("the guest never printed its end marker")
    # The first test with no result is the one the guest stopped in: what it printed since the
    # last result (run_test's "starting" line, a test's own console lines) says how far it got.
    stopped_in = True
    for name in plan:
        if name not in results:
            note = "no result: the guest never reported this test"
            if stopped_in and diag:
                note += "; the console since the last result:\n" + "\n".join(diag[-20:])
            results[name] = ("fail", note)
            stopped_in = False
    for name in list(results):
        if name not in plan:
            problems.append(f"the guest reported a test the plan does not name: {name}")
    return results, problems


def parse_host_tap(lines, status):
    """A host-side TAP stream (scripts/lint.sh): (passed, failed, names of failures)."""
    passed = failed = 0
    bad = []
    declared = None
    for line in lines:
        m = re.match(r"^(ok|not ok) \d+ - (.*)$", line)
        if m:
            if m.group(1) == "ok":
                passed += 1
            else:
                failed += 1
                bad.append(m.group(2))
        elif line.startswith("1.."):
            declared = int(line[3:] or 0)
    if declared is None or declared != passed + failed:
        failed += 1
        bad.append(f"planned {declared} results, got {passed + failed}")
    elif status != 0 and failed == 0:
        failed += 1
        bad.append(f"exit status {status}")
    return passed, failed, bad


def parse_cargo(lines, status):
    passed = failed = 0
    seen = False
    for line in lines:
        m = CARGO.match(line.strip())
        if m:
            seen = True
            passed += int(m.group(1))
            failed += int(m.group(2))
    if status != 0 and failed == 0:
        failed = 1  # did not build, or crashed before reporting
    if not seen and status == 0:
        failed += 1  # a run that reports nothing is not a pass
    return passed, failed


def run_unittests(module, label):
    """Runs a host test module's unittests and ends with the line parse_cargo() reads, as
    cargo would print it; exits 1 if one failed."""
    import unittest
    r = unittest.TextTestRunner(verbosity=2).run(
        unittest.defaultTestLoader.loadTestsFromModule(module))
    bad = len(r.failures) + len(r.errors)
    print(f"test result: {'ok' if bad == 0 else 'FAILED'}. {r.testsRun - bad} passed; "
          f"{bad} failed; 0 ignored ({label})")
    sys.exit(1 if bad else 0)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def guest_tail(console):
    """What a failed guest run shows of its console: the domU's own last lines before dom0
    gave up on it, then what it printed after (dom0-init.sh asks a hung domU for its CPUs'
    backtraces and blocked tasks by sysrq), then the console's end. Otherwise Xen's debug-key
    dump would fill all of it."""
    hung = next((i for i, l in enumerate(console) if l.startswith("xc-dom0: domU hung")), None)
    before = console if hung is None else console[:hung]
    after = [] if hung is None else console[hung:]
    domu_before = [l for l in before if l.startswith("domU|")][-DOMU_TAIL:]
    out = [f"the domU's last {len(domu_before)} console lines:"]
    out.extend("  | " + l for l in domu_before)
    if hung is not None:
        domu_after = [l for l in after if l.startswith("domU|")][:SYSRQ_LINES]
        out.append(f"what it printed after dom0 found it hung (sysrq l, w; first {SYSRQ_LINES} lines):")
        out.extend("  | " + l for l in domu_after)
    out.append(f"the console's last {CONSOLE_TAIL} lines:")
    out.extend("  | " + l for l in console[-CONSOLE_TAIL:])
    return out


def main():
    ap = argparse.ArgumentParser()
    # One guest boot (of one or several): NAME,PLAN,DOMU_LOG,CONSOLE_LOG,QEMU_STATUS.
    ap.add_argument("--run", action="append", default=[])
    ap.add_argument("--cargo-log")
    ap.add_argument("--cargo-status", type=int, default=0)
    ap.add_argument("--lint")
    ap.add_argument("--lint-status", type=int, default=0)
    a = ap.parse_args()

    passed = failed = skipped = 0
    out = []
    if a.cargo_log is not None:
        p, f = parse_cargo(read(a.cargo_log), a.cargo_status)
        out.append(f"host tests (cargo, scripts/test_*.py): {p} passed, {f} failed")
        passed += p
        failed += f

    if a.lint is not None:
        lines = read(a.lint)
        p, f, bad = parse_host_tap(lines, a.lint_status)
        out.append(f"lint (rustfmt, clippy, rustdoc, checkpatch, driver patch, sphinx): {p} passed, {f} failed")
        for name in bad:
            out.append(f"  FAIL {name}")
        out.extend("       " + l for l in lines if l.startswith("#") and bad)
        passed += p
        failed += f

    for spec in a.run:
        run_name, plan_path, domu_path, console_path, status = spec.split(",")
        qemu_status = int(status)
        plan, expected_skips, problems = parse_plan(read(plan_path))
        out.append(f"guest run {run_name}:")
        domu = read(domu_path)
        console = read(console_path)
        results, tap_problems = parse_tap(domu, plan)
        problems += tap_problems
        if qemu_status == 124:
            problems.append("QEMU was killed at its time limit")
        elif qemu_status != 0:
            problems.append(f"QEMU exited with status {qemu_status}")
        if any("Kernel panic" in l for l in domu):
            problems.append("the domU kernel panicked")
        splats = [l for l in domu if SPLAT.search(l) and not l.startswith("#")]
        if splats:
            problems.append("kernel warnings on the domU console: " + " | ".join(splats[:3]))
        if any(l.startswith("xc-dom0: domU timed out") for l in console):
            problems.append("dom0 stopped the domU at its time limit")
        for name in plan:
            status, note = results[name]
            if status == "pass":
                out.append(f"  PASS {name} {note}".rstrip())
                passed += 1
            elif status == "skip" and name in expected_skips:
                out.append(f"  SKIP {name}: {note} (expected: {expected_skips[name]})")
                skipped += 1
            elif status == "skip":
                out.append(f"  FAIL {name}: skipped ({note}), which the plan does not expect")
                failed += 1
            else:
                out.append(f"  FAIL {name}")
                out.extend("       " + l for l in note.splitlines())
                failed += 1
        if problems:
            failed += 1
            out.append(f"guest run {run_name} FAILED: " + "; ".join(problems))
            out.extend(guest_tail(console))
    print("\n".join(out))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
