// SPDX-License-Identifier: GPL-2.0

//! Host tests of `deadline.rs`: known answers, `Rate` against exact rational arithmetic, the
//! three policies against an independent reference, and the drift estimator against an exact
//! least-squares fit, known lines with and without jitter, and its documented extremes.

use proptest::prelude::*;
use xen_clock_host::deadline::{
    deadline, DriftEstimator, Estimate, Policy, Rate, DEADLINE_VECTORS, ESTIMATE_VECTORS,
    ESTIMATE_VECTOR_WINDOW, MAX_WINDOW, NAMES, RATE_VECTORS,
};
use xen_clock_host::pvclock::oneshot_deadline;

const BILLION: i128 = 1_000_000_000;

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

#[test]
fn policy_names_round_trip() {
    for p in Policy::ALL {
        assert_eq!(Policy::from_name(p.name().as_bytes()), Some(p));
        let with_newline = format!("{}\n", p.name());
        assert_eq!(Policy::from_name(with_newline.as_bytes()), Some(p));
    }
    let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(names.join(", "), NAMES);
}

#[test]
fn policy_rejects_everything_else() {
    for bad in [
        &b""[..],
        b"\n",
        b"Delta",
        b"DELTA",
        b" delta",
        b"delta ",
        b"delta\n\n",
        b"delta\r\n",
        b"\ndelta",
        b"delt",
        b"deltas",
        b"absolut",
        b"compensate",
        b"delta,absolute",
        b"delta\0",
    ] {
        assert_eq!(
            Policy::from_name(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

// ---------------------------------------------------------------------------
// Rate
// ---------------------------------------------------------------------------

/// `floor(k (10^9 + ppb) / 10^9)` with `ppb` clamped as `Rate::from_ppb` does, saturated.
fn exact_to_xen(ppb: i64, k: u64) -> u64 {
    let p = i128::from(ppb.clamp(-Rate::MAX_PPB, Rate::MAX_PPB));
    let v = (i128::from(k) * (BILLION + p)).div_euclid(BILLION);
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[test]
fn rate_known_answers() {
    assert!(RATE_VECTORS.len() >= 30);
    for v in RATE_VECTORS {
        assert_eq!(
            Rate::from_ppb(v.ppb).to_xen(v.kernel_ns),
            v.expected,
            "{v:?}"
        );
    }
}

#[test]
fn rate_known_answers_agree_with_exact_reference() {
    // Guards the vectors themselves, and the 1 ns claim on them.
    for v in RATE_VECTORS {
        assert_eq!(exact_to_xen(v.ppb, v.kernel_ns), v.exact, "{v:?}");
        assert!(v.expected.abs_diff(v.exact) <= 1, "{v:?}");
    }
}

#[test]
fn rate_identity() {
    assert_eq!(Rate::from_ppb(0), Rate::IDENTITY);
    assert_eq!(Rate::IDENTITY.ppb(), 0);
    for k in [0, 1, 999, 0xffff_ffff, 1 << 63, u64::MAX] {
        assert_eq!(Rate::IDENTITY.to_xen(k), k);
    }
}

#[test]
fn rate_clamps_ppb() {
    assert_eq!(Rate::from_ppb(i64::MAX), Rate::from_ppb(Rate::MAX_PPB));
    assert_eq!(Rate::from_ppb(1_000_000_000), Rate::from_ppb(Rate::MAX_PPB));
    assert_eq!(Rate::from_ppb(i64::MIN), Rate::from_ppb(-Rate::MAX_PPB));
    assert_eq!(
        Rate::from_ppb(-1_000_000_000),
        Rate::from_ppb(-Rate::MAX_PPB)
    );
    assert_eq!(Rate::from_ppb(i64::MAX).ppb(), Rate::MAX_PPB);
    assert_eq!(Rate::from_ppb(i64::MIN).ppb(), -Rate::MAX_PPB);
    for p in [-100_000_000, -1, 1, 12_345, 100_000_000] {
        assert_eq!(Rate::from_ppb(p).ppb(), p);
    }
    // Nearly 2 and nearly 0 (exactly 1_999_999_999 and 1), within the 1 ns of rounding.
    let fastest = Rate::from_ppb(i64::MAX).to_xen(1_000_000_000);
    assert!(fastest.abs_diff(1_999_999_999) <= 1, "{fastest}");
    let slowest = Rate::from_ppb(i64::MIN).to_xen(1_000_000_000);
    assert!(slowest.abs_diff(1) <= 1, "{slowest}");
}

#[test]
fn rate_edges_of_every_valid_drift_magnitude() {
    // The largest kernel durations, where the multiplier's rounding weighs most.
    let ks = [
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) - 1,
        999_999_999_999_999_999,
        0xffff_ffff,
    ];
    let ppbs = [
        1,
        -1,
        3,
        -3,
        7,
        -7,
        999,
        -999,
        1_000_001,
        -1_000_001,
        99_999_999,
        -99_999_999,
        100_000_000,
        -100_000_000,
        Rate::MAX_PPB,
        -Rate::MAX_PPB,
    ];
    for &p in &ppbs {
        for &k in &ks {
            let got = Rate::from_ppb(p).to_xen(k);
            let exact = exact_to_xen(p, k);
            assert!(got.abs_diff(exact) <= 1, "ppb {p} k {k}: {got} vs {exact}");
        }
    }
}

/// Drifts with the ±10 % range and the clamping edges over-represented.
fn any_ppb() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -100_000_000i64..=100_000_000,
        2 => -Rate::MAX_PPB..=Rate::MAX_PPB,
        1 => -1_000i64..=1_000,
        1 => any::<i64>(),
        1 => prop_oneof![Just(Rate::MAX_PPB), Just(-Rate::MAX_PPB), Just(0i64)],
    ]
}

/// Kernel durations: hot-path sized ones, then any.
fn any_kernel_ns() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0u64..=0xffff_ffff,
        3 => any::<u64>(),
        1 => (0u32..64).prop_map(|b| 1u64 << b),
        1 => Just(u64::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8192))]

    #[test]
    fn rate_to_xen_within_1_ns_of_exact(ppb in any_ppb(), k in any_kernel_ns()) {
        let got = Rate::from_ppb(ppb).to_xen(k);
        let exact = exact_to_xen(ppb, k);
        prop_assert!(got.abs_diff(exact) <= 1, "ppb {} k {}: {} vs {}", ppb, k, got, exact);
    }

    #[test]
    fn rate_to_xen_is_monotonic(ppb in any_ppb(), a in any_kernel_ns(), b in any_kernel_ns()) {
        let r = Rate::from_ppb(ppb);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(r.to_xen(lo) <= r.to_xen(hi));
    }

    #[test]
    fn rate_to_xen_is_monotonic_in_ppb(a in any_ppb(), b in any_ppb(), k in any_kernel_ns()) {
        // A faster rate never gives a shorter Xen duration by more than the rounding.
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (x_lo, x_hi) = (Rate::from_ppb(lo).to_xen(k), Rate::from_ppb(hi).to_xen(k));
        prop_assert!(x_lo <= x_hi.saturating_add(2), "{} {} {}: {} {}", lo, hi, k, x_lo, x_hi);
    }
}

// ---------------------------------------------------------------------------
// deadline
// ---------------------------------------------------------------------------

/// An independent reference for `deadline()`, in 128 bits.
fn reference_deadline(
    policy: Policy,
    xen_now: u64,
    delta: u64,
    expiry: u64,
    offset: i64,
    ppb: i64,
) -> u64 {
    let v: i128 = match policy {
        Policy::Delta => i128::from(xen_now) + i128::from(delta),
        Policy::Absolute => i128::from(expiry) + i128::from(offset),
        // Within 1 ns of the exact conversion, checked separately; use the real one here.
        Policy::Compensated => i128::from(xen_now) + i128::from(Rate::from_ppb(ppb).to_xen(delta)),
    };
    u64::try_from(v.clamp(0, i128::from(u64::MAX))).unwrap()
}

#[test]
fn deadline_known_answers() {
    assert!(DEADLINE_VECTORS.len() >= 15);
    for v in DEADLINE_VECTORS {
        let got = deadline(
            v.policy,
            v.xen_now,
            v.delta_ns,
            v.kernel_expiry_ns,
            v.offset_ns,
            Rate::from_ppb(v.ppb),
        );
        assert_eq!(got, v.expected, "{v:?}");
    }
    // Every policy is covered, and saturation at both ends.
    for p in Policy::ALL {
        assert!(DEADLINE_VECTORS.iter().any(|v| v.policy == p));
    }
    assert!(DEADLINE_VECTORS.iter().any(|v| v.expected == u64::MAX));
    assert!(DEADLINE_VECTORS.iter().any(|v| v.expected == 0));
}

#[test]
fn deadline_known_answers_agree_with_reference() {
    for v in DEADLINE_VECTORS {
        let r = reference_deadline(
            v.policy,
            v.xen_now,
            v.delta_ns,
            v.kernel_expiry_ns,
            v.offset_ns,
            v.ppb,
        );
        assert_eq!(r, v.expected, "{v:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn deadline_matches_reference(
        policy in prop_oneof![Just(Policy::Delta), Just(Policy::Absolute), Just(Policy::Compensated)],
        xen_now in any_kernel_ns(),
        delta in any_kernel_ns(),
        expiry in any_kernel_ns(),
        offset in any::<i64>(),
        ppb in any_ppb(),
    ) {
        let got = deadline(policy, xen_now, delta, expiry, offset, Rate::from_ppb(ppb));
        prop_assert_eq!(got, reference_deadline(policy, xen_now, delta, expiry, offset, ppb));
    }

    #[test]
    fn delta_policy_is_oneshot_deadline(
        xen_now in any_kernel_ns(),
        delta in any_kernel_ns(),
        expiry in any::<u64>(),
        offset in any::<i64>(),
        ppb in any_ppb(),
    ) {
        let got = deadline(Policy::Delta, xen_now, delta, expiry, offset, Rate::from_ppb(ppb));
        prop_assert_eq!(got, oneshot_deadline(xen_now, delta));
    }

    #[test]
    fn compensated_at_identity_is_delta(xen_now in any_kernel_ns(), delta in any_kernel_ns()) {
        prop_assert_eq!(
            deadline(Policy::Compensated, xen_now, delta, 0, 0, Rate::IDENTITY),
            deadline(Policy::Delta, xen_now, delta, 0, 0, Rate::IDENTITY)
        );
    }

    #[test]
    fn compensated_never_before_now(xen_now in any_kernel_ns(), delta in any_kernel_ns(), ppb in any_ppb()) {
        prop_assert!(deadline(Policy::Compensated, xen_now, delta, 0, 0, Rate::from_ppb(ppb)) >= xen_now);
    }
}

// ---------------------------------------------------------------------------
// DriftEstimator: known answers and ring
// ---------------------------------------------------------------------------

#[test]
fn estimator_known_answers() {
    assert!(ESTIMATE_VECTORS.len() >= 10);
    for v in ESTIMATE_VECTORS {
        let mut e = DriftEstimator::<ESTIMATE_VECTOR_WINDOW>::new();
        for &(k, x) in v.samples {
            e.add(k, x);
        }
        assert_eq!(e.samples(), v.window, "{v:?}");
        assert_eq!(e.estimate(), v.expected, "{v:?}");
    }
}

#[test]
fn estimator_known_answers_agree_with_reference() {
    for v in ESTIMATE_VECTORS {
        let Some(expected) = v.expected else { continue };
        // What the window keeps: the last samples since a backward step.
        let mut kept: Vec<(u64, u64)> = Vec::new();
        for &(k, x) in v.samples {
            if kept.last().is_some_and(|&(pk, px)| k < pk || x < px) {
                kept.clear();
            }
            kept.push((k, x));
            if kept.len() > ESTIMATE_VECTOR_WINDOW {
                kept.remove(0);
            }
        }
        let fit = exact_fit(&kept).unwrap();
        assert!(fit.ppb_within(expected.drift_ppb), "{v:?}");
        assert!(fit.offset_within(expected.offset_ns, 1), "{v:?}");
    }
}

#[test]
fn estimator_needs_two_samples() {
    let mut e = DriftEstimator::<8>::new();
    assert_eq!(e.samples(), 0);
    assert_eq!(e.estimate(), None);
    e.add(1_000, 2_000);
    assert_eq!(e.samples(), 1);
    assert_eq!(e.estimate(), None);
    e.add(2_000, 3_000);
    assert_eq!(
        e.estimate(),
        Some(Estimate {
            drift_ppb: 0,
            offset_ns: 1_000
        })
    );
}

#[test]
fn estimator_zero_variance_is_none() {
    let mut e = DriftEstimator::<MAX_WINDOW>::new();
    for i in 0..MAX_WINDOW as u64 * 2 {
        e.add(5_000_000_000, 7_000_000_000 + i);
    }
    assert_eq!(e.samples(), MAX_WINDOW);
    assert_eq!(e.estimate(), None);
}

#[test]
fn estimator_ring_keeps_the_last_n() {
    let mut e = DriftEstimator::<3>::new();
    // A kink: the first two samples have another slope than the rest.
    e.add(0, 1_000_000);
    e.add(1_000_000, 3_000_000);
    for i in 2..10u64 {
        e.add(i * 1_000_000, 2_000_000 + i * 1_000_000 + i * 10);
        assert_eq!(e.samples(), (i as usize + 1).min(3));
    }
    // The last three lie on a line of 10 ppm through (9 ms, 11 ms + 90 ns).
    assert_eq!(
        e.estimate(),
        Some(Estimate {
            drift_ppb: 10_000,
            offset_ns: 2_000_090
        })
    );
}

#[test]
fn estimator_reset_and_backward_steps_restart_the_window() {
    let mut e = DriftEstimator::<4>::new();
    e.add(10, 100);
    e.add(20, 110);
    e.add(30, 120);
    e.reset();
    assert_eq!(e.samples(), 0);
    assert_eq!(e.estimate(), None);
    e.add(40, 130);
    e.add(50, 140);
    e.add(60, 150);
    assert_eq!(e.samples(), 3);
    // Kernel time back.
    e.add(59, 160);
    assert_eq!(e.samples(), 1);
    e.add(70, 170);
    e.add(80, 180);
    // Xen time back.
    e.add(90, 179);
    assert_eq!(e.samples(), 1);
    // Equal times are not a step back.
    e.add(90, 179);
    assert_eq!(e.samples(), 2);
    assert_eq!(e.estimate(), None);
}

#[test]
fn estimator_default_is_new() {
    let e: DriftEstimator<5> = Default::default();
    assert_eq!(e.samples(), 0);
    assert_eq!(e.estimate(), None);
}

// ---------------------------------------------------------------------------
// DriftEstimator: an exact least-squares reference
// ---------------------------------------------------------------------------

/// The exact least-squares fit of `y = xen - kernel` against `x = kernel`, as ratios of 128-bit
/// integers: centred and scaled by `n` (`X = n x - Σx`, `Y = n v - Σv` with `v` relative to the
/// newest sample), a different formula from the estimator's. `None` if a 128-bit step
/// overflows or the x-variance is 0.
struct Fit {
    /// slope = sxy / sxx.
    sxy: i128,
    sxx: i128,
    /// Offset at the newest sample = y_new + num / den.
    y_new: i128,
    num: i128,
    den: i128,
}

fn exact_fit(samples: &[(u64, u64)]) -> Option<Fit> {
    let n = i128::try_from(samples.len()).ok()?;
    let &(k_new, x_new) = samples.last()?;
    let y_new = i128::from(x_new) - i128::from(k_new);
    let xs: Vec<i128> = samples.iter().map(|&(k, _)| i128::from(k)).collect();
    let vs: Vec<i128> = samples
        .iter()
        .map(|&(k, x)| i128::from(x) - i128::from(k) - y_new)
        .collect();
    let sx: i128 = xs.iter().sum();
    let sv: i128 = vs.iter().sum();
    let mut sxx: i128 = 0;
    let mut sxy: i128 = 0;
    for (x, v) in xs.iter().zip(&vs) {
        let cx = n.checked_mul(*x)?.checked_sub(sx)?;
        let cv = n.checked_mul(*v)?.checked_sub(sv)?;
        sxx = sxx.checked_add(cx.checked_mul(cx)?)?;
        sxy = sxy.checked_add(cx.checked_mul(cv)?)?;
    }
    if sxx == 0 {
        return None;
    }
    // v_fit(x_new) = Σv/n + slope (x_new - x̄) = (Σv sxx + sxy X_new) / (n sxx).
    let cx_new = n.checked_mul(i128::from(k_new))?.checked_sub(sx)?;
    let num = sv.checked_mul(sxx)?.checked_add(sxy.checked_mul(cx_new)?)?;
    let den = n.checked_mul(sxx)?;
    Some(Fit {
        sxy,
        sxx,
        y_new,
        num,
        den,
    })
}

impl Fit {
    /// |ppb - 10^9 slope| <= 1/2 + 10^-9.
    fn ppb_within(&self, ppb: i64) -> bool {
        i128::from(ppb)
            .checked_mul(self.sxx)
            .and_then(|a| a.checked_sub(BILLION.checked_mul(self.sxy)?))
            .and_then(|d| d.abs().checked_mul(2))
            .is_some_and(|d| d <= self.sxx + self.sxx / BILLION + 1)
    }

    /// |offset - exact| <= ns.
    fn offset_within(&self, offset: i64, ns: i128) -> bool {
        let rel = i128::from(offset) - self.y_new;
        rel.checked_mul(self.den)
            .and_then(|a| a.checked_sub(self.num))
            .is_some_and(|d| d.abs() <= ns * self.den)
    }

    /// The offset is the exact one rounded to nearest, except within a quarter of a tie: the
    /// estimator's value before its final rounding is within (1/2 + 2^-18) / n <= 0.2501 ns of
    /// the exact one.
    fn offset_rounds_right(&self, offset: i64) -> bool {
        let floor = self.num.div_euclid(self.den);
        let r = self.num.rem_euclid(self.den);
        let rel = i128::from(offset) - self.y_new;
        if 10_000 * r < 2_499 * self.den {
            rel == floor
        } else if 10_000 * r > 7_501 * self.den {
            rel == floor + 1
        } else {
            rel == floor || rel == floor + 1
        }
    }

    fn slope(&self) -> f64 {
        self.sxy as f64 / self.sxx as f64
    }
}

/// Sample sets small enough for the 128-bit reference: up to 64 samples 1 µs to 67 ms apart
/// (spans up to 4.2 s), |v| below 2^27 and slopes below 2^10, at any position on both clocks.
fn small_windows() -> impl Strategy<Value = Vec<(u64, u64)>> {
    (
        2usize..=64,
        0u64..(1 << 62),
        0u64..(1 << 62),
        prop::collection::vec((1u64 << 10..(1 << 26), -(1i64 << 20)..(1 << 20)), 64),
    )
        .prop_map(|(n, k0, x0, steps)| {
            let mut k = k0;
            let mut x = x0;
            let mut out = vec![(k, x)];
            for &(dk, dv) in steps.iter().take(n - 1) {
                k += dk;
                // Keep Xen time non-decreasing, so nothing restarts the window.
                x += dk.saturating_add_signed(dv);
                out.push((k, x));
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn estimator_matches_exact_least_squares(samples in small_windows()) {
        let mut e = DriftEstimator::<MAX_WINDOW>::new();
        for &(k, x) in &samples {
            e.add(k, x);
        }
        let fit = exact_fit(&samples);
        prop_assume!(fit.is_some());
        let fit = fit.unwrap();
        let est = e.estimate().expect("within bounds");
        prop_assert!(fit.ppb_within(est.drift_ppb), "ppb {} vs {}", est.drift_ppb, fit.slope() * 1e9);
        prop_assert!(fit.offset_within(est.offset_ns, 1), "offset {:?}", est);
        prop_assert!(fit.offset_rounds_right(est.offset_ns), "offset {:?}", est);
    }

    #[test]
    fn estimator_never_panics(
        samples in prop::collection::vec((any::<u64>(), any::<u64>()), 0..100),
    ) {
        // Overflow checks are on in this build: any overflow would panic. Values anywhere in
        // u64 exceed the documented bounds, so None is allowed; a result must be the fit.
        let mut e = DriftEstimator::<MAX_WINDOW>::new();
        for &(k, x) in &samples {
            e.add(k, x);
            let _ = e.estimate();
        }
    }

    #[test]
    fn estimator_small_windows_never_panic(
        samples in prop::collection::vec((0u64..1_000, 0u64..1_000), 0..20),
    ) {
        let mut e = DriftEstimator::<2>::new();
        for &(k, x) in &samples {
            e.add(k, x);
            if let Some(est) = e.estimate() {
                prop_assert!(e.samples() == 2);
                let _ = est;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// DriftEstimator: recovering a known line, with and without jitter
// ---------------------------------------------------------------------------

/// A true relation between the clocks: at exact kernel time `k`, Xen time is
/// `x0 + (k - k0) (10^9 + ppb) / 10^9`, so y = xen - kernel has slope ppb / 10^9.
#[derive(Clone, Copy, Debug)]
struct Line {
    k0: u64,
    x0: u64,
    ppb: i64,
}

impl Line {
    /// Xen time at kernel time `k`, rounded down to a nanosecond.
    fn xen(&self, k: u64) -> u64 {
        let dk = i128::from(k) - i128::from(self.k0);
        let dx = (dk * (BILLION + i128::from(self.ppb))).div_euclid(BILLION);
        u64::try_from(i128::from(self.x0) + dx).unwrap()
    }

    /// y = xen - kernel of the line at kernel time `k`, in f64 relative to `y` at `k_ref`.
    fn y_rel(&self, k: u64, k_ref: u64) -> f64 {
        (i128::from(k) - i128::from(k_ref)) as f64 * self.ppb as f64 / 1e9
    }
}

/// The documented precision, from the samples' kernel times and the largest deviation `e` of
/// any sample from the line: (slope bound in ppb, offset bound in ns).
///
/// Least squares gives slope - b = Σ(x - x̄) e_i / Σ(x - x̄)², so |slope - b| <= e Σ|x - x̄| /
/// Σ(x - x̄)²; the fitted line at x_new is off by ē + (slope - b)(x_new - x̄). The estimator
/// adds 0.5 ppb and 1 ns of rounding.
fn precision(ks: &[u64], e: f64) -> (f64, f64) {
    let k_new = *ks.last().unwrap();
    // Relative to the newest sample, to keep f64 exact enough.
    let u: Vec<f64> = ks.iter().map(|&k| (k_new - k) as f64).collect();
    let mean = u.iter().sum::<f64>() / u.len() as f64;
    let abs: f64 = u.iter().map(|x| (x - mean).abs()).sum();
    let sq: f64 = u.iter().map(|x| (x - mean).powi(2)).sum();
    let slope = e * abs / sq;
    (slope * 1e9 + 0.5 + 1e-6, e + slope * mean + 1.0 + 1e-3)
}

/// Feeds `ks` (kernel times) and the line's Xen times plus per-sample errors to an estimator
/// and checks the result against the line within the documented precision for error `e`.
fn check_recovery<const N: usize>(
    line: Line,
    ks: &[u64],
    xen_err: &[i64],
    kernel_err: &[i64],
    e: f64,
) {
    let mut est = DriftEstimator::<N>::new();
    let mut observed = Vec::new();
    for (i, &k) in ks.iter().enumerate() {
        let x = line.xen(k).checked_add_signed(xen_err[i]).unwrap();
        let k_obs = k.checked_add_signed(kernel_err[i]).unwrap();
        est.add(k_obs, x);
        observed.push(k_obs);
    }
    assert_eq!(est.samples(), ks.len().min(N));
    let window = &observed[observed.len() - est.samples()..];
    let got = est.estimate().expect("within the documented bounds");
    let (ppb_bound, offset_bound) = precision(window, e);
    let ppb_err = (got.drift_ppb - line.ppb).abs() as f64;
    assert!(
        ppb_err <= ppb_bound,
        "{line:?}: drift {} vs {}, bound {ppb_bound}",
        got.drift_ppb,
        line.ppb
    );
    // The line's y at the newest observed kernel time: y(k_true) + slope (k_obs - k_true).
    let k_obs_new = *observed.last().unwrap();
    let k_true_new = *ks.last().unwrap();
    let y_line_true = i128::from(line.xen(k_true_new)) - i128::from(k_true_new);
    // Differences first, in integers: f64 cannot hold offsets near 2^63 to the nanosecond.
    let rough = (i128::from(got.offset_ns) - y_line_true) as f64;
    // y(k_true) was rounded down: the line itself lies up to 1 ns above.
    let offset_err = (rough - line.y_rel(k_obs_new, k_true_new)).abs();
    assert!(
        offset_err <= offset_bound + 1.0,
        "{line:?}: offset {} vs {y_line_true} + {}, bound {offset_bound}",
        got.offset_ns,
        line.y_rel(k_obs_new, k_true_new)
    );
}

/// Samples rounded to whole nanoseconds lie within 1 ns of the line (below it).
const ROUNDING_NS: f64 = 1.0;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn estimator_recovers_exact_line(
        ppb in -100_000_000i64..=100_000_000,
        k0 in 0u64..(1 << 50),
        x0 in (1u64 << 40)..(1 << 60),
        spacing in 1_000_000u64..=10_000_000_000,
        n in 2usize..=64,
    ) {
        let ks: Vec<u64> = (0..n as u64).map(|i| k0 + i * spacing).collect();
        let zeros = vec![0; n];
        check_recovery::<MAX_WINDOW>(Line { k0, x0, ppb }, &ks, &zeros, &zeros, ROUNDING_NS);
    }

    #[test]
    fn estimator_recovers_exact_line_irregular_and_wrapped(
        ppb in -100_000_000i64..=100_000_000,
        k0 in 0u64..(1 << 50),
        x0 in (1u64 << 40)..(1 << 60),
        gaps in prop::collection::vec(1_000_000u64..=10_000_000_000, 1..100),
    ) {
        let mut ks = vec![k0];
        for g in &gaps {
            ks.push(ks.last().unwrap() + g);
        }
        let zeros = vec![0; ks.len()];
        check_recovery::<16>(Line { k0, x0, ppb }, &ks, &zeros, &zeros, ROUNDING_NS);
    }

    #[test]
    fn estimator_recovers_jittered_line(
        ppb in -100_000_000i64..=100_000_000,
        k0 in (1u64 << 30)..(1 << 50),
        x0 in (1u64 << 40)..(1 << 60),
        spacing in 1_000_000u64..=10_000_000_000,
        jitter in 0i64..=100_000,
        seeds in prop::collection::vec((any::<u32>(), any::<u32>()), 64),
    ) {
        let n = 64;
        let ks: Vec<u64> = (0..n as u64).map(|i| k0 + i * spacing).collect();
        // Uniform in [-jitter, jitter] on each clock's reading.
        let spread = |s: u32| ((i128::from(s) * i128::from(2 * jitter + 1)) >> 32) as i64 - jitter;
        let xen_err: Vec<i64> = seeds.iter().map(|&(a, _)| spread(a)).collect();
        let kernel_err: Vec<i64> = seeds.iter().map(|&(_, b)| spread(b)).collect();
        // Against the observed kernel time k + jk the sample is off the line by
        // jx - (rate) jk - rounding: e = jitter (1 + rate) + 1, rate = 1 + ppb / 1e9.
        let rate = 1.0 + ppb as f64 / 1e9;
        let e = jitter as f64 * (1.0 + rate) + ROUNDING_NS;
        check_recovery::<MAX_WINDOW>(Line { k0, x0, ppb }, &ks, &xen_err, &kernel_err, e);
    }
}

#[test]
fn estimator_precision_examples() {
    // The documented examples: 64 samples 1 s apart with 1 µs of error give 47 ppb; two 1 ms
    // apart with 1 ns of rounding give 2 ppm.
    let ks: Vec<u64> = (0..64).map(|i| i * 1_000_000_000).collect();
    let (ppb, _) = precision(&ks, 1_000.0);
    assert!((ppb - 0.5 - 46.9).abs() < 0.1, "{ppb}");
    let (ppb, _) = precision(&[0, 1_000_000], 1.0);
    assert!((ppb - 0.5 - 2_000.0).abs() < 0.01, "{ppb}");
}

// ---------------------------------------------------------------------------
// DriftEstimator: the documented extremes
// ---------------------------------------------------------------------------

#[test]
fn estimator_at_documented_extremes() {
    // 64 samples, 10 s apart (630 s span), ±10 % drift, jitter of 1 ms, clocks near the top of
    // their range; then 1 ms apart with 250 µs of jitter.
    for spacing in [10_000_000_000u64, 1_000_000] {
        for ppb in [-100_000_000i64, -1, 0, 1, 100_000_000] {
            for (k0, x0) in [
                (0u64, 0u64),
                (1 << 62, 1 << 62),
                ((1 << 63) - 2_000_000_000_000, 1 << 40),
                (1 << 40, (1 << 63) - 2_000_000_000_000),
            ] {
                // Large, but not enough to reorder samples 1 ms apart.
                for jitter in [0, (spacing / 4).min(1_000_000) as i64] {
                    let line = Line { k0, x0, ppb };
                    let ks: Vec<u64> = (0..64).map(|i| k0 + 2_000_000 + i * spacing).collect();
                    let alt = |i: usize| if i % 3 == 0 { jitter } else { -jitter };
                    let xen_err: Vec<i64> = (0..64).map(alt).collect();
                    let kernel_err: Vec<i64> = (0..64).map(|i| alt(i + 1)).collect();
                    let rate = 1.0 + ppb as f64 / 1e9;
                    let e = jitter as f64 * (1.0 + rate) + ROUNDING_NS;
                    check_recovery::<MAX_WINDOW>(line, &ks, &xen_err, &kernel_err, e);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn estimator_always_estimates_within_documented_bounds(
        k0 in 0u64..(1 << 62),
        y0 in -(1i64 << 62)..(1 << 62),
        gaps in prop::collection::vec((1_000_000u64..=10_000_000_000, 0u64..=2_000), 1..=63),
        extreme in any::<bool>(),
    ) {
        // Samples 1 ms to 10 s apart (span up to 630 s), Xen advancing anywhere from 0 to twice
        // the kernel's gap (|v| <= u <= 2^40, slopes far beyond any real drift), Xen minus
        // kernel anywhere in ±2^62: the documented bounds, with adversarial v.
        let x0 = k0.checked_add_signed(y0);
        prop_assume!(x0.is_some());
        let (mut k, mut x) = (k0, x0.unwrap());
        let mut e = DriftEstimator::<MAX_WINDOW>::new();
        e.add(k, x);
        for (i, &(g, f)) in gaps.iter().enumerate() {
            // Per mille of the kernel gap; `extreme` alternates between the ends.
            let f = if extreme { if i % 2 == 0 { 0 } else { 2_000 } } else { f };
            k += g;
            x += g / 1_000 * f;
            e.add(k, x);
        }
        prop_assert_eq!(e.samples(), gaps.len() + 1);
        prop_assert!(e.estimate().is_some());
    }
}

#[test]
fn estimator_beyond_the_bounds_is_none_not_wrong() {
    // A window spanning 2^62 ns with v near 2^61: past every bound; must not panic, and a
    // result, if any, must still be right.
    let mut e = DriftEstimator::<MAX_WINDOW>::new();
    for i in 0..64u64 {
        e.add(i << 56, (i << 56) + (i << 55));
    }
    assert_eq!(e.estimate(), None);
    // A slope beyond 2^64 cannot be represented either.
    let mut e = DriftEstimator::<2>::new();
    e.add(0, 0);
    e.add(1, u64::MAX);
    assert_eq!(e.estimate(), None);
}

#[test]
fn estimator_rate_converts_back() {
    // The estimate's drift, as a Rate, turns kernel durations into Xen ones.
    let line = Line {
        k0: 10_000_000_000,
        x0: 3_600_000_000_000_000,
        ppb: -9_876_543,
    };
    let mut e = DriftEstimator::<MAX_WINDOW>::new();
    for i in 0..64 {
        let k = line.k0 + i * 1_000_000_000;
        e.add(k, line.xen(k));
    }
    let got = e.estimate().unwrap();
    assert!((got.drift_ppb - line.ppb).abs() <= 1, "{got:?}");
    let rate = Rate::from_ppb(got.drift_ppb);
    let d = 0xffff_ffffu64;
    let exact = exact_to_xen(line.ppb, d);
    assert!(
        rate.to_xen(d).abs_diff(exact) <= 6,
        "{} vs {exact}",
        rate.to_xen(d)
    );
}
