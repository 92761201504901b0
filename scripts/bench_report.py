#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench_report.py RESULTS_DIR: the table and the plot of the deadline policies.

Reads what `make bench` left in RESULTS_DIR (the guest's log, with the `policy_bench` lines of
t_bench_deadline_policies, and series.txt, its error series), runs the host simulator
(host/src/bin/drift-sim.rs) for the same drift, and writes

  Documentation/deadline-policies.rst  the table, with the run that made it;
  Documentation/deadline-error.png     the error against elapsed time, measured and simulated.

`make bench` runs it; to redraw from a kept run: python3 scripts/bench_report.py results/bench-*/
"""
import csv
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "Documentation")
# The driver's three policies (loaded with coupled=0), and its default: delta, coupled with the
# clocksource, so that the tick core converts the expiries where the clocksource is Xen time.
POLICIES = ("delta", "absolute", "compensated", "coupled")
# t_bench_deadline_policies: NTP tick in us, and what it does to CLOCK_MONOTONIC.
DRIFT = {"10000": "none", "10050": "+0.5 %", "9950": "-0.5 %"}
SERIES_TICK_PPM = 5000  # the series run at tick 10050: the kernel's clock 5000 ppm fast


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def ms(ns):
    return f"{int(ns) / 1e6:.3f}"


def ppm(ppb):
    return f"{int(ppb) / 1e3:+.1f}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1].rstrip("/")
    with open(os.path.join(run, "domu.log"), errors="replace") as f:
        log = f.read().splitlines()
    rows = [fields(l) for l in log if l.startswith("# policy_bench ") and "period_us=" in l]
    skipped = [l[2:] for l in log if l.startswith("# policy_bench ") and "not offered" in l]
    drifts = {fields(l)["policy"]: fields(l)["drift_ppb"] for l in log if l.startswith("# series_drift ")}
    series = {p: ([], []) for p in POLICIES}
    with open(os.path.join(run, "series.txt")) as f:
        for line in f:
            d = fields(line)
            series[d["policy"]][0].append(int(d["elapsed_ns"]) / 1e9)
            series[d["policy"]][1].append(int(d["late_ns"]) / 1e6)
    if not rows or not all(series[p][0] for p in POLICIES):
        sys.exit(f"{run}: no policy_bench lines or an empty series: not a make bench run with the policies")
    kernel = next((l for l in log if "Linux version" in l), "").split("Linux version")[-1].split("(")[0].strip()
    describe = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip()

    # The simulator, for the series' drift and period, over the series' span.
    span = max(max(series[p][0]) for p in POLICIES)
    csv_path = os.path.join(run, "drift-sim.csv")
    subprocess.run(["cargo", "run", "-q", "--release", "--bin", "drift-sim", "--",
                    "--drift-ppm", str(SERIES_TICK_PPM), "--periods", "10ms",
                    "--elapsed", f"{int(span) + 1}s", "--points", "300", "--out", csv_path],
                   cwd=os.path.join(REPO, "host"), check=True, stderr=subprocess.DEVNULL)
    sim = {p: ([], []) for p in POLICIES}
    with open(csv_path) as f:
        for r in csv.DictReader(f):
            sim[r["policy"]][0].append(float(r["elapsed_s"]))
            sim[r["policy"]][1].append(int(r["error_ns"]) / 1e6)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    colours = {"delta": "tab:blue", "absolute": "tab:red", "compensated": "tab:green",
               "coupled": "tab:purple"}
    for p in POLICIES:
        ax.plot(series[p][0], series[p][1], ".", ms=3, color=colours[p], alpha=0.5,
                label=f"{p}, measured (monitor: {ppm(drifts.get(p, 0))} ppm)")
        ax.plot(sim[p][0], sim[p][1], "-", lw=1.2, color=colours[p], label=f"{p}, simulated")
    ax.set_xlabel("elapsed time since the module was loaded (s)")
    ax.set_ylabel("lateness of a 10 ms sleep (ms)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_title("CLOCK_MONOTONIC 0.5 % faster than Xen time (NTP tick 10050)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(os.path.join(DOC, "deadline-error.png"))

    out = []
    w = out.append
    w(".. SPDX-License-Identifier: GPL-2.0")
    w("")
    w(".. This file is written by scripts/bench_report.py from a `make bench` run: do not edit.")
    w("")
    title = "Deadline policies against a drift, measured"
    w("=" * len(title))
    w(title)
    w("=" * len(title))
    w("")
    w("The seed's question (:doc:`xen-clock`, \"One-shot deadlines\") answered in one")
    w("boot: each ``deadline`` policy in charge of every CPU's tick (loaded with")
    w("``coupled=0``), and the default, ``coupled`` (``delta``, with the tick core")
    w("converting the expiry itself where the clocksource is Xen time), the kernel's")
    w("``CLOCK_MONOTONIC`` made to drift from Xen time with NTP's tick")
    w("(``adjtimex -t``), sleeps to absolute ``CLOCK_MONOTONIC`` deadlines on CPU 1.")
    w(f"Run: ``{os.path.basename(run)}``, tree ``{describe}``, guest kernel {kernel},")
    w("2 vCPUs, ``tsc=reliable``. Regenerated, with the figure, by ``make bench``.")
    w("")
    w(".. image:: deadline-error.png")
    w("   :alt: lateness of 10 ms sleeps against elapsed time, per policy")
    w("")
    w("The figure: 10 ms sleeps for a minute after the module is loaded, the kernel's")
    w("clock 0.5 % fast, about 100 sleeps' lateness per policy as the sleeper measures it")
    w("(dots), and the simulator's error of the deadline alone for the same drift")
    w("(lines; ``host/src/bin/drift-sim.rs``; it has no wake-up latency, so the")
    w("measured dots lie above it by the guest's own latency, about 0.5 ms).")
    w("``absolute`` grows with elapsed time times the drift; ``delta`` stays at")
    w("the delay times the drift (50 us here); ``compensated`` follows ``delta``")
    w("until the monitor has 4 samples, then the error of its estimate; ``coupled``")
    w("has no drift in its deadlines, only the rounding of the timekeeper's inverse")
    w("factor (a few ns here), so its dots show the wake-up latency alone.")
    w("")
    w("The table: lateness by the kernel's clock (median, 99th percentile, max, in")
    w("ms), the device's events per sleep on that CPU, how many of them came")
    w("before the kernel's expiry (``early_kernel``: each an extra interrupt), the")
    w("same events' mean")
    w("lateness by Xen's clock against the deadline handed to Xen, the deadlines")
    w("the tick core converted (``coupled``) of those programmed on all CPUs (with")
    w("``tsc`` there is nothing to couple with: ``coupled`` then reads Xen time as")
    w("``delta`` does), and the drift the monitor measured (Xen time against the")
    w("kernel's clock, ppm).")
    if skipped:
        w("Not run: " + "; ".join(skipped) + ".")
    w("")
    w(".. list-table::")
    w("   :header-rows: 1")
    w("")
    head = ["clocksource", "kernel clock", "policy", "sleep", "median", "p99", "max",
            "events / sleep", "early (kernel)", "Xen mean", "coupled", "monitor ppm"]
    w("   * - " + head[0])
    for h in head[1:]:
        w("     - " + h)
    for r in rows:
        period = int(r["period_us"])
        sleep = (f"{period // 1000000} s" if period >= 1000000 else
                 f"{period // 1000} ms" if period >= 1000 else f"{period} us")
        cells = [r["cs"], DRIFT.get(r["tick"], r["tick"]), r["policy"], sleep, ms(r["median_ns"]),
                 ms(r["p99_ns"]), ms(r["max_ns"]), r["events_per_sleep"], r["early_kernel"],
                 ms(r["xen_mean_ns"]), r.get("coupled", "-"),
                 ppm(r["drift_ppb"])]
        w("   * - " + cells[0])
        for c in cells[1:]:
            w("     - " + c)
    w("")
    with open(os.path.join(DOC, "deadline-policies.rst"), "w") as f:
        f.write("\n".join(out))
    print(f"wrote Documentation/deadline-policies.rst ({len(rows)} rows) and Documentation/deadline-error.png")


if __name__ == "__main__":
    main()
