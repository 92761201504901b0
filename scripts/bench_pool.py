#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pools the timer latency benchmark of several boots (make bench reports, results/bench-*.txt).

One boot's ratio to the C device carries a few percent of noise, as large as the differences in
question. Each report lists every round's median and p90 per arm; here each round's value is
divided by the C device's in the same round (which cancels the machine's drift between rounds),
and the ratios of all boots are pooled:

    python3 scripts/bench_pool.py results/bench-A.txt results/bench-B.txt ...

Per arm and statistic: the geometric mean of the paired ratios with a 95 % interval from a
two-level bootstrap (boots resampled, then rounds within each boot, so that an effect which
differs from boot to boot, such as where the module landed in memory, widens the interval rather
than hiding in it), the rounds in which the arm was ahead of the C device, and each boot's
pooled ratio as the guest reported it. An arm is worse than the C device only if its whole
interval lies above 1; c2, the C device again, shows what equal devices come to.
"""
import argparse
import math
import random
import re
import signal
import statistics
import sys

STATS = ("median", "p90")
PARTS = ("warmup", "first100", "after100")
# Too few sleeps in a round for its own p99 or max: only each boot's pooled ratio.
TAILS = ("p99", "max")
RESAMPLES = 4000


class ReportError(Exception):
    pass


def parse(text, name="report"):
    """Returns {arm: {"median": [...], "p90": [...], "pooled": {stat: ratio},
    "parts": {part: {stat: ns}}}} of one report."""
    keys = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z0-9_]+): (.*)$", line.strip())
        if m:
            keys[m.group(1)] = m.group(2).strip()
    arms = {}
    for k, v in keys.items():
        m = re.match(r"^([a-z0-9_]+?)_round_(median|p90)_ns$", k)
        if not m:
            continue
        try:
            values = [int(x) for x in v.split()]
        except ValueError as e:
            raise ReportError(f"{name}: {k}: not a list of integers") from e
        if not values or min(values) <= 0:
            raise ReportError(f"{name}: {k}: empty or not positive")
        arms.setdefault(m.group(1), {})[m.group(2)] = values
    if "c" not in arms:
        raise ReportError(f"{name}: no per-round values of the C device "
                          "(a report of a benchmark older than 60bc837?)")
    rounds = keys.get("timer_latency_rounds")
    for arm, d in arms.items():
        for s in STATS:
            if s not in d:
                raise ReportError(f"{name}: {arm}_round_{s}_ns missing")
            if rounds is not None and len(d[s]) != int(rounds):
                raise ReportError(f"{name}: {arm}_round_{s}_ns has {len(d[s])} rounds, "
                                  f"timer_latency_rounds says {rounds}")
        d["pooled"] = {s: int(keys[f"{arm}_ratio_{s}_permille"]) / 1000
                       for s in STATS + TAILS if f"{arm}_ratio_{s}_permille" in keys}
        # The parts of the arm: its uncounted warm-up, its first 100 counted sleeps of every
        # round and the others ("median_ns=N p90_ns=N").
        d["parts"] = {}
        for part in PARTS:
            m = re.match(r"^median_ns=(\d+) p90_ns=(\d+)$", keys.get(f"{arm}_{part}", ""))
            if m:
                d["parts"][part] = {"median": int(m.group(1)), "p90": int(m.group(2))}
    return arms


def gmean(logs):
    return math.exp(statistics.fmean(logs))


def bootstrap(boots, rng):
    """95 % interval of the geometric mean ratio; boots is a list of lists of log ratios."""
    means = []
    for _ in range(RESAMPLES):
        pooled = []
        for b in rng.choices(boots, k=len(boots)):
            pooled += rng.choices(b, k=len(b))
        means.append(statistics.fmean(pooled))
    means.sort()
    return math.exp(means[int(0.025 * RESAMPLES)]), math.exp(means[int(0.975 * RESAMPLES) - 1])


def common_arms(reports, ref):
    """The arms but `ref` that every report has; fails if `ref` is not in every report."""
    if not all(ref in r for r in reports):
        raise ReportError(f"the arm {ref} is not in every report")
    return [a for a in reports[0] if a != ref and all(a in r for r in reports)]


def pool(reports, seed=1, ref="c"):
    """Returns rows (arm, stat, ratio, low, high, ahead, rounds, per-boot pooled ratios) of the
    arms that every report has, against the arm `ref` (the C device unless told)."""
    arms = common_arms(reports, ref)
    if not arms:
        raise ReportError(f"no arm but {ref} is in every report")
    rng = random.Random(seed)
    rows = []
    for arm in arms:
        for s in STATS:
            boots = [[math.log(x / y) for x, y in zip(r[arm][s], r[ref][s])] for r in reports]
            logs = [v for b in boots for v in b]
            low, high = bootstrap(boots, rng)
            # The guest's pooled ratios are to the C device.
            per_boot = [r[arm]["pooled"].get(s) if ref == "c" else None for r in reports]
            rows.append((arm, s, gmean(logs), low, high, sum(v < 0 for v in logs), len(logs),
                         per_boot))
    return rows


def parts(reports, ref="c"):
    """Returns rows (arm, part, stat, geometric mean over the boots, per-boot ratios) of each
    part's value against the same part of `ref`, for the parts every report has."""
    rows = []
    for arm in common_arms(reports, ref):
        for part in PARTS:
            if not all(part in r[arm]["parts"] and part in r[ref]["parts"] for r in reports):
                continue
            for s in STATS:
                ratios = [r[arm]["parts"][part][s] / r[ref]["parts"][part][s] for r in reports]
                rows.append((arm, part, s, gmean([math.log(x) for x in ratios]), ratios))
    return rows


def verdict(low, high):
    if low > 1:
        return "worse"
    if high < 1:
        return "better"
    return "cannot be told apart"


def main():
    # Quiet when a pager or head stops reading, as other command-line tools are.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", default="c",
                    help="the arm the others are paired with (default: c, the C device)")
    ap.add_argument("reports", nargs="+")
    args = ap.parse_args()
    try:
        reports = []
        for path in args.reports:
            with open(path) as f:
                reports.append(parse(f.read(), path))
        ref = args.reference
        rows = pool(reports, ref=ref)
        left = sorted({arm for r in reports for arm in r} - {ref} - {row[0] for row in rows})
    except (OSError, ReportError) as e:
        print(f"bench_pool: {e}", file=sys.stderr)
        return 2
    n = len(reports)
    against = "the C device" if ref == "c" else ref
    print(f"{n} boot{'s' if n > 1 else ''}, {rows[0][6]} rounds; ratio to {against}, paired by "
          "round (geometric mean, 95 % two-level bootstrap interval)")
    print(f"{'arm':<8} {'stat':<6} {'ratio':>6}  {'95 % interval':<15} {'ahead':>9}  "
          f"{'verdict':<21} each boot's pooled ratio")
    for arm, s, g, low, high, ahead, total, per_boot in rows:
        boots = " ".join("-" if p is None else f"{p:.3f}" for p in per_boot)
        print(f"{arm:<8} {s:<6} {g:6.3f}  [{low:.3f}, {high:.3f}]  {ahead:>3} of {total:<3}  "
              f"{verdict(low, high):<21} {boots}")
    # The guest's pooled ratios, the only ones of the tails, are to the C device.
    for arm in sorted({row[0] for row in rows}) if ref == "c" else []:
        for s in TAILS:
            per_boot = [r[arm]["pooled"].get(s) for r in reports]
            if None not in per_boot:
                print(f"{arm:<8} {s:<6} {gmean([math.log(x) for x in per_boot]):6.3f}  "
                      f"(geometric mean of each boot's pooled ratio: "
                      f"{' '.join(f'{x:.3f}' for x in per_boot)})")
    part_rows = parts(reports, ref)
    if part_rows:
        print(f"each part's ratio to {against}'s same part (geometric mean over the boots; "
              "each boot): warmup = uncounted sleeps, first100/after100 = counted ones")
        for arm, part, s, g, ratios in part_rows:
            print(f"{arm:<8} {part:<9} {s:<6} {g:6.3f}  {' '.join(f'{x:.3f}' for x in ratios)}")
    if left:
        print(f"not in every report, left out: {' '.join(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
