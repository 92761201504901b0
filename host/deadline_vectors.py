#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Known answers of deadline.rs, computed with Python integers and fractions.

Prints the Rust entries of RATE_VECTORS, DEADLINE_VECTORS and ESTIMATE_VECTORS.
Nothing here calls the Rust code: the expected values come from the definitions
(rate = 1 + ppb / 1e9, least squares of xen - kernel against kernel).
"""

from fractions import Fraction
import math
import sys

U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
MAX_PPB = 999_999_999
BILLION = 10**9


def clamp_ppb(ppb):
    return max(-MAX_PPB, min(MAX_PPB, ppb))


def fixed_to_xen(ppb, k):
    """The fixed-point recipe: frac = |ppb| 2^64 / 1e9, down if faster, up if slower."""
    p = clamp_ppb(ppb)
    num = abs(p) * 2**64
    frac = num // BILLION if p >= 0 else -(-num // BILLION)
    assert frac < 2**64
    corr = (k * frac) >> 64
    return min(k + corr, U64_MAX) if p >= 0 else k - corr


def exact_to_xen(ppb, k):
    p = clamp_ppb(ppb)
    return min(k * (BILLION + p) // BILLION, U64_MAX)


def sat(v):
    return max(0, min(U64_MAX, v))


def deadline(policy, xen_now, delta, expiry, offset, ppb):
    if policy == "Delta":
        return sat(xen_now + delta)
    if policy == "Absolute":
        return sat(expiry + offset)
    return sat(xen_now + fixed_to_xen(ppb, delta))


def rust_int(v):
    if v == U64_MAX:
        return "u64::MAX"
    if v == I64_MAX:
        return "i64::MAX"
    if v == I64_MIN:
        return "i64::MIN"
    s = str(abs(v))
    out = ""
    while len(s) > 3:
        out = "_" + s[-3:] + out
        s = s[:-3]
    return ("-" if v < 0 else "") + s + out


def round_checked(q, margin, what):
    """Rounds a Fraction to nearest, insisting that it is not near a tie."""
    f = q - math.floor(q)
    assert abs(f - Fraction(1, 2)) > margin, (what, float(q))
    return math.floor(q + Fraction(1, 2))


def window(samples, n):
    kept = []
    for k, x in samples:
        if kept and (k < kept[-1][0] or x < kept[-1][1]):
            kept = []
        kept.append((k, x))
        kept = kept[-n:]
    return kept


def estimate(samples, n):
    w = window(samples, n)
    if len(w) < 2:
        return len(w), None
    xs = [Fraction(k) for k, _ in w]
    ys = [Fraction(x) - Fraction(k) for k, x in w]
    m = len(w)
    xbar = sum(xs) / m
    ybar = sum(ys) / m
    sxx = sum((x - xbar) ** 2 for x in xs)
    if sxx == 0:
        return m, None
    sxy = sum((x - xbar) * (y - ybar) for x, y in zip(xs, ys))
    b = sxy / sxx
    at_newest = ybar + b * (xs[-1] - xbar)
    # Before rounding, the estimator's slope is within 1e-10 ppb of the exact one and its
    # intercept within (1/2 + 2^-18) / m ns: keep clear of ties by more than that.
    ppb = round_checked(b * BILLION, Fraction(1, 10**6), "ppb")
    off = round_checked(at_newest, Fraction(1, 2 * m) + Fraction(1, 10**4), "offset")
    return m, (ppb, off)


RATE_CASES = [
    (0, 0), (0, 123_456_789), (0, U64_MAX),
    (1, 999_999_999), (1, 1_000_000_000), (1, U64_MAX),
    (-1, 999_999_999), (-1, 1_000_000_000), (-1, 1), (-1, U64_MAX),
    (1_000, 1_000_000), (1_000, 0xFFFF_FFFF), (-1_000, 0xFFFF_FFFF),
    (123_456, 100_000_000), (-123_456, 100_000_000),
    (10_000_000, 100_000), (10_000_000, 0xFFFF_FFFF), (-10_000_000, 0xFFFF_FFFF),
    (100_000_000, 1_000_000_000), (-100_000_000, 1_000_000_000),
    (100_000_000, 2**63), (-100_000_000, U64_MAX),
    (100_000_000, U64_MAX),
    (MAX_PPB, 1_000_000_000), (-MAX_PPB, 1_000_000_000), (-MAX_PPB, U64_MAX),
    (2_000_000_000, 1_000), (-5_000_000_000, 1_000_000_000),
    (I64_MAX, 7), (I64_MIN, U64_MAX),
    (7, 3), (333_333_333, 3), (-333_333_333, 3),
]

DEADLINE_CASES = [
    # policy, xen_now, delta, expiry, offset, ppb
    ("Delta", 1_000_000_000_000, 4_000_000, 5_000_000_000, 0, 0),
    ("Delta", U64_MAX - 10, 100, 0, 0, 0),
    ("Delta", 7, 0xFFFF_FFFF, 123, -9, 10_000_000),
    ("Absolute", 0, 0, 5_004_000_000, 999_995_000_000, 0),
    ("Absolute", 0, 0, 5_004_000_000, -5_000_000_000, 0),
    ("Absolute", 0, 0, 5_004_000_000, -6_000_000_000, 0),
    ("Absolute", 0, 0, U64_MAX - 5, 6, 0),
    ("Absolute", 0, 0, 2**63, I64_MIN, 0),
    ("Absolute", 0, 0, 0, I64_MIN, 0),
    ("Compensated", 1_000_000_000_000, 4_000_000, 0, 0, 0),
    ("Compensated", 1_000_000_000_000, 4_000_000, 0, 0, 10_000_000),
    ("Compensated", 1_000_000_000_000, 4_000_000, 0, 0, -10_000_000),
    ("Compensated", 1_000_000_000_000, 0xFFFF_FFFF, 0, 0, 12_345),
    ("Compensated", 1_000_000_000_000, 0xFFFF_FFFF, 0, 0, -12_345),
    ("Compensated", U64_MAX - 1_000, 1_000, 0, 0, 100_000_000),
    ("Compensated", 5, U64_MAX, 0, 0, -100_000_000),
]

ESTIMATE_WINDOW = 4
S = 1_000_000_000
T0 = 3_600_000_000_000_000  # Xen up for 1000 hours
ESTIMATE_CASES = [
    ("No sample.", []),
    ("One sample.", [(5 * S, T0)]),
    ("Two samples at the same kernel time: no x-variance.",
     [(5 * S, T0), (5 * S, T0 + 1_000)]),
    ("Two samples, Xen 1000 ppb faster.",
     [(5 * S, T0), (6 * S, T0 + S + 1_000)]),
    ("Two samples, Xen 1 % slower, 1 ms apart.",
     [(5 * S, T0), (5 * S + 1_000_000, T0 + 990_000)]),
    ("Four samples 1 s apart, 250 ppm, jittered by a few hundred ns.",
     [(5 * S + 113, T0 + 431), (6 * S - 271, T0 + S + 250_000 + 17),
      (7 * S + 388, T0 + 2 * S + 500_000 - 305), (8 * S + 9, T0 + 3 * S + 750_000 + 223)]),
    ("Six samples 10 s apart, -10 %: only the last four stay in the window.",
     [(k * 10 * S + 777, T0 + k * 9 * S + (k * k * 37) % 103) for k in range(6)]),
    ("The kernel clock steps back: the window restarts with the third sample.",
     [(9 * S, T0), (10 * S, T0 + S + 50), (4 * S, T0 + 2 * S),
      (5 * S + 7, T0 + 3 * S + 2_000_000)]),
    ("Xen time steps back (a migration): the window restarts with the second sample.",
     [(5 * S, T0), (6 * S, T0 - S), (7 * S, T0 + 1_000)]),
    ("Xen behind the kernel (negative offset), 3 samples, 10 % faster.",
     [(T0, 5 * S), (T0 + 3 * S, 5 * S + 3 * S + 300_000_000 + 3),
      (T0 + 4 * S + 1, 5 * S + 4 * S + 400_000_000 - 4)]),
]


def main():
    out = sys.stdout
    out.write("// RATE_VECTORS\n")
    for ppb, k in RATE_CASES:
        e = fixed_to_xen(ppb, k)
        x = exact_to_xen(ppb, k)
        assert abs(e - x) <= 1, (ppb, k, e, x)
        out.write(
            f"    RateVector {{\n        ppb: {rust_int(ppb)},\n        kernel_ns: {rust_int(k)},\n"
            f"        expected: {rust_int(e)},\n        exact: {rust_int(x)},\n    }},\n")
    out.write("// DEADLINE_VECTORS\n")
    for pol, xn, d, ex, off, ppb in DEADLINE_CASES:
        e = deadline(pol, xn, d, ex, off, ppb)
        out.write(
            f"    DeadlineVector {{\n        policy: Policy::{pol},\n        xen_now: {rust_int(xn)},\n"
            f"        delta_ns: {rust_int(d)},\n        kernel_expiry_ns: {rust_int(ex)},\n"
            f"        offset_ns: {rust_int(off)},\n        ppb: {rust_int(ppb)},\n"
            f"        expected: {rust_int(e)},\n    }},\n")
    out.write("// ESTIMATE_VECTORS\n")
    for comment, samples in ESTIMATE_CASES:
        m, est = estimate(samples, ESTIMATE_WINDOW)
        pairs = ", ".join(f"({rust_int(k)}, {rust_int(x)})" for k, x in samples)
        exp = "None" if est is None else (
            f"Some(Estimate {{\n            drift_ppb: {rust_int(est[0])},\n"
            f"            offset_ns: {rust_int(est[1])},\n        }})")
        out.write(
            f"    // {comment}\n    EstimateVector {{\n        samples: &[{pairs}],\n"
            f"        window: {m},\n        expected: {exp},\n    }},\n")


if __name__ == "__main__":
    main()
