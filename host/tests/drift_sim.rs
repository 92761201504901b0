// SPDX-License-Identifier: GPL-2.0

//! The seed's claims about absolute and relative timeouts, pinned with the simulator
//! (`src/sim.rs`) and the real `deadline()` and `DriftEstimator`:
//!
//! - (a) `absolute`: the error grows as the elapsed time times the drift, without bound;
//! - (b) `delta`: every event is within `delta |drift|` plus preemption and jitter;
//! - (c) `compensated`: every event is within `delta` times the estimator's rate error plus
//!   preemption and jitter, and the estimator's rate error within its documented precision;
//! - (d) `coupled` (the tick core's conversion, with a clocksource of Xen time): no drift in any
//!   event, only the rounding of the timekeeper's inverse factor, and a preemption that outlasts
//!   the deadline.
//!
//! Preemption and jitter are durations in real (Xen) time; the error is measured on the kernel's
//! clock, so they enter the bounds times the kernel's rate `1 + drift`.

use xen_clock_host::deadline::Policy;
use xen_clock_host::sim::{self, Config, Event, Scheme, NS_TO_CYC_SHIFT, WINDOW};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const HOUR: u64 = 3_600 * S;

/// The periods of the brief: 100 µs, 1 ms, 10 ms, 100 ms.
const PERIODS: [u64; 4] = [100_000, MS, 10 * MS, 100 * MS];

/// Kernel drifts, in ppm: up to the 1 % a `tsc` clocksource may be off, both ways.
const DRIFTS_PPM: [i64; 4] = [-10_000, -500, 500, 10_000];

/// Events per run, so that debug builds finish in seconds: short periods run for less than the
/// full hour.
const MAX_EVENTS: u64 = 400_000;

/// A run of `period` for up to an hour at `drift_ppm`, with the default noise: 100 ns of read
/// jitter and a 1 % chance of a preemption of up to 50 µs.
fn config(drift_ppm: i64, period: u64) -> Config {
    Config::new(drift_ppm * 1_000, period, (period * MAX_EVENTS).min(HOUR))
}

/// Preemption and jitter, in kernel nanoseconds, plus the integer rounding of the model (a few
/// floors of 1 ns each).
fn noise_bound(cfg: &Config) -> f64 {
    let r = cfg.kernel_rate();
    r * (cfg.jitter_ns + cfg.preempt_max_ns) as f64 + 2.0 * r + 3.0
}

/// The `delta` policy's bound for one event: `delta |drift|` plus preemption and jitter.
fn delta_bound(cfg: &Config, ev: &Event) -> f64 {
    let drift = (cfg.kernel_rate() - 1.0).abs();
    ev.delta_ns as f64 * drift + noise_bound(cfg)
}

/// Asserts that every event of every run under `policy` is within [`delta_bound`]. The test
/// passes `Policy::Delta`; with `Policy::Absolute` this fails, as it should.
fn check_delta_bound(policy: Policy) {
    for drift_ppm in DRIFTS_PPM {
        for period in PERIODS {
            let cfg = config(drift_ppm, period);
            let mut checked = 0;
            let mut worst = 0f64;
            let summary = sim::run(&cfg, policy, |ev| {
                let bound = delta_bound(&cfg, ev);
                assert!(
                    (ev.error_ns.unsigned_abs() as f64) <= bound,
                    "{} at {drift_ppm} ppm, period {period} ns: event {} at {:.3} s fired {} ns \
                     off, beyond the delta bound of {bound:.0} ns (delta {} ns, preempted {} ns)",
                    policy.name(),
                    ev.index,
                    ev.elapsed_ns as f64 / 1e9,
                    ev.error_ns,
                    ev.delta_ns,
                    ev.preempt_ns,
                );
                worst = worst.max(ev.error_ns.unsigned_abs() as f64 / bound);
                checked += 1;
            });
            // Every event, the last one included.
            assert_eq!(checked, cfg.events());
            assert_eq!(summary.events, cfg.events());
            assert!(worst > 0.0);
        }
    }
}

#[test]
fn delta_error_stays_within_delta_bound() {
    check_delta_bound(Policy::Delta);
}

/// The kernel time since the start at which event `ev` was wanted.
fn kernel_elapsed(cfg: &Config, ev: &Event) -> u64 {
    ev.expiry_ns - cfg.kernel_start_ns
}

#[test]
fn absolute_error_grows_with_elapsed_time_times_drift() {
    // A kernel clock faster than Xen: `E + offset` comes later and later.
    for drift_ppm in [500, 10_000] {
        for period in [10 * MS, 100 * MS] {
            let cfg = Config::new(drift_ppm * 1_000, period, HOUR);
            let drift = drift_ppm as f64 / 1e6;
            let r = cfg.kernel_rate();
            let checkpoints = [10 * S, 60 * S, 600 * S, 1_800 * S, HOUR - period];
            let mut next = 0;
            let mut last = None;
            sim::run(&cfg, Policy::Absolute, |ev| {
                let Some(&at) = checkpoints.get(next) else {
                    last = Some(*ev);
                    return;
                };
                if kernel_elapsed(&cfg, ev) < at {
                    return;
                }
                next += 1;
                let err = ev.error_ns as f64;
                // The model's answer: drift times the kernel time since the offset was read,
                // give or take the jitter of the offset's two reads and of the rounding.
                let exact = drift * kernel_elapsed(&cfg, ev) as f64;
                let tol = r * r * cfg.jitter_ns as f64 + r * cfg.jitter_ns as f64 + 3.0;
                assert!(
                    (err - exact).abs() <= tol,
                    "{drift_ppm} ppm, {period} ns, at {at} ns: error {err} ns, expected {exact} ± {tol}"
                );
                // The seed's rule of thumb: elapsed time (Xen, at the expiry) times drift. The
                // error accrues in kernel time, so the rule is off by the drift itself; allow
                // that and 0.5 %.
                let rough = drift * (ev.elapsed_ns + period) as f64;
                assert!(
                    (err / rough - 1.0).abs() < drift + 0.005,
                    "{drift_ppm} ppm at {} s: {err} vs {rough}",
                    ev.elapsed_ns / S
                );
                // It leaves the delta policy's bound behind, for good.
                assert!(err > 10.0 * delta_bound(&cfg, ev), "{err}");
            });
            assert_eq!(next, checkpoints.len(), "every checkpoint reached");
            // After an hour: 1.8 s late at 500 ppm, 36 s at 1 %, against a delta bound of
            // well under a millisecond.
            let last = last.expect("events after the last checkpoint");
            assert!(last.error_ns as f64 > 0.99 * drift * 3_600e9, "{last:?}");
        }
    }
}

#[test]
fn absolute_error_grows_at_short_periods_too() {
    // 100 µs and 1 ms over the first minutes: the same straight line.
    for period in [100_000, MS] {
        let cfg = config(10_000, period);
        let mut worst_rel = 0f64;
        sim::run(&cfg, Policy::Absolute, |ev| {
            let exact = 0.01 * kernel_elapsed(&cfg, ev) as f64;
            // Early on, preemption can still make an event later than its deadline.
            let tol = noise_bound(&cfg) + cfg.jitter_ns as f64 * 2.1;
            let off = (ev.error_ns as f64 - exact).abs();
            assert!(off <= tol, "{period}: {ev:?}: {exact} ± {tol}");
            if exact > 1e6 {
                worst_rel = worst_rel.max(off / exact);
            }
        });
        assert!(worst_rel < 1e-3, "{worst_rel}");
    }
}

#[test]
fn absolute_with_a_slow_kernel_fires_at_once() {
    // A kernel clock slower than Xen puts `E + offset` earlier and earlier; once it is more
    // than delta early, the deadline has passed when it is programmed and the event fires at
    // once, a whole period before it is wanted: the error is bounded by delta only because Xen
    // fires past deadlines at once.
    for period in [MS, 10 * MS] {
        let cfg = Config::new(-500_000, period, 600 * S);
        let r = cfg.kernel_rate();
        let mut at_once = 0;
        let summary = sim::run(&cfg, Policy::Absolute, |ev| {
            let early_by = 0.0005 * kernel_elapsed(&cfg, ev) as f64;
            if early_by > 2.0 * period as f64 {
                let err = ev.error_ns as f64;
                let d = ev.delta_ns as f64;
                assert!(err <= -d + noise_bound(&cfg), "{ev:?}");
                assert!(err >= -d - r * cfg.jitter_ns as f64 - 3.0, "{ev:?}");
                assert!(ev.fired_ns > ev.deadline, "{ev:?}");
                at_once += 1;
            }
        });
        assert!(at_once > 0);
        assert!(summary.fired_at_once >= at_once);
    }
}

/// The `compensated` policy's bound for one event: `delta` times the error of the rate it used
/// (Xen ns per kernel ns: `1 + ppb / 1e9` against the truth, `1 / r`), plus preemption and
/// jitter.
fn compensated_bound(cfg: &Config, ev: &Event) -> f64 {
    let r = cfg.kernel_rate();
    let rho = 1.0 + ev.rate.ppb() as f64 / 1e9;
    let rate_error = (rho - 1.0 / r).abs();
    // The fire time on the kernel's clock is r times the Xen duration; `to_xen` rounds by up
    // to 1 ns more.
    ev.delta_ns as f64 * r * rate_error + noise_bound(cfg) + r
}

#[test]
fn compensated_error_stays_within_rate_error_bound() {
    for drift_ppm in DRIFTS_PPM {
        for period in PERIODS {
            let cfg = config(drift_ppm, period);
            let mut checked = 0;
            sim::run(&cfg, Policy::Compensated, |ev| {
                let bound = compensated_bound(&cfg, ev);
                assert!(
                    (ev.error_ns.unsigned_abs() as f64) <= bound,
                    "compensated at {drift_ppm} ppm, period {period} ns: event {} at {:.3} s \
                     fired {} ns off, beyond {bound:.0} ns ({ev:?})",
                    ev.index,
                    ev.elapsed_ns as f64 / 1e9,
                    ev.error_ns,
                );
                checked += 1;
            });
            assert_eq!(checked, cfg.events());
        }
    }
}

#[test]
fn compensated_rate_error_within_estimator_precision() {
    // Estimator samples 1 s apart, read with jitter J on each clock: in the model Xen time is
    // k / r + C + (jx - jk) + rounding, so each sample is within e = J + 1 ns of a line whose
    // slope the estimator recovers to 3 e n / (h (n² - 1)), h the kernel spacing (documented
    // precision), plus 0.5 ppb of rounding and 1 ppb for `1 / r` not being a whole ppb.
    for drift_ppm in DRIFTS_PPM {
        let cfg = config(drift_ppm, 10 * MS);
        let r = cfg.kernel_rate();
        let n = WINDOW as f64;
        let h = cfg.sample_interval_ns as f64 * r;
        let e = cfg.jitter_ns as f64 + 1.0;
        let bound_ppb = 1e9 * 3.0 * e * n / (h * (n * n - 1.0)) + 1.5;
        let truth_ppb = (1.0 / r - 1.0) * 1e9;
        let mut full = 0;
        sim::run(&cfg, Policy::Compensated, |ev| {
            if ev.samples == WINDOW {
                let err = (ev.rate.ppb() as f64 - truth_ppb).abs();
                assert!(
                    err <= bound_ppb,
                    "{drift_ppm} ppm: rate error {err} ppb > {bound_ppb}"
                );
                full += 1;
            }
        });
        assert!(full > 300_000, "{full}");
    }
}

#[test]
fn compensated_beats_delta_at_long_periods() {
    // Without preemption, the delta policy is off by delta |drift| (1 ms at 1 % and 100 ms),
    // the compensated one by jitter once the estimator has two samples.
    let cfg = config(10_000, 100 * MS);
    let worst = |policy| {
        let mut worst = 0u64;
        sim::run(&cfg, policy, |ev| {
            if ev.preempt_ns == 0 && ev.elapsed_ns > 2 * S {
                worst = worst.max(ev.error_ns.unsigned_abs());
            }
        });
        worst
    };
    let delta = worst(Policy::Delta);
    let compensated = worst(Policy::Compensated);
    assert!(delta > 900_000, "{delta}");
    assert!(compensated < 1_000, "{compensated}");
}

/// Asserts that every event of every run under `scheme` is within the `coupled` bounds: early
/// by at most the rounding of the inverse factor (`2^-S` of the span converted, `delta_ns`) and
/// the model's floors, late only by the part of a preemption that outlasts the period. No
/// drift term: the test passes `Scheme::Coupled`; with `Policy::Delta` it fails, as it should.
fn check_coupled_bound(scheme: Scheme) {
    for drift_ppm in DRIFTS_PPM {
        for period in PERIODS {
            let cfg = config(drift_ppm, period);
            let r = cfg.kernel_rate();
            let mut checked = 0;
            let mut late = 0;
            sim::run(&cfg, scheme, |ev| {
                let early_bound =
                    r * (ev.delta_ns as f64 / f64::from(1u32 << NS_TO_CYC_SHIFT) + 1.0) + 2.0;
                let late_bound = (r * ev.preempt_ns as f64 - period as f64).max(0.0) + 2.0;
                let e = ev.error_ns as f64;
                assert!(
                    -early_bound <= e && e <= late_bound,
                    "{} at {drift_ppm} ppm, period {period} ns: event {} at {:.3} s fired {} ns \
                     off, outside [-{early_bound:.1}, {late_bound:.1}] ns (converted {} ns, \
                     preempted {} ns)",
                    scheme.name(),
                    ev.index,
                    ev.elapsed_ns as f64 / 1e9,
                    ev.error_ns,
                    ev.delta_ns,
                    ev.preempt_ns,
                );
                late += u64::from(ev.error_ns > 2);
                checked += 1;
            });
            // Every event, the last one included.
            assert_eq!(checked, cfg.events());
            // No preemption (up to 50 us) outlasts a period (100 us or more): none late.
            assert_eq!(late, 0, "late events at {period} ns");
        }
    }
}

#[test]
fn coupled_error_is_the_rounding_alone() {
    check_coupled_bound(Scheme::Coupled);
}

#[test]
fn delta_error_does_not_accumulate() {
    // The last event of an hour is no worse than the first ones.
    let cfg = Config::new(10_000_000, 100 * MS, HOUR);
    let mut first = 0u64;
    let mut last = 0u64;
    let n = cfg.events();
    sim::run(&cfg, Policy::Delta, |ev| {
        if ev.preempt_ns == 0 {
            if ev.index < 100 {
                first = first.max(ev.error_ns.unsigned_abs());
            } else if ev.index >= n - 100 {
                last = last.max(ev.error_ns.unsigned_abs());
            }
        }
    });
    assert!(last <= first + 2 * cfg.jitter_ns, "{first} {last}");
}

#[test]
fn runs_are_deterministic_and_policies_share_noise() {
    let cfg = config(500, MS);
    let a = sim::run(&cfg, Policy::Compensated, |_| {});
    let b = sim::run(&cfg, Policy::Compensated, |_| {});
    assert_eq!(a, b);
    let other = sim::run(&Config { seed: 2, ..cfg }, Policy::Compensated, |_| {});
    assert_ne!(a, other);
    // The same preemptions whatever the policy.
    let mut delta = Vec::new();
    sim::run(&cfg, Policy::Delta, |ev| delta.push(ev.preempt_ns));
    let mut absolute = Vec::new();
    sim::run(&cfg, Policy::Absolute, |ev| absolute.push(ev.preempt_ns));
    assert_eq!(delta, absolute);
    assert!(delta.iter().filter(|&&d| d > 0).count() > 1_000);
}

#[test]
fn without_drift_all_policies_agree_within_noise() {
    let cfg = config(0, 10 * MS);
    for policy in Scheme::ALL {
        sim::run(&cfg, policy, |ev| {
            assert!(
                (ev.error_ns.unsigned_abs() as f64) <= noise_bound(&cfg) + cfg.jitter_ns as f64,
                "{ev:?}"
            );
        });
    }
}

#[test]
fn clock_model_round_trips() {
    for ppb in [-100_000_000, -10_000_000, -1, 0, 1, 10_000_000] {
        let cfg = Config::new(ppb, MS, S);
        for dk in [0u64, 1, 999, 1_000_000_007, HOUR + 12_345] {
            let k = cfg.kernel_start_ns + dk;
            let t = cfg.xen_at(k);
            assert!(cfg.kernel_at(t) >= k);
            assert!(t == cfg.xen_start_ns || cfg.kernel_at(t - 1) < k);
        }
        assert_eq!(cfg.kernel_at(cfg.xen_start_ns), cfg.kernel_start_ns);
        let hour_later = cfg.kernel_at(cfg.xen_start_ns + HOUR);
        let expected = i128::from(cfg.kernel_start_ns)
            + i128::from(HOUR) * (1_000_000_000 + i128::from(ppb)) / 1_000_000_000;
        assert_eq!(i128::from(hour_later), expected);
    }
}
