#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of report.py: a guest that fails in any way must never count as a pass."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

PLAN = ["module_insmod", "module_rmmod", "ksft_nanosleep"]
GOOD = [
    "xc-domU: 7.3.4",
    "TAP version 13",
    "1..3",
    "ok 1 - module_insmod # time=0.1s",
    "# output of rmmod",
    "ok 2 - module_rmmod # time=0.1s",
    "ok 3 - ksft_nanosleep # SKIP nanosleep reported KSFT_SKIP",
    report.END_MARKER,
]


class TapTest(unittest.TestCase):
    def test_all_pass(self):
        results, problems = report.parse_tap(GOOD, PLAN)
        self.assertEqual(problems, [])
        self.assertEqual(results["module_insmod"][0], "pass")
        self.assertEqual(results["ksft_nanosleep"][0], "skip")

    def test_not_ok_is_a_failure_with_its_output(self):
        lines = list(GOOD)
        lines[3] = "# insmod: can't insert '/xc/xen_clock.ko': invalid module format"
        lines.insert(4, "not ok 1 - module_insmod # exit=1 time=0.0s")
        results, _ = report.parse_tap(lines, PLAN)
        self.assertEqual(results["module_insmod"][0], "fail")
        self.assertIn("invalid module format", results["module_insmod"][1])

    def test_hang_without_end_marker(self):
        results, problems = report.parse_tap(GOOD[:4], PLAN)
        self.assertIn("the guest never printed its end marker", problems)
        self.assertEqual(results["module_rmmod"][0], "fail")
        self.assertEqual(results["ksft_nanosleep"][0], "fail")

    def test_the_test_a_hang_stopped_in_shows_its_progress(self):
        lines = GOOD[:4] + ["# module_rmmod: starting at 12.5s", "# module_rmmod: rmmod in the background"]
        results, _ = report.parse_tap(lines, PLAN)
        self.assertIn("rmmod in the background", results["module_rmmod"][1])
        # Only the first test without a result was running.
        self.assertNotIn("rmmod in the background", results["ksft_nanosleep"][1])

    def test_no_output_at_all(self):
        results, problems = report.parse_tap([], PLAN)
        self.assertEqual(len(problems), 2)
        self.assertTrue(all(r[0] == "fail" for r in results.values()))

    def test_plan_mismatch(self):
        lines = [l if l != "1..3" else "1..2" for l in GOOD]
        _, problems = report.parse_tap(lines, PLAN)
        self.assertTrue(any("planned 2" in p for p in problems))

    def test_unknown_test(self):
        lines = GOOD[:-1] + ["ok 4 - surprise", report.END_MARKER]
        _, problems = report.parse_tap(lines, PLAN)
        self.assertTrue(any("surprise" in p for p in problems))


class PlanTest(unittest.TestCase):
    def test_names_and_expected_skips(self):
        tests, expected, problems = report.parse_plan(
            ["# a comment", "", "module_insmod", "ce_hotplug expect-skip: one vCPU only"]
        )
        self.assertEqual(tests, ["module_insmod", "ce_hotplug"])
        self.assertEqual(expected, {"ce_hotplug": "one vCPU only"})
        self.assertEqual(problems, [])

    def test_a_test_named_twice_is_an_error(self):
        _, _, problems = report.parse_plan(["module_insmod", "ksft_nanosleep", "module_insmod"])
        self.assertTrue(any("twice" in p for p in problems))

    def test_an_expected_skip_needs_a_reason(self):
        _, _, problems = report.parse_plan(["ce_hotplug expect-skip:"])
        self.assertTrue(any("no reason" in p for p in problems))

    def test_junk_after_a_name_is_an_error(self):
        _, _, problems = report.parse_plan(["ce_hotplug skip"])
        self.assertEqual(len(problems), 1)


class VerdictTest(unittest.TestCase):
    """main() over files: what the summary line says and the exit status."""

    def run_main(self, plan_lines, domu_lines):
        import contextlib
        import io
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            plan = os.path.join(d, "plan.txt")
            domu = os.path.join(d, "domu.log")
            console = os.path.join(d, "console.log")
            with open(plan, "w") as f:
                f.write("\n".join(plan_lines) + "\n")
            with open(domu, "w") as f:
                f.write("\n".join(domu_lines) + "\n")
            with open(console, "w") as f:
                f.write("")
            argv = sys.argv
            sys.argv = ["report.py", "--run", f"r,{plan},{domu},{console},0"]
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    status = report.main()
            finally:
                sys.argv = argv
        return status, out.getvalue().splitlines()

    def test_unexpected_skip_fails(self):
        status, out = self.run_main(PLAN, GOOD)
        self.assertEqual(status, 1)
        self.assertEqual(out[-1], "2 passed, 1 failed, 0 skipped")

    def test_expected_skip_is_counted_as_a_skip(self):
        plan = PLAN[:2] + ["ksft_nanosleep expect-skip: no nanosleep here"]
        status, out = self.run_main(plan, GOOD)
        self.assertEqual(status, 0)
        self.assertEqual(out[-1], "2 passed, 0 failed, 1 skipped")

    def test_a_duplicate_in_the_plan_fails_the_run(self):
        plan = PLAN[:2] + ["ksft_nanosleep expect-skip: no nanosleep here", "module_insmod"]
        status, out = self.run_main(plan, GOOD)
        self.assertEqual(status, 1)
        self.assertTrue(any("twice" in l for l in out))


class GuestTailTest(unittest.TestCase):
    def test_a_hung_guest_shows_its_lines_and_backtraces_not_only_xen_dump(self):
        console = (["domU| [ 1.0] early"] * 40 + ["domU| # t: step 3", "(XEN) tick"]
                   + ["xc-dom0: domU hung: asking it for sysrq l w q"]
                   + ["domU| [ 99.0] sysrq: Show backtrace of all active CPUs"]
                   + ["(XEN) dump line"] * 500)
        out = report.guest_tail(console)
        self.assertIn("  | domU| # t: step 3", out)
        self.assertIn("  | domU| [ 99.0] sysrq: Show backtrace of all active CPUs", out)
        self.assertEqual(sum(l.startswith("  | domU| [ 1.0]") for l in out), report.DOMU_TAIL - 1)
        self.assertLess(len(out), report.DOMU_TAIL + report.SYSRQ_LINES + report.CONSOLE_TAIL + 5)

    def test_a_guest_that_was_not_found_hung_shows_its_end(self):
        out = report.guest_tail(["domU| [ 5.0] Kernel panic - not syncing"])
        self.assertIn("  | domU| [ 5.0] Kernel panic - not syncing", out)
        self.assertFalse(any("sysrq" in l for l in out))


class SplatTest(unittest.TestCase):
    def test_warning_on_console_is_caught(self):
        self.assertTrue(report.SPLAT.search("[  12.3] WARNING: CPU: 1 PID: 0 at kernel/time/tick.c:42"))
        self.assertTrue(report.SPLAT.search("[  36.1] exe[79]: segfault at 28c646a0 ip 4a4d02"))
        self.assertFalse(report.SPLAT.search("[   3.7] clocksource: Switched to clocksource xen"))
        # The debug kernel's banner is not a splat; lockdep's reports are.
        self.assertFalse(report.SPLAT.search("[   0.7] rcu: \tRCU lockdep checking is enabled."))
        self.assertTrue(report.SPLAT.search("[  40.2] WARNING: possible circular locking dependency detected"))
        self.assertTrue(report.SPLAT.search("[  40.2] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"))
        self.assertTrue(report.SPLAT.search("[   9.8] traps: exe[1] general protection fault ip:4a4d02"))


class HostTapTest(unittest.TestCase):
    def test_counts(self):
        lines = ["1..3", "ok 1 - rustfmt", "not ok 2 - clippy", "ok 3 - rustdoc"]
        self.assertEqual(report.parse_host_tap(lines, 0), (2, 1, ["clippy"]))

    def test_truncated_stream_fails(self):
        p, f, _ = report.parse_host_tap(["1..4", "ok 1 - rustfmt"], 0)
        self.assertEqual((p, f), (1, 1))


class CargoTest(unittest.TestCase):
    def test_sums_binaries(self):
        lines = ["test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured",
                 "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured"]
        self.assertEqual(report.parse_cargo(lines, 101), (7, 1))

    def test_build_failure(self):
        self.assertEqual(report.parse_cargo(["error[E0425]: cannot find value"], 101), (0, 1))

    def test_silence_is_not_success(self):
        self.assertEqual(report.parse_cargo([], 0), (0, 1))


if __name__ == "__main__":
    report.run_unittests(sys.modules[__name__], "report parser")
