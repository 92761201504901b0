#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of scripts/bench_pool.py on reports shaped as the guest writes them."""
import io
import math
import os
import random
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pool  # noqa: E402
import report  # noqa: E402


def report_text(rounds, rng, factors, boot_effect=None, round_noise=0.05):
    """A report of `rounds` rounds; factors maps an arm to its true ratio to the C device, and
    boot_effect (if given) multiplies every arm but c and c2 in this boot. Each round's machine
    speed drifts, and moves every arm of that round alike."""
    lines = [f"timer_latency_rounds: {rounds}"]
    for arm, f in factors.items():
        if arm not in ("c", "c2") and boot_effect is not None:
            f *= boot_effect
        med, p90 = [], []
        r2 = random.Random(7)  # the same machine drift for every arm of this report
        for _ in range(rounds):
            speed = r2.uniform(0.7, 1.4)
            med.append(int(400000 * speed * f * rng.lognormvariate(0, round_noise)))
            p90.append(int(650000 * speed * f * rng.lognormvariate(0, round_noise)))
        lines.append(f"{arm}_round_median_ns: {' '.join(map(str, med))} ")
        lines.append(f"{arm}_round_p90_ns: {' '.join(map(str, p90))} ")
        if arm != "c":
            lines.append(f"{arm}_ratio_median_permille: {int(f * 1000)}")
            lines.append(f"{arm}_ratio_p90_permille: {int(f * 1000)}")
    return "\n".join(lines) + "\n"


def rows_by(rows):
    return {(r[0], r[1]): r for r in rows}


class BenchPoolTest(unittest.TestCase):
    def pooled(self, boots, factors, effects=None, noise=0.05):
        rng = random.Random(3)
        reports = [bench_pool.parse(report_text(30, rng, factors,
                                                None if effects is None else effects[i], noise))
                   for i in range(boots)]
        return rows_by(bench_pool.pool(reports))

    def test_equal_arms_cannot_be_told_apart(self):
        rows = self.pooled(4, {"c": 1.0, "c2": 1.0, "rs": 1.0})
        for key in (("c2", "median"), ("c2", "p90"), ("rs", "median"), ("rs", "p90")):
            _, _, g, low, high, ahead, total, _ = rows[key]
            self.assertEqual(bench_pool.verdict(low, high), "cannot be told apart", rows[key])
            self.assertAlmostEqual(g, 1.0, delta=0.02)
            self.assertEqual(total, 120)
            self.assertTrue(30 < ahead < 90, rows[key])

    def test_an_arm_3_percent_slower_is_worse_at_both_percentiles(self):
        rows = self.pooled(4, {"c": 1.0, "c2": 1.0, "rs": 1.03}, noise=0.02)
        for s in bench_pool.STATS:
            _, _, g, low, high, _, _, per_boot = rows[("rs", s)]
            self.assertEqual(bench_pool.verdict(low, high), "worse", rows[("rs", s)])
            self.assertAlmostEqual(g, 1.03, delta=0.01)
            self.assertTrue(low < 1.03 < high)
            self.assertEqual(per_boot, [1.03] * 4)
        self.assertEqual(bench_pool.verdict(*rows[("c2", "median")][3:5]), "cannot be told apart")

    def test_an_arm_3_percent_faster_is_better(self):
        rows = self.pooled(4, {"c": 1.0, "rs_cs": 0.97}, noise=0.02)
        self.assertEqual(bench_pool.verdict(*rows[("rs_cs", "median")][3:5]), "better")

    def test_an_effect_that_differs_by_boot_widens_the_interval(self):
        # Three boots 3 % slower, one 9 % faster: a geometric mean near 1, which the rounds of a
        # single level would pin down to a narrow interval around it.
        rows = self.pooled(4, {"c": 1.0, "rs": 1.0}, effects=[1.03, 1.03, 1.03, 0.91],
                           noise=0.005)
        _, _, g, low, high, _, _, _ = rows[("rs", "median")]
        self.assertAlmostEqual(g, 0.998, delta=0.01)
        self.assertLess(low, 0.96)
        self.assertGreater(high, 1.02)

    def test_a_single_boot_pools(self):
        rows = self.pooled(1, {"c": 1.0, "rs": 1.05})
        self.assertEqual(bench_pool.verdict(*rows[("rs", "median")][3:5]), "worse")

    def test_bad_reports_are_refused_with_a_reason(self):
        good = report_text(3, random.Random(1), {"c": 1.0, "rs": 1.0})
        cases = {
            "no per-round values of the C device": good.replace("c_round", "x_round"),
            "has 3 rounds, timer_latency_rounds says 2":
                good.replace("timer_latency_rounds: 3", "timer_latency_rounds: 2"),
            "not a list of integers": good.replace("rs_round_p90_ns: ", "rs_round_p90_ns: x "),
            "rs_round_p90_ns missing": good.replace("rs_round_p90_ns", "rs_round_p95_ns"),
        }
        for msg, text in cases.items():
            with self.assertRaisesRegex(bench_pool.ReportError, msg):
                bench_pool.parse(text)
        a = bench_pool.parse(good)
        b = bench_pool.parse(report_text(3, random.Random(1), {"c": 1.0, "c2": 1.0}))
        with self.assertRaisesRegex(bench_pool.ReportError, "no arm but c is in every report"):
            bench_pool.pool([a, b])

    def test_only_the_arms_of_every_report_pool(self):
        a = bench_pool.parse(report_text(30, random.Random(1),
                                         {"c": 1.0, "rs": 1.0, "rs_all": 1.0}))
        b = bench_pool.parse(report_text(40, random.Random(2), {"c": 1.0, "rs": 1.0, "c2": 1.0}))
        rows = bench_pool.pool([a, b])
        self.assertEqual(sorted({r[0] for r in rows}), ["rs"])
        self.assertEqual(rows[0][6], 70)

    def test_the_parts_of_the_arms_compare_with_the_c_devices_same_part(self):
        reports = []
        for boot, late in enumerate((1.10, 1.20)):
            text = report_text(3, random.Random(boot), {"c": 1.0, "rs": 1.0})
            text += ("c_warmup: median_ns=400000 p90_ns=600000\n"
                     f"rs_warmup: median_ns={int(400000 * late)} p90_ns=600000\n"
                     "c_first100: median_ns=400000 p90_ns=600000\n")
            reports.append(bench_pool.parse(text))
        rows = bench_pool.parts(reports)
        # rs has no first100 line: only the warm-up, which both have, compares.
        self.assertEqual([(r[0], r[1], r[2]) for r in rows],
                         [("rs", "warmup", "median"), ("rs", "warmup", "p90")])
        self.assertAlmostEqual(rows[0][3], math.sqrt(1.10 * 1.20), places=3)
        self.assertEqual([round(x, 3) for x in rows[0][4]], [1.1, 1.2])
        self.assertAlmostEqual(rows[1][3], 1.0)

    def test_another_arm_as_the_reference(self):
        rng = random.Random(3)
        reports = [bench_pool.parse(report_text(30, rng, {"c": 1.0, "rs": 1.05, "rs_off": 1.10},
                                                round_noise=0.02)) for _ in range(3)]
        rows = rows_by(bench_pool.pool(reports, ref="rs_off"))
        self.assertEqual(sorted(k[0] for k in rows), ["c", "c", "rs", "rs"])
        _, _, g, low, high, _, _, per_boot = rows[("rs", "median")]
        self.assertAlmostEqual(g, 1.05 / 1.10, delta=0.01)
        self.assertEqual(bench_pool.verdict(low, high), "better")
        self.assertEqual(per_boot, [None] * 3)  # the guest's pooled ratios are to c
        self.assertAlmostEqual(rows[("c", "median")][2], 1.0 / 1.10, delta=0.01)
        with self.assertRaisesRegex(bench_pool.ReportError, "the arm c2 is not in every report"):
            bench_pool.pool(reports, ref="c2")

    def test_the_tails_are_each_boots_pooled_ratios(self):
        paths = []
        with tempfile.TemporaryDirectory() as d:
            for boot, p99 in enumerate((1.10, 1.20)):
                path = os.path.join(d, f"bench-{boot}.txt")
                with open(path, "w") as f:
                    f.write(report_text(3, random.Random(boot), {"c": 1.0, "rs": 1.0}))
                    f.write(f"rs_ratio_p99_permille: {int(p99 * 1000)}\n"
                            "rs_ratio_max_permille: 900\n")
                paths.append(path)
            out = io.StringIO()
            with mock.patch.object(sys, "argv", ["bench_pool.py"] + paths), redirect_stdout(out):
                self.assertEqual(bench_pool.main(), 0)
        self.assertIn(f"rs       p99    {math.sqrt(1.10 * 1.20):6.3f}", out.getvalue())
        self.assertIn("pooled ratio: 1.100 1.200)", out.getvalue())
        self.assertIn("rs       max     0.900", out.getvalue())


if __name__ == "__main__":
    report.run_unittests(sys.modules[__name__], "bench_pool.py")
