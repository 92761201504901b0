// SPDX-License-Identifier: GPL-2.0

//! A deterministic simulation of one-shot timers under each deadline [`Policy`], with a kernel
//! clock that drifts from Xen time.
//!
//! The model, in integer nanoseconds:
//!
//! - Xen system time is the reference: `X(t) = t`, and a run starts at `t = xen_start_ns`
//!   (the module loading).
//! - The kernel's clock runs `1 + drift_ppb / 10^9` times as fast:
//!   `K(t) = kernel_start_ns + floor((t - xen_start_ns) (10^9 + drift_ppb) / 10^9)`.
//! - Every clock read happens at a uniformly random instant in `[t, t + jitter_ns]`, each clock
//!   read on its own.
//! - Event `n` is wanted at kernel time `E = kernel_start_ns + (n + 1) period_ns` and programmed
//!   one period earlier, when the kernel's clock reaches `E - period_ns`: the tick core reads the
//!   kernel's clock and asks for `delta = E - kernel_now` (clamped to `[min_delta_ns,
//!   max_delta_ns]` as `clockevents_program_event()` does), the driver reads Xen time and makes
//!   the hypercall, with the deadline from [`deadline::deadline`]. Programming each event at its
//!   own time, not when the previous one fired, keeps the events independent, so that the error
//!   of each is the policy's alone.
//! - With probability `preempt_prob` the vCPU is preempted after the tick core read the kernel's
//!   clock and before the driver reads Xen time and the hypercall takes effect, for a uniformly
//!   random time up to `preempt_max_ns`: `delta` is then stale, which makes a `delta` or
//!   `compensated` deadline late by the preemption, while an `absolute` one does not depend on
//!   when it is computed. The timer fires at the deadline, or when the hypercall takes effect if
//!   the deadline has passed by then (Xen fires a past deadline at once).
//! - The error of an event is `K(fire) - E`: positive if it fires late on the kernel's clock.
//! - `absolute` uses the offset `X - K` read once at the start; `compensated` feeds a
//!   [`DriftEstimator`] with a pair of reads every `sample_interval_ns` (from the start on) and
//!   uses the [`Rate`] of its latest estimate ([`Rate::IDENTITY`] until there is one).
//! - `coupled` ([`Scheme::Coupled`]) is the tick core's own conversion when the kernel's
//!   clocksource is Xen time (`ktime_expiry_to_cycles()`): no clock is read; the expiry is taken
//!   from the timekeeper's last update, at Xen time `tb` (every `tk_update_ns` of Xen time since
//!   the start) and kernel time `K(tb)`, to Xen time with the timekeeper's inverse factor, as
//!   the kernel rounds it: `tb + ((E - K(tb)) m >> S)`, `m = floor(2^S 10^9 / (10^9 + drift))`,
//!   `S` = [`NS_TO_CYC_SHIFT`]. The kernel's clock is the clocksource at the rate NTP gave it,
//!   so the deadline carries no drift, only the rounding of `m` (early by at most
//!   `(E - K(tb)) 2^-S`), and a preemption before the hypercall that outlasts it.
//!
//! All randomness comes from [`SplitMix64`] streams derived from `seed`, one for the reads and
//! preemptions of the events and one for the estimator's samples; each event draws the same
//! numbers whatever the scheme, so that every scheme sees exactly the same noise.
//!
//! The simulation is pure integer arithmetic apart from the probability, needs no `std`, and
//! reports events to a callback rather than storing them.

use crate::deadline::{self, DriftEstimator, Policy, Rate};

/// How an event's deadline is made: by the driver under one of its [`Policy`]s, or by the tick
/// core, coupled with a clocksource of Xen time (the driver's default with `deadline=delta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// The driver's `set_next_event()` under the policy.
    Driver(Policy),
    /// The tick core's `ktime_expiry_to_cycles()`, armed as it is (`set_next_coupled()`).
    Coupled,
}

impl Scheme {
    /// Every scheme: the policies in [`Policy::ALL`]'s order, then `coupled`.
    pub const ALL: [Scheme; 4] = [
        Scheme::Driver(Policy::Delta),
        Scheme::Driver(Policy::Absolute),
        Scheme::Driver(Policy::Compensated),
        Scheme::Coupled,
    ];

    /// The names [`Scheme::from_name`] accepts.
    pub const NAMES: &'static str = "delta, absolute, compensated, coupled";

    /// Parses a policy name or `coupled`.
    pub fn from_name(name: &[u8]) -> Option<Scheme> {
        match name {
            b"coupled" => Some(Scheme::Coupled),
            _ => Policy::from_name(name).map(Scheme::Driver),
        }
    }

    /// The name [`Scheme::from_name`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Driver(policy) => policy.name(),
            Scheme::Coupled => "coupled",
        }
    }
}

impl From<Policy> for Scheme {
    fn from(policy: Policy) -> Self {
        Scheme::Driver(policy)
    }
}

/// The shift of the timekeeper's nanoseconds-to-cycles factor for a 1 GHz clocksource:
/// `clocks_calc_mult_shift(NSEC_PER_MSEC, 1000000 kHz, one hour)` in `tk_setup_internals()`.
pub const NS_TO_CYC_SHIFT: u32 = 21;

/// The timekeeper's factor from kernel nanoseconds to Xen nanoseconds for a kernel clock
/// `1 + drift_ppb / 10^9` times as fast, rounded down as `tk_update_ns_to_cyc()` does.
pub fn ns_to_cyc_mult(drift_ppb: i64) -> u64 {
    let rate = BILLION + i128::from(drift_ppb);
    clamp_u64((BILLION << NS_TO_CYC_SHIFT) / rate.max(1))
}

/// The window of the estimator of the `compensated` policy.
pub const WINDOW: usize = deadline::MAX_WINDOW;

const BILLION: i128 = 1_000_000_000;

/// The SplitMix64 generator (Steele, Lea and Flood, 2014): tiny, fast, and good enough for
/// noise; deterministic for a seed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..=max` (the multiply-high method; its bias, below `max / 2^64`,
    /// does not matter here).
    pub fn up_to(&mut self, max: u64) -> u64 {
        let span = u128::from(max) + 1;
        ((u128::from(self.next_u64()) * span) >> 64) as u64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a fraction in [0, 1).
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }
}

/// The parameters of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// How much faster the kernel's clock runs than Xen time, in parts per billion (negative:
    /// slower). Must be above `-10^9`.
    pub drift_ppb: i64,
    /// Kernel time between the expiries of consecutive events (not zero).
    pub period_ns: u64,
    /// Kernel time the run covers: `elapsed_ns / period_ns` events.
    pub elapsed_ns: u64,
    /// Each clock read lands uniformly in `[t, t + jitter_ns]`.
    pub jitter_ns: u64,
    /// Probability of a preemption between the tick core's read of the kernel's clock and the
    /// driver's read of Xen time and hypercall.
    pub preempt_prob: f64,
    /// The longest preemption.
    pub preempt_max_ns: u64,
    /// Xen time between two samples of the drift estimator (not zero).
    pub sample_interval_ns: u64,
    /// Xen time between two updates of the timekeeper, whose last one `coupled` converts from
    /// (not zero).
    pub tk_update_ns: u64,
    /// Xen time at the start of the run.
    pub xen_start_ns: u64,
    /// Kernel time at the start of the run.
    pub kernel_start_ns: u64,
    /// The device's shortest delay.
    pub min_delta_ns: u64,
    /// The device's longest delay.
    pub max_delta_ns: u64,
    /// Seed of the random streams.
    pub seed: u64,
}

impl Config {
    /// A run with the given drift, period and length, and defaults for the rest: 100 ns of read
    /// jitter, a 1 % chance of preemptions up to 50 µs, an estimator sample every second, a
    /// timekeeper update every 4 ms (the tick at `HZ=250`), Xen up for an hour and the kernel
    /// for 10 s at the start, the `xen-rs` device's delay limits (1 ns to `0xffffffff` ns),
    /// seed 1.
    pub fn new(drift_ppb: i64, period_ns: u64, elapsed_ns: u64) -> Self {
        Self {
            drift_ppb,
            period_ns,
            elapsed_ns,
            jitter_ns: 100,
            preempt_prob: 0.01,
            preempt_max_ns: 50_000,
            sample_interval_ns: 1_000_000_000,
            tk_update_ns: 4_000_000,
            xen_start_ns: 3_600_000_000_000,
            kernel_start_ns: 10_000_000_000,
            min_delta_ns: 1,
            max_delta_ns: 0xffff_ffff,
            seed: 1,
        }
    }

    /// Kernel time at Xen time `t` (not before the start).
    pub fn kernel_at(&self, t: u64) -> u64 {
        let dt = i128::from(t) - i128::from(self.xen_start_ns);
        let dk = (dt * (BILLION + i128::from(self.drift_ppb))).div_euclid(BILLION);
        clamp_u64(i128::from(self.kernel_start_ns) + dk)
    }

    /// The first Xen time at which the kernel's clock reads `k` or more.
    pub fn xen_at(&self, k: u64) -> u64 {
        // floor(dt R / 10^9) >= dk  <=>  dt >= ceil(dk 10^9 / R), for R = 10^9 + drift > 0.
        let dk = i128::from(k) - i128::from(self.kernel_start_ns);
        let rate = BILLION + i128::from(self.drift_ppb);
        let dt = -((-dk * BILLION).div_euclid(rate));
        clamp_u64(i128::from(self.xen_start_ns) + dt)
    }

    /// The number of events of a run.
    pub fn events(&self) -> u64 {
        self.elapsed_ns.checked_div(self.period_ns).unwrap_or(0)
    }

    /// The kernel's rate relative to Xen time, `1 + drift_ppb / 10^9`.
    pub fn kernel_rate(&self) -> f64 {
        1.0 + self.drift_ppb as f64 / 1e9
    }
}

fn clamp_u64(v: i128) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

/// One programmed one-shot timer and when it fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// How the deadline was made.
    pub scheme: Scheme,
    /// Its number in the run, from 0.
    pub index: u64,
    /// Xen time since the start of the run when the event was programmed.
    pub elapsed_ns: u64,
    /// The kernel expiry the tick core wanted.
    pub expiry_ns: u64,
    /// The delay the tick core asked for (after clamping; `coupled`: from the timekeeper's last
    /// update).
    pub delta_ns: u64,
    /// The preemption between the kernel's read and the driver's (0 for most events).
    pub preempt_ns: u64,
    /// The Xen deadline programmed.
    pub deadline: u64,
    /// Xen time at which the timer fired.
    pub fired_ns: u64,
    /// Kernel time at which the timer fired, minus the expiry.
    pub error_ns: i64,
    /// The rate given to [`deadline::deadline`] ([`Rate::IDENTITY`] except for `compensated`,
    /// and for `coupled`, which does not use it).
    pub rate: Rate,
    /// Samples in the estimator's window (0 except for `compensated`).
    pub samples: usize,
}

/// What a whole run gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events programmed.
    pub events: u64,
    /// The largest error in magnitude, with its sign.
    pub worst_error_ns: i64,
    /// The error of the last event.
    pub last_error_ns: i64,
    /// Events whose deadline had passed when the hypercall took effect.
    pub fired_at_once: u64,
}

/// Runs `cfg` under `scheme` (a [`Policy`] or [`Scheme::Coupled`]), calling `visit` for every
/// event in order.
pub fn run(cfg: &Config, scheme: impl Into<Scheme>, mut visit: impl FnMut(&Event)) -> Summary {
    let scheme = scheme.into();
    let compensated = scheme == Scheme::Driver(Policy::Compensated);
    let ns_to_cyc = ns_to_cyc_mult(cfg.drift_ppb);
    let mut noise = SplitMix64::new(cfg.seed ^ 0x6576_656e_7473_0000);
    let mut sample_noise = SplitMix64::new(cfg.seed ^ 0x7361_6d70_6c65_0000);
    let jitter = |rng: &mut SplitMix64| rng.up_to(cfg.jitter_ns);

    // The offset of `absolute`, measured once at the start.
    let t0 = cfg.xen_start_ns;
    let x0 = t0.saturating_add(jitter(&mut noise));
    let k0 = cfg.kernel_at(t0.saturating_add(jitter(&mut noise)));
    let offset_ns = clamp_i64(i128::from(x0) - i128::from(k0));

    let mut estimator = DriftEstimator::<WINDOW>::new();
    let mut next_sample: u64 = 0;
    let mut rate = Rate::IDENTITY;

    let mut summary = Summary::default();
    for n in 0..cfg.events() {
        let programmed_k = cfg
            .kernel_start_ns
            .saturating_add(n.saturating_mul(cfg.period_ns));
        let expiry = programmed_k.saturating_add(cfg.period_ns);
        let t = cfg.xen_at(programmed_k);

        // Estimator samples due by now, whatever the policy, to keep the streams aligned.
        loop {
            let ts = t0.saturating_add(next_sample.saturating_mul(cfg.sample_interval_ns));
            if ts > t || cfg.sample_interval_ns == 0 {
                break;
            }
            let k = cfg.kernel_at(ts.saturating_add(jitter(&mut sample_noise)));
            let x = ts.saturating_add(jitter(&mut sample_noise));
            estimator.add(k, x);
            if let Some(e) = estimator.estimate() {
                rate = Rate::from_ppb(e.drift_ppb);
            }
            next_sample += 1;
        }

        // The same draws for every policy.
        let jk = jitter(&mut noise);
        let jx = jitter(&mut noise);
        let preempted = noise.chance(cfg.preempt_prob);
        let delay = noise.up_to(cfg.preempt_max_ns);
        let preempt_ns = if preempted { delay } else { 0 };

        // The tick core reads the kernel's clock; the vCPU may be preempted; the driver reads
        // Xen time and makes the hypercall.
        let kernel_now = cfg.kernel_at(t.saturating_add(jk));
        let resumed = t.saturating_add(preempt_ns);
        let xen_now = resumed.saturating_add(jx);
        let used_rate = if compensated { rate } else { Rate::IDENTITY };
        let (delta_ns, dl, hypercall) = match scheme {
            Scheme::Driver(policy) => {
                let delta_ns = expiry
                    .saturating_sub(kernel_now)
                    .max(cfg.min_delta_ns)
                    .min(cfg.max_delta_ns);
                let dl =
                    deadline::deadline(policy, xen_now, delta_ns, expiry, offset_ns, used_rate);
                (delta_ns, dl, xen_now)
            }
            Scheme::Coupled => {
                // No read: from the timekeeper's last update, then the hypercall, after any
                // preemption.
                let since = t.saturating_sub(t0) / cfg.tk_update_ns.max(1);
                let tb = t0.saturating_add(since.saturating_mul(cfg.tk_update_ns));
                let delta_ns = expiry.saturating_sub(cfg.kernel_at(tb));
                let cycles = (u128::from(delta_ns) * u128::from(ns_to_cyc)) >> NS_TO_CYC_SHIFT;
                let dl = tb.saturating_add(u64::try_from(cycles).unwrap_or(u64::MAX));
                (delta_ns, dl, resumed)
            }
        };
        let fired_ns = dl.max(hypercall);
        let error_ns = clamp_i64(i128::from(cfg.kernel_at(fired_ns)) - i128::from(expiry));

        let event = Event {
            scheme,
            index: n,
            elapsed_ns: t.saturating_sub(t0),
            expiry_ns: expiry,
            delta_ns,
            preempt_ns,
            deadline: dl,
            fired_ns,
            error_ns,
            rate: used_rate,
            samples: if compensated { estimator.samples() } else { 0 },
        };
        visit(&event);

        summary.events += 1;
        if error_ns.unsigned_abs() > summary.worst_error_ns.unsigned_abs() {
            summary.worst_error_ns = error_ns;
        }
        summary.last_error_ns = error_ns;
        if dl < hypercall {
            summary.fired_at_once += 1;
        }
    }
    summary
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}
